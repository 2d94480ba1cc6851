"""Geometry as data: the axes of a grid and the scale factors that make derivatives physical.

Every operator of :mod:`fieldgrad.vector` is written once on a :class:`Metric`, the matrix

    ``G[a, q] = ∂r_a / ∂q``

of the physical length along the frame direction ``a`` per unit of the coordinate ``q`` that the
derivatives run along (a dim's 1-D coordinate, or its index when it has none). With
``J = det G``, ``adj G = J G⁻¹`` and ``g_ij = Σ_a G_ai G_aj``:

* gradient      ``∇f_a = Σ_q (G⁻¹)_qa ∂_q f``
* divergence    ``(1/J) Σ_q ∂_q (Σ_a adj(G)_qa F_a)``
* curl          ``(1/J) ε_qrs ∂_q (Σ_a G_ar F_a)`` (the normal component in 2-D)
* Laplacian     ``Σ_qr g^qr ∂_q∂_r f + Σ_r (1/J) Σ_q ∂_q(J g^qr) ∂_r f``
* Hessian and Jacobian with the Christoffel symbols of ``g``.

The geometries differ only in ``G``:

============================  =======================================================================
``"cartesian"``, 1-D coords   the identity: the operators reduce to plain partial derivatives
``"cartesian"``, 2-D coords   ``x(j, i)``, ``y(j, i)``: the grid's Jacobian ``∂(x, y)/∂(j, i)``
``"sphere"``                  ``diag(R, R cos φ) · ∂(φ, λ)/∂q`` for 1-D or 2-D latitude/longitude
``"projected"``               ``diag(1/m, 1/m)``: m the map factor of a conformal projection (pyproj)
============================  =======================================================================

Entries that depend on the grid are derived from its coordinates with the same method, stencils
and accuracy as the field. Points where the frame has no direction (the poles) are *singular*:
vector results are NaN there, and divergence, curl and Laplacian at a pole row of a latitude
axis take the value of the polar cap (:class:`PolarCaps`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, cast

import numpy as np
import xarray as xr

from .coords import AxisCoord, detect_spacing
from .registry import get_method
from .units import is_pint

__all__ = [
    "EARTH_RADIUS",
    "EAST_UNITS",
    "FRAMES",
    "GEOMETRIES",
    "NORTH_UNITS",
    "Differentiator",
    "cf_kind",
    "Metric",
    "PolarCaps",
    "horizontal_dims",
    "lat_lon_coords",
    "metric_for",
    "spatial_dims",
]

EARTH_RADIUS = 6.371e6  # metres, the Earth's mean radius
GEOMETRIES = ("cartesian", "sphere", "projected")
FRAMES = ("earth", "grid")

Coef = float | xr.DataArray


class Differentiator:
    """The partial derivative of one call: its method and keywords, for the field and for the grid.

    Examples
    --------
    >>> d = Differentiator(accuracy=4)
    >>> x = np.linspace(0, 1, 11)
    >>> round(float(d(xr.DataArray(x**3, dims="x", coords={"x": x}), "x")[5]), 12)  # 3 x² at x = 0.5
    0.75
    """

    def __init__(
        self,
        *,
        method: Any = "fd",
        boundary: Any = "one-sided",
        nan_policy: str = "propagate",
        fill_value: float = np.nan,
        period: Any = None,
        datetime_unit: str | None = None,
        **options: Any,
    ) -> None:
        self.method, self.boundary = method, boundary
        self.options = options
        self.common = dict(
            method=method,
            boundary=boundary,
            nan_policy=nan_policy,
            fill_value=fill_value,
            period=period,
            datetime_unit=datetime_unit,
            **options,
        )

    def __call__(self, f: Any, spec: Any, order: int = 1, *, grid: bool = False) -> Any:
        """``partial(f, spec, order)`` with the call's keywords; ``grid=True`` for the grid's own
        coefficients, which lack some of the field's dims (keywords for those are dropped)."""
        from .calculus import partial

        common = self._for(f) if grid else self.common
        if common.get("datetime_unit") is not None and not _names_time(f, spec) and f.dtype.kind not in "mM":
            common = {**common, "datetime_unit": None}  # one term of a mixed time/space operator
            # (kept for datetime values: they are counted in it along every dim)
        return partial(f, spec, order, **common)

    def first(self, f: Any, dims: Sequence[Hashable]) -> dict[str, Any]:
        """First derivatives along several dims in one pass (one halo exchange when chunked)."""
        from .calculus import gradient

        g = gradient(f, list(dims), component_dim="__fieldgrad_q__", **self.common)
        return {str(d): g.isel(__fieldgrad_q__=k, drop=True) for k, d in enumerate(dims)}

    def _for(self, f: Any) -> dict[str, Any]:
        """The keywords, with per-dim mappings restricted to what ``f`` has (metric coefficients lack dims)."""
        common = dict(self.common)
        for key in ("boundary", "period"):
            value = common[key]
            if isinstance(value, Mapping):
                common[key] = {k: v for k, v in value.items() if k in f.dims or k in f.coords}
        return common

    def key(self) -> tuple[tuple[str, str], ...]:
        """A hashable summary of the keywords (for caching what depends on them)."""
        return tuple(sorted((k, repr(v)) for k, v in self.common.items()))

    def with_defaults(self, options: Mapping[str, Any]) -> Differentiator:
        """The same call with the geometry's keyword defaults (a periodic longitude) filled in."""
        if not options:
            return self
        common = dict(self.common)
        boundary = common["boundary"]
        new = dict(options["boundary"])
        if isinstance(boundary, Mapping):
            new = {**new, **boundary}
        common["boundary"] = new
        period = common["period"]
        common["period"] = {**options["period"], **period} if isinstance(period, Mapping) else options["period"]
        return Differentiator(**common)


Diff = Differentiator

