"""Real geoscience files end to end: an ERA5-like dataset (CF attrs, ``m s**-1`` style units,
pressure levels in millibars, 6-hourly datetimes) through the API and the CLI, checked with
independent readers: xarray (no warnings), cf_xarray (identification by standard name) and
pint with cf-xarray's CF unit registry (every units attr parses, to the right dimensionality).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import fieldgrad
from fieldgrad import cli

cf_xarray = pytest.importorskip("cf_xarray")
pytest.importorskip("pint_xarray")  # registers .pint
cf_units = pytest.importorskip("cf_xarray.units").units


def era5_like() -> xr.Dataset:
    """time, level, latitude, longitude as ERA5 netCDF files have them (latitude decreasing)."""
    time = np.datetime64("2020-01-01T00", "ns") + np.arange(5) * np.timedelta64(6, "h")
    level = np.array([1000.0, 850.0, 700.0, 500.0, 300.0])
    lat = np.linspace(60.0, -60.0, 13)
    lon = np.arange(0.0, 360.0, 20.0)
    T, P, LA, LO = np.meshgrid(np.arange(5.0), level, lat, lon, indexing="ij")
    rad_lat, rad_lon = np.deg2rad(LA), np.deg2rad(LO)
    u = 10 * np.cos(rad_lat) + 0.5 * T + 0.01 * P
    v = 5 * np.sin(rad_lon) * np.cos(rad_lat)
    t = 288.0 - 0.05 * (1000.0 - P) + 2.0 * T + np.cos(rad_lat)  # 2 K per 6 h
    z = 9.80665 * (8000.0 * np.log(1000.0 / P)) + 10 * np.sin(rad_lon)
    dims = ("time", "level", "latitude", "longitude")
    return xr.Dataset(
        {
            "u": (dims, u, {"units": "m s**-1", "long_name": "U component of wind", "standard_name": "eastward_wind"}),
            "v": (dims, v, {"units": "m s**-1", "long_name": "V component of wind", "standard_name": "northward_wind"}),
            "t": (
                dims,
                t,
                {
                    "units": "K",
                    "long_name": "Temperature",
                    "standard_name": "air_temperature",
                    "valid_min": 150.0,
                    "GRIB_paramId": 130,
                },
            ),
            "z": (dims, z, {"units": "m**2 s**-2", "long_name": "Geopotential", "standard_name": "geopotential"}),
        },
        coords={
            "time": ("time", time, {"long_name": "time"}),
            "level": ("level", level, {"units": "millibars", "long_name": "pressure_level"}),
            "latitude": ("latitude", lat, {"units": "degrees_north", "long_name": "latitude"}),
            "longitude": ("longitude", lon, {"units": "degrees_east", "long_name": "longitude"}),
        },
        attrs={"Conventions": "CF-1.6", "history": "made by the test"},
    )


def pint_units(text: str):
    """The units parsed by pint with cf-xarray's CF registry (an independent reader)."""
    return cf_units.Unit(text)


def assert_no_field_standard_names(out: xr.Dataset, src: xr.Dataset) -> None:
    """cf_xarray finds none of the input's standard names on a derivative."""
    found = out.cf.standard_names
    for name in ("eastward_wind", "northward_wind", "air_temperature", "geopotential"):
        assert name not in found, (name, found)


# ----------------------------------------------------------------------------- labels (API)


def test_partial_drops_the_fields_standard_name() -> None:
    ds = era5_like()
    out = ds["t"].grad.partial("level")
    assert "standard_name" not in out.attrs and "valid_min" not in out.attrs and "GRIB_paramId" not in out.attrs
    assert out.attrs["long_name"] == "d(Temperature)/dlevel"
    assert out.name == "dt_dlevel"
    # the units parse, to K per pressure (independent reader: pint with the CF registry)
    assert pint_units(out.attrs["units"]) == pint_units("K") / pint_units("millibars")
    assert pint_units(out.attrs["units"]).dimensionality == (pint_units("K") / pint_units("Pa")).dimensionality
    assert out.to_dataset().cf.standard_names == {}


