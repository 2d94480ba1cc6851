"""The array engine: derivatives of numpy and dask arrays along axes with known coordinates.

This layer knows nothing of xarray labels. It takes a resolved :class:`Plan` (the method, its
validated options, and the common keywords) and applies it along one axis at a time:

* dtype rules (:func:`fieldgrad.kernels.result_dtype`);
* ``nan_policy="omit"``: NaN-free runs along the axis become domains of their own;
* boundary emulation for methods that do not implement a boundary kind themselves;
* dask arrays go to :mod:`fieldgrad.chunked` (halo exchange), numpy arrays straight to the method.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .coords import AxisCoord
from .kernels import result_dtype
from .method import DerivativeMethod
from .registry import get_method
from .stencil import BOUNDARIES

__all__ = ["Plan", "make_plan", "derivative", "first_derivatives", "NAN_POLICIES"]

NAN_POLICIES = ("propagate", "omit")


@dataclass(frozen=True)
class Plan:
    """A method with validated options, and the boundary/NaN keywords per axis."""

    method: DerivativeMethod
    options: dict[str, Any]
    boundary: dict[int, str] = field(default_factory=dict)
    nan_policy: str = "propagate"
    fill_value: float = np.nan

    def boundary_of(self, axis: int) -> str:
        return self.boundary.get(axis, "one-sided")

    def method_kwargs(self, coord: AxisCoord, axis: int, *, boundary: str | None = None) -> dict[str, Any]:
        """Keywords passed to the method's ``derivative``, ``halo`` and ``min_points``."""
        return {
            **self.options,
            "boundary": boundary or self.boundary_of(axis),
            "fill_value": self.fill_value,
            "period": coord.period,
            "nan_policy": self.nan_policy,
            "spacing": coord.spacing,
        }

    def halo(self, coord: AxisCoord, axis: int, order: int, **override: Any) -> int | None:
        return self.method.halo(order, **{**self.method_kwargs(coord, axis), **override})

    def min_points(self, coord: AxisCoord, axis: int, order: int) -> int:
        return self.method.min_points(order, **self.method_kwargs(coord, axis))


def make_plan(
    method: Any = "fd",
    orders: tuple[int, ...] = (1,),
    *,
    boundary: dict[int, str] | None = None,
    nan_policy: str = "propagate",
    fill_value: float = np.nan,
    **options: Any,
) -> Plan:
    """Resolve the method and validate every keyword before anything is computed.

    Examples
    --------
    >>> make_plan("fd", (1,), accuracy=4).options
    {'accuracy': 4, 'edge_order': 4}
    >>> make_plan("fd", (1,), accuracy=3)
    Traceback (most recent call last):
    ...
    ValueError: accuracy must be one of (2, 4, 6, 8), got 3
    """
    m = get_method(method)
    boundary = dict(boundary or {})
    for kind in boundary.values():
        if kind not in BOUNDARIES:
            raise ValueError(f"boundary must be one of {BOUNDARIES}, got {kind!r}")
    if nan_policy not in NAN_POLICIES:
        raise ValueError(f"nan_policy must be one of {NAN_POLICIES}, got {nan_policy!r}")
    resolved: dict[str, Any] | None = None
    for order in orders or (1,):
        resolved = m.check_options(order, **options)
    return Plan(
        method=m,
        options=resolved or {},
        boundary=boundary,
        nan_policy=nan_policy,
        fill_value=float(fill_value) if not isinstance(fill_value, complex) else fill_value,
    )


