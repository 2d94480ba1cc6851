"""Chunked execution: derivatives of dask arrays through halo exchange.

Each block along the differentiated axis is extended by the neighbouring points its stencil
needs, computed in memory by the same engine as numpy input, and trimmed back, so the result
has the input's chunks and the in-memory values, whatever the chunking.

The steps, kept small and explicit (after ``dask/array/overlap.py``):

1. :func:`block_extents` -- for each block, how many points to borrow on each side: the
   method's ``halo`` on interior sides, none at a true domain edge (one-sided stencils apply
   there), more where a block near the edge is smaller than the boundary stencil, and wrapped
   halos for ``boundary="periodic"``;
2. :func:`extended_block` -- slice the borrowed points, which may span several neighbouring
   chunks (chunks of one point work), and join them to the block along the axis;
3. :func:`_compute_block` -- the in-memory engine on the extended block, then the trim.

A method whose ``halo`` is None gets the whole axis in one chunk (the other axes stay chunked),
and the result is rechunked back to the input's chunks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .coords import AxisCoord
from .engine import Plan, derivative_along, _with_boundary
from .kernels import result_dtype, serial_kernels

__all__ = ["block_extents", "derivative_chunked", "first_derivatives_chunked"]


def block_extents(chunks: tuple[int, ...], halo: int, min_points: int, periodic: bool) -> list[tuple[int, int, int, int]]:
    """``(start, stop, left, right)`` for every block: its span and the points it borrows.

    Examples
    --------
    >>> block_extents((1, 4, 1), halo=1, min_points=3, periodic=False)
    [(0, 1, 0, 3), (1, 5, 1, 1), (5, 6, 3, 0)]
    >>> block_extents((2, 1, 2), halo=1, min_points=4, periodic=False)
    [(0, 2, 0, 3), (2, 3, 2, 2), (3, 5, 3, 0)]
    >>> block_extents((3, 3), halo=2, min_points=5, periodic=True)
    [(0, 3, 2, 2), (3, 6, 2, 2)]
    """
    n = int(sum(chunks))
    bounds = np.concatenate([[0], np.cumsum(chunks)]).astype(int)
    out = []
    for s, e in zip(bounds[:-1], bounds[1:]):
        s, e = int(s), int(e)
        if periodic:
            out.append((s, e, halo, halo))
            continue
        left, right = min(s, halo), min(n - e, halo)
        if s - left == 0:  # reaches the domain start: room for the boundary stencil on the right
            right = min(n - e, max(right, min_points))
        if e + right == n:
            left = min(s, max(left, min_points))
        while (e + right) - (s - left) < min(min_points, n):  # every block must be a valid domain
            right, left = min(n - e, right + 1), min(s, left + 1)
        out.append((s, e, left, right))
    return out


def _take(x: Any, axis: int, start: int, stop: int) -> Any:
    idx = [slice(None)] * x.ndim
    idx[axis] = slice(start, stop)
    return x[tuple(idx)]


def extended_block(x: Any, axis: int, start: int, stop: int, left: int, right: int) -> Any:
    """The block ``[start, stop)`` of ``x`` along ``axis`` with ``left``/``right`` borrowed points,
    wrapping around the ends (periodic halos) where the borrowed range leaves the axis."""
    import dask.array as da

    n = x.shape[axis]
    lo, hi = start - left, stop + right
    pieces = []
    if lo < 0:
        pieces.append(_take(x, axis, n + lo, n))
    pieces.append(_take(x, axis, max(lo, 0), min(hi, n)))
    if hi > n:
        pieces.append(_take(x, axis, 0, hi - n))
    ext = da.concatenate(pieces, axis=axis) if len(pieces) > 1 else pieces[0]
    return ext.rechunk({axis: hi - lo})


def _compute_block(block: np.ndarray, *, coord: AxisCoord, axis: int, order: int, plan: Plan,
                   trim: slice) -> np.ndarray:
    with serial_kernels():
        out = derivative_along(block, coord, axis, order, plan)
    idx = [slice(None)] * out.ndim
    idx[axis] = trim
    return out[tuple(idx)]


def _check_chunks(x: Any) -> None:
    if any(np.isnan(c) for cs in x.chunks for c in cs):
        raise ValueError("the dask array has unknown chunk sizes; call .compute_chunk_sizes() "
                         "(or persist it) before differentiating")


def derivative_along_chunked(x: Any, coord: AxisCoord, axis: int, order: int, plan: Plan) -> Any:
    """One derivative of a dask array along one axis; same chunks as ``x``, lazy."""
    dtype = result_dtype(x.dtype)
    if order == 0:
        return x.astype(dtype)
    halo = plan.halo(coord, axis, order)
    if halo is None:  # the method needs the whole axis: one chunk along it, others stay
        whole = x.rechunk({axis: -1})
        out = whole.map_blocks(_compute_block, coord=coord, axis=axis, order=order, plan=plan,
                               trim=slice(None), dtype=dtype, meta=np.empty((0,) * x.ndim, dtype))
        return out.rechunk(x.chunks)
    periodic = plan.boundary_of(axis) == "periodic"
    min_points = plan.min_points(coord, axis, order)
    block_plan = _with_boundary(plan, axis, "one-sided") if periodic else plan
    results = []
    for start, stop, left, right in block_extents(x.chunks[axis], halo, min_points, periodic):
        ext = extended_block(x, axis, start, stop, left, right)
        if periodic:
            c = coord.periodic_extension(start - left, stop + right)
        else:
            c = AxisCoord(values=coord.values[start - left: stop + right], spacing=coord.spacing,
                          period=coord.period)
        chunks = list(ext.chunks)
        chunks[axis] = (stop - start,)
        results.append(ext.map_blocks(
            _compute_block, coord=c, axis=axis, order=order, plan=block_plan,
            trim=slice(left, left + stop - start), chunks=tuple(chunks), dtype=dtype,
            meta=np.empty((0,) * x.ndim, dtype)))
    import dask.array as da

    return da.concatenate(results, axis=axis) if len(results) > 1 else results[0]


def derivative_chunked(x: Any, coords: dict[int, AxisCoord], orders: dict[int, int], plan: Plan) -> Any:
    """Mixed derivative of a dask array, one axis after the other (lazy)."""
    _check_chunks(x)
    out = x
    for axis, order in orders.items():
        out = derivative_along_chunked(out, coords[axis], axis, order, plan)
    return out.astype(result_dtype(x.dtype))


def first_derivatives_chunked(x: Any, coords: dict[int, AxisCoord], axes: list[int], plan: Plan) -> Any:
    """First derivatives along ``axes`` stacked on a new leading axis (lazy)."""
    import dask.array as da

    _check_chunks(x)
    return da.stack([derivative_along_chunked(x, coords[a], a, 1, plan) for a in axes], axis=0)