@pytest.mark.parametrize(
    "var,dim,expected",
    [
        ("u", "longitude", "m s**-1 / degrees_east"),
        ("u", "level", "m s**-1 / millibars"),
        ("z", "latitude", "m**2 s**-2 / degrees_north"),
        ("z", "level", "m**2 s**-2 / millibars"),
    ],
)
def test_units_of_power_notation(var: str, dim: str, expected: str) -> None:
    units = era5_like()[var].grad.partial(dim).attrs["units"]
    assert "(" not in units and "**" not in units  # CF/udunits form, simplified
    assert pint_units(units) == pint_units(expected)


def test_units_that_are_not_products_go_through_pint() -> None:
    da = era5_like()["u"].assign_attrs(units="m/s")
    assert da.grad.partial("level").attrs["units"] == "m mbar-1 s-1"
    assert pint_units(da.grad.partial("level").attrs["units"]) == pint_units("m s-1 millibars-1")
    w = xr.DataArray(
        np.arange(4.0), dims="x", coords={"x": ("x", np.arange(4.0), {"units": "m"})}, attrs={"units": "m/s"}
    )
    assert w.grad.partial("x").attrs["units"] == "s-1"


def test_units_fall_back_to_parentheses_without_pint(monkeypatch: pytest.MonkeyPatch) -> None:
    from fieldgrad import units

    monkeypatch.setattr(units, "cf_registry", lambda: None)
    assert units.divide_units("m/s", {"m": 1}) == "(m/s) m-1"
    assert units.divide_units("m s**-1", {"m": 1}) == "s-1"  # plain products need no library
    assert not units.same_dimension("m/s", "m s-1")  # unknown without pint: not claimed equal


def test_tendency_standard_name_from_the_table() -> None:
    ds = era5_like()
    dt = ds["t"].grad.partial("time", datetime_unit="s")
    assert dt.attrs["standard_name"] == "tendency_of_air_temperature"
    assert dt.attrs["units"] == "K s-1"
    np.testing.assert_allclose(dt.values, 2.0 / 21600.0, rtol=1e-12)
    np.testing.assert_allclose(dt.values, ds["t"].differentiate("time", datetime_unit="s").values, rtol=1e-12)
    assert dt.to_dataset().cf["tendency_of_air_temperature"].name == "dt_dtime"
    # the table has no tendency_of_geopotential; second derivatives and mixed ones are no tendency
    assert "standard_name" not in ds["z"].grad.partial("time", datetime_unit="s").attrs
    assert "standard_name" not in ds["t"].grad.partial("time", order=2, datetime_unit="s").attrs
    assert "standard_name" not in ds["t"].grad.partial({"time": 1, "level": 1}, datetime_unit="s").attrs


def test_gradient_and_laplacian_drop_standard_name() -> None:
    ds = era5_like()
    g = ds["t"].grad.gradient(["latitude", "longitude"])
    assert "standard_name" not in g.attrs and g.attrs["long_name"] == "gradient of Temperature"
    lap = ds["t"].grad.laplacian(["latitude", "longitude"])
    assert "standard_name" not in lap.attrs
    out = ds.grad.partial("level")
    assert_no_field_standard_names(out, ds)


def test_label_result_keeps_its_positional_signature() -> None:
    from fieldgrad.units import label_result

    ds = era5_like()
    res = label_result(ds["u"] * 0, ds["u"], "div_uv", "divergence of wind", "s-1")
    assert res.attrs == {"units": "s-1", "long_name": "divergence of wind"}
    res = label_result(ds["u"] * 0, ds["u"], "div_uv", "divergence of wind", "s-1", standard_name="divergence_of_wind")
    assert res.attrs["standard_name"] == "divergence_of_wind"


# ----------------------------------------------------------------------------- datetime_unit (API)


