"""End-to-end tests of the ``fieldgrad`` command line (fieldgrad/cli.py).

The tests run the CLI in-process through :func:`fieldgrad.cli.main` (the function the console
script calls: same code, no interpreter start-up per case) on small netCDF and zarr files, and
compare what it wrote, printed (capsys) and returned with the Python API and with analytic
derivatives. What only a real process shows runs as a subprocess (``python -m fieldgrad.cli``)
and is marked slow (``uv run pytest -m slow``, which CI runs after the default suite): the exit
status and one-line stderr of a whole process, and interruption by a signal (SIGTERM, SIGINT,
SIGKILL) during the write.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import fieldgrad
from fieldgrad import cli, registry

HAVE_H5PY = importlib.util.find_spec("h5py") is not None
needs_netcdf = pytest.mark.skipif(
    not HAVE_H5PY, reason="h5py is not installed: h5netcdf>=1.8 reads/writes netCDF only with its [h5py] extra"
)
ROOT = Path(__file__).resolve().parents[1]
HAVE_RENAMEAT2 = sys.platform == "linux" and hasattr(ctypes.CDLL(None), "renameat2")


def make_dataset() -> xr.Dataset:
    """Small 3-D fields with known derivatives on a uniform x, non-uniform y and uniform z."""
    x = np.linspace(0.0, 1.0, 12)
    y = np.sinh(np.linspace(-1.0, 1.0, 10))
    z = np.linspace(0.0, 2.0, 7)
    X, Y, Z = np.meshgrid(x, y, z, indexing="ij")
    ds = xr.Dataset(
        {
            "V": (("x", "y", "z"), 2 * X**2 + 3 * Y**2 - 4 * Z, {"units": "V", "long_name": "potential"}),
            "u": (("x", "y", "z"), -Y * (1 + 0 * Z)),
            "v": (("x", "y", "z"), X * (1 + 0 * Z)),
            "w": (("x", "y", "z"), X * Y * Z),
            "T": (("x", "y"), np.sin(2 * np.pi * X[:, :, 0])),
            "n": (("x", "k"), np.arange(12 * 3.0).reshape(12, 3)),  # k has no coordinate
        },
        coords={"x": ("x", x, {"units": "m"}), "y": ("y", y, {"units": "m"}), "z": ("z", z, {"units": "m"})},
        attrs={"title": "cli test"},
    )
    return ds


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("cli")
    ds = make_dataset()
    paths = {"dir": d, "zarr": d / "in.zarr"}
    ds.chunk({"x": 5}).to_zarr(paths["zarr"], consolidated=False)
    if HAVE_H5PY:
        paths["nc"] = d / "in.nc"
        ds.to_netcdf(paths["nc"], engine="h5netcdf")
    bad = d / "garbage.nc"
    bad.write_bytes(b"this is not a netCDF file\n" * 10)
    paths["garbage"] = bad
    empty = d / "empty.zarr"
    empty.mkdir()
    paths["empty"] = empty
    return paths


def run(*args: object, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fieldgrad.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env={**os.environ, "PYTHONWARNINGS": "default"},
    )


def call(*args: object) -> int:
    """Run the CLI in this process (same code as the console script, no interpreter start-up)."""
    return cli.main([str(a) for a in args])


IN_PROCESS = "in-process"
SUBPROCESS = pytest.param("subprocess", marks=pytest.mark.slow)  # a real process: exit status, stderr


def run_cli(how: str, capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of the CLI, in this process or in a subprocess."""
    assert how in ("in-process", "subprocess"), how
    if how == "subprocess":
        proc = run(*args)
        return proc.returncode, proc.stdout, proc.stderr
    capsys.readouterr()  # drop anything printed before
    code = call(*args)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, stdout: str, stderr: str, *fragments: str) -> None:
    assert code == 2, (code, stdout, stderr)
    err = stderr.strip()
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if not line.startswith("fieldgrad: warning:")]
    assert len(lines) == 1, err
    assert lines[0].startswith("fieldgrad: error: "), err
    for frag in fragments:
        assert frag in lines[0], (frag, lines[0])


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if "fieldgrad-tmp" in p.name or "fieldgrad-old" in p.name)


def source(files: dict[str, Path], kind: str) -> Path:
    if kind == "nc" and not HAVE_H5PY:
        pytest.skip("h5py is not installed: h5netcdf>=1.8 reads netCDF only with its [h5py] extra")
    return files[kind]


# ----------------------------------------------------------------------------- results


