"""What a grid's coordinates are, read from their CF attributes: the one rule for every layer.

Latitude and longitude are found from CF units (``degrees_north``, ``degrees_east``) or standard
names, never from names alone; projection coordinates from their standard names (or ``axis``
X/Y); a coordinate's role (T, X, Y, Z) from ``axis``, datetime values, these units and names.
:func:`default_dims` is the rule by which every operator, the Dataset forms and the command line
choose the dims when none are named.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence

import numpy as np
import xarray as xr

from ..coords import is_time_coord
from ..units import is_pint, same_dimension

__all__ = [
    "DEGREES",
    "EAST_UNITS",
    "METRES",
    "NORTH_UNITS",
    "RADIANS",
    "DefaultDimsError",
    "GeometryWarning",
    "curved_grid_hint",
    "as_keys",
    "cf_kind",
    "cf_role",
    "coord_values",
    "default_dims",
    "lat_lon_coords",
    "projection_xy",
]

NORTH_UNITS = {"degrees_north", "degree_north", "degree_n", "degrees_n", "degreen", "degreesn"}
EAST_UNITS = {"degrees_east", "degree_east", "degree_e", "degrees_e", "degreee", "degreese"}
DEGREES = {"degrees", "degree", "deg", "°", "arc_degree", "angular_degree"}
RADIANS = {"radians", "radian", "rad"}
METRES = {
    "m": 1.0,
    "metre": 1.0,
    "meter": 1.0,
    "metres": 1.0,
    "meters": 1.0,
    "km": 1e3,
    "kilometre": 1e3,
    "kilometer": 1e3,
    "kilometres": 1e3,
    "kilometers": 1e3,
}


class GeometryWarning(UserWarning):
    """A call on a flat grid whose coordinates say the grid is not flat (latitude/longitude in
    degrees, or a map projection): the numbers are per degree, or lack the map factors."""


class DefaultDimsError(ValueError):
    """No dims were named, and the field's own do not say which to differentiate along.

    ``problem`` says what is ambiguous; the message adds how to name the dims.
    """

    def __init__(self, problem: str, advice: str) -> None:
        super().__init__(f"{problem}; {advice}")
        self.problem = problem


def as_keys(dims: Hashable | Iterable[Hashable] | None) -> list[Hashable] | None:
    """One dim name or a list of them (a string is one name, never a list of letters).

    Examples
    --------
    >>> as_keys("lat"), as_keys(["lat", "lon"]), as_keys(None)
    (['lat'], ['lat', 'lon'], None)
    """
    if dims is None:
        return None
    if isinstance(dims, (str, bytes)) or not isinstance(dims, Iterable):
        return [dims]
    return list(dims)


def units_of(var: xr.DataArray | xr.Variable) -> str:
    """A coordinate's units, lower case (pint's for a quantity), ``""`` when unset."""
    if not isinstance(var, xr.IndexVariable) and is_pint(var.data):
        return str(var.data.units).lower()
    return str(var.attrs.get("units", "")).strip().lower()


def cf_kind(var: xr.DataArray | xr.Variable) -> str | None:
    """``"latitude"``, ``"longitude"`` or None: what a coordinate is, by its CF units or standard name.

    Examples
    --------
    >>> cf_kind(xr.DataArray([0.0], attrs={"units": "degrees_north"})), cf_kind(xr.DataArray([0.0]))
    ('latitude', None)
    """
    units = units_of(var).replace(" ", "_")
    std = str(var.attrs.get("standard_name", "")).lower()
    if units in NORTH_UNITS or std in ("latitude", "grid_latitude"):
        return "latitude"
    if units in EAST_UNITS or std in ("longitude", "grid_longitude"):
        return "longitude"
    return None


def cf_role(coord: xr.DataArray | xr.Variable | None) -> str | None:
    """``"T"``, ``"X"`` (east), ``"Y"`` (north), ``"Z"`` or None: a coordinate's CF role, from its
    ``axis`` attr, its values (datetimes), latitude/longitude units or standard names, and the
    standard names of projection coordinates.

    Examples
    --------
    >>> cf_role(xr.DataArray([0.0], attrs={"units": "degrees_east"})), cf_role(xr.DataArray([0.0]))
    ('X', None)
    """
    if coord is None:
        return None
    axis = str(coord.attrs.get("axis", "")).upper()
    if axis in ("T", "X", "Y", "Z"):
        return axis
    if is_time_coord(coord):
        return "T"
    kind = cf_kind(coord)
    std = str(coord.attrs.get("standard_name", "")).lower()
    if kind == "longitude" or std == "projection_x_coordinate":
        return "X"
    if kind == "latitude" or std == "projection_y_coordinate":
        return "Y"
    return None


def lat_lon_coords(
    obj: xr.DataArray | xr.Dataset, latitude: Hashable | None = None, longitude: Hashable | None = None
) -> tuple[Hashable, Hashable]:
    """The latitude and longitude coordinates: explicit, or from CF attributes, never from names.

    1-D dimension coordinates are preferred; otherwise 2-D coordinates of a curvilinear grid
    (named in CF ``coordinates`` attributes, which xarray decodes into coords).

    Examples
    --------
    >>> da = xr.DataArray(np.zeros((3, 4)), dims=("y", "x"),
    ...                   coords={"y": ("y", [0.0, 1, 2], {"units": "degrees_north"}),
    ...                           "x": ("x", [0.0, 1, 2, 3], {"units": "degrees_east"})})
    >>> lat_lon_coords(da)
    ('y', 'x')
    """
    found: dict[str, dict[int, list[Hashable]]] = {"latitude": {1: [], 2: []}, "longitude": {1: [], 2: []}}
    for name, var in obj.coords.items():
        kind = cf_kind(var)
        if kind and var.ndim in (1, 2) and set(var.dims) <= set(obj.dims):
            found[kind][var.ndim].append(name)
    for kind, given in (("latitude", latitude), ("longitude", longitude)):  # what the call named, first
        if given is not None and given not in obj.coords and given not in obj.dims:
            raise ValueError(
                f"{kind}={given!r} is neither a coordinate nor a dimension; coordinates: {[str(c) for c in obj.coords]}"
            )
    out: list[Hashable] = []
    for kind, given in (("latitude", latitude), ("longitude", longitude)):
        if given is not None:
            out.append(given)
            continue
        one, two = found[kind][1], found[kind][2]
        if len(one) == 1:
            out.append(one[0])
        elif not one and len(two) == 1:
            out.append(two[0])
        else:
            raise ValueError(
                f"geometry='sphere' needs the {kind} coordinate: pass {kind}='...' or give its coordinate CF "
                f"attributes (units 'degrees_{'north' if kind == 'latitude' else 'east'}' or standard_name "
                f"'{kind}'); found {one + two or 'none'}"
            )
    if out[0] == out[1]:
        named, other = ("latitude", "longitude") if latitude is not None else ("longitude", "latitude")
        raise ValueError(
            f"{named}={out[0]!r} is also the {other}: latitude and longitude must be two coordinates "
            f"(pass {other}='...' too, or name the {named} coordinate)"
        )
    return out[0], out[1]


def projection_xy(obj: xr.DataArray | xr.Dataset) -> tuple[Hashable, Hashable] | None:
    """The 1-D projection coordinates ``(x, y)``: by standard name, or ``axis`` X/Y when they are not
    latitude/longitude; None when either is missing.

    Examples
    --------
    >>> ds = xr.Dataset(coords={"x": ("x", [0.0, 1.0], {"standard_name": "projection_x_coordinate"}),
    ...                         "y": ("y", [0.0, 1.0], {"axis": "Y"})})
    >>> projection_xy(ds)
    ('x', 'y')
    """
    return _projection_xy(obj.coords.variables)


def _may_be_projection_xy(var: xr.Variable) -> bool:
    """Whether a coordinate says it is a map projection's x or y (a standard name or an axis)."""
    attrs = var.attrs
    return "standard_name" in attrs or "axis" in attrs


