"""Stencils along one axis: which points and weights give the derivative at every position.

An :class:`AxisStencil` is the complete recipe for one derivative along one axis of ``n``
points. It has two parts, both plain arrays so that a compiled kernel can apply them:

* a **band**: rows ``lo <= i < hi`` use the same offsets ``offsets`` (relative to ``i``) with
  weights ``weights[:, i]`` (per-point, non-uniform axes) or ``weights[:, 0]`` (uniform axes),
  their sum divided by ``band_div``;
* **edge rows**: every other row ``edge_rows[r]`` is ``(edge_const[r] + sum(edge_w[p] *
  f[edge_idx[p]])) / edge_div[r]`` over ``p`` in ``edge_ptr[r]:edge_ptr[r+1]`` (compressed sparse
  rows). These hold the one-sided boundary stencils, periodic wrap-around, and ``fill`` values.

The arithmetic (one definition, implemented by both kernels of :mod:`fieldgrad.kernels`):
products ``w * f`` summed left to right in stencil order, then one division. Uniform axes use
exact integer weights and divide once by ``D * h**order`` (``D`` their common denominator: 2 for
the 3-point first derivative, as :func:`numpy.gradient`'s ``(f[2:] - f[:-2]) / (2 * dx)``);
one-sided uniform windows with integer weights too (``(f[1] - f[0]) / dx``), others weights
``(n / D) / h**order`` (numpy's ``-1.5 / dx`` for ``edge_order=2``). Non-uniform 3-point first
derivatives use numpy's own ``a, b, c`` formulas from the two steps; other non-uniform stencils
Fornberg's weights. Weights are computed in the positions' dtype (float64, or float16/float32
from the numpy drop-in, as numpy computes a float32 spacing's weights in float32), then applied
in float64. So accuracy-2 first derivatives are numpy's bit for bit.

Terms with an exactly-zero weight are dropped, so a NaN spoils exactly the points whose stencil
touches it (the centre of a uniform first derivative is not touched, as in ``numpy.gradient``).
On an axis uniform only to round-off (a :class:`~fieldgrad.coords.RoundoffStep`, e.g.
``np.linspace``) they are kept, as zero terms: on its exact positions those weights are not zero
(numpy and xarray use their non-uniform formula there, which multiplies every point), so a NaN
spoils the same points as theirs while the values are the uniform stencil's.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .coefficients import (
    VALID_ACCURACIES,
    central_radius,
    exact_uniform_weights,
    fornberg_weights,
    one_sided_width,
    three_point_first_derivative,
)
from .conventions import BOUNDARIES
from .coords import AxisCoord, RoundoffStep, is_shared
from .reuse import IdentityCache

__all__ = ["AxisStencil", "build_stencil", "BOUNDARIES", "minimum_points", "stencil_from_rows"]

_FLOAT64 = np.dtype(np.float64)


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
    band_div: float = 1.0  # the band's weighted sums are divided by this
    edge_div: np.ndarray | None = None  # (k,) float64, each edge row's divisor; None: ones

    def __post_init__(self) -> None:
        if self.edge_div is None:
            object.__setattr__(self, "edge_div", np.ones(self.edge_rows.shape[0]))

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
        edge_div = self.edge_div
        assert edge_div is not None  # set by __post_init__
        for k, off in enumerate(self.offsets):
            i = np.arange(self.lo, self.hi)
            d[i, i + off] = self.weights[k, i if not self.uniform else 0] / self.band_div
        for r, row in enumerate(self.edge_rows):
            p = slice(self.edge_ptr[r], self.edge_ptr[r + 1])
            np.add.at(d[row], self.edge_idx[p], self.edge_w[p] / edge_div[r])
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
    n = coord.size
    h = coord.spacing
    if boundary == "periodic" and coord.period is not None and h is not None:
        if abs(coord.period - n * abs(h)) > 1e-12 * coord.period:
            h = None  # the wrap-around gap differs from the step: not uniform across the seam
    if boundary == "periodic" and h is None and coord.period is None:
        raise ValueError("boundary='periodic' on a non-uniform coordinate needs period= (the length of one period)")
    if h is not None:  # depends on (n, h) alone: built once (chunked blocks ask for the same ones)
        try:
            dtype = coord.values.dtype
            if dtype is _FLOAT64 and type(h) is not RoundoffStep:  # the common case, keyed as it always was
                return _uniform_stencil(n, float(h), order, accuracy, edge_order, boundary, float(fill_value))
            return _uniform_stencil(
                n, float(h), order, accuracy, edge_order, boundary, float(fill_value), dtype, type(h) is RoundoffStep
            )
        except TypeError:  # an unhashable option: say which
            check_options(order, accuracy, edge_order, boundary)
            raise
    check_options(order, accuracy, edge_order, boundary)
    if is_shared(coord.values):  # positions that never change (a dimension coordinate's): built once
        return _stencil_of_shared(coord, order, accuracy, edge_order, boundary, float(fill_value))
    return _stencil(n, None, order, accuracy, edge_order, boundary, fill_value, coord=coord)


_STENCILS = IdentityCache(size=128)  # _stencil_of_shared's: the stencils per array of positions


def _stencil_of_shared(
    coord: AxisCoord, order: int, accuracy: int, edge_order: int, boundary: str, fill_value: float
) -> AxisStencil:
    """The stencil on a non-uniform axis whose positions never change (:func:`fieldgrad.coords.share`),
    built once per array of positions, period and options: its weights cost far more than applying it
    to a small field."""
    key = (coord.period, order, accuracy, edge_order, boundary, np.float64(fill_value).tobytes())
    st = _STENCILS.get((coord.values,), key)
    if st is None:
        st = _STENCILS.put(
            (coord.values,),
            key,
            _stencil(coord.size, None, order, accuracy, edge_order, boundary, fill_value, coord=coord),
        )
    return st


def _stencil(
    n: int,
    h: float | None,
    order: int,
    accuracy: int,
    edge_order: int,
    boundary: str,
    fill_value: float,
    dtype: np.dtype = _FLOAT64,
    roundoff: bool = False,
    coord: AxisCoord | None = None,
    direct: bool = True,
) -> AxisStencil:
    """The stencil on ``n`` points with step ``h``, or at the positions of ``coord`` when ``h`` is None.

    ``dtype``: what the weights of a uniform stencil are computed in, with ``h`` of that dtype
    (float16 or float32 positions: as :func:`numpy.gradient` computes them for such a step).
    Non-uniform weights are computed in the positions' own dtype. ``roundoff``: the axis is uniform
    only to round-off (:class:`~fieldgrad.coords.RoundoffStep`), so the uniform stencil keeps its
    exactly-zero weights as terms. ``direct``: numpy's own non-uniform case is built by
    :func:`_numpy_nonuniform_stencil` (False: by the general code below, the same stencil).
    """
    check_options(order, accuracy, edge_order, boundary)
    if direct and h is None and order == 1 and accuracy == 2 and boundary == "one-sided" and coord is not None:
        if n >= 3 and (edge_order == 1 or edge_order == 2):
            return _numpy_nonuniform_stencil(coord.values, edge_order)
    if h is not None and dtype.kind == "f" and dtype.itemsize < 8:
        h = dtype.type(h)  # exact: the step came from this dtype
    x = coord.values if coord is not None else None
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

    if h is not None:  # uniform
        ints, den = exact_uniform_weights(tuple(offsets.tolist()), order)
        w = np.array(ints, dtype=np.float64)
        keep = (w != 0) | roundoff
        offsets, weights = offsets[keep], w[keep][:, None].copy()
        band_div = float(den * h**order)
    else:
        assert x is not None  # non-uniform: the positions of coord
        band_div = 1.0
        weights = np.zeros((offsets.shape[0], n))
        if hi > lo:
            i = np.arange(lo, hi)
            weights[:, lo:hi] = _nonuniform_weights(x[i[:, None] + offsets], x[i], order, r).T

    rows = np.concatenate([np.arange(0, lo), np.arange(hi, n)]).astype(np.int64)
    if periodic:  # the band's stencil, wrapped: the same arithmetic as the band
        idx = rows[:, None] + np.arange(-r, r + 1)
        if uniform:
            w = np.broadcast_to(np.array(ints, dtype=np.float64), idx.shape)
            div = np.full(rows.shape[0], band_div)
        else:
            assert coord is not None and x is not None  # non-uniform: the positions of coord
            nodes = coord.periodic_extension(-r, n + r).values[idx + r]
            w = _nonuniform_weights(nodes, x[rows], order, r)
            div = np.ones(rows.shape[0])
        # a non-uniform band keeps its zero weights as terms (0 * NaN is NaN, as numpy's a*f[:-2] + b*f[1:-1]
        # + c*f[2:]): so do its wrapped rows
        return _with_edges(
            n,
            lo,
            hi,
            offsets,
            weights,
            rows,
            idx % n,
            w,
            np.zeros(rows.shape[0]),
            band_div,
            div,
            roundoff or not uniform,
        )
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
            band_div,
            np.ones(rows.shape[0]),
        )
    q = one_sided_width(order, edge_order)
    # as centred as the domain allows; an even-width window leans toward the interior at both
    # ends, so the right end mirrors the left one
    start = np.clip(rows - np.where(rows < lo, (q - 1) // 2, q // 2), 0, n - q)
    idx = start[:, None] + np.arange(q)
    div = np.ones(rows.shape[0])
    if h is not None:  # uniform
        w = np.zeros((rows.shape[0], q))
        for k, (row, row_idx) in enumerate(zip(rows, idx, strict=True)):
            ints, den = exact_uniform_weights(tuple((row_idx - row).tolist()), order)
            if den == 1:  # integer weights, one division: numpy's (f[1] - f[0]) / dx
                w[k], div[k] = ints, float(h**order)
            else:  # numpy's -1.5 / dx, 2 / dx, -0.5 / dx (in the step's dtype, as numpy: NEP 50)
                w[k] = [float((m / den) / h**order) for m in ints]
    else:
        assert x is not None  # non-uniform: the positions of coord
        if order == 1 and q == 2:  # numpy's (f[1] - f[0]) / (x[1] - x[0])
            w = np.broadcast_to(np.array([-1.0, 1.0]), idx.shape)
            div = x[idx[:, 1]] - x[idx[:, 0]]
        elif order == 1 and q == 3:  # numpy's edge_order=2 formulas (and its interior's, for a middle row)
            w = (
                np.stack(
                    [
                        three_point_first_derivative(x[a], x[b], x[c], int(row - a))
                        for row, (a, b, c) in zip(rows, idx, strict=True)
                    ]
                )
                if rows.size
                else np.zeros((0, 3))
            )
        else:
            w = fornberg_weights(x[idx], x[rows], order)
    return _with_edges(n, lo, hi, offsets, weights, rows, idx, w, np.zeros(rows.shape[0]), band_div, div, roundoff)


def _numpy_nonuniform_stencil(x: np.ndarray, edge_order: int) -> AxisStencil:
    """The first derivative of accuracy 2 with one-sided ends at non-uniform positions ``x`` (at least
    3 of them): :func:`numpy.gradient`'s own case, built directly.

    The same stencil as :func:`_stencil`'s general code gives, array for array and bit for bit (the
    same formulas on the same values: :func:`~fieldgrad.coefficients.three_point_first_derivative` on
    the positions' slices instead of a table of their indices, the two ends as numbers), in about a
    third of its time: a call on positions never seen before builds one per axis.
    """
    n = x.shape[0]
    weights = np.zeros((3, n))
    weights[:, 1 : n - 1] = three_point_first_derivative(x[: n - 2], x[1 : n - 1], x[2:], 1).T
    rows = np.array([0, n - 1], dtype=np.int64)
    if edge_order == 1:  # numpy's (f[1] - f[0]) / (x[1] - x[0]) and its last point's
        idx = np.array([[0, 1], [n - 2, n - 1]], dtype=np.int64)
        w = np.array([[-1.0, 1.0], [-1.0, 1.0]])
        div = np.array([x[1] - x[0], x[n - 1] - x[n - 2]], dtype=np.float64)
    else:  # numpy's edge_order=2 formulas at both ends
        idx = np.array([[0, 1, 2], [n - 3, n - 2, n - 1]], dtype=np.int64)
        first = three_point_first_derivative(x[0], x[1], x[2], 0)
        last = three_point_first_derivative(x[n - 3], x[n - 2], x[n - 1], 2)
        w = np.array([first, last], dtype=np.float64)
        div = np.ones(2)
    keep = w != 0  # as _with_edges: exactly-zero terms dropped
    if keep.all():
        ptr = np.array([0, w.shape[1], 2 * w.shape[1]], dtype=np.int64)
    else:
        ptr = np.array([0, keep[0].sum(), keep.sum()], dtype=np.int64)
    return AxisStencil(
        n=n,
        lo=1,
        hi=n - 1,
        offsets=np.array([-1, 0, 1], dtype=np.int64),
        weights=weights,
        edge_rows=rows,
        edge_ptr=ptr,
        edge_idx=idx[keep],
        edge_w=w[keep],
        edge_const=np.zeros(2),
        band_div=1.0,
        edge_div=div,
    )


#: uniform stencils depend on (n, h) and the options alone: built once (chunked blocks ask for the same
#: ones); typed: True is not taken for 1, and is checked on the miss
_uniform_stencil = functools.lru_cache(maxsize=512, typed=True)(_stencil)


def _nonuniform_weights(nodes: np.ndarray, at: np.ndarray, order: int, r: int) -> np.ndarray:
    """Weights of centred stencils on non-uniform nodes ``(..., 2r+1)``: numpy's formulas for the
    3-point first derivative, Fornberg's otherwise."""
    if order == 1 and r == 1:
        return three_point_first_derivative(nodes[..., 0], nodes[..., 1], nodes[..., 2], 1)
    return fornberg_weights(nodes, at, order)


