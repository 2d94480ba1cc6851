"""Finite-difference weights (:mod:`fieldgrad.coefficients`) against published tables and an
independent Vandermonde solve, and the stencils built from them (:mod:`fieldgrad.stencil`)."""

from __future__ import annotations

from fractions import Fraction as F
from math import factorial

import numpy as np
import pytest

from fieldgrad.coefficients import central_radius, fornberg_weights, one_sided_width, uniform_weights
from fieldgrad.coords import axis_coord
from fieldgrad.stencil import build_stencil

# Fornberg (1988), Table 1 (centred) and Table 3 (forward), unit spacing.
CENTRED = {
    (1, 2): [F(-1, 2), 0, F(1, 2)],
    (1, 4): [F(1, 12), F(-2, 3), 0, F(2, 3), F(-1, 12)],
    (1, 6): [F(-1, 60), F(3, 20), F(-3, 4), 0, F(3, 4), F(-3, 20), F(1, 60)],
    (1, 8): [F(1, 280), F(-4, 105), F(1, 5), F(-4, 5), 0, F(4, 5), F(-1, 5), F(4, 105), F(-1, 280)],
    (2, 2): [1, -2, 1],
    (2, 4): [F(-1, 12), F(4, 3), F(-5, 2), F(4, 3), F(-1, 12)],
    (2, 6): [F(1, 90), F(-3, 20), F(3, 2), F(-49, 18), F(3, 2), F(-3, 20), F(1, 90)],
    (2, 8): [F(-1, 560), F(8, 315), F(-1, 5), F(8, 5), F(-205, 72), F(8, 5), F(-1, 5), F(8, 315), F(-1, 560)],
    (3, 2): [F(-1, 2), 1, 0, -1, F(1, 2)],
    (3, 4): [F(1, 8), -1, F(13, 8), 0, F(-13, 8), 1, F(-1, 8)],
    (4, 2): [1, -4, 6, -4, 1],
    (4, 4): [F(-1, 6), 2, F(-13, 2), F(28, 3), F(-13, 2), 2, F(-1, 6)],
}
FORWARD = {
    (1, 1): [-1, 1],
    (1, 2): [F(-3, 2), 2, F(-1, 2)],
    (1, 3): [F(-11, 6), 3, F(-3, 2), F(1, 3)],
    (1, 4): [F(-25, 12), 4, -3, F(4, 3), F(-1, 4)],
    (1, 5): [F(-137, 60), 5, -5, F(10, 3), F(-5, 4), F(1, 5)],
    (1, 6): [F(-49, 20), 6, F(-15, 2), F(20, 3), F(-15, 4), F(6, 5), F(-1, 6)],
    (2, 1): [1, -2, 1],
    (2, 2): [2, -5, 4, -1],
    (2, 3): [F(35, 12), F(-26, 3), F(19, 2), F(-14, 3), F(11, 12)],
    (3, 1): [-1, 3, -3, 1],
}


def vandermonde_weights(nodes: np.ndarray, at: float, order: int) -> np.ndarray:
    """Independent reference: solve sum_j w_j (x_j - at)^k = order! * delta_{k, order}."""
    s = nodes.size
    scale = float(np.abs(nodes - at).max())  # solve on [-1, 1] for a well-conditioned system
    V = np.vander((nodes - at) / scale, s, increasing=True).T
    rhs = np.zeros(s)
    rhs[order] = factorial(order)
    return np.linalg.solve(V, rhs) / scale**order


