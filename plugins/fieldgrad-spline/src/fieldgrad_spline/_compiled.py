"""The compiled (numba) smoothing-spline kernels: imported only when they are to run or be compiled.

The algorithm and the array layout are described in :mod:`._smoothing`; :mod:`._vectorised`
is the same arithmetic in numpy. Importing this module imports numba (~0.7 s) and defines the
kernels; each compiles on its first call (or is loaded from numba's disk cache):
:func:`warm` does that for the one signature :func:`run` uses.
"""

from __future__ import annotations

import math
from typing import Literal, TypedDict

import numba
import numpy as np

from ._smoothing import BLOCK, GOLDEN, PenaltySystem

__all__ = ["run", "warm"]


class _JitOptions(TypedDict):
    cache: bool
    nogil: bool
    boundscheck: bool
    error_model: Literal["python", "numpy"]


_JIT: _JitOptions = {"cache": True, "nogil": True, "boundscheck": False, "error_model": "numpy"}

# Lane arrays are (rows, BLOCK) with the lines of a block along the last axis; `nl` lanes are used.
# lr[k - 1, i, b] = L[i, i - k] of the LDL^T factors of A (one factorisation per lane).

# Lane arrays are (rows, BLOCK) with the lines of a block along the last axis; `nl` lanes are used.
# lr[k - 1, i, b] = L[i, i - k] of the LDL^T factors of A (one factorisation per lane).


@numba.njit(**_JIT)
def _factor(gb, ddb, m, lam, nl, lr, d, dinv, tmp):  # pragma: no cover - compiled
    nn = gb.shape[0]
    for i in range(nn):
        for k in range(m, 0, -1):
            j = i - k
            if j < 0:
                continue
            gk = gb[j, k] if k < m else 0.0
            ddk = ddb[j, k]
            for b in range(nl):
                tmp[b] = gk + lam[b] * ddk
            for p in range(max(0, i - m), j):
                lip = lr[i - p - 1, i]
                ljp = lr[j - p - 1, j]
                dp = d[p]
                for b in range(nl):
                    tmp[b] -= lip[b] * dp[b] * ljp[b]
            out = lr[k - 1, i]
            dj = dinv[j]
            for b in range(nl):
                out[b] = tmp[b] * dj[b]
        g0 = gb[i, 0]
        dd0 = ddb[i, 0]
        for b in range(nl):
            tmp[b] = g0 + lam[b] * dd0
        for p in range(max(0, i - m), i):
            lip = lr[i - p - 1, i]
            dp = d[p]
            for b in range(nl):
                tmp[b] -= lip[b] * lip[b] * dp[b]
        di = d[i]
        dii = dinv[i]
        for b in range(nl):
            di[b] = tmp[b]
            dii[b] = 1.0 / tmp[b]


@numba.njit(**_JIT)
def _solve(dy, m, nl, lr, dinv, z):  # pragma: no cover - compiled
    """z = A^-1 dy with per-lane factors."""
    nn = dy.shape[0]
    for i in range(nn):
        zi = z[i]
        src = dy[i]
        for b in range(nl):
            zi[b] = src[b]
        for k in range(1, min(m, i) + 1):
            lk = lr[k - 1, i]
            zk = z[i - k]
            for b in range(nl):
                zi[b] -= lk[b] * zk[b]
    for i in range(nn):
        zi = z[i]
        di = dinv[i]
        for b in range(nl):
            zi[b] *= di[b]
    for i in range(nn - 1, -1, -1):
        zi = z[i]
        for k in range(1, min(m, nn - 1 - i) + 1):
            lk = lr[k - 1, i + k]
            zk = z[i + k]
            for b in range(nl):
                zi[b] -= lk[b] * zk[b]


