"""Labelled results built on a field's own coordinates, without validating them again.

A derivative has the dims and coordinates of its field (plus, for a gradient, a leading
component dim). xarray's public constructor validates and deep-copies every coordinate and
rebuilds its index, which costs more than differentiating a 100×100 field; xarray's own
operations (``differentiate``, arithmetic) skip that through ``DataArray._construct_direct``.
So do these functions, when it exists: the coordinates are shallow copies of the field's
(new Variable objects sharing the values, as ``da.copy(deep=False)`` makes) and the indexes
are the field's own, which xarray shares between objects as well. Without it (another xarray)
the public constructor is used; both paths give identical objects (tested).
"""

from __future__ import annotations

import functools
from collections.abc import Hashable, Iterable, Mapping
from typing import Any

import pandas as pd
import xarray as xr
from xarray.indexes import PandasIndex

from .units import component_labels

__all__ = ["coord_variables", "coords_dataset", "indexes_of", "like_field", "with_component_dim"]

# xarray's direct constructor, and the field's coordinate Variables and indexes as xarray keeps them
_DIRECT = all(hasattr(xr.DataArray, a) for a in ("_construct_direct", "_coords", "_indexes"))


def coord_variables(obj: xr.DataArray | xr.Dataset) -> Mapping[Hashable, xr.Variable]:
    """The coordinate Variables of ``obj`` by name (``obj.coords.variables``, without building it).

    Examples
    --------
    >>> f = xr.DataArray(np.zeros(2), dims="x", coords={"x": [0.0, 1.0]})
    >>> list(coord_variables(f))
    ['x']
    """
    if _DIRECT and isinstance(obj, xr.DataArray):
        return obj._coords
    return obj.coords.variables


def indexes_of(obj: xr.DataArray | xr.Dataset) -> Mapping[Hashable, Any]:
    """The xarray indexes of ``obj`` by coordinate name (``obj.xindexes``, without building it).

    Examples
    --------
    >>> f = xr.DataArray(np.zeros(2), dims="x", coords={"x": [0.0, 1.0]})
    >>> type(indexes_of(f)["x"]).__name__
    'PandasIndex'
    """
    if _DIRECT:
        return obj._indexes
    return obj.xindexes


def like_field(field: xr.DataArray, data: Any) -> xr.DataArray:
    """``data`` (the shape of ``field``) with ``field``'s dims, coordinates and indexes; no attrs, no name.

    Examples
    --------
    >>> f = xr.DataArray(np.zeros(3), dims="x", coords={"x": [0.0, 1.0, 2.0]}, name="f", attrs={"units": "K"})
    >>> d = like_field(f, np.ones(3))
    >>> d.dims, d.name, d.attrs, d["x"].values.tolist()
    (('x',), None, {}, [0.0, 1.0, 2.0])
    """
    _check_shape(data, field.shape)
    if not _DIRECT:
        out = field.copy(deep=False, data=data)
        out.attrs, out.name = {}, None
        return out
    return _direct(field.dims, data, field._coords, field._indexes)


def with_component_dim(like: xr.DataArray, data: Any, dim: Hashable, labels: Iterable[Hashable]) -> xr.DataArray:
    """``data`` (shape ``(len(labels),) + like.shape``) labelled as ``like`` plus a leading dim ``dim``.

    The new dim has an index of :func:`~fieldgrad.units.component_labels` (``str`` labels).
    No attrs, no name.

    Examples
    --------
    >>> f = xr.DataArray(np.zeros((2, 3)), dims=("x", "y"), coords={"x": [0.0, 1.0]})
    >>> g = with_component_dim(f, np.ones((2, 2, 3)), "component", ["x", "y"])
    >>> g.dims, sorted(g.indexes), g["component"].values.tolist()
    (('component', 'x', 'y'), ['component', 'x'], ['x', 'y'])
    """
    labels = tuple(str(v) for v in labels)
    _check_shape(data, (len(labels), *like.shape))
    index = _component_index(labels, dim)
    if not _DIRECT:
        variables = {**like.coords.variables, **index.create_variables()}
        indexes = {**like.xindexes, dim: index}
        return xr.DataArray(data, dims=(dim, *like.dims), coords=xr.Coordinates(variables, indexes=indexes))
    return _direct((dim, *like.dims), data, {**like._coords, **index.create_variables()}, {**like._indexes, dim: index})


def _direct(
    dims: tuple[Hashable, ...], data: Any, coords: dict[Hashable, Any], indexes: dict[Hashable, Any]
) -> xr.DataArray:
    """The DataArray of ``data`` on ``dims`` with shallow copies of ``coords`` (new Variables and attrs,
    shared values) and a new dict of the (immutable, shared) ``indexes``."""
    copies = {name: _shallow_copy(var) for name, var in coords.items()}
    # fastpath: data is an array fieldgrad made (numpy, dask or pint), used as is, as xarray's own operations do
    variable = xr.Variable(dims, data, fastpath=True)
    return xr.DataArray._construct_direct(variable, copies, None, dict(indexes))


def _shallow_copy(var: xr.Variable) -> xr.Variable:
    """``var.copy(deep=False)``, without its generic machinery: the same values, a copy of attrs and encoding."""
    values: Any = var._data  # as stored (an IndexVariable keeps its pandas adapter): nothing converted
    return type(var)(var.dims, values, var._attrs, var._encoding, fastpath=True)


@functools.lru_cache(maxsize=64)
def _component_index(labels: tuple[str, ...], dim: Hashable) -> PandasIndex:
    """The index of a component dim (immutable: shared by the results that have these labels)."""
    return PandasIndex(pd.Index(component_labels(labels)), dim)


def _check_shape(data: Any, shape: tuple[int, ...]) -> None:
    if tuple(data.shape) != tuple(shape):
        raise ValueError(f"data of shape {tuple(data.shape)} cannot be labelled as a result of shape {shape}")


def coords_dataset(obj: xr.DataArray | xr.Dataset) -> xr.Dataset:
    """The coordinates of ``obj`` as a Dataset without data variables (the same Variables and indexes).

    Examples
    --------
    >>> f = xr.DataArray(np.zeros(2), dims="x", coords={"x": [0.0, 1.0], "s": ("x", [5.0, 6.0])})
    >>> sorted(coords_dataset(f).coords), len(coords_dataset(f).data_vars)
    (['s', 'x'], 0)
    """
    if _DIRECT and hasattr(xr.Dataset, "_construct_direct"):
        variables = dict(obj._coords) if isinstance(obj, xr.DataArray) else dict(obj.coords.variables)
        return xr.Dataset._construct_direct(variables, set(variables), indexes=dict(indexes_of(obj)))
    return obj.coords.to_dataset()