@pytest.mark.parametrize(
    "spelling,code,factor",
    [("hours", "h", 6.0), ("seconds", "s", 21600.0), ("h", "h", 6.0), ("D", "D", 0.25), ("minutes", "m", 360.0)],
)
def test_datetime_unit_spellings(spelling: str, code: str, factor: float) -> None:
    t = era5_like()["t"]
    ours = t.grad.partial("time", datetime_unit=spelling)
    ref = t.differentiate("time", datetime_unit=code)  # xarray itself, with numpy's code
    np.testing.assert_allclose(ours.values, ref.values, rtol=1e-12)
    np.testing.assert_allclose(ours.values, 2.0 / factor, rtol=1e-12)


@pytest.mark.parametrize("unit", ["fortnights", "Y", "M", "hourz"])
def test_unknown_datetime_unit_lists_the_valid_ones(unit: str) -> None:
    with pytest.raises(ValueError, match="valid units: W, D, h, m, s, ms, us, ns"):
        era5_like()["t"].grad.partial("time", datetime_unit=unit)


def test_datetime_unit_without_a_time_dim_is_an_error() -> None:
    t = era5_like()["t"]
    with pytest.raises(ValueError, match=r"datetime_unit='s'.*none of the dims.*level"):
        t.grad.partial("level", datetime_unit="s")
    with pytest.raises(ValueError, match="datetime"):
        t.grad.gradient(["latitude", "longitude"], datetime_unit="h")
    # with a time dim among them it is used
    g = t.grad.gradient(["time", "level"], datetime_unit="h")
    np.testing.assert_allclose(g.sel(component="time").values, 2.0 / 6.0, rtol=1e-12)


def test_api_default_datetime_unit_stays_xarrays() -> None:
    t = era5_like()["t"]
    np.testing.assert_allclose(t.grad.partial("time").values, t.differentiate("time").values, rtol=1e-12)
    assert t.grad.partial("time").attrs["units"] == "K ns-1"


# ----------------------------------------------------------------------------- files


