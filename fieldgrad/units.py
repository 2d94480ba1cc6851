"""Units and labels of derivatives: CF/udunits strings in attrs, pint quantities, names and
component labels.

Unit strings. A derivative's ``units`` attr is the field's divided by the coordinates'. When
every string is a plain product of symbols with integer powers (``"kg m-3"``, ``"m s**-1"``,
``"m2.s-2"``), the division is exact string algebra: no library, the input's own symbols kept
(``"K"`` per ``"millibars"`` is ``"K millibars-1"``, which udunits and pint both read). Any
other string (``"m/s"``, ``"W/(m2 sr)"``) is parsed, divided and written back by **pint with
cf-xarray's CF unit registry** (``cf_xarray.units.units``): pint because fieldgrad already
speaks pint (pint-xarray quantities, :func:`is_pint`) and it is pure Python, where cf_units
needs the udunits2 C library; cf-xarray's registry because it reads udunits spellings
(``"m s-1"``, ``"degrees_north"``, ``"millibars"``) and writes them (its ``"cf"`` format).
Both are optional (installed with the ``[io]`` extra); without them such strings are kept in
parentheses, ``"(m/s) m-1"``, which is still unambiguous.

Labels. A derivative is a different quantity from its field: :func:`label_result` keeps the
field's descriptive attrs (``source``, ``history``, ...) but never the ones that describe the
field's quantity (``standard_name``, ``valid_range``, GRIB parameter codes, ...): a CF
``standard_name`` is set only where the CF standard-name table names the derived quantity
(:mod:`fieldgrad.cf`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Hashable, Iterable, Mapping
from typing import Any

import numpy as np

__all__ = [
    "divide_units",
    "derivative_name",
    "derivative_long_name",
    "is_pint",
    "datetime_unit_symbol",
    "datetime_unit_code",
    "DatetimeUnitError",
    "label_result",
    "prefixed_name",
    "split_pint",
    "base_label",
    "component_labels",
    "cf_registry",
    "same_dimension",
    "derived_attrs",
]

_TOKEN = re.compile(r"^([A-Za-z_%°][A-Za-z_%°]*)(\^?(-?\d+))?$")
# numpy datetime units -> udunits symbols
_TIME_SYMBOLS = {
    "Y": "year",
    "M": "month",
    "W": "week",
    "D": "day",
    "h": "h",
    "m": "min",
    "s": "s",
    "ms": "ms",
    "us": "us",
    "ns": "ns",
    "ps": "ps",
    "fs": "fs",
    "as": "as",
}
# the numpy codes a datetime coordinate can be counted in (years and months have no fixed length)
DATETIME_UNITS = ("W", "D", "h", "m", "s", "ms", "us", "ns", "ps", "fs", "as")
_TIME_SPELLINGS = {
    "week": "W",
    "weeks": "W",
    "day": "D",
    "days": "D",
    "d": "D",
    "hour": "h",
    "hours": "h",
    "hr": "h",
    "minute": "m",
    "minutes": "m",
    "min": "m",
    "second": "s",
    "seconds": "s",
    "sec": "s",
    "millisecond": "ms",
    "milliseconds": "ms",
    "microsecond": "us",
    "microseconds": "us",
    "µs": "us",
    "nanosecond": "ns",
    "nanoseconds": "ns",
}


class DatetimeUnitError(ValueError, TypeError):
    """An invalid ``datetime_unit``: a ValueError, and a TypeError like xarray's (numpy's) own."""


def datetime_unit_code(unit: str) -> str:
    """The numpy code of a datetime unit given as a code or a common spelling.

    Examples
    --------
    >>> datetime_unit_code("hours"), datetime_unit_code("s"), datetime_unit_code("D")
    ('h', 's', 'D')
    >>> datetime_unit_code("M")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    fieldgrad.units.DatetimeUnitError: datetime_unit='M' (months) has no fixed length; valid units: W, D, h, m, ...
    """
    valid = f"valid units: {', '.join(DATETIME_UNITS)} (or e.g. 'hours', 'seconds', 'days')"
    if not isinstance(unit, str):
        raise DatetimeUnitError(f"datetime_unit must be a string, got {unit!r}; {valid}")
    if unit in DATETIME_UNITS:
        return unit
    if unit in ("Y", "M"):
        raise DatetimeUnitError(
            f"datetime_unit={unit!r} ({'years' if unit == 'Y' else 'months'}) has no fixed length; {valid}"
        )
    code = _TIME_SPELLINGS.get(unit.strip().lower())
    if code is None:
        raise DatetimeUnitError(f"unknown datetime_unit {unit!r}; {valid}")
    return code


def datetime_unit_symbol(unit: str) -> str:
    """The udunits symbol of a numpy datetime unit (``"D"`` -> ``"day"``)."""
    return _TIME_SYMBOLS.get(unit, unit)


def _parse(units: str) -> dict[str, int] | None:
    """``"kg m-3"``, ``"kg m**-3"`` -> ``{"kg": 1, "m": -3}``; None for strings that are not plain products."""
    powers: dict[str, int] = {}
    if units.strip() in ("1", ""):  # dimensionless
        return powers
    for token in units.replace("**", "").replace("*", " ").replace(".", " ").split():
        m = _TOKEN.match(token)
        if m is None:
            return None
        powers[m.group(1)] = powers.get(m.group(1), 0) + int(m.group(3) or 1)
    return powers


def _format(powers: Mapping[str, int]) -> str:
    parts = [sym if p == 1 else f"{sym}{p}" for sym, p in powers.items() if p != 0]
    return " ".join(parts) if parts else "1"


@functools.lru_cache(maxsize=1)
def cf_registry() -> Any:
    """cf-xarray's pint registry of CF/udunits units, or None when pint or cf-xarray is missing."""
    try:
        from cf_xarray.units import units
    except ImportError:
        return None
    return units


