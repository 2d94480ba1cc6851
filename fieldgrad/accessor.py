"""The ``.grad`` accessor on DataArray and Dataset: a thin labelled layer over :mod:`fieldgrad.calculus`."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

import xarray as xr

from . import calculus

__all__ = ["GradDataArrayAccessor", "GradDatasetAccessor"]


class _GradAccessor:
    """Shared by the DataArray and Dataset accessors; stores the object and nothing else."""

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

    def gradient(self, dims: Iterable[Hashable] | None = None, **kwargs: Any) -> Any:
        """Vector of first derivatives with a new ``component`` dim; see :func:`fieldgrad.calculus.gradient`.

        Examples
        --------
        >>> da = xr.DataArray(np.arange(9.0).reshape(3, 3), dims=("y", "x"))
        >>> da.grad.gradient().sel(component="y").values
        array([[3., 3., 3.],
               [3., 3., 3.],
               [3., 3., 3.]])
        """
        return calculus.gradient(self._obj, dims, **kwargs)


@xr.register_dataarray_accessor("grad")
class GradDataArrayAccessor(_GradAccessor):
    """``da.grad``: derivatives of a DataArray by dimension name."""


@xr.register_dataset_accessor("grad")
class GradDatasetAccessor(_GradAccessor):
    """``ds.grad``: derivatives of every data variable of a Dataset that has the dims."""