NORTH_UNITS = {"degrees_north", "degree_north", "degree_n", "degrees_n", "degreen", "degreesn"}
EAST_UNITS = {"degrees_east", "degree_east", "degree_e", "degrees_e", "degreee", "degreese"}
_DEGREES = {"degrees", "degree", "deg", "°", "arc_degree", "angular_degree"}
_RADIANS = {"radians", "radian", "rad"}
_METRES = {
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


# ----------------------------------------------------------------------------- coefficient algebra
# Entries are Python floats (constant) or bare DataArrays (no coords, so they broadcast by dim name
# against any field on the grid). 0.0 and 1.0 are skipped, so the flat case costs nothing.


def _is_const(c: Coef, value: float) -> bool:
    return isinstance(c, float) and c == value


def mul(a: Any, b: Coef) -> Any:
    """``a * b`` with 0 and 1 short-cut; ``a`` first, so the result keeps ``a``'s dim order."""
    if _is_const(b, 1.0):
        return a
    if _is_const(b, 0.0) or _is_const(a, 0.0):
        return 0.0
    if _is_const(a, 1.0):
        return b
    if isinstance(a, xr.DataArray) and isinstance(b, xr.DataArray):
        b = _like(b, a)
    return a * b


def add(a: Any, b: Any) -> Any:
    if _is_const(a, 0.0):
        return b
    if _is_const(b, 0.0):
        return a
    return a + b


def sub(a: Any, b: Any) -> Any:
    if _is_const(b, 0.0):
        return a
    if _is_const(a, 0.0):
        return -b
    return a - b


def div(a: Any, b: Coef) -> Any:
    if _is_const(b, 1.0) or _is_const(a, 0.0):
        return a
    if isinstance(a, xr.DataArray) and isinstance(b, xr.DataArray):
        b = _like(b, a)
    return a / b


def _like(coef: xr.DataArray, arr: xr.DataArray) -> xr.DataArray:
    """A float64 metric coefficient cast to a float32 field's precision (results keep float32)."""
    if coef.dtype == np.float64 and arr.dtype in (np.float32, np.complex64):
        return coef.astype(np.float32)
    return coef


def _bare(values: Any, dims: Sequence[Hashable]) -> xr.DataArray:
    return xr.DataArray(values, dims=tuple(dims))


# ----------------------------------------------------------------------------- the metric


@dataclass(frozen=True)
class PolarCaps:
    """Values at the pole rows of a 1-D latitude axis from Gauss's and Stokes's theorems.

    At a pole every direction is south (or north), so the metric is singular there. Divergence,
    vorticity and Laplacian are instead the flux or circulation through the circle of the
    ``r``-th ring of points around the pole divided by the area of the cap inside it: a value
    ``c(s) = c₀ + a s + b s² + …`` in the cap's relative height ``s = 1 − |sin φ_r|``. With
    ``k = accuracy // 2`` rings, the values are extrapolated to ``s = 0`` (the pole itself) with
    error ``O(Δφ^{2k})``, the nominal order of the stencils. The means over a full, uniform circle
    of longitudes are exact for every wave the grid resolves.
    """

    lat: Hashable  # the latitude dim
    lon: Hashable  # the longitude dim
    radius: float
    to_radians: float  # radians per unit of the latitude coordinate
    poles: tuple[tuple[int, float, tuple[int, ...], tuple[float, ...]], ...]
    # per pole: (row index, +1 north / -1 south, ring rows, weights × cos φ_r / (R s_r))

    def _insert(self, result: xr.DataArray, ring_values: xr.DataArray, sign: float) -> xr.DataArray:
        out = result
        for index, hemisphere, rings, weights in self.poles:
            value: Any = 0.0
            for r, w in zip(rings, weights, strict=True):
                value = add(value, ring_values.isel({self.lat: r}, drop=True).mean(self.lon) * (w * sign * hemisphere))
            at_pole = xr.DataArray(np.arange(result.sizes[self.lat]) == index, dims=(self.lat,))
            out = xr.where(at_pole, value, out, keep_attrs=True)
        return out.transpose(*result.dims)

    def curl(self, result: xr.DataArray, east: xr.DataArray) -> xr.DataArray:
        """Vorticity at the poles: the circulation of the eastward component around each cap."""
        return self._insert(result, east, 1.0)

    def divergence(self, result: xr.DataArray, north: xr.DataArray) -> xr.DataArray:
        """Divergence at the poles: the outward flux of the northward component through each cap."""
        return self._insert(result, north, -1.0)

    def laplacian(self, result: xr.DataArray, d_dlat: xr.DataArray) -> xr.DataArray:
        """Laplacian at the poles: the outward flux of the gradient (``∂f/∂lat`` per unit of latitude)."""
        return self._insert(result, d_dlat, -1.0 / (self.radius * self.to_radians))


@dataclass(frozen=True)
class Metric:
    """The geometry of one call, resolved from the field's coordinates.

    Attributes
    ----------
    kind : str
        ``"cartesian"``, ``"curvilinear"`` (cartesian with 2-D coordinates), ``"sphere"`` or ``"projected"``.
    labels : tuple of str
        The physical frame: component labels of vector inputs and outputs.
    dims : tuple of str
        The coordinates ``q`` derivatives run along (dims, or 1-D coordinates named for them).
    G : dict
        ``G[(label, q)]``: length along ``label`` per unit of ``q``; missing entries are zero.
    length_units : dict
        Units of length along each label (``"m"`` on the sphere), None where unknown.
    orientation : tuple of str or None
        The label order that is right-handed (a 2-D curl's sign); None: the labels' order.
    singular : DataArray or None
        Points where the frame has no direction (poles): vector results are NaN there.
    caps : PolarCaps or None
        Pole-row values of divergence, curl and Laplacian.
    options : dict
        Keyword defaults for the derivatives (a periodic longitude that covers the circle).
    grid_frame : tuple of str or None
        The index dims ``(i, j)`` of a curvilinear grid: grid-relative components are labelled by
        them, ``i`` along the grid lines of the last dim and ``j`` 90° counter-clockwise from it.
    """

    kind: str
    labels: tuple[str, ...]
    dims: tuple[str, ...]
    G: dict[tuple[str, str], Coef]
    length_units: dict[str, str | None]
    orientation: tuple[str, ...] | None = None
    singular: xr.DataArray | None = None
    caps: PolarCaps | None = None
    options: dict[str, Any] = field(default_factory=dict)
    grid_frame: tuple[str, str] | None = None
    _memo: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    def _memoized(self, key: Any, compute: Callable[[], Any]) -> Any:
        """Derived quantities (det, inverse...) are computed once per metric."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    @property
    def flat(self) -> bool:
        """True when ``G`` is the identity: every operator is a plain sum of partial derivatives."""
        return all(
            (_is_const(self.G.get((a, q), 0.0), 1.0) if i == j else (a, q) not in self.G)
            for i, a in enumerate(self.labels)
            for j, q in enumerate(self.dims)
        )

    def entry(self, a: str, q: str) -> Coef:
        return self.G.get((a, q), 0.0)

    def det(self, rows: Sequence[str] | None = None) -> Coef:
        """``det G`` with the rows in the order given (default: the labels')."""
        rows = tuple(rows or self.labels)
        return self._memoized(("det", rows), lambda: self._det(rows))

    def reciprocal_det(self, rows: Sequence[str] | None = None) -> Coef:
        """``1 / det G`` (rows as in :meth:`det`), NaN where it is zero."""
        rows = tuple(rows or self.labels)
        return self._memoized(("1/det", rows), lambda: safe_div(1.0, self.det(rows)))

    def _det(self, rows: Sequence[str]) -> Coef:
        return _det(
            {(i, j): self.entry(a, q) for i, a in enumerate(rows) for j, q in enumerate(self.dims)},
            list(range(len(rows))),
            list(range(len(self.dims))),
        )

    def adjugate(self) -> dict[tuple[str, str], Coef]:
        """``adj(G)[(q, a)] = det(G) (G⁻¹)[q, a]``: finite where ``G`` is singular."""
        return self._memoized("adjugate", self._adjugate)

    def _adjugate(self) -> dict[tuple[str, str], Coef]:
        n = len(self.labels)
        rows, cols = list(range(n)), list(range(n))
        m = {(i, j): self.entry(a, q) for i, a in enumerate(self.labels) for j, q in enumerate(self.dims)}
        out: dict[tuple[str, str], Coef] = {}
        for i, a in enumerate(self.labels):
            for j, q in enumerate(self.dims):
                minor = _det(m, [r for r in rows if r != i], [c for c in cols if c != j])
                if not _is_const(minor, 0.0):
                    out[q, a] = minor if (i + j) % 2 == 0 else mul(minor, -1.0)
        return out

    def inverse(self) -> dict[tuple[str, str], Coef]:
        """``G⁻¹[(q, a)]``, NaN at singular points (only in the entries that are singular there)."""
        return self._memoized("inverse", self._inverse)

    def _inverse(self) -> dict[tuple[str, str], Coef]:
        pairs = dict(zip(self.labels, self.dims, strict=True))
        if all(pairs.get(a) == q for a, q in self.G):  # diagonal: entry by entry
            return {(q, a): safe_div(1.0, v) for (a, q), v in self.G.items()}
        det = self.det(self.labels)
        return {k: safe_div(v, det) for k, v in self.adjugate().items()}

    @property
    def handed(self) -> tuple[str, ...]:
        """The labels in right-handed order (east before north on the sphere)."""
        return self.orientation or self.labels

    def metric_tensor(self) -> dict[tuple[str, str], Coef]:
        """``g_qr = Σ_a G_aq G_ar`` (lengths squared per unit of q and r)."""
        return self._memoized("metric_tensor", self._metric_tensor)

    def _metric_tensor(self) -> dict[tuple[str, str], Coef]:
        out: dict[tuple[str, str], Coef] = {}
        for q in self.dims:
            for r in self.dims:
                total: Coef = 0.0
                for a in self.labels:
                    total = add(total, mul(self.entry(a, q), self.entry(a, r)))
                if not _is_const(total, 0.0):
                    out[q, r] = total
        return out

    def inverse_metric(self) -> dict[tuple[str, str], Coef]:
        """``g^qr = Σ_a G⁻¹_qa G⁻¹_ra``."""
        return self._memoized("inverse_metric", self._inverse_metric)

    def _inverse_metric(self) -> dict[tuple[str, str], Coef]:
        inv = self.inverse()
        out: dict[tuple[str, str], Coef] = {}
        for q in self.dims:
            for r in self.dims:
                total: Coef = 0.0
                for a in self.labels:
                    total = add(total, mul(inv.get((q, a), 0.0), inv.get((r, a), 0.0)))
                if not _is_const(total, 0.0):
                    out[q, r] = total
        return out

    def mask_singular(self, result: xr.DataArray) -> xr.DataArray:
        """NaN where the frame has no direction (the poles)."""
        if self.singular is None:
            return result
        return result.where(~self.singular)

    def rotation(self) -> tuple[Coef, Coef]:
        """``(cos α, sin α)``: the direction of the grid's ``i`` lines in the (east, north) frame."""
        if self.grid_frame is None:
            raise ValueError("grid-relative components need a curvilinear grid (2-D coordinates)")
        east, north = self.handed[:2]
        i = self.grid_frame[0]
        gx, gy = self.entry(east, i), self.entry(north, i)
        norm = cast(Coef, np.hypot(gx, gy))  # a DataArray for DataArray entries
        return safe_div(gx, norm), safe_div(gy, norm)

    def to_grid(self, parts: Mapping[str, Any]) -> dict[str, Any]:
        """Components in the (east, north) frame -> grid-relative ``(i, j)``; other components kept."""
        if self.grid_frame is None:  # the frame is the grid's already (flat, 1-D coordinates, projections)
            return dict(parts)
        east, north = self.handed[:2]
        return self._rotated(parts, (east, north), self.grid_frame, -1.0)

    def from_grid(self, parts: Mapping[str, Any]) -> dict[str, Any]:
        """Grid-relative ``(i, j)`` components -> the (east, north) frame; other components kept."""
        if self.grid_frame is None:
            return dict(parts)
        east, north = self.handed[:2]
        return self._rotated(parts, self.grid_frame, (east, north), 1.0)

    def _rotated(
        self, parts: Mapping[str, Any], source: tuple[str, str], target: tuple[str, str], turn: float
    ) -> dict[str, Any]:
        """The pair of components ``source`` turned by ``turn`` × the grid's angle α, as ``target``."""
        c, s = self.rotation()
        s = mul(s, turn)
        x, y = parts[source[0]], parts[source[1]]
        turned = {target[0]: sub(mul(x, c), mul(y, s)), target[1]: add(mul(x, s), mul(y, c))}
        out: dict[str, Any] = {}
        for a, v in parts.items():
            if a in source:
                out[target[source.index(a)]] = turned[target[source.index(a)]]
            else:
                out[a] = v
        return out

    def grid_labels(self) -> tuple[str, ...]:
        """The labels of grid-relative components (the index dims in place of east/north)."""
        east, north = self.handed[:2]
        i, j = self.grid_frame or (east, north)
        return tuple({east: i, north: j}.get(a, a) for a in self.labels)


def _det(m: Mapping[tuple[int, int], Coef], rows: list[int], cols: list[int]) -> Coef:
    """Determinant by Laplace expansion along the first row, skipping zero entries (n ≤ 4 here)."""
    if not rows:
        return 1.0
    r0, rest = rows[0], rows[1:]
    total: Coef = 0.0
    for k, c in enumerate(cols):
        e = m.get((r0, c), 0.0)
        if _is_const(e, 0.0):
            continue
        minor = _det(m, rest, [x for x in cols if x != c])
        term = mul(e, minor) if isinstance(e, xr.DataArray) or not isinstance(minor, xr.DataArray) else mul(minor, e)
        total = add(total, term) if k % 2 == 0 else sub(total, term)
    return total


def safe_div(a: Any, b: Coef) -> Any:
    """``a / b`` with NaN (never ±inf, and no warning) where ``b`` is zero."""
    if isinstance(b, xr.DataArray):
        nonzero = b != 0
        return div(a, b.where(nonzero, 1.0)).where(nonzero)
    if b == 0:
        return float("nan")
    return div(a, float(b))


# ----------------------------------------------------------------------------- finding the axes


def _units_of(var: xr.DataArray | xr.Variable) -> str:
    if is_pint(var.data):
        return str(var.data.units).lower()
    return str(var.attrs.get("units", "")).strip().lower()


def cf_kind(var: xr.DataArray | xr.Variable) -> str | None:
    """``"latitude"``, ``"longitude"`` or None: what a coordinate is, by its CF units or standard name.

    Examples
    --------
    >>> cf_kind(xr.DataArray([0.0], attrs={"units": "degrees_north"})), cf_kind(xr.DataArray([0.0]))
    ('latitude', None)
    """
    units = _units_of(var).replace(" ", "_")
    std = str(var.attrs.get("standard_name", "")).lower()
    if units in NORTH_UNITS or std in ("latitude", "grid_latitude"):
        return "latitude"
    if units in EAST_UNITS or std in ("longitude", "grid_longitude"):
        return "longitude"
    return None


def _to_radians(var: xr.DataArray, name: Hashable) -> float:
    """Radians per unit of a latitude/longitude coordinate, from its units."""
    units = _units_of(var).replace(" ", "_")
    if units in NORTH_UNITS or units in EAST_UNITS or units in _DEGREES or units == "":
        return np.pi / 180.0
    if units in _RADIANS:
        return 1.0
    raise ValueError(
        f"cannot read the units {units!r} of coordinate {name!r}: latitude and longitude must be "
        f"in degrees ({sorted(_DEGREES | {'degrees_north', 'degrees_east'})}) or radians "
        f"({sorted(_RADIANS)})"
    )


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
    out: list[Hashable] = []
    for kind, given in (("latitude", latitude), ("longitude", longitude)):
        if given is not None:
            if given not in obj.coords and given not in obj.dims:
                raise ValueError(
                    f"{kind}={given!r} is neither a coordinate nor a dimension; coordinates: "
                    f"{[str(c) for c in obj.coords]}"
                )
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
    return out[0], out[1]


def _names_time(obj: xr.DataArray | xr.Dataset, spec: Any) -> bool:
    """Whether a derivative spec names a dim with datetime or cftime values."""
    keys = [spec] if isinstance(spec, (str, bytes)) or not isinstance(spec, Iterable) else list(spec)
    return any(_is_time(obj, k) for k in keys)


def _coord_var(obj: xr.DataArray | xr.Dataset, name: Hashable) -> xr.Variable:
    """A coordinate's Variable (no DataArray built around it: this is on every call's path)."""
    return obj.coords.variables[name]


def _is_time(obj: xr.DataArray | xr.Dataset, dim: Hashable) -> bool:
    from .calculus import is_time_coord

    return dim in obj.coords and is_time_coord(_coord_var(obj, dim))


def spatial_dims(obj: xr.DataArray | xr.Dataset, exclude: Iterable[Hashable] = ()) -> list[Hashable]:
    """Dims an operator runs over when none are named.

    The dims whose coordinates CF marks as spatial (``axis`` X, Y or Z); where none is marked,
    every dim. A time dim (datetime or cftime values, or CF ``axis: T``) is never mixed with
    others unless named: that is a ``ValueError``.

    Examples
    --------
    >>> da = xr.DataArray(np.zeros((2, 3)), dims=("y", "x"),
    ...                   coords={"x": ("x", [0.0, 1, 2], {"axis": "X"})})
    >>> spatial_dims(da)
    ['x']
    """
    dims = [d for d in obj.dims if d not in set(exclude)]

    def axis(d: Hashable) -> str:
        return str(_coord_var(obj, d).attrs.get("axis", "")).upper() if d in obj.coords else ""

    marked = [d for d in dims if axis(d) in ("X", "Y", "Z")]
    if marked:
        return marked
    times = [d for d in dims if _is_time(obj, d) or axis(d) == "T"]
    if times and len(dims) > 1:
        raise ValueError(
            f"no dims named, and the field has the time dim {str(times[0])!r} beside "
            f"{[str(d) for d in dims if d not in times]}: name the dims to differentiate along "
            "(a time derivative is not mixed with space unless asked for), or mark the spatial "
            "coordinates with CF 'axis' attributes (X, Y, Z)"
        )
    return dims


def horizontal_dims(
    obj: xr.DataArray | xr.Dataset, geometry: str, latitude: Hashable | None = None, longitude: Hashable | None = None
) -> list[Hashable]:
    """The dims a geometry's horizontal axes lie along (for picking a Dataset's variables).

    Examples
    --------
    >>> ds = xr.Dataset(coords={"la": ("la", [0.0, 1.0], {"units": "degrees_north"}),
    ...                         "lo": ("lo", [0.0, 1.0], {"units": "degrees_east"})})
    >>> horizontal_dims(ds, "sphere")
    ['la', 'lo']
    """
    names: tuple[Hashable, ...]
    if geometry == "sphere":
        names = lat_lon_coords(obj, latitude, longitude)
    elif geometry == "projected":
        names = tuple(
            n
            for n, v in obj.coords.items()
            if v.ndim == 1
            and str(v.attrs.get("standard_name", "")) in ("projection_y_coordinate", "projection_x_coordinate")
        )
    else:
        return spatial_dims(obj)
    dims: list[Hashable] = []
    for n in names:
        for d in obj.coords[n].dims if n in obj.coords else (n,):
            if d not in dims:
                dims.append(d)
    return dims


# ----------------------------------------------------------------------------- building the metric


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


def _coord_values(obj: xr.DataArray | xr.Dataset, name: Hashable) -> np.ndarray:
    data = obj.coords[name].data
    if is_pint(data):
        data = data.magnitude
    if hasattr(data, "__dask_graph__"):
        data = data.compute()
    if is_pint(data):
        data = data.magnitude
    return np.asarray(data, dtype=np.float64)


def _check_finite(values: np.ndarray, name: Hashable) -> None:
    bad = ~np.isfinite(values)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"coordinate {name!r} contains NaN or infinite values (first at index {where})")


def metric_for(
    obj: xr.DataArray | xr.Dataset,
    dims: Hashable | Iterable[Hashable] | None,
    diff: Diff,
    *,
    geometry: str = "cartesian",
    latitude: Hashable | None = None,
    longitude: Hashable | None = None,
    radius: float | None = None,
    crs: Any = None,
    boundary: Any = "one-sided",
    default_dims: bool = True,
) -> Metric:
    """Resolve the geometry of one call: its axes, frame and scale factors.

    Parameters
    ----------
    obj : DataArray or Dataset
        The field (its coordinates define the grid).
    dims : str or list, optional
        What to differentiate along: dims, 1-D coordinates, 2-D coordinates (a curvilinear grid),
        or for the sphere the latitude/longitude names. None: the geometry's horizontal axes
        (see :func:`spatial_dims` for the cartesian default).
    diff : callable
        ``diff(field, spec)``: the call's partial derivative (method, accuracy, boundary...), used
        for the grid's own derivatives.
    geometry : {"cartesian", "sphere", "projected"}
    latitude, longitude : str, optional
        Latitude/longitude coordinates (default: from CF attributes).
    radius : float, optional
        Sphere radius in metres (default the Earth's mean radius).
    crs : optional
        The projection (anything ``pyproj.CRS.from_user_input`` reads) for ``"projected"``;
        default: the CF ``grid_mapping`` of the field.

    Examples
    --------
    >>> da = xr.DataArray(np.zeros((3, 4)), dims=("y", "x"))
    >>> m = metric_for(da, None, None)
    >>> m.labels, m.flat
    (('y', 'x'), True)
    """
    if geometry not in GEOMETRIES:
        raise ValueError(f"geometry must be one of {GEOMETRIES}, got {geometry!r}")
    keys = as_keys(dims)
    if geometry == "sphere":
        if radius is not None and not (np.isfinite(float(radius)) and float(radius) > 0):
            raise ValueError(f"radius must be a positive finite length in metres, got {radius!r}")
        return _sphere(
            obj, keys, diff, latitude, longitude, EARTH_RADIUS if radius is None else float(radius), boundary
        )
    for name, value in (("latitude", latitude), ("longitude", longitude), ("radius", radius)):
        if value is not None:
            raise ValueError(f"{name}= applies to geometry='sphere' only")
    if geometry == "projected":
        return _projected(obj, keys, diff, crs)
    if crs is not None:
        raise ValueError("crs= applies to geometry='projected' only")
    if keys is None:
        keys = spatial_dims(obj) if default_dims else list(obj.dims)
    two_d = [k for k in keys if k in obj.coords and _coord_var(obj, k).ndim == 2 and k not in obj.dims]
    if two_d:
        return _curvilinear(obj, keys, two_d, diff)
    return _flat(obj, keys)


def _length_unit(obj: xr.DataArray | xr.Dataset, key: Hashable) -> str | None:
    if key in obj.coords:
        var = _coord_var(obj, key)
        if not isinstance(var, xr.IndexVariable) and is_pint(var.data):  # (an index holds no quantity)
            return str(var.data.units)
        return var.attrs.get("units")
    return None


def _flat(obj: xr.DataArray | xr.Dataset, keys: list[Hashable]) -> Metric:
    labels = tuple(str(k) for k in keys)
    if not labels:
        raise ValueError("no dimension given to differentiate along")
    return Metric(
        kind="cartesian",
        labels=labels,
        dims=labels,
        G={(k, k): 1.0 for k in labels},
        length_units={str(k): _length_unit(obj, k) for k in keys},
    )


def _extra_axes(
    obj: xr.DataArray | xr.Dataset, keys: list[Hashable], horizontal: Iterable[Hashable]
) -> tuple[list[str], dict[tuple[str, str], Coef], dict[str, str | None]]:
    """Cartesian axes named beside the horizontal ones (a vertical dim, say): identity entries."""
    extra = [str(k) for k in keys if k not in set(horizontal)]
    return extra, {(k, k): 1.0 for k in extra}, {k: _length_unit(obj, k) for k in extra}


# The grid's own derivatives and map factors depend only on its coordinates and the call's
# method/options: they are kept for the last few grids, keyed by a digest of the coordinate values.
_GRID_CACHE: OrderedDict[Any, Any] = OrderedDict()
_GRID_CACHE_SIZE = 8


def _digest(values: np.ndarray) -> tuple[Any, ...]:
    """A 128-bit fingerprint of float64 values: two weighted sums of their bit patterns (wrapping),
    about 20× faster than a cryptographic hash of the bytes (coordinates are not adversarial)."""
    bits = np.ascontiguousarray(values, dtype=np.float64).reshape(-1).view(np.uint64)
    n = bits.size
    weights = _fingerprint_weights(n)
    with np.errstate(over="ignore"):
        return (values.shape, int(np.dot(bits, weights[0])), int(np.dot(bits, weights[1])))


@lru_cache(maxsize=8)
def _fingerprint_weights(n: int) -> tuple[np.ndarray, np.ndarray]:
    i = np.arange(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        return (i * np.uint64(0x9E3779B97F4A7C15) + np.uint64(1)) | np.uint64(1), (
            i * np.uint64(0xC2B2AE3D27D4EB4F) + np.uint64(0x165667B19E3779F9)
        ) | np.uint64(1)


def _cached(key: Any, compute: Callable[[], Any]) -> Any:
    if key in _GRID_CACHE:
        _GRID_CACHE.move_to_end(key)
        return _GRID_CACHE[key]
    value = compute()
    _GRID_CACHE[key] = value
    while len(_GRID_CACHE) > _GRID_CACHE_SIZE:
        _GRID_CACHE.popitem(last=False)
    return value


def _grid_derivatives(
    obj: xr.DataArray | xr.Dataset, name: Hashable, diff: Diff, periodic_angle: float | None = None
) -> dict[str, xr.DataArray]:
    """``∂c/∂q`` of a 2-D coordinate along each of its dims (cached per grid and derivative keywords)."""
    values = _coord_values(obj, name)
    var = obj.coords[name]
    dim_digests = tuple((str(d), _digest(_coord_values(obj, d))) for d in var.dims if d in obj.coords)
    key = (
        "grid",
        _digest(values),
        values.shape,
        tuple(map(str, var.dims)),
        dim_digests,
        periodic_angle,
        diff.key(),
        tuple(_boundary_of(diff, d) for d in var.dims),
    )
    return _cached(key, lambda: _compute_grid_derivatives(obj, name, values, diff, periodic_angle))


def _compute_grid_derivatives(
    obj: xr.DataArray | xr.Dataset, name: Hashable, values: np.ndarray, diff: Diff, periodic_angle: float | None
) -> dict[str, xr.DataArray]:
    """``∂c/∂q`` of a 2-D coordinate along each of its dims, with the call's stencils.

    An angle (``periodic_angle`` = one turn in its units) is unwrapped along each dim first, or
    differentiated through its sine and cosine where a dim wraps around (periodic boundary).
    """
    var = obj.coords[name]
    _check_finite(values, name)
    dim_coords = {d: obj.coords[d] for d in var.dims if d in obj.coords}
    out: dict[str, xr.DataArray] = {}
    for axis, d in enumerate(var.dims):
        unwrapped = values if periodic_angle is None else np.unwrap(values, period=periodic_angle, axis=axis)
        c = xr.DataArray(unwrapped, dims=var.dims, coords=dim_coords)
        wraps = _boundary_of(diff, d) == "periodic"
        if periodic_angle is not None and wraps:
            turn = 2 * np.pi / periodic_angle
            s, co = np.sin(values * turn), np.cos(values * turn)
            ds = diff(xr.DataArray(s, dims=var.dims, coords=dim_coords), d, grid=True)
            dc = diff(xr.DataArray(co, dims=var.dims, coords=dim_coords), d, grid=True)
            result = (co * ds - s * dc) / turn
        else:
            result = diff(c, d, grid=True)
        out[str(d)] = _bare(
            np.asarray(result.data if not hasattr(result.data, "compute") else result.data.compute(), dtype=np.float64),
            var.dims,
        )
    return out


def _boundary_of(diff: Diff, dim: Hashable) -> str:
    boundary = getattr(diff, "boundary", "one-sided")
    if isinstance(boundary, Mapping):
        return str(boundary.get(dim, "one-sided"))
    return str(boundary)


def _check_jacobian(det: xr.DataArray, names: Sequence[Hashable], skip: np.ndarray | None = None) -> None:
    """Refuse folded or degenerate grids: the Jacobian determinant must keep one sign and not vanish."""
    d = np.asarray(det.values)
    ok = np.ones(d.shape, bool) if skip is None else ~skip
    bad_nan = ok & ~np.isfinite(d)
    if bad_nan.any():
        where = tuple(int(i) for i in np.argwhere(bad_nan)[0])
        raise ValueError(
            f"the grid of coordinates {[str(n) for n in names]} has a non-finite Jacobian at index "
            f"{where} of dims {list(det.dims)}"
        )
    vals = d[ok]
    scale = np.max(np.abs(vals)) if vals.size else 0.0
    zero = ok & (np.abs(d) <= 1e-12 * scale)
    if zero.any() or scale == 0:
        where = tuple(int(i) for i in np.argwhere(zero)[0]) if zero.any() else ()
        raise ValueError(
            f"the grid of coordinates {[str(n) for n in names]} is degenerate (Jacobian determinant "
            f"zero) at index {where} of dims {list(det.dims)}"
        )
    if (vals > 0).any() and (vals < 0).any():
        minority = d > 0 if (vals > 0).sum() < (vals < 0).sum() else d < 0
        where = tuple(int(i) for i in np.argwhere(ok & minority)[0])
        raise ValueError(
            f"the grid of coordinates {[str(n) for n in names]} folds over itself (its Jacobian "
            f"determinant changes sign) at index {where} of dims {list(det.dims)}"
        )


def _curvilinear(obj: xr.DataArray | xr.Dataset, keys: list[Hashable], two_d: list[Hashable], diff: Diff) -> Metric:
    """Planar 2-D coordinates ``x(j, i)``, ``y(j, i)``: G is the grid's Jacobian."""
    if len(two_d) != 2:
        raise ValueError(
            f"a curvilinear grid needs two 2-D coordinates (e.g. x(j, i) and y(j, i)), got {[str(k) for k in two_d]}"
        )
    grid_dims = obj.coords[two_d[0]].dims
    if set(obj.coords[two_d[1]].dims) != set(grid_dims):
        raise ValueError(
            f"the 2-D coordinates {two_d[0]!r} and {two_d[1]!r} must have the same dims, got "
            f"{obj.coords[two_d[0]].dims} and {obj.coords[two_d[1]].dims}"
        )
    clash = [k for k in keys if k in grid_dims]
    if clash:
        raise ValueError(
            f"name either the 2-D coordinates {[str(k) for k in two_d]} or their dims, not both "
            f"(got {[str(k) for k in keys]})"
        )
    G: dict[tuple[str, str], Coef] = {}
    for name in two_d:
        for q, dq in _grid_derivatives(obj, name, diff).items():
            G[str(name), q] = dq
    labels2 = tuple(str(k) for k in two_d)
    qs = tuple(str(d) for d in grid_dims)
    det = _det({(i, j): G[a, q] for i, a in enumerate(labels2) for j, q in enumerate(qs)}, [0, 1], [0, 1])
    _check_jacobian(det, two_d)  # type: ignore[arg-type]
    extra, extra_G, extra_units = _extra_axes(obj, keys, two_d)
    units = {str(k): _length_unit(obj, k) for k in two_d}
    labels = tuple(str(k) for k in keys)
    dims = tuple(str(k) if k not in two_d else "" for k in keys)
    dims = _fill_grid_dims(dims, qs)
    return Metric(
        kind="curvilinear",
        labels=labels,
        dims=dims,
        G={**G, **extra_G},
        length_units={**units, **extra_units},
        orientation=labels2 + tuple(extra),
        grid_frame=(qs[1], qs[0]),
    )


def _fill_grid_dims(dims: tuple[str, ...], grid_dims: tuple[str, ...]) -> tuple[str, ...]:
    """Put the grid's index dims where the 2-D coordinates stand in the key list."""
    out, it = [], iter(grid_dims)
    for d in dims:
        out.append(next(it) if d == "" else d)
    return tuple(out)


def _sphere(
    obj: xr.DataArray | xr.Dataset,
    keys: list[Hashable] | None,
    diff: Diff,
    latitude: Hashable | None,
    longitude: Hashable | None,
    radius: float,
    boundary: Any,
) -> Metric:
    given_lat, given_lon = latitude, longitude
    if keys is not None and latitude is None and longitude is None:
        kinds = {k: cf_kind(obj.coords[k]) for k in keys if k in obj.coords}
        lats = [k for k, v in kinds.items() if v == "latitude"]
        lons = [k for k, v in kinds.items() if v == "longitude"]
        given_lat = lats[0] if len(lats) == 1 else None
        given_lon = lons[0] if len(lons) == 1 else None
    lat, lon = lat_lon_coords(obj, given_lat, given_lon)
    if keys is None:
        keys = [lat, lon]
    missing = [k for k in (lat, lon) if k not in keys]
    if missing:
        raise ValueError(
            f"geometry='sphere' differentiates along latitude {str(lat)!r} and longitude "
            f"{str(lon)!r} together; got {[str(k) for k in keys]}"
        )
    lat_var = obj.coords[lat] if lat in obj.coords else None
    lon_var = obj.coords[lon] if lon in obj.coords else None
    if lat_var is None or lon_var is None:
        raise ValueError(
            f"geometry='sphere' needs coordinate values for latitude {str(lat)!r} and longitude {str(lon)!r}"
        )
    if lat_var.ndim != lon_var.ndim:
        raise ValueError(f"latitude {str(lat)!r} and longitude {str(lon)!r} must both be 1-D or both 2-D")
    to_rad = _to_radians(lat_var, lat)
    lon_to_rad = _to_radians(lon_var, lon)
    if lat_var.ndim == 1:
        phi, cos, pole = _latitude_terms(obj, lat, to_rad)
        return _sphere_1d(
            obj, keys, lat, lon, lat_var, lon_var, phi, cos, pole, to_rad, lon_to_rad, radius, diff, boundary
        )
    return _sphere_2d(obj, keys, lat, lon, lat_var, to_rad, lon_to_rad, radius, diff)


def _latitude_terms(
    obj: xr.DataArray | xr.Dataset, lat: Hashable, to_rad: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Latitude in radians (validated), its cosine (exactly 0 at the poles) and the pole mask."""
    phi = _coord_values(obj, lat) * to_rad
    _check_finite(phi, lat)
    if np.any(np.abs(phi) > np.pi / 2 * (1 + 1e-12)):
        raise ValueError(
            f"latitude {str(lat)!r} has values beyond ±90° (±π/2 rad): are its units right? "
            f"(units {obj.coords[lat].attrs.get('units', 'unset')!r})"
        )
    pole = np.abs(np.abs(phi) - np.pi / 2) <= 1e-9
    return phi, np.where(pole, 0.0, np.cos(phi)), pole


def _sphere_1d(
    obj: xr.DataArray | xr.Dataset,
    keys: list[Hashable],
    lat: Hashable,
    lon: Hashable,
    lat_var: xr.DataArray,
    lon_var: xr.DataArray,
    phi: np.ndarray,
    cos: np.ndarray,
    pole: np.ndarray,
    to_rad: float,
    lon_to_rad: float,
    radius: float,
    diff: Diff,
    boundary: Any,
) -> Metric:
    lat_dim, lon_dim = lat_var.dims[0], lon_var.dims[0]
    if lat_dim == lon_dim:
        raise ValueError(f"latitude {str(lat)!r} and longitude {str(lon)!r} lie along the same dim {lat_dim!r}")
    G: dict[tuple[str, str], Coef] = {
        (str(lat), str(lat)): radius * to_rad,
        (str(lon), str(lon)): _bare(radius * lon_to_rad * cos, (lat_dim,)),
    }
    extra, extra_G, extra_units = _extra_axes(obj, keys, (lat, lon))
    labels = tuple(str(k) for k in keys)
    options: dict[str, Any] = {}
    lam = _coord_values(obj, lon)
    h = detect_spacing(lam) if lam.size > 1 else None
    turn = 2 * np.pi / lon_to_rad
    full_circle = h is not None and abs(abs(h) * lam.size - turn) < 1e-6 * turn
    if full_circle and _open_boundary(boundary, lon, lon_dim) and _periodic_possible(diff, lam):
        options = {"boundary": {lon: "periodic"}, "period": {lon: turn}}
    singular = _bare(pole, (lat_dim,)) if pole.any() else None
    caps = _polar_caps(lat_dim, lon_dim, phi, cos, pole, to_rad, radius, diff) if pole.any() and full_circle else None
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


def _open_boundary(boundary: Any, lon: Hashable, lon_dim: Hashable) -> bool:
    if isinstance(boundary, Mapping):
        return (
            boundary.get(lon, boundary.get(lon_dim, "one-sided")) == "one-sided"
            and lon not in boundary
            and lon_dim not in boundary
        )
    return boundary == "one-sided"


def _periodic_possible(diff: Diff, lam: np.ndarray) -> bool:
    """Whether the call's method can take ``boundary="periodic"`` along ``lam`` (natively or emulated)."""
    kwargs = getattr(diff, "options", {})
    method = get_method(getattr(diff, "method", "fd"))
    if "periodic" in method.boundaries:
        return True
    options = {k: v for k, v in kwargs.items() if k in method.options}
    coord = AxisCoord(values=np.asarray(lam, dtype=np.float64), spacing=detect_spacing(lam))
    return "one-sided" in method.boundaries and method.halo(coord, 1, **{**method.options, **options}) is not None


def _polar_caps(
    lat_dim: Hashable,
    lon_dim: Hashable,
    phi: np.ndarray,
    cos: np.ndarray,
    pole: np.ndarray,
    to_rad: float,
    radius: float,
    diff: Diff,
) -> PolarCaps:
    """Rings and extrapolation weights for the pole rows at the ends of a 1-D latitude axis."""
    accuracy = int(getattr(diff, "options", {}).get("accuracy", 2))
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


def _sphere_2d(
    obj: xr.DataArray | xr.Dataset,
    keys: list[Hashable],
    lat: Hashable,
    lon: Hashable,
    lat_var: xr.DataArray,
    to_rad: float,
    lon_to_rad: float,
    radius: float,
    diff: Diff,
) -> Metric:
    grid_dims = lat_var.dims
    if set(obj.coords[lon].dims) != set(grid_dims):
        raise ValueError(
            f"latitude {str(lat)!r} and longitude {str(lon)!r} must have the same dims, got "
            f"{grid_dims} and {obj.coords[lon].dims}"
        )
    qs = tuple(str(d) for d in grid_dims)
    dim_digests = tuple((str(d), _digest(_coord_values(obj, d))) for d in grid_dims if d in obj.coords)
    key = (
        "sphere 2-D",
        _digest(_coord_values(obj, lat)),
        _digest(_coord_values(obj, lon)),
        qs,
        dim_digests,
        to_rad,
        lon_to_rad,
        radius,
        diff.key(),
        tuple(_boundary_of(diff, d) for d in grid_dims),
    )

    def compute() -> tuple[dict[tuple[str, str], Coef], np.ndarray, Coef, Any]:
        _, cos, pole = _latitude_terms(obj, lat, to_rad)
        dphi = _grid_derivatives(obj, lat, diff)
        dlam = _grid_derivatives(obj, lon, diff, periodic_angle=2 * np.pi / lon_to_rad)
        cos_da = _bare(cos, grid_dims)
        G: dict[tuple[str, str], Coef] = {}
        for q in qs:
            G[str(lat), q] = dphi[q] * (radius * to_rad)
            G[str(lon), q] = dlam[q] * (radius * lon_to_rad) * cos_da
        jac = _det({(0, 0): dphi[qs[0]], (0, 1): dphi[qs[1]], (1, 0): dlam[qs[0]], (1, 1): dlam[qs[1]]}, [0, 1], [0, 1])
        _check_jacobian(jac, (lat, lon), skip=pole)  # type: ignore[arg-type]
        east_north = _det(
            {(i, j): G[a, q] for i, a in enumerate((str(lon), str(lat))) for j, q in enumerate(qs)}, [0, 1], [0, 1]
        )
        return G, pole, east_north, safe_div(1.0, east_north)

    G, pole, det_en, inv_det_en = _cached(key, compute)
    extra, extra_G, extra_units = _extra_axes(obj, keys, (lat, lon))
    labels = tuple(str(k) for k in keys)
    dims = _fill_grid_dims(tuple(str(k) if k not in (lat, lon) else "" for k in keys), qs)
    singular = _bare(pole, grid_dims) if pole.any() else None
    memo: dict[Any, Any] = {}
    if not extra and dims == qs:  # the determinants are those of the cached grid
        east_north, north_east = (str(lon), str(lat)), (str(lat), str(lon))
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
        _memo=memo,
    )


def _projected(obj: xr.DataArray | xr.Dataset, keys: list[Hashable] | None, diff: Diff, crs: Any) -> Metric:
    """1-D projection coordinates of a conformal map projection: G = diag(1/m, 1/m)."""
    try:
        import pyproj
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("geometry='projected' needs pyproj: pip install 'fieldgrad[geo]'") from err
    crs_obj, where = _read_crs(obj, crs, pyproj)
    if not crs_obj.is_projected:
        raise ValueError(
            f"geometry='projected' needs a projected coordinate reference system; {where} is {crs_obj.name!r}"
        )
    xy: dict[str, Hashable] = {}
    for name, var in obj.coords.items():
        std = str(var.attrs.get("standard_name", ""))
        axis = str(var.attrs.get("axis", "")).upper()
        if var.ndim == 1 and (std == "projection_x_coordinate" or (axis == "X" and not cf_kind(var))):
            xy.setdefault("x", name)
        if var.ndim == 1 and (std == "projection_y_coordinate" or (axis == "Y" and not cf_kind(var))):
            xy.setdefault("y", name)
    if "x" not in xy or "y" not in xy:
        raise ValueError(
            "geometry='projected' needs the projection's x and y coordinates: 1-D coordinates "
            "with standard_name 'projection_x_coordinate' / 'projection_y_coordinate' (or axis X/Y)"
        )
    x, y = xy["x"], xy["y"]
    if keys is None:
        keys = [y, x]
    if x not in keys or y not in keys:
        raise ValueError(
            f"geometry='projected' differentiates along {str(y)!r} and {str(x)!r} together; "
            f"got {[str(k) for k in keys]}"
        )
    scale_x, scale_y = _metres_per_unit(obj, x), _metres_per_unit(obj, y)
    xv, yv = _coord_values(obj, x), _coord_values(obj, y)
    key = ("map factors", crs_obj.to_wkt(), _digest(xv), _digest(yv), scale_x, scale_y)
    k, h = _cached(key, lambda: _map_factors(pyproj, crs_obj, xv * scale_x, yv * scale_y))
    inside = np.isfinite(k) & np.isfinite(h)
    if not inside.any():
        raise ValueError(f"the projection of {where} gives no map factors on this grid (x, y out of its domain?)")
    if np.nanmax(np.abs(k[inside] - h[inside]) / k[inside]) > 1e-6:
        raise ValueError(
            f"the projection of {where} ({crs_obj.name!r}) is not conformal (its scale differs by "
            "direction): give 2-D latitude/longitude coordinates and use geometry='sphere' instead"
        )
    ydim, xdim = obj.coords[y].dims[0], obj.coords[x].dims[0]
    inv_m = _bare(1.0 / k, (ydim, xdim))
    G: dict[tuple[str, str], Coef] = {(str(x), str(x)): inv_m * scale_x, (str(y), str(y)): inv_m * scale_y}
    extra, extra_G, extra_units = _extra_axes(obj, keys, (x, y))
    labels = tuple(str(kk) for kk in keys)
    return Metric(
        kind="projected",
        labels=labels,
        dims=labels,
        G={**G, **extra_G},
        length_units={str(x): "m", str(y): "m", **extra_units},
        orientation=(str(x), str(y), *extra),
    )


def _map_factors(pyproj: Any, crs: Any, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parallel and meridional scale factors of the projection at every (y, x) grid point."""
    X, Y = np.meshgrid(x, y)
    lon, lat = pyproj.Transformer.from_crs(crs, crs.geodetic_crs, always_xy=True).transform(X, Y)
    factors = pyproj.Proj(crs).get_factors(lon, lat)
    return (
        np.asarray(factors.parallel_scale, dtype=np.float64),
        np.asarray(factors.meridional_scale, dtype=np.float64),
    )


def _metres_per_unit(obj: xr.DataArray | xr.Dataset, name: Hashable) -> float:
    units = _units_of(obj.coords[name])
    if units in _METRES:
        return _METRES[units]
    raise ValueError(
        f"projection coordinate {name!r} has units {units or 'unset'!r}; give them in metres ({sorted(_METRES)})"
    )


def _read_crs(obj: xr.DataArray | xr.Dataset, crs: Any, pyproj: Any) -> tuple[Any, str]:
    if crs is not None:
        try:
            return pyproj.CRS.from_user_input(crs), "crs="
        except pyproj.exceptions.CRSError as err:
            raise ValueError(f"crs={crs!r} is not a coordinate reference system pyproj can read: {err}") from None
    gm = obj.attrs.get("grid_mapping") or getattr(obj, "encoding", {}).get("grid_mapping")
    if gm is None:
        raise ValueError(
            "geometry='projected' needs the projection: a CF 'grid_mapping' attribute naming its variable, or crs="
        )
    name = str(gm).split(":")[0].strip()
    if name not in obj.coords and not (isinstance(obj, xr.Dataset) and name in obj.variables):
        raise ValueError(
            f"grid_mapping {name!r} names no variable of the field; add it as a coordinate "
            f"(xr.open_dataset(..., decode_coords='all')) or pass crs="
        )
    attrs = obj[name].attrs
    try:
        return pyproj.CRS.from_cf(attrs), f"grid_mapping variable {name!r}"
    except Exception as err:  # noqa: BLE001 - pyproj raises CRSError, KeyError, ValueError... for unreadable CF
        raise ValueError(f"cannot read the projection of grid_mapping variable {name!r}: {err}") from None
