"""Fields whose *values* are datetime64 or timedelta64, against :meth:`xarray.DataArray.differentiate`.

xarray counts such values in the call's ``datetime_unit`` (default: the time coordinate's
resolution, else the values' own) from their earliest value, NaT as NaN; so does fieldgrad, in
one place (:func:`fieldgrad.coords.time_values`, called by every operator through
``fieldgrad.calculus``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import xarray as xr

import fieldgrad
from fieldgrad.coords import time_values

HOURLY = np.datetime64("2000-01-01", "ns") + np.arange(10) * np.timedelta64(1, "h")
IRREGULAR = np.array(
    [
        "2000-01-01T00",
        "2000-01-01T06",
        "2000-01-02T00",
        "2000-01-02T01",
        "2000-01-05T00",
        "2000-02-01T00",
        "2000-02-01T00:30",
    ],
    dtype="datetime64[s]",
)


# fieldgrad's default ends are second-order: xarray's numbers with edge_order=2


def assert_same(ours: xr.DataArray, ref: xr.DataArray, rtol: float = 1e-12) -> None:
    """Same dims, coords, float64 values and NaN positions as xarray's result."""
    assert ours.dims == ref.dims and ours.dtype == ref.dtype == np.float64
    xr.testing.assert_identical(ours.coords.to_dataset(), ref.coords.to_dataset())
    a, b = np.asarray(ours.values), np.asarray(ref.values)
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    finite = np.isfinite(b)
    scale = float(np.abs(b[finite]).max()) if finite.any() else 1.0
    np.testing.assert_allclose(a[finite], b[finite], rtol=0, atol=rtol * scale)


def timestamps(times: np.ndarray, seed: int = 0) -> xr.DataArray:
    """A (time, s) field of timestamps: the time plus a random delay growing along time."""
    rng = np.random.default_rng(seed)
    delay = np.cumsum(rng.integers(0, 5000, size=(times.size, 5)), axis=0).astype("timedelta64[s]")
    values = times.astype("datetime64[s]")[:, None] + delay
    return xr.DataArray(
        values, dims=("time", "s"), coords={"time": times, "s": [1.0, 2.0, 4.0, 5.0, 7.0]}, name="arrival"
    )


@pytest.mark.parametrize("unit", [None, "s", "h", "D", "ms", "W"])
@pytest.mark.parametrize("times", [HOURLY, IRREGULAR], ids=["hourly-ns", "irregular-s"])
@pytest.mark.parametrize("edge_order", [1, 2])
def test_datetime_values_along_time(times: np.ndarray, unit: str | None, edge_order: int) -> None:
    da = timestamps(times)
    ours = da.grad.partial("time", datetime_unit=unit, edge_order=edge_order)
    assert_same(ours, da.differentiate("time", datetime_unit=unit, edge_order=edge_order))
    assert ours.attrs["units"] == "1"  # time per time


@pytest.mark.parametrize("unit", ["h", "s", "D"])
def test_time_coordinate_itself(unit: str) -> None:
    """``da["time"].grad.partial("time")`` of hourly timestamps: 1.0 everywhere in any unit (to rounding:
    an hour in days is not a binary fraction)."""
    da = xr.DataArray(np.zeros(10), dims="time", coords={"time": HOURLY})
    d = da["time"].grad.partial("time", datetime_unit=unit)
    np.testing.assert_allclose(d.values, np.ones(10), rtol=4 * np.finfo(float).eps)
    assert_same(d, da["time"].differentiate("time", datetime_unit=unit, edge_order=2))
    assert d.attrs["units"] == "1" and d.dtype == np.float64
    assert d.name == "dtime_dtime"


def test_default_unit_is_the_coordinate_resolution() -> None:
    """Values in seconds, coordinate in ns: both counted in ns when no datetime_unit is given."""
    da = timestamps(HOURLY)
    assert da.dtype == np.dtype("datetime64[s]") and da.time.dtype == np.dtype("datetime64[ns]")
    ours = da.grad.partial("time")
    assert_same(ours, da.differentiate("time", edge_order=2))
    assert ours.attrs["units"] == "1"


def test_timedelta_values() -> None:
    da = timestamps(IRREGULAR)
    elapsed = da - da.isel(time=0)  # timedelta64[s]
    assert elapsed.dtype.kind == "m"
    for unit in (None, "m", "h"):
        ours = elapsed.grad.partial("time", datetime_unit=unit)
        assert_same(ours, elapsed.differentiate("time", datetime_unit=unit, edge_order=2))
    # along a numeric coordinate: the values' own unit (seconds), or the unit asked for
    d = elapsed.grad.partial("s")
    assert_same(d, elapsed.differentiate("s", edge_order=2))
    assert_same(
        elapsed.grad.partial("s", datetime_unit="h"), elapsed.differentiate("s", datetime_unit="h", edge_order=2)
    )


def test_units_along_a_length() -> None:
    """A field of timestamps along x (metres): units ``<time unit> m-1``, as xarray's numbers."""
    x = np.array([0.0, 2.0, 3.0, 7.0, 8.0])
    da = xr.DataArray(HOURLY[:5], dims="x", coords={"x": ("x", x, {"units": "m"})})
    d = da.grad.partial("x")
    assert_same(d, da.differentiate("x", edge_order=2))
    assert d.attrs["units"] == "ns m-1"
    d = da.grad.partial("x", datetime_unit="h")
    assert_same(d, da.differentiate("x", datetime_unit="h", edge_order=2))
    assert d.attrs["units"] == "h m-1"
    d = da.grad.partial("x", datetime_unit="h", edge_order=1)
    np.testing.assert_allclose(d.values[[0, -1]], [0.5, 1.0])  # one-sided ends: 1 h per 2 m, 1 h per 1 m


