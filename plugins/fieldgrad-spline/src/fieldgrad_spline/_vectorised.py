"""The smoothing-spline kernels of :mod:`._compiled` in numpy: no compilation, the same results.

Each function here is the compiled kernel of the same name with its loop over lanes replaced by
numpy operations on whole rows of lanes (every line of a chunk at once). Every lane goes through
the same floating-point operations in the same order as in the compiled kernels (which numba
compiles without fastmath: no reassociation, no fused multiply-adds), so the results are
bit-identical (tested in ``tests/test_spline.py``). Details that keep them so:

* sums along the axis are accumulated row by row in the kernels' order, never with
  :func:`numpy.sum` (pairwise summation);
* the penalties ``10 ** x`` are computed by Python's float power, which calls the C library's
  ``pow`` as the compiled kernels do (numpy's :func:`numpy.power` may use SIMD code that differs
  in the last bit);
* accumulators start at 0.0 as in the kernels (so even the sign of a zero result agrees).

The recurrences along the axis stay Python loops (O(n) small numpy calls per stage, some 10^5 per
GCV fit of 200 points), so this path is far slower than the compiled kernels when warm (~0.2 s
against ~10 ms for 200 lines of 200 points, 1.4 s against ~0.1-0.2 s for 4000), but it needs no
compilation. It serves calls while the compiled kernels compile (:mod:`._smoothing`).
"""

from __future__ import annotations

import numpy as np

from ._smoothing import GOLDEN, PenaltySystem

__all__ = ["CHUNK", "run"]

CHUNK = 2048  # lines per chunk: the work arrays are ~10 (n, CHUNK) float64 arrays


def _pow10(x: np.ndarray) -> np.ndarray:
    """``10.0 ** x`` elementwise by the C library's ``pow`` (the compiled kernels' ``10.0 ** x``)."""
    return np.array([10.0**v for v in x.tolist()], dtype=np.float64)


