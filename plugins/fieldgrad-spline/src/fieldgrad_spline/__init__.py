"""fieldgrad method ``"spline"``: derivatives of spline fits along an axis, for every line at once.

* ``smoothing=None``: the interpolating spline of degree 1–5 through the data
  (:func:`scipy.interpolate.make_interp_spline`, not-a-knot ends), fitted to all lines with one
  banded solve.
* ``smoothing=lam`` (a number >= 0): the smoothing spline of odd degree ``2m - 1`` (1, 3 or 5)
  minimising ``sum (y_i - f(x_i))^2 + lam * integral (f^(m)(x))^2 dx`` (for degree 3 this is
  :func:`scipy.interpolate.make_smoothing_spline` with ``lam=``), ``lam`` in the units of the
  coordinate.
* ``smoothing="auto"`` (default): the same, with ``lam`` chosen for each 1-D line on its own by
  generalised cross-validation (GCV), as ``make_smoothing_spline`` does when ``lam`` is None.
  The choice depends only on that line's values and the coordinate, so results never depend on
  chunking.

The derivative of order ``order`` (up to the degree) of the fitted spline is evaluated at the
data points. The method needs the whole axis (``halo`` is None): on dask arrays the engine
gives it each line whole while the other axes stay chunked. Non-uniform coordinates work.

Examples
--------
>>> import numpy as np
>>> import xarray as xr
>>> import fieldgrad
>>> x = np.linspace(0, 2 * np.pi, 400)
>>> noisy = np.sin(x) + 0.01 * np.random.default_rng(1).normal(size=x.size)
>>> da = xr.DataArray(noisy, dims="x", coords={"x": x})
>>> d = da.grad.partial("x", method="spline")        # smoothing="auto", degree=3
>>> bool(np.sqrt(np.mean((d.values - np.cos(x)) ** 2)) < 0.05)
True
"""

from __future__ import annotations

import numbers
from typing import Any, ClassVar

import numpy as np

from fieldgrad.plugin import AxisCoord, DerivativeMethod

__all__ = ["SplineFit", "spline_derivative"]
__version__ = "0.1.0"

MAX_DEGREE = 5


def _check_degree(degree: Any) -> int:
    if isinstance(degree, bool) or not isinstance(degree, (int, np.integer)) or not 1 <= degree <= MAX_DEGREE:
        raise ValueError(f"degree must be an integer from 1 to {MAX_DEGREE}, got {degree!r}")
    return int(degree)


def _check_smoothing(smoothing: Any, degree: int) -> float | str | None:
    if smoothing is None:
        return None
    if isinstance(smoothing, str):
        if smoothing != "auto":
            raise ValueError(f"smoothing must be 'auto', None or a penalty >= 0, got {smoothing!r}")
    elif (
        isinstance(smoothing, bool)
        or not isinstance(smoothing, numbers.Real)
        or not np.isfinite(np.asarray(smoothing))
        or smoothing < 0
    ):
        raise ValueError(f"smoothing must be 'auto', None or a finite penalty >= 0, got {smoothing!r}")
    if degree % 2 == 0:
        raise ValueError(
            f"smoothing splines have an odd degree (1, 3 or 5), got degree={degree}; "
            "use smoothing=None for an interpolating spline of even degree"
        )
    return smoothing if isinstance(smoothing, str) else float(smoothing)


def _unit_penalty(smoothing: float, step: float, m: int) -> float:
    """The penalty per unit spacing, ``smoothing / step**(2m - 1)``, taken in logarithms (a spacing of
    1e-300 underflows its power); 0 stays 0. ValueError where it is not a finite number."""
    if smoothing == 0:
        return 0.0
    with np.errstate(over="ignore"):
        lam = float(np.exp(np.log(smoothing) - (2 * m - 1) * np.log(abs(step))))
    if not np.isfinite(lam):
        raise ValueError(
            f"smoothing={smoothing!r} is out of range for a coordinate spaced {abs(step):g} apart (the penalty "
            f"per unit spacing, smoothing / step**{2 * m - 1}, overflows): rescale the coordinate, or give a "
            "smaller smoothing"
        )
    return lam


def _lines(values: np.ndarray, axis: int) -> tuple[np.ndarray, tuple[int, ...]]:
    """``values`` as an ``(n, lines)`` float64 array, and the moved shape to restore it."""
    moved = np.moveaxis(np.asarray(values), axis, 0)
    return np.ascontiguousarray(moved.reshape(moved.shape[0], -1), dtype=np.float64), moved.shape


