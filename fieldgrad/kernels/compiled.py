"""The compiled kernel: its source (plain Python, compiled by numba on first use) and its compilation.

``_run`` applies the stencils of one call (packed into tables by
:func:`fieldgrad.kernels._pack`) to a range of tasks; a task is a piece of one row, for every
output. It is compiled by numba (``nogil``, no fastmath, cached on disk), once per input dtype:
float32 and float64, read-only (:func:`read_only`). Other fields are converted before they reach
it (integers and booleans to float64, float16 to float32), and complex fields are done as their
real and imaginary parts.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import numpy as np

__all__ = [
    "FLOAT_TABLES",
    "INT_TABLES",
    "compile_in_background",
    "compile_now",
    "kernel",
    "read_only",
    "ready",
    "ready_kernel",
]

# The kernel's tables, in the order it unpacks them (int64 arrays, then float64 arrays).
INT_TABLES = (
    "kind",
    "stride",
    "nax",
    "lo",
    "hi",
    "off_ptr",
    "offsets",
    "w_ptr",
    "uniform",
    "rm_ptr",
    "row_map",
    "er_ptr",
    "edge_rows",
    "edge_ptr",
    "edge_idx",
)
FLOAT_TABLES = ("weights", "edge_w", "edge_const", "band_div", "edge_div")
_u = np.uint64  # an unsigned index: numba emits no negative-index wrap-around (which blocks SIMD)


def _run(  # pragma: no cover - compiled
    f: np.ndarray,
    out: np.ndarray,
    ints: np.ndarray,
    int_ptr: np.ndarray,
    floats: np.ndarray,
    float_ptr: np.ndarray,
    block: int,
    task0: int,
    task1: int,
) -> None:
    """The kernel. The tables of :data:`INT_TABLES` are ``ints[int_ptr[k]:int_ptr[k+1]]`` (one int64
    array), those of :data:`FLOAT_TABLES` ``floats[float_ptr[k]:float_ptr[k+1]]`` (one float64 array):
    two arrays cost numba's dispatcher far less than tuples of twenty (a few µs of every call).

    Tasks ``task0 <= task < task1``: task ``t * nblk + b`` is columns ``[b*block, (b+1)*block)``
    of row ``t`` of every output. ``f`` is (rows, length), real; ``out`` (K, rows, length).

    The arithmetic of :mod:`fieldgrad.stencil`: products summed in float64 in stencil order,
    then one division (by the band's or the edge row's divisor), then one rounding to ``out``'s
    dtype. Written without array views or calls in the per-task code: each would cost
    reference-count updates per task. The inner loops index the 2-D/3-D arrays directly and are
    vectorised.
    """
    length = f.shape[1]
    nblk = (length + block - 1) // block
    kind = ints[int_ptr[0] : int_ptr[1]]
    stride = ints[int_ptr[1] : int_ptr[2]]
    nax = ints[int_ptr[2] : int_ptr[3]]
    lo = ints[int_ptr[3] : int_ptr[4]]
    hi = ints[int_ptr[4] : int_ptr[5]]
    off_ptr = ints[int_ptr[5] : int_ptr[6]]
    offsets = ints[int_ptr[6] : int_ptr[7]]
    w_ptr = ints[int_ptr[7] : int_ptr[8]]
    uniform = ints[int_ptr[8] : int_ptr[9]]
    rm_ptr = ints[int_ptr[9] : int_ptr[10]]
    row_map = ints[int_ptr[10] : int_ptr[11]]
    er_ptr = ints[int_ptr[11] : int_ptr[12]]
    edge_rows = ints[int_ptr[12] : int_ptr[13]]
    edge_ptr = ints[int_ptr[13] : int_ptr[14]]
    edge_idx = ints[int_ptr[14] : int_ptr[15]]
    weights = floats[float_ptr[0] : float_ptr[1]]
    edge_w = floats[float_ptr[1] : float_ptr[2]]
    edge_const = floats[float_ptr[2] : float_ptr[3]]
    band_div = floats[float_ptr[3] : float_ptr[4]]
    edge_div = floats[float_ptr[4] : float_ptr[5]]
    acc = np.empty(block, dtype=np.float64)  # sums of more than three terms
    nk = out.shape[0]
    for task in range(task0, task1):
        t = task // nblk
        q0 = (task - t * nblk) * block
        q1 = min(q0 + block, length)
        for e in range(nk):
            m0 = off_ptr[e]
            m = off_ptr[e + 1] - m0
            n = nax[e]
            d = band_div[e]
            if kind[e] == 0:  # an axis across rows: output row t from rows t + offset * stride
                s = stride[e]
                i = (t // s) % n
                r = row_map[rm_ptr[e] + i]
                if r < 0:  # the band
                    wb = w_ptr[e] + (0 if uniform[e] else i)
                    ws = 1 if uniform[e] else n
                    if m == 2:
                        c0, c1 = weights[wb], weights[wb + ws]
                        r0, r1 = t + offsets[m0] * s, t + offsets[m0 + 1] * s
                        for q in range(q0, q1):
                            out[e, t, _u(q)] = (c0 * f[r0, _u(q)] + c1 * f[r1, _u(q)]) / d
                    elif m == 3:
                        c0, c1, c2 = weights[wb], weights[wb + ws], weights[wb + 2 * ws]
                        r0, r1, r2 = t + offsets[m0] * s, t + offsets[m0 + 1] * s, t + offsets[m0 + 2] * s
                        for q in range(q0, q1):
                            out[e, t, _u(q)] = (c0 * f[r0, _u(q)] + c1 * f[r1, _u(q)] + c2 * f[r2, _u(q)]) / d
                    else:
                        for k in range(m):
                            c = weights[wb + k * ws]
                            rk = t + offsets[m0 + k] * s
                            if k == 0:
                                for q in range(q0, q1):
                                    acc[_u(q - q0)] = c * f[rk, _u(q)]
                            else:
                                for q in range(q0, q1):
                                    acc[_u(q - q0)] = acc[_u(q - q0)] + c * f[rk, _u(q)]
                        for q in range(q0, q1):
                            out[e, t, _u(q)] = acc[_u(q - q0)] / d
                else:  # a boundary row: a constant plus compressed terms
                    rr = er_ptr[e] + r
                    c = edge_const[rr]
                    for q in range(q0, q1):
                        acc[_u(q - q0)] = c
                    for p in range(edge_ptr[rr], edge_ptr[rr + 1]):
                        c = edge_w[p]
                        rk = t + (edge_idx[p] - i) * s
                        for q in range(q0, q1):
                            acc[_u(q - q0)] = acc[_u(q - q0)] + c * f[rk, _u(q)]
                    dr = edge_div[rr]
                    for q in range(q0, q1):
                        out[e, t, _u(q)] = acc[_u(q - q0)] / dr
            else:  # the contiguous axis: vectorised along the row
                a = max(lo[e], q0)
                b = min(hi[e], q1)
                wb = w_ptr[e]
                if uniform[e] and m == 2:
                    c0, c1 = weights[wb], weights[wb + 1]
                    o0, o1 = offsets[m0], offsets[m0 + 1]
                    for q in range(a, b):
                        out[e, t, _u(q)] = (c0 * f[t, _u(q + o0)] + c1 * f[t, _u(q + o1)]) / d
                elif uniform[e] and m == 3:
                    c0, c1, c2 = weights[wb], weights[wb + 1], weights[wb + 2]
                    o0, o1, o2 = offsets[m0], offsets[m0 + 1], offsets[m0 + 2]
                    for q in range(a, b):
                        out[e, t, _u(q)] = (c0 * f[t, _u(q + o0)] + c1 * f[t, _u(q + o1)] + c2 * f[t, _u(q + o2)]) / d
                elif m == 3:
                    o0, o1, o2 = offsets[m0], offsets[m0 + 1], offsets[m0 + 2]
                    for q in range(a, b):
                        out[e, t, _u(q)] = (
                            weights[_u(wb + q)] * f[t, _u(q + o0)]
                            + weights[_u(wb + n + q)] * f[t, _u(q + o1)]
                            + weights[_u(wb + 2 * n + q)] * f[t, _u(q + o2)]
                        ) / d
                else:
                    ws = 0 if uniform[e] else 1
                    for k in range(m):
                        ok = offsets[m0 + k]
                        wk = wb + (k if uniform[e] else k * n)
                        if k == 0:
                            for q in range(a, b):
                                acc[_u(q - a)] = weights[_u(wk + ws * q)] * f[t, _u(q + ok)]
                        else:
                            for q in range(a, b):
                                acc[_u(q - a)] = acc[_u(q - a)] + weights[_u(wk + ws * q)] * f[t, _u(q + ok)]
                    for q in range(a, b):
                        out[e, t, _u(q)] = acc[_u(q - a)] / d
                for rr in range(er_ptr[e], er_ptr[e + 1]):
                    j = edge_rows[rr]
                    if q0 <= j < q1:
                        sm = edge_const[rr]
                        for p in range(edge_ptr[rr], edge_ptr[rr + 1]):
                            sm = sm + edge_w[p] * f[t, edge_idx[p]]
                        out[e, t, j] = sm / edge_div[rr]


# Compilation state. A dtype's kernel is "ready" once it has been compiled (or loaded from
# numba's disk cache) in this process; until then callers in "auto" mode use the numpy kernel
# and one background thread compiles it.
_lock = threading.Lock()  # guards the sets below and the creation of the dispatcher
_dispatcher: Any = None
_ready: set[np.dtype] = set()  # input dtypes whose kernel is compiled in this process
_pending: set[np.dtype] = set()  # input dtypes being compiled by a background thread
_failed: dict[np.dtype, BaseException] = {}  # compilations that raised: not retried
_no_background = False  # a fork interrupted a compilation: no more in this process (see _after_fork)


def kernel() -> Any:
    """The compiled kernel (numba's dispatcher; imports numba). Each signature compiles on first use."""
    global _dispatcher
    if _dispatcher is None:
        import numba  # outside the lock: importing takes long, and two imports are one

        with _lock:
            if _dispatcher is None:
                _dispatcher = numba.njit(
                    nogil=True, cache=True, fastmath=False, error_model="numpy", boundscheck=False
                )(_run)
    return _dispatcher


def read_only(f: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The kernel's input, C-contiguous ``f`` viewed as ``shape``, read-only: numba types read-only
    and writable arrays apart, so the kernel would otherwise be compiled twice per dtype, and a
    read-only field (from xarray, zarr, ``np.broadcast_to``) would compile, and wait, in a call
    where the dtype's kernel is ready."""
    view = f.reshape(shape)  # a new array object (a view), whose flags are its own
    view.setflags(write=False)
    return view


def ready(dtype: np.dtype) -> bool:
    """Whether the kernel for input ``dtype`` is compiled in this process (never waits)."""
    return dtype in _ready


def ready_kernel(dtype: np.dtype) -> Any:
    """The compiled kernel if it is compiled for input ``dtype`` in this process, else None (never waits)."""
    return _dispatcher if dtype in _ready else None


def compile_now(dtype: np.dtype, out_dtype: np.dtype) -> Any:
    """Compile (or load from the disk cache) the kernel for ``dtype`` in this thread; return it."""
    k = kernel()
    _warm(k, dtype, out_dtype)
    with _lock:
        _ready.add(dtype)
    return k


def compile_in_background(dtype: np.dtype, out_dtype: np.dtype) -> None:
    """Start compiling the kernel for ``dtype`` in a daemon thread, unless it is ready, under way,
    failed before, or a fork interrupted a compilation in this process."""
    key = dtype
    with _lock:
        if _no_background or key in _ready or key in _pending or key in _failed:
            return
        _pending.add(key)
    threading.Thread(target=_background, args=(dtype, out_dtype), name="fieldgrad-jit", daemon=True).start()


def _background(dtype: np.dtype, out_dtype: np.dtype) -> None:
    try:
        compile_now(dtype, out_dtype)
    except BaseException as exc:  # noqa: BLE001  # pragma: no cover - numba missing or broken: numpy kernel stays
        with _lock:
            _failed[dtype] = exc
    finally:
        with _lock:
            _pending.discard(dtype)


def _warm(k: Any, dtype: np.dtype, out_dtype: np.dtype) -> None:
    """Call ``k`` on an empty range of tasks with the argument types of a real call: it compiles the
    signature (or loads it from the disk cache) and computes nothing."""
    ints, floats = np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.float64)
    int_ptr, float_ptr = np.zeros(len(INT_TABLES) + 1, np.int64), np.zeros(len(FLOAT_TABLES) + 1, np.int64)
    f = read_only(np.zeros((1, 1), dtype=dtype), (1, 1))
    k(f, np.zeros((1, 1, 1), dtype=out_dtype), ints, int_ptr, floats, float_ptr, 1, 0, 0)


def _after_fork() -> None:  # pragma: no cover - runs in a forked child
    """In a forked child: a compilation under way in the parent has no thread here and may have
    left numba's compiler lock held. Compiled kernels stay usable; nothing more is compiled in
    the background (the numpy kernel serves the rest)."""
    global _lock, _no_background
    _lock = threading.Lock()
    if _pending:
        _no_background = True
        _pending.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
