"""Chunked execution: derivatives of dask arrays through halo exchange.

Each block along a differentiated axis is computed with the neighbouring points its stencil
needs and nothing more, by the same in-memory engine as numpy input, so the result has the
input's chunks and the in-memory values whatever the chunking. The steps, kept small and
explicit (after ``dask/array/overlap.py``):

Steps 1 to 3 are in :mod:`fieldgrad.halos`:

1. :func:`~fieldgrad.halos.block_extents` -- for each block, how many points it borrows on each side: the
   method's ``halo`` on interior sides, none at a true domain edge (one-sided stencils apply
   there), wrapped halos for ``boundary="periodic"``, and more where a block is smaller than
   the method's minimum number of points.
2. :func:`~fieldgrad.halos.halo_source` -- where the borrowed points are cut from. Usually the input itself;
   but when the input reads from storage (``xr.open_zarr``, ``xr.open_mfdataset``,
   ``da.from_zarr``, any ``da.from_array``-style read), from an independent second read of
   it. A slab cut from a neighbouring block keeps that whole block in memory until the
   neighbour's own result is done, and in a 3-D grid that is a plane of blocks at any moment,
   whatever the order: memory then grows with the store's cross-section. A second read costs
   one more decode of each chunk and leaves only the thin slabs waiting, so memory depends on
   the chunk size alone. ``fieldgrad.set_options(halo_source="neighbours" | "reread")`` overrides
   the choice (``"auto"``, the default, rereads storage reads only).
3. :func:`~fieldgrad.halos.halo_slabs` -- the borrowed points as two thin dask arrays (left and right slabs),
   one chunk per block; a slab may span several neighbouring chunks (chunks of one point work)
   or wrap around the domain.
4. :func:`_differentiate_block` -- one task per block receives the block, its two slabs and
   its :class:`Window` (its span and the positions of its points and borrowed points: each
   task holds its own, so no task grows with the number of blocks). It never copies the
   block: by the locality contract of methods, points at least ``halo`` from the block's ends
   are exact when the block is differentiated alone, so only two thin strips (slab + the
   block's first/last rows) are differentiated again for the points near the ends. Blocks too
   small for that are joined to their slabs and done whole. Such a window is an interval with
   one-sided ends, except across the seam of a non-uniform axis that the method wraps itself:
   there it is a periodic domain of its own, so that the points near the seam get the method's
   wrap-around stencils, as in memory (:func:`_window_derivative`).

A method whose ``halo`` is None gets the whole axis in one chunk (the other axes stay chunked)
and the result is rechunked back to the input's chunks. The gradient computes all its axes in
one task per block (one read of each block, :meth:`DerivativeMethod.derivatives`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from . import boundary
from .conventions import result_dtype
from .coords import AxisCoord
from .engine import derivative_along, first_derivatives
from .halos import axis_slice, block_extents, halo_slabs, halo_source
from .kernels import serial_kernels
from .plan import Plan, wraps_uniformly

if TYPE_CHECKING:
    pass

__all__ = [
    "derivative_chunked",
    "first_derivatives_chunked",
    "check_known_shape",
]


@dataclass(frozen=True)
class Window:
    """What one block needs along one axis beyond the axis's :class:`AxisSetup`: its span, the points
    it borrows (``extent``: start, stop, left, right) and their positions. Each block's task holds
    its own window only (:class:`_PerBlock`), so a task's size does not grow with the number of blocks."""

    extent: tuple[int, int, int, int]
    coord: AxisCoord  # positions of the points start - left .. stop + right - 1 (shifted by periods where wrapped)
    own: np.ndarray | None  # across the seam of an axis differentiated as a ring: the same points' own positions


def _windows(coord: AxisCoord, extents: list[tuple[int, int, int, int]], periodic: bool, ring: bool) -> list[Window]:
    """The window of each block: its borrowed points' positions (shifted by periods where wrapped)."""
    n, out = coord.size, []
    for s, e, left, right in extents:
        a, b = s - left, e + right
        if periodic:
            own = coord.values[np.arange(a, b) % n] if ring and not 0 <= a <= b <= n else None
            out.append(Window((s, e, left, right), boundary.wrapped_positions(coord, a, b), own))
        else:
            values = coord.values[a:b]
            out.append(Window((s, e, left, right), AxisCoord(values, spacing=coord.spacing, period=coord.period), None))
    return out


def _per_block(chunks: tuple[tuple[int, ...], ...], axis: int, items: list[Any], *what: Any) -> tuple[Any, str]:
    """``items[i]`` handed to the task of every block ``i`` along ``axis`` (a map_blocks argument:
    the task holds that item only), and a token of ``what`` makes the items."""
    from dask.base import tokenize
    from dask.layers import ArrayValuesDep

    numblocks = tuple(len(c) for c in chunks)
    column = np.empty(numblocks[axis], dtype=object)
    column[:] = items
    shape = [1] * len(chunks)
    shape[axis] = numblocks[axis]
    return ArrayValuesDep(chunks, np.broadcast_to(column.reshape(shape), numblocks)), tokenize(axis, *what)