@pytest.mark.parametrize(("order", "accuracy"), list(CENTRED))
def test_centred_table(order: int, accuracy: int) -> None:
    expected = np.array([float(c) for c in CENTRED[order, accuracy]])
    r = len(expected) // 2
    offsets = np.arange(-r, r + 1, dtype=float)
    np.testing.assert_allclose(fornberg_weights(offsets, np.array(0.0), order), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(uniform_weights(tuple(range(-r, r + 1)), 0.0, order), expected, rtol=0, atol=1e-12)
    assert central_radius(order, accuracy, uniform=True) == r


@pytest.mark.parametrize(("order", "edge_order"), list(FORWARD))
def test_forward_table_and_mirror(order: int, edge_order: int) -> None:
    expected = np.array([float(c) for c in FORWARD[order, edge_order]])
    nodes = np.arange(len(expected), dtype=float)
    np.testing.assert_allclose(fornberg_weights(nodes, np.array(0.0), order), expected, rtol=0, atol=1e-11)
    # backward stencils are the mirror image, with the sign of odd derivatives flipped
    backward = fornberg_weights(-nodes, np.array(0.0), order)
    np.testing.assert_allclose(backward, (-1) ** order * expected, rtol=0, atol=1e-11)
    assert one_sided_width(order, edge_order) == len(expected)


@pytest.mark.parametrize("s", [2, 3, 5, 7, 9, 11])
def test_against_vandermonde_on_random_nodes(s: int) -> None:
    rng = np.random.default_rng(s)
    for _ in range(20):
        nodes = np.sort(np.cumsum(rng.uniform(0.3, 1.7, s)))
        at = rng.uniform(nodes[0], nodes[-1])
        for order in range(s):
            ref = vandermonde_weights(nodes, at, order)
            got = fornberg_weights(nodes, np.array(at), order)
            np.testing.assert_allclose(got, ref, rtol=0, atol=1e-8 * np.abs(ref).max())


@pytest.mark.parametrize("s", [3, 5, 8, 10])
def test_exact_on_polynomials_below_stencil_size(s: int) -> None:
    rng = np.random.default_rng(100 + s)
    nodes = np.cumsum(rng.uniform(0.5, 1.5, s))
    nodes = (nodes - nodes.mean()) / nodes.std()
    at = float(nodes[s // 3])
    for order in range(s):
        w = fornberg_weights(nodes, np.array(at), order)
        for degree in range(s):
            p = np.polynomial.Polynomial(rng.uniform(-1, 1, degree + 1))
            np.testing.assert_allclose(w @ p(nodes), p.deriv(order)(at), rtol=1e-9, atol=1e-9)


def test_weights_sum_rules() -> None:
    """Derivative weights annihilate constants; order-0 weights interpolate (sum to 1, unit vector at a node)."""
    nodes = np.array([-1.3, -0.2, 0.4, 1.1, 2.5])
    for order in range(1, 5):
        assert abs(fornberg_weights(nodes, np.array(0.1), order).sum()) < 1e-10
    assert abs(fornberg_weights(nodes, np.array(0.1), 0).sum() - 1.0) < 1e-13
    np.testing.assert_allclose(fornberg_weights(nodes, np.array(0.4), 0), [0, 0, 1, 0, 0], atol=1e-14)


def test_batched_weights_match_one_by_one() -> None:
    rng = np.random.default_rng(7)
    nodes = np.sort(rng.uniform(0, 10, (4, 6, 5)), axis=-1)
    at = nodes[..., 2] + 0.01
    batch = fornberg_weights(nodes, at, 2)
    assert batch.shape == (4, 6, 5)
    for i in range(4):
        for j in range(6):
            np.testing.assert_allclose(batch[i, j], fornberg_weights(nodes[i, j], at[i, j], 2), rtol=1e-13)
    # broadcasting one node set against many evaluation points
    many = fornberg_weights(np.arange(5.0), np.array([0.0, 1.5, 4.0]), 1)
    for k, a in enumerate([0.0, 1.5, 4.0]):
        np.testing.assert_allclose(many[k], vandermonde_weights(np.arange(5.0), a, 1), atol=1e-12)


def test_scaling_with_spacing() -> None:
    """Weights on nodes h * offsets are the unit weights divided by h**order."""
    offsets = np.array([-2.0, -1.0, 0.0, 1.0, 2.0, 3.0])
    for order in (1, 2, 3):
        unit = fornberg_weights(offsets, np.array(0.0), order)
        for h in (0.01, 0.5, 7.0):
            np.testing.assert_allclose(
                fornberg_weights(h * offsets, np.array(0.0), order), unit / h**order, rtol=1e-10, atol=1e-12 / h**order
            )


def test_invalid_order() -> None:
    with pytest.raises(ValueError, match="order"):
        fornberg_weights(np.arange(3.0), np.array(0.0), 3)
    with pytest.raises(ValueError, match="order"):
        fornberg_weights(np.arange(3.0), np.array(0.0), -1)


def test_uniform_weights_cached_and_read_only() -> None:
    a = uniform_weights((-1, 0, 1), 0.0, 1)
    b = uniform_weights((-1, 0, 1), 0.0, 1)
    assert a is b
    assert not a.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        a[0] = 1.0


@pytest.mark.parametrize("order", [1, 2, 3, 4])
@pytest.mark.parametrize("accuracy", [2, 4, 6, 8])
def test_central_radius_is_smallest_with_formal_accuracy(order: int, accuracy: int) -> None:
    """Uniform: the centred stencil of that radius is exact on x^k for k < order + accuracy, and the one
    a point narrower is not. Non-uniform: at least order + accuracy points."""
    r = central_radius(order, accuracy, uniform=True)
    offsets = np.arange(-r, r + 1, dtype=float)
    w = fornberg_weights(offsets, np.array(0.0), order)
    for k in range(order + accuracy):
        exact = factorial(order) if k == order else 0.0
        assert abs(w @ offsets**k - exact) < 1e-9 * max(1.0, np.abs(w).sum() * r**k)
    if r - 1 >= 0 and 2 * (r - 1) + 1 > order:
        narrow = np.arange(-(r - 1), r, dtype=float)
        wn = fornberg_weights(narrow, np.array(0.0), order)
        errs = [abs(wn @ narrow**k - (factorial(order) if k == order else 0.0)) for k in range(order + accuracy)]
        assert max(errs) > 1e-6
    rn = central_radius(order, accuracy, uniform=False)
    assert 2 * rn + 1 >= order + accuracy
    assert 2 * rn + 1 - (order + accuracy) in (0, 1)


# ---------------------------------------------------------------------------------------------
# stencils along an axis


@pytest.mark.parametrize("boundary", ["one-sided", "periodic", "fill"])
@pytest.mark.parametrize("uniform", [True, False])
def test_dense_stencil_applies_like_the_engine(boundary: str, uniform: bool) -> None:
    from fieldgrad.dispatch import derivative
    from fieldgrad.fd import FiniteDifference
    from fieldgrad.plan import make_plan

    n = 12
    x = np.arange(n) * 0.7 if uniform else np.cumsum(np.random.default_rng(3).uniform(0.5, 1.5, n))
    coord = axis_coord(x, "x", period=None if uniform else float(x[-1] - x[0] + 1.0))
    f = np.random.default_rng(4).standard_normal(n)
    for order, accuracy in [(1, 2), (2, 4), (1, 6)]:
        st = build_stencil(coord, order, accuracy, accuracy, boundary, fill_value=0.0)
        plan = make_plan(FiniteDifference, (order,), boundary={0: boundary}, fill_value=0.0, accuracy=accuracy)
        engine = derivative(f, {0: coord}, {0: order}, plan)
        np.testing.assert_allclose(st.dense() @ f, engine, rtol=1e-12, atol=1e-12)


def test_dense_rows_match_vandermonde() -> None:
    """Every row of a one-sided non-uniform stencil is the Vandermonde solution on its nodes."""
    x = np.cumsum(np.random.default_rng(8).uniform(0.5, 1.5, 10))
    st = build_stencil(axis_coord(x, "x"), 1, 4, 4, "one-sided")
    D = st.dense()
    for i in range(10):
        nz = np.flatnonzero(D[i])
        ref = vandermonde_weights(x[nz], x[i], 1)
        np.testing.assert_allclose(D[i, nz], ref, rtol=1e-8, atol=1e-10)
        assert len(nz) >= 5  # 4th-order accurate first derivative needs 5 points


def _nonuniform_positions() -> list[np.ndarray]:
    """Positions of numpy's non-uniform case, ordinary and not: numpy.gradient checks none of them."""
    rng = np.random.default_rng(8)
    out = []
    for n in (3, 4, 5, 30):
        base = np.cumsum(rng.uniform(0.2, 1.8, n))
        for dtype in (np.float64, np.float32, np.float16):
            x = base.astype(dtype)
            out += [x, x[::-1].copy(), rng.normal(size=n).astype(dtype)]  # increasing, decreasing, unordered
            for k, value in ((1, x[0]), (n // 2, np.nan), (n - 1, np.inf), (0, -0.0), (2, x[0] - 2 * (x[1] - x[0]))):
                y = x.copy()
                y[k] = value  # repeated, NaN, infinite, negative zero, an exactly-zero edge weight
                out.append(y)
    out.append(np.cumsum(rng.uniform(0.2, 1.8, 9)) * 1e300)
    out.append(np.cumsum(rng.uniform(0.2, 1.8, 9)) * 1e-300)
    return out


@pytest.mark.parametrize("edge_order", [1, 2])
def test_numpys_nonuniform_case_built_directly_is_the_general_stencil(edge_order: int) -> None:
    """The first derivative of accuracy 2 with one-sided ends on non-uniform positions is built by a
    direct path (a call on new positions builds one per axis); it must be the stencil the general
    code builds, array for array and bit for bit."""
    from dataclasses import fields

    from fieldgrad import stencil
    from fieldgrad.coords import AxisCoord

    dropped = 0
    for x in _nonuniform_positions():
        coord = AxisCoord(x, None)
        with np.errstate(all="ignore"):
            direct = stencil._stencil(x.shape[0], None, 1, 2, edge_order, "one-sided", np.nan, coord=coord)
            general = stencil._stencil(
                x.shape[0], None, 1, 2, edge_order, "one-sided", np.nan, coord=coord, direct=False
            )
        for field in fields(stencil.AxisStencil):
            a, b = getattr(direct, field.name), getattr(general, field.name)
            if isinstance(b, np.ndarray):
                assert a.dtype == b.dtype and a.shape == b.shape, (field.name, x)
                assert a.tobytes() == b.tobytes(), (field.name, x)
            else:
                assert type(a) is type(b) and a == b, (field.name, x)
        dropped += direct.edge_idx.shape[0] < 2 * (edge_order + 1)
    assert dropped > 0 or edge_order == 1  # exactly-zero edge weights were met, and dropped alike
