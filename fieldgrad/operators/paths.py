"""Rates of change along a direction and along a path of points.

Each is only its mathematics on the call's metric (:mod:`fieldgrad.operators`).
"""

from __future__ import annotations

import functools
from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
import xarray as xr

from ..call import Call, Label
from ..geometry.algebra import mul, summed
from ..table import operator

__all__ = ["directional", "along"]


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
    out = summed(mul(parts[a], c) for a, c in weights.items() if not (isinstance(c, float) and c == 0.0))
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
    from ..numpy_compat import gradient as np_gradient

    edge = 2 if tau.size > 2 else 1
    velocity = {d: np_gradient(pts[d], tau, edge_order=edge) for d in dims}
    at = {call.dim_of(d): xr.DataArray(pts[d], dims=(path_dim,)) for d in dims}
    d = call.first(field)
    how: Any = interp  # one of xarray's interpolation methods (xarray checks the name)
    # in the derivatives' dtype (float32 stays float32): xarray's interpolation computes in float64, and
    # the path's tangent and speed are float64 numbers
    dtype = next(iter(d.values())).dtype
    real = np.zeros(0, dtype).real.dtype
    rate = summed(
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


def _in_dtype(x: xr.DataArray, dtype: np.dtype) -> xr.DataArray:
    """``x`` in ``dtype``, block by block when lazy: xarray's interpolation of a dask array declares the
    field's float32 but computes float64 blocks (``astype`` would then change nothing)."""
    data = x.data
    if hasattr(data, "map_blocks"):
        cast = functools.partial(np.asarray, dtype=dtype)
        return x.copy(data=data.map_blocks(cast, dtype=dtype, meta=np.zeros((0,) * data.ndim, dtype)))
    return x.astype(dtype, copy=False)
