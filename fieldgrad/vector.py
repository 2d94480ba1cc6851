"""Vector calculus on labelled fields, written once for every geometry.

A vector field is a DataArray with a ``component`` dimension whose labels name the directions
the components point along (``component=["x", "y", "z"]``; ``["lat", "lon"]`` on the sphere:
northward and eastward). Every operator here resolves the call's geometry to a
:class:`fieldgrad.geometry.Metric` (scale factors, frame, poles) and applies one formula in
terms of it (see :mod:`fieldgrad.geometry`): flat grids reduce to sums of partial derivatives,
latitude/longitude, curvilinear and projected grids add their metric terms. All derivatives come
from :func:`fieldgrad.calculus.partial`, so every operator runs with any registered method, on
numpy- or dask-backed data, with the same keywords (``method``, ``accuracy``, ``boundary``, ...).

Geometry keywords (every operator):

``geometry``
    ``"cartesian"`` (default; 1-D coordinates, or 2-D coordinates ``x(j, i)``, ``y(j, i)`` of a
    curvilinear grid named in place of dims), ``"sphere"`` (latitude/longitude, 1-D or 2-D, in
    degrees or radians; results per metre) or ``"projected"`` (1-D projection coordinates in
    metres of a conformal map projection: the map factors come from pyproj).
``latitude``, ``longitude``
    The latitude/longitude coordinates; default: found from CF attributes, never from names.
``radius``
    Sphere radius in metres (default the Earth's mean radius, 6.371e6 m).
``crs``
    The projection for ``"projected"`` (default: the field's CF ``grid_mapping``).
``frame``
    ``"earth"`` (default): vectors along the coordinates (east/north on the sphere, x/y on a
    curvilinear grid); ``"grid"``: grid-relative components labelled by the index dims, ``i``
    along the grid lines of the last dim. Vector inputs are read in the frame their labels name.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import xarray as xr

from . import calculus
from .cf import vector_standard_name
from .geometry import FRAMES, Differentiator, Metric, add, as_keys, metric_for, mul, sub
from .labelled import coord_variables
from .signatures import shows_keywords
from .units import base_label as _base
from .units import component_labels, derivative_long_name, derivative_name, divide_units, prefixed_name, split_pint
from .units import label_result as _finish

__all__ = [
    "components",
    "gradient",
    "divergence",
    "curl",
    "laplacian",
    "hessian",
    "jacobian",
    "magnitude",
    "directional",
    "along",
]

# encoding key of a vector field built from variables: {component label: the variable's standard_name}
COMPONENT_STANDARD_NAMES = "fieldgrad_component_standard_names"
_GEOMETRY_KEYWORDS = ("geometry", "latitude", "longitude", "radius", "crs", "frame")


def components(field: xr.DataArray, component_dim: Hashable = "component") -> dict[str, xr.DataArray]:
    """The components of a vector field by the direction they point along.

    Examples
    --------
    >>> E = xr.DataArray(np.zeros((2, 3, 4)), dims=("component", "x", "y"),
    ...                  coords={"component": ["x", "y"]})
    >>> list(components(E))
    ['x', 'y']
    """
    if component_dim not in field.dims:
        raise ValueError(
            f"a vector field needs a {component_dim!r} dimension (component_dim=), "
            f"got dims {[str(d) for d in field.dims]}"
        )
    if component_dim not in field.coords:
        raise ValueError(
            f"the {component_dim!r} dimension needs a coordinate whose labels name the "
            f"dimensions the components point along, e.g. ['x', 'y']"
        )
    labels = [str(v) for v in field[component_dim].values.tolist()]
    spatial = [str(d) for d in field.dims if d != component_dim]
    for label in labels:
        if label not in spatial and label not in field.coords:
            raise ValueError(f"component {label!r} does not name a dimension of the field; dims: {spatial}")
    return {label: field.isel({component_dim: k}, drop=True) for k, label in enumerate(labels)}


# ----------------------------------------------------------------------------- one call's geometry


@dataclass
class _Call:
    """A field with its geometry resolved: metric, derivative keywords, pint units set aside."""

    field: xr.DataArray
    metric: Metric
    diff: Differentiator
    frame: str
    pint_units: Any = None

    @property
    def flat(self) -> bool:
        return self.metric.flat

    def labels(self) -> tuple[str, ...]:
        return self.metric.grid_labels() if self.frame == "grid" else self.metric.labels

    def coef_derivative(self, coef: Any, q: str) -> Any:
        """``∂c/∂q`` of a metric coefficient (0 when it does not vary along q)."""
        if not isinstance(coef, xr.DataArray):
            return 0.0
        dim = calculus.dim_of(self.field, q)
        if dim not in coef.dims:
            return 0.0
        coords = {name: c for name, c in self.field.coords.items() if c.ndim == 1 and c.dims[0] in coef.dims}
        d = self.diff(coef.assign_coords(coords), q, grid=True)
        return xr.DataArray(d.data, dims=d.dims)

    def units(self, labels: Iterable[str], order: int, terms: Iterable[xr.DataArray] = ()) -> str | None:
        """Field units per length unit^order when every label involved has the same length unit."""
        if self.flat:
            return _common_units(terms)
        per = {self.metric.length_units.get(a) for a in labels}
        field_units = self.field.attrs.get("units") if self.pint_units is None else str(self.pint_units)
        if len(per) != 1 or None in per or field_units is None:
            return None
        return divide_units(field_units, {per.pop(): order})  # type: ignore[dict-item]

    def finish(
        self,
        out: xr.DataArray,
        like: xr.DataArray,
        name: str | None,
        long_name: str,
        labels: Iterable[str],
        order: int,
        terms: Iterable[xr.DataArray] = (),
        cf_operation: str | None = None,
    ) -> xr.DataArray:
        """Attach pint units (when the field had them) and the result's name, long_name, units and,
        for ``cf_operation`` ("divergence", "curl") of named components, the CF standard name."""
        labels = list(labels)
        units = self.units(labels, order, terms)
        if self.pint_units is not None:
            per = {self.metric.length_units.get(a) for a in labels}
            if len(per) != 1 or None in per:
                raise ValueError(
                    f"a pint-quantified result needs coordinates with the same units, got {self.metric.length_units}"
                )
            registry = self.pint_units._REGISTRY
            out = out.copy(data=registry.Quantity(out.data, self.pint_units / registry.Unit(per.pop()) ** order))
            units = None
        standard_name = None
        if cf_operation is not None:
            names = like.encoding.get(COMPONENT_STANDARD_NAMES, {})
            order_of_labels = self.metric.handed if cf_operation == "curl" else self.metric.labels
            standard_name = vector_standard_name(
                cf_operation,
                [names.get(a) for a in order_of_labels],
                units if units is not None else (str(out.data.units) if self.pint_units is not None else None),
            )
        if not self.flat:
            out = out.assign_coords(
                {k: v for k, v in like.coords.items() if k not in out.coords and set(v.dims) <= set(out.dims)}
            )
        return _finish(out, like, name, long_name, units, standard_name=standard_name)


def _call(field: xr.DataArray, dims: Any, kwargs: dict[str, Any], *, vector_labels: list[str] | None = None) -> _Call:
    geo = {k: kwargs.pop(k) for k in _GEOMETRY_KEYWORDS if k in kwargs}
    geometry = geo.pop("geometry", "cartesian")
    frame = geo.pop("frame", "earth")
    if frame not in FRAMES:
        raise ValueError(f"frame must be one of {FRAMES}, got {frame!r}")
    diff = Differentiator(**kwargs)
    boundary = kwargs.get("boundary", "one-sided")
    if vector_labels is not None and dims is None and geometry == "cartesian":
        dims = vector_labels
        if frame == "grid":  # grid-relative components: along the index dims of the 2-D coordinates over them
            dims = _planar_coordinates(field, vector_labels)
    metric = metric_for(field, dims, diff, geometry=geometry, boundary=boundary, **geo)
    if vector_labels is not None and geometry != "cartesian":
        # the geometry's horizontal axes, and any other direction the vector has (a vertical one)
        earth = dict(zip(metric.grid_labels(), metric.labels, strict=True)) if metric.grid_frame else {}
        mapped = [earth.get(a, a) for a in vector_labels]
        if set(mapped) - set(metric.labels):
            metric = metric_for(field, mapped, diff, geometry=geometry, boundary=boundary, **geo)
    diff = diff.with_defaults(metric.options)
    if frame == "grid" and metric.grid_frame is None and metric.kind != "projected":
        raise ValueError(
            "frame='grid' needs a curvilinear grid (2-D coordinates); on this grid the components "
            f"are already along its axes {list(metric.labels)}"
        )
    pint_units = None
    if not metric.flat:
        # work without the 2-D coordinates (lat(j, i)...): xarray would compare them at every
        # arithmetic step; the results get them back in finish()
        field = _without_grid_coords(field)
        data, pint_units = split_pint(field.data)
        if pint_units is not None:
            field = field.copy(data=data)
    return _Call(field=field, metric=metric, diff=diff, frame=frame, pint_units=pint_units)


def _planar_coordinates(field: xr.DataArray, grid_dims: list[str]) -> list[Hashable]:
    """The two 2-D coordinates ``x(j, i)``, ``y(j, i)`` over the index dims a grid-relative vector names."""
    found = [c for c, v in field.coords.items() if v.ndim == 2 and set(map(str, v.dims)) == set(grid_dims)]
    if len(found) != 2:
        raise ValueError(
            f"frame='grid' reads components along the index dims {grid_dims} of a curvilinear grid, "
            f"which needs exactly two 2-D coordinates over them; found {[str(c) for c in found]}"
        )
    return found


def _common_units(parts: Iterable[xr.DataArray]) -> str | None:
    units = {p.attrs.get("units") for p in parts}
    return units.pop() if len(units) == 1 else None


def _stack(parts: Mapping[str, xr.DataArray], dim: Hashable) -> xr.DataArray:
    out = xr.concat(list(parts.values()), dim=dim, coords="minimal", compat="override", join="override")
    return out.assign_coords({dim: component_labels(parts)})


def _vector_in(call: _Call, comps: dict[str, xr.DataArray]) -> dict[str, xr.DataArray]:
    """The components in the metric's frame, in its label order (grid-relative input rotated)."""
    metric = call.metric
    labels = set(comps)
    if labels == set(metric.labels):
        return {a: _strip(call, comps[a]) for a in metric.labels}
    if metric.grid_frame is not None and labels == set(metric.grid_labels()):
        rotated = metric.from_grid({a: _strip(call, v) for a, v in comps.items()})
        return {a: rotated[a] for a in metric.labels}
    expected = [list(metric.labels)] + ([list(metric.grid_labels())] if metric.grid_frame else [])
    raise ValueError(
        f"the vector's components {sorted(labels)} do not match the grid's directions: expected "
        f"labels {' or '.join(str(e) for e in expected)}"
    )


