"""Smoothing splines of odd degree ``2m - 1`` for many lines at once, with the penalty chosen per line.

The smoothing spline minimises ``sum (y_i - f(u_i))^2 + lam * integral (f^(m))^2``. Its values at
the nodes are ``f = y - lam' D^T g`` where ``(G + lam' D D^T) g = D y`` (Reinsch's algorithm,
generalised to any ``m``):

* ``D`` is the ``(n - m) x n`` matrix of ``m``-th divided differences;
* ``G`` is the Gram matrix of the B-splines ``M_i`` of degree ``m - 1`` on the knots
  ``u_i .. u_{i+m}``, normalised to unit integral, so that ``f^(m) = m! sum g_i M_i``;
* ``lam' = m!^2 lam``.

``A = G + lam' D D^T`` is symmetric positive definite with half-bandwidth ``m``. The trace of the
hat matrix, needed by generalised cross-validation (GCV), is ``m + tr(A^-1 G)``, which needs only
the central bands of ``A^-1``, from the LDL^T factors of ``A`` (Hutchinson & de Hoog, 1985).

How the work is organised (all O(n) per line and penalty):

1. GCV on a grid of penalties shared by all lines (one decade apart): one factorisation and one
   trace per penalty, then one banded solve per line;
2. per line, golden-section search of ``log10(lam)`` between the neighbours of its best grid
   point (each line with its own penalty: factorisation, solve and trace per line);
3. the final fit at the chosen penalty by a banded QR factorisation (Givens rotations) of
   ``C = [chol(G)^T; sqrt(lam') D^T]``, since ``A = C^T C``: this avoids forming ``A``, whose
   condition number squares that of ``C`` -- it matters on strongly non-uniform coordinates.

The compiled kernels work on lines stored as the columns of an ``(n, lines)`` array, in blocks
of :data:`BLOCK` lines: each recurrence along the axis is a loop over the block's lines (SIMD),
the block's work arrays stay in cache, and blocks run in parallel (a pool of Python threads
calling the compiled block kernel, which releases the GIL). A line is computed with the same
floating-point operations wherever it sits, so results -- and the penalty GCV picks -- never
depend on how the other axes are chunked.

Two implementations of the same arithmetic. :mod:`._compiled` holds the numba kernels (``nogil``,
no fastmath, cached on disk); :mod:`._vectorised` the same kernels in numpy, all lines of a chunk at
once, with every line going through the same floating-point operations in the same order: the
results (and the penalties GCV picks) are bit-identical. Warm, the compiled kernels are 10-25x
faster (200 points: 8-25 ms against ~0.2 s for 1-200 lines); but compiling them on a fresh install
(empty numba cache) takes 15-20 s, and even loading them from the cache 3-4 s (``import numba``
included), measured on the project's shared 2-core machine (benchmarks/bench_spline_first_call.py).

Which runs is option ``jit`` of :func:`fieldgrad.set_options`, as for fieldgrad's own kernel:
``"auto"`` (default) runs the compiled kernels once they are ready in this process and the numpy
ones until then; the first call on the numpy kernels starts compiling (or loading) the compiled
ones in a daemon thread after its own work, and no call ever waits for it. The compilation holds
the GIL for much of its time, so calls made meanwhile run several times slower than numpy alone.
``"always"`` compiles in the calling thread (the first call waits); ``"never"`` uses numpy only,
and numba is never imported (``import fieldgrad_spline`` never imports it). A fork during a
compilation leaves the child on numpy.

Compile time of the compiled kernels: Python calls only ``_block`` and, for the shared grid,
``_factor`` and ``_trace``, each compiled for the one signature ``_block`` uses too (float64 arrays,
int64 counts). Numba re-optimises a callee's code in every compiled caller it is linked into, so
compiled drivers over the blocks or the grid (and ``parallel=True``, whose parfor lowering compiled
the whole kernel again) cost more compile time than the Python loops that replace them.
"""

from __future__ import annotations

import math
import os
import threading
from math import factorial

import numpy as np

from fieldgrad.options import OPTIONS

__all__ = ["BLOCK", "PenaltySystem", "fit_auto", "fit_fixed", "lambda_grid", "penalty_system"]

