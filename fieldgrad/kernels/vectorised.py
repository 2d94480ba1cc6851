"""The kernel in numpy: the same arithmetic as :mod:`.compiled`, vectorised over whole slices.

Bit-identical to the compiled kernel (the tests compare them with ``assert_array_equal``): each
band term is one ``weight * shifted slice`` in float64, the terms are added left to right in
stencil order, the sum is divided once by the band's divisor and rounded once to the output's
dtype; each edge row is its constant plus its terms in order, divided by its divisor. numpy
rounds every ufunc result, and no two ufuncs are fused, so nothing differs from the compiled
loops (which numba compiles without fast-math: no fused multiply-add, no reassociation).

Used while the compiled kernel is not ready yet, and with ``jit="never"`` (see
:mod:`fieldgrad.kernels`); once compiled, the compiled kernel is faster at every size.
"""

from __future__ import annotations

import numpy as np

from ..stencil import AxisStencil

__all__ = ["apply"]


def apply(values: np.ndarray, terms: list[tuple[int, AxisStencil]], out: np.ndarray) -> None:
    """Write the stencils of ``terms`` applied to ``values`` (real, as the compiled kernel reads it)
    into ``out`` (``(len(terms), *values.shape)``, C-contiguous, real).

    Examples
    --------
    >>> from fieldgrad.coords import axis_coord
    >>> from fieldgrad.stencil import build_stencil
    >>> s = build_stencil(axis_coord(np.arange(5.0)), 1, 2, 1, "one-sided")
    >>> out = np.empty((1, 5))
    >>> apply(np.arange(5.0) ** 2, [(0, s)], out)
    >>> out[0]
    array([1., 2., 4., 6., 7.])
    """
    with np.errstate(all="ignore"):  # as the compiled kernel: inf - inf is NaN, silently
        _apply(values, terms, out)


def _apply(values: np.ndarray, terms: list[tuple[int, AxisStencil]], out: np.ndarray) -> None:
    shape = values.shape
    for k, (axis, st) in enumerate(terms):
        before = int(np.prod(shape[:axis], dtype=np.int64))
        after = int(np.prod(shape[axis + 1 :], dtype=np.int64))
        f = values.reshape(before, st.n, after)
        o = out[k].reshape(before, st.n, after)
        _band(f, o, st)
        _edges(f, o, st)


def _band(f: np.ndarray, o: np.ndarray, st: AxisStencil) -> None:
    lo, hi = st.lo, st.hi
    if hi <= lo:
        return
    acc = tmp = None
    for k, off in enumerate(st.offsets.tolist()):
        # a float64 weight (numpy scalar or array): the product is float64 whatever f's dtype
        w = st.weights[k, 0] if st.uniform else st.weights[k, lo:hi].reshape(1, -1, 1)
        part = f[:, lo + off : hi + off, :]
        if acc is None:
            acc = np.multiply(w, part, dtype=np.float64)
        else:
            tmp = np.multiply(w, part, out=tmp, dtype=np.float64)
            np.add(acc, tmp, out=acc)
    assert acc is not None  # a band (hi > lo) has at least one offset
    np.divide(acc, st.band_div, out=o[:, lo:hi, :], casting="same_kind")


def _edges(f: np.ndarray, o: np.ndarray, st: AxisStencil) -> None:
    if st.edge_rows.shape[0] == 0:
        return
    acc = np.empty((f.shape[0], f.shape[2]), dtype=np.float64)
    tmp = np.empty_like(acc)
    ptr = st.edge_ptr.tolist()
    edge_div = st.edge_div
    assert edge_div is not None  # set by AxisStencil.__post_init__
    for r, row in enumerate(st.edge_rows.tolist()):
        acc.fill(st.edge_const[r])
        for p in range(ptr[r], ptr[r + 1]):
            np.multiply(st.edge_w[p], f[:, st.edge_idx[p], :], out=tmp, dtype=np.float64)
            np.add(acc, tmp, out=acc)
        np.divide(acc, edge_div[r], out=o[:, row, :], casting="same_kind")