def _quiet_open(path: Path) -> xr.Dataset:
    """Open an output as a user would; any warning is a failure."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        if path.suffix == ".zarr":
            return xr.open_zarr(path).load()
        return xr.open_dataset(path, engine="h5netcdf").load()


@pytest.fixture(scope="module")
def era5_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("era5") / "era5.nc"
    era5_like().to_netcdf(path, engine="h5netcdf")
    return path


def _all_units_parse(ds: xr.Dataset) -> None:
    for var in ds.variables.values():
        if "units" in var.attrs and var.dtype.kind not in "mM":
            pint_units(var.attrs["units"])  # raises if a CF reader cannot parse it
    ds.pint.quantify(unit_registry=cf_units)  # pint-xarray with the CF registry, every variable at once


@pytest.mark.parametrize("ext", ["nc", "zarr"])
def test_cli_partial_in_level_and_time(era5_file: Path, tmp_path: Path, ext: str) -> None:
    out = tmp_path / f"d.{ext}"
    assert cli.main(["partial", str(era5_file), "--var", "t", "u", "--dims", "level", "--out", str(out), "-q"]) == 0
    got = _quiet_open(out)
    assert set(got.data_vars) == {"dt_dlevel", "du_dlevel"}
    assert_no_field_standard_names(got, era5_like())
    _all_units_parse(got)
    ref = era5_like()["t"].differentiate("level", edge_order=2)
    np.testing.assert_allclose(got["dt_dlevel"].values, ref.values, rtol=1e-12)

    out2 = tmp_path / f"dt.{ext}"
    assert cli.main(["partial", str(era5_file), "--var", "t", "--dims", "time", "--out", str(out2), "-q"]) == 0
    got = _quiet_open(out2)
    assert got["dt_dtime"].attrs["units"] == "K s-1"  # the CLI's default: per second
    assert got.cf["tendency_of_air_temperature"].name == "dt_dtime"
    np.testing.assert_allclose(
        got["dt_dtime"].values, era5_like()["t"].differentiate("time", datetime_unit="s").values, rtol=1e-12
    )


def test_cli_datetime_unit_option(era5_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "dt.nc"
    assert (
        cli.main(
            [
                "partial",
                str(era5_file),
                "--var",
                "t",
                "--dims",
                "time",
                "--datetime-unit",
                "hours",
                "--out",
                str(out),
                "-q",
            ]
        )
        == 0
    )
    got = _quiet_open(out)
    assert got["dt_dtime"].attrs["units"] == "K h-1"
    np.testing.assert_allclose(got["dt_dtime"].values, 2.0 / 6.0, rtol=1e-12)
    capsys.readouterr()
    assert (
        cli.main(
            [
                "partial",
                str(era5_file),
                "--var",
                "t",
                "--dims",
                "time",
                "--datetime-unit",
                "fortnight",
                "--out",
                str(tmp_path / "x.nc"),
                "-q",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "valid units: W, D, h" in err
    assert (
        cli.main(
            [
                "partial",
                str(era5_file),
                "--var",
                "t",
                "--dims",
                "level",
                "--datetime-unit",
                "h",
                "--out",
                str(tmp_path / "y.nc"),
                "-q",
            ]
        )
        == 2
    )
    assert "datetime" in capsys.readouterr().err


def test_cli_help_states_the_datetime_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["partial", "--help"])
    text = capsys.readouterr().out
    assert "--datetime-unit" in text and "per second" in " ".join(text.split())


@pytest.mark.parametrize(
    "op,standard_name", [("curl", "atmosphere_upward_relative_vorticity"), ("divergence", "divergence_of_wind")]
)
def test_cli_vorticity_and_divergence_of_wind(era5_file: Path, tmp_path: Path, op: str, standard_name: str) -> None:
    out = tmp_path / f"{op}.zarr"
    assert (
        cli.main(
            [
                op,
                str(era5_file),
                "--var",
                "u",
                "v",
                "--dims",
                "longitude",
                "latitude",
                "--geometry",
                "sphere",
                "--out",
                str(out),
                "-q",
            ]
        )
        == 0
    )
    got = _quiet_open(out)
    (name,) = got.data_vars
    assert got.cf[standard_name].name == name
    assert pint_units(got[name].attrs["units"]) == pint_units("s-1")
    assert_no_field_standard_names(got, era5_like())
    _all_units_parse(got)
    api = getattr(era5_like().grad, op)({"longitude": "u", "latitude": "v"}, geometry="sphere")
    np.testing.assert_allclose(got[name].values, api.values, rtol=1e-12, equal_nan=True)


def test_cli_curl_in_degrees_is_no_vorticity(era5_file: Path, tmp_path: Path) -> None:
    """Cartesian curl over lon/lat in degrees is not per second: no CF name."""
    out = tmp_path / "c.nc"
    assert (
        cli.main(
            ["curl", str(era5_file), "--var", "u", "v", "--dims", "longitude", "latitude", "--out", str(out), "-q"]
        )
        == 0
    )
    assert "standard_name" not in _quiet_open(out)["curl_u_v"].attrs


def test_cli_sphere_vorticity_whatever_the_order(era5_file: Path, tmp_path: Path) -> None:
    """On the sphere the components go by their dims, and the curl is the upward component either way."""
    a, b = tmp_path / "a.nc", tmp_path / "b.nc"
    assert (
        cli.main(
            [
                "curl",
                str(era5_file),
                "--var",
                "u",
                "v",
                "--dims",
                "longitude",
                "latitude",
                "--geometry",
                "sphere",
                "--out",
                str(a),
                "-q",
            ]
        )
        == 0
    )
    assert (
        cli.main(
            [
                "curl",
                str(era5_file),
                "--var",
                "v",
                "u",
                "--dims",
                "latitude",
                "longitude",
                "--geometry",
                "sphere",
                "--out",
                str(b),
                "-q",
            ]
        )
        == 0
    )
    ga, gb = _quiet_open(a)["curl_u_v"], _quiet_open(b)["curl_v_u"]
    np.testing.assert_allclose(ga.values, gb.values, rtol=1e-12, equal_nan=True)
    assert ga.attrs["standard_name"] == gb.attrs["standard_name"] == "atmosphere_upward_relative_vorticity"


def test_cli_cartesian_vorticity_needs_the_right_handed_order(tmp_path: Path) -> None:
    """x/y in metres: (x_wind, y_wind) over (x, y) is the vorticity; over (y, x) it is its negative."""
    x = np.linspace(0.0, 9000.0, 10)
    X, Y = np.meshgrid(x, x, indexing="ij")
    wind = {"units": "m s-1"}
    src = tmp_path / "xy.nc"
    xr.Dataset(
        {
            "u": (("x", "y"), -1e-4 * Y, {**wind, "standard_name": "x_wind"}),
            "v": (("x", "y"), 1e-4 * X, {**wind, "standard_name": "y_wind"}),
        },
        coords={"x": ("x", x, {"units": "m", "axis": "X"}), "y": ("y", x, {"units": "m", "axis": "Y"})},
    ).to_netcdf(src, engine="h5netcdf")
    assert (
        cli.main(["curl", str(src), "--var", "u", "v", "--dims", "x", "y", "--out", str(tmp_path / "a.nc"), "-q"]) == 0
    )
    got = _quiet_open(tmp_path / "a.nc")
    np.testing.assert_allclose(got.cf["atmosphere_upward_relative_vorticity"].values, 2e-4, rtol=1e-12)
    assert (
        cli.main(["curl", str(src), "--var", "v", "u", "--dims", "y", "x", "--out", str(tmp_path / "b.nc"), "-q"]) == 0
    )
    got = _quiet_open(tmp_path / "b.nc")
    np.testing.assert_allclose(got["curl_v_u"].values, -2e-4, rtol=1e-12)
    assert "standard_name" not in got["curl_v_u"].attrs
    assert (
        cli.main(["divergence", str(src), "--var", "v", "u", "--dims", "y", "x", "--out", str(tmp_path / "c.nc"), "-q"])
        == 0
    )
    assert _quiet_open(tmp_path / "c.nc").cf["divergence_of_wind"].name == "div_v_u"


def test_cli_info_readable_time_step(era5_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["info", str(era5_file)]) == 0
    out = capsys.readouterr().out
    assert "time: 5 points, 2020-01-01T00:00:00 .. 2020-01-02T00:00:00, uniform (step 6 h)" in out
    assert "nanoseconds" not in out
    assert "level: 5 points, 1000 .. 300 millibars, non-uniform" in out


def test_cli_order_zero_keeps_the_name(era5_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "o.nc"
    assert (
        cli.main(["partial", str(era5_file), "--var", "t", "--dims", "level", "--order", "0", "--out", str(out), "-q"])
        == 0
    )
    got = _quiet_open(out)
    assert list(got.data_vars) == ["t"]
    xr.testing.assert_allclose(got["t"], era5_like()["t"])
    assert got["t"].attrs["standard_name"] == "air_temperature" and got["t"].attrs["units"] == "K"


# ----------------------------------------------------------------------------- default dims (CLI)


def test_cli_default_dims_are_spatial(era5_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without --dims: latitude and longitude (CF units); never time; level (pressure) is not a length."""
    out = tmp_path / "g.nc"
    assert cli.main(["gradient", str(era5_file), "--var", "t", "--out", str(out)]) == 0
    assert "gradient of t over latitude, longitude" in capsys.readouterr().out
    got = _quiet_open(out)
    assert list(got["grad_t"].component.values) == ["latitude", "longitude"]
    ref = era5_like()["t"].differentiate("latitude", edge_order=2)
    np.testing.assert_allclose(got["grad_t"].sel(component="latitude").values, ref.values, rtol=1e-12)
    out = tmp_path / "l.nc"
    assert cli.main(["laplacian", str(era5_file), "--var", "t", "--out", str(out), "-q"]) == 0
    ref = era5_like()["t"].grad.laplacian(["latitude", "longitude"])
    np.testing.assert_allclose(_quiet_open(out)["laplacian_t"].values, ref.values, rtol=1e-12)


