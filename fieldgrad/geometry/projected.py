"""``geometry="projected"``: 1-D projection coordinates of a conformal map projection.

``G = diag(1/m, 1/m)`` with ``m`` the map factor of the projection at each point: map length per
length on the Earth's ellipsoid. The projection is the CF ``grid_mapping`` of the field (a
coordinate of a DataArray, a variable of a Dataset) or ``crs=``; the coordinates are those with
the standard names ``projection_x_coordinate``/``projection_y_coordinate`` (or ``axis`` X/Y), in
metres or km.

The map factor is derived from the grid's points, not taken from ``pyproj.Proj.get_factors``:
PROJ differentiates the projection numerically with a small step, so its factors carry noise of
a few 1e-11, which the operators' derivatives of ``m`` divide by the grid spacing (fourth-order
results stopped converging near 1e-8 below 25-50 km). Here pyproj's inverse projection gives the
geographic position of points along each grid line, as a point of the ellipsoid in 3-D
(geocentric, so nothing is singular at a pole), and ``1/m = |∂P/∂x|`` is its derivative by
central differences of order 8 with a step of 1/64 of the ellipsoid's semi-major axis (about
100 km; truncation below 1e-16 for the scales over which projections vary, round-off of PROJ's
positions, ~5e-9 m, divided by the step: ~1e-13). On a uniform axis finer than that the step is
a multiple of the spacing, so the points are the grid's own plus a margin beyond its edges; where
a stencil leaves the projection's domain, shorter steps are taken there.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from ..coords import detect_spacing
from .algebra import Coef, bare
from .axes import METRES, coord_values, projection_xy, units_of
from .base import Geometry, Grid, register_geometry
from .metric import Metric
from .terms import extra_axes

if TYPE_CHECKING:
    from ..keywords import DerivativeKeywords

__all__ = ["Projected", "grid_mapping_name"]

#: The step of the derivatives of the points' positions, in units of the ellipsoid's semi-major
#: axis (at most an eighth of the grid's extent, so that the margin stays within the grid's size).
STEP = 1.0 / 64

#: Central differences of order 8: ``f'(x) = Σ_k w_k (f(x + k h) - f(x - k h)) / h + O(h⁸)``.
CENTRAL = ((1, 4.0 / 5.0), (2, -1.0 / 5.0), (3, 4.0 / 105.0), (4, -1.0 / 280.0))

#: Points per block of the inverse projection (bounds the memory of the margins' positions).
_BLOCK = 1 << 20


@dataclass(frozen=True)
class ProjectedAxes:
    """What a projected grid was read as: its projection and its x and y coordinates."""

    crs: Any  # pyproj.CRS
    source: str  # where the projection came from, for messages
    x: Hashable
    y: Hashable
    scale_x: float  # metres per unit of x
    scale_y: float


@register_geometry
class Projected(Geometry):
    """Map projections: x/y in metres, corrected by the map factors (conformal projections only)."""

    name = "projected"
    keywords = ("crs",)

    def detect(self, coords: xr.Dataset, **keywords: Any) -> ProjectedAxes:
        pyproj = _pyproj()
        crs_obj, source = _read_crs(coords, keywords.get("crs"), pyproj)
        if not crs_obj.is_projected:
            raise ValueError(
                f"geometry='projected' needs a projected coordinate reference system; {source} is {crs_obj.name!r}"
            )
        xy = projection_xy(coords)
        if xy is None:
            raise ValueError(
                "geometry='projected' needs the projection's x and y coordinates: 1-D coordinates "
                "with standard_name 'projection_x_coordinate' / 'projection_y_coordinate' (or axis X/Y)"
            )
        x, y = xy
        return ProjectedAxes(crs_obj, source, x, y, _metres_per_unit(coords, x), _metres_per_unit(coords, y))

    def default_keys(self, grid: Grid, field: xr.DataArray | xr.Dataset) -> list[Hashable]:
        axes: ProjectedAxes = grid.axes
        return [axes.y, axes.x]

    def describe(self, grid: Grid) -> list[str]:
        axes: ProjectedAxes = grid.axes
        return [
            f"projection: {axes.crs.name} (from {axes.source})",
            f"x: {axes.x} in {units_of(grid.coords[axes.x])}, y: {axes.y} in {units_of(grid.coords[axes.y])}",
        ]

    def map_factor(self, grid: Grid) -> np.ndarray:
        """The map factor ``m`` at every (y, x) point, computed once per grid.

        ``1/m`` is the length on the ellipsoid per metre along x (and along y: the projection must
        be conformal, the two lengths equal and their directions at right angles to 1e-6), the
        derivative of the points' geocentric positions (see the module's docstring). NaN at points
        outside the projection's domain.
        """
        axes: ProjectedAxes = grid.axes

        def compute() -> np.ndarray:
            xv = coord_values(grid.coords, axes.x) * axes.scale_x
            yv = coord_values(grid.coords, axes.y) * axes.scale_y
            along_x, along_y, cos_angle = _scale_lengths(_pyproj(), axes.crs, xv, yv)
            inside = np.isfinite(along_x) & np.isfinite(along_y) & (along_x > 0) & (along_y > 0)
            if not inside.any():
                raise ValueError(
                    f"the projection of {axes.source} gives no map factors on this grid (x, y out of its domain?)"
                )
            distortion = np.maximum(np.abs(along_x - along_y) / along_x, np.abs(cos_angle))
            if np.max(distortion[inside]) > 1e-6:
                raise ValueError(
                    f"the projection of {axes.source} ({axes.crs.name!r}) is not conformal (its scale differs by "
                    "direction): give 2-D latitude/longitude coordinates and use geometry='sphere' instead"
                )
            return np.where(inside, 2.0 / np.where(inside, along_x + along_y, 1.0), np.nan)

        key = ("map factors", axes.crs.to_wkt(), axes.scale_x, axes.scale_y)
        return grid.memo(key, compute, depends_on=(axes.x, axes.y))

    def metric(self, grid: Grid, keys: Sequence[Hashable], kw: DerivativeKeywords) -> Metric:
        axes: ProjectedAxes = grid.axes
        x, y = axes.x, axes.y
        keys = list(keys)
        if x not in keys or y not in keys:
            raise ValueError(
                f"geometry='projected' differentiates along {str(y)!r} and {str(x)!r} together; "
                f"got {[str(k) for k in keys]}"
            )
        ydim, xdim = grid.coords[y].dims[0], grid.coords[x].dims[0]
        inv_m = bare(1.0 / self.map_factor(grid), (ydim, xdim))
        G: dict[tuple[str, str], Coef] = {
            (str(x), str(x)): inv_m * axes.scale_x,
            (str(y), str(y)): inv_m * axes.scale_y,
        }
        extra, extra_G, extra_units = extra_axes(grid, keys, (x, y), kw)
        labels = tuple(str(k) for k in keys)
        return Metric(
            kind="projected",
            labels=labels,
            dims=labels,
            G={**G, **extra_G},
            length_units={str(x): "m", str(y): "m", **extra_units},
            orientation=(str(x), str(y), *extra),
        )


def _pyproj() -> Any:
    try:
        import pyproj
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("geometry='projected' needs pyproj: pip install 'fieldgrad[geo]'") from err
    return pyproj


def _scale_lengths(pyproj: Any, crs: Any, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lengths on the ellipsoid per metre along x and along y at every (y, x) grid point, and the
    cosine of the angle between the two directions there (0 for a conformal projection).

    ``x`` and ``y`` in metres; not finite where the projection gives no position within the
    stencil even with the shortest steps (:func:`_tangents`).
    """
    geodetic = crs.geodetic_crs
    to_geo = pyproj.Transformer.from_crs(crs, geodetic, always_xy=True)
    ellipsoid = geodetic.ellipsoid
    a = float(ellipsoid.semi_major_metre)
    e2 = 1.0 - (float(ellipsoid.semi_minor_metre) / a) ** 2

    def position(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """Geocentric positions (3, *X.shape) of the points at projection coordinates (X, Y)."""
        lon, lat = to_geo.transform(X, Y)
        phi, lam = np.radians(np.asarray(lat, dtype=np.float64)), np.radians(np.asarray(lon, dtype=np.float64))
        sin_phi = np.sin(phi)
        N = a / np.sqrt(1.0 - e2 * sin_phi * sin_phi)  # the prime vertical's radius of curvature
        out = np.empty((3, *np.shape(X)))
        np.multiply(N, np.cos(phi), out=out[2])  # the distance from the axis, for now
        np.multiply(out[2], np.cos(lam), out=out[0])
        np.multiply(out[2], np.sin(lam), out=out[1])
        np.multiply(N * (1.0 - e2), sin_phi, out=out[2])
        return out

    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        tx, ty = _tangents(position, x, y, STEP * a)
        lx, ly = np.sqrt(np.einsum("i...,i...->...", tx, tx)), np.sqrt(np.einsum("i...,i...->...", ty, ty))
        return lx, ly, np.einsum("i...,i...->...", tx, ty) / (lx * ly)


@dataclass(frozen=True)
class _Stencil:
    """The points along one axis that its derivatives need: the grid's and those a step beyond.

    ``values`` are the coordinates of those points (sorted); ``centre`` selects the grid's own
    points among them and ``plus[k]``, ``minus[k]`` the points ``k`` steps ahead of and behind each
    (slices on a uniform axis, index arrays otherwise); ``h`` is the step.
    """

    values: np.ndarray
    h: float
    centre: Any
    plus: tuple[Any, ...]
    minus: tuple[Any, ...]

    def rows(self, start: int, stop: int) -> tuple[Any, Any, tuple[Any, ...], tuple[Any, ...]]:
        """For the grid's points ``start:stop``: which of ``values`` their stencils reach, and the
        selections ``centre``, ``plus``, ``minus`` among those."""
        picks = [_part(sel, start, stop) for sel in (self.centre, *self.plus, *self.minus)]
        if isinstance(picks[0], slice):  # a uniform axis: a range of values
            lo = min(p.start for p in picks)
            reached: Any = slice(lo, max(p.stop for p in picks))
            centre, *rest = (slice(p.start - lo, p.stop - lo) for p in picks)
        else:
            reached = np.unique(np.concatenate(picks))
            centre, *rest = (np.searchsorted(reached, p) for p in picks)
        k = len(self.plus)
        return reached, centre, tuple(rest[:k]), tuple(rest[k:])


def _stencil(along: np.ndarray, step: float) -> _Stencil:
    """The points :data:`CENTRAL` differences along ``along`` reach with a step of about ``step``.

    On a uniform axis the step is a multiple of the spacing (at most an eighth of the points), so
    the points are the grid's own and a margin beyond each end; otherwise (a non-uniform axis, or
    one coarser than the step) the grid's points offset by the step itself (at most an eighth of
    the axis's extent).
    """
    n = along.size
    spacing = detect_spacing(along) if n > 1 else None
    reach = CENTRAL[-1][0]
    if spacing is not None and abs(spacing) <= 1.5 * step:
        s = max(1, min(round(step / abs(spacing)), n // 8))
        index = np.arange(-reach * s, n + reach * s)
        inner = (index >= 0) & (index < n)
        values = np.where(inner, along[np.clip(index, 0, n - 1)], along[0] + index * spacing)

        def shifted(k: int) -> slice:
            return slice((reach + k) * s, (reach + k) * s + n)

        return _Stencil(
            values,
            s * spacing,
            shifted(0),
            tuple(shifted(k) for k, _ in CENTRAL),
            tuple(shifted(-k) for k, _ in CENTRAL),
        )
    span = abs(float(along[-1] - along[0])) if n > 1 else 0.0
    h = min(step, span / 8) if span > 0 else step
    offsets = np.arange(-reach, reach + 1)
    values, where = np.unique(along[None, :] + h * offsets[:, None], return_inverse=True)
    where = where.reshape(offsets.size, n)
    return _Stencil(
        values,
        h,
        where[reach],
        tuple(where[reach + k] for k, _ in CENTRAL),
        tuple(where[reach - k] for k, _ in CENTRAL),
    )


def _part(sel: Any, start: int, stop: int) -> Any:
    return slice(sel.start + start, sel.start + stop) if isinstance(sel, slice) else sel[start:stop]


def _tangents(position: Any, x: np.ndarray, y: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """``∂P/∂x`` and ``∂P/∂y`` (each (3, ny, nx)) at every grid point, by :data:`CENTRAL` differences
    of the positions ``P`` with steps of about ``step`` metres.

    The positions are computed once, on the grid extended by the stencils' reach along both axes,
    in blocks of rows. Where a stencil leaves the projection's domain, the step is divided by 8
    (up to six times: 0.4 m for a step of 100 km) at those points only.
    """
    with np.errstate(invalid="ignore", over="ignore"):  # positions outside the domain are not finite
        return _tangents_of(position, x, y, step)


def _tangents_of(position: Any, x: np.ndarray, y: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    sx, sy = _stencil(x, step), _stencil(y, step)
    tx, ty = np.zeros((3, y.size, x.size)), np.zeros((3, y.size, x.size))
    inside = np.empty((y.size, x.size), dtype=bool)  # where the projection gives the grid point a position
    rows = max(1, _BLOCK * y.size // (sx.values.size * sy.values.size))
    for start in range(0, y.size, rows):
        stop = min(start + rows, y.size)
        reached, centre, plus, minus = sy.rows(start, stop)
        P = position(*np.meshgrid(sx.values, sy.values[reached]))  # (3, rows reached, len(sx.values))
        on_rows = P[:, centre]
        inside[start:stop] = np.isfinite(on_rows[:, :, sx.centre]).all(axis=0)
        for (_, w), up, down in zip(CENTRAL, sx.plus, sx.minus, strict=True):
            tx[:, start:stop] += (w / sx.h) * (on_rows[:, :, up] - on_rows[:, :, down])
        for (_, w), up, down in zip(CENTRAL, plus, minus, strict=True):
            ty[:, start:stop] += (w / sy.h) * (P[:, up][:, :, sx.centre] - P[:, down][:, :, sx.centre])
    for t, along_x, h in ((tx, True, sx.h), (ty, False, sy.h)):
        for shorter in h / 8.0 ** np.arange(1, 7):  # stencils that leave the projection's domain
            bad = np.argwhere(inside & ~np.isfinite(t).all(axis=0))
            if bad.size == 0:
                break
            X, Y = x[bad[:, 1]], y[bad[:, 0]]
            fixed = np.zeros((3, bad.shape[0]))
            for k, w in CENTRAL:
                d = k * shorter
                plus_k = position(X + d, Y) if along_x else position(X, Y + d)
                minus_k = position(X - d, Y) if along_x else position(X, Y - d)
                fixed += w * (plus_k - minus_k)
            t[:, bad[:, 0], bad[:, 1]] = fixed / shorter
    return tx, ty


def _metres_per_unit(coords: xr.Dataset, name: Hashable) -> float:
    units = units_of(coords[name])
    if units in METRES:
        return METRES[units]
    raise ValueError(
        f"projection coordinate {name!r} has units {units or 'unset'!r}; give them in metres ({sorted(METRES)})"
    )


def grid_mapping_name(obj: xr.DataArray | xr.Dataset) -> Hashable | None:
    """The name of the CF grid-mapping variable ``obj`` refers to: its ``grid_mapping`` attribute (or
    encoding); for a Dataset, the one its data variables share. ``"crs: x y"`` forms give ``"crs"``.
    Without one (arithmetic drops attributes: ``ds.T2 - 273.15``), the one coordinate that is a
    grid-mapping variable (it has a ``grid_mapping_name``)."""
    if isinstance(obj, xr.DataArray):  # (on every call: the attributes first, without building lists)
        gm = obj.attrs.get("grid_mapping") or obj.encoding.get("grid_mapping")
        if gm:
            return str(gm).split(":")[0].strip()
    candidates = [obj] if isinstance(obj, xr.DataArray) else [obj, *obj.data_vars.values()]
    names: list[Hashable] = []
    for var in candidates:
        gm = var.attrs.get("grid_mapping") or getattr(var, "encoding", {}).get("grid_mapping")
        if gm:
            names.append(str(gm).split(":")[0].strip())
        if names and var is obj:
            break
    distinct: list[Hashable] = list(dict.fromkeys(names))
    if not distinct:
        distinct = [name for name, var in obj.coords.variables.items() if "grid_mapping_name" in var.attrs]
    return distinct[0] if len(distinct) == 1 else None


def _read_crs(coords: xr.Dataset, crs: Any, pyproj: Any) -> tuple[Any, str]:
    if crs is not None:
        try:
            if isinstance(crs, Mapping) and "grid_mapping_name" in crs:  # the attrs of a CF grid-mapping variable
                return pyproj.CRS.from_cf(dict(crs)), "crs="
            return pyproj.CRS.from_user_input(crs), "crs="
        except pyproj.exceptions.CRSError as err:
            raise ValueError(f"crs={crs!r} is not a coordinate reference system pyproj can read: {err}") from None
    name = coords.attrs.get("grid_mapping")
    if name is None:
        raise ValueError(
            "geometry='projected' needs the projection: a CF 'grid_mapping' attribute naming its variable, or crs=; "
            "arithmetic drops attributes (ds.T2 - 273.15): keep them with xr.set_options(keep_attrs=True), or attach "
            "the grid-mapping variable as a coordinate (T.assign_coords(crs=ds.crs))"
        )
    if name not in coords.variables:
        raise ValueError(
            f"grid_mapping {name!r} names no variable of the field; add it as a coordinate "
            f"(xr.open_dataset(..., decode_coords='all')) or pass crs="
        )
    try:
        return pyproj.CRS.from_cf(dict(coords[name].attrs)), f"grid_mapping variable {name!r}"
    except Exception as err:  # noqa: BLE001 - pyproj raises CRSError, KeyError, ValueError... for unreadable CF
        raise ValueError(f"cannot read the projection of grid_mapping variable {name!r}: {err}") from None
