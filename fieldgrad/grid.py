"""``fieldgrad.Grid``: the grid of a field or a Dataset, resolved once and reused by every operator.

A Grid reads from the coordinates what the operators need -- the geometry and its axes (latitude
and longitude, projection x/y and the map projection), the periodic dims, the poles -- and keeps
what is derived from them (map factors, the derivatives of 2-D coordinates, metrics). Every
operator takes ``grid=``; without it, the call builds the grid itself from the field's
coordinates and the geometry keywords, so both give the same numbers.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .coords import is_time_coord
from .geometry import Geometry, geometry_builder
from .geometry.metric import Metric
from .geometry.projected import grid_mapping_name
from .keywords import FRAMES, DerivativeKeywords, GeometryKeywords, check_crs, check_name, check_radius
from .labelled import coord_variables, coords_dataset
from .units import datetime_unit_symbol, is_pint

__all__ = ["Grid"]

_GRID_KEYWORDS = ("latitude", "longitude", "radius", "crs")


_UNREAD = object()  # (a value not read yet)


def _raw_values(var: xr.Variable) -> np.ndarray:
    """A coordinate's values as stored: a pandas index's own array (no copy through the indexing adapter)."""
    data = getattr(var, "_data", None)
    index = getattr(data, "array", None)  # (xarray's PandasIndexingAdapter holds the index)
    return np.asarray(index) if isinstance(index, pd.Index) else np.asarray(var.values)


def _same_values(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two coordinates hold the same values (NaN and NaT equal to themselves)."""
    if a is b:
        return True
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind in "mM":
        a, b = a.view(np.int64), b.view(np.int64)
    return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))