def _with_edges(
    n: int,
    lo: int,
    hi: int,
    offsets: np.ndarray,
    weights: np.ndarray,
    rows: np.ndarray,
    idx: np.ndarray,
    w: np.ndarray,
    const: np.ndarray,
    band_div: float,
    edge_div: np.ndarray,
    keep_zeros: bool = False,
) -> AxisStencil:
    """Pack per-row (index, weight) tables into compressed rows, dropping zero weights (unless ``keep_zeros``)."""
    idx = np.asarray(idx, dtype=np.int64).reshape(rows.shape[0], -1)
    w = np.asarray(w, dtype=np.float64).reshape(rows.shape[0], -1)
    keep = (w != 0) | keep_zeros
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
        band_div=float(band_div),
        edge_div=np.asarray(edge_div, dtype=np.float64),
    )


def stencil_from_rows(n: int, rows: list[list[tuple[int, float]]]) -> AxisStencil:
    """A stencil from its rows: ``rows[i]`` lists the ``(point, weight)`` terms of the derivative at ``i``.

    Convenient for methods whose stencils are irregular or small; regular ones are faster
    written as a band (equal offsets for a range of rows) plus edge rows.

    Examples
    --------
    >>> s = stencil_from_rows(3, [[(0, -1.0), (1, 1.0)], [(0, -0.5), (2, 0.5)], [(1, -1.0), (2, 1.0)]])
    >>> s.dense()
    array([[-1. ,  1. ,  0. ],
           [-0.5,  0. ,  0.5],
           [ 0. , -1. ,  1. ]])
    """
    if len(rows) != n:
        raise ValueError(f"a stencil on {n} points needs {n} rows, got {len(rows)}")
    width = max((len(r) for r in rows), default=0)
    idx = np.zeros((n, width), dtype=np.int64)
    w = np.zeros((n, width))
    for i, row in enumerate(rows):
        for k, (j, weight) in enumerate(row):
            if not 0 <= j < n:
                raise ValueError(f"row {i} uses point {j}, outside the axis of {n} points")
            idx[i, k], w[i, k] = j, weight
    empty = np.zeros(0, dtype=np.int64)
    return _with_edges(
        n, 0, 0, empty, np.zeros((0, 1)), np.arange(n, dtype=np.int64), idx, w, np.zeros(n), 1.0, np.ones(n)
    )