def _without_grid_coords(da: xr.DataArray) -> xr.DataArray:
    """``da`` without its coordinates of two or more dims (the grid's, used by the metric only)."""
    return da.drop_vars([k for k, v in da.coords.items() if v.ndim >= 2])


def _strip(call: _Call, part: xr.DataArray) -> xr.DataArray:
    part = _without_grid_coords(part)
    if call.pint_units is None:
        return part
    data, _ = split_pint(part.data)
    return part.copy(data=data)


# ----------------------------------------------------------------------------- the operators


def _gradient_parts(call: _Call, f: xr.DataArray) -> dict[str, xr.DataArray]:
    """``∇f_a = Σ_q (G⁻¹)_qa ∂_q f`` for every label (in the earth frame), NaN where singular."""
    metric = call.metric
    d = call.diff.first(f, metric.dims)
    if metric.flat:
        return {a: d[a] for a in metric.labels}
    inv = metric.inverse()
    parts = {}
    for a in metric.labels:
        total: Any = 0.0
        for q in metric.dims:
            total = add(total, mul(d[q], inv.get((q, a), 0.0)))
        parts[a] = metric.mask_singular(total.transpose(*f.dims))
    return parts


@shows_keywords()
def partial(obj: xr.DataArray | xr.Dataset, spec: Any, order: int = 1, **kwargs: Any) -> xr.DataArray | xr.Dataset:
    """Partial derivative: along dims or 1-D coordinates, or physical along a geometry's direction.

    Without geometry keywords this is :func:`fieldgrad.calculus.partial`. With ``geometry=``
    (``"sphere"``, ``"projected"``) or a 2-D coordinate named (``"x"`` of ``x(j, i)``), the first
    derivative along one direction, per unit of length: the gradient's component along it
    (``partial("lat", geometry="sphere")`` is the northward derivative, per metre).

    Examples
    --------
    >>> lat = np.linspace(-60, 60, 13)
    >>> lon = np.arange(0, 360, 30.0)
    >>> T = xr.DataArray(np.outer(np.deg2rad(lat), np.ones(lon.size)), dims=("lat", "lon"),
    ...                  coords={"lat": ("lat", lat, {"units": "degrees_north"}),
    ...                          "lon": ("lon", lon, {"units": "degrees_east"})}, name="T")
    >>> d = partial(T, "lat", geometry="sphere")
    >>> d.name, round(float(d.mean()) * 6.371e6, 12)   # dT/dφ = 1 per radian: 1/R per metre
    ('dT_dlat', 1.0)
    """
    geometric = kwargs.get("geometry", "cartesian") != "cartesian"
    keys = as_keys(spec) or []
    variables = coord_variables(obj)
    two_d = [k for k in keys if k in variables and variables[k].ndim == 2 and k not in obj.dims]
    if not geometric and not two_d:
        extra = [k for k in _GEOMETRY_KEYWORDS if k in kwargs and not (k == "geometry" and kwargs[k] == "cartesian")]
        if extra:
            raise ValueError(f"{extra[0]}= needs geometry='sphere' or 'projected'")
        kwargs.pop("geometry", None)
        return calculus.partial(obj, spec, order, **kwargs)
    orders = calculus._orders(spec, order)
    if len(orders) != 1 or next(iter(orders.values())) != 1:
        raise ValueError(
            f"on a {'curved' if geometric else 'curvilinear'} grid, partial gives first derivatives "
            f"along one direction; got {orders}: use hessian() for second derivatives"
        )
    key = next(iter(orders))
    if isinstance(obj, xr.Dataset):
        return calculus.map_variables(
            obj, [key], lambda var, name: cast(xr.DataArray, partial(var, key, **kwargs)).rename(name)
        )
    dims = None
    if two_d:
        partners = [c for c, v in obj.coords.items() if v.ndim == 2 and v.dims == obj.coords[key].dims]
        if len(partners) != 2:
            raise ValueError(
                f"{key!r} is a 2-D coordinate; name the grid's two coordinates with gradient(), "
                f"e.g. gradient(['x', 'y']); found 2-D coordinates {[str(c) for c in partners]}"
            )
        dims = partners
    g = gradient(obj, dims, component_dim="__fieldgrad_direction__", **kwargs)
    labels = [str(v) for v in g["__fieldgrad_direction__"].values]
    if str(key) not in labels:
        raise ValueError(f"{key!r} is not a direction of this grid; directions: {labels}")
    out = g.sel(__fieldgrad_direction__=str(key), drop=True)
    out.attrs["long_name"] = derivative_long_name(_base(obj), {str(key): 1})
    out.name = derivative_name(obj.name, {str(key): 1})
    return out


