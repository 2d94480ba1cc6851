"""fieldgrad method ``"polyfit"``: local least-squares polynomial derivatives.

At every point, a polynomial of degree ``degree`` is fitted by least squares to the ``window``
points centred on it, and its derivative at the point is the result: the Savitzky–Golay
filter, generalised to non-uniform coordinates. Within ``window // 2`` points of either end,
the polynomial fitted to the first (last) ``window`` points is used, as
``scipy.signal.savgol_filter(mode="interp")`` does. On a uniform grid the result equals
``savgol_filter(f, window, degree, deriv=order, delta=dx, mode="interp")``.

The fit is linear in the data, so each derivative is a stencil: fixed weights on a uniform
axis, per-point weights (from batched least-squares solves) on a non-uniform one. The stencil
is applied by fieldgrad's compiled, multi-threaded kernel.

Examples
--------
>>> import numpy as np
>>> import xarray as xr
>>> import fieldgrad
>>> x = np.linspace(0, 1, 41)
>>> da = xr.DataArray(x**3, dims="x", coords={"x": x})
>>> d = da.grad.partial("x", method="polyfit", window=11, degree=3)
>>> bool(np.allclose(d.values, 3 * x**2))
True
"""

from __future__ import annotations

from math import factorial
from typing import Any, ClassVar

import numpy as np

from fieldgrad.plugin import AxisCoord, AxisStencil, StencilMethod

__all__ = ["PolyFit", "polyfit_stencil", "polyfit_weights"]
__version__ = "0.1.0"


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _eval_rows(u: np.ndarray, degree: int, order: int) -> np.ndarray:
    """Rows ``d^order/du^order [1, u, u^2, ..., u^degree]`` at the points ``u`` (shape (..., degree+1))."""
    p = np.arange(degree + 1)
    coef = np.array([factorial(k) / factorial(k - order) if k >= order else 0.0 for k in p])
    powers = np.maximum(p - order, 0)
    with np.errstate(invalid="ignore"):
        rows = coef * np.asarray(u, dtype=np.float64)[..., None] ** powers
    rows[..., p < order] = 0.0
    return rows


def polyfit_weights(u: np.ndarray, at: np.ndarray, degree: int, order: int) -> np.ndarray:
    """Weights giving the ``order``-th derivative, at ``at``, of the degree-``degree`` least-squares fit.

    Parameters
    ----------
    u : ndarray, shape (..., window)
        Positions of the window's points (batched over leading axes), ideally centred and
        scaled to O(1) for conditioning.
    at : ndarray, shape (..., k)
        Where to evaluate the derivative of the fitted polynomial, in the units of ``u``.
    degree, order : int
        Polynomial degree and derivative order.

    Returns
    -------
    ndarray, shape (..., k, window)
        ``w[..., j, :] @ f`` is the derivative at ``at[..., j]`` of the fit to ``f`` at ``u``.

    Examples
    --------
    >>> polyfit_weights(np.array([-1.0, 0.0, 1.0]), np.array([0.0]), 2, 1).round(12) + 0.0
    array([[-0.5,  0. ,  0.5]])
    """
    u = np.asarray(u, dtype=np.float64)
    vander = u[..., :, None] ** np.arange(degree + 1)  # (..., window, degree+1)
    q, r = np.linalg.qr(vander)  # batched; q (..., window, d+1), r (..., d+1, d+1)
    e = _eval_rows(at, degree, order)  # (..., k, d+1)
    # w = e R^{-1} Q^T, i.e. w^T = Q z with R^T z = e^T
    z = np.linalg.solve(np.swapaxes(r, -1, -2), np.swapaxes(e, -1, -2))  # (..., d+1, k)
    return np.swapaxes(q @ z, -1, -2)


