"""The command line on the library's rules: every operator a command, every keyword a flag, the same
Dataset loop and the same default dims as ``ds.grad`` (in process, through ``fieldgrad.cli.main``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from test_geometry import lambert, rossby_haurwitz, rotated_pole

import fieldgrad
from fieldgrad import cli
from fieldgrad.datasets import vector_from
from fieldgrad.table import OPERATORS

pytest.importorskip("h5netcdf")
pytest.importorskip("pyproj")


def run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def opened(path: Path) -> xr.Dataset:
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        return ds.load()


@pytest.fixture(scope="module")
def lambert_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ds, _, _ = lambert(21)
    path = tmp_path_factory.mktemp("cli") / "lambert.nc"
    ds.reset_coords("lambert").to_netcdf(path, engine="h5netcdf")  # the grid mapping a data variable
    return path


def test_every_operator_is_a_command() -> None:
    parser = cli.parser.build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    assert set(OPERATORS) <= set(commands), set(OPERATORS) - set(commands)
    partial = commands["gradient"]
    flags = {s for a in partial._actions for s in a.option_strings}
    for keyword in ("--crs", "--frame", "--latitude", "--longitude", "--geometry", "--radius", "--fill-value"):
        assert keyword in flags, keyword


def test_projected_file_with_a_grid_mapping_variable(lambert_file: Path, tmp_path: Path, capsys) -> None:
    ds = opened(lambert_file)
    want = ds.set_coords("lambert").f.grad.gradient(geometry="projected")
    out = tmp_path / "g.nc"
    code, _, err = run(capsys, "gradient", lambert_file, "--var", "f", "--geometry", "projected", "--out", out, "-q")
    assert code == 0, err
    got = opened(out)
    np.testing.assert_array_equal(got["grad_f"].values, want.values)
    assert "lambert" in got.variables and got["grad_f"].attrs["grid_mapping"] == "lambert"  # still CF
    # and with the projection given on the command line
    out2 = tmp_path / "g2.nc"
    crs = "+proj=lcc +lat_1=33 +lat_2=45 +lat_0=40 +lon_0=-97 +R=6371000 +units=m +no_defs"
    code, _, err = run(
        capsys, "laplacian", lambert_file, "--var", "f", "--geometry", "projected", "--crs", crs, "--out", out2, "-q"
    )
    assert code == 0, err
    np.testing.assert_allclose(
        opened(out2)["laplacian_f"].values, ds.f.grad.laplacian(geometry="projected", crs=crs).values, rtol=1e-13
    )


@pytest.mark.parametrize(
    ("argv", "name", "api"),
    [
        (["hessian", "--var", "psi"], "hessian_psi", lambda ds: ds.psi.grad.hessian(geometry="sphere")),
        (
            ["directional", "--var", "psi", "--direction", "latitude=1,longitude=1"],
            "dpsi_ds",
            lambda ds: ds.psi.grad.directional({"latitude": 1, "longitude": 1}, geometry="sphere"),
        ),
        (
            ["advection", "--var", "psi", "--flow", "longitude=u,latitude=v"],
            "advection_psi",
            lambda ds: ds.psi.grad.advection(vector_from(ds, {"longitude": "u", "latitude": "v"}), geometry="sphere"),
        ),
        (
            ["jacobian", "--var", "v", "u", "--dims", "latitude", "longitude"],
            "jacobian_v_u",
            lambda ds: ds.grad.jacobian({"latitude": "v", "longitude": "u"}, geometry="sphere"),
        ),
        (
            ["along", "--var", "psi", "--path", "latitude=10,20,30", "--path", "longitude=0,10,30"],
            "dpsi_ddistance",
            lambda ds: ds.psi.grad.along({"latitude": [10, 20, 30], "longitude": [0, 10, 30]}, geometry="sphere"),
        ),
    ],
)
def test_the_new_commands_equal_the_library(argv, name, api, tmp_path: Path, capsys) -> None:
    ds, _, _ = rossby_haurwitz(10.0)
    src = tmp_path / "rh.nc"
    ds.to_netcdf(src, engine="h5netcdf")
    out = tmp_path / "o.nc"
    code, _, err = run(capsys, argv[0], src, *argv[1:], "--geometry", "sphere", "--out", out, "-q")
    assert code == 0, err
    got = opened(out)[name]
    np.testing.assert_allclose(got.values, api(opened(src)).values, rtol=1e-13, equal_nan=True)


def test_latitude_longitude_and_frame_flags(tmp_path: Path, capsys) -> None:
    ds = rotated_pole(12)
    plain = ds.copy()
    for c in ("lat", "lon"):
        plain[c].attrs = {}  # no CF attributes: the command names them
    src = tmp_path / "rot.nc"
    plain.to_netcdf(src, engine="h5netcdf")
    out = tmp_path / "g.nc"
    code, _, err = run(
        capsys, "gradient", src, "--var", "f", "--geometry", "sphere", "--latitude", "lat", "--longitude", "lon",
        "--frame", "grid", "--out", out, "-q",
    )  # fmt: skip
    assert code == 0, err
    want = ds.f.grad.gradient(geometry="sphere", frame="grid")
    got = opened(out)["grad_f"]
    assert list(got.component.values) == list(want.component.values) == ["rlat", "rlon"]  # the index dims
    np.testing.assert_allclose(got.values, want.values, rtol=1e-12)


def test_the_same_default_dims_as_the_library(tmp_path: Path, capsys) -> None:
    t = np.datetime64("2000-01-01", "ns") + np.arange(3) * np.timedelta64(6, "h")
    lat, lon = np.linspace(-10, 10, 5), np.linspace(0, 20, 6)
    ds = xr.Dataset(
        {"T": (("time", "lat", "lon"), np.random.default_rng(0).normal(size=(3, 5, 6)), {"units": "K"})},
        coords={
            "time": t,
            "lat": ("lat", lat, {"units": "degrees_north"}),
            "lon": ("lon", lon, {"units": "degrees_east"}),
        },
    )
    src = tmp_path / "cf.nc"
    ds.to_netcdf(src, engine="h5netcdf")
    code, out_text, err = run(capsys, "gradient", src, "--var", "T", "--out", tmp_path / "a.nc")
    assert code == 0, err
    assert "over lat, lon" in out_text
    assert list(opened(tmp_path / "a.nc")["grad_T"].component.values) == list(ds.T.grad.gradient().component.values)
    mixed = ds.assign_coords(lat=("lat", lat * 111.0, {"units": "km"}))
    src = tmp_path / "mixed.nc"
    mixed.to_netcdf(src, engine="h5netcdf")
    with pytest.raises(ValueError, match="different units") as library:
        mixed.grad.gradient()
    code, _, err = run(capsys, "gradient", src, "--var", "T", "--out", tmp_path / "b.nc")
    assert code == 2 and "different units: lat (km), lon (degree)" in err and "--dims" in err, err
    assert str(library.value).split(";")[0].removeprefix("no dims named, and the ") in err


def test_a_mistyped_value_is_one_line(tmp_path: Path, capsys) -> None:
    ds, _, _ = rossby_haurwitz(20.0)
    src = tmp_path / "rh.nc"
    ds.to_netcdf(src, engine="h5netcdf")
    code, _, err = run(capsys, "gradient", src, "--var", "psi", "--frame", "north", "--out", tmp_path / "o.nc")
    assert code == 2 and "invalid choice: 'north'" in err
    code, _, err = run(
        capsys, "gradient", src, "--var", "psi", "--geometry", "sphere", "--radius", "-1", "--out", tmp_path / "o.nc"
    )
    assert code == 2 and len(err.strip().splitlines()) == 1 and "radius must be a positive" in err, err


def test_fieldgrad_grid_is_public() -> None:
    assert fieldgrad.Grid is fieldgrad.grid.Grid