# pint's "cf" format writes a few symbols that are not ASCII; udunits reads these spellings
_ASCII = {"°C": "degC", "°F": "degF", "µ": "u", "Δ": "delta_"}


def _pint_divide(field_units: str, per: Mapping[str, int]) -> str | None:
    registry = cf_registry()
    if registry is None:
        return None
    try:
        result = registry.Unit(field_units)
        for u, p in per.items():
            result = result / registry.Unit(u) ** p
        text = format(result, "cf")
    except Exception:  # noqa: BLE001 - anything pint cannot read: offsets ("hours since ..."), scale factors, unknown names
        return None
    for old, new in _ASCII.items():
        text = text.replace(old, new)
    return text or "1"


def same_dimension(a: str, b: str) -> bool:
    """Whether two unit strings measure the same kind of quantity (``"s-1"`` and ``"h-1"``).

    With pint and cf-xarray, by their dimensions; without them, only identical products count.

    Examples
    --------
    >>> same_dimension("m s-1 m-1", "s-1"), same_dimension("K m-1", "s-1")
    (True, False)
    """
    registry = cf_registry()
    if registry is not None:
        try:
            return bool(registry.Unit(a).dimensionality == registry.Unit(b).dimensionality)
        except Exception:  # noqa: BLE001 - pint raises many types for unreadable units: not the same
            return False
    pa, pb = _parse(a), _parse(b)
    return (
        pa is not None and pb is not None and {k: v for k, v in pa.items() if v} == {k: v for k, v in pb.items() if v}
    )


def divide_units(field_units: str, per: Mapping[str, int]) -> str:
    """Units of a derivative: ``field_units`` divided by each unit to the power given.

    Plain products of symbols are divided exactly as strings; other strings through pint with
    cf-xarray's CF registry (parenthesised as they are when those are not installed).

    Examples
    --------
    >>> divide_units("V", {"m": 1})
    'V m-1'
    >>> divide_units("m s-1", {"m": 1})
    's-1'
    >>> divide_units("m s**-1", {"m": 1})
    's-1'
    >>> divide_units("K", {"m": 2, "s": 1})
    'K m-2 s-1'
    >>> divide_units("K", {"millibars": 1})
    'K millibars-1'
    >>> divide_units("m/s", {"m": 1})  # 's-1' through pint; '(m/s) m-1' without it
    's-1'
    >>> divide_units("1", {"mm": 1})
    'mm-1'
    >>> divide_units("meter second-1", {"m": 1})  # two spellings of one unit cancel
    'second-1'
    """
    powers = _parse(field_units)
    denominators = [_parse(u) for u in per]
    if powers is None or any(d is None for d in denominators):
        done = _pint_divide(field_units, per)
        if done is not None:
            return done
        tail = " ".join(f"({u})-{p}" if _parse(u) is None else _format({u: -p}) for u, p in per.items())
        head = field_units if _parse(field_units) is not None else f"({field_units})"
        return f"{head} {tail}"
    for d, p in zip(denominators, per.values(), strict=True):
        for sym, q in d.items():  # type: ignore[union-attr]
            sym = _spelled_as(sym, powers)
            powers[sym] = powers.get(sym, 0) - q * p
    return _format(powers)


# spellings of one unit in udunits strings (a symbol of the field's units and another of a
# coordinate's cancel: "meter second-1" per "m" is "second-1")
_SAME_UNIT = [
    {"m", "meter", "meters", "metre", "metres"},
    {"km", "kilometer", "kilometers", "kilometre", "kilometres"},
    {"s", "sec", "secs", "second", "seconds"},
    {"min", "minute", "minutes"},
    {"h", "hr", "hour", "hours"},
    {"day", "days", "d"},
    {"K", "kelvin"},
    {"Pa", "pascal", "pascals"},
]
_SPELLINGS = {name: group for group in _SAME_UNIT for name in group}


