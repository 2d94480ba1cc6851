"""``.grad.partial`` against :meth:`xarray.DataArray.differentiate` on the same coordinates (SPEC §2, §4).

With ``accuracy=2`` and ``edge_order`` 1 or 2 fieldgrad's stencils are xarray's (which are
numpy's), so the numbers agree to round-off, for datetime and cftime coordinates too.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import xarray as xr

import fieldgrad  # noqa: F401  (registers .grad)

cftime = pytest.importorskip("cftime")

RTOL = 1e-13


def assert_values_close(actual: Any, expected: Any, rtol: float = RTOL) -> None:
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape
    finite = np.isfinite(expected)
    scale = float(np.max(np.abs(expected[finite]))) if finite.any() else 1.0
    np.testing.assert_allclose(actual, expected, rtol=0, atol=rtol * max(scale, 1e-300), equal_nan=True)


def assert_parity(ours: xr.DataArray, ref: xr.DataArray, rtol: float = RTOL) -> None:
    """Same dims, coords, dtype and values (names and attrs are fieldgrad's own, tested elsewhere)."""
    assert ours.dims == ref.dims
    assert ours.dtype == ref.dtype
    xr.testing.assert_identical(ours.coords.to_dataset(), ref.coords.to_dataset())
    assert_values_close(ours.values, ref.values, rtol)


def field(coords: dict[str, np.ndarray], seed: int = 0, name: str = "V") -> xr.DataArray:
    rng = np.random.default_rng(seed)
    shape = tuple(len(c) for c in coords.values())
    grids = np.meshgrid(*[np.linspace(0, 1, n) for n in shape], indexing="ij")
    data = sum(np.cos((k + 2.1) * g) for k, g in enumerate(grids)) + 0.05 * rng.standard_normal(shape)
    return xr.DataArray(data, dims=tuple(coords), coords=coords, name=name)


def nonuniform(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.uniform(0.1, 2.0, n))


COORDS = {
    "arange": lambda n: np.arange(n, dtype=float),
    "int": lambda n: np.arange(n) * 3,
    "linspace": lambda n: np.linspace(-1.0, 2.0, n),
    "nonuniform": lambda n: nonuniform(n),
    "decreasing": lambda n: nonuniform(n, seed=1)[::-1].copy(),
    "decreasing-uniform": lambda n: np.linspace(5.0, -1.0, n),
    "geometric": lambda n: 1e-3 * 1.3 ** np.arange(n),
}


@pytest.mark.parametrize("edge_order", [1, 2])
@pytest.mark.parametrize("kind", list(COORDS))
def test_1d(kind: str, edge_order: int) -> None:
    da = field({"x": COORDS[kind](11)})
    assert_parity(
        da.grad.partial("x", edge_order=edge_order),
        da.differentiate("x", edge_order=edge_order),
        rtol=1e-12 if kind == "linspace" else RTOL,
    )
    assert_parity(
        da.grad("x", accuracy=2, edge_order=edge_order),
        da.differentiate("x", edge_order=edge_order),
        rtol=1e-12 if kind == "linspace" else RTOL,
    )


@pytest.mark.parametrize("edge_order", [1, 2])
def test_3d_each_dim(edge_order: int) -> None:
    da = field({"z": COORDS["decreasing"](5), "y": COORDS["nonuniform"](6), "x": COORDS["linspace"](7)}, seed=3)
    for dim in da.dims:
        assert_parity(
            da.grad.partial(dim, edge_order=edge_order), da.differentiate(dim, edge_order=edge_order), rtol=1e-12
        )


@pytest.mark.parametrize("edge_order", [1, 2])
def test_dask_backed(edge_order: int) -> None:
    da = field({"y": COORDS["nonuniform"](9), "x": COORDS["linspace"](12)}, seed=4).chunk({"y": 2, "x": 5})
    for dim in da.dims:
        ours = da.grad.partial(dim, edge_order=edge_order)
        # xarray's dask path refuses chunks smaller than edge_order + 2: compare with its in-memory result
        ref = da.compute().differentiate(dim, edge_order=edge_order)
        assert ours.chunks == da.chunks
        assert_parity(ours.compute(), ref, rtol=1e-12)


def test_default_edge_order_is_accuracy() -> None:
    """fieldgrad's default edge_order is the accuracy (2), where xarray's default is 1."""
    da = field({"x": COORDS["nonuniform"](9)}, seed=5)
    assert_parity(da.grad.partial("x"), da.differentiate("x", edge_order=2))


def test_dim_without_coordinate() -> None:
    """Unit spacing (positions 0..n-1), as numpy and xarray do."""
    da = xr.DataArray(np.random.default_rng(6).standard_normal((5, 7)), dims=("y", "x"), name="V")
    for dim in da.dims:
        for eo in (1, 2):
            ours = da.grad.partial(dim, edge_order=eo)
            assert_parity(ours, da.differentiate(dim, edge_order=eo))
            assert set(ours.coords) == set()


def test_non_dimension_coordinate() -> None:
    """A 1-D coordinate that is not the dim's index can be named instead of the dim."""
    x = np.arange(8.0)
    da = xr.DataArray(np.sin(x), dims="x", coords={"x": x, "dist": ("x", nonuniform(8, seed=7))}, name="V")
    for eo in (1, 2):
        ours = da.grad.partial("dist", edge_order=eo)
        assert_parity(ours, da.differentiate("dist", edge_order=eo))


def assert_same_non_finite(ours: Any, ref: Any) -> None:
    """NaN and signed infinities in the same places (each part of a complex array), the rest close."""
    ours, ref = np.asarray(ours), np.asarray(ref)
    assert ours.dtype == ref.dtype
    for part in ("real", "imag") if ref.dtype.kind == "c" else ("real",):
        a, e = getattr(ours, part), getattr(ref, part)
        np.testing.assert_array_equal(np.isnan(a), np.isnan(e), err_msg=f"NaN in the {part} parts")
        np.testing.assert_array_equal(np.isposinf(a), np.isposinf(e), err_msg=f"+inf in the {part} parts")
        np.testing.assert_array_equal(np.isneginf(a), np.isneginf(e), err_msg=f"-inf in the {part} parts")
        assert_values_close(a, e, rtol=1e-12)


@pytest.mark.parametrize("chunked", [False, True])
@pytest.mark.parametrize("edge_order", [1, 2])
@pytest.mark.parametrize("kind", ["arange", "nonuniform", "decreasing"])
@pytest.mark.parametrize("bad", [complex(np.nan, 0), complex(0, np.nan), complex(np.inf, 1), complex(2, -np.inf)])
def test_complex_non_finite_parts(bad: complex, kind: str, edge_order: int, chunked: bool) -> None:
    """A NaN or infinite part spoils both parts where the stencil reaches it, as xarray's (numpy's) complex
    arithmetic does; in memory and chunked."""
    da = field({"y": COORDS["nonuniform"](5), "x": COORDS[kind](9)}, seed=11)
    da = da + 1j * field({"y": COORDS["nonuniform"](5), "x": COORDS[kind](9)}, seed=12)
    data = da.values.copy()
    for idx in [(0, 0), (2, 4), (4, 8), (1, 7)]:
        data[idx] = bad
    da = da.copy(data=data)
    for dim in da.dims:
        with np.errstate(invalid="ignore"):
            ref = da.differentiate(dim, edge_order=edge_order)
            ours = (da.chunk({"y": 2, "x": 4}) if chunked else da).grad.partial(dim, edge_order=edge_order)
        assert_same_non_finite(ours.values, ref.values)


NEAR_UNIFORM = {
    "linspace": lambda n: np.linspace(0.0, 0.5, n),  # steps differ in their last bits
    "0.1*arange": lambda n: 0.1 * np.arange(n),
    "decreasing-linspace": lambda n: np.linspace(5.0, -1.0, n),
    "arange": lambda n: np.arange(n, dtype=float),  # exactly uniform: the centre is not touched
    "nonuniform": lambda n: nonuniform(n, seed=3),
}


@pytest.mark.parametrize("edge_order", [1, 2])
@pytest.mark.parametrize("kind", list(NEAR_UNIFORM))
def test_nan_reach_on_near_uniform_coordinates(kind: str, edge_order: int) -> None:
    """A NaN spoils the points xarray's differentiate spoils. On a coordinate uniform only to round-off
    xarray (numpy.gradient) takes its non-uniform formula, which multiplies the centre point too, even
    where its weight happens to be exactly 0; fieldgrad keeps the uniform stencil's values but its
    zero-weight centre as a term. Chunked results equal the in-memory ones bit for bit."""
    x = NEAR_UNIFORM[kind](12)
    rng = np.random.default_rng(13)
    data = rng.standard_normal((6, 12))
    data[0, 1] = data[1, 2] = data[2, 0] = data[3, 11] = data[4, 5] = data[4, 7] = np.nan  # ends, runs, isolated
    data[5, rng.random(12) < 0.3] = np.nan
    da = xr.DataArray(data, dims=("y", "x"), coords={"x": x}, name="V")
    ref = da.differentiate("x", edge_order=edge_order)
    ours = da.grad.partial("x", edge_order=edge_order)
    np.testing.assert_array_equal(np.isnan(ours.values), np.isnan(ref.values))
    assert_parity(ours, ref, rtol=1e-12)
    for chunks in (1, 3, 5):
        lazy = da.chunk({"x": chunks}).grad.partial("x", edge_order=edge_order)
        np.testing.assert_array_equal(lazy.values, ours.values)
    # the gradient (both dims in one pass) too
    da2 = da.assign_coords(y=NEAR_UNIFORM[kind](6))
    g = da2.grad.gradient(edge_order=edge_order)
    for k, dim in enumerate(da2.dims):
        ref = da2.differentiate(dim, edge_order=edge_order).values
        np.testing.assert_array_equal(np.isnan(g.values[k]), np.isnan(ref))
        np.testing.assert_array_equal(da2.chunk({"y": 2, "x": 5}).grad.gradient(edge_order=edge_order).values, g.values)


@pytest.mark.parametrize("accuracy", [4, 6])
def test_nan_reach_near_uniform_higher_accuracy_chunked(accuracy: int) -> None:
    """The same rule at higher accuracy (no xarray counterpart): the zero-weight centre of a coordinate
    uniform only to round-off is touched, chunked or not; on an exactly uniform one it is not."""
    data = np.arange(20.0) ** 2
    data[9] = np.nan
    for x, centre_touched in [(np.linspace(0.0, 1.9, 20), True), (np.arange(20) * 0.5, False)]:
        da = xr.DataArray(data, dims="x", coords={"x": x})
        ours = da.grad.partial("x", accuracy=accuracy).values
        assert np.isnan(ours[9]) == centre_touched
        for chunks in (1, 4, 7):
            np.testing.assert_array_equal(da.chunk({"x": chunks}).grad.partial("x", accuracy=accuracy).values, ours)


# ---------------------------------------------------------------------------------------------
# datetime coordinates


def _time_field(times: Any, seed: int = 8) -> xr.DataArray:
    n = len(times)
    rng = np.random.default_rng(seed)
    return xr.DataArray(
        np.cumsum(rng.standard_normal((n, 3)), axis=0),
        dims=("time", "s"),
        coords={"time": times, "s": [10, 20, 30]},
        name="T",
    )


DATETIMES = {
    "ns-uniform": np.datetime64("2000-01-01", "ns") + np.arange(8) * np.timedelta64(6, "h"),
    "ns-irregular": np.array(
        ["2000-01-01T00", "2000-01-01T06", "2000-01-02T00", "2000-01-02T01", "2000-01-05T00", "2000-02-01T00"],
        dtype="datetime64[ns]",
    ),
    "s-irregular": np.array(
        [
            "1999-12-31T23:59:00",
            "2000-01-01T00:00:00",
            "2000-01-01T00:30:00",
            "2000-01-03T00:00:00",
            "2000-01-03T12:00:00",
        ],
        dtype="datetime64[s]",
    ),
    "D-uniform": np.arange("2001-03-01", "2001-03-09", dtype="datetime64[D]"),
    "decreasing": (np.datetime64("2000-01-01", "ns") + np.array([0, 3, 4, 9, 20]) * np.timedelta64(1, "h"))[::-1],
}


# fieldgrad converts datetimes to float positions since 1970 before differencing, so coarse units
# lose ~1e-11..1e-7 relative (xarray subtracts the first time first); see test_datetime_positions_keep_precision
# datetime positions are counted from the earliest time (as xarray does), so coarse units keep precision
_DATETIME_CASES = [(kind, unit) for kind in DATETIMES for unit in (None, "s", "h", "D", "ms")]


@pytest.mark.parametrize("edge_order", [1, 2])
@pytest.mark.parametrize(("kind", "unit"), _DATETIME_CASES)
def test_datetime64(kind: str, unit: str | None, edge_order: int) -> None:
    da = _time_field(DATETIMES[kind])
    ours = da.grad.partial("time", edge_order=edge_order, datetime_unit=unit)
    ref = da.differentiate("time", edge_order=edge_order, datetime_unit=unit)
    assert_parity(ours, ref, rtol=1e-12)


def test_datetime_positions_keep_precision() -> None:
    """f = seconds elapsed, sampled every 1-3 s: df/dt is exactly 3600 per hour and 86400 per day."""
    t = np.datetime64("2000-01-01", "ns") + np.array([0, 1, 3, 4, 7]) * np.timedelta64(1, "s")
    da = xr.DataArray(np.array([0.0, 1.0, 3.0, 4.0, 7.0]), dims="t", coords={"t": t})
    for unit, per in [("s", 1.0), ("h", 3600.0), ("D", 86400.0)]:
        np.testing.assert_allclose(da.differentiate("t", datetime_unit=unit).values, per, rtol=1e-14)
        np.testing.assert_allclose(da.grad.partial("t", datetime_unit=unit).values, per, rtol=1e-12)


def test_datetime64_default_unit_follows_resolution() -> None:
    """xarray's default datetime_unit is the coordinate's resolution; check against explicit units."""
    for res in ("ns", "s"):
        t = np.array(["2000-01-01T00", "2000-01-01T06", "2000-01-02T00"], dtype=f"datetime64[{res}]")
        da = _time_field(t)
        ref = da.differentiate("time", edge_order=1)
        assert_parity(da.grad.partial("time", edge_order=1), ref, rtol=1e-12)
        # the time axis is in the coordinate's own unit
        hours = xr.DataArray(da.values, dims=da.dims, coords={"time": [0.0, 6.0, 24.0], "s": da.s})
        per_hour = hours.differentiate("time").values
        scale = np.timedelta64(1, "h") / np.timedelta64(1, np.datetime_data(da.time.dtype)[0])
        assert_values_close(da.grad.partial("time", edge_order=1).values, per_hour / scale)


def test_timedelta_coordinate() -> None:
    t = np.array([0, 30, 45, 120, 400], dtype="timedelta64[s]")
    da = _time_field(t)
    for unit in (None, "s", "m", "h"):
        assert_parity(
            da.grad.partial("time", edge_order=2, datetime_unit=unit),
            da.differentiate("time", edge_order=2, datetime_unit=unit),
            rtol=1e-12,
        )


@pytest.mark.parametrize("calendar", ["standard", "noleap", "360_day", "julian", "all_leap"])
@pytest.mark.parametrize("unit", [None, "s", "h", "D"])
def test_cftime(calendar: str, unit: str | None) -> None:
    times = [cftime.datetime(2000, 2, d, h, calendar=calendar) for d, h in [(25, 0), (26, 6), (28, 0), (28, 12)]] + [
        cftime.datetime(2000, 3, 2, 0, calendar=calendar)
    ]
    da = _time_field(np.array(times, dtype=object))
    for eo in (1, 2):
        ours = da.grad.partial("time", edge_order=eo, datetime_unit=unit)
        ref = da.differentiate("time", edge_order=eo, datetime_unit=unit)
        assert_parity(ours, ref, rtol=1e-12)


def test_cftime_date_range() -> None:
    times = xr.date_range("2000-01-01", periods=10, freq="MS", calendar="noleap", use_cftime=True)
    da = _time_field(times)
    assert_parity(da.grad.partial("time", edge_order=1), da.differentiate("time"), rtol=1e-12)
    assert_parity(
        da.grad.partial("time", edge_order=2, datetime_unit="D"),
        da.differentiate("time", edge_order=2, datetime_unit="D"),
        rtol=1e-12,
    )


def test_datetime_dask_backed() -> None:
    da = _time_field(DATETIMES["ns-irregular"]).chunk({"time": 2})
    ours = da.grad.partial("time", edge_order=2, datetime_unit="h")
    assert ours.chunks == da.chunks
    ref = da.compute().differentiate("time", edge_order=2, datetime_unit="h")
    assert_parity(ours.compute(), ref, rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# Datasets


def _dataset() -> xr.Dataset:
    x, y = nonuniform(7, seed=9), np.linspace(0, 1, 5)
    rng = np.random.default_rng(10)
    return xr.Dataset(
        {
            "u": (("y", "x"), rng.standard_normal((5, 7)), {"units": "m s-1"}),
            "T": (("x",), rng.standard_normal(7)),
            "p": (("y",), rng.standard_normal(5)),
            "i": (("y", "x"), rng.integers(0, 100, (5, 7))),
            "label": ((), "hello"),
        },
        coords={"x": x, "y": y},
        attrs={"title": "test"},
    )


@pytest.mark.parametrize("edge_order", [1, 2])
@pytest.mark.parametrize("chunked", [False, True])
def test_dataset(edge_order: int, chunked: bool) -> None:
    ds = _dataset()
    if chunked:
        ds = ds.chunk({"x": 3, "y": 2})
    for dim in ("x", "y"):
        ours = ds.grad.partial(dim, edge_order=edge_order)
        ref = ds.compute().differentiate(dim, edge_order=edge_order)
        assert list(ours.data_vars) == list(ref.data_vars) == list(ds.data_vars)
        for name in ds.data_vars:
            assert ours[name].name == name
            if dim in ds[name].dims:
                assert_parity(ours[name].compute(), ref[name].compute(), rtol=1e-12)
            else:  # variables without the dim are kept unchanged
                xr.testing.assert_identical(ours[name], ds[name])
        assert ours.attrs == ds.attrs


def test_dataset_not_modified() -> None:
    ds = _dataset()
    before = ds.copy(deep=True)
    ds.grad.partial("x", edge_order=2)
    xr.testing.assert_identical(ds, before)