def _sub(coord: AxisCoord, start: int, stop: int) -> AxisCoord:
    return AxisCoord(values=coord.values[start:stop], spacing=coord.spacing, period=None)


def _window_derivative(
    values: np.ndarray,
    coord: AxisCoord,
    start: int,
    axis: int,
    order: int,
    setup: AxisSetup,
    along: int,
    own: np.ndarray | None,
) -> np.ndarray:
    """The derivative along ``axis`` of a window of the axis ``along`` whose first point is the
    axis's point ``start`` (negative, or past the end, where the window wraps around); ``coord``
    holds the window's positions, ``own`` (across the seam of an axis that is a ring) the same
    points' unshifted positions.

    Usually the window is an interval, differentiated with one-sided ends (the block plan). On
    an axis whose periodic wrap is the method's own and not uniform (:func:`_ring_period`), a
    window across the seam is differentiated the way the whole axis is in memory: as a periodic
    domain of its own, its points rotated to start at the seam and given the axis's period.
    Then the points near the seam get the method's wrap-around stencils, as in memory, and not
    interior stencils of the window, which may differ from them where a term has an exactly zero
    weight (``fd`` drops such terms from its wrap-around rows, so a NaN there spoils nothing).
    The window's own two ends meet in the ring; the points near them are never used.
    """
    size, n = values.shape[axis], setup.n
    if own is not None and setup.ring_period is not None and not 0 <= start <= n - size:
        plan = _turned(setup.ring_plan, axis, along)
        if size >= n:  # a whole period in the window: the axis itself, as in memory
            at = (np.arange(n) - start) % n
            whole = AxisCoord(values=own[at], spacing=None, period=setup.ring_period)
            out = derivative_along(np.take(values, at, axis=axis), whole, axis, order, plan)
            return np.take(out, (start + np.arange(size)) % n, axis=axis)
        k = -start % n  # the window's point at the seam: the ring starts there
        ring = AxisCoord(values=np.roll(own, -k), spacing=None, period=setup.ring_period)
        return np.roll(derivative_along(np.roll(values, -k, axis=axis), ring, axis, order, plan), k, axis=axis)
    return derivative_along(values, coord, axis, order, _turned(setup.plan, axis, along))


def _turned(plan: Plan, axis: int, along: int) -> Plan:
    """The plan for data whose axis ``along`` was moved to ``axis`` (the plan's boundaries go by axis)."""
    return plan if axis == along else plan.with_boundary(axis, plan.boundary_of(along))


def _strip_derivative(
    parts: list[np.ndarray], window: Window, a: int, b: int, axis: int, order: int, setup: AxisSetup
) -> np.ndarray:
    """The derivative along ``axis`` of ``parts`` joined along it: the points ``a..b-1`` of the
    block's window (a thin strip, see :func:`_window_derivative`), as a view laid out like the parts.

    Along the contiguous last axis the strip is built turned, with that axis first: the kernel
    then runs along long rows instead of doing a few points per row (half the time for the
    strips of a 128³ block, ``benchmarks/bench_block.py``).
    """
    s, _, left, _ = window.extent
    coord, start = _sub(window.coord, a, b), s - left + a
    own = None if window.own is None else window.own[a:b]
    if axis == parts[0].ndim - 1 and axis > 0:
        strip = np.concatenate([np.moveaxis(p, axis, 0) for p in parts], axis=0)
        return np.moveaxis(_window_derivative(strip, coord, start, 0, order, setup, axis, own), 0, axis)
    return _window_derivative(np.concatenate(parts, axis=axis), coord, start, axis, order, setup, axis, own)


def _patch_ends(
    out: np.ndarray,
    block: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    window: Window,
    axis: int,
    order: int,
    setup: AxisSetup,
) -> None:
    """Recompute the points within ``halo`` of the block's ends from thin strips with the slabs."""
    L, C, R = left.shape[axis], block.shape[axis], right.shape[axis]
    halo, width = setup.halo, _strip_width(setup.halo, setup.min_points)
    d = _strip_derivative([left, axis_slice(block, axis, 0, width)], window, 0, L + width, axis, order, setup)
    axis_slice(out, axis, 0, halo)[...] = axis_slice(d, axis, L, L + halo)
    d = _strip_derivative(
        [axis_slice(block, axis, C - width, C), right], window, L + C - width, L + C + R, axis, order, setup
    )
    axis_slice(out, axis, C - halo, C)[...] = axis_slice(d, axis, width - halo, width)


