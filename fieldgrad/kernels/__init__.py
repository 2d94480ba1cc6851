"""Apply :class:`~fieldgrad.stencil.AxisStencil` objects along axes of an N-D array, fused.

:func:`apply_stencils` computes several one-axis stencils (e.g. the three partial derivatives
of a gradient) in one pass over memory. The array is viewed as ``(rows, length)``: the row
length is the product of the dims after the last differentiated axis (or that axis itself when
it is the last one); every other differentiated axis moves between rows with a fixed row stride.
For each row, every output is computed while the input rows it needs are in cache:

* an axis across rows: the output row is a short weighted sum of input rows, vectorised along
  the row (the common 2- and 3-point bands are written out, so each output element is stored
  once and the sum stays in registers);
* the contiguous last axis: the band is vectorised along the row, with per-point weight
  vectors on non-uniform axes; the few boundary rows are compressed sparse rows.

The arithmetic is defined once (:mod:`fieldgrad.stencil`): products in float64 summed in
stencil order, one division by the band's or edge row's divisor, one rounding to the output
dtype; no fused multiply-adds, no reassociation. So the results do not depend on threads,
blocking or which kernel ran, and accuracy-2 first derivatives equal :func:`numpy.gradient`'s
bit for bit. Complex fields are computed as their real and imaginary parts; where a part is NaN
or infinite, the other part of the points its stencil reaches is NaN, as in numpy's complex
arithmetic. Exactly-zero band weights of uniform axes were dropped when the stencil was built,
so a NaN spoils exactly the points whose stencil touches it.

The package, one purpose per module:

* :mod:`.compiled` -- the numba kernel (``nogil``, cached on disk; numba is imported on first
  use, never by ``import fieldgrad``) and its compilation, in the background or on demand;
* :mod:`.vectorised` -- the same arithmetic in numpy, over whole slices (bit-identical);
* :mod:`.threads` -- the worker threads, the per-thread serial context, the thread count;
* :mod:`.buffers` -- the pool of large output buffers.

**Which kernel runs** (option ``jit`` of :func:`fieldgrad.set_options`). Measured on the
project's 2-core machine (benchmarks/README.md): the compiled kernel costs 2-4 s the first time
in a process (0.7 s ``import numba``, then loading it from numba's disk cache, or 3-6 s
compiling it on a fresh install), against 0.002 s for xarray's first ``differentiate``; once
loaded it is faster than the numpy kernel at every size (1.5x at 50², 2-4x from 200² on: the
numpy kernel makes a pass over memory per term). So with ``jit="auto"`` (the default) a call
uses the compiled kernel when it is ready for its input dtype, and the numpy kernel otherwise;
the first call of at least ``COMPILED_MIN_SIZE`` elements (or the 9th smaller call) starts
compiling it in a background daemon thread. No call ever waits for compilation: a fresh
process's first gradient costs what numpy's slicing costs. A fork during a compilation leaves
the child on the numpy kernel (numba's compiler lock may be held there); dask tasks choose per
call like any caller. ``"always"`` compiles in the calling thread if needed (the old
behaviour), ``"never"`` keeps numba out of the process.

The compiled kernel processes a range of tasks (a task is a piece of one row, for every
output). Large arrays are shared between threads by Python threads pulling chunks of tasks
(dynamic scheduling: a core that another process occupies does less of the work, instead of
holding up the call); small arrays and dask blocks run in the calling thread. The numpy kernel
runs in the calling thread.

Large outputs of in-memory calls are allocated in buffers that outputs freed during the last
few seconds gave back (option ``reuse_buffers``; :mod:`.buffers`): fresh memory costs a page
fault and a kernel-side zeroing per page, which on virtual machines takes as long as the whole
computation, and a gradient in a loop allocates the same outputs over and over.

Options (:func:`fieldgrad.set_options`, environment variables as defaults): ``serial``,
``num_threads``, ``reuse_buffers``, ``jit``.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, NamedTuple

import numpy as np

from ..conventions import result_dtype
from ..options import OPTIONS
from ..reuse import IdentityCache
from ..stencil import AxisStencil
from . import buffers, compiled, threads, vectorised
from .buffers import release_buffers
from .threads import serial_kernels, serial_requested

__all__ = ["apply_stencil", "apply_stencils", "release_buffers", "result_dtype", "serial_kernels", "serial_requested"]

# Below this many elements, threads cost more than they save.
PARALLEL_THRESHOLD = 1 << 18
# jit="auto" (see the module notes): the first call of at least this many elements, or the call
# after this many smaller ones, starts compiling the kernel for its dtype in the background.
COMPILED_MIN_SIZE = 1 << 16
_NUMPY_CALLS_BEFORE_COMPILING = 8
_numpy_calls = 0
# Longest piece of a row handled at once: all outputs of a piece are computed while its input
# rows are in cache (4096 float64 = 32 KiB per row).
_BLOCK = 4096
# Output elements per chunk of tasks that a thread takes at a time (dynamic scheduling).
_CHUNK_ELEMENTS = 1 << 19


_PACKED = IdentityCache(size=64)  # _packed's: the tables per (stencils, shape, axes)


class _Layout(NamedTuple):
    """What a call computes from its shape and stencils alone: checked once, kept (:func:`_packed`)."""

    axes: tuple[int, ...]  # the terms' axes, made non-negative (the stencils are not kept: the tables are)
    rows: int
    length: int
    ints: np.ndarray
    int_ptr: np.ndarray
    floats: np.ndarray
    float_ptr: np.ndarray


def _packed(shape: tuple[int, ...], terms: list[tuple[int, AxisStencil]]) -> _Layout:
    """The stencils checked against ``shape`` and packed (:func:`_pack`), reused when the same
    stencils meet the same shape again (stencils of uniform axes and of dimension coordinates are
    built once, :func:`fieldgrad.stencil.build_stencil`)."""
    stencils = tuple([st for _, st in terms])
    key = (shape, tuple([axis for axis, _ in terms]))
    layout = _PACKED.get(stencils, key)
    if layout is None:
        ndim = len(shape)
        for axis, _ in terms:
            if not -ndim <= axis < ndim:
                raise ValueError(f"axis {axis} is out of bounds for an array of dimension {ndim}")
        terms = [(axis % ndim, st) for axis, st in terms]
        for axis, st in terms:
            if shape[axis] != st.n:
                raise ValueError(f"stencil is for {st.n} points but axis {axis} has {shape[axis]}")
        rows, length, (ints, int_ptr), (floats, float_ptr) = _pack(shape, terms)
        axes = tuple([axis for axis, _ in terms])
        layout = _PACKED.put(stencils, key, _Layout(axes, rows, length, ints, int_ptr, floats, float_ptr))
    return layout


def _pack(shape: tuple[int, ...], terms: list[tuple[int, AxisStencil]]) -> tuple[int, int, tuple, tuple]:
    """View ``shape`` as (rows, length) and flatten the stencils into the kernel's tables.

    Returns ``rows, length, (ints, int_ptr), (floats, float_ptr)``: the int64 tables of
    :data:`compiled.INT_TABLES` and the float64 ones of :data:`compiled.FLOAT_TABLES`, each set
    concatenated into one array with its offsets.
    """
    last = max(a for a, _ in terms)
    after = math.prod(shape[last + 1 :])  # (Python ints: np.prod costs µs per call)
    if after == 1:
        length = shape[last]
        rows = math.prod(shape[:last])
    else:
        length = after
        rows = math.prod(shape[: last + 1])
    kind, stride, nax, lo, hi, uniform = [], [], [], [], [], []
    off_ptr, w_ptr, rm_ptr, er_ptr, edge_ptr = [0], [0], [0], [0], []
    offsets, row_map, edge_rows, edge_idx, weights, edge_w, edge_const = [], [], [], [], [], [], []
    band_div, edge_div = [], []
    nnz = 0
    for axis, st in terms:
        is_last = after == 1 and axis == last
        kind.append(1 if is_last else 0)
        stride.append(1 if is_last else math.prod(shape[axis + 1 :]) // length)
        nax.append(st.n)
        lo.append(st.lo)
        hi.append(st.hi)
        uniform.append(1 if st.uniform else 0)
        offsets.append(st.offsets)
        off_ptr.append(off_ptr[-1] + st.offsets.shape[0])
        weights.append(st.weights.reshape(-1))  # (m, n) row-major, or (m,) when uniform
        w_ptr.append(w_ptr[-1] + weights[-1].shape[0])
        rmap = np.full(st.n, -1, dtype=np.int64)
        rmap[st.edge_rows] = np.arange(st.edge_rows.shape[0])
        row_map.append(rmap)
        rm_ptr.append(rm_ptr[-1] + st.n)
        edge_rows.append(st.edge_rows)
        edge_ptr.append(st.edge_ptr[:-1] + nnz)
        er_ptr.append(er_ptr[-1] + st.edge_rows.shape[0])
        edge_idx.append(st.edge_idx)
        edge_w.append(st.edge_w)
        edge_const.append(st.edge_const)
        band_div.append(st.band_div)
        assert st.edge_div is not None  # set by AxisStencil.__post_init__
        edge_div.append(st.edge_div)
        nnz += st.edge_idx.shape[0]
    edge_ptr.append(np.array([nnz]))
    cat = np.concatenate
    ints = [
        kind,
        stride,
        nax,
        lo,
        hi,
        off_ptr,
        cat(offsets),
        w_ptr,
        uniform,
        rm_ptr,
        cat(row_map),
        er_ptr,
        cat(edge_rows),
        cat(edge_ptr),
        cat(edge_idx),
    ]
    floats = [cat(weights), cat(edge_w), cat(edge_const), np.array(band_div, dtype=np.float64), cat(edge_div)]
    return rows, length, _concatenated(ints, np.int64), _concatenated(floats, np.float64)


def _concatenated(tables: list[Any], dtype: type[np.generic]) -> tuple[np.ndarray, np.ndarray]:
    """1-D tables (lists or arrays) as one array and the offsets of each: table ``k`` is
    ``flat[ptr[k]:ptr[k+1]]``. (One ``np.concatenate``, and the offsets in Python ints: converting
    each table, or the list of lengths, to an array first cost more than the rest of the packing.)"""
    ptr = np.array([0, *itertools.accumulate([len(t) for t in tables])], dtype=np.int64)
    return np.concatenate(tables, dtype=dtype), ptr


def _block(rows: int, length: int, nthreads: int) -> int:
    """Columns per task: whole rows, or pieces of at most ``_BLOCK``; more pieces when there are
    too few rows to share between threads."""
    block = min(length, _BLOCK)
    if nthreads > 1 and rows < 16 * nthreads:
        block = min(block, max(1024, -(-length * rows // (16 * nthreads))))
    return max(block, 1)


def _kernel_input(values: np.ndarray) -> np.ndarray:
    """The array as the kernel reads it: C-contiguous, float32, float64 or complex.

    float16 is widened to float32; integers and booleans become float64 (exactly, as numpy's
    gradient converts them), so the compiled kernel exists for two real dtypes only: every other
    one would be another compilation of several seconds in a fresh process. The engine hands
    methods floating arrays anyway (:func:`fieldgrad.conventions.as_floating`).
    """
    if type(values) is not np.ndarray:
        values = np.asarray(values)
    kind = values.dtype.kind
    if kind == "f" and values.dtype.itemsize == 2:
        values = values.astype(np.float32)
    elif kind in "biu":
        values = values.astype(np.float64, order="C")
    return values if values.flags.c_contiguous else np.ascontiguousarray(values)


def apply_stencils(
    values: np.ndarray,
    terms: list[tuple[int, AxisStencil]],
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Apply several one-axis stencils to ``values`` in one pass over memory.

    Parameters
    ----------
    values : ndarray
        Numeric array; integer and boolean input is converted to float64 first;
        complex input as its real and imaginary parts. The compiled or the numpy kernel runs
        (option ``jit`` of :func:`fieldgrad.set_options`): the results are bit-identical.
    terms : list of (axis, AxisStencil)
        Each gives one output: the stencil applied along that axis.
    out : ndarray, optional
        Where to write, shape ``(len(terms), *values.shape)``, C-contiguous, dtype
        :func:`result_dtype`; allocated when not given.

    Returns
    -------
    ndarray, shape ``(len(terms), *values.shape)``

    Examples
    --------
    >>> from fieldgrad.coords import axis_coord
    >>> from fieldgrad.stencil import build_stencil
    >>> s = build_stencil(axis_coord(np.arange(3.0)), 1, 2, 1, "one-sided")
    >>> f = np.array([[0.0, 1.0, 4.0], [1.0, 2.0, 5.0], [4.0, 5.0, 8.0]])
    >>> apply_stencils(f, [(0, s), (1, s)])[1]
    array([[1., 2., 3.],
           [1., 2., 3.],
           [1., 2., 3.]])
    """
    values = _kernel_input(values)
    dtype = result_dtype(values.dtype)
    shape = (len(terms), *values.shape)
    size = values.size
    nthreads = 1
    if size >= PARALLEL_THRESHOLD and not threads.serial_requested():
        nthreads = threads.num_threads()
    if out is None:
        # large outputs reuse freed buffers: in memory, and dask blocks, which are freed as soon
        # as they are reduced or stored, so the next block's output costs no fresh pages
        reuse = OPTIONS["reuse_buffers"] and size * len(terms) * dtype.itemsize >= buffers.REUSE_MIN_BYTES
        out = buffers.empty(shape, dtype) if reuse else np.empty(shape, dtype=dtype)
    elif out.shape != shape or out.dtype != dtype or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous {dtype} array of shape {shape}")
    if not terms:
        return out
    layout = _packed(values.shape, terms)
    if size == 0:
        return out
    if values.dtype.kind == "c":  # the real and imaginary parts, each as a real field
        parts = []
        for part in ("real", "imag"):
            part_values = np.ascontiguousarray(getattr(values, part))
            part_out = np.empty(shape, dtype=result_dtype(part_values.dtype))
            _apply_real(part_values, terms, layout, part_out, nthreads)
            getattr(out, part)[...] = part_out
            parts.append(part_values)
        _cross_non_finite(parts, terms, layout, out, nthreads)
        return out
    _apply_real(values, terms, layout, out, nthreads)
    return out


