"""Operators on the sphere: latitude/longitude in degrees, derivatives per metre with metric terms.

For latitude φ and longitude λ (radians here) on a sphere of radius R:

* gradient: ``(1/R ∂f/∂φ, 1/(R cos φ) ∂f/∂λ)`` (northward, eastward);
* divergence of (v northward, u eastward): ``1/(R cos φ) [∂u/∂λ + ∂(v cos φ)/∂φ]``;
* curl (relative vorticity): ``1/(R cos φ) [∂v/∂λ − ∂(u cos φ)/∂φ]``;
* Laplacian: ``1/R² [∂²f/∂φ² − tan φ ∂f/∂φ] + 1/(R² cos² φ) ∂²f/∂λ²``, with true second-derivative stencils.

Which dims are latitude and longitude is never guessed from names: it comes from explicit
``latitude=``/``longitude=`` keywords or from CF attributes (``units`` ``degrees_north`` /
``degrees_east``, or ``standard_name`` ``latitude`` / ``longitude``). A longitude axis that
covers the full circle is periodic unless ``boundary=`` says otherwise for it.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import Any

import numpy as np
import xarray as xr

from .calculus import partial
from .coords import detect_spacing
from .registry import get_method
from .units import base_label, component_labels, divide_units, prefixed_name
from .units import label_result as _finish

__all__ = ["EARTH_RADIUS", "lat_lon_dims", "gradient", "divergence", "curl", "laplacian"]

EARTH_RADIUS = 6.371e6  # metres, the Earth's mean radius
_DEG = np.pi / 180.0
_NORTH = {"degrees_north", "degree_north", "degree_n", "degrees_n", "degreen", "degreesn"}
_EAST = {"degrees_east", "degree_east", "degree_e", "degrees_e", "degreee", "degreese"}


def _cf_kind(var: xr.DataArray) -> str | None:
    units = str(var.attrs.get("units", "")).lower()
    std = str(var.attrs.get("standard_name", "")).lower()
    if units in _NORTH or std in ("latitude", "grid_latitude"):
        return "latitude"
    if units in _EAST or std in ("longitude", "grid_longitude"):
        return "longitude"
    return None


def lat_lon_dims(obj: xr.DataArray, latitude: Hashable | None = None,
                 longitude: Hashable | None = None) -> tuple[Hashable, Hashable]:
    """The (latitude, longitude) dims: explicit, or from CF attributes of 1-D coordinates.

    Examples
    --------
    >>> da = xr.DataArray(np.zeros((3, 4)), dims=("y", "x"),
    ...                   coords={"y": ("y", [0.0, 1, 2], {"units": "degrees_north"}),
    ...                           "x": ("x", [0.0, 1, 2, 3], {"units": "degrees_east"})})
    >>> lat_lon_dims(da)
    ('y', 'x')
    """
    found: dict[str, list[Hashable]] = {"latitude": [], "longitude": []}
    for name, var in obj.coords.items():
        if var.ndim == 1 and var.dims[0] in obj.dims:
            kind = _cf_kind(var)
            if kind:
                found[kind].append(name)
    out = []
    for kind, given in (("latitude", latitude), ("longitude", longitude)):
        if given is not None:
            if given not in obj.dims and given not in obj.coords:
                raise ValueError(f"{kind}={given!r} is not a dimension; dims: {[str(d) for d in obj.dims]}")
            out.append(given)
        elif len(found[kind]) == 1:
            out.append(found[kind][0])
        else:
            raise ValueError(
                f"geometry='sphere' needs the {kind} dim: pass {kind}='...' or give its coordinate CF "
                f"attributes (units 'degrees_{'north' if kind == 'latitude' else 'east'}' or standard_name "
                f"'{kind}'); found {found[kind] or 'none'}")
    return out[0], out[1]


def _phi(obj: xr.DataArray, lat: Hashable) -> xr.DataArray:
    return np.deg2rad(obj[lat].astype(np.float64))


def _periodic_possible(kwargs: dict[str, Any]) -> bool:
    """Whether the method of these keywords can take ``boundary="periodic"`` (natively or emulated)."""
    method = get_method(kwargs.get("method", "fd"))
    if "periodic" in method.boundaries:
        return True
    options = {k: v for k, v in kwargs.items() if k in method.options}
    return method.halo(1, **{**method.options, **options}) is not None


def _options(obj: xr.DataArray, lon: Hashable, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Keywords with a periodic longitude when the grid wraps, ``boundary`` leaves it open, and
    the method can be periodic (a whole-axis method without periodic support stays one-sided)."""
    kw = dict(kwargs)
    boundary = kw.get("boundary", "one-sided")
    if isinstance(boundary, str) and boundary == "one-sided" and lon in obj.coords and _periodic_possible(kw):
        x = np.asarray(obj[lon].values, dtype=np.float64)
        h = detect_spacing(x)
        if h is not None and abs(abs(h) * x.size - 360.0) < 1e-6 * 360.0:
            kw["boundary"] = {lon: "periodic"}
            period = kw.get("period")
            if not isinstance(period, Mapping):
                kw["period"] = {lon: 360.0}
    return kw


