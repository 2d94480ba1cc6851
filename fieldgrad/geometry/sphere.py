"""``geometry="sphere"``: latitude/longitude grids, 1-D or 2-D, in degrees or radians.

With 1-D latitude and longitude ``G = diag(R, R cos φ)`` per radian of the axes themselves. With
2-D ones (rotated poles, tripolar grids, grids over a pole) ``G[a, q] = R e_a · ∂r̂/∂q``: the
derivatives of the points' unit vectors ``r̂`` along the grid's index dims, taken with the call's
stencils, on the east and north unit vectors ``e_a`` of each point, which stay accurate where the
grid crosses a pole or the date line. Pole rows of a 1-D latitude are singular: vector results
are NaN there and divergence, curl and Laplacian take the polar cap's value.
A uniform longitude that closes the circle is periodic unless the call chooses its boundary.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from ..coords import AxisCoord, detect_spacing
from .algebra import Coef, bare, det, safe_div
from .axes import (
    DEGREES,
    EAST_UNITS,
    NORTH_UNITS,
    RADIANS,
    cf_kind,
    check_finite,
    coord_values,
    lat_lon_coords,
    units_of,
)
from .base import Geometry, Grid, register_geometry
from .metric import Metric, PolarCaps
from .terms import (
    check_cells_on_sphere,
    check_jacobian,
    embedding_derivatives,
    extra_axes,
    index_dims_in_place,
    refined_keywords,
)

if TYPE_CHECKING:
    from ..keywords import DerivativeKeywords

__all__ = ["EARTH_RADIUS", "Sphere"]

EARTH_RADIUS = 6.371e6  # metres, the Earth's mean radius


@dataclass(frozen=True)
class SphereAxes:
    """What a sphere grid was read as: its latitude and longitude and the sphere's radius."""

    latitude: Hashable | None
    longitude: Hashable | None
    radius: float
    given: tuple[Hashable | None, Hashable | None]  # latitude=, longitude= as the user gave them
    problem: str | None = None  # why latitude/longitude could not be found (reported when needed)
    radius_source: str = "the Earth's mean radius"