BLOCK = 64  # lines per block
GOLDEN = 0.3819660112501051  # 2 - golden ratio


class PenaltySystem:
    """The banded matrices of the smoothing problem for increasing positions ``u`` and penalty order ``m``.

    Attributes
    ----------
    dc : ndarray (n - m, m + 1)
        ``dc[i, k]`` = coefficient of ``y[i + k]`` in the ``i``-th divided difference.
    gb : ndarray (n - m, m)
        ``gb[i, k]`` = ``G[i, i + k]`` (zero past the end).
    ddb : ndarray (n - m, m + 1)
        ``ddb[i, k]`` = ``(D D^T)[i, i + k]`` (zero past the end).
    lgt : ndarray (n - m, m)
        ``lgt[i, k]`` = ``L[i + k, i]`` where ``G = L L^T`` (rows of ``L^T``).
    scale : float
        ``m!^2``: the kernels use ``lam' = scale * lam``.
    """

    def __init__(self, u: np.ndarray, m: int) -> None:
        self.u, self.m = u, m
        self.dc = divided_differences(u, m)
        self.gb = gram_bands(u, m)
        self.ddb = dd_bands(self.dc)
        self.lgt = _cholesky_bands(self.gb)
        self.scale = float(factorial(m) ** 2)


def penalty_system(u: np.ndarray, m: int) -> PenaltySystem:
    """The :class:`PenaltySystem` of increasing positions ``u`` for the penalty ``integral (f^(m))^2``.

    Examples
    --------
    >>> s = penalty_system(np.arange(5.0), 2)
    >>> s.dc.shape, s.gb.shape, s.scale
    ((3, 3), (3, 2), 4.0)
    """
    u = np.ascontiguousarray(u, dtype=np.float64)
    if u.ndim != 1 or u.shape[0] < m + 1 or not np.all(np.diff(u) > 0):
        raise ValueError(f"positions must be strictly increasing, at least {m + 1} of them")
    return PenaltySystem(u, m)


def divided_differences(u: np.ndarray, m: int) -> np.ndarray:
    """``(n - m, m + 1)`` coefficients of the ``m``-th divided differences over ``u[i..i+m]``.

    Examples
    --------
    >>> divided_differences(np.arange(4.0), 2)
    array([[ 0.5, -1. ,  0.5],
           [ 0.5, -1. ,  0.5]])
    """
    n = u.shape[0]
    idx = np.arange(n - m)[:, None] + np.arange(m + 1)
    w = u[idx]  # (n - m, m + 1)
    diff = w[:, :, None] - w[:, None, :]
    diff[:, np.arange(m + 1), np.arange(m + 1)] = 1.0
    return 1.0 / np.prod(diff, axis=2)


def gram_bands(u: np.ndarray, m: int) -> np.ndarray:
    """Bands ``G[i, i + k]``, ``k < m``, of the Gram matrix of the unit-integral B-splines of degree ``m - 1``.

    Computed by Gauss–Legendre quadrature on each knot interval (exact: the integrands are
    polynomials of degree ``2m - 2`` there).

    Examples
    --------
    >>> gram_bands(np.arange(4.0), 2)  # hats of height 1: 2/3 on the diagonal, 1/6 next to it
    array([[0.66666667, 0.16666667],
           [0.66666667, 0.        ]])
    """
    from scipy.interpolate import BSpline

    n = u.shape[0]
    nb = n - m
    k = m - 1
    gb = np.zeros((nb, m))
    if k == 0:
        gb[:, 0] = 1.0 / np.diff(u)
        return gb
    # extra knots outside so that every original B-spline is evaluated exactly on [u0, u_{n-1}]
    h0, h1 = u[1] - u[0], u[-1] - u[-2]
    t = np.concatenate([u[0] - h0 * np.arange(k, 0, -1), u, u[-1] + h1 * np.arange(1, k + 1)])
    nodes, weights = np.polynomial.legendre.leggauss(m)
    a, b = u[:-1], u[1:]
    xq = ((b - a)[:, None] * (nodes + 1) / 2 + a[:, None]).ravel()
    wq = ((b - a)[:, None] * weights / 2).ravel()
    design = BSpline.design_matrix(xq, t, k).tocsc()[:, k : k + nb]  # the original B-splines
    norm = m / (u[m:] - u[:nb])  # B_i -> M_i (unit integral)
    design = design.multiply(norm[None, :]).tocsc()
    gram = (design.T.multiply(wq[None, :]) @ design).todia()
    for off, diag in zip(gram.offsets, gram.data, strict=True):
        if 0 <= off < m:
            gb[: nb - off, off] = diag[off:nb]
    return gb


