"""Accuracy of ``method="fd"`` against analytic derivatives (SPEC §2, issue 2).

* stencils of accuracy p (and edge_order p) are exact on polynomials of degree <= p at every
  point, boundaries included, on uniform and irregular grids; a degree that is one too high is
  not (the test can fail);
* the measured order of convergence on a smooth function is the nominal one;
* true second and mixed derivatives; periodic and fill boundaries.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from numpy.polynomial import Polynomial

import fieldgrad  # noqa: F401  (registers .grad)

ACCURACIES = (2, 4, 6, 8)


def irregular(n: int, seed: int = 0) -> np.ndarray:
    """Random-ish strictly increasing positions, steps between 0.5 and 1.5."""
    return np.cumsum(np.random.default_rng(seed).uniform(0.5, 1.5, n))


def grid(kind: str, n: int, seed: int = 0) -> np.ndarray:
    if kind == "uniform":
        return np.linspace(0.0, n - 1.0, n) + 0.5
    if kind == "irregular":
        return irregular(n, seed)
    if kind == "decreasing":
        return irregular(n, seed)[::-1].copy()
    raise ValueError(kind)


def d1(values: np.ndarray, x: np.ndarray, order: int = 1, **kw: object) -> np.ndarray:
    da = xr.DataArray(values, dims="x", coords={"x": x})
    return da.grad.partial("x", order=order, **kw).values


def poly_case(degree: int, x: np.ndarray, order: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A random polynomial of exactly ``degree`` in the scaled variable t = (x - c) / L, and its
    ``order``-th x-derivative, both O(1) on the grid."""
    rng = np.random.default_rng(seed)
    coef = rng.uniform(-1, 1, degree + 1)
    coef[-1] = 1.0 if coef[-1] >= 0 else -1.0
    c, L = 0.5 * (x.min() + x.max()), 0.5 * (x.max() - x.min())
    P = Polynomial(coef)
    t = (x - c) / L
    return P(t), P.deriv(order)(t) / L**order if order <= degree else np.zeros_like(x)


# ---------------------------------------------------------------------------------------------
# exactness on polynomials


@pytest.mark.parametrize("kind", ["uniform", "irregular", "decreasing"])
@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("p", ACCURACIES)
def test_exact_on_polynomials_of_degree_p(p: int, order: int, kind: str) -> None:
    x = grid(kind, 25, seed=p + order)
    for degree in range(order, p + 1):
        f, exact = poly_case(degree, x, order, seed=10 * degree + p)
        out = d1(f, x, order, accuracy=p, edge_order=p)
        scale = max(np.abs(exact).max(), np.abs(f).max() / abs(x[1] - x[0]) ** order)
        np.testing.assert_allclose(
            out, exact, rtol=0, atol=1e-10 * scale, err_msg=f"degree {degree}, accuracy {p}, order {order}, {kind}"
        )


@pytest.mark.parametrize("kind", ["uniform", "irregular"])
@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("p", ACCURACIES)
def test_not_exact_on_higher_degree(p: int, order: int, kind: str) -> None:
    """Negative control: one degree more than any stencil is exact for leaves a visible error."""
    x = grid(kind, 25, seed=p + order)
    degree = p + 1 if order == 1 else p + 2  # even-order symmetric stencils gain a degree
    f, exact = poly_case(degree, x, order, seed=3)
    err = np.abs(d1(f, x, order, accuracy=p, edge_order=p) - exact).max()
    assert err > 1e-6 * np.abs(exact).max()


@pytest.mark.parametrize("p", ACCURACIES)
def test_edge_order_lower_than_accuracy(p: int) -> None:
    """edge_order=e: exact for degree <= e everywhere; for degree <= p at points with a centred stencil."""
    x = grid("uniform", 30)
    r = p // 2  # uniform first derivative: p + 1 points
    for e in (1, 2):
        f, exact = poly_case(e, x, 1, seed=e)
        np.testing.assert_allclose(d1(f, x, accuracy=p, edge_order=e), exact, atol=1e-10)
        f, exact = poly_case(p, x, 1, seed=p)
        out = d1(f, x, accuracy=p, edge_order=e)
        np.testing.assert_allclose(out[r:-r], exact[r:-r], atol=1e-10)
        if e < p:
            assert np.abs(out - exact).max() > 1e-6


