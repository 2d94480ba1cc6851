"""The boundary rows of curvilinear grids converge at the order of the stencils, as the interior does.

Operators that differentiate the grid's own coefficients (the Laplacian's ``∂_q(J g^qr)``, the
Christoffel symbols of the Hessian and Jacobian, the grid's direction under grid-relative
components) lost an order on the boundary rows when those coefficients came from the call's own
one-sided stencils. Orders are measured on the boundary rows apart from the interior, on a planar
(ROMS-like) grid and a rotated-pole latitude/longitude grid, against closed forms.
"""

from __future__ import annotations

import numpy as np
import pytest
from analytic_grids import (
    edge_mask,
    planar_case,
    planar_errors,
    planar_results,
    relative_errors,
    results,
    sphere_case,
)
from test_geometry import order_of

from fieldgrad.keywords import split_keywords


def by_rows(errors: dict[str, np.ndarray]) -> dict[tuple[str, str], float]:
    """The largest error of each operator on the boundary rows, and in the interior (the middle 60% of
    the grid along each dim: the same region at every resolution)."""
    shape = next(iter(errors.values())).shape
    inside = np.ones(shape, bool)
    for axis, n in enumerate(shape):
        middle = np.abs(np.arange(n) / (n - 1) - 0.5) <= 0.3
        inside &= np.expand_dims(middle, 1 - axis)
    rows = {"boundary rows": edge_mask(shape, 1), "interior": inside}
    return {(op, where): float(e[m].max()) for op, e in errors.items() for where, m in rows.items()}


def planar_orders(sizes: tuple[int, int], accuracy: int) -> dict[tuple[str, str], float]:
    errs, steps = [], []
    for n in sizes:
        case = planar_case(n)
        errs.append(by_rows(planar_errors(case, planar_results(case, accuracy=accuracy))))
        steps.append(case.step)
    return {k: order_of([errs[0][k], errs[1][k]], steps) for k in errs[0]}


def tilted_orders(steps: tuple[float, float], accuracy: int) -> dict[tuple[str, str], float]:
    errs = []
    for step in steps:  # a grid centred at 30° N, turned by 20°: no pole near it
        case = sphere_case(step, (-5.0, 5.0), (-6.0, 6.0), centre=30.0, roll=20.0, offset=(0.0, 0.0))
        errs.append(by_rows(relative_errors(case, results(case, accuracy=accuracy))))
    return {k: order_of([errs[0][k], errs[1][k]], list(steps)) for k in errs[0]}


# measured on the boundary rows, accuracy 2 / 4 (before: Laplacian, Hessian, grid-relative divergence
# and curl 0.8-1.35 / 2.9-3.7; the others as now):
#   planar (41 -> 81 points):           1.91-2.06 / 3.90-4.4
#   rotated pole (0.5 -> 0.25°, 1 -> 0.5°): 1.91-2.00 / 3.74-4.0 (the least: gradient-based operators,
#   still approaching their order on these grids)
PLANAR = {2: (41, 81), 4: (41, 81)}
TILTED = {2: (0.5, 0.25), 4: (1.0, 0.5)}


@pytest.mark.parametrize("accuracy", [2, 4])
def test_planar_curvilinear_boundary_rows_converge_at_the_order_of_the_stencils(accuracy: int) -> None:
    for key, o in planar_orders(PLANAR[accuracy], accuracy).items():
        assert o > accuracy - 0.3, (key, o)


@pytest.mark.parametrize("accuracy", [2, 4])
def test_latitude_longitude_boundary_rows_converge_at_the_order_of_the_stencils(accuracy: int) -> None:
    for key, o in tilted_orders(TILTED[accuracy], accuracy).items():
        assert o > accuracy - 0.3, (key, o)


def test_earth_relative_gradient_divergence_and_curl_of_a_planar_grid_use_the_calls_own_metric() -> None:
    # their metric terms are not differentiated: G is the coordinates' derivative with the call's
    # stencils, so the gradient of a linear field is exact on any grid, and a uniform flow has no divergence
    case = planar_case(21)
    ds = case.ds
    for accuracy in (2, 4):
        g = (3 * ds.x - 2 * ds.y).grad.gradient(["x", "y"], accuracy=accuracy)
        np.testing.assert_allclose(g.sel(component="x"), 3.0, rtol=1e-12)
        np.testing.assert_allclose(g.sel(component="y"), -2.0, rtol=1e-12)
        uniform = case.wind.copy(data=np.broadcast_to(np.array([1.0, 0.5])[:, None, None], case.wind.shape))
        assert float(abs(uniform.grad.divergence(accuracy=accuracy)).max()) < 1e-12


def test_refined_keywords() -> None:
    from fieldgrad.geometry.terms import refined_keywords

    def options(sizes: list[int], **given: object) -> dict[str, object]:
        kw, _ = split_keywords(given)
        return dict(refined_keywords(kw, sizes).options)

    assert options([40, 40]) == {"accuracy": 4, "edge_order": 4}
    assert options([40, 40], accuracy=6) == {"accuracy": 8, "edge_order": 8}
    assert options([40, 40], accuracy=8) == {"accuracy": 8}  # the finest there is: the call's own
    assert options([40, 40], edge_order=1) == {"accuracy": 4, "edge_order": 4}
    assert options([40, 4]) == {}  # 4 points: no room for the wider stencils
    kw, _ = split_keywords({"method": "polyfit", "window": 5})
    assert refined_keywords(kw, [40, 40]) is kw  # other methods: the call's own
