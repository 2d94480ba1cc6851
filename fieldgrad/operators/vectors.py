"""Operators on vector fields: divergence, curl, Jacobian, magnitude; and advection by a flow.

Each is only its mathematics on the call's metric (:mod:`fieldgrad.operators`).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import Any

import numpy as np
import xarray as xr

from ..call import COMPONENT_STANDARD_NAMES, Call, Label, components, prefixed
from ..cf import advection_standard_name, vector_standard_name
from ..conventions import result_dtype
from ..geometry.algebra import add, mul, sub, summed
from ..table import operator
from ..units import base_label, label_result

__all__ = ["divergence", "curl", "jacobian", "magnitude", "advection"]


def _vector_name(operation: str) -> Any:
    """The CF standard name of a divergence or curl of named components (the table's, else None)."""

    def standard_name(call: Call, field: xr.DataArray, units: str | None) -> str | None:
        if call.flat_on_curved:  # per degree, or without the map factors: not the quantity the name says
            return None
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
    cov = {q: summed(mul(F[a], metric.entry(a, q)) for a in metric.labels) for q in metric.dims}
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
    # components are differentiated in a frame as smooth as the grid: the grid's own where east and
    # north turn through 360° around a pole inside it (the result is turned back to the frame asked for)
    frame = metric.in_smooth_frame()
    F = call.vector_in(comps)
    if frame is not metric:
        F = metric.to_grid(F)
    like = next(iter(F.values()))
    inv = frame.inverse()
    qs = list(frame.dims)
    # contravariant components F^k = Σ_a G⁻¹_ka F_a and their derivatives by the product rule with
    # ∂G⁻¹ = −G⁻¹ (∂G) G⁻¹: only G and F are differentiated (G⁻¹ grows like 1/cos φ near a pole)
    contra = {k: summed(mul(F[a], inv.get((k, a), 0.0)) for a in frame.labels) for k in qs}
    dF = {a: call.first(F[a]) for a in frame.labels}
    smooth = frame.for_derivatives()
    dG = {(q, a, k): call.coef_derivative(smooth.entry(a, k), q) for q in qs for a in frame.labels for k in qs}
    gamma = call.christoffel()
    nabla = {}
    for k in qs:
        for q in qs:
            total: Any = 0.0
            for a in frame.labels:
                d_inv = summed(  # ∂_q G⁻¹_ka
                    mul(mul(mul(inv.get((k, b), 0.0), dG[q, b, m]), inv.get((m, a), 0.0)), -1.0)
                    for b in frame.labels
                    for m in qs
                )
                total = add(total, add(mul(dF[a][q], inv.get((k, a), 0.0)), mul(F[a], d_inv)))
            total = add(total, summed(mul(contra[m], gamma[k, q, m]) for m in qs if (k, q, m) in gamma))
            nabla[k, q] = total
    rows = {}
    for a in frame.labels:
        rows[a] = {
            b: frame.mask_singular(
                summed(
                    mul(nabla[k, q], mul(frame.entry(a, k), inv.get((q, b), 0.0))) for k in qs for q in qs
                ).transpose(*like.dims)
            )
            for b in frame.labels
        }
    if (frame is metric) == (call.frame == "grid"):  # to the grid's frame, or back from it
        rows = _turned(rows, metric.to_grid if frame is metric else metric.from_grid)
    elif metric.flat:
        rows = {a: rows[a] for a in comps}  # the vector's own order
    out = call.stack({a: call.stack(r, component_dim2) for a, r in rows.items()}, component_dim)
    spatial = [d for d in field.dims if d != component_dim]
    return out.transpose(component_dim, component_dim2, *spatial)


def _turned(rows: dict[str, dict[str, Any]], turn: Any) -> dict[str, dict[str, Any]]:
    """A tensor ``rows[a][b]`` with both indices turned to another frame by ``turn`` (a component dict's)."""
    rows = {a: turn(r) for a, r in rows.items()}  # the derivative's direction
    columns = {b: turn({a: rows[a][b] for a in rows}) for b in next(iter(rows.values()))}
    return {a: {b: columns[b][a] for b in columns} for a in next(iter(columns.values()))}


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
    out = summed(mul(parts[a], F[a]) for a in call.metric.labels)
    return (-out).transpose(*field.dims)


def _flow_labels(flow: Any, component_dim: Hashable) -> list[str] | None:
    if isinstance(flow, xr.DataArray) and component_dim in flow.coords:
        return [str(v) for v in flow[component_dim].values.tolist()]
    return None
