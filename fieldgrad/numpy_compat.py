"""``fieldgrad.gradient``: a drop-in for :func:`numpy.gradient`, for numpy and dask arrays.

Same signature, semantics, errors and return types as numpy, computed by fieldgrad's stencil
engine (one pass over memory for all axes, multi-threaded) instead of numpy's slicing. The
arithmetic is numpy's (``(f[2:] - f[:-2]) / (2 * dx)``, its ``a, b, c`` weights on non-uniform
spacing and at ``edge_order=2`` ends, computed in the dtype numpy computes them in: a float16 or
float32 spacing's own), so float64 and integer input give numpy's results bit for bit; numpy's
own ``TestGradient`` runs against this function (tests/test_numpy_suite.py). float32 input is
computed in float64 and rounded once (numpy rounds every difference and product to float32): it
may differ from numpy's by an ulp, more where the differences cancel.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from .chunked import check_known_shape
from .conventions import as_floating, is_dask
from .coords import AxisCoord, share
from .dispatch import first_derivatives
from .plan import Plan, make_plan
from .reuse import ValueCache

__all__ = ["gradient"]


def _normalize_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    return (
        tuple(np.lib.array_utils.normalize_axis_tuple(axis, ndim))
        if hasattr(np.lib, "array_utils")
        else tuple(np.core.numeric.normalize_axis_tuple(axis, ndim))
    )  # pragma: no cover - numpy < 2


def _axis_coords(f_shape: tuple[int, ...], axes: tuple[int, ...], varargs: tuple[Any, ...]) -> list[AxisCoord]:
    """numpy's spacing rules: nothing (unit), one scalar for all, or a scalar or 1-D coordinate per axis.

    The positions keep the dtype numpy computes a spacing's weights in (:func:`_step_dtype`), so
    that the stencil is built in it (:func:`fieldgrad.stencil.build_stencil`).
    """
    n = len(varargs)
    if n == 0:
        spacings: list[Any] = [1.0] * len(axes)
    elif n == 1 and np.ndim(varargs[0]) == 0:
        spacings = list(varargs) * len(axes)
    elif n == len(axes):
        spacings = list(varargs)
    else:
        raise TypeError("invalid number of arguments")
    coords = []
    for k, axis in enumerate(axes):  # (not zip(strict=True): it costs more than the rest of a small call)
        spacing = spacings[k]
        size = f_shape[axis]
        if type(spacing) is float or type(spacing) is int:  # the common case, without an array
            coords.append(_uniform_coord(size, float(spacing)))
            continue
        x = np.asanyarray(spacing)
        if x.ndim == 0:
            coords.append(_uniform_coord(size, float(x), _step_dtype(x.dtype)))
            continue
        if x.ndim != 1:
            raise ValueError("distances must be either scalars or 1d")
        if len(x) != size:
            raise ValueError("when 1d, distances must match the length of the corresponding dimension")
        coords.append(_array_coord(np.asarray(x, dtype=_step_dtype(x.dtype))))
    return coords


#: _array_coord's: the shared coordinates of the last coordinate arrays seen, by their values
_ARRAY_COORDS = ValueCache(size=64, max_bytes=64 << 20)
#: what _array_coord counts per point besides the key and the copy: two stencils' band weights (edge
#: orders 1 and 2), built on the copy and kept as long as it lives (fieldgrad.stencil._STENCILS)
_STENCIL_BYTES_PER_POINT = 48


def _array_coord(x: np.ndarray) -> AxisCoord:
    """The positions of a 1-D spacing array, found by their values: a read-only copy fieldgrad shares.

    The array is the user's: it may change in place between calls, so its identity says nothing
    about its values. Its values do: the same values (compared bit for bit,
    :class:`fieldgrad.reuse.ValueCache`) give the same shared coordinate, whose stencils are built
    once (:func:`fieldgrad.stencil.build_stencil`), and so are the kernel's tables for them; other
    values, in the same array or not, give another. A non-uniform stencil costs 50-100 µs to build
    and its tables as much again, more than differentiating a 100×100 field. Entries go least
    recently used first, at most 64 of them and 64 MiB (the stencils built on them included); an
    axis too long for that is not kept.
    """
    n = x.shape[0]
    if n * (2 * x.itemsize + _STENCIL_BYTES_PER_POINT) > _ARRAY_COORDS.max_bytes:
        return _new_array_coord(x, x)
    entry, coord = _ARRAY_COORDS.get(x)
    if coord is None:
        coord = share(_new_array_coord(x, x.copy()))
        _ARRAY_COORDS.put(entry, coord, nbytes=n * (x.itemsize + _STENCIL_BYTES_PER_POINT))
    return coord


def _new_array_coord(x: np.ndarray, values: np.ndarray) -> AxisCoord:
    """The coordinate of the spacing array ``x`` at ``values`` (``x`` or a copy of it)."""
    d = np.diff(x)
    # numpy's rule: exactly constant steps take the uniform formula, anything else the general one
    uniform = d.size > 0 and bool((d == d[0]).all())
    return AxisCoord(values=values, spacing=float(d[0]) if uniform else None)


def _step_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype numpy.gradient computes the weights of a (numpy) spacing of ``dtype`` in: float16
    and float32 their own (a float32 step's ``-1.5 / dx`` is float32, and a float32 coordinate's
    steps are ``np.diff`` in float32), integers and float64 float64 (numpy converts integer
    coordinates first). Extended precision and complex spacings are taken as float64 here, where
    numpy would compute in them."""
    return dtype if dtype.kind == "f" and dtype.itemsize <= 4 else _FLOAT64


