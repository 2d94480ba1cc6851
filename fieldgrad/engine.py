"""The in-memory engine: derivatives of numpy arrays along axes, following a :class:`~fieldgrad.plan.Plan`.

This layer knows nothing of xarray labels or dask. One axis at a time it

* hands the method a floating array and casts its result to the derivative's dtype
  (:func:`fieldgrad.conventions.result_dtype`): one dtype rule for every method;
* emulates the boundary kinds the method does not implement (:mod:`fieldgrad.boundary`);
* with ``nan_policy="omit"``, differentiates every NaN-free run along the axis as a domain of
  its own.

:mod:`fieldgrad.chunked` runs this engine on dask blocks; :mod:`fieldgrad.dispatch` chooses
between the two.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from . import boundary
from .conventions import as_floating, result_dtype
from .coords import AxisCoord
from .plan import Plan

__all__ = ["derivative", "derivative_along", "first_derivatives"]


def derivative(values: np.ndarray, coords: dict[int, AxisCoord], orders: dict[int, int], plan: Plan) -> np.ndarray:
    """The mixed derivative ``∂^(sum orders) f / ∏ ∂x_axis^order`` of a numpy array.

    Applied one axis at a time (a tensor-product stencil): true higher-order stencils along
    each axis, never nested first derivatives.

    Examples
    --------
    >>> from fieldgrad.coords import axis_coord
    >>> from fieldgrad.plan import make_plan
    >>> f = np.add.outer(np.arange(4.0) ** 2, np.arange(3.0) ** 3)
    >>> derivative(f, {0: axis_coord(np.arange(4.0))}, {0: 1}, make_plan())[:, 0]
    array([0., 2., 4., 6.])
    """
    values = np.asarray(values)
    out = as_floating(values)
    for axis, order in orders.items():
        out = derivative_along(out, coords[axis], axis, order, plan)
    if out is values:  # order 0 everywhere: never hand back the input itself
        out = out.copy()
    return out


def first_derivatives(values: np.ndarray, coords: dict[int, AxisCoord], axes: list[int], plan: Plan) -> np.ndarray:
    """First derivatives along ``axes``, stacked on a new leading axis (the gradient).

    One pass over memory for every axis (:meth:`DerivativeMethod.derivatives`) when the method
    implements every boundary itself and no NaN run needs its own domain.

    Examples
    --------
    >>> from fieldgrad.coords import axis_coord
    >>> from fieldgrad.plan import make_plan
    >>> f = np.add.outer(np.arange(3.0), 2 * np.arange(4.0))
    >>> first_derivatives(f, {0: axis_coord(np.arange(3.0)), 1: axis_coord(np.arange(4.0))}, [0, 1],
    ...                   make_plan())[:, 0, 0]
    array([1., 2.])
    """
    values = as_floating(values)
    fused = len([a for a in axes if plan.native(a)]) == len(axes)  # (no all(<generator>): every gradient asks)
    if fused and not (plan.nan_policy == "omit" and _has_nan(values)):
        terms = [(a, plan.method_coord(coords[a], a)) for a in axes]
        out = plan.method.derivatives(values, terms, **plan.options)
        return out if type(out) is np.ndarray and out.dtype == values.dtype else np.asarray(out, dtype=values.dtype)
    out = np.empty((len(axes),) + values.shape, dtype=values.dtype)
    for k, axis in enumerate(axes):
        out[k] = derivative_along(values, coords[axis], axis, 1, plan)
    return out


def _has_nan(values: np.ndarray) -> bool:
    return values.dtype.kind in "fc" and bool(np.isnan(values).any())


def derivative_along(values: np.ndarray, coord: AxisCoord, axis: int, order: int, plan: Plan) -> np.ndarray:
    """One derivative of a numpy array along one axis, with boundary emulation and NaN runs."""
    values = as_floating(values)
    if order == 0:
        return values
    kind = plan.boundary_of(axis)
    if kind == "fill":
        raise ValueError(
            "boundary='fill' is applied after differentiating (fieldgrad.dispatch); "
            "the engine takes the plan of boundary.open_plan"
        )
    omit = plan.nan_policy == "omit" and _has_nan(values)
    if kind == "periodic" and (omit or not plan.native(axis)):
        halo = plan.halo(coord, axis, order)
        assert halo is not None  # plan.check_axis: emulated periodic and periodic with omit need a finite halo
        padded, wrapped = boundary.pad_periodic(values, coord, axis, halo)
        out = derivative_along(padded, wrapped, axis, order, plan.with_boundary(axis, "one-sided"))
        return boundary.trim(out, axis, halo, values.shape[axis])
    if omit:
        return _omit_nan_runs(values, coord, axis, order, plan)
    return _call(values, plan.method_coord(coord, axis), axis, order, plan, plan.options)


def _call(values: np.ndarray, coord: AxisCoord, axis: int, order: int, plan: Plan, options: dict) -> np.ndarray:
    out = plan.method.derivative(values, coord, axis=axis, order=order, **options)
    return np.asarray(out, dtype=result_dtype(values.dtype))


def _omit_nan_runs(values: np.ndarray, coord: AxisCoord, axis: int, order: int, plan: Plan) -> np.ndarray:
    """Differentiate each NaN-free run along ``axis`` as a domain of its own (one-sided ends).

    Lines without NaN are done in one call; the runs of the other lines are grouped by their
    (start, stop) so that every distinct run shape costs one vectorised call. A run shorter
    than the method's ``min_points`` uses its ``short_run_options``, or stays NaN.
    """
    m = plan.method
    v = np.moveaxis(values, axis, -1)
    n = v.shape[-1]
    lines = v.reshape(-1, n)
    out = np.full(lines.shape, np.nan, dtype=lines.dtype)
    valid = ~np.isnan(lines)
    clean = valid.all(axis=1)
    interval = dataclasses.replace(coord, period=None)
    if clean.any():
        out[clean] = _call(lines[clean], interval, -1, order, plan, plan.options)
    dirty = np.flatnonzero(~clean)
    if dirty.size:
        edges = np.diff(np.pad(valid[dirty], ((0, 0), (1, 1))).astype(np.int8), axis=1)
        line_s, start = np.nonzero(edges == 1)
        _, stop = np.nonzero(edges == -1)
        keys = start * (n + 1) + stop
        uniq, inverse = np.unique(keys, return_inverse=True)
        for g, key in enumerate(uniq):
            a, b = divmod(int(key), n + 1)
            run = AxisCoord(values=coord.values[a:b], spacing=coord.spacing)
            options = plan.options
            if b - a < m.min_points(run, order, **options):
                short = m.short_run_options(run, order, **options)
                if short is None or b - a < m.min_points(run, order, **short):
                    continue
                options = short
            rows = dirty[line_s[inverse == g]]
            out[rows, a:b] = _call(lines[rows, a:b], run, -1, order, plan, options)
    return np.moveaxis(out.reshape(v.shape), -1, axis)