@shows_keywords()
def gradient(
    field: xr.DataArray, dims: Iterable[Hashable] | None = None, *, component_dim: Hashable = "component", **kwargs: Any
) -> xr.DataArray:
    """Gradient of a scalar field: the vector of its derivatives along the geometry's directions.

    Parameters
    ----------
    field : DataArray
    dims : list of str, optional
        Dims or coordinates to differentiate along; default: the dims CF marks as spatial (else
        all dims, never time mixed with space), or the geometry's horizontal axes.
    component_dim : str, default "component"
        Name of the new leading dimension, labelled by the directions.
    **kwargs
        Geometry keywords (``geometry``, ``latitude``, ``longitude``, ``radius``, ``crs``,
        ``frame``; see :mod:`fieldgrad.vector`) and those of :func:`fieldgrad.calculus.partial`.

    Examples
    --------
    >>> lat = np.linspace(-60, 60, 25)
    >>> lon = np.arange(0, 360, 7.5)
    >>> T = xr.DataArray(np.outer(np.sin(np.deg2rad(lat)), np.ones(lon.size)), dims=("lat", "lon"),
    ...                  coords={"lat": lat, "lon": lon}, attrs={"units": "K"})
    >>> g = gradient(T, ["lat", "lon"], geometry="sphere", latitude="lat", longitude="lon")
    >>> g.attrs["units"], float(abs(g.sel(component="lon")).max())
    ('K m-1', 0.0)
    """
    call = _call(field, as_keys(dims), kwargs)
    if component_dim in field.dims:
        raise ValueError(f"the field already has a dimension {component_dim!r}; pass another component_dim=")
    if call.flat:
        return cast(
            xr.DataArray,
            calculus.gradient(field, list(call.metric.dims), component_dim=component_dim, **call.diff.common),
        )
    parts = _gradient_parts(call, call.field)
    if call.frame == "grid":
        parts = call.metric.to_grid(parts)
    out = _stack(parts, component_dim).transpose(component_dim, *field.dims)
    return call.finish(
        out, field, prefixed_name("grad", field.name), f"gradient of {_base(field)}", call.metric.labels, 1
    )


