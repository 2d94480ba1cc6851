"""Apply an :class:`~fieldgrad.stencil.AxisStencil` along one axis of an N-D array.

The array is viewed as ``(pre, n, post)`` with the differentiated axis in the middle. Two
compiled (numba, ``nogil``) kernels cover the two memory layouts:

* ``post > 1``: each output row ``out[p, i, :]`` is a short sum of input rows, vectorised over
  the contiguous ``post`` dimension (in blocks that stay in L1 cache);
* ``post == 1`` (the last axis): the band is vectorised over ``i`` along the contiguous axis.

Each kernel is compiled twice from the same Python function: a multi-threaded variant for large
in-memory arrays and a serial one for small arrays and for dask blocks (dask already runs one
task per core). Compiled code is cached on disk, so the JIT cost is paid once per machine.
numba is imported on first use, not with ``import fieldgrad``.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from typing import Any

import numpy as np

from .stencil import AxisStencil

__all__ = ["apply_stencil", "apply_stencils", "result_dtype", "serial_kernels"]

# Below this many elements, threads cost more than they save.
PARALLEL_THRESHOLD = 1 << 18
_BLOCK = 512  # elements of a row handled at once (4 KiB of float64: stays in L1)

_local = threading.local()


def result_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype of a derivative of a field of ``dtype`` (SPEC §2).

    Integers and booleans give float64 (never wrap around); float16 and float32 give float32;
    float64 stays; complex is kept.

    Examples
    --------
    >>> result_dtype(np.dtype("uint8")), result_dtype(np.dtype("float16"))
    (dtype('float64'), dtype('float32'))
    """
    dtype = np.dtype(dtype)
    if dtype.kind in "biu":
        return np.dtype(np.float64)
    if dtype.kind == "f":
        return np.dtype(np.float32) if dtype.itemsize <= 4 else np.dtype(np.float64)
    if dtype.kind == "c":
        return np.dtype(np.complex64) if dtype.itemsize <= 8 else np.dtype(np.complex128)
    raise TypeError(f"the field must be numeric (integer, boolean, float or complex), got dtype {dtype}")