def check_axis(values_shape: tuple[int, ...], axis: int, coord: AxisCoord, order: int, plan: Plan, name: str) -> None:
    """Raise before computing when the method cannot handle this axis."""
    n = values_shape[axis]
    if coord.size != n:
        raise ValueError(f"coordinate {name!r} has {coord.size} values but the axis has {n} points")
    if order == 0:
        return
    if not coord.uniform and not plan.method.supports_nonuniform and n > 1:
        raise ValueError(
            f"method {plan.method.name!r} needs uniformly spaced coordinates, but {name!r} is "
            "not uniform; use a method that supports non-uniform coordinates, e.g. method='fd'"
        )
    kind = plan.boundary_of(axis)
    if kind not in plan.method.boundaries:
        if plan.halo(coord, axis, order) is None:
            raise ValueError(
                f"method {plan.method.name!r} does not support boundary={kind!r} (it supports {plan.method.boundaries})"
            )
    if kind == "periodic" and plan.nan_policy == "omit" and plan.halo(coord, axis, order) is None:
        raise ValueError(
            f"nan_policy='omit' with boundary='periodic' needs a method with a finite halo; "
            f"method {plan.method.name!r} needs the whole axis (use nan_policy='propagate', "
            "or another boundary)"
        )
    if kind == "periodic" and not coord.uniform and coord.period is None:
        raise ValueError(
            f"boundary='periodic' on the non-uniform coordinate {name!r} needs period= (the length of one period)"
        )
    need = plan.min_points(coord, axis, order)
    if n < need:
        raise ValueError(
            f"{name!r} has {n} points, but method {plan.method.name!r} with these options needs "
            f"at least {need} points for a derivative of order {order}"
        )


def as_float(values: np.ndarray) -> np.ndarray:
    """The field as the floating dtype of its derivative (no copy when it already is)."""
    return np.asarray(
        values, dtype=result_dtype(np.asarray(values).dtype) if values.dtype.kind != "c" else values.dtype
    )


def _is_dask(values: Any) -> bool:
    return type(values).__module__.split(".")[0] == "dask"


def check_known_shape(values: Any) -> None:
    """Raise a clear ValueError for a dask array whose chunk sizes are unknown."""
    if any(isinstance(n, float) and np.isnan(n) for n in getattr(values, "shape", ())):
        raise ValueError(
            "the dask array has unknown chunk sizes; call .compute_chunk_sizes() (or persist it) before differentiating"
        )


def derivative(values: Any, coords: dict[int, AxisCoord], orders: dict[int, int], plan: Plan) -> Any:
    """The mixed derivative ``∂^(sum orders) f / ∏ ∂x_axis^order`` of a numpy or dask array.

    Applied one axis at a time (a tensor-product stencil): true higher-order stencils along
    each axis, never nested first derivatives.
    """
    active = [a for a, o in orders.items() if o > 0]
    fill_axes = [a for a in active if plan.boundary_of(a) == "fill"]
    if len(active) > 1 and fill_axes:
        # differentiate with one-sided edges, then fill: a fill row differentiated along
        # another axis would otherwise turn into 0 (or spread the NaN)
        open_plan = plan
        for a in fill_axes:
            open_plan = _with_boundary(open_plan, a, "one-sided")
        out = derivative(values, coords, orders, open_plan)
        for a in fill_axes:
            width = plan.method.fill_width(orders[a], **plan.method_kwargs(coords[a], a))
            out = _fill_edges(out, a, width, plan.fill_value)
        return out
    if _is_dask(values):
        from .chunked import derivative_chunked

        return derivative_chunked(values, coords, orders, plan)
    out = np.asarray(values)
    dtype = result_dtype(out.dtype)
    for axis, order in orders.items():
        out = derivative_along(out, coords[axis], axis, order, plan)
    if out is values:  # order 0 everywhere: never hand back the input itself
        out = out.copy()
    return np.asarray(out, dtype=dtype)


def first_derivatives(values: Any, coords: dict[int, AxisCoord], axes: list[int], plan: Plan) -> Any:
    """First derivatives along ``axes``, stacked on a new leading axis (the gradient)."""
    if _is_dask(values):
        from .chunked import first_derivatives_chunked

        return first_derivatives_chunked(values, coords, axes, plan)
    values = np.asarray(values)
    native = all(plan.boundary_of(a) in plan.method.boundaries for a in axes)
    if native and not (plan.nan_policy == "omit" and _has_nan(values)):
        args = [(a, coords[a].values, plan.method_kwargs(coords[a], a)) for a in axes]
        return plan.method.derivatives(values, args)
    out = np.empty((len(axes),) + values.shape, dtype=result_dtype(values.dtype))
    for k, axis in enumerate(axes):
        out[k] = derivative_along(values, coords[axis], axis, 1, plan)
    return out


def _has_nan(values: np.ndarray) -> bool:
    return values.dtype.kind in "fc" and bool(np.isnan(values).any())