_FLOAT64 = np.dtype(np.float64)


@functools.lru_cache(maxsize=64)
def _uniform_coord(size: int, h: float, dtype: np.dtype = _FLOAT64) -> AxisCoord:
    """Positions ``0, h, 2h, ...`` of an axis given by its step (read-only: shared between calls), in
    the dtype the step's weights are computed in."""
    with np.errstate(over="ignore"):  # float16 positions of a long axis: inf, and never read
        values = (np.arange(size) * h).astype(dtype, copy=False)
    return share(AxisCoord(values=values, spacing=h))


def gradient(f: Any, *varargs: Any, axis: int | tuple[int, ...] | None = None, edge_order: int = 1) -> Any:
    """Return the gradient of an N-dimensional array, exactly as :func:`numpy.gradient` does.

    Second-order accurate central differences in the interior and first- or second-order
    accurate one-sided differences at the boundaries, on uniform or non-uniform spacing.

    Parameters
    ----------
    f : array_like
        An N-dimensional numpy array (masked arrays included) or dask array.
    *varargs : scalars or 1-D arrays, optional
        Spacing: none (unit spacing), one scalar for every axis, or one scalar or 1-D
        coordinate array per axis in ``axis``.
    axis : None, int or tuple of ints, optional
        Axes to differentiate (default all).
    edge_order : {1, 2}, optional
        Accuracy of the one-sided boundary differences.

    Returns
    -------
    ndarray or tuple of ndarray
        One array per axis (a single array when there is one axis), each of ``f``'s shape.
        Integer and boolean input gives float64; datetime64 gives timedelta64 of the same unit
        (computed in float64 and truncated toward zero; NaT wherever the stencil touches a NaT, as
        in numpy). Several outputs are views of one allocation, so they cost one pass over memory.

    Examples
    --------
    >>> f = np.array([1, 2, 4, 7, 11, 16])
    >>> gradient(f)
    array([1. , 1.5, 2.5, 3.5, 4.5, 5. ])
    >>> gradient(f, 2)
    array([0.5 , 0.75, 1.25, 1.75, 2.25, 2.5 ])
    >>> x = np.arange(f.size)
    >>> gradient(f, x)
    array([1. , 1.5, 2.5, 3.5, 4.5, 5. ])
    >>> x = np.array([0., 1., 1.5, 3.5, 4., 6.])
    >>> gradient(f, x)
    array([1. , 3. , 3.5, 6.7, 6.9, 2.5])
    >>> gradient(np.array([[1, 2, 6], [3, 4, 5]]))
    (array([[ 2.,  2., -1.],
           [ 2.,  2., -1.]]), array([[1. , 2.5, 4. ],
           [1. , 1. , 1. ]]))
    >>> dx, y = 2., [1., 1.5, 3.5]
    >>> gradient(np.array([[1, 2, 6], [3, 4, 5]]), dx, y)
    (array([[ 1. ,  1. , -0.5],
           [ 1. ,  1. , -0.5]]), array([[2. , 2. , 2. ],
           [2. , 1.7, 0.5]]))
    >>> x = np.array([0, 1, 2, 3, 4])
    >>> gradient(x**2, edge_order=2)
    array([0., 2., 4., 6., 8.])
    >>> gradient(np.array([[1, 2, 6], [3, 4, 5]]), axis=0)
    array([[ 2.,  2., -1.],
           [ 2.,  2., -1.]])
    """
    if is_dask(f):
        check_known_shape(f)
    else:
        f = np.asanyarray(f)
    if isinstance(f, np.ma.MaskedArray):
        # values from the filled data; a point is masked where its stencil touches a masked one
        args: dict[str, Any] = dict(axis=axis, edge_order=edge_order)
        data = gradient(np.ma.getdata(f), *varargs, **args)
        touched = gradient(np.where(np.ma.getmaskarray(f), np.nan, 0.0), *varargs, **args)
        if isinstance(data, tuple):
            return tuple(np.ma.masked_array(d, mask=np.isnan(t)) for d, t in zip(data, touched, strict=True))
        return np.ma.masked_array(data, mask=np.isnan(touched))
    axes = _normalize_axes(axis, f.ndim)
    coords = _axis_coords(f.shape, axes, varargs)
    if edge_order > 2:
        raise ValueError("'edge_order' greater than 2 not supported")
    if edge_order < 1:
        raise ValueError("'edge_order' must be 1 or 2")
    for ax in axes:
        if f.shape[ax] < edge_order + 1:
            raise ValueError(
                "Shape of array too small to calculate a numerical gradient, "
                "at least (edge_order + 1) elements are required."
            )
    plan = _numpy_plan(int(edge_order))
    values, finish = _prepare(f)
    if is_dask(values):
        by_axis = {axis: coords[k] for k, axis in enumerate(axes)}
        stacked = first_derivatives(values, by_axis, list(axes), plan)
    else:
        # numpy's ends are one-sided and its NaNs propagate: nothing for the engine to emulate, so
        # the method's own pass over memory for every axis serves the call (as the engine's would)
        terms = [(axis, coords[k]) for k, axis in enumerate(axes)]
        stacked = plan.method.derivatives(as_floating(values), terms, **plan.options)
    if len(axes) == 1:
        return stacked[0] if finish is None else finish(stacked[0])
    return tuple(stacked) if finish is None else tuple(finish(d) for d in stacked)