def _cross_non_finite(
    parts: list[np.ndarray], terms: list[tuple[int, AxisStencil]], layout: _Layout, out: np.ndarray, nthreads: int
) -> None:
    """numpy's complex arithmetic where a part is NaN or infinite: the other part of the result is NaN.

    A real weight times a complex value is ``(w + 0j) * (x + iy) = (w*x - 0*y) + i(w*y + 0*x)``, and
    a division by a real step ``(x + iy) / (d + 0j)`` likewise multiplies each part by 0 into the
    other; ``0 * inf`` and ``0 * NaN`` are NaN. So wherever a stencil touches a value with a
    non-finite real (imaginary) part, the imaginary (real) part of the result is NaN, as in
    :func:`numpy.gradient` and :meth:`xarray.DataArray.differentiate`; each part's own result is its
    own arithmetic's. "Touches" is the stencil's own reach: the stencil applied to a field that is
    NaN at those values and 0 elsewhere.
    """
    for k, other in enumerate(("imag", "real")):
        if np.isfinite(np.add.reduce(parts[k], axis=None)):  # no NaN or inf (a cheap test: no temporary)
            continue
        bad = ~np.isfinite(parts[k])
        if not bad.any():  # the sum overflowed
            continue
        marker = np.where(bad, np.nan, 0.0).astype(parts[k].dtype, copy=False)
        touched = np.empty(out.shape, dtype=result_dtype(marker.dtype))
        _apply_real(marker, terms, layout, touched, nthreads)
        getattr(out, other)[np.isnan(touched)] = np.nan


