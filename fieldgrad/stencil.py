"""Stencils along one axis: which points and weights give the derivative at every position.

An :class:`AxisStencil` is the complete recipe for one derivative along one axis of ``n``
points. It has two parts, both plain arrays so that a compiled kernel can apply them:

* a **band**: rows ``lo <= i < hi`` use the same offsets ``offsets`` (relative to ``i``) with
  weights ``weights[:, i]`` (per-point, non-uniform axes) or ``weights[:, 0]`` (uniform axes);
* **edge rows**: every other row ``edge_rows[r]`` is ``edge_const[r] + sum(edge_w[p] *
  f[edge_idx[p]])`` over ``p`` in ``edge_ptr[r]:edge_ptr[r+1]`` (compressed sparse rows). These
  hold the one-sided boundary stencils, periodic wrap-around, and ``fill`` values.

Terms with an exactly-zero weight are dropped, so a NaN spoils exactly the points whose stencil
touches it (the centre of a uniform first derivative is not touched, as in ``numpy.gradient``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from .coefficients import (
    VALID_ACCURACIES,
    central_radius,
    fornberg_weights,
    one_sided_width,
    uniform_weights,
)
from .coords import AxisCoord

__all__ = ["AxisStencil", "build_stencil", "BOUNDARIES", "minimum_points"]

BOUNDARIES = ("one-sided", "periodic", "fill")


@dataclass(frozen=True)
class AxisStencil:
    """One derivative along one axis, as a band of equal-offset rows plus explicit edge rows."""

    n: int
    lo: int
    hi: int
    offsets: np.ndarray  # (m,) int64
    weights: np.ndarray  # (m, n) per point, or (m, 1) when uniform
    edge_rows: np.ndarray  # (k,) int64
    edge_ptr: np.ndarray  # (k + 1,) int64
    edge_idx: np.ndarray  # (nnz,) int64
    edge_w: np.ndarray  # (nnz,) float64
    edge_const: np.ndarray  # (k,) float64

    @property
    def uniform(self) -> bool:
        return self.weights.shape[1] == 1

    @property
    def row_map(self) -> np.ndarray:
        """For each row, -1 if it is in the band, else its index into the edge rows."""
        rows = np.full(self.n, -1, dtype=np.int64)
        rows[self.edge_rows] = np.arange(self.edge_rows.shape[0])
        return rows

    def dense(self) -> np.ndarray:
        """The stencil as an (n, n) matrix (for tests and small problems).

        Examples
        --------
        >>> from fieldgrad.coords import axis_coord
        >>> build_stencil(axis_coord(np.arange(4.0)), 1, 2, 1, "one-sided").dense()
        array([[-1. ,  1. ,  0. ,  0. ],
               [-0.5,  0. ,  0.5,  0. ],
               [ 0. , -0.5,  0. ,  0.5],
               [ 0. ,  0. , -1. ,  1. ]])
        """
        d = np.zeros((self.n, self.n))
        for k, off in enumerate(self.offsets):
            i = np.arange(self.lo, self.hi)
            d[i, i + off] = self.weights[k, i if not self.uniform else 0]
        for r, row in enumerate(self.edge_rows):
            p = slice(self.edge_ptr[r], self.edge_ptr[r + 1])
            np.add.at(d[row], self.edge_idx[p], self.edge_w[p])
        return d


def minimum_points(order: int, accuracy: int, edge_order: int, boundary: str, *, uniform: bool) -> int:
    """Fewest points along an axis for which the stencil is defined.

    Examples
    --------
    >>> minimum_points(1, 2, 1, "one-sided", uniform=True)
    2
    >>> minimum_points(1, 2, 2, "periodic", uniform=True)
    3
    """
    if boundary == "one-sided":
        return one_sided_width(order, edge_order)
    return 2 * central_radius(order, accuracy, uniform=uniform) + 1


def check_options(order: int, accuracy: int, edge_order: int, boundary: str) -> None:
    """Raise ValueError for invalid stencil options, naming the argument and what is valid."""
    if not isinstance(order, (int, np.integer)) or isinstance(order, bool) or order < 0:
        raise ValueError(f"order must be a non-negative integer, got {order!r}")
    if accuracy not in VALID_ACCURACIES:
        raise ValueError(f"accuracy must be one of {VALID_ACCURACIES}, got {accuracy!r}")
    if not isinstance(edge_order, (int, np.integer)) or isinstance(edge_order, bool) or not 1 <= edge_order <= 8:
        raise ValueError(f"edge_order must be an integer from 1 to 8 (or None for the accuracy), got {edge_order!r}")
    if boundary not in BOUNDARIES:
        raise ValueError(f"boundary must be one of {BOUNDARIES}, got {boundary!r}")


def build_stencil(
    coord: AxisCoord,
    order: int,
    accuracy: int,
    edge_order: int,
    boundary: str,
    fill_value: float = np.nan,
) -> AxisStencil:
    """Build the stencil of the ``order``-th derivative along an axis with positions ``coord``.

    Parameters
    ----------
    coord : AxisCoord
        The axis positions (see :func:`fieldgrad.coords.axis_coord`).
    order : int
        Derivative order (0 gives the identity).
    accuracy : int
        Formal order of accuracy of the centred interior stencils: 2, 4, 6 or 8.
    edge_order : int
        Formal order of accuracy of the one-sided stencils at the boundaries.
    boundary : {"one-sided", "periodic", "fill"}
        What happens where the centred stencil does not fit.
    fill_value : float
        Value of the points without a centred stencil when ``boundary="fill"``.

    Examples
    --------
    >>> from fieldgrad.coords import axis_coord
    >>> s = build_stencil(axis_coord(np.arange(6.0)), 2, 2, 2, "periodic")
    >>> s.dense()[0]
    array([-2.,  1.,  0.,  0.,  0.,  1.])
    """
    check_options(order, accuracy, edge_order, boundary)
    n = coord.size
    h = coord.spacing
    if boundary == "periodic" and coord.period is not None and h is not None:
        if abs(coord.period - n * abs(h)) > 1e-12 * coord.period:
            h = None  # the wrap-around gap differs from the step: not uniform across the seam
    if boundary == "periodic" and h is None and coord.period is None:
        raise ValueError("boundary='periodic' on a non-uniform coordinate needs period= (the length of one period)")
    if h is not None:  # depends on (n, h) alone: built once (chunked blocks ask for the same ones)
        return _uniform_stencil(n, float(h), order, accuracy, edge_order, boundary, float(fill_value))
    return _stencil(n, coord, None, order, accuracy, edge_order, boundary, fill_value)


@functools.lru_cache(maxsize=512)
def _uniform_stencil(
    n: int, h: float, order: int, accuracy: int, edge_order: int, boundary: str, fill_value: float
) -> AxisStencil:
    return _stencil(n, None, h, order, accuracy, edge_order, boundary, fill_value)


def _stencil(
    n: int,
    coord: AxisCoord | None,
    h: float | None,
    order: int,
    accuracy: int,
    edge_order: int,
    boundary: str,
    fill_value: float,
) -> AxisStencil:
    """The stencil on ``n`` points with step ``h``, or at the positions of ``coord`` when ``h`` is None."""
    x: Any = coord.values if coord is not None else None  # None when uniform (h given)
    periodic = boundary == "periodic"
    uniform = h is not None
    need = minimum_points(order, accuracy, edge_order, boundary, uniform=uniform)
    if n < need:
        raise ValueError(
            f"a derivative of order {order} with accuracy={accuracy}, edge_order={edge_order} and "
            f"boundary={boundary!r} needs at least {need} points along the axis, got {n}"
        )
    r = central_radius(order, accuracy, uniform=uniform)
    offsets = np.arange(-r, r + 1, dtype=np.int64)
    lo, hi = min(r, n), max(n - r, min(r, n))

    if uniform:
        w = uniform_weights(tuple(offsets.tolist()), 0.0, order) / h**order  # type: ignore[operator]
        keep = w != 0
        offsets, weights = offsets[keep], w[keep][:, None].copy()
    else:
        weights = np.zeros((offsets.shape[0], n))
        if hi > lo:
            i = np.arange(lo, hi)
            weights[:, lo:hi] = fornberg_weights(x[i[:, None] + offsets], x[i], order).T

    rows = np.concatenate([np.arange(0, lo), np.arange(hi, n)]).astype(np.int64)
    if periodic:
        idx = rows[:, None] + np.arange(-r, r + 1)
        if uniform:
            w = np.broadcast_to(
                uniform_weights(tuple(range(-r, r + 1)), 0.0, order) / h**order,  # type: ignore[operator]
                idx.shape,
            )
        else:
            nodes = coord.periodic_extension(-r, n + r).values[idx + r]  # type: ignore[union-attr]
            w = fornberg_weights(nodes, x[rows], order)
        return _with_edges(n, lo, hi, offsets, weights, rows, idx % n, w, np.zeros(rows.shape[0]))
    if boundary == "fill":
        empty = np.zeros((rows.shape[0], 0))
        return _with_edges(
            n,
            lo,
            hi,
            offsets,
            weights,
            rows,
            empty.astype(np.int64),
            empty,
            np.full(rows.shape[0], fill_value, dtype=np.float64),
        )
    q = one_sided_width(order, edge_order)
    # as centred as the domain allows; an even-width window leans toward the interior at both
    # ends, so the right end mirrors the left one
    start = np.clip(rows - np.where(rows < lo, (q - 1) // 2, q // 2), 0, n - q)
    idx = start[:, None] + np.arange(q)
    if uniform:
        w = (
            np.stack(
                [
                    uniform_weights(tuple((row_idx - i).tolist()), 0.0, order)
                    for i, row_idx in zip(rows, idx, strict=True)
                ]
            )
            / h**order  # type: ignore[operator]
            if rows.size
            else np.zeros((0, q))
        )
    else:
        w = fornberg_weights(x[idx], x[rows], order)
    return _with_edges(n, lo, hi, offsets, weights, rows, idx, w, np.zeros(rows.shape[0]))


def _with_edges(
    n: int,
    lo: int,
    hi: int,
    offsets: np.ndarray,
    weights: np.ndarray,
    rows: np.ndarray,
    idx: Any,
    w: Any,
    const: np.ndarray,
) -> AxisStencil:
    """Pack per-row (index, weight) tables into compressed rows, dropping zero weights."""
    idx = np.asarray(idx, dtype=np.int64).reshape(rows.shape[0], -1)
    w = np.asarray(w, dtype=np.float64).reshape(rows.shape[0], -1)
    keep = w != 0
    ptr = np.zeros(rows.shape[0] + 1, dtype=np.int64)
    np.cumsum(keep.sum(axis=1), out=ptr[1:])
    return AxisStencil(
        n=n,
        lo=lo,
        hi=hi,
        offsets=np.ascontiguousarray(offsets, dtype=np.int64),
        weights=np.ascontiguousarray(weights, dtype=np.float64),
        edge_rows=rows,
        edge_ptr=ptr,
        edge_idx=idx[keep],
        edge_w=w[keep],
        edge_const=np.asarray(const, dtype=np.float64),
    )
