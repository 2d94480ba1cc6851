"""Operators on fields: partial derivatives, gradient, Laplacian, Hessian.

Each is only its mathematics on the call's metric (:mod:`fieldgrad.operators`).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import Any

import xarray as xr

from ..calculus import derivative, orders_of
from ..call import Call, Label, Labelled, prefixed
from ..geometry.algebra import add, mul, sub, summed
from ..labelled import coord_variables
from ..table import operator
from ..units import derivative_name

__all__ = ["partial", "gradient", "laplacian", "hessian"]


def _partial_keys(arguments: Mapping[str, Any]) -> list[Hashable]:
    """What ``partial`` differentiates along: the dims of ``spec``, or a named 2-D coordinate's grid."""
    field = arguments["field"]
    keys = list(orders_of(arguments["spec"], arguments["order"]))
    variables = coord_variables(field)
    two_d = [k for k in keys if k in variables and k not in field.dims and variables[k].ndim == 2]
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
    out: Any = 0.0
    for i, q in enumerate(metric.dims):
        for r in metric.dims[i:]:
            coef = ginv.get((q, r), 0.0)
            if isinstance(coef, float) and coef == 0.0:
                continue
            second = call.partial(field, q, order=2) if q == r else call.partial(field, {q: 1, r: 1})
            out = add(out, mul(second, coef if q == r else mul(coef, 2.0)))
    first: dict[str, Any] = {}
    smooth = metric.for_derivatives()  # the coefficients differentiated here
    ginv_s, det_s = smooth.inverse_metric(), smooth.det()
    for r in metric.dims:
        total = summed(call.coef_derivative(mul(ginv_s.get((q, r), 0.0), det_s), q) for q in metric.dims)
        if not (isinstance(total, float) and total == 0.0):
            first[r] = call.partial(field, r)
            out = add(out, mul(first[r], mul(total, smooth.reciprocal_det())))
    out = out.transpose(*field.dims)  # a scalar: NaN only where its own terms are (1-D pole rows)
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
        (q, r): sub(second[q, r], summed(mul(first[k], gamma[k, q, r]) for k in qs if (k, q, r) in gamma))
        for q in qs
        for r in qs
    }
    inv = metric.inverse()
    rows = {}
    for a in metric.labels:
        row = {}
        for b in metric.labels:
            total = summed(mul(cov[q, r], mul(inv.get((q, a), 0.0), inv.get((r, b), 0.0))) for q in qs for r in qs)
            row[b] = metric.mask_singular(total.transpose(*field.dims))
        rows[a] = call.stack(row, component_dim2)
    return call.stack(rows, component_dim).transpose(component_dim, component_dim2, *field.dims)
