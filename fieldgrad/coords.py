"""Coordinates: turn a 1-D coordinate into float64 positions, validate it, detect uniform spacing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .reuse import IdentityCache

__all__ = [
    "AxisCoord",
    "RoundoffStep",
    "as_positions",
    "axis_coord",
    "index_axis_coord",
    "is_shared",
    "is_time_coord",
    "share",
    "time_values",
]

# Positions within this many ulps of max|x| of an arithmetic progression count as uniform:
# np.linspace and np.arange(n) * 0.1 are uniform to round-off but not bit-for-bit.
_UNIFORM_ULPS = 64


class RoundoffStep(float):
    """The step of an axis that is uniform only to round-off: its positions' steps are not all equal.

    Such an axis takes the uniform stencils (exact weights, one division by the step: the better
    numbers), but a weight that is exactly zero there (the centre of a first derivative) is not
    zero on the exact positions, where :func:`numpy.gradient` and
    :meth:`xarray.DataArray.differentiate` use their non-uniform formula and multiply every point
    of the stencil. So it is kept, as a zero term: a NaN spoils the same points as theirs. (An
    infinite value there gives NaN, ``0 * inf``; theirs is NaN where their round-off weight is
    exactly 0 and an infinity signed like that weight elsewhere.) A float in every other respect;
    :class:`AxisCoord` hands it on to the axis's chunks and runs.

    Examples
    --------
    >>> axis_coord(np.linspace(0.0, 0.5, 6)).spacing  # the steps differ in their last bits
    RoundoffStep(0.1)
    >>> type(axis_coord(np.arange(6) * 0.5).spacing)  # every step exactly 0.5
    <class 'float'>
    """

    __slots__ = ()

    def __neg__(self) -> RoundoffStep:
        return RoundoffStep(-float(self))

    def __abs__(self) -> RoundoffStep:
        return RoundoffStep(abs(float(self)))

    def __repr__(self) -> str:
        return f"RoundoffStep({float(self)!r})"


@dataclass(frozen=True)
class AxisCoord:
    """The positions of the points along one axis, validated: what a derivative method receives.

    Attributes
    ----------
    values : ndarray
        float64 positions, strictly monotonic (increasing or decreasing). (The numpy drop-in keeps
        a float16 or float32 spacing's own dtype: stencils are computed in the positions' dtype, as
        :func:`numpy.gradient` computes its weights in the spacing's.)
    spacing : float or None
        The constant step, signed like ``values[1] - values[0]``, when the positions of the
        *whole* axis are uniform to round-off; else None. A chunk or a NaN-free run of a
        non-uniform axis may look uniform: decide by ``spacing``, not by the positions. A
        :class:`RoundoffStep` when the steps are not all exactly equal (:func:`axis_coord`).
    period : float or None
        Given to a method, the length of one period when the axis wraps around
        (``boundary="periodic"``): point ``i`` of ``n`` is also at ``values[i] ± period``.
        None: the axis is an interval with two ends.

    Examples
    --------
    >>> c = AxisCoord(np.array([3.0, 2.0, 1.0]), spacing=1.0)  # the sign follows the positions
    >>> c.spacing, c.uniform, c.size
    (-1.0, True, 3)
    """

    values: np.ndarray
    spacing: float | None
    period: float | None = None

    def __post_init__(self) -> None:
        x = self.values
        if self.spacing is not None and x.shape[0] > 1 and (x[-1] < x[0]) != (self.spacing < 0):
            object.__setattr__(self, "spacing", -self.spacing)

    @property
    def size(self) -> int:
        return int(self.values.shape[0])

    @property
    def uniform(self) -> bool:
        return self.spacing is not None

    def periodic_extension(self, start: int, stop: int) -> AxisCoord:
        """Positions of the points ``start..stop-1`` of the axis repeated periodically.

        Index ``i`` outside ``[0, n)`` is point ``i mod n`` shifted by whole periods (``period``,
        or ``n * spacing`` for a uniform axis without one). A uniform axis whose period is not
        ``n * spacing`` is not uniform across the seam: its extension has no ``spacing``.

        Examples
        --------
        >>> AxisCoord(np.array([0.0, 1.0, 2.0]), 1.0).periodic_extension(-1, 4).values
        array([-1.,  0.,  1.,  2.,  3.])
        >>> AxisCoord(np.array([0.0, 1.0, 2.0]), 1.0, period=3.5).periodic_extension(-1, 4).spacing is None
        True
        """
        x = self.values
        n = x.shape[0]
        spacing = self.spacing
        if self.period is not None:
            period = self.period
            if spacing is not None and abs(period - n * abs(spacing)) > 1e-12 * period:
                spacing = None  # the wrap-around gap differs from the step (as build_stencil decides)
        elif spacing is not None:
            period = n * abs(spacing)
        else:
            raise ValueError("a periodic extension of a non-uniform coordinate needs its period")
        sign = 1.0 if n < 2 or x[-1] > x[0] else -1.0
        idx = np.arange(start, stop)
        return AxisCoord(values=x[idx % n] + sign * period * (idx // n), spacing=spacing, period=None)


def as_positions(coord: object, name: str = "coordinate", datetime_unit: str | None = None) -> np.ndarray:
    """Convert coordinate values to float64 positions.

    Datetime64 values become numbers of ``datetime_unit`` since the earliest value (default: the
    values' own resolution, as :meth:`xarray.DataArray.differentiate` does); timedelta64
    likewise; cftime objects become numbers of ``datetime_unit`` (default seconds) since
    1970-01-01 of their calendar.

    Examples
    --------
    >>> as_positions(np.array(["2000-01-01", "2000-01-02"], dtype="datetime64[D]"), datetime_unit="h")
    array([ 0., 24.])
    """
    arr = np.asarray(coord)
    if arr.dtype.kind in "mM":
        unit = datetime_unit or np.datetime_data(arr.dtype)[0]
        if arr.dtype.kind == "M" and arr.size:
            arr = arr - arr.min()  # exact integer offsets from the earliest time, as xarray does
        return (arr / np.timedelta64(1, unit)).astype(np.float64)  # type: ignore[call-overload]  # unit: a str
    if arr.dtype.kind == "O" and arr.size and _is_cftime(arr.flat[0]):
        return _cftime_positions(arr, datetime_unit or "s")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric, datetime or cftime, got dtype {arr.dtype}")
    return arr.astype(np.float64)


def time_values(data: Any, datetime_unit: str | None = None) -> Any:
    """Numbers of ``datetime_unit`` for datetime64/timedelta64 field values (others returned as they are).

    The conversion of :meth:`xarray.DataArray.differentiate` (xarray's ``datetime_to_numeric``):
    the values minus their earliest one (NaT skipped; taken through float64 as xarray does),
    divided by one ``datetime_unit`` (default: the values' own resolution); NaT becomes NaN.
    Lazy on dask arrays (the offset is a dask reduction).

    Parameters
    ----------
    data : ndarray or dask array
        Field values of any dtype.
    datetime_unit : str, optional
        A numpy datetime unit code (``"h"``, ``"s"``, ``"D"``, ...).

    Returns
    -------
    ndarray or dask array
        float64 for datetime-like ``data``; ``data`` itself otherwise.

    Examples
    --------
    >>> t = np.array(["2000-01-01T00", "NaT", "2000-01-01T06"], dtype="datetime64[s]")
    >>> time_values(t, "h")
    array([ 0., nan,  6.])
    >>> time_values(np.array([90, 30], dtype="timedelta64[m]"))
    array([60.,  0.])
    """
    dtype = getattr(data, "dtype", None)
    if dtype is None or dtype.kind not in "mM":
        return data
    nat = np.isnat(data)
    earliest = np.where(nat, np.inf, data.astype(np.float64)).min()  # no warning when all are NaT
    offset = np.where(np.isfinite(earliest), earliest, 0.0).astype(dtype)
    unit = datetime_unit or np.datetime_data(dtype)[0]
    numbers = (data - offset) / np.timedelta64(1, unit)  # type: ignore[call-overload]  # unit: a str
    return np.where(nat, np.nan, numbers.astype(np.float64))


def _is_cftime(value: object) -> bool:
    return type(value).__module__.split(".")[0] == "cftime"


def is_time_coord(coord: Any) -> bool:
    """Whether a coordinate (DataArray or Variable) holds datetimes or cftime dates, counted in a
    ``datetime_unit``.

    Examples
    --------
    >>> import xarray as xr
    >>> t = xr.DataArray(np.array(["2000-01-01"], dtype="datetime64[ns]"))
    >>> is_time_coord(t), is_time_coord(xr.DataArray([1.0]))
    (True, False)
    """
    if coord.dtype.kind in "mM":
        return True
    return coord.dtype.kind == "O" and coord.size > 0 and _is_cftime(coord.values.flat[0])


def _cftime_positions(arr: np.ndarray, unit: str) -> np.ndarray:
    import cftime

    calendar = arr.flat[0].calendar
    seconds = cftime.date2num(arr, "seconds since 1970-01-01", calendar=calendar)
    return np.asarray(seconds, dtype=np.float64) / (np.timedelta64(1, unit) / np.timedelta64(1, "s"))  # type: ignore[call-overload]


def detect_spacing(x: np.ndarray) -> float | None:
    """The constant step of ``x`` if it is an arithmetic progression to round-off, else None.

    Examples
    --------
    >>> detect_spacing(np.linspace(0, 1, 11))
    0.1
    >>> detect_spacing(np.array([0.0, 1.0, 3.0])) is None
    True
    """
    n = x.shape[0]
    if n < 2:
        return None
    h = (x[-1] - x[0]) / (n - 1)
    tol = _UNIFORM_ULPS * np.finfo(np.float64).eps * max(abs(x[0]), abs(x[-1]), abs(h))
    ideal = x[0] + h * np.arange(n)
    if np.max(np.abs(x - ideal)) <= tol:
        return float(h)
    return None


def validate_positions(x: np.ndarray, name: str) -> None:
    """Raise ValueError unless ``x`` is 1-D, finite and strictly monotonic."""
    if x.ndim != 1:
        raise ValueError(f"coordinate {name!r} must be 1-D, got {x.ndim} dimensions")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"coordinate {name!r} contains NaN or infinite values")
    if x.shape[0] < 2:
        return
    d = np.diff(x)
    if np.any(d == 0):
        i = int(np.flatnonzero(d == 0)[0])
        raise ValueError(f"coordinate {name!r} has a repeated value {float(x[i])!r} at positions {i} and {i + 1}")
    if not (np.all(d > 0) or np.all(d < 0)):
        raise ValueError(f"coordinate {name!r} must be strictly increasing or strictly decreasing (monotonic)")


def axis_coord(
    coord: object,
    name: str = "coordinate",
    *,
    datetime_unit: str | None = None,
    period: float | None = None,
) -> AxisCoord:
    """Validate a 1-D coordinate and return its positions, spacing and period.

    Examples
    --------
    >>> c = axis_coord(np.arange(5) * 0.5, "x")
    >>> c.spacing, c.uniform
    (0.5, True)
    >>> axis_coord([0.0, 2.0, 1.0], "x")
    Traceback (most recent call last):
    ...
    ValueError: coordinate 'x' must be strictly increasing or strictly decreasing (monotonic)
    """
    x = as_positions(coord, name, datetime_unit)
    validate_positions(x, name)
    if period is not None:
        period = float(period)
        if not np.isfinite(period) or period <= 0:
            raise ValueError(f"period must be a positive finite number, got {period!r}")
        span = abs(x[-1] - x[0]) if x.shape[0] > 1 else 0.0
        if period <= span:
            raise ValueError(f"period={period!r} must exceed the span of coordinate {name!r} ({float(span)!r})")
    spacing = detect_spacing(x)
    if spacing is not None and not exactly_uniform(x):
        spacing = RoundoffStep(spacing)
    return AxisCoord(values=x, spacing=spacing, period=period)


def exactly_uniform(x: np.ndarray) -> bool:
    """Whether every step of ``x`` equals the first bit for bit (numpy.gradient's test for its
    uniform formula).

    Examples
    --------
    >>> exactly_uniform(np.arange(5) * 0.5), exactly_uniform(np.linspace(0.0, 0.5, 6))
    (True, False)
    """
    d = np.diff(x)
    return bool((d == d[0]).all()) if d.size else True


_BY_INDEX = IdentityCache(size=256)  # index_axis_coord's: (datetime_unit, period) per index
_SHARED = IdentityCache(size=1024)  # positions made by share(): what is derived from them may be kept


def share(coord: AxisCoord) -> AxisCoord:
    """Make ``coord``'s positions read-only and known as shared: they are fieldgrad's own and never
    change, so what is computed from them (stencils) may be kept for later calls. Returns ``coord``.

    Examples
    --------
    >>> c = share(axis_coord(np.array([0.0, 1.0, 3.0])))
    >>> is_shared(c.values), is_shared(c.values[1:]), is_shared(np.array([0.0, 1.0, 3.0]))
    (True, True, False)
    """
    coord.values.setflags(write=False)
    _SHARED.put((coord.values,), "shared", True)
    return coord


def is_shared(values: np.ndarray) -> bool:
    """Whether ``values`` are positions made by :func:`share`, or a read-only view of them.

    Read-only alone is not enough: a read-only view of a writable array changes with it.
    """
    if values.flags.writeable:
        return False
    root = values
    while isinstance(root.base, np.ndarray):
        root = root.base
    return _SHARED.get((root,), "shared") is True


def index_axis_coord(
    index: Any, name: str = "coordinate", *, datetime_unit: str | None = None, period: float | None = None
) -> AxisCoord:
    """:func:`axis_coord` of an immutable coordinate (a pandas Index), validated once per index object.

    An xarray dimension coordinate is backed by a pandas Index, which cannot be changed in place
    (pandas caches its monotonicity on the same assumption) and which xarray shares between a
    field and everything derived from it. Its positions, validation and spacing are therefore
    computed on the first call and reused while the index lives; the positions returned are
    read-only, since every caller shares them.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.Index([0.0, 0.5, 1.0])
    >>> c = index_axis_coord(idx, "x")
    >>> c.spacing, c is index_axis_coord(idx, "x"), c.values.flags.writeable
    (0.5, True, False)
    """
    key = (datetime_unit, None if period is None else float(period))
    coord = _BY_INDEX.get((index,), key)
    if coord is None:
        coord = share(axis_coord(np.asarray(index), name, datetime_unit=datetime_unit, period=period))
        _BY_INDEX.put((index,), key, coord)
    return coord
