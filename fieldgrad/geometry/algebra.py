"""The algebra of metric coefficients: constants and bare DataArrays, with 0 and 1 short-cut.

Entries of a :class:`~fieldgrad.geometry.metric.Metric` are Python floats (constants) or bare
DataArrays (no coordinates, so they broadcast by dim name against any field on the grid). The
operations skip multiplications by 0 and 1 and additions of 0, so that on a flat grid (the
identity metric) every operator costs exactly its partial derivatives.

Coefficients are float64, and so are the constants here (a Python float would keep a float32
array in float32, NEP 50): a float16, float32 or complex64 field multiplied by a coefficient is
promoted to float64 (complex128), so no product or sum here is rounded to single precision
before it is combined with another; the operator's result is rounded once (:mod:`fieldgrad.call`).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

__all__ = ["Coef", "add", "bare", "det", "div", "is_const", "mul", "safe_div", "sub", "summed"]

Coef = float | xr.DataArray


def is_const(c: Any, value: float) -> bool:
    """Whether ``c`` is the constant ``value`` (a float, not an array that happens to hold it)."""
    return isinstance(c, float) and c == value


def mul(a: Any, b: Coef) -> Any:
    """``a * b`` with 0 and 1 short-cut; ``a`` first, so the result keeps ``a``'s dim order."""
    if is_const(b, 1.0):
        return a
    if is_const(b, 0.0) or is_const(a, 0.0):
        return 0.0
    if is_const(a, 1.0):
        return b
    return _double(a) * _double(b)


def add(a: Any, b: Any) -> Any:
    """``a + b`` with 0 short-cut."""
    if is_const(a, 0.0):
        return b
    if is_const(b, 0.0):
        return a
    return _double(a) + _double(b)


def summed(terms: Iterable[Any]) -> Any:
    """The sum of ``terms`` (0.0 for none), with 0 short-cut.

    Examples
    --------
    >>> summed([0.0, 2.0, 0.0]), summed([])
    (2.0, 0.0)
    """
    out: Any = 0.0
    for term in terms:
        out = add(out, term)
    return out


def sub(a: Any, b: Any) -> Any:
    """``a - b`` with 0 short-cut."""
    if is_const(b, 0.0):
        return a
    if is_const(a, 0.0):
        return -b
    return _double(a) - _double(b)


def div(a: Any, b: Coef) -> Any:
    """``a / b`` with 1 and 0 short-cut."""
    if is_const(b, 1.0) or is_const(a, 0.0):
        return a
    return _double(a) / _double(b)


def _double(c: Any) -> Any:
    """A constant as a float64 scalar, which promotes a single-precision array it meets to float64."""
    return np.float64(c) if isinstance(c, float) else c


def bare(values: Any, dims: Sequence[Hashable]) -> xr.DataArray:
    """A coefficient: ``values`` on ``dims``, without coordinates."""
    return xr.DataArray(values, dims=tuple(dims))


def det(m: Mapping[tuple[int, int], Coef], rows: list[int], cols: list[int]) -> Coef:
    """Determinant by Laplace expansion along the first row, skipping zero entries (n ≤ 4 here)."""
    if not rows:
        return 1.0
    r0, rest = rows[0], rows[1:]
    total: Coef = 0.0
    for k, c in enumerate(cols):
        e = m.get((r0, c), 0.0)
        if is_const(e, 0.0):
            continue
        minor = det(m, rest, [x for x in cols if x != c])
        term = mul(e, minor) if isinstance(e, xr.DataArray) or not isinstance(minor, xr.DataArray) else mul(minor, e)
        total = add(total, term) if k % 2 == 0 else sub(total, term)
    return total


def safe_div(a: Any, b: Coef) -> Any:
    """``a / b`` with NaN (never ±inf, and no warning) where ``b`` is zero."""
    if isinstance(b, xr.DataArray):
        nonzero = b != 0
        return div(a, b.where(nonzero, 1.0)).where(nonzero)
    if b == 0:
        return float("nan")
    return div(a, float(b))