@numba.njit(**_JIT)
def _solve_shared(dy, m, nl, lr, dinv, z):  # pragma: no cover - compiled
    """z = A^-1 dy with one factorisation for all lanes (lr (m, nn), dinv (nn,))."""
    nn = dy.shape[0]
    for i in range(nn):
        zi = z[i]
        src = dy[i]
        for b in range(nl):
            zi[b] = src[b]
        for k in range(1, min(m, i) + 1):
            c = lr[k - 1, i]
            zk = z[i - k]
            for b in range(nl):
                zi[b] -= c * zk[b]
    for i in range(nn):
        c = dinv[i]
        zi = z[i]
        for b in range(nl):
            zi[b] *= c
    for i in range(nn - 1, -1, -1):
        zi = z[i]
        for k in range(1, min(m, nn - 1 - i) + 1):
            c = lr[k - 1, i + k]
            zk = z[i + k]
            for b in range(nl):
                zi[b] -= c * zk[b]


@numba.njit(**_JIT)
def _rss(z, dc, m, lam, nl, n, acc, out):  # pragma: no cover - compiled
    """out[b] = sum_j (lam[b] (D^T z)_j)^2."""
    nn = z.shape[0]
    for b in range(nl):
        out[b] = 0.0
    for j in range(n):
        for b in range(nl):
            acc[b] = 0.0
        for k in range(max(0, j - nn + 1), min(m, j) + 1):
            c = dc[j - k, k]
            zk = z[j - k]
            for b in range(nl):
                acc[b] += c * zk[b]
        for b in range(nl):
            r = lam[b] * acc[b]
            out[b] += r * r


@numba.njit(**_JIT)
def _trace(gb, m, nl, lr, dinv, zr, tmp, out):  # pragma: no cover - compiled
    """out[b] = tr(A^-1 G) from the central bands of A^-1 (Hutchinson & de Hoog), per lane."""
    nn = gb.shape[0]
    mp = m + 1
    for b in range(nl):
        out[b] = 0.0
    for i in range(nn - 1, -1, -1):
        ri = i % mp
        for jb in range(m, 0, -1):
            j = i + jb
            dst = zr[ri, jb]
            if j >= nn:
                for b in range(nl):
                    dst[b] = 0.0
                continue
            for b in range(nl):
                tmp[b] = 0.0
            for kk in range(1, min(m, nn - 1 - i) + 1):
                k = i + kk
                if k <= j:
                    src = zr[k % mp, j - k]
                else:
                    src = zr[j % mp, k - j]
                lk = lr[kk - 1, k]
                for b in range(nl):
                    tmp[b] -= lk[b] * src[b]
            for b in range(nl):
                dst[b] = tmp[b]
        di = dinv[i]
        for b in range(nl):
            tmp[b] = di[b]
        for kk in range(1, min(m, nn - 1 - i) + 1):
            lk = lr[kk - 1, i + kk]
            src = zr[ri, kk]
            for b in range(nl):
                tmp[b] -= lk[b] * src[b]
        g0 = gb[i, 0]
        z0 = zr[ri, 0]
        for b in range(nl):
            z0[b] = tmp[b]
            out[b] += g0 * tmp[b]
        for kk in range(1, m):
            gk = 2.0 * gb[i, kk]
            src = zr[ri, kk]
            for b in range(nl):
                out[b] += gk * src[b]


@numba.njit(**_JIT)
def _gcv(n, m, rss, tr, d, nl, out):  # pragma: no cover - compiled
    nn = d.shape[0]
    for b in range(nl):
        dof = n - (m + tr[b])
        ok = dof > 1e-9 * n
        for i in range(nn):
            if not d[i, b] > 0.0:  # not positive definite in floating point (or NaN)
                ok = False
                break
        out[b] = n * rss[b] / (dof * dof) if ok else np.inf