def _fused(f, out, kind, stride, nax, lo, hi, off_ptr, offsets, w_ptr, weights, uniform,
           rm_ptr, row_map, er_ptr, edge_rows, edge_ptr, edge_idx, edge_w, edge_const):  # pragma: no cover - compiled
    """out[e, t, :] = derivative ``e`` of f (R, L) at row t; see :func:`_pack` for the tables."""
    nrows, length = f.shape
    for t in _prange(nrows):
        for e in range(out.shape[0]):
            m0, m1 = off_ptr[e], off_ptr[e + 1]
            n = nax[e]
            if kind[e] == 0:  # axis across rows: output row t from rows t + offset * stride
                s = stride[e]
                i = (t // s) % n
                r = row_map[rm_ptr[e] + i]
                orow = out[e, t]
                for q0 in range(0, length, _BLOCK):
                    q1 = min(q0 + _BLOCK, length)
                    if r < 0:
                        for k in range(m0, m1):
                            c = weights[w_ptr[e] + (k - m0) * (1 if uniform[e] else n) + (0 if uniform[e] else i)]
                            frow = f[t + offsets[k] * s]
                            if k == m0:
                                for q in range(q0, q1):
                                    orow[q] = c * frow[q]
                            else:
                                for q in range(q0, q1):
                                    orow[q] += c * frow[q]
                    else:
                        rr = er_ptr[e] + r
                        c0 = edge_const[rr]
                        for q in range(q0, q1):
                            orow[q] = c0
                        for p in range(edge_ptr[rr], edge_ptr[rr + 1]):
                            c = edge_w[p]
                            frow = f[t + (edge_idx[p] - i) * s]
                            for q in range(q0, q1):
                                orow[q] += c * frow[q]
            else:  # the contiguous axis: vectorised along the row
                orow = out[e, t]
                frow = f[t]
                for i0 in range(lo[e], hi[e], _BLOCK):
                    i1 = min(i0 + _BLOCK, hi[e])
                    for k in range(m0, m1):
                        o = offsets[k]
                        wb = w_ptr[e] + (k - m0) * (1 if uniform[e] else n)
                        if uniform[e]:
                            c = weights[wb]
                            if k == m0:
                                for i in range(i0, i1):
                                    orow[i] = c * frow[i + o]
                            else:
                                for i in range(i0, i1):
                                    orow[i] += c * frow[i + o]
                        else:
                            if k == m0:
                                for i in range(i0, i1):
                                    orow[i] = weights[wb + i] * frow[i + o]
                            else:
                                for i in range(i0, i1):
                                    orow[i] += weights[wb + i] * frow[i + o]
                for rr in range(er_ptr[e], er_ptr[e + 1]):
                    acc = edge_const[rr]
                    for p in range(edge_ptr[rr], edge_ptr[rr + 1]):
                        acc = acc + edge_w[p] * frow[edge_idx[p]]
                    orow[edge_rows[rr]] = acc


def _prange(n):  # replaced by numba.prange when compiled
    return range(n)


@lru_cache(maxsize=None)
def _compiled(name: str, parallel: bool) -> Any:
    import numba

    src = {"fused": _fused}[name]
    glb = dict(src.__globals__)
    glb["_prange"] = numba.prange
    func = type(src)(src.__code__, glb, src.__name__)
    # Distinct names keep the on-disk caches of the two variants apart.
    func.__qualname__ = f"{src.__name__}_{'parallel' if parallel else 'serial'}"
    return numba.njit(parallel=parallel, nogil=True, cache=True, fastmath=False, error_model="numpy")(func)


def serial_kernels() -> "_SerialContext":
    """Context manager: kernels in this thread run single-threaded (used inside dask tasks)."""
    return _SerialContext()


class _SerialContext:
    def __enter__(self) -> None:
        self._prev = getattr(_local, "serial", False)
        _local.serial = True

    def __exit__(self, *exc: object) -> None:
        _local.serial = self._prev


def _pack(shape: tuple[int, ...], terms: list[tuple[int, AxisStencil]]) -> tuple[tuple[int, int], tuple]:
    """View ``shape`` as (rows, length) and flatten the stencils into the fused kernel's tables.

    The row length is the product of the dims after the last differentiated axis, or that axis
    itself when it is the last one. Every other differentiated axis moves between rows with a
    fixed row stride.
    """
    last = max(a for a, _ in terms)
    after = int(np.prod(shape[last + 1 :], dtype=np.int64))
    if after == 1:
        length = shape[last]
        rows = int(np.prod(shape[:last], dtype=np.int64))
    else:
        length = after
        rows = int(np.prod(shape[: last + 1], dtype=np.int64))
    kind, stride, nax, lo, hi, uniform = [], [], [], [], [], []
    offsets, weights, row_maps, edge_rows, edge_ptrs, edge_idx, edge_w, edge_const = ([] for _ in range(8))
    off_ptr, w_ptr, rm_ptr, er_ptr = [0], [0], [0], [0]
    nnz = 0
    for axis, st in terms:
        is_last = after == 1 and axis == last
        kind.append(1 if is_last else 0)
        stride.append(1 if is_last else int(np.prod(shape[axis + 1 :], dtype=np.int64)) // length)
        nax.append(st.n)
        lo.append(st.lo)
        hi.append(st.hi)
        uniform.append(st.uniform)
        offsets.append(st.offsets)
        off_ptr.append(off_ptr[-1] + st.offsets.shape[0])
        weights.append(st.weights.ravel())  # (m, n) row-major, or (m,) when uniform
        w_ptr.append(w_ptr[-1] + weights[-1].shape[0])
        row_maps.append(st.row_map)
        rm_ptr.append(rm_ptr[-1] + st.n)
        edge_rows.append(st.edge_rows)
        edge_ptrs.append(st.edge_ptr[:-1] + nnz)
        er_ptr.append(er_ptr[-1] + st.edge_rows.shape[0])
        edge_idx.append(st.edge_idx)
        edge_w.append(st.edge_w)
        edge_const.append(st.edge_const)
        nnz += st.edge_idx.shape[0]
    edge_ptrs.append(np.array([nnz]))

    def cat(parts, dtype):
        return np.ascontiguousarray(np.concatenate(parts) if parts else np.zeros(0), dtype=dtype)

    i64, f64 = np.int64, np.float64
    tables = (
        cat([kind], i64), cat([stride], i64), cat([nax], i64), cat([lo], i64), cat([hi], i64),
        cat([off_ptr], i64), cat(offsets, i64), cat([w_ptr], i64), cat(weights, f64),
        cat([uniform], np.bool_), cat([rm_ptr], i64), cat(row_maps, i64), cat([er_ptr], i64),
        cat(edge_rows, i64), cat(edge_ptrs, i64), cat(edge_idx, i64), cat(edge_w, f64), cat(edge_const, f64),
    )
    return (rows, length), tables


def _kernel_input(values: np.ndarray) -> np.ndarray:
    """The array as the kernel reads it: C-contiguous, float16 widened, bool as uint8."""
    values = np.asarray(values)
    if values.dtype == np.float16:
        values = values.astype(np.float32)
    elif values.dtype == np.bool_:
        values = values.view(np.uint8)
    return np.ascontiguousarray(values)


def apply_stencils(
    values: np.ndarray,
    terms: list[tuple[int, AxisStencil]],
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Apply several one-axis stencils to ``values`` in one pass over memory.

    Parameters
    ----------
    values : ndarray
        Numeric array; integer and boolean input is read as is and computed in float64.
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
    shape = (len(terms),) + values.shape
    if out is None:
        out = np.empty(shape, dtype=dtype)
    elif out.shape != shape or out.dtype != dtype or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous {dtype} array of shape {shape}")
    terms = [(axis % values.ndim, st) for axis, st in terms]
    for axis, st in terms:
        if values.shape[axis] != st.n:
            raise ValueError(f"stencil is for {st.n} points but axis {axis} has {values.shape[axis]}")
    if values.size == 0 or not terms:
        return out
    (rows, length), tables = _pack(values.shape, terms)
    parallel = values.size >= PARALLEL_THRESHOLD and not getattr(_local, "serial", False)
    if os.environ.get("FIELDGRAD_SERIAL"):
        parallel = False
    _compiled("fused", parallel)(values.reshape(rows, length), out.reshape(len(terms), rows, length), *tables)
    return out


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