@functools.lru_cache(maxsize=2)
def _numpy_plan(edge_order: int) -> Plan:
    """numpy's finite differences: accuracy 2 inside, ``edge_order`` at the ends."""
    return make_plan("fd", (1,), accuracy=2, edge_order=edge_order)


def _prepare(f: Any) -> tuple[Any, Any]:
    """The values to differentiate, and how to turn a derivative back into numpy's result type
    (None: it already is)."""
    kind = f.dtype.kind
    if kind in "mM":
        return _time_values(f)
    if kind == "f" and f.dtype.itemsize == 2:
        return f, lambda d: d.astype(np.float16)
    if kind == "O":
        raise TypeError(f"gradient needs a numeric array, got dtype {f.dtype}")
    return f, None


_NAT = np.iinfo(np.int64).min  # NaT's int64


def _time_values(f: Any) -> tuple[Any, Any]:
    """datetime64/timedelta64 values as float64 numbers of their unit, and the conversion of a
    derivative back to timedelta64 of that unit.

    The numbers are counted from the first valid time (in C order; the first element unless it
    is NaT): small integers, exact in float64, so differences are numpy's integer ones. NaT
    becomes NaN, which spoils the points whose stencil touches it, as NaT does in numpy's
    timedelta arithmetic; a NaN (or infinite) derivative becomes NaT, as numpy's division by a
    zero step does. Dask arrays stay lazy: the first valid time is a reduction.
    """
    unit = np.datetime_data(f.dtype)[0]
    out_dtype = np.dtype(f"m8[{unit}]")
    if is_dask(f):
        values = _dask_time_values(f)
        return values, lambda d: d.map_blocks(_to_timedelta, out_dtype, dtype=out_dtype)
    ints = f.view(np.int64)
    if f.size == 0:
        return ints.astype(np.float64), lambda d: _to_timedelta(d, out_dtype)
    first = ints[(0,) * f.ndim]
    values = (ints - first).astype(np.float64)  # small numbers keep float64 exact
    if ints.min() == _NAT:  # (NaT is int64's minimum: a reduction, no temporary)
        nat = ints == _NAT
        if first == _NAT:
            valid = np.flatnonzero(~nat)
            first = ints.flat[valid[0]] if valid.size else 0
            values = (ints - first).astype(np.float64)
        values[nat] = np.nan
    return values, lambda d: _to_timedelta(d, out_dtype)


def _to_timedelta(d: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """A float64 derivative as timedelta64 ``dtype``: truncated toward zero, NaT where not finite."""
    if np.isfinite(np.add.reduce(d, axis=None)):  # every value finite (a cheap test: no temporary)
        return np.trunc(d).astype(np.int64).view(dtype)
    with np.errstate(invalid="ignore"):  # NaN and inf cast to some integer, replaced below
        ints = np.trunc(d).astype(np.int64)
    ints[~np.isfinite(d)] = _NAT
    return ints.view(dtype)


def _dask_time_values(f: Any) -> Any:
    """:func:`_time_values`'s numbers of a dask array, lazily: the first valid time in C order is a
    reduction over the array (taken from a second read of it when it reads from storage, as the
    halos are: :func:`fieldgrad.halos.halo_source`)."""
    import dask.array as da

    from .halos import halo_source

    def as_ints(x: Any) -> Any:
        return x.astype(np.int64)  # NaT is int64's minimum

    ints = as_ints(f)
    if f.size == 0:
        return ints.astype(np.float64)
    source = as_ints(halo_source(f))
    # the flat (C order) index of every element, from one range per axis chunked like the array
    index: Any = np.int64(0)
    stride = 1
    for ax in range(f.ndim - 1, -1, -1):
        shape = [1] * f.ndim
        shape[ax] = f.shape[ax]
        index = index + (da.arange(f.shape[ax], chunks=(f.chunks[ax],), dtype=np.int64) * stride).reshape(shape)
        stride *= f.shape[ax]
    big = np.iinfo(np.int64).max
    key = da.where(source == _NAT, big, index)
    first_index = key.min()
    first = da.where(key == first_index, source, big).min()  # all NaT: NaT, and every value is NaN
    return da.where(ints == _NAT, np.nan, (ints - first).astype(np.float64))