def test_nat_becomes_nan_like_xarray() -> None:
    da = timestamps(HOURLY)
    values = da.values.copy()
    values[3, 0] = np.datetime64("NaT")
    values[:, 2] = np.datetime64("NaT")  # a whole line of NaT
    da = da.copy(data=values)
    for unit in (None, "h"):
        ours = da.grad.partial("time", datetime_unit=unit)
        ref = da.differentiate("time", datetime_unit=unit, edge_order=2)
        assert np.isnan(ref.values).any()
        assert_same(ours, ref)
    all_nat = da.copy(data=np.full(da.shape, np.datetime64("NaT"), dtype=da.dtype))
    assert np.isnan(all_nat.grad.partial("time").values).all()


@pytest.mark.parametrize("chunks", [{"time": 3}, {"time": 4, "s": 1}, {"s": 2}])
def test_chunked(chunks: dict[str, int]) -> None:
    da = timestamps(IRREGULAR)
    values = da.values.copy()
    values[2, 1] = np.datetime64("NaT")
    da = da.copy(data=values)
    lazy = da.chunk(chunks).grad.partial("time", datetime_unit="h")
    assert lazy.chunks is not None  # still lazy
    assert_same(lazy.compute(), da.differentiate("time", datetime_unit="h", edge_order=2))
    assert_same(lazy.compute(), da.grad.partial("time", datetime_unit="h"), rtol=0)


def test_chunked_conversion_is_lazy() -> None:
    """Nothing is computed before .compute(): the offset (earliest value) is a dask reduction."""
    import dask.array as dsa

    def explode(block: np.ndarray) -> np.ndarray:
        raise RuntimeError("computed too early")

    values = timestamps(IRREGULAR).values
    lazy = dsa.from_array(values, chunks=(3, 2)).map_blocks(explode, dtype=values.dtype)
    da = xr.DataArray(lazy, dims=("time", "s"), coords={"time": IRREGULAR})
    d = da.grad.partial("time", datetime_unit="h")
    g = da.grad.gradient(["time", "s"], datetime_unit="h")
    assert d.dtype == g.dtype == np.float64
    with pytest.raises(RuntimeError, match="too early"):
        d.compute()


def test_gradient_and_functional_api() -> None:
    da = timestamps(IRREGULAR)
    g = da.grad.gradient(["time", "s"], datetime_unit="h")
    assert_same(g.sel(component="time", drop=True), da.differentiate("time", datetime_unit="h", edge_order=2))
    assert_same(g.sel(component="s", drop=True), da.differentiate("s", datetime_unit="h", edge_order=2))
    f = fieldgrad.operators.gradient(da, ["time", "s"], datetime_unit="h")
    xr.testing.assert_identical(f, g)
    p = fieldgrad.partial(da, "time", datetime_unit="h")
    xr.testing.assert_identical(p, da.grad.partial("time", datetime_unit="h"))
    # the chunked gradient (one halo exchange for both dims) gives the same numbers
    xr.testing.assert_allclose(
        da.chunk({"time": 3}).grad.gradient(["time", "s"], datetime_unit="h").compute(), g, rtol=1e-13
    )


def test_dataset_mixes_time_and_numeric_variables() -> None:
    da = timestamps(HOURLY)
    ds = xr.Dataset({"arrival": da, "delay": da - da.time, "T": (("time", "s"), np.arange(50.0).reshape(10, 5))})
    ours = ds.grad.partial("time", datetime_unit="h")
    ref = ds.differentiate("time", datetime_unit="h", edge_order=2)
    for name in ds.data_vars:
        assert_same(ours[name], ref[name])
    assert ours["arrival"].attrs["units"] == ours["delay"].attrs["units"] == "1"


def test_other_operators() -> None:
    """Second derivatives, Laplacian, Hessian, directional derivative of timestamps: the same as of
    the numbers xarray converts them to (``datetime_to_numeric``, in hours)."""
    from xarray.core.duck_array_ops import datetime_to_numeric

    da = timestamps(IRREGULAR)
    hours = da.copy(data=datetime_to_numeric(da.values, datetime_unit="h"))
    assert hours.dtype == np.float64
    dims = ["time", "s"]
    cases = [
        (lambda f, **k: f.grad.partial("time", order=2, **k), "h-1"),
        (lambda f, **k: f.grad.partial({"time": 1, "s": 1}, **k), None),
        (lambda f, **k: f.grad.laplacian(dims, **k), None),
        (lambda f, **k: f.grad.hessian(dims, **k), None),
        (lambda f, **k: f.grad.directional({"time": 3.0, "s": 4.0}, **k), None),
    ]
    for op, units in cases:
        ours, ref = op(da, datetime_unit="h"), op(hours, datetime_unit="h")
        xr.testing.assert_allclose(ours, ref, rtol=1e-13)
        if units is not None:
            assert ours.attrs["units"] == units


def test_datetime_unit_needs_a_time_somewhere() -> None:
    """Neither a time coordinate nor time values: datetime_unit is an error, as before."""
    da = xr.DataArray(np.arange(4.0), dims="x")
    with pytest.raises(ValueError, match="datetime_unit"):
        da.grad.partial("x", datetime_unit="h")


def test_time_values_matches_xarray_conversion() -> None:
    from xarray.core.duck_array_ops import datetime_to_numeric

    values = timestamps(IRREGULAR).values.copy()
    values[1, 1] = np.datetime64("NaT")
    for unit in ("s", "h", "ms"):
        np.testing.assert_array_equal(time_values(values, unit), datetime_to_numeric(values, datetime_unit=unit))
    numbers: Any = np.arange(3.0)
    assert time_values(numbers) is numbers