@pytest.mark.parametrize(
    "src,ext,how",
    [
        ("nc", "zarr", IN_PROCESS),
        ("zarr", "nc", IN_PROCESS),
        ("zarr", "zarr", IN_PROCESS),
        pytest.param("nc", "zarr", "subprocess", marks=pytest.mark.slow),
    ],
)
def test_gradient_matches_api_and_analytic(
    files: dict[str, Path], tmp_path: Path, src: str, ext: str, how: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if ext == "nc" and not HAVE_H5PY:
        pytest.skip("h5py is not installed: writing netCDF needs the h5netcdf[h5py] extra")
    out = tmp_path / f"grad.{ext}"
    argv = [
        "gradient",
        source(files, src),
        "--var",
        "V",
        "--dims",
        "x",
        "y",
        "z",
        "--accuracy",
        "2",
        "--edge-order",
        "2",
        "--out",
        out,
        "--quiet",
    ]
    code, stdout, stderr = run_cli(how, capsys, *argv)
    assert code == 0, stderr
    assert stdout == "" and "Completed" not in stderr, (stdout, stderr)  # --quiet
    assert out.exists() and leftovers(tmp_path) == []
    ds = make_dataset()
    opts = {"engine": "zarr", "consolidated": False} if ext == "zarr" else {"engine": "h5netcdf"}
    with xr.open_dataset(out, **opts) as got:
        g = got["grad_V"].load()
    expected = ds.V.grad.gradient(["x", "y", "z"], accuracy=2, edge_order=2)
    assert g.dims == ("component", "x", "y", "z")
    assert g.component.values.tolist() == ["x", "y", "z"]
    np.testing.assert_allclose(g.values, expected.values, rtol=1e-12, atol=1e-12)
    # second-order stencils are exact on a quadratic, on the non-uniform y too
    X, Y, _ = xr.broadcast(ds.x, ds.y, ds.z)
    np.testing.assert_allclose(g.sel(component="x").values, (4 * X).transpose("x", "y", "z").values, atol=1e-9)
    np.testing.assert_allclose(g.sel(component="y").values, (6 * Y).transpose("x", "y", "z").values, atol=1e-9)
    np.testing.assert_allclose(g.sel(component="z").values, -4.0, atol=1e-9)
    assert g.attrs["units"] == "V m-1"


def test_partial_and_options_match_api(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "p.zarr"
    assert (
        call(
            "partial",
            files["zarr"],
            "--var",
            "V",
            "w",
            "--dims",
            "x",
            "--order",
            "2",
            "--accuracy",
            "4",
            "--chunks",
            "x=4,y=5",
            "--out",
            out,
            "-q",
        )
        == 0
    )
    ds = make_dataset()
    with xr.open_zarr(out, consolidated=False) as got:
        assert set(got.data_vars) == {"d2V_dx2", "d2w_dx2"}
        assert got.chunks["x"][0] == 4 and got.chunks["y"][0] == 5
        for name, var in (("d2V_dx2", "V"), ("d2w_dx2", "w")):
            want = ds[var].grad.partial("x", order=2, accuracy=4)
            np.testing.assert_allclose(got[name].values, want.values, rtol=1e-12, atol=1e-10)
        np.testing.assert_allclose(got["d2V_dx2"].values, 4.0, atol=1e-8)  # ∂²(2x²)/∂x²
        assert got.attrs["title"] == "cli test" and "fieldgrad" in got.attrs["history"]

    out2 = tmp_path / "mixed.zarr"
    assert (
        call("partial", files["zarr"], "--var", "w", "--dims", "x", "y", "--boundary", "fill", "--out", out2, "-q") == 0
    )
    with xr.open_zarr(out2, consolidated=False) as got:
        want = ds.w.grad.partial({"x": 1, "y": 1}, boundary="fill")
        (name,) = got.data_vars
        xr.testing.assert_allclose(got[name].load().drop_attrs(), want.drop_attrs().rename(name), rtol=1e-12)
        interior = got[name].isel(x=slice(1, -1), y=slice(1, -1))
        np.testing.assert_allclose(interior.values, np.broadcast_to(ds.z.values, interior.shape), atol=1e-9)
        assert np.isnan(got[name].isel(x=0)).all()  # fill: NaN at the boundary

    out3 = tmp_path / "periodic.zarr"
    assert (
        call(
            "partial",
            files["zarr"],
            "--var",
            "T",
            "--dims",
            "x",
            "--boundary",
            "periodic",
            "--period",
            "1.0909090909090908",
            "--out",
            out3,
            "-q",
        )
        == 0
    )
    out4 = tmp_path / "periodic_x.zarr"  # per dim: x wraps, y keeps one-sided edges
    assert (
        call(
            "gradient",
            files["zarr"],
            "--var",
            "T",
            "--dims",
            "x",
            "y",
            "--boundary",
            "x=periodic",
            "--period",
            "x=1.0909090909090908",
            "--out",
            out4,
            "-q",
        )
        == 0
    )
    with xr.open_zarr(out4, consolidated=False) as got:
        want = ds.T.grad.gradient(["x", "y"], boundary={"x": "periodic"}, period={"x": 12 / 11})
        np.testing.assert_allclose(got["grad_T"].values, want.values, rtol=1e-12, atol=1e-12)
    with xr.open_zarr(out3, consolidated=False) as got:
        want = ds.T.grad.partial("x", boundary="periodic", period=12 / 11)
        np.testing.assert_allclose(got["dT_dx"].values, want.values, rtol=1e-12)


def test_vector_operations_match_api(files: dict[str, Path], tmp_path: Path) -> None:
    ds = make_dataset()
    if not hasattr(ds.grad, "divergence") or not hasattr(ds.grad, "curl") or not hasattr(ds.V.grad, "laplacian"):
        pytest.skip("divergence/curl/laplacian are not in the accessor yet")
    out = tmp_path / "div.zarr"
    assert call("divergence", files["zarr"], "--var", "u", "v", "--dims", "x", "y", "--out", out, "-q") == 0
    with xr.open_zarr(out, consolidated=False) as got:
        (name,) = got.data_vars
        want = ds.grad.divergence({"x": "u", "y": "v"})
        np.testing.assert_allclose(got[name].values, want.values, atol=1e-12)
        np.testing.assert_allclose(got[name].values, 0.0, atol=1e-9)  # ∂(-y)/∂x + ∂x/∂y = 0

    out = tmp_path / "curl2.zarr"
    assert call("curl", files["zarr"], "--var", "u", "v", "--dims", "x", "y", "--out", out, "-q") == 0
    with xr.open_zarr(out, consolidated=False) as got:
        (name,) = got.data_vars
        np.testing.assert_allclose(got[name].values, 2.0, atol=1e-9)  # solid rotation

    out = tmp_path / "curl3.zarr"
    assert (
        call(
            "curl",
            files["zarr"],
            "--var",
            "u",
            "v",
            "w",
            "--dims",
            "x",
            "y",
            "z",
            "--out",
            out,
            "-q",
            "--accuracy",
            "2",
            "--edge-order",
            "2",
        )
        == 0
    )
    with xr.open_zarr(out, consolidated=False) as got:
        (name,) = got.data_vars
        c = got[name].load()
        want = ds.grad.curl({"x": "u", "y": "v", "z": "w"}, accuracy=2, edge_order=2)
        np.testing.assert_allclose(c.transpose(*want.dims).values, want.values, atol=1e-12)
        X, Y, Z = xr.broadcast(ds.x, ds.y, ds.z)
        # curl (−y, x, xyz) = (xz, −yz, 2)
        np.testing.assert_allclose(c.sel(component="x").values, (X * Z).values, atol=1e-9)
        np.testing.assert_allclose(c.sel(component="y").values, (-Y * Z).values, atol=1e-9)
        np.testing.assert_allclose(c.sel(component="z").values, 2.0, atol=1e-9)

    out = tmp_path / "lap.zarr"
    assert call("laplacian", files["zarr"], "--var", "V", "--dims", "x", "y", "--out", out, "-q") == 0
    with xr.open_zarr(out, consolidated=False) as got:
        (name,) = got.data_vars
        np.testing.assert_allclose(got[name].values, 10.0, atol=1e-8)  # 4 + 6
        np.testing.assert_allclose(got[name].values, ds.V.grad.laplacian(["x", "y"]).values, rtol=1e-12)


def test_plugin_method_options(files: dict[str, Path], tmp_path: Path) -> None:
    if "polyfit" not in fieldgrad.available_methods():
        pytest.skip("the polyfit plugin is not installed yet")
    out = tmp_path / "poly.zarr"
    assert (
        call(
            "partial",
            files["zarr"],
            "--var",
            "V",
            "--dims",
            "x",
            "--method",
            "polyfit",
            "--option",
            "window=5",
            "--option",
            "degree=2",
            "--out",
            out,
            "-q",
        )
        == 0
    )
    with xr.open_zarr(out, consolidated=False) as got:
        want = make_dataset().V.grad.partial("x", method="polyfit", window=5, degree=2)
        np.testing.assert_allclose(got["dV_dx"].values, want.values, rtol=1e-10, atol=1e-10)


# ----------------------------------------------------------------------------- info and methods


def test_info(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(IN_PROCESS, capsys, "info", files["zarr"])
    assert code == 0, err
    assert "x: 12 points, 0 .. 1 m, uniform (step 0.0909091 m)" in out
    assert "y: 10 points" in out and "non-uniform" in out.split("y: 10 points")[1].splitlines()[0]
    assert "k: 3 points, no coordinate (unit spacing)" in out
    for line in ("V(x, y, z): float64, 12x10x7 [V] potential", "T(x, y): float64, 12x10", "n(x, k): float64, 12x3"):
        assert line in out, out


@pytest.mark.filterwarnings("ignore:The data type")  # zarr: fixed-length strings have no v3 specification
def test_info_labels_and_invalid_coordinates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ds = xr.Dataset(
        {"a": (("c", "t", "s"), np.zeros((2, 3, 4)))},
        coords={"c": ["x", "y"], "t": [0.0, 2.0, 1.0], "s": [3.0, 2.0, 0.5, 0.0]},
    )
    ds.to_zarr(tmp_path / "odd.zarr", consolidated=False)
    assert cli.main(["info", str(tmp_path / "odd.zarr")]) == 0
    out = capsys.readouterr().out
    assert "c: 2 points, labels x, y" in out
    assert "t: 3 points, invalid for derivatives: coordinate 't' must be strictly increasing" in out
    assert "s: 4 points, 3 .. 0, non-uniform (steps 0.5 .. 1.5), decreasing" in out


def test_methods(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(IN_PROCESS, capsys, "methods")
    assert code == 0, err
    assert out.startswith("fd: finite differences")
    assert "max order: any" in out and "non-uniform: yes" in out
    assert "options: accuracy=2, edge_order=None" in out
    assert "boundaries: one-sided, periodic, fill" in out


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize("how", [IN_PROCESS, SUBPROCESS])
@pytest.mark.parametrize("case", ["missing-file", "garbage", "empty-zarr", "missing-var", "missing-dim", "usage"])
def test_error_paths(
    files: dict[str, Path], tmp_path: Path, case: str, how: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.zarr"
    args: dict[str, tuple[list[object], tuple[str, ...]]] = {
        "missing-file": (
            ["gradient", tmp_path / "nope.nc", "--var", "V", "--out", out],
            ("input not found", "nope.nc"),
        ),
        "garbage": (["gradient", files["garbage"], "--var", "V", "--out", out], ("cannot read", "garbage.nc")),
        "empty-zarr": (["info", files["empty"]], ("cannot read", "empty.zarr")),
        "missing-var": (["gradient", files["zarr"], "--var", "Q", "--out", out], ("no variable 'Q'", "V")),
        "missing-dim": (
            ["partial", files["zarr"], "--var", "V", "--dims", "q", "--out", out],
            ("no dimension 'q'", "x, y, z"),
        ),
        "usage": (["partial", files["zarr"], "--var", "V", "--dims", "x"], ("--out",)),
    }
    argv, fragments = args[case]
    assert_one_line_error(*run_cli(how, capsys, *argv), *fragments)
    assert not out.exists() and leftovers(tmp_path) == []


IN_PROCESS_ERRORS = {
    "bad-extension": (["gradient", "{zarr}", "--var", "V", "--out", "{tmp}/out.txt"], "cannot tell the output format"),
    "unknown-method": (
        ["gradient", "{zarr}", "--var", "V", "--method", "nope", "--out", "{tmp}/o.zarr"],
        "unknown derivative method 'nope'",
    ),
    "odd-accuracy": (["gradient", "{zarr}", "--var", "V", "--accuracy", "3", "--out", "{tmp}/o.zarr"], "accuracy"),
    "bad-option": (["gradient", "{zarr}", "--var", "V", "--option", "window", "--out", "{tmp}/o.zarr"], "KEY=VALUE"),
    "unknown-option": (["gradient", "{zarr}", "--var", "V", "--option", "window=3", "--out", "{tmp}/o.zarr"], "window"),
    "component-count": (
        ["divergence", "{zarr}", "--var", "u", "--dims", "x", "y", "--out", "{tmp}/o.zarr"],
        "one --var per --dims",
    ),
    "curl-1d": (["curl", "{zarr}", "--var", "u", "--dims", "x", "--out", "{tmp}/o.zarr"], "2 or 3 components"),
    "boundary-kind": (
        ["gradient", "{zarr}", "--var", "V", "--boundary", "wrap", "--out", "{tmp}/o.zarr"],
        "unknown kind 'wrap'",
    ),
    "boundary-dim": (["gradient", "{zarr}", "--var", "V", "--boundary", "q=periodic", "--out", "{tmp}/o.zarr"], "'q'"),
    "period-value": (
        ["gradient", "{zarr}", "--var", "V", "--period", "x=long", "--out", "{tmp}/o.zarr"],
        "expected a number",
    ),
    "chunk-dim": (["gradient", "{zarr}", "--var", "V", "--chunks", "q=3", "--out", "{tmp}/o.zarr"], "'q'"),
    "chunk-size": (
        ["gradient", "{zarr}", "--var", "V", "--chunks", "x=zero", "--out", "{tmp}/o.zarr"],
        "must be an integer",
    ),
    "no-folder": (["gradient", "{zarr}", "--var", "V", "--out", "{tmp}/nofolder/o.zarr"], "folder does not exist"),
    "too-short": (["partial", "{zarr}", "--var", "n", "--dims", "k", "--accuracy", "8", "--out", "{tmp}/o.zarr"], "k"),
    "no-command": ([], ""),
    "unknown-command": (["frobnicate"], "invalid choice"),
}


@pytest.mark.parametrize("case", sorted(IN_PROCESS_ERRORS))
def test_error_paths_in_process(
    files: dict[str, Path], tmp_path: Path, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv, fragment = IN_PROCESS_ERRORS[case]
    argv = [a.format(zarr=files["zarr"], tmp=tmp_path) for a in argv]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    if case == "no-command":
        assert "usage:" in err
        return
    assert len(err.splitlines()) == 1 and err.startswith("fieldgrad: error: ") and fragment in err, err
    assert not (tmp_path / "o.zarr").exists() and leftovers(tmp_path) == []


def test_netcdf3_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "classic.nc"
    make_dataset()[["V"]].to_netcdf(src, engine="scipy")  # netCDF-3: not HDF5, read through scipy
    assert src.read_bytes()[:3] == b"CDF"
    out = tmp_path / "d.zarr"
    assert call("partial", src, "--var", "V", "--dims", "y", "--out", out, "-q") == 0
    with xr.open_zarr(out, consolidated=False) as got:
        want = make_dataset().V.grad.partial("y")
        np.testing.assert_allclose(got["dV_dy"].values, want.values, rtol=1e-12)


def test_existing_output_and_overwrite(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "res.zarr"
    assert call("partial", files["zarr"], "--var", "V", "--dims", "x", "--out", out, "-q") == 0
    stamp = sorted((p.name, p.stat().st_mtime_ns) for p in out.rglob("*"))

    result = run_cli(IN_PROCESS, capsys, "partial", files["zarr"], "--var", "u", "--dims", "y", "--out", out, "-q")
    assert_one_line_error(*result, "output exists", "--overwrite")
    assert sorted((p.name, p.stat().st_mtime_ns) for p in out.rglob("*")) == stamp  # untouched

    assert call("partial", files["zarr"], "--var", "u", "--dims", "y", "--out", out, "-q", "--overwrite") == 0
    with xr.open_zarr(out, consolidated=False) as got:
        assert list(got.data_vars) == ["du_dy"]
        np.testing.assert_allclose(got["du_dy"].values, -1.0, atol=1e-9)
    assert leftovers(tmp_path) == []


@needs_netcdf
@pytest.mark.parametrize("spelling", ["same", "relative", "symlink"])
def test_output_onto_the_input_is_refused(
    tmp_path: Path, spelling: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "self.nc"
    make_dataset().to_netcdf(path, engine="h5netcdf")
    before = path.read_bytes()
    monkeypatch.chdir(tmp_path)
    out = {"same": str(path), "relative": "./sub/../self.nc", "symlink": str(tmp_path / "link.nc")}[spelling]
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.nc").symlink_to(path)
    assert cli.main(["partial", str(path), "--var", "V", "--dims", "z", "--out", out, "--overwrite", "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--out is the input itself" in err, err
    assert path.read_bytes() == before and leftovers(tmp_path) == []


@pytest.mark.parametrize("ext", ["zarr", "nc"])
def test_exception_mid_write_leaves_nothing(
    files: dict[str, Path],
    tmp_path: Path,
    ext: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if ext == "nc" and not HAVE_H5PY:
        pytest.skip("h5py is not installed: writing netCDF needs the h5netcdf[h5py] extra")
    real_write = cli.files.write
    seen: list[Path] = []

    def failing_write(ds: xr.Dataset, tmp: Path, fmt: str, quiet: bool) -> None:
        real_write(ds, tmp, fmt, quiet)  # the whole output, under the temporary name
        seen.append(tmp)
        assert tmp.exists()
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(cli.files, "write", failing_write)
    out = tmp_path / f"res.{ext}"
    assert cli.main(["gradient", str(files["zarr"]), "--var", "V", "--out", str(out), "-q"]) == 2
    assert "disk full (simulated)" in capsys.readouterr().err
    assert seen and seen[0].parent == tmp_path and seen[0].name.startswith(f".res.{ext}.fieldgrad-tmp-")
    assert not out.exists() and leftovers(tmp_path) == []

    # an existing output survives a failed --overwrite unchanged
    out.mkdir() if ext == "zarr" else out.write_text("previous")
    assert cli.main(["gradient", str(files["zarr"]), "--var", "V", "--out", str(out), "-q", "--overwrite"]) == 2
    assert out.exists() and (ext == "zarr" or out.read_text() == "previous")
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("ext", ["zarr", "nc"])
def test_signal_noted_as_the_write_ends_leaves_nothing(
    files: dict[str, Path],
    tmp_path: Path,
    ext: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A signal noted by the handler while the last chunk was written (the main thread polling
    saw the write finish first): the run stops before the move, and its temporary is removed."""
    if ext == "nc" and not HAVE_H5PY:
        pytest.skip("h5py is not installed: writing netCDF needs the h5netcdf[h5py] extra")
    real_write = cli.files.write

    def write_then_signal(ds: xr.Dataset, tmp: Path, fmt: str, quiet: bool) -> None:
        real_write(ds, tmp, fmt, quiet)
        cli.signals.SIGNALS.received = signal.SIGTERM  # what the handler does in the "poll" mode

    monkeypatch.setattr(cli.files, "write", write_then_signal)
    out = tmp_path / f"res.{ext}"
    assert cli.main(["partial", str(files["zarr"]), "--var", "V", "--dims", "x", "--out", str(out), "-q"]) == 143
    assert capsys.readouterr().err.strip() == "fieldgrad: terminated (SIGTERM); no output written"
    assert not out.exists() and leftovers(tmp_path) == []


def open_output(out: Path) -> xr.Dataset:
    if out.suffix == ".zarr":
        return xr.open_dataset(out, engine="zarr", consolidated=False)
    return xr.open_dataset(out, engine="h5netcdf")


def _write_other(out: Path) -> None:
    """The output of another run: one variable, ``other``."""
    other = xr.Dataset({"other": ("p", [1.0, 2.0])})
    other.to_zarr(out, consolidated=False) if out.suffix == ".zarr" else other.to_netcdf(out, engine="h5netcdf")


@pytest.mark.parametrize(
    "ext,move",
    [("zarr", "renameat2"), ("zarr", "mkdir"), ("nc", "renameat2"), ("nc", "link"), ("nc", "placeholder")],
)
def test_output_written_meanwhile_is_not_replaced(
    files: dict[str, Path],
    tmp_path: Path,
    ext: str,
    move: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Two runs onto the same new output without --overwrite: both find no output when they start;
    the other finishes first. This one does not replace it: status 2, 'output exists', the other's
    output intact, this run's temporary removed. Through renameat2(RENAME_NOREPLACE), and through the
    fallbacks where it is missing: a hard link (file) or an empty folder (zarr), or an empty
    placeholder file where hard links are not supported."""
    if ext == "nc" and not HAVE_H5PY:
        pytest.skip("h5py is not installed: writing netCDF needs the h5netcdf[h5py] extra")
    if move == "renameat2":
        if not HAVE_RENAMEAT2:
            pytest.skip("no renameat2 in this C library")
    else:
        monkeypatch.setattr(cli.files, "_renameat2", lambda: None, raising=False)
    if move == "placeholder":

        def no_link(src: object, dst: object) -> None:
            raise PermissionError(1, "Operation not permitted")

        monkeypatch.setattr(os, "link", no_link)
    out = tmp_path / f"res.{ext}"
    real_write = cli.files.write

    def write_and_lose_the_race(ds: xr.Dataset, tmp: Path, fmt: str, quiet: bool) -> None:
        real_write(ds, tmp, fmt, quiet)
        _write_other(out)  # the other run moves its output into place first

    monkeypatch.setattr(cli.files, "write", write_and_lose_the_race)
    result = run_cli(IN_PROCESS, capsys, "partial", files["zarr"], "--var", "V", "--dims", "x", "--out", out, "-q")
    assert_one_line_error(*result, f"output exists: {out}", "--overwrite")
    with open_output(out) as got:
        assert list(got.data_vars) == ["other"]
    assert leftovers(tmp_path) == [] and sorted(p.name for p in tmp_path.iterdir()) == [out.name]

    # with --overwrite, the output written meanwhile is replaced
    out_of_the_way = tmp_path / f"first.{ext}"
    out.rename(out_of_the_way)
    assert call("partial", files["zarr"], "--var", "V", "--dims", "x", "--out", out, "-q", "--overwrite") == 0
    with open_output(out) as got:
        assert list(got.data_vars) == ["dV_dx"]
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("ext", ["zarr", "nc"])
@pytest.mark.parametrize("move", ["renameat2", "fallback"])
def test_new_output_moved_into_place(
    files: dict[str, Path], tmp_path: Path, ext: str, move: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No race: the output is moved into place whichever way the move is made."""
    if ext == "nc" and not HAVE_H5PY:
        pytest.skip("h5py is not installed: writing netCDF needs the h5netcdf[h5py] extra")
    if move != "renameat2":
        monkeypatch.setattr(cli.files, "_renameat2", lambda: None, raising=False)
    out = tmp_path / f"res.{ext}"
    assert call("partial", files["zarr"], "--var", "V", "--dims", "x", "--out", out, "-q") == 0
    with open_output(out) as got:
        np.testing.assert_allclose(got["dV_dx"].values, make_dataset().V.grad.partial("x").values)
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]


SLOW_RUNNER = textwrap.dedent('''
    import sys, time
    import dask
    import numpy as np
    import fieldgrad
    from fieldgrad.cli import main

    # one worker thread: the 20 blocks take 5 s on any machine (with a thread per core they would
    # be done in a fraction of a second on a many-core one, before the tests' signal arrives)
    dask.config.set(num_workers=1)

    @fieldgrad.register_method
    class Slow(fieldgrad.DerivativeMethod):
        """Centred differences that take their time: a stand-in for a long computation."""
        name = "slow-test"
        max_order = 1
        supports_nonuniform = True
        def halo(self, coord, order, **options):
            return 1
        def derivative(self, values, coord, *, axis, order, **options):
            if values.size and values.shape[axis] >= 2:
                time.sleep(0.25)
                return np.gradient(values, coord.values, axis=axis)
            return np.zeros_like(values)

    sys.exit(main())  # as the console script: the command-line path, with its signal handling
''')


def _slow_input(tmp_path: Path) -> Path:
    x = np.arange(40.0)
    src = tmp_path / "slow_in.zarr"
    xr.Dataset({"f": (("x", "y"), np.add.outer(x**2, x[:6]))}, coords={"x": x}).to_zarr(src, consolidated=False)
    (tmp_path / "slow_runner.py").write_text(SLOW_RUNNER)
    return src


def _start_slow(tmp_path: Path, src: Path, out: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            str(tmp_path / "slow_runner.py"),
            "partial",
            str(src),
            "--var",
            "f",
            "--dims",
            "x",
            "--method",
            "slow-test",
            "--chunks",
            "x=2",
            "--out",
            str(out),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )


def _wait_for_temporary(proc: subprocess.Popen[str], folder: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not leftovers(folder):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the temporary output never appeared"
        time.sleep(0.05)
    time.sleep(0.5)  # well into the write


@pytest.mark.slow  # signals to a real process
@pytest.mark.parametrize(
    "ext,sig",
    [("zarr", signal.SIGTERM), ("nc", signal.SIGINT), ("zarr", signal.SIGKILL)],
    ids=["TERM-zarr", "INT-nc", "KILL-zarr"],
)
def test_interrupted_run_leaves_no_output(tmp_path: Path, ext: str, sig: signal.Signals) -> None:
    if ext == "nc" and not HAVE_H5PY:
        pytest.skip("h5py is not installed: writing netCDF needs the h5netcdf[h5py] extra")
    src = _slow_input(tmp_path)
    out = tmp_path / f"slow_out.{ext}"
    proc = _start_slow(tmp_path, src, out)
    try:
        _wait_for_temporary(proc, tmp_path)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not out.exists()  # never a partial file under the output name
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
        return  # nothing can clean up after SIGKILL: a hidden temporary may remain, never OUT
    assert proc.returncode == cli.EXIT_STATUS[sig], err  # 130 for SIGINT, 143 for SIGTERM
    assert "; no output written" in err and "Traceback" not in err
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
@pytest.mark.parametrize("ext", ["zarr", "nc"])
def test_interruption_mid_write_in_process(
    files: dict[str, Path],
    tmp_path: Path,
    ext: str,
    how: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Ctrl-C (KeyboardInterrupt) or SIGTERM (main()'s handler) once the whole output is under the
    temporary name: status 130 / 143, one message, nothing left (real signals to a real process: the
    slow tests above and tests/test_cli_signals.py)."""
    if ext == "nc" and not HAVE_H5PY:
        pytest.skip("h5py is not installed: writing netCDF needs the h5netcdf[h5py] extra")
    real_write = cli.files.write
    seen: list[Path] = []
    before = signal.getsignal(signal.SIGTERM)

    def interrupted_write(ds: xr.Dataset, tmp: Path, fmt: str, quiet: bool) -> None:
        real_write(ds, tmp, fmt, quiet)
        seen.append(tmp)
        assert tmp.exists()
        if how == "ctrl-c":
            raise KeyboardInterrupt
        assert signal.getsignal(signal.SIGTERM) == cli.signals.SIGNALS.handler  # else the signal would end pytest
        signal.raise_signal(signal.SIGTERM)
        raise AssertionError("the SIGTERM handler did not interrupt the write")

    monkeypatch.setattr(cli.files, "write", interrupted_write)
    out = tmp_path / f"res.{ext}"
    code, stdout, stderr = run_cli(IN_PROCESS, capsys, "gradient", files["zarr"], "--var", "V", "--out", out, "-q")
    assert code == (130 if how == "ctrl-c" else 143), (stdout, stderr)
    what = "interrupted" if how == "ctrl-c" else "terminated (SIGTERM)"
    assert stderr.strip() == f"fieldgrad: {what}; no output written"
    assert seen and seen[0].parent == tmp_path and seen[0].name.startswith(f".res.{ext}.fieldgrad-tmp-")
    assert not out.exists() and leftovers(tmp_path) == []
    assert signal.getsignal(signal.SIGTERM) is before  # main() puts the previous handler back


class _SlowMethod(fieldgrad.DerivativeMethod):
    """Centred differences that take their time: a stand-in for a long computation."""

    name = "slow-test-in-process"
    max_order = 1
    supports_nonuniform = True
    pause = 1.2  # seconds per block: more than the progress bar's 1 s minimum, whatever the threads

    def halo(self, coord, order, **options):  # type: ignore[no-untyped-def]
        return 1

    def derivative(self, values, coord, *, axis, order, **options):  # type: ignore[no-untyped-def]
        if values.size and values.shape[axis] >= 2:
            time.sleep(self.pause)
            return np.gradient(values, coord.values, axis=axis)
        return np.zeros_like(values)


@pytest.fixture
def slow_method() -> Iterator[str]:
    fieldgrad.register_method(_SlowMethod)
    try:
        yield _SlowMethod.name
    finally:
        registry._unregister(_SlowMethod.name)


def test_slow_run_completes_with_progress_bar(
    tmp_path: Path, slow_method: str, capsys: pytest.CaptureFixture[str]
) -> None:
    x = np.arange(40.0)
    src = tmp_path / "slow_in.zarr"
    xr.Dataset({"f": (("x", "y"), np.add.outer(x**2, x[:6]))}, coords={"x": x}).to_zarr(src, consolidated=False)
    out = tmp_path / "slow_out.zarr"
    code, stdout, stderr = run_cli(
        IN_PROCESS,
        capsys,
        "partial",
        src,
        "--var",
        "f",
        "--dims",
        "x",
        "--method",
        slow_method,
        "--chunks",
        "x=20",
        "--out",
        out,
        "--progress",
    )
    assert code == 0, stderr
    assert "Completed" in stderr  # dask's progress bar, on stderr (asked for: stderr is no terminal here)
    assert f"wrote df_dx('x', 'y') to {out}" in stdout
    with xr.open_zarr(out, consolidated=False) as got:
        np.testing.assert_allclose(
            got["df_dx"].isel(x=slice(1, -1)).values, np.broadcast_to(2 * np.arange(1.0, 39.0)[:, None], (38, 6))
        )
    assert leftovers(tmp_path) == []


@pytest.mark.slow  # a real process
def test_slow_run_completes_with_progress_bar_subprocess(tmp_path: Path) -> None:
    src = _slow_input(tmp_path)
    out = tmp_path / "slow_out.zarr"
    proc = _start_slow(tmp_path, src, out, "--progress")
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert "Completed" in stderr  # dask's progress bar, on stderr
    assert f"wrote df_dx('x', 'y') to {out}" in stdout
    with xr.open_zarr(out, consolidated=False) as got:
        np.testing.assert_allclose(
            got["df_dx"].isel(x=slice(1, -1)).values, np.broadcast_to(2 * np.arange(1.0, 39.0)[:, None], (38, 6))
        )
    assert leftovers(tmp_path) == []


@pytest.mark.slow  # a real process
def test_no_progress_bar_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    src = _slow_input(tmp_path)
    out = tmp_path / "slow_out.zarr"
    proc = _start_slow(tmp_path, src, out)  # stderr is a pipe
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert "Completed" not in stderr and "[#" not in stderr, stderr
    assert f"wrote df_dx('x', 'y') to {out}" in stdout


def test_console_script_entry_point() -> None:
    """The console script enters through _fieldgrad_command.main, which runs cli.main after
    installing start-up handlers that stop the run as cli.main does: same line, same status."""
    from importlib.metadata import entry_points

    import _fieldgrad_command

    (ep,) = [e for e in entry_points(group="console_scripts") if e.name == "fieldgrad"]
    assert ep.value == "_fieldgrad_command:main"
    assert ep.load() is _fieldgrad_command.main
    stopped = {sig: (line.decode(), status) for sig, (line, status) in _fieldgrad_command.STOPPED.items()}
    assert stopped == {
        signal.SIGINT: ("fieldgrad: interrupted; no output written\n", cli.EXIT_STATUS[signal.SIGINT]),
        signal.SIGTERM: ("fieldgrad: terminated (SIGTERM); no output written\n", cli.EXIT_STATUS[signal.SIGTERM]),
    }


@pytest.mark.slow  # a fresh interpreter
def test_console_script_entry_module_imports_nothing_heavy() -> None:
    """Importing the console script's entry module loads no numpy, xarray, dask or fieldgrad: its
    signal handlers are in place before those imports (about half a second) begin."""
    code = (
        "import sys, _fieldgrad_command; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'numpy', 'xarray', 'dask', 'pandas', 'fieldgrad'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT.parent)
    assert (done.returncode, done.stdout.strip()) == (0, "[]"), done.stderr


@pytest.mark.parametrize("command", ["info", "methods", "partial", "gradient", "laplacian", "divergence", "curl"])
def test_help_has_an_example_and_no_spec_references(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main([command, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert "SPEC" not in text and "§" not in text
    assert "example" in text and f"fieldgrad {command}" in text.split("example")[1]


@pytest.mark.parametrize("module,ext", [("h5netcdf", "nc"), ("h5py", "nc"), ("zarr", "zarr")])
def test_missing_io_package_names_the_extra(
    files: dict[str, Path],
    tmp_path: Path,
    module: str,
    ext: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """As after `pip install fieldgrad` without [io]: the error says how to install it."""
    src = source(files, ext)
    monkeypatch.setitem(sys.modules, module, None)  # import fails, as when not installed
    assert cli.main(["partial", str(src), "--var", "V", "--dims", "x", "--out", str(tmp_path / "o.nc"), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install 'fieldgrad[io]'" in err and module in err, err
    assert leftovers(tmp_path) == []


def test_zarr_output_is_consolidated(files: dict[str, Path], tmp_path: Path) -> None:
    import warnings

    out = tmp_path / "c.zarr"
    assert call("partial", files["zarr"], "--var", "V", "--dims", "x", "--out", out, "-q") == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with xr.open_zarr(out) as got, xr.open_zarr(out, consolidated=True) as again:
            xr.testing.assert_identical(got, again)


@pytest.mark.slow
@pytest.mark.parametrize("ext,sig", [("zarr", signal.SIGINT), ("nc", signal.SIGTERM)], ids=["INT-zarr", "TERM-nc"])
def test_interrupted_overwrite_keeps_the_previous_output(tmp_path: Path, ext: str, sig: signal.Signals) -> None:
    """A real process interrupted while replacing an output: exit 130 (SIGINT) or 143 (SIGTERM)
    within seconds, one line on stderr, no temporary left, and the previous output as it was.
    tests/test_cli_signals.py runs the whole matrix (phases, formats, once/twice, group)."""
    if ext == "nc" and not HAVE_H5PY:
        pytest.skip("h5py is not installed: writing netCDF needs the h5netcdf[h5py] extra")
    src = _slow_input(tmp_path)
    out = tmp_path / f"slow_out.{ext}"
    xr.Dataset({"previous": ("p", [1.0, 2.0])}).to_zarr(out, consolidated=False) if ext == "zarr" else xr.Dataset(
        {"previous": ("p", [1.0, 2.0])}
    ).to_netcdf(out, engine="h5netcdf")
    before = (
        sorted((p.relative_to(out).as_posix(), p.read_bytes()) for p in out.rglob("*") if p.is_file())
        if ext == "zarr"
        else out.read_bytes()
    )
    proc = _start_slow(tmp_path, src, out, "--overwrite")
    try:
        _wait_for_temporary(proc, tmp_path)
        sent = time.monotonic()
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
        elapsed = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == cli.EXIT_STATUS[sig], err
    assert elapsed < 10, elapsed  # promptly: the chunks in flight finish, nothing more is started
    lines = [line for line in err.strip().splitlines() if not line.startswith("fieldgrad: warning:")]
    message = "terminated (SIGTERM)" if sig == signal.SIGTERM else "interrupted"
    assert lines == [f"fieldgrad: {message}; no output written"], err
    after = (
        sorted((p.relative_to(out).as_posix(), p.read_bytes()) for p in out.rglob("*") if p.is_file())
        if ext == "zarr"
        else out.read_bytes()
    )
    assert after == before
    assert leftovers(tmp_path) == []
