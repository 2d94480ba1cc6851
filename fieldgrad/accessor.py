"""The ``.grad`` accessor on DataArray and Dataset: a thin labelled layer over the functional core.

Each method calls one function of :mod:`fieldgrad.calculus` or :mod:`fieldgrad.vector` and shows
that function's keywords in its signature. The Dataset accessor offers every operator of the
DataArray one: scalar operators map over the data variables that have the dims
(:func:`map_dataset`); vector operators take their components as variable names.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, TypeVar

import xarray as xr

from . import calculus, vector
from .geometry import as_keys, horizontal_dims
from .signatures import accessor_signature, shows_keywords
from .units import component_labels

F = TypeVar("F", bound=Callable[..., Any])


def _shows(func: Callable[..., Any]) -> Callable[[F], F]:
    """Give an accessor method the signature of the function it calls (``self`` for the field)."""

    def decorate(method: F) -> F:
        method.__signature__ = accessor_signature(func)  # type: ignore[attr-defined]
        return method

    return decorate


__all__ = ["GradDataArrayAccessor", "GradDatasetAccessor"]


class _GradAccessor:
    """Shared by the DataArray and Dataset accessors."""

    def __init__(self, obj: xr.DataArray | xr.Dataset) -> None:
        self._obj = obj

    @_shows(vector.partial)
    def partial(self, spec: Any, order: int = 1, **kwargs: Any) -> Any:
        """Partial derivative along named dims; see :func:`fieldgrad.vector.partial`.

        Examples
        --------
        >>> da = xr.DataArray([0.0, 1.0, 4.0, 9.0], dims="x", coords={"x": [0, 1, 2, 3]})
        >>> da.grad.partial("x").values
        array([0., 2., 4., 6.])
        >>> da.grad.partial("x", order=2).values
        array([2., 2., 2., 2.])
        """
        return vector.partial(self._obj, spec, order, **kwargs)

    @_shows(vector.partial)
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

    @_shows(vector.gradient)
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

    @_shows(vector.divergence)
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

    @_shows(vector.curl)
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

    @_shows(vector.laplacian)
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

    @_shows(vector.hessian)
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

    @_shows(vector.jacobian)
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

    @_shows(vector.magnitude)
    def magnitude(self, **kwargs: Any) -> xr.DataArray:
        """Norm over the ``component`` dim; see :func:`fieldgrad.vector.magnitude`.

        Examples
        --------
        >>> g = xr.DataArray([[3.0], [4.0]], dims=("component", "x"), coords={"component": ["x", "y"]})
        >>> g.grad.magnitude().values
        array([5.])
        """
        return vector.magnitude(self._obj, **kwargs)

    @_shows(vector.directional)
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

    @_shows(vector.along)
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
    """A vector field from Dataset variables: ``{"x": "u", "y": "v"}`` (their grid mapping attached)."""
    if not isinstance(comps, Mapping) or not comps:
        raise ValueError("give the components as a {direction: variable name} mapping, e.g. {'x': 'u', 'y': 'v'}")
    missing = [v for v in comps.values() if v not in ds.data_vars]
    if missing:
        raise ValueError(f"unknown variable(s) {missing}; data variables: {[str(v) for v in ds.data_vars]}")
    parts = [_with_grid_mapping(ds, ds[v]) for v in comps.values()]
    field = xr.concat(parts, dim=component_dim, coords="minimal", compat="override")
    field = field.assign_coords({component_dim: component_labels(comps)})
    attrs: dict[str, Any] = {}
    for key in ("units", "grid_mapping"):
        values = {p.attrs.get(key) for p in parts}
        if len(values) == 1 and None not in values:
            attrs[key] = values.pop()
    field.attrs = attrs
    field.encoding[vector.COMPONENT_STANDARD_NAMES] = {
        str(label): p.attrs["standard_name"]
        for label, p in zip(comps, parts, strict=True)
        if "standard_name" in p.attrs
    }
    field.name = "_".join(str(v) for v in comps.values())
    return field


def _with_grid_mapping(ds: xr.Dataset, var: xr.DataArray) -> xr.DataArray:
    """A variable with the CF grid-mapping variable it names attached as a coordinate."""
    name = str(var.attrs.get("grid_mapping", "")).split(":")[0].strip()
    if name and name in ds.variables and name not in var.coords:
        return var.assign_coords({name: ds[name]})
    return var


def map_dataset(
    ds: xr.Dataset, func: Callable[..., xr.DataArray], dims: Any, *args: Any, pass_dims: bool = True, **kwargs: Any
) -> xr.Dataset:
    """Apply a DataArray operator to every data variable that has the dims; keep the others.

    Names are kept, as :meth:`xarray.Dataset.differentiate` does. The dims are those named, or
    the geometry's horizontal axes (for ``geometry="cartesian"``: the dims CF marks as spatial).
    A variable's CF grid mapping is attached to it before the call.

    Examples
    --------
    >>> ds = xr.Dataset({"f": (("x", "y"), np.ones((4, 4))), "c": ("t", [1.0])})
    >>> out = map_dataset(ds, vector.laplacian, ["x", "y"])
    >>> float(out.f.mean()), float(out.c[0])
    (0.0, 1.0)
    """
    geometry = kwargs.get("geometry", "cartesian")
    if dims is None:
        keys = horizontal_dims(ds, geometry, kwargs.get("latitude"), kwargs.get("longitude"))
        passed = keys if geometry == "cartesian" else None  # other geometries find their axes per variable
    else:
        keys = as_keys(dims) or []
        passed = keys
    call_args = (passed, *args) if pass_dims else args
    return calculus.map_variables(
        ds, keys, lambda var, name: func(_with_grid_mapping(ds, var), *call_args, **kwargs).rename(name)
    )


@xr.register_dataset_accessor("grad")
class GradDatasetAccessor(_GradAccessor):
    """``ds.grad``: every operator of ``da.grad``, mapped over the data variables, or on vector
    fields whose components are variables (``{"x": "u", "y": "v"}``)."""

    _obj: xr.Dataset

    @_shows(vector.gradient)
    def gradient(self, dims: Iterable[Hashable] | None = None, **kwargs: Any) -> xr.Dataset:
        """Each data variable with all ``dims`` becomes its gradient; see :func:`fieldgrad.vector.gradient`.

        Examples
        --------
        >>> ds = xr.Dataset({"T": (("x", "y"), np.add.outer(np.arange(3.0), 2 * np.arange(4.0)))})
        >>> ds.grad.gradient()["T"].mean(["x", "y"]).values
        array([1., 2.])
        """
        return map_dataset(self._obj, vector.gradient, dims, **kwargs)

    @_shows(vector.laplacian)
    def laplacian(self, dims: Iterable[Hashable] | None = None, **kwargs: Any) -> xr.Dataset:
        """Laplacian of every data variable that has all ``dims`` (others unchanged).

        Examples
        --------
        >>> x = np.arange(4.0)
        >>> ds = xr.Dataset({"f": (("x", "y"), np.add.outer(x**2, x**2)), "c": ("z", [1.0])})
        >>> float(ds.grad.laplacian(["x", "y"])["f"].mean()), float(ds.grad.laplacian(["x", "y"])["c"][0])
        (4.0, 1.0)
        """
        return map_dataset(self._obj, vector.laplacian, dims, **kwargs)

    @_shows(vector.hessian)
    def hessian(self, dims: Iterable[Hashable] | None = None, **kwargs: Any) -> xr.Dataset:
        """Hessian of every data variable that has all ``dims``; see :func:`fieldgrad.vector.hessian`.

        Examples
        --------
        >>> x = np.arange(4.0)
        >>> ds = xr.Dataset({"f": (("x", "y"), np.multiply.outer(x, x))})
        >>> ds.grad.hessian()["f"].mean(["x", "y"]).values
        array([[0., 1.],
               [1., 0.]])
        """
        return map_dataset(self._obj, vector.hessian, dims, **kwargs)

    @_shows(vector.directional)
    def directional(self, direction: Mapping[Hashable, float], **kwargs: Any) -> xr.Dataset:
        """Directional derivative of every data variable that has the direction's dims.

        Examples
        --------
        >>> x = np.arange(4.0)
        >>> ds = xr.Dataset({"f": (("x", "y"), np.add.outer(x, x))})
        >>> round(float(ds.grad.directional({"x": 1, "y": 1})["f"].mean()), 6)
        1.414214
        """
        geometric = kwargs.get("geometry", "cartesian") != "cartesian"
        return map_dataset(
            self._obj, vector.directional, None if geometric else list(direction), direction, pass_dims=False, **kwargs
        )

    @_shows(vector.along)
    def along(self, path: Mapping[Hashable, Any], **kwargs: Any) -> xr.Dataset:
        """Rate of change along a path of every data variable that has the path's dims.

        Variables without those dims are left out (they have no value along the path).

        Examples
        --------
        >>> x = np.arange(5.0)
        >>> ds = xr.Dataset({"f": (("x", "y"), np.add.outer(x, 0 * x))}, coords={"x": x, "y": x})
        >>> ds.grad.along({"x": [0.5, 2.5], "y": [1.0, 1.0]})["f"].values
        array([1., 1.])
        """
        dims = {str(d) for d in path}
        ds = self._obj
        out = {
            name: vector.along(_with_grid_mapping(ds, var), path, **kwargs)
            for name, var in ds.data_vars.items()
            if dims <= {str(d) for d in var.dims}
        }
        return xr.Dataset({name: r.rename(name) for name, r in out.items()}, attrs=ds.attrs)

    @shows_keywords()
    def divergence(
        self, components: Mapping[Hashable, Hashable], *, component_dim: Hashable = "component", **kwargs: Any
    ) -> xr.DataArray:
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

    @shows_keywords()
    def curl(
        self, components: Mapping[Hashable, Hashable], *, component_dim: Hashable = "component", **kwargs: Any
    ) -> xr.DataArray:
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

    @shows_keywords()
    def jacobian(
        self,
        components: Mapping[Hashable, Hashable],
        dims: Iterable[Hashable] | None = None,
        *,
        component_dim: Hashable = "component",
        **kwargs: Any,
    ) -> xr.DataArray:
        """Jacobian of the vector field whose components are variables; see :func:`fieldgrad.vector.jacobian`.

        Examples
        --------
        >>> x = np.arange(4.0)
        >>> X, Y = np.meshgrid(x, x, indexing="ij")
        >>> ds = xr.Dataset({"u": (("x", "y"), X), "v": (("x", "y"), 3 * Y)})
        >>> ds.grad.jacobian({"x": "u", "y": "v"}).mean(["x", "y"]).values
        array([[1., 0.],
               [0., 3.]])
        """
        field = _vector_from(self._obj, components, component_dim)
        return vector.jacobian(field, dims, component_dim=component_dim, **kwargs)
