"""The polyfit method against scipy.signal.savgol_filter, np.polyfit and exact polynomial derivatives."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy.signal import savgol_filter

import fieldgrad
from fieldgrad.plan import make_plan
from fieldgrad.plugin import AxisCoord, axis_coord, result_dtype
from fieldgrad_polyfit import PolyFit, polyfit_stencil

RNG = np.random.default_rng(20240601)


def reference_polyfit(f: np.ndarray, x: np.ndarray, order: int, window: int, degree: int) -> np.ndarray:
    """One np.polyfit per point (the definition, slow): centred windows, end windows at the edges."""
    n, h = len(x), window // 2
    out = np.empty(n)
    for i in range(n):
        a = min(max(i - h, 0), n - window)
        xs = x[a : a + window]
        p = np.polyfit(xs - x[i], f[a : a + window], degree)
        out[i] = np.polyder(p, order)[-1] if order <= degree else 0.0
    return out


def test_entry_point_resolves_to_polyfit() -> None:
    assert "polyfit" in fieldgrad.available_methods()
    assert isinstance(fieldgrad.get_method("polyfit"), PolyFit)


@pytest.mark.parametrize(("window", "degree"), [(21, 3), (5, 2), (7, 4), (11, 1), (3, 2), (9, 0)])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_equals_savgol_filter_on_uniform_grids(window: int, degree: int, axis: int) -> None:
    f = RNG.normal(size=(60, 45)) if axis == 0 else RNG.normal(size=(7, 60))
    dx = 0.37
    coord = 1.5 + dx * np.arange(f.shape[axis])
    for order in range(1, degree + 1):
        got = PolyFit().derivative(f, AxisCoord(coord, dx), axis=axis, order=order, window=window, degree=degree)
        want = savgol_filter(f, window, degree, deriv=order, delta=dx, mode="interp", axis=axis)
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10 * np.abs(want).max())


def test_decreasing_uniform_coordinate() -> None:
    f = RNG.normal(size=50)
    coord = -0.5 * np.arange(50)
    got = PolyFit().derivative(f, axis_coord(coord), axis=0, order=1, window=9, degree=3)
    want = savgol_filter(f, 9, 3, deriv=1, delta=-0.5, mode="interp")
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("window", "degree"), [(7, 3), (9, 2), (5, 4)])
def test_nonuniform_matches_pointwise_np_polyfit(window: int, degree: int) -> None:
    x = np.cumsum(RNG.uniform(0.2, 2.0, 40))
    f = np.sin(x / 3) + 0.1 * RNG.normal(size=x.size)
    for order in range(1, degree + 1):
        got = PolyFit().derivative(f, AxisCoord(x, None), axis=0, order=order, window=window, degree=degree)
        want = reference_polyfit(f, x, order, window, degree)
        np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-8 * np.abs(want).max())


@pytest.mark.parametrize("degree", [1, 2, 3, 5])
def test_nonuniform_exact_for_polynomials_of_the_degree(degree: int) -> None:
    x = np.sort(RNG.uniform(-3, 3, 60))
    coefs = RNG.normal(size=degree + 1)
    poly = np.polynomial.Polynomial(coefs)
    for order in range(1, degree + 1):
        got = PolyFit().derivative(poly(x), axis_coord(x), axis=0, order=order, window=11, degree=degree)
        want = poly.deriv(order)(x)
        np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-7 * max(1.0, np.abs(want).max()))


def test_uniform_and_nonuniform_paths_agree() -> None:
    x = 0.1 * np.arange(80)
    f = RNG.normal(size=(3, 80))
    a = PolyFit().derivative(f, AxisCoord(x, 0.1), axis=1, order=2, window=13, degree=4)
    b = PolyFit().derivative(f, AxisCoord(x, None), axis=1, order=2, window=13, degree=4)
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9 * np.abs(a).max())


def test_stencil_rows_are_local() -> None:
    s = polyfit_stencil(np.cumsum(RNG.uniform(0.5, 1.5, 30)), 1, 7, 3)
    d = s.dense()
    for i in range(30):
        nz = np.flatnonzero(d[i])
        a = min(max(i - 3, 0), 30 - 7)
        assert nz.min() >= a and nz.max() < a + 7


@pytest.mark.parametrize(
    ("options", "order", "match"),
    [
        ({"window": 8}, 1, "odd"),
        ({"window": 5, "degree": 5}, 1, "less than window"),
        ({"degree": 2}, 3, "orders up to 2"),
        ({"window": 2.5}, 1, "window must be an integer"),
        ({"degree": -1}, 1, "degree must be an integer"),
        ({"smoothing": 1}, 1, r"unexpected keyword 'smoothing'.*options of method 'polyfit': window, degree"),
    ],
)
def test_invalid_options(options: dict, order: int, match: str) -> None:
    da = xr.DataArray(np.arange(50.0), dims="x")
    with pytest.raises(ValueError, match=match):
        da.grad.partial("x", order=order, method="polyfit", **options)


def test_too_few_points() -> None:
    da = xr.DataArray(np.arange(10.0), dims="x")
    with pytest.raises(ValueError, match="at least 21 points"):
        da.grad.partial("x", method="polyfit")
    np.testing.assert_allclose(da.grad.partial("x", method="polyfit", window=9).values, 1.0)


def test_halo_and_min_points() -> None:
    m, x = PolyFit(), axis_coord(np.arange(50.0))
    assert m.halo(x, 1) == 10 and m.halo(x, 2, window=7) == 3
    assert make_plan(m, (1,), nan_policy="omit", window=7).halo(x, 0, 1) == 6  # a run's edge window
    assert m.min_points(x, 1, window=7) == 7


# ------------------------------------------------------------------ through the xarray API


def field(nonuniform: bool = False) -> xr.DataArray:
    x = np.linspace(0.0, 4.0, 90)
    if nonuniform:
        x = x + 0.02 * np.sin(7 * x)
    y = np.arange(33) * 0.25
    data = np.sin(x)[:, None] * np.cos(y)[None, :] + 0.01 * RNG.normal(size=(90, 33))
    return xr.DataArray(data, dims=("x", "y"), coords={"x": x, "y": y}, name="T", attrs={"units": "K"})


def test_partial_equals_savgol_with_labels() -> None:
    da = field()
    da.x.attrs["units"] = "m"
    out = da.grad.partial("x", method="polyfit", window=15, degree=3)
    dx = float(da.x[1] - da.x[0])
    want = savgol_filter(da.values, 15, 3, deriv=1, delta=dx, mode="interp", axis=0)
    np.testing.assert_allclose(out.values, want, rtol=1e-9, atol=1e-9)
    assert out.name == "dT_dx" and out.attrs["units"] == "K m-1" and out.dims == da.dims


@pytest.mark.parametrize("nonuniform", [False, True])
@pytest.mark.parametrize("chunks", [{"x": 1}, {"x": 7, "y": 5}, {"x": (40, 3, 47)}, {"x": 89}])
def test_chunked_equals_in_memory(nonuniform: bool, chunks: dict) -> None:
    da = field(nonuniform)
    kw = dict(method="polyfit", window=11, degree=3)
    for call in (
        lambda a: a.grad.partial("x", **kw),
        lambda a: a.grad.partial("x", order=2, **kw),
        lambda a: a.grad.partial({"x": 1, "y": 1}, **kw),
        lambda a: a.grad.gradient(**kw),
    ):
        mem = call(da)
        lazy = call(da.chunk(chunks))
        assert lazy.chunks is not None
        np.testing.assert_allclose(lazy.values, mem.values, rtol=1e-12, atol=1e-12 * np.abs(mem.values).max())


def test_periodic_equals_savgol_wrap() -> None:
    n = 64
    x = np.arange(n) * (2 * np.pi / n)
    f = np.sin(3 * x) + 0.1 * RNG.normal(size=n)
    da = xr.DataArray(f, dims="x", coords={"x": x})
    got = da.grad.partial("x", method="polyfit", window=9, degree=2, boundary="periodic")
    want = savgol_filter(f, 9, 2, deriv=1, delta=x[1], mode="wrap")
    np.testing.assert_allclose(got.values, want, rtol=1e-9, atol=1e-9)
    lazy = da.chunk(x=5).grad.partial("x", method="polyfit", window=9, degree=2, boundary="periodic")
    np.testing.assert_allclose(lazy.values, want, rtol=1e-9, atol=1e-9)


def test_fill_boundary() -> None:
    f = RNG.normal(size=40)
    da = xr.DataArray(f, dims="x")
    got = da.grad.partial("x", method="polyfit", window=7, degree=3, boundary="fill", fill_value=-99.0).values
    want = savgol_filter(f, 7, 3, deriv=1, mode="interp")
    assert (got[:3] == -99).all() and (got[-3:] == -99).all()
    np.testing.assert_allclose(got[3:-3], want[3:-3], rtol=1e-10, atol=1e-12)


def test_nan_policy() -> None:
    da = field()
    da[30, 4] = np.nan
    da[31:50, 9] = np.nan
    prop = da.grad.partial("x", method="polyfit", window=11)
    spoiled = np.isnan(prop.values[:, 4])
    assert spoiled[25:36].all() and not spoiled[:25].any() and not spoiled[36:].any()
    omit = da.grad.partial("x", method="polyfit", window=11, nan_policy="omit")
    col = da.values[:, 4]
    np.testing.assert_allclose(
        omit.values[:30, 4],
        PolyFit().derivative(col[:30], axis_coord(da.x.values[:30]), axis=0, order=1, window=11, degree=3),
    )
    assert np.isnan(omit.values[30, 4]) and np.isnan(omit.values[31:50, 9]).all()
    for chunks in ({"x": 6}, {"x": 1}, {"x": (30, 1, 59)}):
        lazy = da.chunk(chunks).grad.partial("x", method="polyfit", window=11, nan_policy="omit")
        np.testing.assert_allclose(lazy.values, omit.values, rtol=1e-12, atol=1e-12, equal_nan=True)


def test_dataset_forms() -> None:
    da = field()
    ds = xr.Dataset({"T": da, "c": ("z", [1.0, 2.0])})
    out = ds.grad.partial("x", method="polyfit", window=9)
    xr.testing.assert_identical(out["c"], ds["c"])
    np.testing.assert_allclose(out["T"].values, da.grad.partial("x", method="polyfit", window=9).values)
    g = ds.chunk(x=10).grad.gradient(["x", "y"], method="polyfit", window=9)
    np.testing.assert_allclose(
        g["T"].values, da.grad.gradient(["x", "y"], method="polyfit", window=9).values, rtol=1e-12, atol=1e-12
    )


@pytest.mark.parametrize("dtype", [np.float32, np.int16, np.complex128])
def test_dtypes(dtype: type) -> None:
    f = (np.arange(30) ** 2).astype(dtype)
    da = xr.DataArray(f, dims="x")
    out = da.grad.partial("x", method="polyfit", window=5, degree=2)
    assert out.dtype == result_dtype(np.dtype(dtype))
    np.testing.assert_allclose(out.values.real, 2 * np.arange(30), rtol=1e-4, atol=1e-3)