def dd_bands(dc: np.ndarray) -> np.ndarray:
    """Bands ``(D D^T)[i, i + k]``, ``k <= m``, from the divided-difference coefficients."""
    nb, m1 = dc.shape
    out = np.zeros((nb, m1))
    for k in range(m1):
        for j in range(k, m1):  # (D D^T)[i, i+k] = sum_j dc[i, j] dc[i+k, j-k]
            out[: nb - k, k] += dc[: nb - k, j] * dc[k:, j - k]
    return out


def _cholesky_bands(gb: np.ndarray) -> np.ndarray:
    """``lgt[i, k] = L[i + k, i]`` for the banded Cholesky factor ``G = L L^T``."""
    nb, m = gb.shape
    lower = np.zeros((nb, m))  # lower[i, k] = L[i, i - k]
    for i in range(nb):
        for k in range(m - 1, 0, -1):
            j = i - k
            if j < 0:
                continue
            s = gb[j, k] - sum(lower[i, i - p] * lower[j, j - p] for p in range(max(0, i - m + 1), j))
            lower[i, k] = s / lower[j, 0]
        lower[i, 0] = math.sqrt(gb[i, 0] - sum(lower[i, k] ** 2 for k in range(1, min(m, i + 1))))
    lgt = np.zeros((nb, m))
    for k in range(m):
        lgt[: nb - k, k] = lower[k:, k]
    return lgt


def _run(
    y: np.ndarray,
    system: PenaltySystem,
    loggrid: np.ndarray,
    n_golden: int,
    fixed_lam: float,
    order: int,
    parallel: bool,
) -> tuple[np.ndarray, np.ndarray]:
    y = np.ascontiguousarray(y, dtype=np.float64)
    if not y.flags.writeable:  # a read-only array is another numba type: another compilation
        y = y.copy()
    loggrid = np.ascontiguousarray(loggrid, dtype=np.float64)
    if _use_compiled():
        from . import _compiled

        out, lam = _compiled.run(y, system, loggrid, n_golden, fixed_lam, order, parallel)
    else:
        from . import _vectorised

        out, lam = _vectorised.run(y, system, loggrid, n_golden, fixed_lam, order)
        if OPTIONS["jit"] == "auto":  # started after this call's work: the compilation takes the GIL often
            compile_in_background()
    return out, lam / system.scale


# Compilation state (option ``jit`` of fieldgrad.set_options; see the module notes). The kernels are
# "ready" once compiled, or loaded from numba's disk cache, in this process.
_lock = threading.Lock()
_ready = False
_pending = False  # a background thread is compiling them
_failed: BaseException | None = None  # a compilation raised: not retried, numpy serves every call
_no_background = False  # a fork interrupted a compilation: none more in this process


def _use_compiled() -> bool:
    """Whether this call runs the compiled kernels (else the numpy ones); may start or run their compilation."""
    mode = OPTIONS["jit"]
    if mode == "never":
        return False
    if _ready:
        return True
    if mode == "always":
        compile_now()
        return True
    return False


def compile_now() -> None:
    """Compile the kernels (or load them from numba's disk cache) in this thread, if not done yet."""
    global _ready
    if _ready:
        return
    from . import _compiled

    _compiled.warm()
    with _lock:
        _ready = True


def compile_in_background() -> None:
    """Start compiling the kernels in a daemon thread, unless they are ready, under way or failed before."""
    global _pending
    with _lock:
        if _ready or _pending or _failed is not None or _no_background:
            return
        _pending = True
    threading.Thread(target=_background, name="fieldgrad-spline-jit", daemon=True).start()