@shows_keywords()
def divergence(field: xr.DataArray, *, component_dim: Hashable = "component", **kwargs: Any) -> xr.DataArray:
    """Divergence of a vector field: ``Σ ∂F_i/∂i`` on flat grids, with metric terms otherwise.

    In general coordinates ``div F = (1/J) Σ_q ∂_q (J F^q)`` (``J`` the area/volume element,
    ``F^q`` the contravariant components). At a pole row of a latitude axis the value is the
    outward flux through the polar cap per unit area.

    Parameters
    ----------
    field : DataArray
        Vector field with a ``component_dim`` dimension labelled by the directions.
    component_dim : str, default "component"
    **kwargs
        Geometry keywords (see :mod:`fieldgrad.vector`) and those of :func:`fieldgrad.calculus.partial`.

    Examples
    --------
    >>> x = np.linspace(0, 1, 11)
    >>> X, Y = np.meshgrid(x, x, indexing="ij")
    >>> F = xr.DataArray(np.stack([X**2, 3 * Y]), dims=("component", "x", "y"),
    ...                  coords={"component": ["x", "y"], "x": x, "y": x})
    >>> float(abs(divergence(F) - (2 * F.x + 3)).max()) < 1e-12
    True
    """
    comps = components(field, component_dim)
    call = _call(field, None, kwargs, vector_labels=list(comps))
    like = next(iter(comps.values()))
    metric = call.metric
    name = prefixed_name("div", field.name)
    if call.flat:
        terms = [call.diff(comps[a], q) for a, q in zip(metric.labels, metric.dims, strict=True)]
        return call.finish(
            sum(terms[1:], terms[0]),
            field,
            name,
            f"divergence of {_base(field)}",
            metric.labels,
            1,
            terms,
            cf_operation="divergence",
        )
    F = _vector_in(call, comps)
    adj = metric.adjugate()
    out: Any = 0.0
    for q in metric.dims:
        flux: Any = 0.0
        for a in metric.labels:
            flux = add(flux, mul(F[a], adj.get((q, a), 0.0)))
        if not (isinstance(flux, float) and flux == 0.0):
            out = add(out, call.diff(flux.transpose(*like.dims), q))
    out = mul(out, metric.reciprocal_det()).transpose(*like.dims)
    if metric.caps is not None:
        north = metric.handed[1]
        out = metric.caps.divergence(out, F[north])
    return call.finish(out, field, name, f"divergence of {_base(field)}", metric.labels, 1, cf_operation="divergence")


