"""Where a derivative runs: the in-memory engine for numpy arrays, halo exchange for dask arrays.

The functional core (:mod:`fieldgrad.calculus`, :mod:`fieldgrad.numpy_compat`) calls these two
functions; they take a :class:`~fieldgrad.plan.Plan` decided once and apply it to either kind
of array with the same boundary and NaN rules, so chunked and in-memory results agree.
"""

from __future__ import annotations

from typing import Any

from . import chunked, engine
from .coords import AxisCoord
from .plan import Plan

__all__ = ["derivative", "first_derivatives", "is_dask"]


def is_dask(values: Any) -> bool:
    """Whether ``values`` is a dask array (without importing dask).

    Examples
    --------
    >>> import numpy as np
    >>> is_dask(np.zeros(2))
    False
    """
    return type(values).__module__.split(".")[0] == "dask"


def derivative(values: Any, coords: dict[int, AxisCoord], orders: dict[int, int], plan: Plan) -> Any:
    """The mixed derivative of a numpy or dask array (see :func:`fieldgrad.engine.derivative`).

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
    if is_dask(values):
        return chunked.derivative_chunked(values, coords, orders, plan)
    return engine.derivative(values, coords, orders, plan)


def first_derivatives(values: Any, coords: dict[int, AxisCoord], axes: list[int], plan: Plan) -> Any:
    """First derivatives along ``axes`` stacked on a new leading axis, of a numpy or dask array."""
    if is_dask(values):
        return chunked.first_derivatives_chunked(values, coords, axes, plan)
    return engine.first_derivatives(values, coords, axes, plan)