def _projection_xy(variables: Mapping[Hashable, xr.Variable]) -> tuple[Hashable, Hashable] | None:
    xy: dict[str, Hashable] = {}
    for name, var in variables.items():
        if var.ndim != 1:
            continue
        std = str(var.attrs.get("standard_name", ""))
        axis = str(var.attrs.get("axis", "")).upper()
        if std == "projection_x_coordinate" or (axis == "X" and not cf_kind(var)):
            xy.setdefault("x", name)
        if std == "projection_y_coordinate" or (axis == "Y" and not cf_kind(var)):
            xy.setdefault("y", name)
    if "x" not in xy or "y" not in xy:
        return None
    return xy["x"], xy["y"]


def coord_values(obj: xr.DataArray | xr.Dataset, name: Hashable) -> np.ndarray:
    """A coordinate's values as float64 numbers (pint magnitude; a dask coordinate computed)."""
    data = obj.coords[name].data
    if is_pint(data):
        data = data.magnitude
    if hasattr(data, "__dask_graph__"):
        data = data.compute()
    if is_pint(data):
        data = data.magnitude
    return np.asarray(data, dtype=np.float64)


def check_finite(values: np.ndarray, name: Hashable) -> None:
    """ValueError naming the coordinate and the first index where it is NaN or infinite."""
    bad = ~np.isfinite(values)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"coordinate {name!r} contains NaN or infinite values (first at index {where})")


def _dim_coord(obj: xr.DataArray | xr.Dataset, dim: Hashable) -> xr.Variable | None:
    """The 1-D coordinate that positions along ``dim`` come from, or None (unit spacing)."""
    variables = obj.coords.variables
    var = variables.get(dim)
    return var if var is not None and var.ndim == 1 else None


def _is_length(units: str) -> bool:
    return units.lower() in METRES or (bool(units) and same_dimension(units, "m"))


def _is_spatial(coord: xr.Variable | None) -> bool:
    if coord is None:
        return False
    role = cf_role(coord)
    if role is not None:
        return role in ("X", "Y", "Z")
    units = coord.attrs.get("units")
    return isinstance(units, str) and _is_length(units.strip())