@numba.njit(**_JIT)
def _qr_solve(y, l0, nl, dc, lgt, m, lam, rb, qtb, h, hb, cs, sn, z):  # pragma: no cover - compiled
    """g = argmin |C g - [0; y / sqrt(lam)]| for C = [L_G^T; sqrt(lam) D^T], by Givens rotations.

    Rows are taken in order of their first column, so each needs at most m + 1 rotations and the
    triangular factor keeps m + 1 bands (rb[k, i, b] = R[i, i + k]). ``lam`` holds sqrt(lam').
    Result in z.
    """
    n = y.shape[0]
    nn = n - m
    mp = m + 1
    filled = np.zeros(nn, dtype=np.bool_)
    for c in range(nn):
        nrows = (m + 2) if c == 0 else 2
        for r in range(nrows):
            # the row: h[q] for columns c..c+m, right-hand side hb
            for q in range(mp):
                hq = h[q]
                for b in range(nl):
                    hq[b] = 0.0
            if r < nrows - 1:  # a row of sqrt(lam) D^T: row j = c + m (or 0..m when c == 0)
                j = r if c == 0 else c + m
                for i in range(max(0, j - m), min(j, nn - 1) + 1):
                    coef = dc[i, j - i]
                    hq = h[i - c]
                    for b in range(nl):
                        hq[b] = coef * lam[b]
                yj = y[j, l0 : l0 + nl]
                for b in range(nl):
                    hb[b] = yj[b] / lam[b]
            else:  # row c of L_G^T
                for k in range(min(m, nn - c)):
                    v = lgt[c, k]
                    hk = h[k]
                    for b in range(nl):
                        hk[b] = v
                for b in range(nl):
                    hb[b] = 0.0
            for p in range(mp):
                col = c + p
                if col >= nn:
                    break
                if not filled[col]:  # deposit the rest of the row
                    for q in range(mp - p):
                        dst = rb[q, col]
                        src = h[p + q]
                        for b in range(nl):
                            dst[b] = src[b]
                    qc = qtb[col]
                    for b in range(nl):
                        qc[b] = hb[b]
                    filled[col] = True
                    break
                r0 = rb[0, col]
                hp = h[p]
                for b in range(nl):
                    a0 = r0[b]
                    a1 = hp[b]
                    rho = math.sqrt(a0 * a0 + a1 * a1)
                    inv = 1.0 / rho if rho > 0.0 else 0.0
                    cs[b] = a0 * inv if rho > 0.0 else 1.0
                    sn[b] = a1 * inv
                    r0[b] = rho
                for q in range(1, mp - p):
                    rq = rb[q, col]
                    hq = h[p + q]
                    for b in range(nl):
                        x0 = rq[b]
                        x1 = hq[b]
                        rq[b] = cs[b] * x0 + sn[b] * x1
                        hq[b] = cs[b] * x1 - sn[b] * x0
                qc = qtb[col]
                for b in range(nl):
                    x0 = qc[b]
                    x1 = hb[b]
                    qc[b] = cs[b] * x0 + sn[b] * x1
                    hb[b] = cs[b] * x1 - sn[b] * x0
    for i in range(nn - 1, -1, -1):
        zi = z[i]
        qi = qtb[i]
        for b in range(nl):
            zi[b] = qi[b]
        for k in range(1, min(m, nn - 1 - i) + 1):
            rk = rb[k, i]
            zk = z[i + k]
            for b in range(nl):
                zi[b] -= rk[b] * zk[b]
        r0 = rb[0, i]
        for b in range(nl):
            zi[b] /= r0[b]


