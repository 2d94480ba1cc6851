"""The operators of vector calculus, each written once on the grid's metric.

A vector field is a DataArray with a ``component`` dimension whose labels name the directions
the components point along (``component=["x", "y", "z"]``; ``["lat", "lon"]`` on the sphere:
northward and eastward). Each function here is only its mathematics, written on the
:class:`~fieldgrad.geometry.metric.Metric` of the call (``G[a, q] = ∂r_a/∂q``): a flat grid is the
identity metric, and latitude/longitude, curvilinear and projected grids add their terms. The
call is resolved before the body runs and its result labelled after it (:func:`fieldgrad.call.operator`),
so every operator takes the same keywords:

* derivative keywords -- ``method``, ``boundary``, ``nan_policy``, ``fill_value``, ``period``,
  ``datetime_unit`` and the method's options (``accuracy=4``...);
* geometry keywords -- ``geometry`` (``"cartesian"``, ``"sphere"``, ``"projected"``), ``latitude``,
  ``longitude``, ``radius``, ``crs``, ``frame`` (``"earth"``: vectors along the coordinates, east/north
  on the sphere; ``"grid"``: along the grid's index dims), or ``grid=`` a :class:`fieldgrad.Grid`.

All derivatives come from :mod:`fieldgrad.calculus`, so every operator runs with any registered
method, on numpy- or dask-backed data. A Dataset given to an operator on scalar fields is mapped
over its variables (:mod:`fieldgrad.datasets`).
"""

from __future__ import annotations

import functools
from collections.abc import Hashable, Iterable, Mapping
from typing import Any

import numpy as np
import xarray as xr

from .calculus import derivative, orders_of
from .call import COMPONENT_STANDARD_NAMES, Call, Label, Labelled, components, prefixed
from .cf import advection_standard_name, vector_standard_name
from .conventions import result_dtype
from .geometry.algebra import add, mul, sub
from .labelled import coord_variables
from .table import operator
from .units import base_label, derivative_name, label_result

__all__ = [
    "partial",
    "gradient",
    "divergence",
    "curl",
    "laplacian",
    "hessian",
    "jacobian",
    "magnitude",
    "directional",
    "along",
    "advection",
    "components",
]


def _partial_keys(arguments: Mapping[str, Any]) -> list[Hashable]:
    """What ``partial`` differentiates along: the dims of ``spec``, or a named 2-D coordinate's grid."""
    field = arguments["field"]
    keys = list(orders_of(arguments["spec"], arguments["order"]))
    variables = coord_variables(field)
    two_d = [k for k in keys if k in variables and variables[k].ndim == 2 and k not in field.dims]
    if not two_d:
        return keys
    key = two_d[0]
    partners = [c for c, v in variables.items() if v.ndim == 2 and v.dims == variables[key].dims]
    if len(partners) != 2:
        raise ValueError(
            f"{key!r} is a 2-D coordinate; name the grid's two coordinates with gradient(), "
            f"e.g. gradient(['x', 'y']); found 2-D coordinates {[str(c) for c in partners]}"
        )
    return partners


def _partial_direction(arguments: Mapping[str, Any]) -> str:
    return str(next(iter(orders_of(arguments["spec"], arguments["order"]))))