def derivative_along(values: np.ndarray, coord: AxisCoord, axis: int, order: int, plan: Plan) -> np.ndarray:
    """One derivative of a numpy array along one axis, with boundary emulation and NaN runs."""
    if order == 0:
        return as_float(values)
    kind = plan.boundary_of(axis)
    native = kind in plan.method.boundaries
    omit = plan.nan_policy == "omit" and _has_nan(values)
    if kind == "periodic" and (not native or omit):
        return _periodic_by_padding(values, coord, axis, order, plan)
    if kind == "fill" and (not native or omit):
        out = _along(values, coord, axis, order, plan, "one-sided", omit)
        width = plan.method.fill_width(order, **plan.method_kwargs(coord, axis))
        return _fill_edges(out, axis, width, plan.fill_value)
    return _along(values, coord, axis, order, plan, kind, omit)


def _along(values: Any, coord: AxisCoord, axis: int, order: int, plan: Plan, kind: str, omit: bool) -> Any:
    kw = plan.method_kwargs(coord, axis, boundary=kind)
    if omit:
        return _omit_nan_runs(values, coord, axis, order, plan, kw)
    return plan.method.derivative(as_float(values), coord.values, axis=axis, order=order, **kw)


def _fill_edges(out: Any, axis: int, width: int, fill_value: float) -> Any:
    """Set the ``width`` points at each end of ``axis`` to ``fill_value`` (numpy in place; dask lazily)."""
    n = out.shape[axis]
    edge = np.zeros(n, dtype=bool)
    edge[: min(width, n)] = True
    edge[max(n - width, 0) :] = True
    if _is_dask(out):
        import dask.array as da

        shape = [1] * out.ndim
        shape[axis] = n
        return da.where(edge.reshape(shape), np.asarray(fill_value, dtype=out.dtype), out)
    idx: list[Any] = [slice(None)] * out.ndim
    idx[axis] = edge
    out[tuple(idx)] = fill_value
    return out


def _periodic_by_padding(values: Any, coord: AxisCoord, axis: int, order: int, plan: Plan) -> Any:
    h = plan.halo(coord, axis, order)
    assert h is not None  # check_axis refuses an emulated boundary without a finite halo
    n = values.shape[axis]
    idx = np.arange(-h, n + h) % n
    padded = np.take(as_float(values), idx, axis=axis)
    ext = coord.periodic_extension(-h, n + h)
    out = derivative_along(padded, ext, axis, order, _with_boundary(plan, axis, "one-sided"))
    return np.take(out, np.arange(h, h + n), axis=axis)


def _with_boundary(plan: Plan, axis: int, kind: str) -> Plan:
    return Plan(plan.method, plan.options, {**plan.boundary, axis: kind}, plan.nan_policy, plan.fill_value)


def _omit_nan_runs(values: Any, coord: AxisCoord, axis: int, order: int, plan: Plan, kw: dict[str, Any]) -> Any:
    """Differentiate each NaN-free run along ``axis`` as a domain of its own.

    Lines without NaN are done in one call; the runs of the other lines are grouped by their
    (start, stop) so that every distinct run shape costs one vectorised call.
    """
    v = np.moveaxis(as_float(values), axis, -1)
    n = v.shape[-1]
    lines = v.reshape(-1, n)
    out = np.full(lines.shape, np.nan, dtype=result_dtype(lines.dtype))
    valid = ~np.isnan(lines)
    clean = valid.all(axis=1)
    run_kw = {**kw, "boundary": "one-sided", "period": None}
    if clean.any():
        out[clean] = plan.method.derivative(lines[clean], coord.values, axis=-1, order=order, **kw)
    dirty = np.flatnonzero(~clean)
    if dirty.size:
        edges = np.diff(np.pad(valid[dirty], ((0, 0), (1, 1))).astype(np.int8), axis=1)
        line_s, start = np.nonzero(edges == 1)
        _, stop = np.nonzero(edges == -1)
        keys = start * (n + 1) + stop
        uniq, inverse = np.unique(keys, return_inverse=True)
        for g, key in enumerate(uniq):
            a, b = divmod(int(key), n + 1)
            if b - a < plan.method.min_points(order, **run_kw):
                continue
            rows = dirty[line_s[inverse == g]]
            seg = lines[rows, a:b]
            out[rows, a:b] = plan.method.derivative(seg, coord.values[a:b], axis=-1, order=order, **run_kw)
    return np.moveaxis(out.reshape(v.shape), -1, axis)