@pytest.mark.parametrize("p", ACCURACIES)
def test_exact_on_polynomials_2d_each_axis(p: int) -> None:
    """Along one axis of a 2-D field, the other axis is carried through untouched."""
    x, y = grid("irregular", 20, seed=1), grid("uniform", 13)
    fx, dfx = poly_case(p, x, 1, seed=1)
    _, dgy = poly_case(p, y, 2, seed=2)
    gy_val, _ = poly_case(p, y, 1, seed=2)
    da = xr.DataArray(np.outer(fx, gy_val), dims=("x", "y"), coords={"x": x, "y": y})
    np.testing.assert_allclose(da.grad.partial("x", accuracy=p).values, np.outer(dfx, gy_val), atol=1e-9)
    np.testing.assert_allclose(da.grad.partial("y", order=2, accuracy=p).values, np.outer(fx, dgy), atol=1e-9)


# ---------------------------------------------------------------------------------------------
# measured order of convergence


def mapped(xi: np.ndarray) -> np.ndarray:
    """A smooth monotonic map of [0, 1] onto [0, 2] with steps varying by a factor ~2.3."""
    return 2.0 * (xi + 0.2 * np.sin(2 * np.pi * xi) / (2 * np.pi))


K = 5.0  # f = sin(K x) on [0, 2]: large enough that the finest grids stay above round-off


def convergence_order(p: int, order: int, uniform: bool, ns: tuple[int, ...], interior: bool) -> float:
    """Slope of log(max error) against log(h), fitted over the resolutions ``ns``."""
    errors, steps = [], []
    for n in ns:
        xi = np.linspace(0.0, 1.0, n)
        x = 2.0 * xi if uniform else mapped(xi)
        out = d1(np.sin(K * x), x, order, accuracy=p, edge_order=p)
        exact = K * np.cos(K * x) if order == 1 else -K * K * np.sin(K * x)
        err = np.abs(out - exact)
        if interior:
            err = err[(xi > 0.25) & (xi < 0.75)]
        errors.append(err.max())
        steps.append(1.0 / (n - 1))
    assert min(errors) > 1e-12, "round-off dominates: coarser grids needed"
    return float(np.polyfit(np.log(steps), np.log(errors), 1)[0])


FIRST_NS = {2: (61, 91, 136, 204), 4: (61, 91, 136, 204), 6: (61, 91, 136, 204), 8: (41, 61, 91, 136)}
SECOND_NS = {2: (61, 91, 136, 204), 4: (61, 91, 136, 204), 6: (31, 41, 61, 91), 8: (21, 31, 41, 61)}


@pytest.mark.parametrize("interior", [True, False], ids=["interior", "all-points"])
@pytest.mark.parametrize("uniform", [True, False], ids=["uniform", "mapped"])
@pytest.mark.parametrize("p", ACCURACIES)
def test_convergence_order_first_derivative(p: int, uniform: bool, interior: bool) -> None:
    rate = convergence_order(p, 1, uniform, FIRST_NS[p], interior)
    assert abs(rate - p) <= 0.3, rate


@pytest.mark.parametrize("uniform", [True, False], ids=["uniform", "mapped"])
@pytest.mark.parametrize("p", ACCURACIES)
def test_convergence_order_second_derivative(p: int, uniform: bool) -> None:
    """Interior order: p on uniform grids. On a smooth non-uniform grid the centred second-derivative
    stencil has p + 3 points (SPEC: accuracy holds on any grid) and converges at least at order p
    (it super-converges to about p + 2)."""
    rate = convergence_order(p, 2, uniform, SECOND_NS[p], interior=True)
    if uniform:
        assert abs(rate - p) <= 0.3, rate
    else:
        assert rate >= p - 0.3, rate


# ---------------------------------------------------------------------------------------------
# true second, higher and mixed derivatives