class Grid:
    """The grid of a field or Dataset: its geometry, axes, periodic dims and metric, resolved once.

    Build it once from a file's coordinates and pass it to every operator (``grid=``): the
    projection, the map factors and the derivatives of 2-D coordinates are computed the first
    time they are needed and kept. A Grid pickles (dask clusters) and does not change.

    Parameters
    ----------
    obj : DataArray or Dataset
        Whose coordinates define the grid (data variables are not read).
    geometry : {"cartesian", "sphere", "projected"}, default "cartesian"
        ``"sphere"``: latitude/longitude (1-D or 2-D, degrees or radians; results per metre);
        ``"projected"``: 1-D projection coordinates of a conformal map projection.
    latitude, longitude : str, optional
        The latitude/longitude coordinates (sphere); default: found from their CF attributes.
    radius : float, optional
        The sphere's radius in metres (default the Earth's mean radius, 6.371e6 m).
    crs : optional
        The map projection (anything pyproj reads, or a CF grid-mapping variable's attrs);
        default: the CF ``grid_mapping`` the variables name.
    frame : {"earth", "grid"}, default "earth"
        The frame of vector results, unless a call chooses (``frame=``).
    periodic : bool or list of dims, optional
        Dims that wrap around. Default: detected (a uniform longitude that closes the circle).
        ``False``: none; a list: those dims (a uniform coordinate's period is its length).

    Examples
    --------
    >>> lat = np.linspace(-90, 90, 19)
    >>> lon = np.arange(0, 360, 10.0)
    >>> ds = xr.Dataset({"T": (("lat", "lon"), np.cos(np.deg2rad(lat))[:, None] * np.ones(lon.size))},
    ...                 coords={"lat": ("lat", lat, {"units": "degrees_north"}),
    ...                         "lon": ("lon", lon, {"units": "degrees_east"})})
    >>> grid = fieldgrad.Grid(ds, geometry="sphere")
    >>> grid
    <fieldgrad.Grid sphere>
      dims: lat (19), lon (36)
      latitude: lat ('lat',) in degrees_north
      longitude: lon ('lon',) in degrees_east
      radius: 6.371e+06 m (the Earth's mean radius)
      poles: south pole at lat[0], north pole at lat[18]
      periodic: lon (period 360)
    >>> lap = ds.T.grad.laplacian(grid=grid)   # the same numbers as geometry="sphere", grid resolved once
    """

    def __init__(
        self,
        obj: xr.DataArray | xr.Dataset,
        *,
        geometry: str = "cartesian",
        latitude: Hashable | None = None,
        longitude: Hashable | None = None,
        radius: float | None = None,
        crs: Any = None,
        frame: str = "earth",
        periodic: bool | Iterable[Hashable] | None = None,
    ) -> None:
        geo = GeometryKeywords(
            geometry=_check_geometry_name(geometry),
            latitude=check_name("latitude")(latitude),
            longitude=check_name("longitude")(longitude),
            radius=check_radius(radius),
            crs=check_crs(crs),
            frame=_check_frame(frame),
        )
        self._setup(obj, geo, periodic=periodic, shared=False)

    @classmethod
    def for_call(cls, obj: xr.DataArray | xr.Dataset, geo: GeometryKeywords) -> Grid:
        """The grid a call builds when it is given none (what it derives is kept between calls
        keyed by a fingerprint of the coordinates it depends on)."""
        grid = cls.__new__(cls)
        grid._setup(obj, geo, periodic=None, shared=True)
        return grid

    def _setup(self, obj: xr.DataArray | xr.Dataset, geo: GeometryKeywords, *, periodic: Any, shared: bool) -> None:
        if not isinstance(obj, (xr.DataArray, xr.Dataset)):
            raise TypeError(f"a Grid is built from a DataArray or Dataset, got {type(obj).__name__}")
        builder = geometry_builder(geo.geometry)
        given = geo.grid_keywords()
        for name in given:
            if name not in builder.keywords:
                users = [g for g in ("sphere", "projected") if name in geometry_builder(g).keywords]
                raise ValueError(f"{name}= applies to geometry={users[0]!r} only" if users else f"{name}= is unused")
        self.geometry: str = geo.geometry
        self.frame: str = geo.frame or "earth"
        self._geo = geo
        self._shared = shared
        self._memo: dict[Any, Any] = {}
        self._lock = threading.Lock() if not shared else None  # (a call's own grid keeps nothing itself)
        self._source: xr.DataArray | xr.Dataset | None = obj
        self._coords: xr.Dataset | None = None
        self._variables = coord_variables(obj)
        self._mapping_name: Any = _UNREAD  # the grid-mapping variable's name: read when first asked for
        if not shared:  # a Grid the user keeps: its own read-only copy, so what it derives stays true
            coords = self.coords.copy(deep=True)
            for var in coords.variables.values():
                if isinstance(var.data, np.ndarray):
                    var.data.setflags(write=False)
            self._coords, self._variables, self._source = coords, coords.variables, None
        self.sizes: Mapping[Hashable, int] = obj.sizes if shared else dict(obj.sizes)
        self.axes: Any = builder.detect(self.coords, **given) if given or builder.name != "cartesian" else None
        self._periodic = _check_periodic(periodic, self.sizes)

    @property
    def _mapping(self) -> Hashable | None:
        if self._mapping_name is _UNREAD:
            assert self._source is not None
            self._mapping_name = grid_mapping_name(self._source)
        return self._mapping_name

    @property
    def coords(self) -> xr.Dataset:
        """The grid's coordinates (a Dataset without data variables); the CF grid-mapping variable
        is among them, named by ``attrs["grid_mapping"]``."""
        if self._coords is None:
            obj = self._source
            assert obj is not None
            coords = coords_dataset(obj)
            mapping = self._mapping
            if mapping is not None:
                coords.attrs["grid_mapping"] = mapping
                if isinstance(obj, xr.Dataset) and mapping in obj.data_vars:
                    coords = coords.assign_coords({mapping: obj[mapping].variable})
            self._coords = coords
        return self._coords

    # ------------------------------------------------------------------ what the operators ask

    @property
    def variables(self) -> Mapping[Hashable, xr.Variable]:
        """The grid's coordinate Variables by name (without building :attr:`coords`)."""
        return self._variables

    @property
    def geometry_builder(self) -> Geometry:
        return geometry_builder(self.geometry)

    def default_keys(self, field: xr.DataArray | xr.Dataset) -> list[Hashable]:
        """What an operator on ``field`` differentiates along when no dims are named (dims or coordinates)."""
        return self.geometry_builder.default_keys(self, field)

    def dims_of(self, keys: Iterable[Hashable]) -> list[Hashable]:
        """The dims that ``keys`` (dims, 1-D or 2-D coordinates) run along."""
        out: list[Hashable] = []
        for k in keys:
            var = self._variables.get(k)
            for d in var.dims if var is not None and k not in self.sizes else (k,):
                if d not in out:
                    out.append(d)
        return out

    def metric(self, keys: Sequence[Hashable] | None = None, kw: DerivativeKeywords | None = None) -> Metric:
        """The metric of derivatives along ``keys`` (dims or coordinates; default the grid's own axes)
        taken with ``kw`` (default: the default derivative keywords).

        Examples
        --------
        >>> ds = xr.Dataset(coords={"lat": ("lat", [-30.0, 0.0, 30.0], {"units": "degrees_north"}),
        ...                         "lon": ("lon", [0.0, 90.0, 180.0], {"units": "degrees_east"})})
        >>> m = fieldgrad.Grid(ds, geometry="sphere").metric()
        >>> m.labels, round(float(m.G["lon", "lon"][0]) / m.G["lat", "lat"], 6)   # R cos φ dλ / R dφ at 30° S
        (('lat', 'lon'), 0.866025)
        """
        keys = self.default_keys(self.coords) if keys is None else keys
        kw = DerivativeKeywords() if kw is None else kw
        if self._shared:
            return self.geometry_builder.metric(self, keys, kw)
        key = ("metric", tuple(keys), kw.key())
        return self.memo(key, lambda: self.geometry_builder.metric(self, keys, kw))

    def periodic_dims(self) -> dict[Hashable, float | None]:
        """Dims (or coordinates) that wrap around, with their period (None: the coordinate's length)."""
        if self._periodic is None:
            return dict(self.geometry_builder.periodic(self))
        if self._periodic is False:
            return {}
        detected = self.geometry_builder.periodic(self)
        return {d: detected.get(d) for d in self._periodic}

    def seam(self) -> Hashable | None:
        """The dim of a longitude whose last column repeats the first (0 ... 360), if any."""
        return self.geometry_builder.seam(self)

    def without(self, dim: Hashable) -> Grid:
        """This grid without the last column of ``dim`` (a longitude's repeated seam)."""

        def build() -> Grid:
            coords = self.coords.isel({dim: slice(0, -1)})
            if self._shared:
                return Grid.for_call(coords, self._geo)
            grid = Grid.__new__(Grid)
            grid._setup(coords, self._geo, periodic=self._periodic, shared=False)
            return grid

        if self._shared:
            return build()
        return self.memo(("without", dim), build)

    def derivative_defaults(self) -> tuple[dict[Hashable, str], dict[Hashable, float]]:
        """``boundary`` and ``period`` for the periodic dims the user asked for (``periodic=[...]``);
        detected ones are applied by the geometry where its method can wrap around."""
        if not self._periodic:
            return {}, {}
        periods = self.periodic_dims()
        return dict.fromkeys(periods, "periodic"), {d: p for d, p in periods.items() if p is not None}

    def length_unit(self, key: Hashable, datetime_unit: str | None = None) -> str | None:
        """The units positions along ``key`` are measured in (None: unknown, or no coordinate)."""
        var = self._variables.get(key)
        if var is None:
            return None
        if var.ndim == 1 and is_time_coord(var):
            return datetime_unit_symbol(
                datetime_unit or (np.datetime_data(var.dtype)[0] if var.dtype.kind in "mM" else "s")
            )
        if not isinstance(var, xr.IndexVariable) and is_pint(var.data):
            return str(var.data.units)
        return var.attrs.get("units")

    def mapping_variable(self) -> xr.Variable | None:
        """The CF grid-mapping variable of the grid (a map projection's parameters), if it has one."""
        if self._mapping is None:
            return None
        return self.coords.variables.get(self._mapping)

    def is_2d_coordinate(self, key: Hashable) -> bool:
        """Whether ``key`` names a 2-D coordinate (of a curvilinear grid) rather than a dim."""
        var = self._variables.get(key)
        return var is not None and var.ndim == 2 and key not in self.sizes

    def memo(self, key: Hashable, compute: Callable[[], Any], depends_on: Iterable[Hashable] = ()) -> Any:
        """What the grid derives (``compute()``), computed once.

        A Grid the user built keeps it; a call's own grid finds it among the last few grids' with
        the same coordinates (a fingerprint of the coordinates in ``depends_on``).
        """
        if self._shared:
            key = (key, self.geometry, tuple(self._fingerprint(name) for name in depends_on))
            return _recent(key, compute)
        assert self._lock is not None
        with self._lock:
            if key in self._memo:
                return self._memo[key]
        value = compute()
        with self._lock:
            return self._memo.setdefault(key, value)

    def _fingerprint(self, name: Hashable) -> tuple[Any, ...]:
        if name not in self.coords.variables:
            return (name, None)
        from .geometry.axes import coord_values

        var = self.coords.variables[name]  # values and the units they are in (radians, degrees...)
        return (name, str(var.attrs.get("units")), _digest(coord_values(self.coords, name)))

    # ------------------------------------------------------------------ a field on the grid

    def check_field(self, field: xr.DataArray | xr.Dataset) -> None:
        """ValueError unless ``field`` lies on this grid: same sizes and 1-D coordinates along its dims."""
        for dim, n in field.sizes.items():
            if dim in self.sizes and self.sizes[dim] != n:
                raise ValueError(
                    f"the field does not lie on this grid: dim {dim!r} has {n} points, the grid's {self.sizes[dim]}"
                )
        for name, var in field.coords.variables.items():
            mine = self._variables.get(name)
            if mine is None or var.ndim != 1 or mine.dims != var.dims or mine is var:
                continue
            if not _same_values(_raw_values(var), _raw_values(mine)):
                raise ValueError(
                    f"the field does not lie on this grid: its coordinate {name!r} differs from the grid's"
                )

    # ------------------------------------------------------------------ for users

    def __repr__(self) -> str:
        lines = [f"<fieldgrad.Grid {self.geometry}>"]
        lines.append("  dims: " + (", ".join(f"{d} ({n})" for d, n in self.sizes.items()) or "none"))
        lines += [f"  {line}" for line in self.geometry_builder.describe(self)]
        periodic = self.periodic_dims()
        if periodic:
            shown = ", ".join(f"{d}" + (f" (period {p:g})" if p is not None else "") for d, p in periodic.items())
            lines.append(f"  periodic: {shown}")
        if self.frame != "earth":
            lines.append(f"  frame: {self.frame}")
        return "\n".join(lines)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_coords"] = self.coords  # the coordinates, not the field they came from
        state["_mapping_name"] = self._mapping
        state["_source"] = None
        del state["_lock"], state["_variables"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._variables = self._coords.variables  # type: ignore[union-attr]
        self._lock = threading.Lock() if not self._shared else None


def _check_geometry_name(geometry: Any) -> str:
    if not isinstance(geometry, str):
        raise TypeError(f"geometry must be a name such as 'sphere', got {geometry!r}")
    geometry_builder(geometry)  # ValueError listing the geometries
    return geometry


def _check_frame(frame: Any) -> str:
    if frame not in FRAMES:
        raise ValueError(f"frame must be one of {FRAMES}, got {frame!r}")
    return str(frame)


def _check_periodic(periodic: Any, sizes: Mapping[Hashable, int]) -> Any:
    if periodic is None or periodic is True:
        return None  # detected
    if periodic is False:
        return False
    if isinstance(periodic, (str, bytes)) or not isinstance(periodic, Iterable):
        periodic = [periodic]
    dims = list(periodic)
    return dims


# ----------------------------------------------------------------------------- kept between calls
# What a call's own grid derives depends only on its coordinates and the call's keywords: the last
# few results are kept, keyed by a fingerprint of the coordinate values they depend on.

_RECENT: OrderedDict[Any, Any] = OrderedDict()
_RECENT_SIZE = 8
_RECENT_LOCK = threading.Lock()


def _recent(key: Any, compute: Callable[[], Any]) -> Any:
    with _RECENT_LOCK:
        if key in _RECENT:
            _RECENT.move_to_end(key)
            return _RECENT[key]
    value = compute()
    with _RECENT_LOCK:
        _RECENT[key] = value
        while len(_RECENT) > _RECENT_SIZE:
            _RECENT.popitem(last=False)
    return value


def _digest(values: np.ndarray) -> tuple[Any, ...]:
    """A 128-bit fingerprint of float64 values: two weighted sums of their bit patterns (wrapping),
    about 20× faster than a cryptographic hash of the bytes (coordinates are not adversarial)."""
    bits = np.ascontiguousarray(values, dtype=np.float64).reshape(-1).view(np.uint64)
    weights = _fingerprint_weights(bits.size)
    with np.errstate(over="ignore"):
        return (values.shape, int(np.dot(bits, weights[0])), int(np.dot(bits, weights[1])))


@lru_cache(maxsize=8)
def _fingerprint_weights(n: int) -> tuple[np.ndarray, np.ndarray]:
    i = np.arange(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        return (i * np.uint64(0x9E3779B97F4A7C15) + np.uint64(1)) | np.uint64(1), (
            i * np.uint64(0xC2B2AE3D27D4EB4F) + np.uint64(0x165667B19E3779F9)
        ) | np.uint64(1)
