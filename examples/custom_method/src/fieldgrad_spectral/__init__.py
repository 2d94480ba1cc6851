"""An example fieldgrad plugin: spectral derivatives of periodic fields sampled on uniform grids.

The derivative of ``f(x) = sum c_k exp(i k x)`` is ``sum (i k)^order c_k exp(i k x)``: one FFT along
the axis, a multiplication, one inverse FFT. Exact for trigonometric polynomials the grid
resolves; it needs the whole axis (``halo`` None), a uniform coordinate and periodic data.

Examples
--------
>>> import numpy as np
>>> import xarray as xr
>>> import fieldgrad
>>> x = np.linspace(0, 2 * np.pi, 32, endpoint=False)
>>> da = xr.DataArray(np.sin(3 * x), dims="x", coords={"x": x})
>>> d = da.grad.partial("x", method=Spectral, boundary="periodic")
>>> bool(np.allclose(d.values, 3 * np.cos(3 * x)))
True
"""

from __future__ import annotations

import numpy as np

from fieldgrad.plugin import AxisCoord, DerivativeMethod

__all__ = ["Spectral"]


class Spectral(DerivativeMethod):
    """Spectral (FFT) derivatives of periodic data on a uniform grid.

    Examples
    --------
    >>> from fieldgrad.plugin import axis_coord
    >>> x = axis_coord(np.arange(8) * (2 * np.pi / 8), period=2 * np.pi)
    >>> Spectral().derivative(np.cos(x.values), x, axis=0, order=1).round(12) + 0.0
    array([ 0.        , -0.70710678, -1.        , -0.70710678,  0.        ,
            0.70710678,  1.        ,  0.70710678])
    """

    name = "spectral"
    description = "spectral (FFT) derivatives of periodic data on uniform grids"
    boundaries = ("periodic",)  # periodic axes only: coord.period is always set

    def halo(self, coord: AxisCoord, order: int) -> None:
        return None  # every point depends on the whole line

    def min_points(self, coord: AxisCoord, order: int) -> int:
        return 2

    def derivative(self, values: np.ndarray, coord: AxisCoord, *, axis: int, order: int) -> np.ndarray:
        n, step = coord.size, coord.spacing
        if not np.isclose(n * abs(step), coord.period, rtol=1e-9):
            raise ValueError(
                f"method 'spectral' needs the samples to cover one period exactly: "
                f"{n} points x step {abs(step)} = {n * abs(step)}, but period={coord.period}"
            )
        factor = (2j * np.pi * np.fft.fftfreq(n, d=step)) ** order
        if order % 2 == 1 and n % 2 == 0:
            factor[n // 2] = 0.0  # the Nyquist mode has no well-defined odd derivative
        shape = [n if a == axis % values.ndim else 1 for a in range(values.ndim)]
        out = np.fft.ifft(np.fft.fft(values, axis=axis) * factor.reshape(shape), axis=axis)
        return out if np.iscomplexobj(values) else out.real