def test_true_second_derivative_of_nyquist_mode() -> None:
    f = np.array([1.0, -1.0] * 6)
    x = np.arange(f.size, dtype=float)
    out = d1(f, x, 2)
    np.testing.assert_array_equal(out[1:-1], -4.0 * f[1:-1])
    nested = np.gradient(np.gradient(f))
    np.testing.assert_array_equal(nested[2:-2], 0.0)  # what nesting first derivatives gives
    for p in ACCURACIES:  # every accuracy sees the mode (the exact symbol at the Nyquist frequency is -pi^2)
        r = p // 2
        interior = d1(f, x, 2, accuracy=p)[r:-r]
        assert np.all(np.sign(interior) == -np.sign(f[r:-r]))
        assert np.all(np.abs(interior) >= 4.0 - 1e-12)


def test_second_derivative_order_keyword_equals_list_spec() -> None:
    x = irregular(15)
    da = xr.DataArray(np.sin(x), dims="x", coords={"x": x})
    a = da.grad.partial("x", order=2, accuracy=4)
    b = da.grad.partial(["x", "x"], accuracy=4)
    c = da.grad.partial({"x": 2}, accuracy=4)
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.values, c.values)


MIXED_CASES = [
    # (exponents of x, y, z), derivative orders, accuracy
    ((2, 3, 0), {"x": 1, "y": 1}, 4),
    ((3, 2, 0), {"x": 2, "y": 1}, 4),
    ((1, 1, 0), {"x": 1, "y": 1}, 2),
    ((2, 2, 0), {"x": 1, "y": 1}, 2),
    ((4, 3, 0), {"x": 3, "y": 2}, 4),
    ((1, 2, 2), {"x": 1, "y": 1, "z": 1}, 2),
    ((5, 6, 1), {"y": 2, "x": 1}, 6),
    ((7, 8, 2), {"x": 1, "y": 1, "z": 2}, 8),
]


@pytest.mark.parametrize("kind", ["uniform", "irregular"])
@pytest.mark.parametrize(("powers", "orders", "p"), MIXED_CASES)
def test_mixed_derivative_of_monomials(powers: tuple[int, int, int], orders: dict[str, int], p: int, kind: str) -> None:
    coords = {d: grid(kind, n, seed=k) / n for k, (d, n) in enumerate(zip("xyz", (14, 15, 12), strict=True))}
    X, Y, Z = np.meshgrid(*coords.values(), indexing="ij")
    f = X ** powers[0] * Y ** powers[1] * Z ** powers[2]
    exact = np.ones_like(f)
    for var, dim, pw in zip((X, Y, Z), "xyz", powers, strict=True):
        o = orders.get(dim, 0)
        falling = float(np.prod(np.arange(pw - o + 1, pw + 1))) if o <= pw else 0.0  # pw!/(pw-o)!
        exact = exact * falling * var ** max(pw - o, 0)
    da = xr.DataArray(f, dims=("x", "y", "z"), coords=coords)
    out = da.grad.partial(orders, accuracy=p)
    np.testing.assert_allclose(out.values, exact, rtol=0, atol=1e-8 * max(1.0, np.abs(exact).max()))


def test_mixed_derivatives_commute() -> None:
    rng = np.random.default_rng(4)
    x, y = irregular(12, seed=1), irregular(10, seed=2)
    da = xr.DataArray(rng.standard_normal((12, 10)), dims=("x", "y"), coords={"x": x, "y": y})
    for p in ACCURACIES:
        a = da.grad.partial({"x": 1, "y": 2}, accuracy=p).values
        b = da.grad.partial({"y": 2, "x": 1}, accuracy=p).values
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10 * np.abs(a).max())
        # the tensor-product stencil equals differentiating along one axis, then the other
        c = da.grad.partial("x", accuracy=p).grad.partial("y", order=2, accuracy=p).values
        np.testing.assert_allclose(a, c, rtol=0, atol=1e-10 * np.abs(a).max())


def test_order_zero_is_identity_in_float() -> None:
    da = xr.DataArray(np.arange(6, dtype=np.int16), dims="x")
    out = da.grad.partial({"x": 0})
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out.values, np.arange(6.0))


# ---------------------------------------------------------------------------------------------
# periodic boundary


def periodic_grid(n: int, uniform: bool, L: float = 2 * np.pi) -> np.ndarray:
    xi = np.arange(n) / n
    if uniform:
        return L * xi
    return L * (xi + 0.25 * np.sin(2 * np.pi * xi) / (2 * np.pi))  # maps [0, 1) onto [0, L) periodically