@shows_keywords()
def curl(field: xr.DataArray, *, component_dim: Hashable = "component", **kwargs: Any) -> xr.DataArray:
    """Curl of a vector field: 3 components give a vector, 2 components the scalar normal component.

    The components ``(a, b, c)`` form a right-handed system in the order of their labels:
    ``curl = (∂F_c/∂b − ∂F_b/∂c, ∂F_a/∂c − ∂F_c/∂a, ∂F_b/∂a − ∂F_a/∂b)``; in 2-D
    ``∂F_b/∂a − ∂F_a/∂b``. On the sphere it is the relative vorticity (east, north, up are
    right-handed, whatever the label order); at a pole row, the circulation around the polar cap
    per unit area.

    Examples
    --------
    >>> x = np.linspace(-1, 1, 9)
    >>> X, Y = np.meshgrid(x, x, indexing="ij")
    >>> F = xr.DataArray(np.stack([-Y, X]), dims=("component", "x", "y"),
    ...                  coords={"component": ["x", "y"], "x": x, "y": x})   # solid rotation
    >>> np.allclose(curl(F), 2.0)
    True
    """
    comps = components(field, component_dim)
    call = _call(field, None, kwargs, vector_labels=list(comps))
    metric = call.metric
    like = next(iter(comps.values()))
    name = prefixed_name("curl", field.name)
    long_name = f"{'relative vorticity' if metric.kind == 'sphere' else 'curl'} of {_base(field)}"
    n = len(metric.labels)
    if n not in (2, 3):
        raise ValueError(f"curl needs 2 or 3 components, got {n}: {list(metric.labels)}")
    if not call.flat and n == 3:
        raise ValueError(
            "a 3-component curl needs a flat grid (geometry='cartesian' with 1-D coordinates); "
            f"on this {metric.kind} grid give the 2 horizontal components for the vorticity"
        )
    F = comps if call.flat else _vector_in(call, comps)
    handed = list(metric.handed)
    G = metric.G
    # covariant components F_q = Σ_a G_aq F_a (on flat grids F_q = F_a)
    cov = {}
    for q in metric.dims:
        total: Any = 0.0
        for a in metric.labels:
            total = add(total, mul(F[a], G.get((a, q), 0.0)))
        cov[q] = total
    qs = [metric.dims[metric.labels.index(a)] for a in handed] if call.flat else list(metric.dims)
    terms = []
    if n == 2:
        a, b = qs
        plus, minus = call.diff(cov[b], a), call.diff(cov[a], b)
        terms = [plus, minus]
        out = sub(plus, minus)
        if not call.flat:
            out = mul(out, metric.reciprocal_det(handed)).transpose(*like.dims)
            if metric.caps is not None:
                out = metric.caps.curl(out, F[handed[0]])
        return call.finish(out, field, name, long_name, metric.labels, 1, terms, cf_operation="curl")
    parts = {}
    for i, label in enumerate(handed):
        b, c = qs[(i + 1) % 3], qs[(i + 2) % 3]
        plus, minus = call.diff(cov[c], b), call.diff(cov[b], c)
        terms += [plus, minus]
        parts[label] = plus - minus
    out = _stack({a: parts[a] for a in metric.labels}, component_dim).transpose(*field.dims)
    return call.finish(out, field, name, long_name, metric.labels, 1, terms)


@shows_keywords()
def laplacian(field: xr.DataArray, dims: Iterable[Hashable] | None = None, **kwargs: Any) -> xr.DataArray:
    """Laplacian with true second-derivative stencils (not div∘grad), with metric terms.

    ``Σ_qr g^qr ∂_q∂_r f + Σ_r (1/J) Σ_q ∂_q(J g^qr) ∂_r f``: on flat grids ``Σ ∂²f/∂i²``; on
    the sphere ``1/R² [∂²f/∂φ² − tan φ ∂f/∂φ] + 1/(R² cos² φ) ∂²f/∂λ²``; at a pole row the
    flux of the gradient out of the polar cap per unit area.

    Examples
    --------
    >>> x = np.linspace(0, 1, 11)
    >>> f = xr.DataArray(np.add.outer(x**2, 2 * x**2), dims=("x", "y"), coords={"x": x, "y": x})
    >>> np.allclose(laplacian(f), 6.0)
    True
    """
    call = _call(field, as_keys(dims), kwargs)
    metric = call.metric
    f = call.field
    name = prefixed_name("laplacian", field.name)
    if call.flat:
        terms = [call.diff(f, q, order=2) for q in metric.dims]
        return call.finish(
            sum(terms[1:], terms[0]), field, name, f"Laplacian of {_base(field)}", metric.labels, 2, terms
        )
    ginv = metric.inverse_metric()
    det = metric.det()
    out: Any = 0.0
    for i, q in enumerate(metric.dims):
        for r in metric.dims[i:]:
            coef = ginv.get((q, r), 0.0)
            if isinstance(coef, float) and coef == 0.0:
                continue
            second = call.diff(f, q, order=2) if q == r else call.diff(f, {q: 1, r: 1})
            out = add(out, mul(second, coef if q == r else mul(coef, 2.0)))
    first: dict[str, Any] = {}
    for r in metric.dims:
        total: Any = 0.0
        for q in metric.dims:
            total = add(total, call.coef_derivative(mul(ginv.get((q, r), 0.0), det), q))
        if not (isinstance(total, float) and total == 0.0):
            first[r] = call.diff(f, r)
            out = add(out, mul(first[r], mul(total, metric.reciprocal_det())))
    out = out.transpose(*f.dims)
    if metric.caps is not None:
        lat = metric.handed[1]
        d_lat = first[lat] if lat in first else call.diff(f, lat)
        out = metric.caps.laplacian(metric.mask_singular(out), d_lat)
    else:
        out = metric.mask_singular(out)
    return call.finish(out, field, name, f"Laplacian of {_base(field)}", metric.labels, 2)


def _christoffel(call: _Call) -> dict[tuple[str, str, str], Any]:
    """``Γ^k_qr = ½ g^kl (∂_q g_lr + ∂_r g_lq − ∂_l g_qr)``, non-zero entries only."""
    metric = call.metric
    g, ginv = metric.metric_tensor(), metric.inverse_metric()
    dg = {
        (q, r, s): call.coef_derivative(g.get((r, s), 0.0), q)
        for q in metric.dims
        for r in metric.dims
        for s in metric.dims
    }
    out: dict[tuple[str, str, str], Any] = {}
    for k in metric.dims:
        for q in metric.dims:
            for r in metric.dims:
                total: Any = 0.0
                for m in metric.dims:
                    inner = sub(add(dg[q, m, r], dg[r, m, q]), dg[m, q, r])
                    total = add(total, mul(inner, ginv.get((k, m), 0.0)))
                if not (isinstance(total, float) and total == 0.0):
                    out[k, q, r] = mul(total, 0.5)
    return out