@operator(
    takes="scalar",
    label=Label(
        lambda name, a: derivative_name(name, {_partial_direction(a): 1}),
        lambda call, a: "d({})/d" + _partial_direction(a),
    ),
    dims=_partial_keys,
    dims_on_curved_grids=False,
    summary="partial derivative along dims (repeat a dim or use order= for higher orders)",
    example="""
    >>> da = xr.DataArray([0.0, 1.0, 4.0, 9.0], dims="x", coords={"x": [0, 1, 2, 3]})
    >>> da.grad.partial("x").values
    array([0., 2., 4., 6.])
    >>> da.grad.partial("x", order=2).values
    array([2., 2., 2., 2.])
    """,
    dataset_example="""
    >>> ds = xr.Dataset({"a": ("x", [0.0, 1.0, 4.0, 9.0]), "c": ("t", [1.0])}, coords={"x": [0, 1, 2, 3]})
    >>> out = ds.grad.partial("x")
    >>> out["a"].values, out["c"].values   # c has no dim x: kept
    (array([0., 2., 4., 6.]), array([1.]))
    """,
    cli_example="fieldgrad partial era5.nc --var t u --dims time --datetime-unit h --out tendency.zarr",
)
def partial(call: Call, field: xr.DataArray, spec: Any, order: int = 1) -> xr.DataArray:
    """Partial derivative along dims or 1-D coordinates, or physical along a geometry's direction.

    Parameters
    ----------
    field : DataArray or Dataset
        The field; a Dataset's variables that have the dims are differentiated (names kept).
    spec : str, mapping or list
        ``"x"``; ``{"x": 1, "y": 1}`` for a mixed derivative; ``["x", "x"]`` counts repeats.
        A 1-D non-dimension coordinate may be named instead of its dim.
    order : int, default 1
        Derivative order when ``spec`` names one dim (or a list of dims).

    Returns
    -------
    DataArray
        Same dims, coords and chunks as ``field``, named ``dV_dx`` with ``units`` and
        ``long_name`` updated. On a sphere, a projection or a curvilinear grid (``geometry=``, or
        a 2-D coordinate named) the first derivative along one direction per unit of length: the
        gradient's component along it (``partial(T, "lat", geometry="sphere")`` is the northward
        derivative, per metre).

    Examples
    --------
    >>> x = np.linspace(0, 2, 5)
    >>> V = xr.DataArray(x**2, dims="x", coords={"x": ("x", x, {"units": "m"})}, name="V", attrs={"units": "V"})
    >>> dV = partial(V, "x", edge_order=2)
    >>> dV.values, dV.name, dV.attrs["units"]
    (array([0., 1., 2., 3., 4.]), 'dV_dx', 'V m-1')
    >>> lat = np.linspace(-60, 60, 13)
    >>> lon = np.arange(0, 360, 30.0)
    >>> T = xr.DataArray(np.outer(np.deg2rad(lat), np.ones(lon.size)), dims=("lat", "lon"),
    ...                  coords={"lat": ("lat", lat, {"units": "degrees_north"}),
    ...                          "lon": ("lon", lon, {"units": "degrees_east"})}, name="T")
    >>> d = partial(T, "lat", geometry="sphere")
    >>> d.name, round(float(d.mean()) * 6.371e6, 12)   # dT/dφ = 1 per radian: 1/R per metre
    ('dT_dlat', 1.0)
    """
    orders = orders_of(spec, order)
    if call.metric.flat:  # one (mixed) derivative of any order, labelled per dim
        return Labelled(derivative(call.original, orders, call.diff))  # type: ignore[return-value]
    if len(orders) != 1 or next(iter(orders.values())) != 1:
        raise ValueError(
            f"on a {'curved' if call.grid.geometry != 'cartesian' else 'curvilinear'} grid, partial gives first "
            f"derivatives along one direction; got {orders}: use hessian() for second derivatives"
        )
    key = str(next(iter(orders)))
    parts = call.gradient_parts(field)
    if call.frame == "grid":
        parts = call.metric.to_grid(parts)
    if key not in parts:
        raise ValueError(f"{key!r} is not a direction of this grid; directions: {list(parts)}")
    call.unit_labels = [key] if key in call.metric.length_units else None
    return parts[key]