@numba.njit(**_JIT)
def _output(y, l0, nl, z, dc, u, m, lam, order, acc, fb, out):  # pragma: no cover - compiled
    """The fit f = y - lam D^T z, or its derivative of ``order`` at the nodes (m <= 2), into ``out``.

    The smoothing spline is the natural spline of degree 2m - 1 through its values f. For
    m = 1 it is piecewise linear; for m = 2 its second derivatives at the nodes are
    s_{i+1} = 2 z_i M_i(u_{i+1}) = 4 z_i / (u_{i+2} - u_i) (zero at both ends), and
    f' follows from the cubic on the longer neighbouring interval (fewer digits lost).
    """
    n = y.shape[0]
    nn = n - m
    for j in range(n):
        for b in range(nl):
            acc[b] = 0.0
        for k in range(max(0, j - nn + 1), min(m, j) + 1):
            cc = dc[j - k, k]
            zk = z[j - k]
            for b in range(nl):
                acc[b] += cc * zk[b]
        yj = y[j, l0 : l0 + nl]
        fj = fb[j]
        for b in range(nl):
            fj[b] = yj[b] - lam[b] * acc[b]
    if order == 0 or m > 2:
        for j in range(n):
            fj = fb[j]
            oj = out[j, l0 : l0 + nl]
            for b in range(nl):
                oj[b] = fj[b]
        return
    if m == 1:  # slope of the interval to the right (to the left at the last node)
        for j in range(n):
            a = j if j < n - 1 else n - 2
            inv = 1.0 / (u[a + 1] - u[a])
            f0 = fb[a]
            f1 = fb[a + 1]
            oj = out[j, l0 : l0 + nl]
            for b in range(nl):
                oj[b] = (f1[b] - f0[b]) * inv
        return
    # m == 2: s_j = f''(u_j) = 4 z_{j-1} / (u_{j+1} - u_{j-1}), computed where needed
    for j in range(n):
        oj = out[j, l0 : l0 + nl]
        if order == 2:
            if j == 0 or j == n - 1:
                for b in range(nl):
                    oj[b] = 0.0
            else:
                c = 4.0 / (u[j + 1] - u[j - 1])
                zj = z[j - 1]
                for b in range(nl):
                    oj[b] = c * zj[b]
            continue
        # the interval [a, a + 1] used for node j
        if order == 3:
            a = j if j < n - 1 else n - 2
        elif j == 0:
            a = 0
        elif j == n - 1:
            a = n - 2
        else:
            a = j - 1 if u[j] - u[j - 1] > u[j + 1] - u[j] else j
        h = u[a + 1] - u[a]
        ca = 4.0 / (u[a + 1] - u[a - 1]) if a > 0 else 0.0  # s_a = ca * z[a - 1]
        cb = 4.0 / (u[a + 2] - u[a]) if a + 1 < n - 1 else 0.0  # s_{a+1} = cb * z[a]
        za = z[a - 1] if a > 0 else z[0]
        zb = z[a] if a + 1 < n - 1 else z[0]
        f0 = fb[a]
        f1 = fb[a + 1]
        if order == 3:
            for b in range(nl):
                oj[b] = (cb * zb[b] - ca * za[b]) / h
        elif a == j:  # f'(u_a) = (f1 - f0) / h - h (2 s_a + s_{a+1}) / 6
            for b in range(nl):
                oj[b] = (f1[b] - f0[b]) / h - h * (2.0 * ca * za[b] + cb * zb[b]) / 6.0
        else:  # f'(u_{a+1}) = (f1 - f0) / h + h (s_a + 2 s_{a+1}) / 6
            for b in range(nl):
                oj[b] = (f1[b] - f0[b]) / h + h * (ca * za[b] + 2.0 * cb * zb[b]) / 6.0