def _per_metre(d_deg: xr.DataArray, scale: xr.DataArray | float) -> xr.DataArray:
    """A derivative per degree, to per metre along the sphere (``scale`` = R or R cos φ)."""
    return d_deg / (_DEG * scale)


def _units(field: xr.DataArray, power: int) -> str | None:
    units = field.attrs.get("units")
    return divide_units(units, {"m": power}) if units is not None else None


def gradient(field: xr.DataArray, dims: Iterable[Hashable] | None = None, *, component_dim: Hashable = "component",
             latitude: Hashable | None = None, longitude: Hashable | None = None, radius: float | None = None,
             **kwargs: Any) -> xr.DataArray:
    """Gradient on the sphere, per metre; components labelled by the lat/lon dim names."""
    lat, lon = lat_lon_dims(field, latitude, longitude)
    keys = [lat, lon] if dims is None else list(dims)
    if set(keys) - {lat, lon}:
        raise ValueError(f"geometry='sphere' differentiates along {lat!r} and {lon!r} only, got {keys}")
    R = EARTH_RADIUS if radius is None else float(radius)
    kw = _options(field, lon, kwargs)
    phi = _phi(field, lat)
    parts = {}
    for key in keys:
        d = partial(field, key, **kw)
        parts[str(key)] = _per_metre(d, R if key == lat else R * np.cos(phi))
    out = xr.concat(list(parts.values()), dim=component_dim, coords="minimal", compat="override")
    out = out.assign_coords({component_dim: component_labels(parts)}).transpose(component_dim, *field.dims)
    name = prefixed_name("grad", field.name)
    base = base_label(field, "f")
    return _finish(out, field, name, f"gradient of {base}", _units(field, 1))


def divergence(field: xr.DataArray, comps: Mapping[str, xr.DataArray], *, latitude: Hashable | None = None,
               longitude: Hashable | None = None, radius: float | None = None, **kwargs: Any) -> xr.DataArray:
    """Divergence of a (northward, eastward) vector field on the sphere."""
    lat, lon, v, u, R, kw, cos = _vector_parts(field, comps, latitude, longitude, radius, kwargs)
    out = (partial(u, lon, **kw) + partial(v * cos, lat, **kw)) / (_DEG * R * cos)
    name = prefixed_name("div", field.name)
    base = base_label(field, "F")
    return _finish(out, field, name, f"divergence of {base}", _units(field, 1))


def curl(field: xr.DataArray, comps: Mapping[str, xr.DataArray], *, latitude: Hashable | None = None,
         longitude: Hashable | None = None, radius: float | None = None, **kwargs: Any) -> xr.DataArray:
    """Relative vorticity (the radial component of the curl) on the sphere."""
    lat, lon, v, u, R, kw, cos = _vector_parts(field, comps, latitude, longitude, radius, kwargs)
    out = (partial(v, lon, **kw) - partial(u * cos, lat, **kw)) / (_DEG * R * cos)
    name = prefixed_name("curl", field.name)
    base = base_label(field, "F")
    return _finish(out, field, name, f"relative vorticity of {base}", _units(field, 1))


def _vector_parts(field, comps, latitude, longitude, radius, kwargs):
    first = next(iter(comps.values()))
    lat, lon = lat_lon_dims(first, latitude, longitude)
    if set(comps) != {str(lat), str(lon)}:
        raise ValueError(f"geometry='sphere' needs exactly the components {[str(lat), str(lon)]}, got {list(comps)}")
    R = EARTH_RADIUS if radius is None else float(radius)
    cos = np.cos(_phi(first, lat))
    return lat, lon, comps[str(lat)], comps[str(lon)], R, _options(first, lon, kwargs), cos


def laplacian(field: xr.DataArray, dims: Iterable[Hashable] | None = None, *, latitude: Hashable | None = None,
              longitude: Hashable | None = None, radius: float | None = None, **kwargs: Any) -> xr.DataArray:
    """Laplacian on the sphere (true second-derivative stencils along latitude and longitude)."""
    lat, lon = lat_lon_dims(field, latitude, longitude)
    if dims is not None and set(dims) != {lat, lon}:
        raise ValueError(f"geometry='sphere' Laplacian is over {lat!r} and {lon!r}, got {list(dims)}")
    R = EARTH_RADIUS if radius is None else float(radius)
    kw = _options(field, lon, kwargs)
    phi = _phi(field, lat)
    d2phi = partial(field, lat, order=2, **kw) / _DEG**2
    dphi = partial(field, lat, **kw) / _DEG
    d2lam = partial(field, lon, order=2, **kw) / _DEG**2
    out = (d2phi - np.tan(phi) * dphi) / R**2 + d2lam / (R * np.cos(phi)) ** 2
    name = prefixed_name("laplacian", field.name)
    base = base_label(field, "f")
    return _finish(out, field, name, f"Laplacian of {base}", _units(field, 2))