def _apply_real(
    values: np.ndarray, terms: list[tuple[int, AxisStencil]], layout: _Layout, out: np.ndarray, nthreads: int
) -> None:
    """Apply the stencils of ``terms`` (laid out in ``layout``) to a real C-contiguous array, with the
    compiled or the numpy kernel."""
    kernel = _compiled_kernel(values.dtype, out.dtype, values.size)
    if kernel is None:
        vectorised.apply(values, [(layout.axes[k], st) for k, (_, st) in enumerate(terms)], out)
        return
    rows, length = layout.rows, layout.length
    block = _block(rows, length, nthreads)
    ntasks = rows * (-(-length // block))
    args = (
        compiled.read_only(values, (rows, length)),
        out.reshape(out.shape[0], rows, length),
        layout.ints,
        layout.int_ptr,
        layout.floats,
        layout.float_ptr,
        block,
    )
    if nthreads == 1:
        kernel(*args, 0, ntasks)
    else:
        per_task = block * out.shape[0]
        chunk = max(1, min(_CHUNK_ELEMENTS // per_task, -(-ntasks // (4 * nthreads))))
        threads.run_threads(kernel, args, ntasks, chunk, nthreads)


def _compiled_kernel(dtype: np.dtype, out_dtype: np.dtype, size: int) -> Any:
    """The compiled kernel if it should run this call, else None (the numpy kernel runs)."""
    mode = OPTIONS["jit"]
    if mode == "never":
        return None
    kernel = compiled.ready_kernel(dtype)
    if kernel is not None:
        return kernel
    if mode == "always":
        return compiled.compile_now(dtype, out_dtype)
    global _numpy_calls
    _numpy_calls += 1  # not atomic under threads: at worst a compilation starts a call later
    if size >= COMPILED_MIN_SIZE or _numpy_calls > _NUMPY_CALLS_BEFORE_COMPILING:
        compiled.compile_in_background(dtype, out_dtype)
    return None


def apply_stencil(values: np.ndarray, stencil: AxisStencil, axis: int) -> np.ndarray:
    """Apply ``stencil`` along ``axis`` of ``values``; the one-output form of :func:`apply_stencils`.

    Examples
    --------
    >>> from fieldgrad.coords import axis_coord
    >>> from fieldgrad.stencil import build_stencil
    >>> s = build_stencil(axis_coord(np.arange(5.0)), 1, 2, 1, "one-sided")
    >>> apply_stencil(np.arange(5.0) ** 2, s, axis=0)
    array([1., 2., 4., 6., 7.])
    """
    return apply_stencils(values, [(axis, stencil)])[0]