def polyfit_stencil(
    coord: np.ndarray, order: int, window: int, degree: int, spacing: float | None = None
) -> AxisStencil:
    """The polyfit derivative along an axis with positions ``coord``, as an :class:`~fieldgrad.stencil.AxisStencil`.

    Parameters
    ----------
    coord : ndarray, shape (n,)
        Strictly monotonic positions, ``n >= window``.
    order, window, degree : int
        Derivative order, window length (odd) and polynomial degree.
    spacing : float, optional
        The constant step when the axis is uniform: fixed weights (a convolution). None:
        per-point weights from the positions.

    Examples
    --------
    >>> s = polyfit_stencil(np.arange(7.0), 1, 5, 2, spacing=1.0)
    >>> s.dense()[3].round(3)
    array([ 0. , -0.2, -0.1,  0. ,  0.1,  0.2,  0. ])
    """
    coord = np.asarray(coord, dtype=np.float64)
    n, h = coord.shape[0], window // 2
    if n < window:
        raise ValueError(f"polyfit needs at least window={window} points, got {n}")
    offsets = np.arange(-h, h + 1, dtype=np.int64)
    ends = np.concatenate([np.arange(h), np.arange(n - h, n)])
    if spacing is not None:
        step = float(spacing)
        scale = np.float64(step) ** order
        centre = polyfit_weights(offsets.astype(np.float64), np.zeros(1), degree, order)[0] / scale
        band = np.ascontiguousarray(centre[:, None])
        local = np.arange(window, dtype=np.float64) - h  # an end window, centred
        at = np.concatenate([np.arange(h) - h, np.arange(1, h + 1)]).astype(np.float64)
        edge = polyfit_weights(local, at, degree, order) / scale  # (2h, window)
    else:
        idx = np.arange(h, n - h)[:, None] + offsets  # (n - 2h, window)
        xs = coord[idx]
        step = (xs[:, -1] - xs[:, 0]) / (window - 1)  # signed mean spacing of each window
        u = (xs - coord[h : n - h, None]) / step[:, None]
        w = polyfit_weights(u, np.zeros((u.shape[0], 1)), degree, order)[:, 0, :] / step[:, None] ** order
        band = np.zeros((window, n))
        band[:, h : n - h] = w.T
        edge = np.empty((2 * h, window))
        for rows, first in ((slice(0, h), 0), (slice(h, 2 * h), n - window)):
            xw = coord[first : first + window]
            mid, step_e = xw[h], (xw[-1] - xw[0]) / (window - 1)
            edge[rows] = (
                polyfit_weights((xw - mid) / step_e, (coord[ends[rows]] - mid) / step_e, degree, order) / step_e**order
            )
    starts = np.where(ends < h, 0, n - window)
    edge_idx = (starts[:, None] + np.arange(window)).ravel()
    return AxisStencil(
        n=n,
        lo=h,
        hi=n - h,
        offsets=offsets,
        weights=np.ascontiguousarray(band, dtype=np.float64),
        edge_rows=ends.astype(np.int64),
        edge_ptr=np.arange(0, 2 * h * window + 1, window, dtype=np.int64),
        edge_idx=edge_idx.astype(np.int64),
        edge_w=np.ascontiguousarray(edge.ravel(), dtype=np.float64),
        edge_const=np.zeros(2 * h),
    )


class PolyFit(StencilMethod):
    """Local least-squares polynomial (Savitzky–Golay) derivatives, uniform and non-uniform coordinates.

    Options
    -------
    window : odd int, default 21
        Number of points of each local fit.
    degree : int, default 3
        Degree of the local polynomial, less than ``window``; derivative orders up to ``degree``.

    Examples
    --------
    >>> from fieldgrad.plugin import axis_coord
    >>> m = PolyFit()
    >>> x = axis_coord(np.linspace(0.0, 2.0, 30) ** 1.5)          # non-uniform
    >>> d = m.derivative(x.values**2, x, axis=0, order=1, window=7, degree=2)
    >>> bool(np.allclose(d, 2 * x.values))
    True
    >>> m.halo(x, 1, window=7), m.min_points(x, 1, window=7)
    (3, 7)
    """

    name: ClassVar[str] = "polyfit"
    description: ClassVar[str] = (
        "local least-squares polynomial fits (Savitzky-Golay), uniform and "
        "non-uniform coordinates; options window (21), degree (3)"
    )
    max_order: ClassVar[int | None] = None  # up to `degree`, checked in check_options
    supports_nonuniform: ClassVar[bool] = True
    boundaries: ClassVar[tuple[str, ...]] = ("one-sided",)

    def check_options(self, order: int, **options: Any) -> dict[str, Any]:
        opts = super().check_options(order, **options)
        window = _check_int("window", opts["window"], 1)
        if window % 2 == 0:
            raise ValueError(f"window must be an odd number of points, got {window}")
        degree = _check_int("degree", opts["degree"], 0)
        if degree >= window:
            raise ValueError(f"degree must be less than window, got degree={degree} and window={window}")
        if order > degree:
            raise ValueError(
                f"method 'polyfit' with degree={degree} supports derivative orders up to "
                f"{degree}, got order={order}; raise degree"
            )
        return {"window": window, "degree": degree}

    def stencil(self, coord: AxisCoord, order: int, *, window: int = 21, degree: int = 3) -> AxisStencil:
        return polyfit_stencil(coord.values, order, window, degree, coord.spacing)

    def halo(self, coord: AxisCoord, order: int, *, window: int = 21, degree: int = 3) -> int:
        return window // 2

    def min_points(  # type: ignore[override]  # allow LSP violation: options are keyword-only, not **options
        self, coord: AxisCoord, order: int, *, window: int = 21, degree: int = 3
    ) -> int:
        return window
