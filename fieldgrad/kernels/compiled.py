"""The compiled kernel: its source (plain Python, compiled by numba on first use) and its compilation.

``_run`` applies the stencils of one call (packed into tables by
:func:`fieldgrad.kernels._pack`) to a range of tasks; a task is a piece of one row, for every
output. It is compiled by numba (``nogil``, no fastmath, cached on disk), once per input/output
dtype pair.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

__all__ = ["INT_TABLES", "FLOAT_TABLES", "kernel"]

# The kernel's tables, in the order it unpacks them (int64 arrays, then float64 arrays).
INT_TABLES = ("kind", "stride", "nax", "lo", "hi", "off_ptr", "offsets", "w_ptr", "uniform",
              "rm_ptr", "row_map", "er_ptr", "edge_rows", "edge_ptr", "edge_idx")
FLOAT_TABLES = ("weights", "edge_w", "edge_const")
_u = np.uint64  # an unsigned index: numba emits no negative-index wrap-around (which blocks SIMD)


def _run(f, out, itab, ftab, block, task0, task1):  # pragma: no cover - compiled
    """The kernel. ``itab``, ``ftab``: the tables of :data:`INT_TABLES` and :data:`FLOAT_TABLES`.

    Tasks ``task0 <= task < task1``: task ``t * nblk + b`` is columns ``[b*block, (b+1)*block)``
    of row ``t`` of every output. ``f`` is (rows, length), ``out`` (K, rows, length).

    Written without array views or calls in the per-task code: each would cost reference-count
    updates per task. The inner loops index the 2-D/3-D arrays directly and are vectorised.
    """
    length = f.shape[1]
    nblk = (length + block - 1) // block
    (kind, stride, nax, lo, hi, off_ptr, offsets, w_ptr, uniform, rm_ptr, row_map, er_ptr, edge_rows, edge_ptr,
     edge_idx) = itab
    weights, edge_w, edge_const = ftab
    nk = out.shape[0]
    for task in range(task0, task1):
        t = task // nblk
        q0 = (task - t * nblk) * block
        q1 = min(q0 + block, length)
        for e in range(nk):
            m0 = off_ptr[e]
            m = off_ptr[e + 1] - m0
            n = nax[e]
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
                            out[e, t, _u(q)] = c0 * f[r0, _u(q)] + c1 * f[r1, _u(q)]
                    elif m == 3:
                        c0, c1, c2 = weights[wb], weights[wb + ws], weights[wb + 2 * ws]
                        r0, r1, r2 = t + offsets[m0] * s, t + offsets[m0 + 1] * s, t + offsets[m0 + 2] * s
                        for q in range(q0, q1):
                            out[e, t, _u(q)] = c0 * f[r0, _u(q)] + c1 * f[r1, _u(q)] + c2 * f[r2, _u(q)]
                    else:
                        for k in range(m):
                            c = weights[wb + k * ws]
                            rk = t + offsets[m0 + k] * s
                            if k == 0:
                                for q in range(q0, q1):
                                    out[e, t, _u(q)] = c * f[rk, _u(q)]
                            else:
                                for q in range(q0, q1):
                                    out[e, t, _u(q)] += c * f[rk, _u(q)]
                else:  # a boundary row: a constant plus compressed terms
                    rr = er_ptr[e] + r
                    c = edge_const[rr]
                    for q in range(q0, q1):
                        out[e, t, _u(q)] = c
                    for p in range(edge_ptr[rr], edge_ptr[rr + 1]):
                        c = edge_w[p]
                        rk = t + (edge_idx[p] - i) * s
                        for q in range(q0, q1):
                            out[e, t, _u(q)] += c * f[rk, _u(q)]
            else:  # the contiguous axis: vectorised along the row
                a = max(lo[e], q0)
                b = min(hi[e], q1)
                wb = w_ptr[e]
                if uniform[e] and m == 2:
                    c0, c1 = weights[wb], weights[wb + 1]
                    o0, o1 = offsets[m0], offsets[m0 + 1]
                    for q in range(a, b):
                        out[e, t, _u(q)] = c0 * f[t, _u(q + o0)] + c1 * f[t, _u(q + o1)]
                elif uniform[e] and m == 3:
                    c0, c1, c2 = weights[wb], weights[wb + 1], weights[wb + 2]
                    o0, o1, o2 = offsets[m0], offsets[m0 + 1], offsets[m0 + 2]
                    for q in range(a, b):
                        out[e, t, _u(q)] = c0 * f[t, _u(q + o0)] + c1 * f[t, _u(q + o1)] + c2 * f[t, _u(q + o2)]
                elif m == 3:
                    o0, o1, o2 = offsets[m0], offsets[m0 + 1], offsets[m0 + 2]
                    for q in range(a, b):
                        out[e, t, _u(q)] = (weights[_u(wb + q)] * f[t, _u(q + o0)]
                                            + weights[_u(wb + n + q)] * f[t, _u(q + o1)]
                                            + weights[_u(wb + 2 * n + q)] * f[t, _u(q + o2)])
                else:
                    ws = 0 if uniform[e] else 1
                    for k in range(m):
                        ok = offsets[m0 + k]
                        wk = wb + (k if uniform[e] else k * n)
                        if k == 0:
                            for q in range(a, b):
                                out[e, t, _u(q)] = weights[_u(wk + ws * q)] * f[t, _u(q + ok)]
                        else:
                            for q in range(a, b):
                                out[e, t, _u(q)] += weights[_u(wk + ws * q)] * f[t, _u(q + ok)]
                for rr in range(er_ptr[e], er_ptr[e + 1]):
                    j = edge_rows[rr]
                    if q0 <= j < q1:
                        acc = edge_const[rr]
                        for p in range(edge_ptr[rr], edge_ptr[rr + 1]):
                            acc = acc + edge_w[p] * f[t, edge_idx[p]]
                        out[e, t, j] = acc


@lru_cache(maxsize=None)
def kernel() -> Any:
    """The compiled kernel (compiled once per input/output dtype pair; cached on disk)."""
    import numba

    return numba.njit(nogil=True, cache=True, fastmath=False, error_model="numpy", boundscheck=False)(_run)
