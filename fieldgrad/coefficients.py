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

from functools import lru_cache

import numpy as np

__all__ = [
    "fornberg_weights",
    "uniform_weights",
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
