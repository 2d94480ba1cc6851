"""What a call refuses before anything is computed: each check names the argument and the fix."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import xarray as xr

if TYPE_CHECKING:
    from .geometry.metric import Metric
    from .keywords import DerivativeKeywords

__all__ = ["check_component_names", "check_field_dtype", "check_keys", "check_new_dims", "check_period_applies"]

# encoding key of a vector field built from variables: {component label: the variable's standard_name}
COMPONENT_STANDARD_NAMES = "fieldgrad_component_standard_names"


def check_new_dims(new_dims: Sequence[str], field: xr.DataArray, arguments: Mapping[str, Any]) -> None:
    """The dims an operator adds (the arguments ``new_dims`` name them) must be new: not a dim of the
    field, and not one another."""
    names = [arguments[a] for a in new_dims]
    for a, name in zip(new_dims, names, strict=True):
        if name in field.dims:
            raise ValueError(f"the field already has a dimension {name!r}; pass another {a}=")
    if len(set(names)) != len(names):
        raise ValueError(f"{' and '.join(new_dims)} must differ, got {names}")


def check_field_dtype(field: xr.DataArray) -> None:
    kind = field.dtype.kind
    if kind not in "biufcmM":
        raise TypeError(
            "the field must be numeric (integer, boolean, float or complex), datetime64 or "
            f"timedelta64, got dtype {field.dtype}"
        )


def check_keys(field: xr.DataArray, keys: Sequence[Hashable]) -> None:
    """Each key a dim or coordinate of the field, and none named twice (the sum would count it twice)."""
    repeated = sorted({str(k) for k in keys if list(keys).count(k) > 1}) if len(keys) > 1 else []
    if repeated:
        raise ValueError(
            f"{repeated} named more than once; each direction counts once (dims: {[str(k) for k in keys]})"
        )
    if not keys:
        raise ValueError("no dimension given to differentiate along")
    for k in keys:
        if k not in field.dims and k not in field.coords:
            raise ValueError(f"unknown dimension {k!r}; available dims: {[str(d) for d in field.dims]}")


def _direction_of(standard_name: str | None) -> str | None:
    """``"east"``, ``"north"`` (earth-relative), ``"x"``, ``"y"`` (along the grid) or None: what a CF
    standard name says its component points along."""
    if not standard_name:
        return None
    for prefix, direction in (("eastward_", "east"), ("northward_", "north"), ("grid_eastward", "x")):
        if standard_name.startswith(prefix):
            return direction
    if standard_name.startswith("grid_northward"):
        return "y"
    if standard_name.startswith("x_") or "_x_" in standard_name:
        return "x"
    if standard_name.startswith("y_") or "_y_" in standard_name:
        return "y"
    return None


def check_component_names(vector: xr.DataArray, metric: Metric, geometry: str) -> None:
    """Components whose CF standard names contradict their labels (swapped, or earth-relative
    winds labelled with a grid's dims) are refused, naming the fix."""
    names = vector.encoding.get(COMPONENT_STANDARD_NAMES, {})
    if not names or geometry == "cartesian" or len(metric.handed) < 2:
        return
    first, second = metric.handed[:2]  # east and north on the sphere; x and y of a projection
    roles = {first: "east", second: "north"} if geometry == "sphere" else {first: "x", second: "y"}
    if metric.grid_frame is not None:
        roles.update(dict(zip(metric.grid_frame, ("x", "y"), strict=True)))
    same = {"x": "east", "y": "north"} if geometry == "sphere" and metric.grid_frame is None else {}
    for label, name in names.items():
        said, role = _direction_of(name), roles.get(label)
        said = same.get(said, said) if said is not None else None  # a regular lat/lon grid's x is east
        if said is None or role is None or said == role:
            continue
        opposite = {"east": "north", "north": "east", "x": "y", "y": "x"}
        if opposite[said] == role:
            raise ValueError(
                f"the component along {label!r} is {name!r}: the components are swapped (give each variable "
                "as the component its standard name says)"
            )
        frame = "earth-relative (east/north)" if said in ("east", "north") else "grid-relative (along the grid)"
        where = (
            "the grid's index dims"
            if label in (metric.grid_frame or ())
            else ("the projection's axes" if geometry == "projected" else "latitude/longitude")
        )
        raise ValueError(
            f"the component along {label!r} is {name!r}, {frame}, but {label!r} is one of {where}: label "
            "earth-relative components by the longitude/latitude and grid-relative ones by the grid's index "
            "dims (frame='grid')"
        )


def check_period_applies(kw: DerivativeKeywords, keys: Sequence[Hashable]) -> None:
    """A ``period`` the call gave must be for a dim that wraps around (``boundary="periodic"``, or a
    longitude the grid wraps): without one it would be ignored, and the ends differentiated one-sided."""
    if "period" not in kw.given or kw.period is None:
        return
    if isinstance(kw.period, Mapping):
        for d, p in kw.period.items():
            if kw.boundary_of(d) != "periodic":
                raise ValueError(
                    f"period={{{d!r}: {p!r}}} is for a dim that wraps around, but {d!r} has boundary "
                    f"{kw.boundary_of(d)!r}: pass boundary={{{d!r}: 'periodic'}} too"
                )
    elif not any(kw.boundary_of(k) == "periodic" for k in keys):
        raise ValueError(
            f"period={kw.period!r} is for dims that wrap around, and none of {[str(k) for k in keys]} has "
            "boundary='periodic': pass boundary='periodic' too (or a {dim: 'periodic'} mapping)"
        )