@numba.njit(**_JIT)
def _block(
    y,
    l0,
    nl,
    u,
    dc,
    gb,
    ddb,
    lgt,
    m,
    loggrid,
    shared_lr,
    shared_dinv,
    shared_ok,
    shared_tr,
    n_golden,
    fixed_lam,
    order,
    out,
    lam_out,
):  # pragma: no cover - compiled
    n = y.shape[0]
    nn = n - m
    blk = BLOCK
    mp = m + 1
    dy = np.empty((nn, blk))
    z = np.empty((nn, blk))
    tmp = np.empty(blk)
    acc = np.empty(blk)
    rss = np.empty(blk)
    tr = np.empty(blk)
    gcv = np.empty(blk)
    lam = np.empty(blk)
    best_x = np.empty(blk)
    for i in range(nn):
        dyi = dy[i]
        for b in range(nl):
            dyi[b] = 0.0
        for k in range(mp):
            c = dc[i, k]
            yk = y[i + k, l0 : l0 + nl]
            for b in range(nl):
                dyi[b] += c * yk[b]
    if fixed_lam >= 0.0:
        for b in range(nl):
            lam[b] = fixed_lam
    else:
        ng = loggrid.shape[0]
        best_f = np.full(blk, np.inf)
        kbest = np.zeros(blk, dtype=np.int64)
        for b in range(nl):
            best_x[b] = loggrid[0]
        # 1. the shared grid
        for g in range(ng):
            if not shared_ok[g]:
                continue
            lg = 10.0 ** loggrid[g]
            for b in range(nl):
                lam[b] = lg
            _solve_shared(dy, m, nl, shared_lr[g], shared_dinv[g], z)
            _rss(z, dc, m, lam, nl, n, acc, rss)
            dof = n - (m + shared_tr[g])
            for b in range(nl):
                v = n * rss[b] / (dof * dof) if dof > 1e-9 * n else np.inf
                if v < best_f[b]:
                    best_f[b] = v
                    best_x[b] = loggrid[g]
                    kbest[b] = g
        # 2. golden-section search per line between the neighbours of its best grid point
        if n_golden > 0 and ng > 1:
            lr = np.zeros((max(m, 1), nn, blk))
            d = np.empty((nn, blk))
            dinv = np.empty((nn, blk))
            zr = np.zeros((mp, mp, blk))
            a = np.empty(blk)
            c = np.empty(blk)
            x1 = np.empty(blk)
            x2 = np.empty(blk)
            f1 = np.empty(blk)
            f2 = np.empty(blk)
            xn = np.empty(blk)
            side = np.zeros(blk, dtype=np.int64)
            for b in range(nl):
                a[b] = loggrid[max(kbest[b] - 1, 0)]
                c[b] = loggrid[min(kbest[b] + 1, ng - 1)]
                x1[b] = a[b] + GOLDEN * (c[b] - a[b])
                x2[b] = c[b] - GOLDEN * (c[b] - a[b])
            for it in range(n_golden):
                for b in range(nl):
                    if it == 0:
                        xn[b] = x1[b]
                        side[b] = 1
                    elif it == 1:
                        xn[b] = x2[b]
                        side[b] = 2
                    elif f1[b] < f2[b]:  # the minimum is in [a, x2]
                        c[b] = x2[b]
                        x2[b] = x1[b]
                        f2[b] = f1[b]
                        x1[b] = a[b] + GOLDEN * (c[b] - a[b])
                        xn[b] = x1[b]
                        side[b] = 1
                    else:  # in [x1, c]
                        a[b] = x1[b]
                        x1[b] = x2[b]
                        f1[b] = f2[b]
                        x2[b] = c[b] - GOLDEN * (c[b] - a[b])
                        xn[b] = x2[b]
                        side[b] = 2
                    lam[b] = 10.0 ** xn[b]
                _factor(gb, ddb, m, lam, nl, lr, d, dinv, tmp)
                _solve(dy, m, nl, lr, dinv, z)
                _rss(z, dc, m, lam, nl, n, acc, rss)
                _trace(gb, m, nl, lr, dinv, zr, tmp, tr)
                _gcv(n, m, rss, tr, d, nl, gcv)
                for b in range(nl):
                    if side[b] == 1:
                        f1[b] = gcv[b]
                    else:
                        f2[b] = gcv[b]
                    if gcv[b] < best_f[b]:
                        best_f[b] = gcv[b]
                        best_x[b] = xn[b]
        for b in range(nl):
            lam[b] = 10.0 ** best_x[b]
    # 3. the fit at the chosen penalty
    for b in range(nl):
        lam_out[l0 + b] = lam[b]
    if fixed_lam == 0.0:  # no penalty: f = y, g = G^-1 D y
        lr = np.zeros((max(m, 1), nn, blk))
        d = np.empty((nn, blk))
        dinv = np.empty((nn, blk))
        _factor(gb, ddb, m, lam, nl, lr, d, dinv, tmp)
        _solve(dy, m, nl, lr, dinv, z)
    else:
        rb = np.zeros((mp, nn, blk))
        qtb = np.zeros((nn, blk))
        h = np.empty((mp, blk))
        hb = np.empty(blk)
        cs = np.empty(blk)
        sn = np.empty(blk)
        for b in range(nl):
            tmp[b] = math.sqrt(lam[b])
        _qr_solve(y, l0, nl, dc, lgt, m, tmp, rb, qtb, h, hb, cs, sn, z)
    fb = np.empty((n, blk))
    _output(y, l0, nl, z, dc, u, m, lam, order, acc, fb, out)