def _background() -> None:
    global _pending, _failed
    try:
        compile_now()
    except BaseException as exc:  # noqa: BLE001  # pragma: no cover - numba missing or broken: numpy stays
        with _lock:
            _failed = exc
    finally:
        with _lock:
            _pending = False


def wait_for_compilation(timeout: float | None = None) -> bool:
    """Wait until a background compilation started by a call ends; return whether the kernels are ready."""
    import time

    deadline = None if timeout is None else time.monotonic() + timeout
    while _pending and (deadline is None or time.monotonic() < deadline):
        time.sleep(0.01)
    return _ready


def _after_fork() -> None:  # pragma: no cover - runs in a forked child
    """In a forked child: a compilation under way in the parent has no thread here (and numba's compiler
    lock may be held): compiled kernels already loaded stay usable; nothing more compiles in the
    background, the numpy kernels serve the rest."""
    global _lock, _pending, _no_background
    _lock = threading.Lock()
    if _pending:
        _no_background = True
        _pending = False


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def _check_order(order: int, m: int) -> int:
    if not 0 <= order <= 2 * m - 1:
        raise ValueError(f"derivative order must be from 0 to {2 * m - 1}, got {order}")
    if m > 2 and order:
        raise ValueError(
            "derivatives are computed here for m <= 2; fit with order=0 and differentiate "
            "the natural spline through the fitted values"
        )
    return order


def fit_fixed(y: np.ndarray, system: PenaltySystem, lam: float, *, order: int = 0, parallel: bool = True) -> np.ndarray:
    """The smoothing spline with penalty ``lam`` of every line (column of ``y``), or its derivative, at the nodes.

    Examples
    --------
    >>> u = np.arange(6.0)
    >>> fit_fixed(np.c_[u**2], penalty_system(u, 1), 0.0)[:, 0]  # no penalty: interpolation
    array([ 0.,  1.,  4.,  9., 16., 25.])
    >>> fit_fixed(np.c_[u**2], penalty_system(u, 2), 0.0, order=2)[1:-1, 0].round(6)  # natural cubic
    array([2.526316, 1.894737, 1.894737, 2.526316])
    """
    if not lam >= 0.0:
        raise ValueError(f"the penalty must be >= 0, got {lam!r}")
    out, _ = _run(y, system, np.zeros(1), 0, float(lam) * system.scale, _check_order(order, system.m), parallel)
    return out


def lambda_grid(n: int, m: int, step: float = 1.0) -> np.ndarray:
    """log10 of the penalties ``lam'`` (unit mean spacing) searched by GCV, from interpolation to a polynomial fit.

    Examples
    --------
    >>> lambda_grid(2000, 2)[[0, -1]].round(2).tolist()
    [-2.4, 11.6]
    """
    scale = np.log10(factorial(m) ** 2)
    lo = -3.0 + scale
    hi = min(2 * m * np.log10(max(n, 2)) + 1.0 + scale, 12.0)
    return np.arange(lo, max(hi, lo + step) + 1e-9, step)


def fit_auto(
    y: np.ndarray,
    system: PenaltySystem,
    *,
    order: int = 0,
    n_golden: int = 12,
    step: float = 1.0,
    parallel: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Smoothing splines of every line (column of ``y``), each with the penalty minimising its GCV score.

    The score is evaluated on a grid of ``log10(lam)`` (``step`` apart, shared by the lines), then
    refined per line by ``n_golden`` steps of golden-section search between the neighbours of
    its best grid point; the best penalty seen is used. Returns the fitted values (or their
    derivative of ``order``) at the nodes, and the penalties (in the units of the positions
    given to :func:`penalty_system`).

    Examples
    --------
    >>> u = np.arange(200.0)
    >>> y = np.sin(u / 20)[:, None] + 0.1 * np.random.default_rng(0).normal(size=(200, 3))
    >>> fit, lam = fit_auto(y, penalty_system(u, 2))
    >>> bool(np.abs(fit - np.sin(u / 20)[:, None]).max() < 0.1), lam.shape
    (True, (3,))
    """
    grid = lambda_grid(system.u.shape[0], system.m, step)
    return _run(y, system, grid, n_golden, -1.0, _check_order(order, system.m), parallel)