def run(
    y: np.ndarray,
    system: PenaltySystem,
    loggrid: np.ndarray,
    n_golden: int,
    fixed_lam: float,
    order: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The fit (or derivative) of every line of ``y`` and the penalties ``lam'``: :func:`._compiled.run` in numpy."""
    n, nlines = y.shape
    out = np.empty((n, nlines))
    lam = np.empty(nlines)
    with np.errstate(all="ignore"):  # the compiled kernels' error model: inf and NaN, no warnings
        shared = _shared(system.gb, system.ddb, system.m, loggrid) if fixed_lam < 0.0 else None
        for l0 in range(0, nlines, CHUNK):
            l1 = min(l0 + CHUNK, nlines)
            out[:, l0:l1], lam[l0:l1] = _lines(y[:, l0:l1], system, loggrid, shared, n_golden, fixed_lam, order)
    return out, lam


def _shared(
    gb: np.ndarray, ddb: np.ndarray, m: int, loggrid: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Factors, positive-definiteness and trace of ``A`` at every grid penalty: the grid points as lanes."""
    ng = loggrid.shape[0]
    nn = gb.shape[0]
    lam = _pow10(loggrid)
    lr = np.zeros((max(m, 1), nn, ng))
    d = np.empty((nn, ng))
    dinv = np.empty((nn, ng))
    _factor(gb, ddb, m, lam, lr, d, dinv)
    ok = np.all(d > 0.0, axis=0)  # False for NaN too
    tr = _trace(gb, m, lr, dinv)
    return np.ascontiguousarray(lr[:m].transpose(2, 0, 1)), np.ascontiguousarray(dinv.T), ok, tr


def _factor(
    gb: np.ndarray, ddb: np.ndarray, m: int, lam: np.ndarray, lr: np.ndarray, d: np.ndarray, dinv: np.ndarray
) -> None:
    """LDL^T factors of ``A = G + lam DD^T`` per lane (``lr``, ``d`` and ``1 / d``)."""
    nn = gb.shape[0]
    for i in range(nn):
        for k in range(m, 0, -1):
            j = i - k
            if j < 0:
                continue
            gk = gb[j, k] if k < m else 0.0
            tmp = gk + lam * ddb[j, k]
            for p in range(max(0, i - m), j):
                tmp -= lr[i - p - 1, i] * d[p] * lr[j - p - 1, j]
            np.multiply(tmp, dinv[j], out=lr[k - 1, i])
        tmp = gb[i, 0] + lam * ddb[i, 0]
        for p in range(max(0, i - m), i):
            lip = lr[i - p - 1, i]
            tmp -= lip * lip * d[p]
        d[i] = tmp
        np.divide(1.0, tmp, out=dinv[i])


def _solve(dy: np.ndarray, m: int, lr: np.ndarray, dinv: np.ndarray) -> np.ndarray:
    """``A^-1 dy`` with per-lane factors (``lr`` (m, nn, lanes), ``dinv`` (nn, lanes)), or with one
    factorisation for all lanes (``lr`` (m, nn), ``dinv`` (nn, 1)): the products broadcast alike."""
    nn = dy.shape[0]
    z = np.empty_like(dy)
    for i in range(nn):
        zi = z[i]
        zi[...] = dy[i]
        for k in range(1, min(m, i) + 1):
            zi -= lr[k - 1, i] * z[i - k]
    z *= dinv
    for i in range(nn - 1, -1, -1):
        zi = z[i]
        for k in range(1, min(m, nn - 1 - i) + 1):
            zi -= lr[k - 1, i + k] * z[i + k]
    return z


def _dtz(z: np.ndarray, dc: np.ndarray, m: int, n: int) -> np.ndarray:
    """``D^T z`` (n, lanes), each row summed over ``k`` in increasing order from 0.0, as the kernels do."""
    nn = z.shape[0]
    acc = np.zeros((n, z.shape[1]))
    for k in range(m + 1):
        acc[k : k + nn] += dc[:, k, None] * z
    return acc


def _rss(z: np.ndarray, dc: np.ndarray, m: int, lam: np.ndarray | float, n: int) -> np.ndarray:
    """``sum_j (lam (D^T z)_j)^2`` per lane, summed row after row."""
    r = lam * _dtz(z, dc, m, n)
    r *= r
    out = np.zeros(z.shape[1])
    for j in range(n):
        out += r[j]
    return out


def _trace(gb: np.ndarray, m: int, lr: np.ndarray, dinv: np.ndarray) -> np.ndarray:
    """``tr(A^-1 G)`` per lane from the central bands of ``A^-1`` (Hutchinson & de Hoog)."""
    nn = gb.shape[0]
    mp = m + 1
    lanes = dinv.shape[1]
    zr = np.zeros((mp, mp, lanes))
    out = np.zeros(lanes)
    for i in range(nn - 1, -1, -1):
        ri = i % mp
        for jb in range(m, 0, -1):
            j = i + jb
            if j >= nn:
                zr[ri, jb] = 0.0
                continue
            tmp = np.zeros(lanes)
            for kk in range(1, min(m, nn - 1 - i) + 1):
                k = i + kk
                src = zr[k % mp, j - k] if k <= j else zr[j % mp, k - j]
                tmp -= lr[kk - 1, k] * src
            zr[ri, jb] = tmp
        tmp = dinv[i].copy()
        for kk in range(1, min(m, nn - 1 - i) + 1):
            tmp -= lr[kk - 1, i + kk] * zr[ri, kk]
        zr[ri, 0] = tmp
        out += gb[i, 0] * tmp
        for kk in range(1, m):
            out += (2.0 * gb[i, kk]) * zr[ri, kk]
    return out


def _gcv(n: int, m: int, rss: np.ndarray, tr: np.ndarray, d: np.ndarray) -> np.ndarray:
    dof = n - (m + tr)
    ok = (dof > 1e-9 * n) & np.all(d > 0.0, axis=0)  # not positive definite in floating point (or NaN)
    return np.where(ok, n * rss / (dof * dof), np.inf)


def _qr_solve(y: np.ndarray, dc: np.ndarray, lgt: np.ndarray, m: int, slam: np.ndarray) -> np.ndarray:
    """``argmin |C g - [0; y / sqrt(lam)]|`` by Givens rotations (``slam`` = ``sqrt(lam')``), as the kernel."""
    n, lanes = y.shape
    nn = n - m
    mp = m + 1
    rb = np.zeros((mp, nn, lanes))
    qtb = np.zeros((nn, lanes))
    h = np.empty((mp, lanes))
    filled = np.zeros(nn, dtype=np.bool_)
    for c in range(nn):
        nrows = (m + 2) if c == 0 else 2
        for r in range(nrows):
            h[...] = 0.0
            if r < nrows - 1:  # a row of sqrt(lam) D^T
                j = r if c == 0 else c + m
                for i in range(max(0, j - m), min(j, nn - 1) + 1):
                    np.multiply(dc[i, j - i], slam, out=h[i - c])
                hb = y[j] / slam
            else:  # row c of L_G^T
                for k in range(min(m, nn - c)):
                    h[k] = lgt[c, k]
                hb = np.zeros(lanes)
            for p in range(mp):
                col = c + p
                if col >= nn:
                    break
                if not filled[col]:  # deposit the rest of the row
                    rb[: mp - p, col] = h[p:mp]
                    qtb[col] = hb
                    filled[col] = True
                    break
                a0 = rb[0, col]
                a1 = h[p]
                rho = np.sqrt(a0 * a0 + a1 * a1)
                pos = rho > 0.0
                inv = np.where(pos, 1.0 / rho, 0.0)
                cs = np.where(pos, a0 * inv, 1.0)
                sn = a1 * inv
                rb[0, col] = rho
                if mp - p > 1:
                    x0 = rb[1 : mp - p, col].copy()
                    x1 = h[p + 1 : mp].copy()
                    rb[1 : mp - p, col] = cs * x0 + sn * x1
                    h[p + 1 : mp] = cs * x1 - sn * x0
                x0 = qtb[col].copy()
                qtb[col] = cs * x0 + sn * hb
                hb = cs * hb - sn * x0
    z = np.empty((nn, lanes))
    for i in range(nn - 1, -1, -1):
        zi = qtb[i].copy()
        for k in range(1, min(m, nn - 1 - i) + 1):
            zi -= rb[k, i] * z[i + k]
        z[i] = zi / rb[0, i]
    return z


def _output(
    y: np.ndarray, z: np.ndarray, dc: np.ndarray, u: np.ndarray, m: int, lam: np.ndarray, order: int
) -> np.ndarray:
    """The fit ``f = y - lam D^T z`` or its derivative of ``order`` at the nodes (``m <= 2``), as the kernel."""
    n = y.shape[0]
    fb = y - lam * _dtz(z, dc, m, n)
    if order == 0 or m > 2:
        return fb
    j = np.arange(n)
    if m == 1:  # slope of the interval to the right (to the left at the last node)
        a = np.minimum(j, n - 2)
        inv = 1.0 / (u[a + 1] - u[a])
        return (fb[a + 1] - fb[a]) * inv[:, None]
    out = np.empty_like(fb)
    if order == 2:
        c = 4.0 / (u[2:] - u[:-2])
        out[0] = 0.0
        out[-1] = 0.0
        out[1:-1] = c[:, None] * z[: n - 2]
        return out
    if order == 3:
        a = np.minimum(j, n - 2)
    else:
        a = np.where(u[np.maximum(j, 1)] - u[np.maximum(j - 1, 0)] > u[np.minimum(j + 1, n - 1)] - u[j], j - 1, j)
        a[0] = 0
        a[-1] = n - 2
    h = (u[a + 1] - u[a])[:, None]
    ca = np.where(a > 0, 4.0 / (u[a + 1] - u[np.maximum(a - 1, 0)]), 0.0)[:, None]
    cb = np.where(a + 1 < n - 1, 4.0 / (u[np.minimum(a + 2, n - 1)] - u[a]), 0.0)[:, None]
    za = z[np.where(a > 0, a - 1, 0)]
    zb = z[np.where(a + 1 < n - 1, a, 0)]
    f0 = fb[a]
    f1 = fb[a + 1]
    if order == 3:
        return (cb * zb - ca * za) / h
    left = (f1 - f0) / h - h * ((2.0 * ca) * za + cb * zb) / 6.0  # f'(u_a), node j = a
    right = (f1 - f0) / h + h * (ca * za + (2.0 * cb) * zb) / 6.0  # f'(u_{a+1}), node j = a + 1
    return np.where((a == j)[:, None], left, right)


def _lines(
    y: np.ndarray,
    system: PenaltySystem,
    loggrid: np.ndarray,
    shared: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None,
    n_golden: int,
    fixed_lam: float,
    order: int,
) -> tuple[np.ndarray, np.ndarray]:
    """``_block`` of :mod:`._compiled` for all the lines of ``y`` at once."""
    u, dc, gb, ddb, lgt, m = system.u, system.dc, system.gb, system.ddb, system.lgt, system.m
    n, lanes = y.shape
    nn = n - m
    dy = np.zeros((nn, lanes))
    for k in range(m + 1):
        dy += dc[:, k, None] * y[k : k + nn]
    if fixed_lam >= 0.0:
        lam = np.full(lanes, fixed_lam)
    else:
        assert shared is not None
        slr, sdinv, sok, s_tr = shared
        ng = loggrid.shape[0]
        best_f = np.full(lanes, np.inf)
        best_x = np.full(lanes, loggrid[0])
        kbest = np.zeros(lanes, dtype=np.int64)
        # 1. the shared grid
        for g in range(ng):
            if not sok[g]:
                continue
            lg = 10.0 ** float(loggrid[g])
            z = _solve(dy, m, slr[g], sdinv[g][:, None])
            rss = _rss(z, dc, m, lg, n)
            dof = n - (m + float(s_tr[g]))
            v = n * rss / (dof * dof) if dof > 1e-9 * n else np.full(lanes, np.inf)
            better = v < best_f
            best_f = np.where(better, v, best_f)
            best_x = np.where(better, loggrid[g], best_x)
            kbest = np.where(better, g, kbest)
        # 2. golden-section search per line between the neighbours of its best grid point
        if n_golden > 0 and ng > 1:
            lr = np.zeros((max(m, 1), nn, lanes))
            d = np.empty((nn, lanes))
            dinv = np.empty((nn, lanes))
            a = loggrid[np.maximum(kbest - 1, 0)]
            c = loggrid[np.minimum(kbest + 1, ng - 1)]
            x1 = a + GOLDEN * (c - a)
            x2 = c - GOLDEN * (c - a)
            f1 = np.full(lanes, np.nan)
            f2 = np.full(lanes, np.nan)
            for it in range(n_golden):
                if it == 0:
                    xn, side1 = x1, np.ones(lanes, dtype=np.bool_)
                elif it == 1:
                    xn, side1 = x2, np.zeros(lanes, dtype=np.bool_)
                else:
                    sel = f1 < f2  # the minimum is in [a, x2] (else in [x1, c]; NaN: there too)
                    c_l = x2  # when sel
                    x1_l = a + GOLDEN * (c_l - a)
                    a_r = x1  # otherwise
                    x2_r = c - GOLDEN * (c - a_r)
                    a, c = np.where(sel, a, a_r), np.where(sel, c_l, c)
                    x1, x2 = np.where(sel, x1_l, x2), np.where(sel, x1, x2_r)
                    f1, f2 = np.where(sel, f1, f2), np.where(sel, f1, f2)
                    xn, side1 = np.where(sel, x1, x2), sel
                lam = _pow10(xn)
                _factor(gb, ddb, m, lam, lr, d, dinv)
                z = _solve(dy, m, lr, dinv)
                rss = _rss(z, dc, m, lam, n)
                tr = _trace(gb, m, lr, dinv)
                gcv = _gcv(n, m, rss, tr, d)
                f1 = np.where(side1, gcv, f1)
                f2 = np.where(side1, f2, gcv)
                better = gcv < best_f
                best_f = np.where(better, gcv, best_f)
                best_x = np.where(better, xn, best_x)
        lam = _pow10(best_x)
    # 3. the fit at the chosen penalty
    if fixed_lam == 0.0:  # no penalty: f = y, g = G^-1 D y
        lr = np.zeros((max(m, 1), nn, lanes))
        d = np.empty((nn, lanes))
        dinv = np.empty((nn, lanes))
        _factor(gb, ddb, m, lam, lr, d, dinv)
        z = _solve(dy, m, lr, dinv)
    else:
        z = _qr_solve(y, dc, lgt, m, np.sqrt(lam))
    return _output(y, z, dc, u, m, lam, order), lam