def _interp_derivative(u: np.ndarray, y: np.ndarray, order: int, degree: int) -> np.ndarray:
    from scipy.interpolate import make_interp_spline

    spline = make_interp_spline(u, y, k=degree, axis=0, check_finite=False)
    return spline.derivative(order)(u)


def _natural_derivative(u: np.ndarray, fit: np.ndarray, order: int, m: int) -> np.ndarray:
    """Derivative at the nodes of the natural spline of degree ``2m - 1`` through ``fit``."""
    from scipy.interpolate import make_interp_spline

    zeros = np.zeros(fit.shape[1:])
    ends = [(j, zeros) for j in range(m, 2 * m - 1)]
    spline = make_interp_spline(u, fit, k=2 * m - 1, bc_type=(ends, ends), axis=0, check_finite=False)
    return spline.derivative(order)(u)


def spline_derivative(
    values: np.ndarray,
    coord: np.ndarray,
    *,
    axis: int = -1,
    order: int = 1,
    degree: int = 3,
    smoothing: float | str | None = "auto",
    parallel: bool = True,
    return_smoothing: bool = False,
) -> Any:
    """Derivative at the data points of a spline fitted along ``axis``, for every line at once.

    Parameters
    ----------
    values : ndarray
        Real or complex field (complex: real and imaginary parts are fitted separately).
    coord : ndarray, shape (values.shape[axis],)
        Strictly monotonic positions (increasing or decreasing).
    axis : int, default -1
        The axis to differentiate along.
    order : int, default 1
        Derivative order, from 0 (the fitted values) up to ``degree``.
    degree : int, default 3
        Spline degree: 1–5 for interpolation, 1, 3 or 5 for smoothing.
    smoothing : "auto", float or None, default "auto"
        Penalty ``lam`` of ``integral (f^(m))^2`` in the coordinate's units, ``"auto"`` for
        GCV per line, or None to interpolate.
    parallel : bool, default True
        Use several threads for many lines (dask blocks pass False).
    return_smoothing : bool, default False
        Also return the penalty used for each line (array of ``values`` shape without ``axis``).

    Examples
    --------
    >>> x = np.linspace(0.0, 1.0, 12) ** 2
    >>> d = spline_derivative(x**3, x, order=1, smoothing=None)     # not-a-knot: exact for cubics
    >>> bool(np.allclose(d, 3 * x**2))
    True
    """
    values = np.asarray(values)
    coord = np.asarray(coord, dtype=np.float64)
    degree = _check_degree(degree)
    smoothing = _check_smoothing(smoothing, degree)
    if values.dtype.kind == "c":
        re = spline_derivative(
            values.real,
            coord,
            axis=axis,
            order=order,
            degree=degree,
            smoothing=smoothing,
            parallel=parallel,
            return_smoothing=return_smoothing,
        )
        im = spline_derivative(
            values.imag,
            coord,
            axis=axis,
            order=order,
            degree=degree,
            smoothing=smoothing,
            parallel=parallel,
            return_smoothing=return_smoothing,
        )
        if return_smoothing:
            return re[0] + 1j * im[0], (re[1], im[1])
        return re + 1j * im
    n = coord.shape[0]
    if values.shape[axis] != n:
        raise ValueError(f"coord has {n} points but axis {axis} has {values.shape[axis]}")
    if n < degree + 1:
        raise ValueError(f"a spline of degree {degree} needs at least {degree + 1} points, got {n}")
    y, moved = _lines(values, axis)
    flip = n > 1 and coord[-1] < coord[0]
    if flip:
        coord, y = coord[::-1], y[::-1]
    step = (coord[-1] - coord[0]) / (n - 1)
    u = (coord - coord[0]) / step  # unit mean spacing: well-scaled systems, penalties comparable
    lam = np.full(y.shape[1], np.nan)
    if smoothing is None:
        out = _interp_derivative(u, y, order, degree) if order else y.copy()
    else:
        from ._smoothing import fit_auto, fit_fixed, penalty_system

        m = (degree + 1) // 2
        system = penalty_system(u, m)
        direct = order if m <= 2 else 0  # the kernel differentiates cubic and linear splines itself
        if smoothing == "auto":
            out, lam_u = fit_auto(y, system, order=direct, parallel=parallel)
        else:
            lam_u = np.full(y.shape[1], _unit_penalty(float(smoothing), step, m))
            out = fit_fixed(y, system, float(lam_u[0]), order=direct, parallel=parallel)
        lam = lam_u * step ** (2 * m - 1)
        if order and not direct:
            out = _natural_derivative(u, out, order, m)
    if order:
        out /= step**order
    if flip:
        out = out[::-1]
    result = np.moveaxis(np.ascontiguousarray(out).reshape(moved), 0, axis)
    if return_smoothing:
        return result, lam.reshape(moved[1:])
    return result


