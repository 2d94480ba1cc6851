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

from typing import Any, ClassVar

import numpy as np

import fieldgrad

__all__ = ["Spectral"]


class Spectral(fieldgrad.DerivativeMethod):
    """Spectral (FFT) derivatives of periodic data on a uniform grid.

    Examples
    --------
    >>> x = np.arange(8) * (2 * np.pi / 8)
    >>> Spectral().derivative(np.cos(x), x, axis=0, order=1, spacing=x[1]).round(12) + 0.0
    array([ 0.        , -0.70710678, -1.        , -0.70710678,  0.        ,
            0.70710678,  1.        ,  0.70710678])
    """

    # --- capabilities: class attributes, read without calling anything
    name: ClassVar[str] = "spectral"
    description: ClassVar[str] = "spectral (FFT) derivatives of periodic data on uniform grids"
    max_order: ClassVar[int | None] = None  # any order
    supports_nonuniform: ClassVar[bool] = False  # the engine refuses non-uniform coordinates for us
    boundaries: ClassVar[tuple[str, ...]] = ("periodic",)  # the only boundary that makes sense here
    options: ClassVar[dict[str, Any]] = {}  # no options of its own

    def halo(self, order: int, **options: Any) -> None:
        # every output point depends on every input point: the engine gives us whole lines
        return None

    def min_points(self, order: int, **options: Any) -> int:
        return 2

    def derivative(
        self,
        values: np.ndarray,
        coord: np.ndarray,
        *,
        axis: int,
        order: int,
        spacing: float | None = None,
        period: float | None = None,
        **options: Any,
    ) -> np.ndarray:
        n = values.shape[axis]
        step = (coord[-1] - coord[0]) / (n - 1) if spacing is None else abs(spacing) * np.sign(coord[-1] - coord[0])
        length = n * step
        if period is not None and not np.isclose(abs(period), abs(length), rtol=1e-9):
            raise ValueError(
                f"method 'spectral' needs the samples to cover one period exactly: "
                f"{n} points x step {abs(step)} = {abs(length)}, but period={period}"
            )
        k = 2 * np.pi * np.fft.fftfreq(n, d=step)
        factor = (1j * k) ** order
        if order % 2 == 1 and n % 2 == 0:
            factor[n // 2] = 0.0  # the Nyquist mode has no well-defined odd derivative
        shape = [1] * values.ndim
        shape[axis] = n
        spectrum = np.fft.fft(values, axis=axis) * factor.reshape(shape)
        out = np.fft.ifft(spectrum, axis=axis)
        return out if np.iscomplexobj(values) else out.real