def test_cli_default_dims_of_incompatible_units_are_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ds = era5_like()
    ds["level"].attrs["axis"] = "Z"  # now a spatial dim too, in millibars beside degrees
    src = tmp_path / "z.nc"
    ds.to_netcdf(src, engine="h5netcdf")
    for op in ("gradient", "laplacian"):
        assert cli.main([op, str(src), "--var", "t", "--out", str(tmp_path / "o.nc"), "-q"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "different units" in err and "--dims" in err, err
        assert "level (millibars)" in err and "latitude (degree)" in err
    # named explicitly, they are the user's choice
    assert (
        cli.main(
            ["gradient", str(src), "--var", "t", "--dims", "level", "latitude", "--out", str(tmp_path / "o.nc"), "-q"]
        )
        == 0
    )


def test_cli_default_dims_without_cf_marks_never_mix_in_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The library's rule: no spatial marks and a time dim beside the others is a question, not a guess."""
    t = np.datetime64("2020-01-01", "ns") + np.arange(4) * np.timedelta64(1, "h")
    x = np.arange(5.0)
    src = tmp_path / "plain.nc"
    xr.Dataset(
        {"f": (("time", "a", "b"), np.add.outer(np.arange(4.0), np.add.outer(x**2, 3 * x)))},
        coords={"time": t, "a": x, "b": x},
    ).to_netcdf(src, engine="h5netcdf")
    out = tmp_path / "g.nc"
    assert cli.main(["gradient", str(src), "--var", "f", "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "time dim 'time'" in err and "--dims" in err, err
    assert not out.exists()
    assert cli.main(["gradient", str(src), "--var", "f", "--dims", "a", "b", "--out", str(out), "-q"]) == 0
    got = _quiet_open(out)["grad_f"]
    assert list(got.component.values) == ["a", "b"]
    np.testing.assert_allclose(got.sel(component="b").values, 3.0, rtol=1e-12)


def test_cli_laplacian_refuses_time_with_space(
    era5_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        cli.main(
            [
                "laplacian",
                str(era5_file),
                "--var",
                "t",
                "--dims",
                "time",
                "latitude",
                "--out",
                str(tmp_path / "o.nc"),
                "-q",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "time" in err and "partial" in err, err


# ----------------------------------------------------------------------------- a CMIP-like ocean file


def cmip_ocean_like() -> xr.Dataset:
    """thetao, uo, vo on a curvilinear (rotated, tripolar-like) grid: dims (time, lev, j, i), 2-D
    latitude/longitude named by CF ``coordinates``, depth positive down in metres, a noleap calendar."""
    cftime = pytest.importorskip("cftime")
    time = np.array([cftime.DatetimeNoLeap(2000, m, 15) for m in range(1, 5)], dtype=object)
    lev = np.array([5.0, 15.0, 30.0, 50.0])
    jj, ii = np.meshgrid(np.arange(20.0), np.arange(24.0), indexing="ij")
    lat = -40.0 + 3.0 * jj + 0.4 * ii  # sheared: grid lines are not parallels
    lon = (150.0 + 4.0 * ii - 0.5 * jj) % 360.0  # crosses 0° and 180°? (150..242: the date line)
    phi, lam = np.deg2rad(lat), np.deg2rad(lon)
    shape = (time.size, lev.size) + lat.shape
    f = np.broadcast_to(np.cos(phi) * np.sin(lam), shape)
    depth = lev[None, :, None, None]
    dims = ("time", "lev", "j", "i")
    ds = xr.Dataset(
        {
            "thetao": (
                dims,
                15.0 + 5.0 * f * np.exp(-depth / 40.0),
                {
                    "units": "degC",
                    "standard_name": "sea_water_potential_temperature",
                    "coordinates": "latitude longitude",
                },
            ),
            "uo": (
                dims,
                np.broadcast_to(-0.1 * np.sin(phi) * np.cos(lam), shape).copy(),
                {"units": "m s-1", "standard_name": "eastward_sea_water_velocity"},
            ),
            "vo": (
                dims,
                np.broadcast_to(0.1 * np.sin(lam), shape).copy(),
                {"units": "m s-1", "standard_name": "northward_sea_water_velocity"},
            ),
        },
        coords={
            "time": ("time", time, {"standard_name": "time"}),
            "lev": ("lev", lev, {"units": "m", "positive": "down", "axis": "Z", "standard_name": "depth"}),
            "latitude": (("j", "i"), lat, {"units": "degrees_north", "standard_name": "latitude"}),
            "longitude": (("j", "i"), lon, {"units": "degrees_east", "standard_name": "longitude"}),
        },
        attrs={"Conventions": "CF-1.7", "source": "made by the test"},
    )
    return ds


@pytest.fixture(scope="module")
def ocean_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cmip") / "thetao.nc"
    cmip_ocean_like().to_netcdf(path, engine="h5netcdf")
    return path


def test_cmip_ocean_file_through_every_subcommand(
    ocean_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ds = cmip_ocean_like()
    assert cli.main(["info", str(ocean_file)]) == 0
    assert "thetao" in capsys.readouterr().out
    runs = {
        "partial": ["partial", "--var", "thetao", "--dims", "lev"],
        "gradient": ["gradient", "--var", "thetao", "--geometry", "sphere"],
        "laplacian": ["laplacian", "--var", "thetao", "--geometry", "sphere"],
        "divergence": ["divergence", "--var", "vo", "uo", "--dims", "latitude", "longitude", "--geometry", "sphere"],
        "curl": ["curl", "--var", "vo", "uo", "--dims", "latitude", "longitude", "--geometry", "sphere"],
    }
    got = {}
    for op, argv in runs.items():
        out = tmp_path / f"{op}.zarr"
        assert cli.main([argv[0], str(ocean_file), *argv[1:], "--out", str(out), "-q"]) == 0, op
        got[op] = _quiet_open(out)
        _all_units_parse(got[op])
        assert "sea_water_potential_temperature" not in got[op].cf.standard_names
    kw = {"geometry": "sphere"}
    np.testing.assert_allclose(
        got["partial"]["dthetao_dlev"], ds.thetao.differentiate("lev", edge_order=2), rtol=1e-12, atol=1e-14
    )
    grad = ds.thetao.grad.gradient(**kw)
    np.testing.assert_allclose(got["gradient"]["grad_thetao"], grad, rtol=1e-12)
    assert list(got["gradient"]["grad_thetao"].component.values) == ["latitude", "longitude"]
    assert pint_units(got["gradient"]["grad_thetao"].attrs["units"]) == pint_units("degC m-1")
    assert pint_units(got["laplacian"]["laplacian_thetao"].attrs["units"]) == pint_units("degC m-2")
    vort = next(iter(got["curl"].data_vars.values()))
    assert vort.attrs["units"] == "s-1" and pint_units(vort.attrs["units"]) == pint_units("s-1")
    # the wind is a solid rotation about the x axis (Ω R = 0.1 m s-1): vorticity 2Ω cos φ cos λ
    zeta = (
        2 * 0.1 / fieldgrad.geometry.EARTH_RADIUS * np.cos(np.deg2rad(ds.latitude)) * np.cos(np.deg2rad(ds.longitude))
    )
    err = float(abs(vort.isel(time=0, lev=0) - zeta).max())
    assert err < 0.02 * float(abs(zeta).max()), err
    div = next(iter(got["divergence"].data_vars.values()))
    assert float(abs(div).max()) < 0.02 * float(abs(zeta).max())
