"""Boundary kinds a method does not implement itself, emulated around a one-sided derivative.

One place for the boundary policy of every execution layer (in memory, dask blocks, NaN runs);
whether a kind is native to a method is the plan's answer (:meth:`fieldgrad.plan.Plan.native`):

* ``"periodic"`` for a method with a finite halo: :func:`pad_periodic` wraps ``halo`` points
  (and their positions, shifted by the period) around each end, the padded axis is
  differentiated with one-sided ends, and :func:`trim` cuts the padding off again. On dask
  arrays the halo exchange itself wraps around (:mod:`fieldgrad.chunked`), and each block is
  then one-sided: :func:`block_plan`.
* ``"fill"``, always: differentiate with one-sided ends (:func:`open_plan`), then set the
  ``fill_width`` points at each end of the axis to ``fill_value`` (:func:`fill_edges`). With
  several axes, every fill axis is filled after all derivatives are taken: a filled row
  differentiated along another axis would otherwise turn into 0 (or spread the NaN).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from .conventions import is_dask
from .coords import AxisCoord
from .plan import Plan, wraps_uniformly

__all__ = ["pad_periodic", "wrapped_positions", "trim", "fill_edges", "open_plan", "block_plan"]


def pad_periodic(values: np.ndarray, coord: AxisCoord, axis: int, halo: int) -> tuple[np.ndarray, AxisCoord]:
    """``values`` with ``halo`` points wrapped around each end of ``axis``, and their positions.

    Examples
    --------
    >>> from fieldgrad.coords import axis_coord
    >>> v, c = pad_periodic(np.array([1.0, 2.0, 3.0]), axis_coord(np.arange(3.0)), 0, 1)
    >>> v, c.values
    (array([3., 1., 2., 3., 1.]), array([-1.,  0.,  1.,  2.,  3.]))
    """
    n = values.shape[axis]
    padded = np.take(values, np.arange(-halo, n + halo) % n, axis=axis)
    return padded, wrapped_positions(coord, -halo, n + halo)


def wrapped_positions(coord: AxisCoord, start: int, stop: int) -> AxisCoord:
    """The positions of the points ``start..stop-1`` of the axis repeated periodically, uniform only
    if the axis is uniform across its wrap (:func:`fieldgrad.plan.wraps_uniformly`).

    Examples
    --------
    >>> from fieldgrad.coords import axis_coord
    >>> c = wrapped_positions(axis_coord(np.arange(3.0), period=4.0), -1, 4)
    >>> c.values, c.spacing
    (array([-2.,  0.,  1.,  2.,  4.]), None)
    """
    ext = coord.periodic_extension(start, stop)
    crosses = start < 0 or stop > coord.size
    return ext if ext.spacing is None or not crosses or wraps_uniformly(coord) else replace(ext, spacing=None)


def trim(values: np.ndarray, axis: int, halo: int, n: int) -> np.ndarray:
    """The ``n`` points after the first ``halo`` along ``axis`` (undoes :func:`pad_periodic`)."""
    return np.take(values, np.arange(halo, halo + n), axis=axis)


def fill_edges(out: Any, axis: int, width: int, fill_value: float, component: int | None = None) -> Any:
    """Set the ``width`` points at each end of ``axis`` to ``fill_value`` (numpy in place; dask lazily).

    With ``component``, ``out`` holds components stacked on a new leading axis (a gradient) and
    only that component is filled, along the field's ``axis``.

    Examples
    --------
    >>> fill_edges(np.arange(5.0), 0, 1, np.nan)
    array([nan,  1.,  2.,  3., nan])
    >>> fill_edges(np.ones((2, 3)), 0, 1, 0.0, component=1)
    array([[1., 1., 1.],
           [0., 1., 0.]])
    """
    lead = 0 if component is None else 1
    n = out.shape[axis + lead]
    edge = np.zeros(n, dtype=bool)
    edge[: min(width, n)] = True
    edge[max(n - width, 0) :] = True
    shape = [1] * out.ndim
    shape[axis + lead] = n
    if component is None:
        mask = edge.reshape(shape)
    else:
        mask = np.zeros([out.shape[0], *shape[1:]], dtype=bool)
        mask[component] = edge.reshape(shape[1:])
    if is_dask(out):
        import dask.array as da

        return da.where(mask, np.asarray(fill_value, dtype=out.dtype), out)
    np.putmask(out, np.broadcast_to(mask, out.shape), fill_value)
    return out


def _one_sided(plan: Plan, axes: list[int], kind: str) -> tuple[Plan, list[int]]:
    """The plan with one-sided ends on the ``axes`` whose boundary is ``kind``, and those axes."""
    if kind not in plan.boundary.values():  # most calls: nothing to change
        return plan, []
    changed = [a for a in axes if plan.boundary_of(a) == kind]
    for a in changed:
        plan = plan.with_boundary(a, "one-sided")
    return plan, changed


def open_plan(plan: Plan, axes: list[int]) -> tuple[Plan, list[int]]:
    """The plan with one-sided ends on the ``axes`` whose boundary is ``"fill"``, and those axes."""
    return _one_sided(plan, axes, "fill")


def block_plan(plan: Plan, axes: list[int]) -> Plan:
    """The plan for one dask block: periodic axes become one-sided (their halos carry the wrap)."""
    return _one_sided(plan, axes, "periodic")[0]