@shows_keywords()
def hessian(
    field: xr.DataArray,
    dims: Iterable[Hashable] | None = None,
    *,
    component_dim: Hashable = "component",
    component_dim2: Hashable = "component2",
    **kwargs: Any,
) -> xr.DataArray:
    """Hessian ``∂²f/∂i∂j`` with dims ``component`` and ``component2`` (true mixed stencils).

    On curved or curvilinear grids, the covariant Hessian ``∂_q∂_r f − Γ^k_qr ∂_k f`` in the
    frame of the directions.

    Examples
    --------
    >>> x = np.linspace(0, 1, 6)
    >>> f = xr.DataArray(np.multiply.outer(x**2, x), dims=("x", "y"), coords={"x": x, "y": x})
    >>> H = hessian(f)
    >>> round(float(H.sel(component="x", component2="y").isel(x=3, y=2)), 12)  # ∂²(x²y)/∂x∂y = 2x
    1.2
    """
    call = _call(field, as_keys(dims), kwargs)
    metric = call.metric
    f = call.field
    qs = list(metric.dims)
    cache: dict[tuple[str, str], Any] = {}
    for i, q in enumerate(qs):
        for r in qs[i:]:
            cache[q, r] = cache[r, q] = call.diff(f, {q: 2} if q == r else {q: 1, r: 1})
    if call.flat:
        rows = {
            a: _stack({b: cache[q, r] for b, r in zip(metric.labels, qs, strict=True)}, component_dim2)
            for a, q in zip(metric.labels, qs, strict=True)
        }
        terms: list[xr.DataArray] = list(cache.values())
    else:
        gamma = _christoffel(call)
        first = call.diff.first(f, qs) if gamma else {}
        cov = {}
        for q in qs:
            for r in qs:
                total: Any = cache[q, r]
                for k in qs:
                    if (k, q, r) in gamma:
                        total = sub(total, mul(first[k], gamma[k, q, r]))
                cov[q, r] = total
        inv = metric.inverse()
        rows = {}
        for a in metric.labels:
            row = {}
            for b in metric.labels:
                total = 0.0
                for q in qs:
                    for r in qs:
                        coef = mul(inv.get((q, a), 0.0), inv.get((r, b), 0.0))
                        total = add(total, mul(cov[q, r], coef))
                row[b] = metric.mask_singular(total.transpose(*f.dims))
            rows[a] = _stack(row, component_dim2)
        terms = []
    out = _stack(rows, component_dim).transpose(component_dim, component_dim2, *field.dims)
    return call.finish(
        out, field, prefixed_name("hessian", field.name), f"Hessian of {_base(field)}", metric.labels, 2, terms
    )


@shows_keywords()
def jacobian(
    field: xr.DataArray,
    dims: Iterable[Hashable] | None = None,
    *,
    component_dim: Hashable = "component",
    component_dim2: Hashable = "component2",
    **kwargs: Any,
) -> xr.DataArray:
    """Jacobian ``∂F_i/∂j`` of a vector field; ``component`` indexes F, ``component2`` the direction j.

    On curved or curvilinear grids, the covariant derivative ``∇_j F_i`` in the frame of the
    directions (so its trace is the divergence).

    Examples
    --------
    >>> x = np.linspace(0, 1, 5)
    >>> X, Y = np.meshgrid(x, x, indexing="ij")
    >>> F = xr.DataArray(np.stack([X * Y, X + 2 * Y]), dims=("component", "x", "y"),
    ...                  coords={"component": ["x", "y"], "x": x, "y": x})
    >>> J = jacobian(F)
    >>> float(J.sel(component="y", component2="y").mean())
    2.0
    """
    comps = components(field, component_dim)
    keys = as_keys(dims)
    geometric = kwargs.get("geometry", "cartesian") != "cartesian" or any(
        c in field.coords and field.coords[c].ndim == 2 for c in (keys or comps)
    )
    call = _call(field, keys if (keys is not None and not geometric) else None, kwargs, vector_labels=list(comps))
    metric = call.metric
    like = next(iter(comps.values()))
    name = prefixed_name("jacobian", field.name)
    if call.flat:
        keys_ = list(metric.dims) if keys is None else [str(k) for k in keys]
        parts: list[xr.DataArray] = []
        rows: dict[str, Any] = {}
        for label, comp in comps.items():
            row = {d: call.diff(comp, d) for d in keys_}
            parts += list(row.values())
            rows[label] = _stack(row, component_dim2)
        spatial = [d for d in field.dims if d != component_dim]
        out = _stack(rows, component_dim).transpose(component_dim, component_dim2, *spatial)
        return call.finish(out, field, name, f"Jacobian of {_base(field)}", metric.labels, 1, parts)
    if keys is not None and set(map(str, keys)) != set(metric.labels):
        raise ValueError(
            f"on this {metric.kind} grid the Jacobian is over the vector's directions "
            f"{list(metric.labels)}, got dims {[str(k) for k in keys]}"
        )
    F = _vector_in(call, comps)
    inv = metric.inverse()
    qs = list(metric.dims)
    # contravariant components F^k = Σ_a G⁻¹_ka F_a and their derivatives by the product rule with
    # ∂G⁻¹ = −G⁻¹ (∂G) G⁻¹: only G and F are differentiated (G⁻¹ grows like 1/cos φ near a pole)
    contra: dict[str, Any] = {}
    for k in qs:
        total: Any = 0.0
        for a in metric.labels:
            total = add(total, mul(F[a], inv.get((k, a), 0.0)))
        contra[k] = total
    dF = {a: call.diff.first(F[a], qs) for a in metric.labels}
    dG = {(q, a, k): call.coef_derivative(metric.entry(a, k), q) for q in qs for a in metric.labels for k in qs}
    gamma = _christoffel(call)
    nabla = {}
    for k in qs:
        for q in qs:
            total = 0.0
            for a in metric.labels:
                d_inv: Any = 0.0  # ∂_q G⁻¹_ka
                for b in metric.labels:
                    for m in qs:
                        term = mul(mul(inv.get((k, b), 0.0), dG[q, b, m]), inv.get((m, a), 0.0))
                        d_inv = sub(d_inv, term)
                total = add(total, add(mul(dF[a][q], inv.get((k, a), 0.0)), mul(F[a], d_inv)))
            for m in qs:
                if (k, q, m) in gamma:
                    total = add(total, mul(contra[m], gamma[k, q, m]))
            nabla[k, q] = total
    rows = {}
    for a in metric.labels:
        row = {}
        for b in metric.labels:
            total = 0.0
            for k in qs:
                for q in qs:
                    total = add(total, mul(nabla[k, q], mul(metric.entry(a, k), inv.get((q, b), 0.0))))
            row[b] = metric.mask_singular(total.transpose(*like.dims))
        rows[a] = row
    if call.frame == "grid":
        rows = {a: metric.to_grid(r) for a, r in rows.items()}  # the derivative's direction
        columns = {b: metric.to_grid({a: rows[a][b] for a in rows}) for b in next(iter(rows.values()))}
        rows = {a: {b: columns[b][a] for b in columns} for a in next(iter(columns.values()))}
    out = _stack({a: _stack(r, component_dim2) for a, r in rows.items()}, component_dim)
    spatial = [d for d in field.dims if d != component_dim]
    out = out.transpose(component_dim, component_dim2, *spatial)
    return call.finish(out, field, name, f"Jacobian of {_base(field)}", metric.labels, 1)