def _strip_width(halo: int, min_points: int) -> int:
    return halo + max(halo, min_points)


def _trim_slabs(
    left: np.ndarray, right: np.ndarray, extent: tuple[int, int, int, int], axis: int
) -> tuple[np.ndarray, np.ndarray]:
    """The slabs with the placeholder point of a side that borrows nothing dropped (see :func:`halo_slabs`)."""
    _, _, n_left, n_right = extent
    return axis_slice(left, axis, 0, n_left), axis_slice(right, axis, 0, n_right)


def _differentiate_block(
    block: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    window: Window,
    *,
    setup: AxisSetup,
    axis: int,
    order: int,
) -> np.ndarray:
    """One block's derivative along ``axis``, from the block, its two halo slabs and its window."""
    left, right = _trim_slabs(left, right, window.extent, axis)
    L, C = left.shape[axis], block.shape[axis]
    width = _strip_width(setup.halo, setup.min_points)
    with serial_kernels():
        if C < 2 * width:  # small block: join it to its slabs and do it whole
            ext = np.concatenate([left, block, right], axis=axis)
            d = _window_derivative(ext, window.coord, window.extent[0] - L, axis, order, setup, axis, window.own)
            return axis_slice(d, axis, L, L + C)
        out = np.asarray(derivative_along(block, _sub(window.coord, L, L + C), axis, order, setup.plan))
        _patch_ends(out, block, left, right, window, axis, order, setup)
        return out


def _whole_axis(x: Any, coord: AxisCoord, axis: int, order: int, plan: Plan) -> Any:
    """A method that needs the whole axis: one chunk along it, the other axes stay chunked."""
    dtype = result_dtype(x.dtype)
    whole = x.rechunk({axis: -1})
    return whole.map_blocks(
        _whole_axis_block,
        coord=coord,
        axis=axis,
        order=order,
        plan=plan,
        dtype=dtype,
        meta=np.empty((0,) * x.ndim, dtype),
    ).rechunk(x.chunks)


def _whole_axis_block(block: np.ndarray, *, coord: AxisCoord, axis: int, order: int, plan: Plan) -> np.ndarray:
    """One task of :func:`_whole_axis` (a module-level function: graphs pickle without cloudpickle)."""
    with serial_kernels():
        return derivative_along(block, coord, axis, order, plan)


@dataclass(frozen=True)
class AxisSetup:
    """What every block of one axis needs, the same for all (each block's :class:`Window` is its own)."""

    halo: int
    min_points: int
    plan: Plan  # the block plan: one-sided ends on the axis
    n: int  # the axis's points
    ring_period: float | None  # the period of a window across the seam differentiated as a ring
    ring_plan: Plan  # the plan with the axis periodic (for the ring)


def _ring_period(coord: AxisCoord, axis: int, plan: Plan) -> float | None:
    """The axis's period when the method wraps it itself and it is not uniform; else None.

    Then a window across the seam is differentiated as a ring (:func:`_window_derivative`). A
    uniform axis whose period is its number of steps has uniform windows and stencils that do not
    depend on where the axis wraps: its blocks are one-sided windows, bit for bit the in-memory
    values.
    """
    if plan.boundary_of(axis) != "periodic" or not plan.native(axis):
        return None
    seen = plan.method_coord(coord, axis)  # (not uniform across the wrap: without spacing)
    return seen.period if seen.spacing is None else None


def _axis_setup(
    x: Any, source: Any, coord: AxisCoord, axis: int, order: int, plan: Plan
) -> tuple[AxisSetup, Any, Any, tuple[Any, str]]:
    """The per-axis setup, the two halo slabs (cut from ``source``, see :func:`halo_source`) and the
    blocks' windows with their token (:func:`_per_block`: each block's task holds its own window)."""
    periodic = plan.boundary_of(axis) == "periodic"
    if periodic and not wraps_uniformly(coord):  # as the method sees the whole axis (or its padding)
        coord = dataclasses.replace(coord, spacing=None)
    ring_period = _ring_period(coord, axis, plan)
    halo = plan.halo(coord, axis, order)
    assert halo is not None  # the callers send a method that needs the whole axis to _whole_axis
    # a periodic block carries its wrap in the halos and is differentiated with one-sided ends
    block_plan = boundary.block_plan(plan, [axis])
    min_points = block_plan.min_points(coord, axis, order)
    extents = block_extents(x.chunks[axis], halo, min_points, periodic)
    left, right = halo_slabs(source, axis, extents)
    ring = ring_period is not None
    made_of = (coord.values, coord.spacing, coord.period, np.array(extents), periodic, ring)
    windows = _per_block(x.chunks, axis, _windows(coord, extents, periodic, ring), *made_of)
    return AxisSetup(halo, min_points, block_plan, coord.size, ring_period, plan), left, right, windows


