"""Where a derivative runs: the in-memory engine for numpy arrays, halo exchange for dask arrays.

The functional core (:mod:`fieldgrad.calculus`; :mod:`fieldgrad.numpy_compat` for dask arrays,
its numpy arrays having no boundary or NaN rule to apply) calls these two functions; they take
a :class:`~fieldgrad.plan.Plan` decided once and apply it to either kind of array with the same
boundary and NaN rules, so chunked and in-memory results agree.
"""

from __future__ import annotations

from typing import Any

from . import boundary, chunked, engine
from .conventions import is_dask
from .coords import AxisCoord
from .plan import Plan

__all__ = ["derivative", "first_derivatives"]


def derivative(values: Any, coords: dict[int, AxisCoord], orders: dict[int, int], plan: Plan) -> Any:
    """The mixed derivative of a numpy or dask array (see :func:`fieldgrad.engine.derivative`).

    Fill boundaries are applied here, for both kinds of array, after every axis is
    differentiated with one-sided ends (:func:`fieldgrad.boundary.open_plan`).

    Examples
    --------
    >>> import dask.array as da, numpy as np
    >>> from fieldgrad.coords import axis_coord
    >>> from fieldgrad.plan import make_plan
    >>> x = axis_coord(np.arange(6.0))
    >>> lazy = derivative(da.from_array(np.arange(6.0) ** 2, chunks=2), {0: x}, {0: 1}, make_plan())
    >>> lazy.compute()
    array([ 0.,  2.,  4.,  6.,  8., 10.])
    """
    active, fills = boundary.open_plan(plan, [a for a, o in orders.items() if o > 0])
    if is_dask(values):
        out = chunked.derivative_chunked(values, coords, orders, active)
    else:
        out = engine.derivative(values, coords, orders, active)
    for a in fills:
        out = boundary.fill_edges(out, a, plan.fill_width(coords[a], a, orders[a]), plan.fill_value)
    return out


def first_derivatives(values: Any, coords: dict[int, AxisCoord], axes: list[int], plan: Plan) -> Any:
    """First derivatives along ``axes`` stacked on a new leading axis, of a numpy or dask array.

    A fill boundary fills the component along its own axis.
    """
    active, fills = boundary.open_plan(plan, axes)
    if is_dask(values):
        out = chunked.first_derivatives_chunked(values, coords, axes, active)
    else:
        out = engine.first_derivatives(values, coords, axes, active)
    for a in fills:
        out = boundary.fill_edges(out, a, plan.fill_width(coords[a], a, 1), plan.fill_value, component=axes.index(a))
    return out