@register_geometry
class Sphere(Geometry):
    """Latitude/longitude on a sphere of radius R: derivatives per metre."""

    name = "sphere"
    keywords = ("latitude", "longitude", "radius")

    def detect(self, coords: xr.Dataset, **keywords: Any) -> SphereAxes:
        latitude, longitude, radius = (keywords.get(k) for k in ("latitude", "longitude", "radius"))
        r, source = (float(radius), "radius=") if radius is not None else file_radius(coords)
        try:
            lat, lon = lat_lon_coords(coords, latitude, longitude)
        except ValueError as err:
            return SphereAxes(None, None, r, (latitude, longitude), problem=str(err), radius_source=source)
        return SphereAxes(lat, lon, r, (latitude, longitude), radius_source=source)

    def _lat_lon(self, grid: Grid, keys: Sequence[Hashable] | None) -> tuple[Hashable, Hashable]:
        """The latitude and longitude of a call: named ones among ``keys`` when the grid has several."""
        axes: SphereAxes = grid.axes
        given_lat, given_lon = axes.given
        if keys is not None and given_lat is None and given_lon is None:
            kinds = {k: cf_kind(grid.coords[k]) for k in keys if k in grid.coords.coords}
            lats = [k for k, v in kinds.items() if v == "latitude"]
            lons = [k for k, v in kinds.items() if v == "longitude"]
            if len(lats) == 1 and len(lons) == 1:
                return lats[0], lons[0]
        if axes.latitude is None or axes.longitude is None:
            raise ValueError(axes.problem)
        return axes.latitude, axes.longitude

    def default_keys(self, grid: Grid, field: xr.DataArray | xr.Dataset) -> list[Hashable]:
        return list(self._lat_lon(grid, None))

    def periodic(self, grid: Grid) -> dict[Hashable, float]:
        axes: SphereAxes = grid.axes
        lon = axes.longitude
        if lon is None or lon not in grid.coords.coords or grid.coords[lon].ndim != 1:
            return {}
        lam = coord_values(grid.coords, lon)
        h = detect_spacing(lam) if lam.size > 1 else None
        turn = 2 * np.pi / to_radians(grid.coords[lon], lon)
        full_circle = h is not None and abs(abs(h) * lam.size - turn) < 1e-6 * turn
        return {lon: turn} if full_circle else {}

    def seam(self, grid: Grid) -> Hashable | None:
        """A 1-D uniform longitude from 0 to 360 (both ends: the seam column repeated): its dim."""
        axes: SphereAxes = grid.axes
        lon = axes.longitude
        if lon is None or lon not in grid.coords.coords or grid.coords[lon].ndim != 1 or grid.coords[lon].size < 3:
            return None
        lam = coord_values(grid.coords, lon)
        h = detect_spacing(lam)
        turn = 2 * np.pi / to_radians(grid.coords[lon], lon)
        closes = h is not None and abs(abs(lam[-1] - lam[0]) - turn) < 1e-6 * turn
        return grid.coords[lon].dims[0] if closes else None

    def describe(self, grid: Grid) -> list[str]:
        axes: SphereAxes = grid.axes
        if axes.latitude is None:
            return [f"latitude/longitude: not found ({axes.problem})"]
        out = []
        for kind, name in (("latitude", axes.latitude), ("longitude", axes.longitude)):
            var = grid.coords[name]
            out.append(f"{kind}: {name} {tuple(map(str, var.dims))} in {units_of(var) or 'degrees (no units)'}")
        out.append(f"radius: {axes.radius:g} m ({axes.radius_source})")
        seam = self.seam(grid)
        if seam is not None:
            out.append(f"seam: the last {seam} column repeats the first (computed once, around the circle)")
        lat = axes.latitude
        if grid.coords[lat].ndim == 1:
            phi, _, pole = latitude_terms(grid.coords, lat, to_radians(grid.coords[lat], lat))
            poles = [f"{'north' if phi[i] > 0 else 'south'} pole at {lat}[{i}]" for i in np.flatnonzero(pole)]
            out.append(f"poles: {', '.join(poles) if poles else 'none on the grid'}")
        return out

    def metric(self, grid: Grid, keys: Sequence[Hashable], kw: DerivativeKeywords) -> Metric:
        lat, lon = self._lat_lon(grid, keys)
        coords = grid.coords
        keys = list(keys)
        if lat not in keys or lon not in keys:
            raise ValueError(
                f"geometry='sphere' differentiates along latitude {str(lat)!r} and longitude "
                f"{str(lon)!r} together; got {[str(k) for k in keys]}"
            )
        if lat not in coords.coords or lon not in coords.coords:
            raise ValueError(
                f"geometry='sphere' needs coordinate values for latitude {str(lat)!r} and longitude {str(lon)!r}"
            )
        lat_var, lon_var = coords[lat], coords[lon]
        if lat_var.ndim != lon_var.ndim:
            raise ValueError(f"latitude {str(lat)!r} and longitude {str(lon)!r} must both be 1-D or both 2-D")
        if lat_var.ndim == 1:
            return _sphere_1d(grid, keys, lat, lon, kw)
        return _sphere_2d(grid, keys, lat, lon, kw)


def file_radius(coords: xr.Dataset) -> tuple[float, str]:
    """The sphere's radius the file states (its CF grid mapping's ``earth_radius``, or a
    ``semi_major_axis`` of a sphere), else the Earth's mean radius; and where it came from."""
    name = coords.attrs.get("grid_mapping")
    attrs = coords[name].attrs if name is not None and name in coords.variables else {}
    if "earth_radius" in attrs:
        return float(attrs["earth_radius"]), f"earth_radius of grid_mapping variable {name!r}"
    major = attrs.get("semi_major_axis")
    if major is not None and (attrs.get("inverse_flattening", 0) == 0 or attrs.get("semi_minor_axis") == major):
        return float(major), f"semi_major_axis of grid_mapping variable {name!r} (a sphere)"
    return EARTH_RADIUS, "the Earth's mean radius"


