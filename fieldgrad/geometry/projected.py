"""``geometry="projected"``: 1-D projection coordinates of a conformal map projection.

``G = diag(1/m, 1/m)`` with ``m`` the map factor of the projection at each point, from pyproj.
The projection is the CF ``grid_mapping`` of the field (a coordinate of a DataArray, a variable
of a Dataset) or ``crs=``; the coordinates are those with the standard names
``projection_x_coordinate``/``projection_y_coordinate`` (or ``axis`` X/Y), in metres or km.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from .algebra import Coef, bare
from .axes import METRES, coord_values, projection_xy, units_of
from .base import Geometry, Grid, register_geometry
from .metric import Metric
from .terms import extra_axes

if TYPE_CHECKING:
    from ..keywords import DerivativeKeywords

__all__ = ["Projected", "grid_mapping_name"]


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
        """The map factor ``m`` at every (y, x) point, computed once per grid."""
        axes: ProjectedAxes = grid.axes

        def compute() -> np.ndarray:
            xv = coord_values(grid.coords, axes.x) * axes.scale_x
            yv = coord_values(grid.coords, axes.y) * axes.scale_y
            k, h = _map_factors(_pyproj(), axes.crs, xv, yv)
            inside = np.isfinite(k) & np.isfinite(h)
            if not inside.any():
                raise ValueError(
                    f"the projection of {axes.source} gives no map factors on this grid (x, y out of its domain?)"
                )
            if np.nanmax(np.abs(k[inside] - h[inside]) / k[inside]) > 1e-6:
                raise ValueError(
                    f"the projection of {axes.source} ({axes.crs.name!r}) is not conformal (its scale differs by "
                    "direction): give 2-D latitude/longitude coordinates and use geometry='sphere' instead"
                )
            return k

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


def _map_factors(pyproj: Any, crs: Any, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parallel and meridional scale factors of the projection at every (y, x) grid point."""
    X, Y = np.meshgrid(x, y)
    lon, lat = pyproj.Transformer.from_crs(crs, crs.geodetic_crs, always_xy=True).transform(X, Y)
    factors = pyproj.Proj(crs).get_factors(lon, lat)
    return (
        np.asarray(factors.parallel_scale, dtype=np.float64),
        np.asarray(factors.meridional_scale, dtype=np.float64),
    )


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