@operator(
    takes="scalar",
    label=Label(prefixed("grad"), "gradient of {}"),
    new_dims=("component_dim",),
    summary="gradient (vector of first derivatives) over dims",
    example="""
    >>> da = xr.DataArray(np.arange(9.0).reshape(3, 3), dims=("y", "x"))
    >>> da.grad.gradient().sel(component="y").values
    array([[3., 3., 3.],
           [3., 3., 3.],
           [3., 3., 3.]])
    """,
    dataset_example="""
    >>> ds = xr.Dataset({"T": (("x", "y"), np.add.outer(np.arange(3.0), 2 * np.arange(4.0)))})
    >>> ds.grad.gradient()["T"].mean(["x", "y"]).values
    array([1., 2.])
    """,
    cli_example="fieldgrad gradient era5.nc --var t --geometry sphere --out grad_t.nc",
)
def gradient(
    call: Call, field: xr.DataArray, dims: Iterable[Hashable] | None = None, *, component_dim: Hashable = "component"
) -> xr.DataArray:
    """Gradient of a scalar field: the vector of its derivatives along the geometry's directions.

    Parameters
    ----------
    field : DataArray or Dataset
    dims : list of str, optional
        Dims or coordinates to differentiate along; default: the dims CF marks as spatial (else
        all dims, never time mixed with space), or the geometry's horizontal axes.
    component_dim : str, default "component"
        Name of the new leading dimension, labelled by the directions.

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
    if call.metric.flat:  # the identity metric: the first derivatives themselves, computed in one pass
        return call.gradient(field, component_dim)
    parts = call.gradient_parts(field)
    if call.frame == "grid":
        parts = call.metric.to_grid(parts)
    return call.stack(parts, component_dim).transpose(component_dim, *field.dims)


def _vector_name(operation: str) -> Any:
    """The CF standard name of a divergence or curl of named components (the table's, else None)."""

    def standard_name(call: Call, field: xr.DataArray, units: str | None) -> str | None:
        names = field.encoding.get(COMPONENT_STANDARD_NAMES, {})
        labels = call.metric.handed if operation == "curl" else call.metric.labels
        return vector_standard_name(operation, [names.get(a) for a in labels], units)

    return standard_name


@operator(
    takes="vector",
    label=Label(prefixed("div"), "divergence of {}", standard_name=_vector_name("divergence")),
    dims=None,
    summary="divergence of a vector field",
    example="""
    >>> x = np.arange(4.0)
    >>> F = xr.DataArray(np.stack(np.meshgrid(x, 2 * x, indexing="ij")), dims=("component", "x", "y"),
    ...                  coords={"component": ["x", "y"]})
    >>> float(F.grad.divergence().mean())
    3.0
    """,
    dataset_example="""
    >>> x = np.arange(4.0)
    >>> X, Y = np.meshgrid(x, x, indexing="ij")
    >>> ds = xr.Dataset({"u": (("x", "y"), X), "v": (("x", "y"), 2 * Y)})
    >>> float(ds.grad.divergence({"x": "u", "y": "v"}).mean())
    3.0
    """,
    cli_example="fieldgrad divergence era5.nc --var u v --dims longitude latitude --geometry sphere --out div.nc",
)
def divergence(call: Call, field: xr.DataArray, *, component_dim: Hashable = "component") -> xr.DataArray:
    """Divergence of a vector field: ``Σ ∂F_i/∂i`` on flat grids, with metric terms otherwise.

    In general coordinates ``div F = (1/J) Σ_q ∂_q (J F^q)`` (``J`` the area/volume element,
    ``F^q`` the contravariant components). At a pole row of a latitude axis the value is the
    outward flux through the polar cap per unit area.

    Examples
    --------
    >>> x = np.linspace(0, 1, 11)
    >>> X, Y = np.meshgrid(x, x, indexing="ij")
    >>> F = xr.DataArray(np.stack([X**2, 3 * Y]), dims=("component", "x", "y"),
    ...                  coords={"component": ["x", "y"], "x": x, "y": x})
    >>> float(abs(divergence(F) - (2 * F.x + 3)).max()) < 1e-12
    True
    """
    metric = call.metric
    F = call.vector_in(components(field, component_dim))
    like = next(iter(F.values()))
    adj = metric.adjugate()
    out: Any = 0.0
    for q in metric.dims:
        flux: Any = 0.0
        for a in metric.labels:
            flux = add(flux, mul(F[a], adj.get((q, a), 0.0)))
        if not (isinstance(flux, float) and flux == 0.0):
            out = add(out, call.partial(flux.transpose(*like.dims), q))
    out = mul(out, metric.reciprocal_det()).transpose(*like.dims)
    if metric.caps is not None:
        out = metric.caps.divergence(out, F[metric.handed[1]])
    return out


def _curl_long_name(call: Call, arguments: Mapping[str, Any]) -> str:
    return ("relative vorticity" if call.metric.kind == "sphere" else "curl") + " of {}"


@operator(
    takes="vector",
    label=Label(prefixed("curl"), _curl_long_name, standard_name=_vector_name("curl")),
    dims=None,
    summary="curl of a vector field (3 components: a vector; 2: the normal component)",
    example="""
    >>> x = np.arange(4.0)
    >>> X, Y = np.meshgrid(x, x, indexing="ij")
    >>> F = xr.DataArray(np.stack([-Y, X]), dims=("component", "x", "y"), coords={"component": ["x", "y"]})
    >>> float(F.grad.curl().mean())
    2.0
    """,
    dataset_example="""
    >>> x = np.arange(4.0)
    >>> X, Y = np.meshgrid(x, x, indexing="ij")
    >>> ds = xr.Dataset({"u": (("x", "y"), -Y), "v": (("x", "y"), X)})
    >>> float(ds.grad.curl({"x": "u", "y": "v"}).mean())
    2.0
    """,
    cli_example="fieldgrad curl wrf.nc --var U10 V10 --dims x y --geometry projected --out vorticity.nc",
)
def curl(call: Call, field: xr.DataArray, *, component_dim: Hashable = "component") -> xr.DataArray:
    """Curl of a vector field: 3 components give a vector, 2 components the scalar normal component.

    The components ``(a, b, c)`` form a right-handed system in the order of their labels:
    ``curl = (∂F_c/∂b − ∂F_b/∂c, ∂F_a/∂c − ∂F_c/∂a, ∂F_b/∂a − ∂F_a/∂b)``; in 2-D
    ``∂F_b/∂a − ∂F_a/∂b``. In general coordinates ``(1/J) ε_qrs ∂_q F_s`` of the covariant
    components. On the sphere it is the relative vorticity (east, north, up are right-handed,
    whatever the label order); at a pole row, the circulation around the polar cap per unit area.

    Examples
    --------
    >>> x = np.linspace(-1, 1, 9)
    >>> X, Y = np.meshgrid(x, x, indexing="ij")
    >>> F = xr.DataArray(np.stack([-Y, X]), dims=("component", "x", "y"),
    ...                  coords={"component": ["x", "y"], "x": x, "y": x})   # solid rotation
    >>> np.allclose(curl(F), 2.0)
    True
    """
    metric = call.metric
    n = len(metric.labels)
    if n not in (2, 3):
        raise ValueError(f"curl needs 2 or 3 components, got {n}: {list(metric.labels)}")
    if n == 3 and not metric.flat:
        raise ValueError(
            "a 3-component curl needs a flat grid (geometry='cartesian' with 1-D coordinates); "
            f"on this {metric.kind} grid give the 2 horizontal components for the vorticity"
        )
    F = call.vector_in(components(field, component_dim))
    like = next(iter(F.values()))
    handed = list(metric.handed)
    # covariant components F_q = Σ_a G_aq F_a; det G with the rows in right-handed order gives the sign
    qs = list(metric.dims)
    cov = {q: _sum(mul(F[a], metric.entry(a, q)) for a in metric.labels) for q in metric.dims}
    if n == 2:
        a, b = qs
        out = sub(call.partial(cov[b], a), call.partial(cov[a], b))
        out = mul(out, metric.reciprocal_det(handed)).transpose(*like.dims)
        if metric.caps is not None:
            out = metric.caps.curl(out, F[handed[0]])
        return out
    parts = {}
    for i, label in enumerate(handed):
        b, c = qs[(i + 1) % 3], qs[(i + 2) % 3]
        parts[label] = call.partial(cov[c], b) - call.partial(cov[b], c)
    return call.stack({a: parts[a] for a in metric.labels}, component_dim).transpose(*field.dims)


def _sum(terms: Iterable[Any]) -> Any:
    total: Any = 0.0
    for t in terms:
        total = add(total, t)
    return total


@operator(
    takes="scalar",
    label=Label(prefixed("laplacian"), "Laplacian of {}", order=2),
    summary="Laplacian (sum of second derivatives) over dims",
    example="""
    >>> x = np.arange(5.0)
    >>> f = xr.DataArray(np.add.outer(x**2, x**2), dims=("x", "y"))
    >>> float(f.grad.laplacian().mean())
    4.0
    """,
    dataset_example="""
    >>> x = np.arange(4.0)
    >>> ds = xr.Dataset({"f": (("x", "y"), np.add.outer(x**2, x**2)), "c": ("z", [1.0])})
    >>> float(ds.grad.laplacian(["x", "y"])["f"].mean()), float(ds.grad.laplacian(["x", "y"])["c"][0])
    (4.0, 1.0)
    """,
    cli_example="fieldgrad laplacian era5.nc --var z --geometry sphere --accuracy 4 --out lap_z.nc",
)
def laplacian(call: Call, field: xr.DataArray, dims: Iterable[Hashable] | None = None) -> xr.DataArray:
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
    metric = call.metric
    ginv = metric.inverse_metric()
    det = metric.det()
    out: Any = 0.0
    for i, q in enumerate(metric.dims):
        for r in metric.dims[i:]:
            coef = ginv.get((q, r), 0.0)
            if isinstance(coef, float) and coef == 0.0:
                continue
            second = call.partial(field, q, order=2) if q == r else call.partial(field, {q: 1, r: 1})
            out = add(out, mul(second, coef if q == r else mul(coef, 2.0)))
    first: dict[str, Any] = {}
    for r in metric.dims:
        total = _sum(call.coef_derivative(mul(ginv.get((q, r), 0.0), det), q) for q in metric.dims)
        if not (isinstance(total, float) and total == 0.0):
            first[r] = call.partial(field, r)
            out = add(out, mul(first[r], mul(total, metric.reciprocal_det())))
    out = metric.mask_singular(out.transpose(*field.dims))
    if metric.caps is not None:
        lat = metric.handed[1]
        out = metric.caps.laplacian(out, first[lat] if lat in first else call.partial(field, lat))
    return out


@operator(
    takes="scalar",
    label=Label(prefixed("hessian"), "Hessian of {}", order=2),
    new_dims=("component_dim", "component_dim2"),
    summary="Hessian (matrix of second derivatives) over dims",
    example="""
    >>> x = np.arange(4.0)
    >>> f = xr.DataArray(np.multiply.outer(x, x), dims=("x", "y"))
    >>> f.grad.hessian().mean(["x", "y"]).values
    array([[0., 1.],
           [1., 0.]])
    """,
    dataset_example="""
    >>> x = np.arange(4.0)
    >>> ds = xr.Dataset({"f": (("x", "y"), np.multiply.outer(x, x))})
    >>> ds.grad.hessian()["f"].mean(["x", "y"]).values
    array([[0., 1.],
           [1., 0.]])
    """,
    cli_example="fieldgrad hessian in.zarr --var V --dims x y --out hessian.zarr",
)
def hessian(
    call: Call,
    field: xr.DataArray,
    dims: Iterable[Hashable] | None = None,
    *,
    component_dim: Hashable = "component",
    component_dim2: Hashable = "component2",
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
    metric = call.metric
    qs = list(metric.dims)
    second: dict[tuple[str, str], Any] = {}
    for i, q in enumerate(qs):
        for r in qs[i:]:
            second[q, r] = second[r, q] = call.partial(field, {q: 2} if q == r else {q: 1, r: 1})
    gamma = call.christoffel()
    first = call.first(field) if gamma else {}
    cov = {
        (q, r): _minus(second[q, r], _sum(mul(first[k], gamma[k, q, r]) for k in qs if (k, q, r) in gamma))
        for q in qs
        for r in qs
    }
    inv = metric.inverse()
    rows = {}
    for a in metric.labels:
        row = {}
        for b in metric.labels:
            total = _sum(mul(cov[q, r], mul(inv.get((q, a), 0.0), inv.get((r, b), 0.0))) for q in qs for r in qs)
            row[b] = metric.mask_singular(total.transpose(*field.dims))
        rows[a] = call.stack(row, component_dim2)
    return call.stack(rows, component_dim).transpose(component_dim, component_dim2, *field.dims)


def _minus(a: Any, b: Any) -> Any:
    return sub(a, b)


def _jacobian_keys(arguments: Mapping[str, Any]) -> Any:
    """A Jacobian's dims as named, on flat grids; its vector's directions otherwise."""
    dims = arguments["dims"]
    field = arguments["field"]
    if dims is None:
        return None
    named = [dims] if isinstance(dims, str) else list(dims)
    labels = field[arguments["component_dim"]].values.tolist() if arguments["component_dim"] in field.coords else []
    two_d = any(k in field.coords and field.coords[k].ndim == 2 for k in [*named, *labels])
    return None if two_d else named


@operator(
    takes="vector",
    label=Label(prefixed("jacobian"), "Jacobian of {}"),
    dims=_jacobian_keys,
    new_dims=("component_dim2",),
    dims_on_curved_grids=False,
    summary="Jacobian ∂F_i/∂j of a vector field",
    example="""
    >>> x = np.arange(4.0)
    >>> F = xr.DataArray(np.stack(np.meshgrid(x, 3 * x, indexing="ij")), dims=("component", "x", "y"),
    ...                  coords={"component": ["x", "y"]})
    >>> F.grad.jacobian().mean(["x", "y"]).values
    array([[1., 0.],
           [0., 3.]])
    """,
    dataset_example="""
    >>> x = np.arange(4.0)
    >>> X, Y = np.meshgrid(x, x, indexing="ij")
    >>> ds = xr.Dataset({"u": (("x", "y"), X), "v": (("x", "y"), 3 * Y)})
    >>> ds.grad.jacobian({"x": "u", "y": "v"}).mean(["x", "y"]).values
    array([[1., 0.],
           [0., 3.]])
    """,
    cli_example="fieldgrad jacobian in.zarr --var u v --dims x y --out jacobian.zarr",
)
def jacobian(
    call: Call,
    field: xr.DataArray,
    dims: Iterable[Hashable] | None = None,
    *,
    component_dim: Hashable = "component",
    component_dim2: Hashable = "component2",
) -> xr.DataArray:
    """Jacobian ``∂F_i/∂j`` of a vector field; ``component`` indexes F, ``component2`` the direction j.

    On curved or curvilinear grids, the covariant derivative ``∇_j F_i`` in the frame of the
    directions (so its trace is the divergence). ``dims`` are the vector's directions (in the
    order the columns are wanted).

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
    metric = call.metric
    comps = components(field, component_dim)
    if dims is not None and set(map(str, [dims] if isinstance(dims, str) else dims)) != set(metric.labels):
        raise ValueError(
            f"the Jacobian is over the vector's directions {list(metric.labels)}, got dims "
            f"{[str(k) for k in ([dims] if isinstance(dims, str) else dims)]}"
        )
    F = call.vector_in(comps)
    like = next(iter(F.values()))
    inv = metric.inverse()
    qs = list(metric.dims)
    # contravariant components F^k = Σ_a G⁻¹_ka F_a and their derivatives by the product rule with
    # ∂G⁻¹ = −G⁻¹ (∂G) G⁻¹: only G and F are differentiated (G⁻¹ grows like 1/cos φ near a pole)
    contra = {k: _sum(mul(F[a], inv.get((k, a), 0.0)) for a in metric.labels) for k in qs}
    dF = {a: call.first(F[a]) for a in metric.labels}
    dG = {(q, a, k): call.coef_derivative(metric.entry(a, k), q) for q in qs for a in metric.labels for k in qs}
    gamma = call.christoffel()
    nabla = {}
    for k in qs:
        for q in qs:
            total: Any = 0.0
            for a in metric.labels:
                d_inv = _sum(  # ∂_q G⁻¹_ka
                    mul(mul(mul(inv.get((k, b), 0.0), dG[q, b, m]), inv.get((m, a), 0.0)), -1.0)
                    for b in metric.labels
                    for m in qs
                )
                total = add(total, add(mul(dF[a][q], inv.get((k, a), 0.0)), mul(F[a], d_inv)))
            total = add(total, _sum(mul(contra[m], gamma[k, q, m]) for m in qs if (k, q, m) in gamma))
            nabla[k, q] = total
    rows = {}
    for a in metric.labels:
        rows[a] = {
            b: metric.mask_singular(
                _sum(mul(nabla[k, q], mul(metric.entry(a, k), inv.get((q, b), 0.0))) for k in qs for q in qs).transpose(
                    *like.dims
                )
            )
            for b in metric.labels
        }
    if call.frame == "grid":
        rows = {a: metric.to_grid(r) for a, r in rows.items()}  # the derivative's direction
        columns = {b: metric.to_grid({a: rows[a][b] for a in rows}) for b in next(iter(rows.values()))}
        rows = {a: {b: columns[b][a] for b in columns} for a in next(iter(columns.values()))}
    elif metric.flat:
        rows = {a: rows[a] for a in comps}  # the vector's own order
    out = call.stack({a: call.stack(r, component_dim2) for a, r in rows.items()}, component_dim)
    spatial = [d for d in field.dims if d != component_dim]
    return out.transpose(component_dim, component_dim2, *spatial)


@operator(
    takes="vector",
    label=None,
    dims=None,
    derivatives=False,
    summary="norm of a vector field over its components",
    example="""
    >>> g = xr.DataArray([[3.0], [4.0]], dims=("component", "x"), coords={"component": ["x", "y"]})
    >>> g.grad.magnitude().values
    array([5.])
    """,
    dataset_example="""
    >>> ds = xr.Dataset({"u": ("x", [3.0]), "v": ("x", [4.0])})
    >>> ds.grad.magnitude({"x": "u", "y": "v"}).values
    array([5.])
    """,
    cli_example="fieldgrad magnitude era5.nc --var u v --dims longitude latitude --out speed.nc",
)
def magnitude(call: Call | None, field: xr.DataArray, *, component_dim: Hashable = "component") -> xr.DataArray:
    """Euclidean norm ``|F|`` over the components (``abs`` for complex fields).

    Computed in the precision of the field's derivatives (integers and booleans in float64, float16 in
    float32): the squares of an int8 or float16 field overflow its own dtype.

    Examples
    --------
    >>> g = xr.DataArray([[3.0], [4.0]], dims=("component", "x"), coords={"component": ["x", "y"]})
    >>> magnitude(g).values
    array([5.])
    >>> magnitude(g.astype(np.int8) * 30).values   # 150, not the square root of a wrapped-around int8
    array([150.])
    """
    if component_dim not in field.dims:
        raise ValueError(
            f"magnitude needs a {component_dim!r} dimension (component_dim=), got dims {[str(d) for d in field.dims]}"
        )
    dtype = result_dtype(field.dtype)  # (a TypeError for values that are not numbers)
    out = np.sqrt((abs(field.astype(dtype, copy=False)) ** 2).sum(component_dim))
    name = f"{field.name}_magnitude" if field.name is not None else None
    return label_result(out, field, name, f"magnitude of {base_label(field)}", field.attrs.get("units"))


def _unit_vector(direction: Mapping[Hashable, float]) -> dict[str, float]:
    if not isinstance(direction, Mapping):
        raise ValueError(f"direction must be a {{dim: component}} mapping, got {direction!r}")
    vec = {}
    for k, v in direction.items():
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise TypeError(f"direction {{dim: component}} needs numbers, got {v!r} for {k!r}")
        vec[str(k)] = float(v)
    norm = float(np.sqrt(sum(v * v for v in vec.values())))
    if not vec or not np.isfinite(norm) or norm == 0:
        raise ValueError(f"direction must be a non-zero finite {{dim: component}} mapping, got {dict(direction)!r}")
    return {k: v / norm for k, v in vec.items()}


@operator(
    takes="scalar",
    label=Label(lambda name, a: f"d{name}_ds" if name is not None else None, "directional derivative of {}"),
    dims=lambda a: list(a["direction"]) if isinstance(a["direction"], Mapping) else None,
    dims_on_curved_grids=False,
    summary="derivative along a direction {dim: component} (normalised)",
    example="""
    >>> x = np.arange(4.0)
    >>> f = xr.DataArray(np.add.outer(x, x), dims=("x", "y"))
    >>> round(float(f.grad.directional({"x": 1, "y": 1}).mean()), 6)
    1.414214
    """,
    dataset_example="""
    >>> x = np.arange(4.0)
    >>> ds = xr.Dataset({"f": (("x", "y"), np.add.outer(x, x))})
    >>> round(float(ds.grad.directional({"x": 1, "y": 1})["f"].mean()), 6)
    1.414214
    """,
    cli_example="fieldgrad directional in.nc --var T --direction x=1,y=1 --out dT_ds.nc",
)
def directional(call: Call, field: xr.DataArray, direction: Mapping[Hashable, float]) -> xr.DataArray:
    """Derivative along a direction ``{direction: component}`` (normalised to unit length).

    Examples
    --------
    >>> x = np.linspace(0, 1, 5)
    >>> f = xr.DataArray(np.add.outer(x, 2 * x), dims=("x", "y"), coords={"x": x, "y": x})
    >>> np.allclose(directional(f, {"x": 1, "y": 1}), 3 / np.sqrt(2))
    True
    """
    unit = _unit_vector(direction)
    metric = call.metric
    frame = call.labels
    unknown = set(unit) - set(frame)
    if unknown:
        raise ValueError(f"direction names {sorted(unknown)}; the directions of this grid are {list(frame)}")
    weights: dict[str, Any] = {a: unit.get(a, 0.0) for a in frame}
    if call.frame == "grid":
        weights = metric.from_grid(weights)
    parts = call.gradient_parts(field)
    out = _sum(mul(parts[a], c) for a, c in weights.items() if not (isinstance(c, float) and c == 0.0))
    if metric.flat:
        call.unit_labels = [a for a in unit if unit[a] != 0]  # only the directions taken count
    return out.transpose(*field.dims)


@operator(
    takes="scalar",
    label=Label(
        lambda name, a: f"d{name}_d{a['path_dim']}" if name is not None else None,
        "rate of change of {} along the path",
    ),
    dims=lambda a: list(a["path"]) if isinstance(a["path"], Mapping) else None,
    dims_on_curved_grids=False,
    new_dims=("path_dim",),
    summary="rate of change along a path of points, per unit arc length",
    example="""
    >>> x = np.arange(5.0)
    >>> f = xr.DataArray(np.add.outer(x, 0 * x), dims=("x", "y"), coords={"x": x, "y": x})
    >>> f.grad.along({"x": [0.5, 2.5], "y": [1.0, 1.0]}).values
    array([1., 1.])
    """,
    dataset_example="""
    >>> x = np.arange(5.0)
    >>> ds = xr.Dataset({"f": (("x", "y"), np.add.outer(x, 0 * x))}, coords={"x": x, "y": x})
    >>> ds.grad.along({"x": [0.5, 2.5], "y": [1.0, 1.0]})["f"].values
    array([1., 1.])
    """,
    cli_example="fieldgrad along in.nc --var T --path x=0,5,10 --path y=0,5,5 --out along.nc",
)
def along(
    call: Call,
    field: xr.DataArray,
    path: Mapping[Hashable, Any],
    *,
    interp: str = "linear",
    path_dim: Hashable = "distance",
) -> xr.DataArray:
    """Rate of change of a field with respect to arc length along a path of points.

    The derivatives along the path's coordinates are interpolated to the points and combined
    with the path's tangent: ``df/ds = Σ_q ∂_q f dq/dτ / |dr/dτ|``, where ``|dr/dτ|`` is the
    physical speed (``R dφ``, ``R cos φ dλ`` on the sphere) of the path's parameter ``τ``.

    Parameters
    ----------
    field : DataArray or Dataset
    path : mapping of dim -> 1-D array
        Positions of the path's points, in coordinate units (all arrays of one length ≥ 2).
    interp : str, default "linear"
        Interpolation method of :meth:`xarray.DataArray.interp`.
    path_dim : str, default "distance"
        Name of the new dimension along the path; its coordinate is the arc length from the
        first point (in metres on the sphere), and the path's positions are coordinates along it.

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
    metric = call.metric
    dims = [str(d) for d in path]
    pts = {d: np.asarray(path[d], dtype=np.float64).ravel() for d in dims}
    sizes = {p.size for p in pts.values()}
    if len(sizes) != 1 or sizes.pop() < 2:
        raise ValueError("path needs arrays of one common length of at least 2 points, one per dim")
    steps = np.sqrt(sum(np.diff(p) ** 2 for p in pts.values()))
    if np.any(steps == 0) or not np.all(np.isfinite(steps)):
        raise ValueError("path points must be finite and consecutive points distinct")
    tau = np.concatenate([[0.0], np.cumsum(steps)])
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
    at = {call.dim_of(d): xr.DataArray(pts[d], dims=(path_dim,)) for d in dims}
    d = call.first(field)
    how: Any = interp  # one of xarray's interpolation methods (xarray checks the name)
    # in the derivatives' dtype (float32 stays float32): xarray's interpolation computes in float64, and
    # the path's tangent and speed are float64 numbers
    dtype = next(iter(d.values())).dtype
    real = np.zeros(0, dtype).real.dtype
    rate = _sum(
        _in_dtype(d[q].interp(at, method=how), dtype) * xr.DataArray(velocity[q].astype(real), dims=(path_dim,))
        for q in metric.dims
    )
    coords = {name: c for name, c in field.coords.items() if c.ndim == 1}
    phys = {}
    for a in metric.labels:
        total: Any = 0.0
        for q in metric.dims:
            g: Any = metric.entry(a, q)
            if isinstance(g, xr.DataArray):
                g = g.assign_coords({k: v for k, v in coords.items() if v.dims[0] in g.dims})
                g = g.interp({k: v for k, v in at.items() if k in g.dims}, method=how)
                g = np.asarray(g.broadcast_like(xr.DataArray(tau, dims=(path_dim,))).values)
            total = total + np.asarray(g) * velocity[q]
        phys[a] = total
    speed = np.sqrt(sum(v**2 for v in phys.values()))
    # arc length: on the identity metric the chords between the points themselves; otherwise the
    # physical speed integrated along the path
    s = tau if metric.flat else np.concatenate([[0.0], np.cumsum(0.5 * (speed[1:] + speed[:-1]) * np.diff(tau))])
    out = (rate / xr.DataArray(speed.astype(real), dims=(path_dim,))).assign_coords({path_dim: s})
    if out.chunks is not None:  # xarray's interpolation splits the other dims into one-point chunks: the field's
        kept = {d: c for d, c in (field.chunksizes or {}).items() if d in out.dims and out.chunksizes[d] != c}
        out = out.chunk(kept) if kept else out
    return out


@operator(
    takes="scalar",
    label=Label(
        prefixed("advection"),
        "advection of {}",
        standard_name=lambda call, f, units: advection_standard_name(
            f.attrs.get("standard_name"), units, f.attrs.get("units")
        ),
        times="flow",
    ),
    dims=lambda a: _flow_labels(a["flow"], a["component_dim"]),
    dims_on_curved_grids=False,
    vectors=("flow",),
    summary="advection -u·∇f of a field by a flow (a vector field)",
    example="""
    >>> x = np.arange(5.0)
    >>> T = xr.DataArray(np.add.outer(2 * x, 0 * x), dims=("x", "y"))
    >>> flow = xr.DataArray(np.ones((2, 5, 5)), dims=("component", "x", "y"), coords={"component": ["x", "y"]})
    >>> float(T.grad.advection(flow).mean())   # -(u ∂T/∂x + v ∂T/∂y) = -(1 × 2 + 1 × 0)
    -2.0
    """,
    dataset_example="""
    >>> x = np.arange(5.0)
    >>> ds = xr.Dataset({"T": (("x", "y"), np.add.outer(2 * x, 0 * x)), "u": (("x", "y"), np.ones((5, 5))),
    ...                  "v": (("x", "y"), np.zeros((5, 5)))})
    >>> float(ds.grad.advection({"x": "u", "y": "v"})["T"].mean())
    -2.0
    """,
    cli_example="fieldgrad advection era5.nc --var t --flow longitude=u,latitude=v --geometry sphere --out adv.nc",
)
def advection(
    call: Call, field: xr.DataArray, flow: xr.DataArray, *, component_dim: Hashable = "component"
) -> xr.DataArray:
    """Advection of a field by a flow: ``-u·∇f``, the rate of change of ``f`` carried by ``u``.

    Parameters
    ----------
    field : DataArray or Dataset
        The advected field (a Dataset: each variable that has the flow's dims).
    flow : DataArray
        The flow, a vector field whose ``component_dim`` labels name the directions (on the
        sphere ``lat``/``lon``: northward and eastward wind; ``frame="grid"``: along the index dims).
        A Dataset form gives it as ``{direction: variable}``.
    component_dim : str, default "component"

    Returns
    -------
    DataArray
        ``-Σ_a u_a (∇f)_a``, named ``advection_T``, in the field's units times the flow's per length
        (``K s-1`` for a temperature in a wind in ``m s-1``).

    Examples
    --------
    >>> x = np.linspace(0, 1, 11)
    >>> T = xr.DataArray(np.add.outer(x**2, x), dims=("x", "y"), coords={"x": x, "y": x}, attrs={"units": "K"})
    >>> T.x.attrs["units"] = T.y.attrs["units"] = "m"
    >>> wind = xr.DataArray(np.ones((2, 11, 11)), dims=("component", "x", "y"),
    ...                     coords={"component": ["x", "y"]}, attrs={"units": "m s-1"})
    >>> adv = advection(T, wind, edge_order=2)
    >>> bool(np.allclose(adv.sel(y=0.5), -(2 * x + 1))), adv.attrs["units"]   # -(u ∂T/∂x + v ∂T/∂y)
    (True, 'K s-1')
    """
    if field.chunks is not None:
        # the flow in the field's chunks: the result's are the field's (xarray would intersect them, and
        # a flow's 2-D coordinates chunked otherwise than the field's leave the result's coordinates
        # inconsistent with its data)
        shared = {d: c for d, c in field.chunksizes.items() if d in flow.dims}
        if any(flow.chunksizes.get(d) != c for d, c in shared.items()):
            flow = flow.chunk(shared)
    F = call.vector_in(components(flow, component_dim))
    parts = call.gradient_parts(field)
    out = _sum(mul(parts[a], F[a]) for a in call.metric.labels)
    return (-out).transpose(*field.dims)


def _in_dtype(x: xr.DataArray, dtype: np.dtype) -> xr.DataArray:
    """``x`` in ``dtype``, block by block when lazy: xarray's interpolation of a dask array declares the
    field's float32 but computes float64 blocks (``astype`` would then change nothing)."""
    data = x.data
    if hasattr(data, "map_blocks"):
        cast = functools.partial(np.asarray, dtype=dtype)
        return x.copy(data=data.map_blocks(cast, dtype=dtype, meta=np.zeros((0,) * data.ndim, dtype)))
    return x.astype(dtype, copy=False)


def _flow_labels(flow: Any, component_dim: Hashable) -> list[str] | None:
    if isinstance(flow, xr.DataArray) and component_dim in flow.coords:
        return [str(v) for v in flow[component_dim].values.tolist()]
    return None
