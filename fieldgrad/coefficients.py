"""Finite-difference stencil coefficients.

This module only computes *weights*: which neighbouring points a stencil uses and with what
coefficients. Applying them along an axis lives in :mod:`fieldgrad.kernels`, and the choice of
stencil at every point of an axis (interior, boundaries, periodic wrap) in :mod:`fieldgrad.stencil`.

Weights come from Fornberg's algorithm [1]_, vectorised over many evaluation points so that the
per-point weights of a non-uniform axis are computed in one pass of small NumPy operations.

References
----------
.. [1] B. Fornberg, "Generation of finite difference formulas on arbitrarily spaced grids",
   Math. Comp. 51 (1988), 699-706.
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache

import numpy as np

__all__ = [
    "fornberg_weights",
    "uniform_weights",
    "exact_uniform_weights",
    "three_point_first_derivative",
    "central_radius",
    "one_sided_width",
]

VALID_ACCURACIES = (2, 4, 6, 8)


def fornberg_weights(nodes: np.ndarray, at: np.ndarray, order: int) -> np.ndarray:
    """Weights of the ``order``-th derivative at ``at`` from values at ``nodes``.

    Parameters
    ----------
    nodes : ndarray, shape (..., s)
        Positions of the ``s`` stencil points, one stencil per leading index.
    at : ndarray, shape (...)
        Where the derivative is evaluated, one point per stencil.
    order : int
        Derivative order, ``0 <= order < s``.

    Returns
    -------
    ndarray, shape (..., s)
        ``sum(w * f(nodes), axis=-1)`` approximates ``f^(order)(at)``; exact for polynomials
        of degree < s.

    Examples
    --------
    >>> fornberg_weights(np.array([-1.0, 0.0, 1.0]), np.array(0.0), 1)
    array([-0.5,  0. ,  0.5])
    >>> fornberg_weights(np.array([0.0, 1.0, 3.0]), np.array(0.0), 2)
    array([ 0.66666667, -1.        ,  0.33333333])
    """
    nodes = np.asarray(nodes, dtype=np.float64)
    at = np.asarray(at, dtype=np.float64)
    s = nodes.shape[-1]
    if not 0 <= order < s:
        raise ValueError(f"order must be in [0, {s - 1}] for a {s}-point stencil, got {order}")
    batch = np.broadcast_shapes(nodes.shape[:-1], at.shape)
    nodes = np.broadcast_to(nodes, batch + (s,))
    at = np.broadcast_to(at, batch)
    # c[j, k]: weight of node j for the k-th derivative, built up node by node.
    c = np.zeros((s, order + 1) + batch)
    c[0, 0] = 1.0
    c1 = np.ones(batch)
    c4 = nodes[..., 0] - at
    for i in range(1, s):
        mn = min(i, order)
        c2 = np.ones(batch)
        c5 = c4
        c4 = nodes[..., i] - at
        for j in range(i):
            c3 = nodes[..., i] - nodes[..., j]
            c2 = c2 * c3
            if j == i - 1:
                for k in range(mn, 0, -1):
                    c[i, k] = c1 * (k * c[i - 1, k - 1] - c5 * c[i - 1, k]) / c2
                c[i, 0] = -c1 * c5 * c[i - 1, 0] / c2
            for k in range(mn, 0, -1):
                c[j, k] = (c4 * c[j, k] - k * c[j, k - 1]) / c3
            c[j, 0] = c4 * c[j, 0] / c3
        c1 = c2
    return np.moveaxis(c[:, order], 0, -1)


@lru_cache(maxsize=256)
def uniform_weights(offsets: tuple[float, ...], at: float, order: int) -> np.ndarray:
    """Weights on a unit-spaced stencil, computed once per (offsets, point, order).

    Divide by ``h**order`` for spacing ``h``. The returned array is read-only because it is
    shared by every caller.

    Examples
    --------
    >>> uniform_weights((-1, 0, 1), 0.0, 2)
    array([ 1., -2.,  1.])
    """
    w = fornberg_weights(np.asarray(offsets, dtype=np.float64), np.asarray(at), order)
    w.setflags(write=False)
    return w


@lru_cache(maxsize=256)
def exact_uniform_weights(offsets: tuple[int, ...], order: int) -> tuple[tuple[int, ...], int]:
    """The weights on a unit-spaced stencil as integers over one common denominator, exactly.

    Fornberg's recurrence in rational arithmetic: ``weights[k] / denominator`` is the exact
    weight of offset ``offsets[k]`` for the ``order``-th derivative at 0 (``denominator > 0``, the
    least common one). Applying the integer weights and dividing the sum once by
    ``denominator * h**order`` rounds once where per-term weights ``w / h**order`` round every
    term (and it is how :func:`numpy.gradient` computes its uniform interior).

    Examples
    --------
    >>> exact_uniform_weights((-1, 0, 1), 1)
    ((-1, 0, 1), 2)
    >>> exact_uniform_weights((-2, -1, 0, 1, 2), 1)
    ((1, -8, 0, 8, -1), 12)
    >>> exact_uniform_weights((0, 1, 2), 1)
    ((-3, 4, -1), 2)
    """
    s = len(offsets)
    if not 0 <= order < s:
        raise ValueError(f"order must be in [0, {s - 1}] for a {s}-point stencil, got {order}")
    x = [Fraction(o) for o in offsets]
    c = [[Fraction(0)] * (order + 1) for _ in range(s)]
    c[0][0] = Fraction(1)
    c1, c4 = Fraction(1), x[0]
    for i in range(1, s):
        mn = min(i, order)
        c2, c5, c4 = Fraction(1), c4, x[i]
        for j in range(i):
            c3 = x[i] - x[j]
            c2 = c2 * c3
            if j == i - 1:
                for k in range(mn, 0, -1):
                    c[i][k] = c1 * (k * c[i - 1][k - 1] - c5 * c[i - 1][k]) / c2
                c[i][0] = -c1 * c5 * c[i - 1][0] / c2
            for k in range(mn, 0, -1):
                c[j][k] = (c4 * c[j][k] - k * c[j][k - 1]) / c3
            c[j][0] = c4 * c[j][0] / c3
        c1 = c2
    w = [c[j][order] for j in range(s)]
    den = math.lcm(*(f.denominator for f in w))
    return tuple(int(f * den) for f in w), den


def three_point_first_derivative(x0: np.ndarray, x1: np.ndarray, x2: np.ndarray, at: int) -> np.ndarray:
    """Weights of the first derivative at node ``at`` (0, 1 or 2) of three nodes, by numpy's formulas.

    The same expressions, in the same order of operations, as :func:`numpy.gradient` (its
    non-uniform interior, and its ``edge_order=2`` ends), so that a stencil built from them
    gives numpy's results bit for bit. Vectorised over the nodes; returns shape ``(..., 3)``.

    Examples
    --------
    >>> three_point_first_derivative(np.array(0.0), np.array(1.0), np.array(3.0), 1)
    array([-0.66666667,  0.5       ,  0.16666667])
    >>> fornberg_weights(np.array([0.0, 1.0, 3.0]), np.array(1.0), 1)
    array([-0.66666667,  0.5       ,  0.16666667])
    """
    dx1, dx2 = x1 - x0, x2 - x1
    if at == 1:  # numpy's interior
        a = -(dx2) / (dx1 * (dx1 + dx2))
        b = (dx2 - dx1) / (dx1 * dx2)
        c = dx1 / (dx2 * (dx1 + dx2))
    elif at == 0:  # numpy's first point, edge_order=2
        a = -(2.0 * dx1 + dx2) / (dx1 * (dx1 + dx2))
        b = (dx1 + dx2) / (dx1 * dx2)
        c = -dx1 / (dx2 * (dx1 + dx2))
    else:  # numpy's last point, edge_order=2
        a = (dx2) / (dx1 * (dx1 + dx2))
        b = -(dx2 + dx1) / (dx1 * dx2)
        c = (2.0 * dx2 + dx1) / (dx2 * (dx1 + dx2))
    return np.stack(np.broadcast_arrays(a, b, c), axis=-1)


def central_radius(order: int, accuracy: int, *, uniform: bool) -> int:
    """Half-width of the centred stencil of formal ``accuracy`` for the ``order``-th derivative.

    On a uniform grid a symmetric stencil gains one order for even derivatives, so
    ``2*floor((order+1)/2) - 1 + accuracy`` points suffice. On a non-uniform grid there is no
    such cancellation: the smallest symmetric stencil with ``order + accuracy`` points is used,
    so the formal accuracy holds on any grid (even-order derivatives do not lose an order).

    Examples
    --------
    >>> central_radius(1, 2, uniform=True), central_radius(2, 2, uniform=True)
    (1, 1)
    >>> central_radius(2, 2, uniform=False)
    2
    """
    if uniform:
        points = 2 * ((order + 1) // 2) - 1 + accuracy
    else:
        points = order + accuracy
        points += 1 - points % 2  # round up to odd
    return points // 2


def one_sided_width(order: int, edge_order: int) -> int:
    """Number of points of a boundary stencil of formal accuracy ``edge_order``.

    Examples
    --------
    >>> one_sided_width(1, 1), one_sided_width(1, 2), one_sided_width(2, 2)
    (2, 3, 4)
    """
    return order + edge_order