def unit_kind(coord: xr.Variable | None) -> str | None:
    """What positions along a dim are measured in, to compare dims: latitude/longitude are degrees,
    times seconds, others their units (None: no coordinate or no units).

    Examples
    --------
    >>> unit_kind(xr.Variable("lat", [0.0], {"units": "degrees_north"})), unit_kind(None)
    ('degree', None)
    """
    if coord is None:
        return None
    role = cf_role(coord)
    if role == "T":
        return "s"
    if role in ("X", "Y") and cf_kind(coord) is not None:
        return "degree"
    units = coord.attrs.get("units")
    return units.strip() if isinstance(units, str) and units.strip() else None


def _compatible(kinds: Sequence[str | None]) -> bool:
    if any(k is None for k in kinds):
        return all(k is None for k in kinds)  # unit spacing everywhere, or units everywhere
    first = kinds[0]
    return all(same_dimension(first, k) for k in kinds[1:])  # type: ignore[arg-type]


def default_dims(obj: xr.DataArray | xr.Dataset, dims: Sequence[Hashable] | None = None) -> list[Hashable]:
    """The dims an operator runs over when none are named: one rule for every layer.

    1. The spatial dims: those whose coordinate CF marks as spatial (``axis`` X, Y or Z;
       latitude/longitude units or standard names; projection standard names) or measures in
       units of length.
    2. Where none is, every dim -- but a time dim (datetimes, cftime dates or ``axis: T``) is never
       mixed with other dims unless named.
    3. The dims chosen must be measured in compatible units (not metres beside degrees).

    Parameters
    ----------
    obj : DataArray or Dataset
        Whose coordinates say what the dims are.
    dims : list, optional
        The dims to choose from (default all of ``obj``'s).

    Raises
    ------
    DefaultDimsError
        For a time dim beside unmarked dims, or chosen dims in incompatible units; the message
        says how to name the dims.

    Examples
    --------
    >>> t = np.datetime64("2000-01-01", "ns") + np.arange(3) * np.timedelta64(6, "h")
    >>> da = xr.DataArray(np.zeros((3, 4, 5)), dims=("time", "lat", "lon"),
    ...                   coords={"time": t, "lat": ("lat", np.arange(4.0), {"units": "degrees_north"}),
    ...                           "lon": ("lon", np.arange(5.0), {"units": "degrees_east"})})
    >>> default_dims(da)
    ['lat', 'lon']
    """
    candidates = list(obj.dims if dims is None else dims)
    coords = {d: _dim_coord(obj, d) for d in candidates}
    chosen = [d for d in candidates if _is_spatial(coords[d])]
    what = "spatial dims"
    if not chosen:
        times = [d for d in candidates if cf_role(coords[d]) == "T"]
        if times and len(candidates) > 1:
            raise DefaultDimsError(
                f"no dims named, and the field has the time dim {str(times[0])!r} beside "
                f"{[str(d) for d in candidates if d not in times]} (a time derivative is not mixed with space "
                "unless asked for)",
                "name the dims to differentiate along, or mark the spatial coordinates with CF 'axis' "
                "attributes (X, Y, Z)",
            )
        chosen, what = candidates, "dims"
    kinds = {d: unit_kind(coords[d]) for d in chosen}
    if len(chosen) > 1 and not _compatible(list(kinds.values())):
        listed = ", ".join(f"{d} ({k or 'no units'})" for d, k in kinds.items())
        raise DefaultDimsError(
            f"no dims named, and the {what} are measured in different units: {listed}",
            "name the dims to differentiate along (for latitude/longitude in degrees beside lengths, use "
            "geometry='sphere')",
        )
    return chosen


def curved_grid_hint(
    variables: Mapping[Hashable, xr.Variable],
    keys: Sequence[Hashable],
    mapping: Callable[[], xr.Variable | None] = lambda: None,
) -> str | None:
    """Why differentiating along ``keys`` on a flat grid is not what the coordinates describe (they
    are latitude/longitude, or the x/y of the map projection of the grid-mapping variable that
    ``mapping()`` gives, asked for only when there are such x/y), with the geometry to use; else None.

    Examples
    --------
    >>> ds = xr.Dataset(coords={"lat": ("lat", [0.0, 1.0], {"units": "degrees_north"})})
    >>> curved_grid_hint(ds.coords.variables, ["lat"]).split(":")[0]
    'lat is a latitude in degrees'
    """
    for key in keys:
        var = variables.get(key)
        if var is not None and cf_kind(var) is not None:
            return (
                f"{key} is a {cf_kind(var)} in degrees: the result is per degree; pass geometry='sphere' for "
                "derivatives per metre on the sphere (or geometry='cartesian' to mean per degree)"
            )
    if not any(key in variables and _may_be_projection_xy(variables[key]) for key in keys):
        return None
    xy = _projection_xy(variables)
    if xy is None or not set(xy) & set(keys):
        return None
    var = mapping()
    kind = var.attrs.get("grid_mapping_name") if var is not None else None
    if kind not in (None, "latitude_longitude"):
        return (
            f"the grid is a {kind} map projection: its x and y need the map factors; pass geometry='projected' "
            "(or geometry='cartesian' to mean distances on the map)"
        )
    return None