def magnitude(field: xr.DataArray, *, component_dim: Hashable = "component") -> xr.DataArray:
    """Euclidean norm ``|F|`` over the components (``abs`` for complex fields).

    Examples
    --------
    >>> g = xr.DataArray([[3.0], [4.0]], dims=("component", "x"), coords={"component": ["x", "y"]})
    >>> magnitude(g).values
    array([5.])
    """
    if component_dim not in field.dims:
        raise ValueError(
            f"magnitude needs a {component_dim!r} dimension (component_dim=), got dims {[str(d) for d in field.dims]}"
        )
    out = np.sqrt((abs(field) ** 2).sum(component_dim))
    name = f"{field.name}_magnitude" if field.name is not None else None
    return _finish(out, field, name, f"magnitude of {_base(field)}", field.attrs.get("units"))


def _unit_vector(direction: Mapping[Hashable, float]) -> dict[str, float]:
    if not isinstance(direction, Mapping):
        raise ValueError(f"direction must be a {{dim: component}} mapping, got {direction!r}")
    vec = {str(k): float(v) for k, v in direction.items()}
    norm = float(np.sqrt(sum(v * v for v in vec.values())))
    if not vec or not np.isfinite(norm) or norm == 0:
        raise ValueError(f"direction must be a non-zero finite {{dim: component}} mapping, got {dict(direction)!r}")
    return {k: v / norm for k, v in vec.items()}


@shows_keywords()
def directional(field: xr.DataArray, direction: Mapping[Hashable, float], **kwargs: Any) -> xr.DataArray:
    """Derivative along a direction ``{direction: component}`` (normalised to unit length).

    Examples
    --------
    >>> x = np.linspace(0, 1, 5)
    >>> f = xr.DataArray(np.add.outer(x, 2 * x), dims=("x", "y"), coords={"x": x, "y": x})
    >>> np.allclose(directional(f, {"x": 1, "y": 1}), 3 / np.sqrt(2))
    True
    """
    unit = _unit_vector(direction)
    cartesian = kwargs.get("geometry", "cartesian") == "cartesian"
    call = _call(field, list(unit) if cartesian else None, kwargs)
    metric = call.metric
    if call.flat:
        terms = [call.diff(call.field, a) * c for a, c in unit.items() if c != 0]
    else:
        frame = call.labels()
        unknown = set(unit) - set(frame)
        if unknown:
            raise ValueError(f"direction names {sorted(unknown)}; the directions of this grid are {list(frame)}")
        unit_full: dict[str, Any] = {a: unit.get(a, 0.0) for a in frame}
        if call.frame == "grid":
            unit_full = metric.from_grid(unit_full)
        parts = _gradient_parts(call, call.field)
        terms = [mul(parts[a], c) for a, c in unit_full.items() if not (isinstance(c, float) and c == 0.0)]
    out = sum(terms[1:], terms[0])
    name = f"d{field.name}_ds" if field.name is not None else None
    labels = [a for a in unit if unit[a] != 0]
    return call.finish(
        out.transpose(*field.dims),
        field,
        name,
        f"directional derivative of {_base(field)}",
        labels if call.flat else metric.labels,
        1,
        [] if not call.flat else [_with_units(field, labels)],
    )


