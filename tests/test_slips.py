"""Slips users make with real files, each either the right answer or a message that names the fix.

Files are written by xarray and opened again, as they arrive; each test failed before its fix.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from test_geometry import LCC, lambert, rossby_haurwitz, wind

import fieldgrad
from fieldgrad import cli

pytest.importorskip("h5netcdf")
pytest.importorskip("pyproj")


def reopened(ds: xr.Dataset, tmp_path: Path, name: str = "f.nc") -> xr.Dataset:
    path = tmp_path / name
    ds.to_netcdf(path, engine="h5netcdf")
    with xr.open_dataset(path, engine="h5netcdf") as opened:
        return opened.load()


def test_pole_rows_keep_the_coordinates_attributes(tmp_path: Path) -> None:
    ds, _, _ = rossby_haurwitz(10.0)
    for result in (
        wind(ds).grad.curl(geometry="sphere"),
        wind(ds).grad.divergence(geometry="sphere"),
        ds.psi.grad.laplacian(geometry="sphere"),
    ):
        for c in ("latitude", "longitude"):
            assert result[c].attrs == ds[c].attrs, (result.name, c)
        again = result.grad.gradient(geometry="sphere")  # found by its CF attributes again
        assert list(again.component.values) == ["latitude", "longitude"]
    out = tmp_path / "vort.nc"
    src = tmp_path / "rh.nc"
    ds.to_netcdf(src, engine="h5netcdf")
    assert cli.main(["curl", str(src), "--var", "v", "u", "--dims", "latitude", "longitude", "--geometry",
                     "sphere", "--out", str(out), "-q"]) == 0  # fmt: skip
    with xr.open_dataset(out, engine="h5netcdf") as got:
        assert got.cf["latitude"].name == "latitude" and got.cf["longitude"].name == "longitude"


def test_lat_lon_without_geometry_warns_and_points_to_the_sphere() -> None:
    ds, _, _ = rossby_haurwitz(10.0)
    with pytest.warns(fieldgrad.GeometryWarning, match=r"per degree; pass geometry='sphere'"):
        ds.psi.grad.gradient()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds.psi.grad.gradient(geometry="cartesian")  # said on purpose: no warning
        ds.psi.grad.gradient(geometry="sphere")
        ds.psi.grad.partial("latitude", geometry="cartesian")


def test_a_projection_without_geometry_warns_and_gets_no_cf_name() -> None:
    ds, _, _ = lambert(21)
    ds["u"].attrs["standard_name"] = "x_wind"
    ds["v"].attrs["standard_name"] = "y_wind"
    hint = r"lambert_conformal_conic map projection: its x and y need the map factors; pass geometry='projected'"
    with pytest.warns(fieldgrad.GeometryWarning, match=hint):
        flat = ds.grad.curl({"x": "u", "y": "v"})
    assert "standard_name" not in flat.attrs  # not the vorticity: no map factors
    right = ds.grad.curl({"x": "u", "y": "v"}, geometry="projected")
    assert right.attrs["standard_name"] == "atmosphere_upward_relative_vorticity"
    assert float(abs(flat - right).max()) > 1e-2 * float(abs(right).max())  # the difference is real


def test_swapped_components_are_refused(tmp_path: Path) -> None:
    ds, _, _ = rossby_haurwitz(10.0)
    with pytest.raises(
        ValueError, match=r"the component along 'latitude' is 'eastward_wind': the components are swapped"
    ):
        ds.grad.curl({"latitude": "u", "longitude": "v"}, geometry="sphere")
    src = tmp_path / "rh.nc"
    ds.to_netcdf(src, engine="h5netcdf")
    argv = ["divergence", str(src), "--var", "u", "v", "--dims", "latitude", "longitude", "--geometry", "sphere"]
    assert cli.main([*argv, "--out", str(tmp_path / "d.nc"), "-q"]) == 2


def test_x_wind_on_a_regular_lat_lon_grid_is_the_eastward_wind() -> None:
    ds, _, _ = rossby_haurwitz(10.0)
    ds["u"].attrs["standard_name"], ds["v"].attrs["standard_name"] = "x_wind", "y_wind"
    got = ds.grad.curl({"longitude": "u", "latitude": "v"}, geometry="sphere")  # the grid's x is east here
    np.testing.assert_array_equal(got.values, wind(ds).grad.curl(geometry="sphere").values)
    with pytest.raises(ValueError, match="swapped"):
        ds.grad.curl({"latitude": "u", "longitude": "v"}, geometry="sphere")


def test_earth_relative_winds_labelled_with_grid_dims_are_refused() -> None:
    from test_geometry import rotated_pole

    ds = rotated_pole(10)
    ds["u"].attrs["standard_name"] = "eastward_wind"
    ds["v"].attrs["standard_name"] = "northward_wind"
    with pytest.raises(ValueError, match=r"earth-relative \(east/north\), but 'rlon' is one of the grid's index dims"):
        ds.grad.curl({"rlon": "u", "rlat": "v"}, geometry="sphere")
    ds.grad.curl({"lon": "u", "lat": "v"}, geometry="sphere")  # labelled as what they are: fine


def test_a_repeated_seam_column_is_computed_around_the_circle(tmp_path: Path) -> None:
    ds, _, _ = rossby_haurwitz(10.0)
    closed = xr.concat([ds, ds.isel(longitude=[0]).assign_coords(longitude=[360.0])], "longitude")
    closed = reopened(closed, tmp_path)
    for op in (
        lambda d: wind(d).grad.curl(geometry="sphere"),
        lambda d: d.psi.grad.laplacian(geometry="sphere"),
        lambda d: d.psi.grad.gradient(geometry="sphere"),
    ):
        got, want = op(closed), op(ds)
        xr.testing.assert_allclose(got.isel(longitude=slice(0, -1)), want, rtol=1e-12)  # poles too (not NaN)
        np.testing.assert_array_equal(got.isel(longitude=-1).values, got.isel(longitude=0).values)
        assert float(got.longitude[-1]) == 360.0
    assert "seam: the last longitude column repeats the first" in repr(fieldgrad.Grid(closed, geometry="sphere"))


def test_radians_without_units_are_a_question(tmp_path: Path) -> None:
    lat = np.linspace(-1.2, 1.2, 9)
    lon = np.linspace(0.0, 2 * np.pi, 12, endpoint=False)
    da = xr.DataArray(
        np.outer(np.sin(lat), np.ones(lon.size)),
        dims=("lat", "lon"),
        coords={
            "lat": ("lat", lat, {"standard_name": "latitude"}),
            "lon": ("lon", lon, {"standard_name": "longitude"}),
        },
    )
    with pytest.raises(ValueError, match=r"no units, and its values fit radians as well as degrees"):
        da.grad.gradient(geometry="sphere")
    named = da.assign_coords(lat=da.lat.assign_attrs(units="radians"), lon=da.lon.assign_attrs(units="radians"))
    degrees = da.assign_coords(
        lat=("lat", np.rad2deg(lat), {"units": "degrees_north"}),
        lon=("lon", np.rad2deg(lon), {"units": "degrees_east"}),
    )
    np.testing.assert_allclose(
        named.grad.gradient(geometry="sphere").values, degrees.grad.gradient(geometry="sphere").values, rtol=1e-12
    )


def test_the_radius_a_file_states_is_used(tmp_path: Path) -> None:
    ds, _, _ = rossby_haurwitz(10.0)
    ds = ds.assign(crs=xr.DataArray(0, attrs={"grid_mapping_name": "latitude_longitude", "earth_radius": 6370000.0}))
    for v in ("u", "v", "psi"):
        ds[v].attrs["grid_mapping"] = "crs"
    ds = reopened(ds, tmp_path)
    g = ds.psi.assign_coords(crs=ds.crs).grad.gradient(geometry="sphere")
    want = ds.psi.grad.gradient(geometry="sphere", radius=6370000.0)
    np.testing.assert_allclose(g.values, want.values, rtol=1e-15)
    assert "radius: 6.37e+06 m (earth_radius of grid_mapping variable 'crs')" in repr(
        fieldgrad.Grid(ds, geometry="sphere")
    )
    np.testing.assert_allclose(
        ds.grad.laplacian(geometry="sphere")["psi"].values, ds.psi.grad.laplacian(geometry="sphere", radius=6370000.0)
    )


def test_crs_from_the_attrs_of_a_grid_mapping_variable(tmp_path: Path) -> None:
    ds, _, _ = lambert(21)
    ds = reopened(ds.reset_coords("lambert"), tmp_path)
    attrs = dict(ds.lambert.attrs)
    assert any(isinstance(v, (np.ndarray, np.generic)) for v in attrs.values())  # as netCDF readers give them
    f = ds.f.copy()
    f.attrs = {}  # no grid_mapping: the projection comes from crs=
    got = f.grad.gradient(geometry="projected", crs=attrs)
    want = ds.set_coords("lambert").f.grad.gradient(geometry="projected")
    np.testing.assert_array_equal(got.values, want.values)
    np.testing.assert_array_equal(f.grad.gradient(geometry="projected", crs=LCC).values, want.values)


def test_arithmetic_keeps_the_projection_when_the_mapping_is_a_coordinate(tmp_path: Path) -> None:
    ds, _, _ = lambert(21)
    celsius = ds.f - 273.15
    celsius.attrs = {}  # as arithmetic leaves them (keep_attrs=False): grid_mapping gone, the coordinate kept
    assert "lambert" in celsius.coords
    np.testing.assert_allclose(
        celsius.grad.laplacian(geometry="projected").values, ds.f.grad.laplacian(geometry="projected").values
    )
    loose = reopened(ds.reset_coords("lambert"), tmp_path)
    lost = loose.f - 273.15
    lost.attrs = {}  # nothing left that says the projection: the message says how to keep it
    with pytest.raises(ValueError, match=r"keep_attrs=True.*assign_coords"):
        lost.grad.laplacian(geometry="projected")


def test_unit_spellings_cancel() -> None:
    x = np.linspace(0, 1, 5)
    da = xr.DataArray(x, dims="x", coords={"x": ("x", x, {"units": "m"})}, attrs={"units": "meter second-1"})
    assert da.grad.partial("x").attrs["units"] == "second-1"
    da.attrs["units"] = "m s-1"
    da.x.attrs["units"] = "metre"
    assert da.grad.partial("x").attrs["units"] == "s-1"


def test_a_period_without_a_dim_that_wraps_is_refused() -> None:
    """period= alone was ignored: the ends were differentiated one-sided, as if it had not been given."""
    x = np.arange(8.0)
    f = xr.DataArray(np.sin(2 * np.pi * x / 8), dims=("x",), coords={"x": x})
    with pytest.raises(ValueError, match=r"period=8\.0 is for dims that wrap around.*boundary='periodic'"):
        f.grad.partial("x", period=8.0)
    with pytest.raises(ValueError, match=r"period=\{'x': 8\.0\}.*boundary=\{'x': 'periodic'\}"):
        f.grad.partial("x", period={"x": 8.0}, boundary="fill")
    wrapped = f.grad.partial("x", period=8.0, boundary="periodic")
    np.testing.assert_allclose(wrapped.values, np.gradient(np.r_[f[-1], f, f[0]], 1.0)[1:-1], rtol=1e-12)
    # a longitude the sphere wraps by itself takes a period without boundary=
    lat, lon = np.linspace(-60, 60, 5), np.arange(0.0, 360.0, 45.0)
    T = xr.DataArray(
        np.outer(np.ones(5), np.sin(np.deg2rad(lon))),
        dims=("lat", "lon"),
        coords={"lat": ("lat", lat, {"units": "degrees_north"}), "lon": ("lon", lon, {"units": "degrees_east"})},
    )
    got = T.grad.gradient(geometry="sphere", period={"lon": 360.0})
    np.testing.assert_array_equal(got.values, T.grad.gradient(geometry="sphere").values)


def test_a_mistyped_longitude_is_named_before_a_latitude_that_is_not_found() -> None:
    da = xr.DataArray(np.zeros((3, 4)), dims=("y", "x"), coords={"y": [0.0, 1, 2], "x": [0.0, 1, 2, 3]})
    with pytest.raises(ValueError, match=r"longitude='lnog' is neither a coordinate nor a dimension"):
        da.grad.gradient(geometry="sphere", longitude="lnog")