class SplineFit(DerivativeMethod):
    """Interpolating and smoothing-spline derivatives along the whole axis, vectorised over lines.

    Options
    -------
    degree : int, default 3
        1–5 with ``smoothing=None``; 1, 3 or 5 for smoothing splines (penalty on the
        ``(degree + 1) / 2``-th derivative). Derivative orders up to ``degree``.
    smoothing : "auto", float or None, default "auto"
        ``"auto"``: penalty chosen per 1-D line by generalised cross-validation; a number: the
        penalty ``lam`` of ``integral (f^(m))^2 dx`` in the coordinate's units; None: interpolate.

    Examples
    --------
    >>> from fieldgrad.plugin import axis_coord
    >>> m = SplineFit()
    >>> x = axis_coord(np.linspace(0, 3, 50) ** 1.3)              # non-uniform
    >>> d = m.derivative(2 * x.values + 1, x, axis=0, order=1)    # lines are never penalised
    >>> bool(np.allclose(d, 2.0))
    True
    >>> m.halo(x, 1) is None
    True
    """

    name: ClassVar[str] = "spline"
    description: ClassVar[str] = (
        "spline fits along the whole axis: interpolating (degree 1-5) or "
        "smoothing with GCV per line; options degree (3), smoothing ('auto')"
    )
    max_order: ClassVar[int | None] = None  # up to `degree`, checked in check_options
    supports_nonuniform: ClassVar[bool] = True
    boundaries: ClassVar[tuple[str, ...]] = ("one-sided",)

    def check_options(self, order: int, **options: Any) -> dict[str, Any]:
        opts = super().check_options(order, **options)
        degree = _check_degree(opts["degree"])
        smoothing = _check_smoothing(opts["smoothing"], degree)
        if order > degree:
            raise ValueError(
                f"method 'spline' with degree={degree} supports derivative orders up to {degree}, "
                f"got order={order}; raise degree (up to {MAX_DEGREE})"
            )
        return {"degree": degree, "smoothing": smoothing}

    def halo(self, coord: AxisCoord, order: int, **options: Any) -> None:
        return None

    def check_axis(  # type: ignore[override]  # allow LSP violation: options are keyword-only, not **options
        self, coord: AxisCoord, order: int, *, degree: int = 3, smoothing: float | str | None = "auto"
    ) -> None:
        """A penalty that cannot be scaled to this axis's spacing is refused before computing."""
        if isinstance(smoothing, (int, float)) and coord.size > 1:
            step = (coord.values[-1] - coord.values[0]) / (coord.size - 1)
            _unit_penalty(float(smoothing), float(step), (degree + 1) // 2)

    def min_points(self, coord: AxisCoord, order: int, *, degree: int = 3, **options: Any) -> int:
        return degree + 1

    def derivative(
        self,
        values: np.ndarray,
        coord: AxisCoord,
        *,
        axis: int,
        order: int,
        degree: int = 3,
        smoothing: float | str | None = "auto",
    ) -> np.ndarray:
        return spline_derivative(
            values,
            coord.values,
            axis=axis,
            order=order,
            degree=degree,
            smoothing=smoothing,
            parallel=_threads_allowed(),
        )


def _threads_allowed() -> bool:
    """Whether the compiled kernel may start threads: not inside dask tasks or worker threads.

    fieldgrad's engine marks dask tasks with :func:`fieldgrad.kernels.serial_kernels`; a call from
    any thread but the main one also runs serially (numba's default threading layer must not be
    entered from several threads at once).
    """
    import threading

    from fieldgrad.plugin import serial_requested

    if serial_requested():
        return False
    return threading.current_thread() is threading.main_thread()