def _shared(
    gb: np.ndarray,
    ddb: np.ndarray,
    m: int,
    loggrid: np.ndarray,
    slr: np.ndarray,
    sdinv: np.ndarray,
    sok: np.ndarray,
    str_: np.ndarray,
) -> None:
    """Factorisation and trace of A for each grid penalty (the same for every line), one lane.

    A Python loop over the grid calling the compiled ``_factor`` and ``_trace`` (with the
    signature ``_block`` uses): a compiled driver would cost more compile time than it saves.
    """
    nn = gb.shape[0]
    lam = np.empty(1)
    tmp = np.empty(1)
    tr = np.empty(1)
    lr = np.zeros((max(m, 1), nn, 1))
    d = np.empty((nn, 1))
    dinv = np.empty((nn, 1))
    zr = np.zeros((m + 1, m + 1, 1))
    for g in range(loggrid.shape[0]):
        lam[0] = 10.0 ** loggrid[g]
        _factor(gb, ddb, m, lam, 1, lr, d, dinv, tmp)
        sok[g] = bool(np.all(d[:, 0] > 0.0))  # False for NaN too
        _trace(gb, m, 1, lr, dinv, zr, tmp, tr)
        str_[g] = tr[0]
        sdinv[g] = dinv[:, 0]
        slr[g] = lr[:m, :, 0]


def run(
    y: np.ndarray,
    system: PenaltySystem,
    loggrid: np.ndarray,
    n_golden: int,
    fixed_lam: float,
    order: int,
    parallel: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """The fit (or derivative) of every line of ``y`` (C-contiguous float64) and the penalties ``lam'``.

    ``fixed_lam >= 0``: that penalty for every line; ``-1``: GCV over ``loggrid`` then ``n_golden``
    golden-section steps. Blocks of :data:`BLOCK` lines, in a pool of threads if ``parallel``.
    """
    n, nlines = y.shape
    m = system.m
    nn = n - m
    ng = loggrid.shape[0]
    slr = np.zeros((ng, max(m, 1), nn))
    sdinv = np.zeros((ng, nn))
    sok = np.zeros(ng, dtype=np.bool_)
    str_ = np.zeros(ng)
    if fixed_lam < 0.0:
        _shared(system.gb, system.ddb, m, loggrid, slr, sdinv, sok, str_)
    out = np.empty((n, nlines))
    lam = np.empty(nlines)
    args = (
        system.u,
        system.dc,
        system.gb,
        system.ddb,
        system.lgt,
        m,
        loggrid,
        slr,
        sdinv,
        sok,
        str_,
        n_golden,
        fixed_lam,
        order,
        out,
        lam,
    )

    def block(l0: int) -> None:
        _block(y, l0, min(BLOCK, nlines - l0), *args)

    starts = range(0, nlines, BLOCK)
    threads = _threads(len(starts)) if parallel else 1
    if threads > 1:  # _block releases the GIL: the other blocks run in a pool of Python threads
        from concurrent.futures import ThreadPoolExecutor

        first = 0
        if not _block.signatures:  # the first call compiles _block: here, once, not in every thread
            block(starts[0])
            first = 1
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(block, starts[first:]))
    else:
        for l0 in starts:
            block(l0)
    return out, lam


def _threads(nblocks: int) -> int:
    """Threads for ``nblocks`` blocks: numba's thread count (NUMBA_NUM_THREADS, default the CPUs)."""
    return max(1, min(nblocks, numba.config.NUMBA_NUM_THREADS))  # type: ignore[attr-defined]  # numba sets it at import


def warm() -> None:
    """Compile (or load from numba's disk cache) every kernel :func:`run` calls, with its argument types.

    One small fit with GCV: ``_shared`` compiles ``_factor`` and ``_trace``, the block compiles
    ``_block`` (and its callees, linked into it). Fixed penalties, every ``m`` and ``order`` use the
    same signatures (they are run-time values).
    """
    from ._smoothing import lambda_grid, penalty_system

    u = np.arange(8.0)
    y = np.ascontiguousarray(np.sin(u)[:, None])
    system = penalty_system(u, 2)
    run(y, system, lambda_grid(8, 2), 1, -1.0, 1, False)