def derivative_along_chunked(x: Any, coord: AxisCoord, axis: int, order: int, plan: Plan) -> Any:
    """One derivative of a dask array along one axis; same chunks as ``x``, lazy."""
    import dask.array as da

    dtype = result_dtype(x.dtype)
    if order == 0:
        return x.astype(dtype)
    if plan.halo(coord, axis, order) is None:
        return _whole_axis(x, coord, axis, order, plan)
    from dask.base import tokenize

    setup, left, right, (windows, token) = _axis_setup(x, halo_source(x), coord, axis, order, plan)
    # named here: map_blocks would tokenize the windows of every block
    name = f"_differentiate_block-{tokenize(x.name, left.name, right.name, token, setup, axis, order)}"
    return da.map_blocks(
        _differentiate_block,
        x,
        left,
        right,
        windows,
        name=name,
        setup=setup,
        axis=axis,
        order=order,
        chunks=x.chunks,
        dtype=dtype,
        meta=np.empty((0,) * x.ndim, dtype),
    )


def check_known_shape(values: Any) -> None:
    """Raise a clear ValueError for a dask array whose chunk sizes are unknown."""
    if any(isinstance(n, float) and np.isnan(n) for n in getattr(values, "shape", ())):
        raise ValueError(
            "the dask array has unknown chunk sizes; call .compute_chunk_sizes() (or persist it) before differentiating"
        )


def derivative_chunked(x: Any, coords: dict[int, AxisCoord], orders: dict[int, int], plan: Plan) -> Any:
    """Mixed derivative of a dask array, one axis after the other (lazy)."""
    check_known_shape(x)
    out = x
    for axis, order in orders.items():
        out = derivative_along_chunked(out, coords[axis], axis, order, plan)
    return out.astype(result_dtype(x.dtype))


def _gradient_block(
    block: np.ndarray,
    *per_axis: Any,
    setups: list[AxisSetup],
    axes: list[int],
    block_id: tuple[int, ...] | None = None,
) -> np.ndarray:
    """All first derivatives of one block: one fused pass over the block, then the thin end strips.

    ``per_axis`` holds the left slab, right slab and :class:`Window` of each axis in turn. (``block_id``
    is accepted for wrappers that pass dask's on, ``benchmarks/bench_block.py``; the windows say where
    the block is.)
    """
    slabs = [per_axis[3 * k : 3 * k + 3] for k in range(len(axes))]
    small = any(block.shape[a] < 2 * _strip_width(st.halo, st.min_points) for a, st in zip(axes, setups, strict=True))
    with serial_kernels():
        if small:
            return np.stack(
                [
                    _differentiate_block(block, *slabs[k], setup=st, axis=a, order=1)
                    for k, (a, st) in enumerate(zip(axes, setups, strict=True))
                ]
            )
        own, ends = {}, []
        for k, a in enumerate(axes):
            left, right, window = slabs[k]
            left, right = _trim_slabs(left, right, window.extent, a)
            L = left.shape[a]
            own[a] = _sub(window.coord, L, L + block.shape[a])
            ends.append((left, right, window))
        out = first_derivatives(block, own, axes, boundary.block_plan(setups[0].plan, axes))
        for k, (a, st) in enumerate(zip(axes, setups, strict=True)):
            left, right, window = ends[k]
            _patch_ends(out[k], block, left, right, window, a, 1, st)
        return out


def first_derivatives_chunked(x: Any, coords: dict[int, AxisCoord], axes: list[int], plan: Plan) -> Any:
    """First derivatives along ``axes`` stacked on a new leading axis (lazy)."""
    import dask.array as da

    check_known_shape(x)
    if any(plan.halo(coords[a], a, 1) is None for a in axes) or len({plan.boundary_of(a) for a in axes}) > 1:
        return da.stack([derivative_along_chunked(x, coords[a], a, 1, plan) for a in axes], axis=0)
    from dask.base import tokenize

    setups, per_axis, tokens, source = [], [], [], halo_source(x)
    for a in axes:
        setup, left, right, (windows, token) = _axis_setup(x, source, coords[a], a, 1, plan)
        setups.append(setup)
        per_axis += [left, right, windows]
        tokens += [left.name, right.name, token]
    dtype = result_dtype(x.dtype)
    return da.map_blocks(
        _gradient_block,
        x,
        *per_axis,
        name=f"_gradient_block-{tokenize(x.name, tokens, setups, axes)}",  # (not tokenizing every block's window)
        setups=setups,
        axes=list(axes),
        new_axis=0,
        chunks=((len(axes),),) + x.chunks,
        dtype=dtype,
        meta=np.empty((0,) * (x.ndim + 1), dtype),
    )