def to_radians(var: xr.DataArray, name: Hashable) -> float:
    """Radians per unit of a latitude/longitude coordinate, from its units. Without units, degrees
    when the values can only be degrees; values that fit radians too are a question: a ValueError."""
    units = units_of(var).replace(" ", "_")
    if units == "":
        limit = np.pi / 2 if cf_kind(var) == "latitude" else 2 * np.pi
        values = np.abs(np.asarray(var.values, dtype=np.float64))
        if values.size and np.nanmax(values) <= limit * (1 + 1e-12):
            raise ValueError(
                f"coordinate {name!r} has no units, and its values fit radians as well as degrees: set its units "
                "attribute ('degrees_north'/'degrees_east', or 'radians')"
            )
        return np.pi / 180.0
    if units in NORTH_UNITS or units in EAST_UNITS or units in DEGREES:
        return np.pi / 180.0
    if units in RADIANS:
        return 1.0
    raise ValueError(
        f"cannot read the units {units!r} of coordinate {name!r}: latitude and longitude must be "
        f"in degrees ({sorted(DEGREES | {'degrees_north', 'degrees_east'})}) or radians "
        f"({sorted(RADIANS)})"
    )


def latitude_terms(coords: xr.Dataset, lat: Hashable, to_rad: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Latitude in radians (validated), its cosine (exactly 0 at the poles) and the pole mask."""
    phi = coord_values(coords, lat) * to_rad
    bad = ~np.isfinite(phi)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"coordinate {lat!r} contains NaN or infinite values (first at index {where})")
    if np.any(np.abs(phi) > np.pi / 2 * (1 + 1e-12)):
        raise ValueError(
            f"latitude {str(lat)!r} has values beyond ±90° (±π/2 rad): are its units right? "
            f"(units {coords[lat].attrs.get('units', 'unset')!r})"
        )
    pole = np.abs(np.abs(phi) - np.pi / 2) <= 1e-9
    return phi, np.where(pole, 0.0, np.cos(phi)), pole


def _sphere_1d(grid: Grid, keys: list[Hashable], lat: Hashable, lon: Hashable, kw: DerivativeKeywords) -> Metric:
    coords, radius = grid.coords, grid.axes.radius
    lat_var, lon_var = coords[lat], coords[lon]
    lat_dim, lon_dim = lat_var.dims[0], lon_var.dims[0]
    if lat_dim == lon_dim:
        raise ValueError(f"latitude {str(lat)!r} and longitude {str(lon)!r} lie along the same dim {lat_dim!r}")
    to_rad, lon_to_rad = to_radians(lat_var, lat), to_radians(lon_var, lon)
    phi, cos, pole = latitude_terms(coords, lat, to_rad)
    G: dict[tuple[str, str], Coef] = {
        (str(lat), str(lat)): radius * to_rad,
        (str(lon), str(lon)): bare(radius * lon_to_rad * cos, (lat_dim,)),
    }
    extra, extra_G, extra_units = extra_axes(grid, keys, (lat, lon), kw)
    labels = tuple(str(k) for k in keys)
    periodic = grid.periodic_dims()
    options: dict[str, Any] = {}
    if lon in periodic and not kw.names_boundary(lon, lon_dim) and _periodic_possible(kw, coord_values(coords, lon)):
        options = {"boundary": {lon: "periodic"}, "period": {lon: periodic[lon]}}
    full_circle = lon in grid.geometry_builder.periodic(grid)
    singular = bare(pole, (lat_dim,)) if pole.any() else None
    caps = _polar_caps(lat_dim, lon_dim, phi, cos, pole, to_rad, radius, kw) if pole.any() and full_circle else None
    return Metric(
        kind="sphere",
        labels=labels,
        dims=labels,
        G={**G, **extra_G},
        length_units={str(lat): "m", str(lon): "m", **extra_units},
        orientation=(str(lon), str(lat), *extra),
        singular=singular,
        caps=caps,
        options=options,
    )


def _periodic_possible(kw: DerivativeKeywords, lam: np.ndarray) -> bool:
    """Whether the call's method can take ``boundary="periodic"`` along ``lam`` (natively or emulated)."""
    method = kw.method_object()
    if "periodic" in method.boundaries:
        return True
    coord = AxisCoord(values=np.asarray(lam, dtype=np.float64), spacing=detect_spacing(lam))
    options = {**method.options, **{k: v for k, v in kw.options.items() if k in method.options}}
    return "one-sided" in method.boundaries and method.halo(coord, 1, **options) is not None


def _polar_caps(
    lat_dim: Hashable,
    lon_dim: Hashable,
    phi: np.ndarray,
    cos: np.ndarray,
    pole: np.ndarray,
    to_rad: float,
    radius: float,
    kw: DerivativeKeywords,
) -> PolarCaps:
    """Rings and extrapolation weights for the pole rows at the ends of a 1-D latitude axis."""
    accuracy = int(kw.options.get("accuracy", 2))
    k = max(1, accuracy // 2)
    n = cos.size
    poles = []
    for index in (0, n - 1):
        if not pole[index]:
            continue
        step = 1 if index == 0 else -1
        rings = [index + step * r for r in range(1, k + 1) if 0 <= index + step * r < n and not pole[index + step * r]]
        if not rings:
            continue
        s = [1.0 - abs(np.sin(phi[r])) for r in rings]
        lagrange = [float(np.prod([s[m] / (s[m] - s[j]) for m in range(len(s)) if m != j])) for j in range(len(s))]
        weights = tuple(float(w * cos[r] / (radius * sr)) for w, r, sr in zip(lagrange, rings, s, strict=True))
        poles.append((index, float(np.sign(phi[index])), tuple(rings), weights))
    return PolarCaps(lat=lat_dim, lon=lon_dim, radius=radius, to_radians=to_rad, poles=tuple(poles))


def unit_vectors(phi: np.ndarray, lam: np.ndarray, pole: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``r̂``, east and north unit vectors (each shape ``(3, *phi.shape)``) at latitudes ``phi`` and
    longitudes ``lam`` in radians. At a pole (``pole``), ``r̂`` is exactly ``(0, 0, ±1)`` (the points
    of a pole row coincide) and east and north are those of the meridian ``lam``."""
    c = np.where(pole, 0.0, np.cos(phi))
    s = np.where(pole, np.sign(phi), np.sin(phi))
    cl, sl = np.cos(lam), np.sin(lam)
    up = np.stack([c * cl, c * sl, s])
    east = np.stack([-sl, cl, np.zeros_like(lam)])
    north = np.stack([-s * cl, -s * sl, c])
    return up, east, north


def _sphere_2d(grid: Grid, keys: list[Hashable], lat: Hashable, lon: Hashable, kw: DerivativeKeywords) -> Metric:
    """2-D latitude and longitude: ``G[a, q] = R e_a · ∂r̂/∂q``, ``e_a`` the east and north unit vectors.

    The derivatives of the points' unit vectors ``r̂`` (:func:`.terms.embedding_derivatives`) are
    as smooth as the grid, across a pole and the date line too; east and north come from each
    point's own latitude and longitude. So east/north components are exact wherever they exist.
    A point exactly at a pole reads its east/north components in the frame of its own longitude
    (the meridian it was given); its vector results are NaN there (no direction is east), its
    divergence, curl and Laplacian finite (NaN on a pole row, whose points coincide). The fold check is made in 3-D
    (:func:`.terms.check_cells_on_sphere`), where the cells around a pole are ordinary cells.
    """
    coords, radius = grid.coords, grid.axes.radius
    lat_var = coords[lat]
    grid_dims = lat_var.dims
    if set(coords[lon].dims) != set(grid_dims):
        raise ValueError(
            f"latitude {str(lat)!r} and longitude {str(lon)!r} must have the same dims, got "
            f"{grid_dims} and {coords[lon].dims}"
        )
    to_rad, lon_to_rad = to_radians(lat_var, lat), to_radians(coords[lon], lon)
    qs = tuple(str(d) for d in grid_dims)
    east_north = (str(lon), str(lat))

    def frame() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        phi, _, pole = latitude_terms(coords, lat, to_rad)
        lam = coord_values(coords, lon)
        check_finite(lam, lon)
        lam = np.transpose(lam, [coords[lon].dims.index(d) for d in grid_dims])  # in the latitude's dim order
        up, east, north = unit_vectors(phi, lam * lon_to_rad, pole)
        check_cells_on_sphere(up, (lon, lat), grid_dims)
        return up, east, north, pole

    up, east, north, pole = grid.memo(
        ("sphere 2-D frame", lat, lon, to_rad, lon_to_rad), frame, depends_on=(lat, lon, *grid_dims)
    )

    def entries(kw_used: DerivativeKeywords) -> tuple[dict[tuple[str, str], Coef], Coef, Coef]:
        d = embedding_derivatives(coords, grid_dims, up, kw_used)
        G: dict[tuple[str, str], Coef] = {}
        for q in qs:
            G[str(lat), q] = bare(radius * np.einsum("a...,a...->...", north, d[q]), grid_dims)
            G[str(lon), q] = bare(radius * np.einsum("a...,a...->...", east, d[q]), grid_dims)
        jacobian = det({(i, j): G[a, q] for i, a in enumerate(east_north) for j, q in enumerate(qs)}, [0, 1], [0, 1])
        check_jacobian(jacobian, (lat, lon), skip=pole)  # type: ignore[arg-type]  # a pole row's points coincide
        return G, jacobian, safe_div(1.0, jacobian)

    def entries_of(kw_used: DerivativeKeywords) -> tuple[dict[tuple[str, str], Coef], Coef, Coef]:
        boundaries = tuple(kw_used.boundary_of(d) for d in grid_dims)
        key = ("sphere 2-D", lat, lon, to_rad, lon_to_rad, radius, kw_used.key(), boundaries)
        return grid.memo(key, lambda: entries(kw_used), depends_on=(lat, lon, *grid_dims))

    extra, extra_G, extra_units = extra_axes(grid, keys, (lat, lon), kw)
    labels = tuple(str(k) for k in keys)
    dims = index_dims_in_place(keys, (lat, lon), qs)
    singular = bare(pole, grid_dims) if pole.any() else None

    def metric(kw_used: DerivativeKeywords, refined: Metric | None) -> Metric:
        G, det_en, inv_det_en = entries_of(kw_used)
        memo: dict[Any, Any] = {}
        if not extra and dims == qs:  # the determinants are those of the kept grid
            north_east = (str(lat), str(lon))
            memo = {
                ("det", east_north): det_en,
                ("1/det", east_north): inv_det_en,
                ("det", north_east): -det_en,
                ("1/det", north_east): -inv_det_en,
            }
        return Metric(
            kind="sphere",
            labels=labels,
            dims=dims,
            G={**G, **extra_G},
            length_units={str(lat): "m", str(lon): "m", **extra_units},
            orientation=(str(lon), str(lat), *extra),
            singular=singular,
            grid_frame=(qs[1], qs[0]),
            refined=refined,
            smooth_frame=False,  # east and north turn around a pole
            _memo=memo,
        )

    finer = refined_keywords(kw, [grid.sizes[d] for d in grid_dims])
    return metric(kw, metric(finer, None) if finer is not kw else None)
