"""The ``.grad`` accessor on DataArray and Dataset: a thin labelled layer over the functional core.

Each method normalises its arguments and calls one function of :mod:`fieldgrad.calculus` or
:mod:`fieldgrad.vector`; the accessor stores its object and nothing else.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import Any

import xarray as xr

from . import calculus, vector
from .units import component_labels

__all__ = ["GradDataArrayAccessor", "GradDatasetAccessor"]


class _GradAccessor:
    """Shared by the DataArray and Dataset accessors."""

    def __init__(self, obj: xr.DataArray | xr.Dataset) -> None:
        self._obj = obj

    def partial(self, spec: Any, order: int = 1, **kwargs: Any) -> Any:
        """Partial derivative along named dims; see :func:`fieldgrad.calculus.partial`.

        Examples
        --------
        >>> da = xr.DataArray([0.0, 1.0, 4.0, 9.0], dims="x", coords={"x": [0, 1, 2, 3]})
        >>> da.grad.partial("x").values
        array([0., 2., 4., 6.])
        >>> da.grad.partial("x", order=2).values
        array([2., 2., 2., 2.])
        """
        return calculus.partial(self._obj, spec, order, **kwargs)

    def __call__(self, spec: Any, order: int = 1, **kwargs: Any) -> Any:
        """Shorthand for :meth:`partial`.

        Examples
        --------
        >>> da = xr.DataArray([0.0, 1.0, 4.0, 9.0], dims="x")
        >>> da.grad("x").values
        array([0., 2., 4., 6.])
        """
        return self.partial(spec, order, **kwargs)


@xr.register_dataarray_accessor("grad")
class GradDataArrayAccessor(_GradAccessor):
    """``da.grad``: derivatives and vector calculus of a DataArray by dimension name."""

    _obj: xr.DataArray

    def gradient(self, dims: Iterable[Hashable] | None = None, **kwargs: Any) -> xr.DataArray:
        """Vector of first derivatives with a new ``component`` dim; see :func:`fieldgrad.vector.gradient`.

        Examples
        --------
        >>> da = xr.DataArray(np.arange(9.0).reshape(3, 3), dims=("y", "x"))
        >>> da.grad.gradient().sel(component="y").values
        array([[3., 3., 3.],
               [3., 3., 3.],
               [3., 3., 3.]])
        """
        return vector.gradient(self._obj, dims, **kwargs)

    def divergence(self, **kwargs: Any) -> xr.DataArray:
        """Divergence of this vector field; see :func:`fieldgrad.vector.divergence`.

        Examples
        --------
        >>> x = np.arange(4.0)
        >>> F = xr.DataArray(np.stack(np.meshgrid(x, 2 * x, indexing="ij")), dims=("component", "x", "y"),
        ...                  coords={"component": ["x", "y"]})
        >>> float(F.grad.divergence().mean())
        3.0
        """
        return vector.divergence(self._obj, **kwargs)

    def curl(self, **kwargs: Any) -> xr.DataArray:
        """Curl of this vector field (3-D: vector; 2-D: scalar); see :func:`fieldgrad.vector.curl`.

        Examples
        --------
        >>> x = np.arange(4.0)
        >>> X, Y = np.meshgrid(x, x, indexing="ij")
        >>> F = xr.DataArray(np.stack([-Y, X]), dims=("component", "x", "y"), coords={"component": ["x", "y"]})
        >>> float(F.grad.curl().mean())
        2.0
        """
        return vector.curl(self._obj, **kwargs)

    def laplacian(self, dims: Iterable[Hashable] | None = None, **kwargs: Any) -> xr.DataArray:
        """Laplacian with true second-derivative stencils; see :func:`fieldgrad.vector.laplacian`.

        Examples
        --------
        >>> x = np.arange(5.0)
        >>> f = xr.DataArray(np.add.outer(x**2, x**2), dims=("x", "y"))
        >>> float(f.grad.laplacian().mean())
        4.0
        """
        return vector.laplacian(self._obj, dims, **kwargs)

    def hessian(self, dims: Iterable[Hashable] | None = None, **kwargs: Any) -> xr.DataArray:
        """Hessian with dims ``component`` and ``component2``; see :func:`fieldgrad.vector.hessian`.

        Examples
        --------
        >>> x = np.arange(4.0)
        >>> f = xr.DataArray(np.multiply.outer(x, x), dims=("x", "y"))
        >>> f.grad.hessian().mean(["x", "y"]).values
        array([[0., 1.],
               [1., 0.]])
        """
        return vector.hessian(self._obj, dims, **kwargs)

    def jacobian(self, dims: Iterable[Hashable] | None = None, **kwargs: Any) -> xr.DataArray:
        """Jacobian ``∂F_i/∂j`` of this vector field; see :func:`fieldgrad.vector.jacobian`.

        Examples
        --------
        >>> x = np.arange(4.0)
        >>> F = xr.DataArray(np.stack(np.meshgrid(x, 3 * x, indexing="ij")), dims=("component", "x", "y"),
        ...                  coords={"component": ["x", "y"]})
        >>> F.grad.jacobian().mean(["x", "y"]).values
        array([[1., 0.],
               [0., 3.]])
        """
        return vector.jacobian(self._obj, dims, **kwargs)

    def magnitude(self, **kwargs: Any) -> xr.DataArray:
        """Norm over the ``component`` dim; see :func:`fieldgrad.vector.magnitude`.

        Examples
        --------
        >>> g = xr.DataArray([[3.0], [4.0]], dims=("component", "x"), coords={"component": ["x", "y"]})
        >>> g.grad.magnitude().values
        array([5.])
        """
        return vector.magnitude(self._obj, **kwargs)

    def directional(self, direction: Mapping[Hashable, float], **kwargs: Any) -> xr.DataArray:
        """Derivative along a (normalised) direction; see :func:`fieldgrad.vector.directional`.

        Examples
        --------
        >>> x = np.arange(4.0)
        >>> f = xr.DataArray(np.add.outer(x, x), dims=("x", "y"))
        >>> round(float(f.grad.directional({"x": 1, "y": 1}).mean()), 6)
        1.414214
        """
        return vector.directional(self._obj, direction, **kwargs)

    def along(self, path: Mapping[Hashable, Any], **kwargs: Any) -> xr.DataArray:
        """Rate of change along a path of points, per unit arc length; see :func:`fieldgrad.vector.along`.

        Examples
        --------
        >>> x = np.arange(5.0)
        >>> f = xr.DataArray(np.add.outer(x, 0 * x), dims=("x", "y"), coords={"x": x, "y": x})
        >>> f.grad.along({"x": [0.5, 2.5], "y": [1.0, 1.0]}).values
        array([1., 1.])
        """
        return vector.along(self._obj, path, **kwargs)


def _vector_from(ds: xr.Dataset, comps: Mapping[Hashable, Hashable], component_dim: Hashable) -> xr.DataArray:
    """A vector field from Dataset variables: ``{"x": "u", "y": "v"}``."""
    if not isinstance(comps, Mapping) or not comps:
        raise ValueError("give the components as a {dim: variable name} mapping, e.g. {'x': 'u', 'y': 'v'}")
    missing = [v for v in comps.values() if v not in ds.data_vars]
    if missing:
        raise ValueError(f"unknown variable(s) {missing}; data variables: {[str(v) for v in ds.data_vars]}")
    parts = [ds[v] for v in comps.values()]
    field = xr.concat(parts, dim=component_dim, coords="minimal", compat="override")
    field = field.assign_coords({component_dim: component_labels(comps)})
    units = {p.attrs.get("units") for p in parts}
    field.attrs = {"units": units.pop()} if len(units) == 1 and None not in units else {}
    field.name = "_".join(str(v) for v in comps.values())
    return field


@xr.register_dataset_accessor("grad")
class GradDatasetAccessor(_GradAccessor):
    """``ds.grad``: derivatives of the variables of a Dataset; vector fields given by variable names."""

    _obj: xr.Dataset

    def gradient(self, dims: Iterable[Hashable] | None = None, **kwargs: Any) -> xr.Dataset:
        """Each data variable with all ``dims`` becomes its gradient; see :func:`fieldgrad.calculus.gradient`.

        Examples
        --------
        >>> ds = xr.Dataset({"T": (("x", "y"), np.add.outer(np.arange(3.0), 2 * np.arange(4.0)))})
        >>> ds.grad.gradient()["T"].mean(["x", "y"]).values
        array([1., 2.])
        """
        return calculus.gradient(self._obj, dims, **kwargs)

    def divergence(self, components: Mapping[Hashable, Hashable], *, component_dim: Hashable = "component",
                   **kwargs: Any) -> xr.DataArray:
        """Divergence of the vector field whose components are variables: ``{"x": "u", "y": "v"}``.

        Examples
        --------
        >>> x = np.arange(4.0)
        >>> X, Y = np.meshgrid(x, x, indexing="ij")
        >>> ds = xr.Dataset({"u": (("x", "y"), X), "v": (("x", "y"), 2 * Y)})
        >>> float(ds.grad.divergence({"x": "u", "y": "v"}).mean())
        3.0
        """
        field = _vector_from(self._obj, components, component_dim)
        return vector.divergence(field, component_dim=component_dim, **kwargs)

    def curl(self, components: Mapping[Hashable, Hashable], *, component_dim: Hashable = "component",
             **kwargs: Any) -> xr.DataArray:
        """Curl of the vector field whose components are variables: ``{"x": "u", "y": "v", "z": "w"}``.

        Examples
        --------
        >>> x = np.arange(4.0)
        >>> X, Y = np.meshgrid(x, x, indexing="ij")
        >>> ds = xr.Dataset({"u": (("x", "y"), -Y), "v": (("x", "y"), X)})
        >>> float(ds.grad.curl({"x": "u", "y": "v"}).mean())
        2.0
        """
        field = _vector_from(self._obj, components, component_dim)
        return vector.curl(field, component_dim=component_dim, **kwargs)

    def laplacian(self, dims: Iterable[Hashable] | None = None, **kwargs: Any) -> xr.Dataset:
        """Laplacian of every data variable that has all ``dims`` (others unchanged).

        Examples
        --------
        >>> x = np.arange(4.0)
        >>> ds = xr.Dataset({"f": (("x", "y"), np.add.outer(x**2, x**2)), "c": ("z", [1.0])})
        >>> float(ds.grad.laplacian(["x", "y"])["f"].mean()), float(ds.grad.laplacian(["x", "y"])["c"][0])
        (4.0, 1.0)
        """
        ds = self._obj
        keys = list(ds.dims) if dims is None else list(dims)
        return calculus.map_variables(ds, keys, lambda var, name: vector.laplacian(var, keys, **kwargs).rename(name))