def _spelled_as(symbol: str, powers: Mapping[str, int]) -> str:
    """``symbol`` as the field's units spell the same unit, if they do (else as it is)."""
    if symbol in powers:
        return symbol
    for other in _SPELLINGS.get(symbol, ()):
        if powers.get(other):
            return other
    return symbol


def _order_suffix(order: int) -> str:
    return "" if order == 1 else str(order)


def derivative_name(name: Any, orders: Mapping[str, int]) -> str | None:
    """``dV_dx``, ``d2V_dx2``, ``d2V_dxdy``; None for an unnamed field; dims of order 0 are left out
    (order 0 along every dim is the field itself, named as it is).

    Examples
    --------
    >>> derivative_name("V", {"x": 2})
    'd2V_dx2'
    >>> derivative_name("T", {"x": 1, "y": 1, "z": 0})
    'd2T_dxdy'
    >>> derivative_name("T", {"x": 0})
    'T'
    """
    if name is None:
        return None
    orders = {d: o for d, o in orders.items() if o}
    total = sum(orders.values())
    if total == 0:
        return str(name)
    dens = "".join(f"d{d}{_order_suffix(o)}" for d, o in orders.items())
    return f"d{_order_suffix(total)}{name}_{dens}"


def derivative_long_name(base: str, orders: Mapping[str, int]) -> str:
    """A readable label for plots, e.g. ``d(air temperature)/dx``.

    Examples
    --------
    >>> derivative_long_name("potential", {"x": 2})
    'd2(potential)/dx2'
    >>> derivative_long_name("potential", {"x": 0})
    'potential'
    """
    orders = {d: o for d, o in orders.items() if o}
    total = sum(orders.values())
    if total == 0:
        return base
    dens = "".join(f"d{d}{_order_suffix(o)}" for d, o in orders.items())
    return f"d{_order_suffix(total)}({base})/{dens}"


def is_pint(data: Any) -> bool:
    """Whether ``data`` is a pint Quantity (checked without importing pint)."""
    return type(data).__module__.split(".")[0] == "pint" and hasattr(data, "magnitude")


def split_pint(data: Any) -> tuple[Any, Any]:
    """``(magnitude, units)`` of pint data, directly or inside dask; ``(data, None)`` otherwise."""
    if is_pint(data):
        return data.magnitude, data.units
    meta: Any = getattr(data, "_meta", None)
    if is_pint(meta):  # dask wrapping pint (quantified, then chunked)
        return data.map_blocks(lambda block: block.magnitude, dtype=data.dtype, meta=meta.magnitude), meta.units
    return data, None


def prefixed_name(prefix: str, name: Any) -> str | None:
    """``"div_E"`` from ``("div", "E")``; None for an unnamed field."""
    return f"{prefix}_{name}" if name is not None else None


def base_label(field: Any, default: str = "f") -> str:
    """What a field is called in a long_name: its long_name, else its name."""
    return str(field.attrs.get("long_name", field.name if field.name is not None else default))


# attrs that describe the field's quantity, so never a derivative's: its CF identity and valid
# values (netCDF readers mask values outside valid_*), flags, and the GRIB parameter (cfgrib's GRIB_*)
_QUANTITY_ATTRS = frozenset(
    {
        "units",
        "long_name",
        "standard_name",
        "valid_min",
        "valid_max",
        "valid_range",
        "actual_range",
        "flag_values",
        "flag_masks",
        "flag_meanings",
        "ancillary_variables",
    }
)


def derived_attrs(attrs: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
    """The attrs of a field that still hold for its derivative (its ``source``, ``history``, ...).

    Examples
    --------
    >>> derived_attrs({"standard_name": "air_temperature", "units": "K", "valid_max": 350.0,
    ...                "GRIB_paramId": 130, "source": "ERA5"})
    {'source': 'ERA5'}
    """
    return {k: v for k, v in attrs.items() if k not in _QUANTITY_ATTRS and not str(k).startswith("GRIB_")}


def label_result(
    result: Any, like: Any, name: str | None, long_name: str, units: str | None, *, standard_name: str | None = None
) -> Any:
    """Give ``result`` the attrs of ``like`` that hold for a derivative, new ``units``, ``long_name``
    and ``standard_name`` (only when given: a field's standard name is never copied), and a name."""
    attrs = derived_attrs(like.attrs)
    if standard_name is not None:
        attrs["standard_name"] = standard_name
    if units is not None:
        attrs["units"] = units
    attrs["long_name"] = long_name
    result.attrs = attrs
    result.name = name
    return result


def component_labels(labels: Iterable[Hashable]) -> np.ndarray:
    """The labels of a component dimension: ``str`` in an object array.

    Files then store them as variable-length strings: zarr v3 has a specification for those
    but none for numpy's fixed-width unicode (``<U1``), which other zarr readers may not read.

    Examples
    --------
    >>> component_labels(["x", "y"])
    array(['x', 'y'], dtype=object)
    """
    return np.array([str(v) for v in labels], dtype=object)
