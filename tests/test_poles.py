"""2-D latitude/longitude grids over a geographic pole: every operator at its order, at and near the pole.

The grids are rotated-pole grids whose rotated equator runs over the North Pole
(:func:`analytic_grids.sphere_case`): the pole lies inside a cell (at the same place in its cell
on every refinement), or is a grid point. East and north turn through 360° around it, but the
grid is as smooth there as anywhere: errors are measured against closed forms in bands of
distance from the pole, and their orders of convergence must be the stencils' own.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import xarray as xr
from analytic_grids import R, edge_mask, relative_errors, results, sphere_case
from test_geometry import order_of

import fieldgrad

BANDS = {  # degrees from the pole
    "within 1°": (0.0, 1.0),
    "1-2°": (1.0, 2.0),
    "2-5°": (2.0, 5.0),
    "beyond 5°": (5.0, 90.0),
}


SMALL = {"rlat": (-3.0, 7.0), "rlon": (-4.0, 6.0)}  # a 10° square around the pole, for the default run


def band_errors(step: float, accuracy: int, **grid: object) -> dict[tuple[str, str], float]:
    """The largest relative error of every operator in every band (and on the edge rows, and everywhere)."""
    return dict(_band_errors(step, accuracy, tuple(sorted(grid.items()))))


@functools.lru_cache(maxsize=16)
def _band_errors(
    step: float, accuracy: int, grid: tuple[tuple[str, object], ...]
) -> tuple[tuple[tuple[str, str], float], ...]:
    case = sphere_case(step, **dict(grid))  # type: ignore[arg-type]
    errors = relative_errors(case, results(case, accuracy=accuracy))
    masks = {name: (case.pole_distance >= lo) & (case.pole_distance < hi) for name, (lo, hi) in BANDS.items()}
    masks["edge rows"] = edge_mask(case.pole_distance.shape, 1)
    masks["everywhere"] = np.ones(case.pole_distance.shape, bool)
    at_pole = case.pole_distance == 0.0
    out = {}
    for op, e in errors.items():
        assert np.isfinite(e[~at_pole]).all(), (op, "NaN or infinite away from a pole point")
        for band, mask in masks.items():
            out[op, band] = float(np.nanmax(np.where(mask, e, np.nan)))
    return tuple(out.items())


def orders(steps: tuple[float, ...], accuracy: int, **grid: object) -> dict[tuple[str, str], list[float]]:
    errs = [band_errors(s, accuracy, **grid) for s in steps]
    return {
        k: [order_of([errs[i][k], errs[i + 1][k]], list(steps[i : i + 2])) for i in range(len(steps) - 1)]
        for k in errs[0]
    }


# (steps, least order): accuracy 4 reaches round-off (~1e-10 relative for the second derivatives)
# below 0.5°, so it is measured on coarser grids, where the near-pole bands are not quite asymptotic
FAST = {2: ((0.5, 0.25), 1.75), 4: ((1.0, 0.5), 3.5)}
SLOW = {2: ((0.5, 0.25, 0.125), 1.8), 4: ((2.0 / 3.0, 1.0 / 3.0), 3.6)}


@pytest.mark.parametrize("accuracy", [2, 4])
def test_every_operator_converges_at_its_order_with_the_pole_between_grid_points(accuracy: int) -> None:
    # measured at accuracy 2 / 4: 1.87-2.00 / 3.65-4.00 in every band, edge rows included (before:
    # 0 to -1 within 1° of the pole, errors of 10-700 times the field's scale)
    steps, least = FAST[accuracy]
    for key, o in orders(steps, accuracy, **SMALL).items():
        assert min(o) > least, (key, o)


@pytest.mark.slow
@pytest.mark.parametrize("accuracy", [2, 4])
def test_every_operator_converges_at_its_order_with_the_pole_between_grid_points_fine(accuracy: int) -> None:
    steps, least = SLOW[accuracy]
    for key, o in orders(steps, accuracy).items():
        assert min(o) > least, (key, o)


def test_vorticity_within_a_degree_of_the_pole_is_as_accurate_as_anywhere() -> None:
    errs = band_errors(0.25, 2, **SMALL)
    assert errs["curl", "within 1°"] <= errs["curl", "everywhere"]
    assert errs["curl", "within 1°"] < 1e-5  # relative to 1e-5 s-1: the 0.25° grid was off by 24 times ζ
    errs = band_errors(0.5, 4, **SMALL)
    assert errs["curl", "within 1°"] < 1e-8


@pytest.mark.parametrize("accuracy", [2, 4])
def test_a_pole_on_a_grid_point(accuracy: int) -> None:
    steps = (1.0, 0.5)
    at_pole: dict[str, list[float]] = {}
    for step in steps:
        case = sphere_case(step, offset=(0.0, 0.0), **SMALL)  # type: ignore[arg-type]
        pole = case.pole_distance == 0.0
        assert pole.sum() == 1 and case.ds.lat.values[pole][0] == 90.0
        got = results(case, accuracy=accuracy)
        errors = relative_errors(case, got)
        for op, value in got.items():
            # vectors and what is read along them (directional, advection) have no east there: NaN at that
            # point only; divergence, curl (the winds read in the frame of the point's longitude) and the
            # Laplacian are scalars, finite everywhere
            scalar = op in ("lap", "div", "curl", "div_grid", "curl_grid")
            assert np.isfinite(value[~pole]).all(), op
            assert np.isfinite(value[pole]).all() if scalar else np.isnan(value[pole]).all(), op
            if scalar:
                at_pole.setdefault(op, []).append(float(errors[op][pole][0]))
    assert errors["curl"][case.pole_distance < 1.0].max() < (1e-5 if accuracy == 2 else 1e-8)
    for op, e in at_pole.items():  # at the pole point itself
        assert e[1] < 1e-10 or order_of(e, list(steps)) > accuracy - 0.3, (op, e)  # (or exact to round-off)


def test_a_pole_on_a_grid_point_converges_nearby() -> None:
    for key, o in orders((0.5, 0.25), 2, offset=(0.0, 0.0), **SMALL).items():
        if not np.isnan(o).any():
            assert min(o) > 1.75, (key, o)


def test_grid_relative_and_earth_relative_winds_give_the_same_vorticity_over_the_pole() -> None:
    case = sphere_case(0.5)
    kw = {"geometry": "sphere", "accuracy": 4}
    earth = case.wind.grad.curl(**kw)
    grid = case.grid_wind.grad.curl(frame="grid", **kw)
    np.testing.assert_allclose(grid, earth, rtol=0, atol=1e-9 * 1e-5)
    g_grid = case.ds.f.grad.gradient(frame="grid", **kw)
    assert list(g_grid.component.values) == ["rlat", "rlon"]
    # the gradient turned to the grid and read back as a grid-relative vector: the same divergence
    lap = g_grid.grad.divergence(frame="grid", **kw)
    np.testing.assert_allclose(lap, case.ds.f.grad.gradient(**kw).grad.divergence(**kw), rtol=1e-9, atol=1e-20)
    np.testing.assert_allclose(lap * R**2, -6 * case.exact["f"], atol=1e-5)


def test_chunked_equals_in_memory_over_the_pole() -> None:
    case = sphere_case(1.0)
    ds = case.ds
    chunks = {"rlat": 11, "rlon": 9}
    lazy = ds.chunk(chunks)
    lazy = lazy.assign_coords({c: lazy[c].chunk(chunks) for c in ("lat", "lon")})
    U = case.wind
    Ul = xr.concat([lazy.v, lazy.u], "component").assign_coords(component=["lat", "lon"])
    kw = {"geometry": "sphere", "accuracy": 4}
    pairs = [
        (ds.f.grad.gradient(**kw), lazy.f.grad.gradient(**kw)),
        (ds.f.grad.laplacian(**kw), lazy.f.grad.laplacian(**kw)),
        (U.grad.curl(**kw), Ul.grad.curl(**kw)),
        (U.grad.jacobian(**kw), Ul.grad.jacobian(**kw)),
    ]
    for mem, chunked in pairs:
        assert chunked.chunks is not None
        np.testing.assert_allclose(chunked.values, mem.values, rtol=1e-12, atol=1e-12 * float(abs(mem).max()))


def test_the_fold_check_accepts_cells_around_a_pole_and_refuses_folds() -> None:
    from fieldgrad.geometry.terms import check_cells_on_sphere

    on_pole = sphere_case(1.0, offset=(0.0, 0.0)).ds  # refused before as folding at the pole
    assert np.isfinite(on_pole.f.grad.laplacian(geometry="sphere")).all()
    folded = sphere_case(1.0).ds
    lat, lon = folded.lat.values.copy(), folded.lon.values.copy()
    lat[:, 12:], lon[:, 12:] = lat[:, 12:][:, ::-1], lon[:, 12:][:, ::-1]  # the grid turns back at column 12
    folded = folded.assign_coords(
        lat=(folded.lat.dims, lat, folded.lat.attrs), lon=(folded.lon.dims, lon, folded.lon.attrs)
    )
    with pytest.raises(ValueError, match=r"folds over itself|degenerate"):
        folded.f.grad.gradient(geometry="sphere")
    # the check itself: a cell turned over is named, a pole row's cells (an edge of no length) are not
    up = np.stack([*np.meshgrid(np.arange(4.0), np.arange(5.0), indexing="ij"), np.full((4, 5), 10.0)])
    up /= np.sqrt((up**2).sum(0))
    check_cells_on_sphere(up, ["lat", "lon"], ["j", "i"])
    up[:, 2, 3], up[:, 2, 4] = up[:, 2, 4].copy(), up[:, 2, 3].copy()
    with pytest.raises(ValueError, match=r"cell at index \(\d, \d\)"):
        check_cells_on_sphere(up, ["lat", "lon"], ["j", "i"])


def test_a_regular_grid_stored_in_2d_keeps_nan_on_its_pole_rows_only() -> None:
    lat = np.linspace(90.0, -90.0, 37)
    lon = np.arange(0.0, 360.0, 5.0)
    LAT, LON = np.meshgrid(lat, lon, indexing="ij")
    phi, lam = np.deg2rad(LAT), np.deg2rad(LON)
    data = {"f": np.cos(phi) * np.sin(lam), "u": -np.sin(phi) * np.cos(lam), "v": np.sin(lam)}
    two_d = xr.Dataset(
        {k: (("j", "i"), v) for k, v in data.items()},
        coords={
            "lat": (("j", "i"), LAT, {"units": "degrees_north"}),
            "lon": (("j", "i"), LON, {"units": "degrees_east"}),
        },
    )
    one_d = xr.Dataset(
        {k: (("lat", "lon"), v) for k, v in data.items()},
        coords={"lat": ("lat", lat, {"units": "degrees_north"}), "lon": ("lon", lon, {"units": "degrees_east"})},
    )
    inner = slice(1, -1)
    for ds in (two_d, one_d):
        kw = {"geometry": "sphere", **({"boundary": {"i": "periodic"}} if ds is two_d else {})}
        U = xr.concat([ds.v, ds.u], "component").assign_coords(component=["lat", "lon"])
        out = {
            "gradient": ds.f.grad.gradient(**kw),
            "jacobian": U.grad.jacobian(**kw),
            "curl": U.grad.curl(**kw),
            "laplacian": ds.f.grad.laplacian(**kw),
        }
        for name, r in out.items():
            # the Laplacian differentiates J g^qr, NaN on a pole row of the 2-D grid: NaN on the next rows too
            rows = r.isel({r.dims[-2]: slice(2, -2) if name == "laplacian" else inner})
            assert np.isfinite(rows).all(), name
            if ds is two_d or name in ("gradient", "jacobian"):  # (the 1-D grid has polar caps for scalars)
                assert r.isel({r.dims[-2]: [0, -1]}).isnull().all(), name
        if ds is two_d:
            kept = {k: v.isel({v.dims[-2]: slice(3, -3)}).values for k, v in out.items()}
    for name, r in out.items():  # the 1-D grid's numbers within 60° of the equator, to truncation error
        ref = r.isel({r.dims[-2]: slice(3, -3)}).values
        assert np.abs(kept[name] - ref).max() < 0.03 * np.abs(ref).max(), name


def test_the_grid_of_a_call_on_a_2d_grid_is_reused() -> None:
    case = sphere_case(1.0)
    grid = fieldgrad.Grid(case.ds, geometry="sphere")
    kw = {"accuracy": 4}
    a = case.wind.grad.curl(grid=grid, **kw)
    b = case.wind.grad.curl(grid=grid, **kw)
    xr.testing.assert_identical(a, b)
    np.testing.assert_array_equal(a, case.wind.grad.curl(geometry="sphere", **kw))


def test_longitude_stored_in_another_dim_order_gives_the_same_numbers() -> None:
    case = sphere_case(1.0)
    turned = case.ds.assign_coords(lon=case.ds.lon.transpose("rlon", "rlat"))
    U = xr.concat([turned.v, turned.u], "component").assign_coords(component=["lat", "lon"])
    kw = {"geometry": "sphere"}
    np.testing.assert_allclose(U.grad.curl(**kw), case.wind.grad.curl(**kw), rtol=1e-13)
    np.testing.assert_allclose(turned.f.grad.laplacian(**kw), case.ds.f.grad.laplacian(**kw), rtol=1e-13)