def _with_units(field: xr.DataArray, keys: Iterable[str]) -> xr.DataArray:
    """A stand-in carrying the units of a first derivative along ``keys`` (None unless they agree)."""
    coord_units = {field[d].attrs.get("units") if d in field.coords else None for d in keys}
    units = None
    if len(coord_units) == 1 and None not in coord_units and "units" in field.attrs:
        units = divide_units(field.attrs["units"], {str(coord_units.pop()): 1})
    return xr.DataArray(0.0, attrs={"units": units} if units is not None else {})


@shows_keywords()
def along(
    field: xr.DataArray,
    path: Mapping[Hashable, Any],
    *,
    interp: str = "linear",
    path_dim: Hashable = "distance",
    **kwargs: Any,
) -> xr.DataArray:
    """Rate of change of a field with respect to arc length along a path of points.

    The derivatives along the path's coordinates are interpolated to the points and combined
    with the path's tangent: ``df/ds = Σ_q ∂_q f dq/dτ / |dr/dτ|``, where ``|dr/dτ|`` is the
    physical speed (``R dφ``, ``R cos φ dλ`` on the sphere) of the path's parameter ``τ``.

    Parameters
    ----------
    field : DataArray
    path : mapping of dim -> 1-D array
        Positions of the path's points, in coordinate units (all arrays of one length ≥ 2).
    interp : str, default "linear"
        Interpolation method of :meth:`xarray.DataArray.interp`.
    path_dim : str, default "distance"
        Name of the new dimension along the path; its coordinate is the arc length from the
        first point (in metres on the sphere), and the path's positions are coordinates along it.
    **kwargs
        Geometry keywords (1-D coordinates only) and those of :func:`fieldgrad.calculus.partial`.

    Examples
    --------
    >>> x = np.linspace(0, 1, 11)
    >>> f = xr.DataArray(np.add.outer(3 * x, 4 * x), dims=("x", "y"), coords={"x": x, "y": x})
    >>> r = along(f, {"x": [0.1, 0.4, 0.7], "y": [0.1, 0.5, 0.9]})   # direction (3, 4)/5
    >>> np.allclose(r, 5.0), r.distance.values.round(3).tolist()
    (True, [0.0, 0.5, 1.0])
    """
    if not isinstance(path, Mapping) or not path:
        raise ValueError("path must be a {dim: positions} mapping, e.g. {'x': [0, 1], 'y': [0, 2]}")
    dims = [str(d) for d in path]
    pts = {d: np.asarray(path[d], dtype=np.float64).ravel() for d in dims}
    sizes = {p.size for p in pts.values()}
    if len(sizes) != 1 or sizes.pop() < 2:
        raise ValueError("path needs arrays of one common length of at least 2 points, one per dim")
    steps = np.sqrt(sum(np.diff(p) ** 2 for p in pts.values()))
    if np.any(steps == 0) or not np.all(np.isfinite(steps)):
        raise ValueError("path points must be finite and consecutive points distinct")
    tau = np.concatenate([[0.0], np.cumsum(steps)])
    geometric = kwargs.get("geometry", "cartesian") != "cartesian"
    call = _call(field, None if geometric else dims, kwargs)
    metric = call.metric
    if metric.kind == "curvilinear" or metric.grid_frame is not None:
        raise ValueError(
            "along() needs 1-D coordinates; on a curvilinear grid give the path in its index dims "
            "with geometry='cartesian'"
        )
    if set(dims) != set(metric.labels):
        raise ValueError(f"the path must give positions along {list(metric.labels)}, got {dims}")
    from .numpy_compat import gradient as np_gradient

    edge = 2 if tau.size > 2 else 1
    velocity = {d: np_gradient(pts[d], tau, edge_order=edge) for d in dims}
    at = {calculus.dim_of(field, d): xr.DataArray(pts[d], dims=(path_dim,)) for d in dims}
    d = call.diff.first(call.field, metric.dims)
    rate: Any = 0.0
    for q in metric.dims:
        rate = add(rate, d[q].interp(at, method=interp) * xr.DataArray(velocity[q], dims=(path_dim,)))
    if metric.flat:
        speed = np.sqrt(sum(v**2 for v in velocity.values()))
        s = tau
    else:
        coords = {name: c for name, c in field.coords.items() if c.ndim == 1}
        phys = {}
        for a in metric.labels:
            total: Any = 0.0
            for q in metric.dims:
                g: Any = metric.entry(a, q)
                if isinstance(g, xr.DataArray):
                    g = g.assign_coords({k: v for k, v in coords.items() if v.dims[0] in g.dims})
                    g = g.interp({k: v for k, v in at.items() if k in g.dims}, method=interp)
                    g = np.asarray(g.broadcast_like(xr.DataArray(tau, dims=(path_dim,))).values)
                total = total + np.asarray(g) * velocity[q]
            phys[a] = total
        speed = np.sqrt(sum(v**2 for v in phys.values()))
        s = np.concatenate([[0.0], np.cumsum(0.5 * (speed[1:] + speed[:-1]) * np.diff(tau))])
    out = (rate / xr.DataArray(speed, dims=(path_dim,))).assign_coords({path_dim: s})
    name = f"d{field.name}_d{path_dim}" if field.name is not None else None
    return call.finish(
        out,
        field,
        name,
        f"rate of change of {_base(field)} along the path",
        metric.labels,
        1,
        [_with_units(field, dims)],
    )