def periodic_f(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    f = np.sin(x) + 0.5 * np.cos(3 * x)
    return f, np.cos(x) - 1.5 * np.sin(3 * x), -np.sin(x) - 4.5 * np.cos(3 * x)


@pytest.mark.parametrize("n", [8, 16])
def test_periodic_accuracy_2_equals_roll_formula(n: int) -> None:
    x = periodic_grid(n, True)
    h = x[1] - x[0]
    f = np.random.default_rng(n).standard_normal(n)
    first = d1(f, x, 1, boundary="periodic", accuracy=2)
    second = d1(f, x, 2, boundary="periodic", accuracy=2)
    np.testing.assert_allclose(first, (np.roll(f, -1) - np.roll(f, 1)) / (2 * h), rtol=0, atol=1e-13 / h)
    np.testing.assert_allclose(second, (np.roll(f, -1) - 2 * f + np.roll(f, 1)) / h**2, rtol=0, atol=1e-12 / h**2)
    # fourth order: the classic 5-point formula
    fourth = d1(f, x, 1, boundary="periodic", accuracy=4)
    ref = (-np.roll(f, -2) + 8 * np.roll(f, -1) - 8 * np.roll(f, 1) + np.roll(f, 2)) / (12 * h)
    np.testing.assert_allclose(fourth, ref, rtol=0, atol=1e-12 / h)


@pytest.mark.parametrize("uniform", [True, False], ids=["uniform", "mapped"])
@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("p", ACCURACIES)
def test_periodic_convergence(p: int, order: int, uniform: bool) -> None:
    """Max error over all points (there are no boundaries) converges at the nominal order."""
    ns = {2: (32, 48, 72, 108), 4: (32, 48, 72, 108), 6: (32, 48, 72, 108), 8: (48, 64, 96, 128)}[p]
    errors = []
    for n in ns:
        x = periodic_grid(n, uniform)
        f, df, d2f = periodic_f(x)
        kw = {} if uniform else {"period": 2 * np.pi}
        out = d1(f, x, order, boundary="periodic", accuracy=p, **kw)
        errors.append(np.abs(out - (df if order == 1 else d2f)).max())
    assert min(errors) > 1e-11
    rate = float(np.polyfit(np.log(1.0 / np.array(ns)), np.log(errors), 1)[0])
    if uniform or order == 1:
        assert abs(rate - p) <= 0.3, (rate, errors)
    else:
        assert rate >= p - 0.3, (rate, errors)


def test_periodic_uniform_with_matching_period_and_decreasing() -> None:
    x = periodic_grid(20, True)
    f, _, _ = periodic_f(x)
    a = d1(f, x, boundary="periodic", accuracy=4)
    b = d1(f, x, boundary="periodic", accuracy=4, period=2 * np.pi)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    # the same samples listed in decreasing order give the same derivative values
    c = d1(f[::-1], x[::-1], boundary="periodic", accuracy=4)
    np.testing.assert_allclose(c[::-1], a, rtol=0, atol=1e-12)
    xn = periodic_grid(20, False)
    fn, _, _ = periodic_f(xn)
    d = d1(fn[::-1], xn[::-1], boundary="periodic", accuracy=4, period=2 * np.pi)
    e = d1(fn, xn, boundary="periodic", accuracy=4, period=2 * np.pi)
    np.testing.assert_allclose(d[::-1], e, rtol=0, atol=1e-12)


def test_periodic_shift_equivariance() -> None:
    """Rolling the samples (and the coordinate, shifted by the period) rolls the derivative."""
    x = periodic_grid(24, False)
    f = np.random.default_rng(5).standard_normal(24)
    base = d1(f, x, 1, boundary="periodic", accuracy=6, period=2 * np.pi)
    k = 7
    xs = np.concatenate([x[k:], x[:k] + 2 * np.pi])
    rolled = d1(np.roll(f, -k), xs, 1, boundary="periodic", accuracy=6, period=2 * np.pi)
    np.testing.assert_allclose(rolled, np.roll(base, -k), rtol=0, atol=1e-10 * np.abs(base).max())


# ---------------------------------------------------------------------------------------------
# fill boundary


@pytest.mark.parametrize("kind", ["uniform", "irregular"])
@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("p", ACCURACIES)
@pytest.mark.parametrize("fill_value", [np.nan, -999.0, 0.0])
def test_fill_boundary(p: int, order: int, kind: str, fill_value: float) -> None:
    x = grid(kind, 20, seed=p)
    f = np.sin(x / 3.0)
    # points lacking a centred stencil: the half-width of the centred stencil of accuracy p.
    # uniform: p + 1 points for orders 1 and 2; non-uniform: order + p points rounded up to odd
    points = p + 1 if kind == "uniform" else order + p + (1 - (order + p) % 2)
    r = points // 2
    kw = {} if np.isnan(fill_value) else {"fill_value": fill_value}
    out = d1(f, x, order, boundary="fill", accuracy=p, **kw)
    ref = d1(f, x, order, boundary="one-sided", accuracy=p)
    edges = np.r_[np.arange(r), np.arange(20 - r, 20)]
    np.testing.assert_array_equal(out[edges], np.full(2 * r, fill_value))
    np.testing.assert_array_equal(out[r:-r], ref[r:-r])
    assert np.isfinite(out[r:-r]).all()


def test_fill_per_dim_boundary_mapping_nan() -> None:
    x, y = np.arange(6.0), np.arange(7.0)
    da = xr.DataArray(np.add.outer(x**2, y**3), dims=("x", "y"), coords={"x": x, "y": y})
    out = da.grad.partial({"x": 1, "y": 1}, boundary={"x": "fill", "y": "one-sided"})
    assert np.isnan(out.values[[0, -1]]).all()
    np.testing.assert_allclose(out.values[1:-1], 0.0, atol=1e-12)  # d2/dxdy of x^2 + y^3 is 0


@pytest.mark.parametrize("first", ["x", "y"])
def test_fill_value_in_mixed_derivative(first: str) -> None:
    """Points without a centred stencil along a fill axis hold fill_value in the mixed derivative,
    whichever axis is differentiated first."""
    x, y = np.arange(6.0), np.arange(7.0)
    da = xr.DataArray(np.add.outer(x**2, y**3), dims=("x", "y"), coords={"x": x, "y": y})
    orders = {"x": 1, "y": 1} if first == "x" else {"y": 1, "x": 1}
    out = da.grad.partial(orders, boundary={"x": "fill", "y": "one-sided"}, fill_value=5.0)
    np.testing.assert_array_equal(out.values[[0, -1]], 5.0)
    np.testing.assert_allclose(out.values[1:-1], 0.0, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# large arrays (threaded kernels), every axis position


@pytest.mark.parametrize("p", ACCURACIES)
@pytest.mark.parametrize("order", [1, 2])
def test_exact_on_polynomials_large_3d(p: int, order: int) -> None:
    """A sum of degree-p polynomials in x, y, z on a 70 x 66 x 64 grid (above the threading threshold):
    each partial derivative is exact at every point, for the first, middle and last axis."""
    sizes = {"x": 70, "y": 66, "z": 64}
    coords = {"x": grid("irregular", 70, seed=1), "y": grid("uniform", 66), "z": grid("decreasing", 64, seed=2)}
    parts = {d: poly_case(p, coords[d], order, seed=k) for k, d in enumerate(sizes)}
    shape = tuple(sizes.values())
    f = np.zeros(shape)
    for k, d in enumerate(sizes):
        f += parts[d][0].reshape([-1 if j == k else 1 for j in range(3)])
    da = xr.DataArray(f, dims=tuple(sizes), coords=coords)
    for k, d in enumerate(sizes):
        exact = np.broadcast_to(parts[d][1].reshape([-1 if j == k else 1 for j in range(3)]), shape)
        out = da.grad.partial(d, order=order, accuracy=p).values
        np.testing.assert_allclose(out, exact, rtol=0, atol=1e-9 * max(1.0, np.abs(exact).max()), err_msg=d)
    if order == 1:
        g = da.grad.gradient(accuracy=p)
        for k, d in enumerate(sizes):
            exact = np.broadcast_to(parts[d][1].reshape([-1 if j == k else 1 for j in range(3)]), shape)
            np.testing.assert_allclose(
                g.sel(component=d).values, exact, rtol=0, atol=1e-9 * max(1.0, np.abs(exact).max())
            )
