"""Units and labels of derivatives: CF/udunits strings in attrs, pint quantities, names and
component labels."""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Mapping
from typing import Any

import numpy as np

__all__ = ["divide_units", "derivative_name", "derivative_long_name", "is_pint", "datetime_unit_symbol",
           "label_result", "prefixed_name", "split_pint", "base_label", "component_labels"]

_TOKEN = re.compile(r"^([A-Za-z_%°][A-Za-z_%°]*)(\^?(-?\d+))?$")
# numpy datetime units -> udunits symbols
_TIME_SYMBOLS = {"Y": "year", "M": "month", "W": "week", "D": "day", "h": "h", "m": "min", "s": "s",
                 "ms": "ms", "us": "us", "ns": "ns", "ps": "ps", "fs": "fs", "as": "as"}


def datetime_unit_symbol(unit: str) -> str:
    """The udunits symbol of a numpy datetime unit (``"D"`` -> ``"day"``)."""
    return _TIME_SYMBOLS.get(unit, unit)


def _parse(units: str) -> dict[str, int] | None:
    """``"kg m-3"`` -> ``{"kg": 1, "m": -3}``; None for strings that are not plain products."""
    powers: dict[str, int] = {}
    if units.strip() in ("1", ""):  # dimensionless
        return powers
    for token in units.replace("*", " ").replace(".", " ").split():
        m = _TOKEN.match(token)
        if m is None:
            return None
        powers[m.group(1)] = powers.get(m.group(1), 0) + int(m.group(3) or 1)
    return powers


def _format(powers: Mapping[str, int]) -> str:
    parts = [sym if p == 1 else f"{sym}{p}" for sym, p in powers.items() if p != 0]
    return " ".join(parts) if parts else "1"


def divide_units(field_units: str, per: Mapping[str, int]) -> str:
    """Units of a derivative: ``field_units`` divided by each unit to the power given.

    Examples
    --------
    >>> divide_units("V", {"m": 1})
    'V m-1'
    >>> divide_units("m s-1", {"m": 1})
    's-1'
    >>> divide_units("K", {"m": 2, "s": 1})
    'K m-2 s-1'
    >>> divide_units("m/s", {"m": 1})
    '(m/s) m-1'
    >>> divide_units("1", {"mm": 1})
    'mm-1'
    """
    powers = _parse(field_units)
    denominators = [_parse(u) for u in per]
    if powers is None or any(d is None for d in denominators):
        tail = " ".join(f"({u})-{p}" if _parse(u) is None else _format({u: -p}) for u, p in per.items())
        head = field_units if _parse(field_units) is not None else f"({field_units})"
        return f"{head} {tail}"
    for d, p in zip(denominators, per.values()):
        for sym, q in d.items():  # type: ignore[union-attr]
            powers[sym] = powers.get(sym, 0) - q * p
    return _format(powers)


def _order_suffix(order: int) -> str:
    return "" if order == 1 else str(order)


def derivative_name(name: Any, orders: Mapping[str, int]) -> str | None:
    """``dV_dx``, ``d2V_dx2``, ``d2V_dxdy``; None for an unnamed field.

    Examples
    --------
    >>> derivative_name("V", {"x": 2})
    'd2V_dx2'
    >>> derivative_name("T", {"x": 1, "y": 1})
    'd2T_dxdy'
    """
    if name is None:
        return None
    total = sum(orders.values())
    dens = "".join(f"d{d}{_order_suffix(o)}" for d, o in orders.items())
    return f"d{_order_suffix(total)}{name}_{dens}"


def derivative_long_name(base: str, orders: Mapping[str, int]) -> str:
    """A readable label for plots, e.g. ``d(air temperature)/dx``.

    Examples
    --------
    >>> derivative_long_name("potential", {"x": 2})
    'd2(potential)/dx2'
    """
    total = sum(orders.values())
    dens = "".join(f"d{d}{_order_suffix(o)}" for d, o in orders.items())
    return f"d{_order_suffix(total)}({base})/{dens}"


def is_pint(data: Any) -> bool:
    """Whether ``data`` is a pint Quantity (checked without importing pint)."""
    return type(data).__module__.split(".")[0] == "pint" and hasattr(data, "magnitude")


def split_pint(data: Any) -> tuple[Any, Any]:
    """``(magnitude, units)`` of pint data, directly or inside dask; ``(data, None)`` otherwise."""
    if is_pint(data):
        return data.magnitude, data.units
    meta = getattr(data, "_meta", None)
    if is_pint(meta):  # dask wrapping pint (quantified, then chunked)
        return data.map_blocks(lambda block: block.magnitude, dtype=data.dtype, meta=meta.magnitude), meta.units
    return data, None


def prefixed_name(prefix: str, name: Any) -> str | None:
    """``"div_E"`` from ``("div", "E")``; None for an unnamed field."""
    return f"{prefix}_{name}" if name is not None else None


def base_label(field: Any, default: str = "f") -> str:
    """What a field is called in a long_name: its long_name, else its name."""
    return str(field.attrs.get("long_name", field.name if field.name is not None else default))


def label_result(result: Any, like: Any, name: str | None, long_name: str, units: str | None) -> Any:
    """Give ``result`` the attrs of ``like`` with new ``units`` and ``long_name``, and a name."""
    attrs = {k: v for k, v in like.attrs.items() if k not in ("units", "long_name")}
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
