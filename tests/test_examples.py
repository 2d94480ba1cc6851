"""Run every example script small (FIELDGRAD_EXAMPLE_SMALL=1) and check its figure and numbers.

Each example runs in its own process, as a user would run it; the printed numbers are parsed
and checked against what the example claims (errors against exact derivatives, counts). Starting
a Python process per example costs seconds, so these runs are marked slow (``uv run pytest -m
slow``, which CI runs after the default suite); the check that every example has a test stays
in the default run.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import xarray as xr

import fieldgrad

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_example(name: str, tmp_path: Path, *args: str, timeout: float = 600) -> str:
    env = {
        **os.environ,
        "FIELDGRAD_EXAMPLE_SMALL": "1",
        "FIELDGRAD_EXAMPLE_OUT": str(tmp_path),
        "FIELDGRAD_EXAMPLE_QUIET": "1",
        "MPLBACKEND": "Agg",
    }
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr
    return proc.stdout


def number(pattern: str, text: str) -> float:
    m = re.search(pattern, text)
    assert m is not None, f"{pattern!r} not found in:\n{text}"
    return float(m.group(1))


def check_png(path: Path) -> None:
    assert path.exists(), f"{path.name} was not saved"
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000  # a real figure, not an empty canvas


def need(*ops: str, methods: tuple[str, ...] = ()) -> None:
    """Skip, naming the missing piece, when an operation or method an example uses is not there yet."""
    da = xr.DataArray([0.0, 1.0], dims="x")
    for op in ops:
        if not hasattr(da.grad, op):
            pytest.skip(f"the .grad accessor has no {op}() yet (SPEC §3)")
    available = fieldgrad.available_methods()
    for method in methods:
        if method not in available:
            pytest.skip(f"the {method!r} method plugin is not installed (plugins/)")


SCI = r"([0-9.]+(?:e[-+]?[0-9]+)?)"


@pytest.mark.slow
def test_image_edges(tmp_path: Path) -> None:
    need("gradient", "magnitude", "along")
    out = run_example("image_edges.py", tmp_path)
    check_png(tmp_path / "image_edges.png")
    assert "image synthetic: 64 x 64 pixels" in out
    peak = number(r"\|grad I\|: max " + SCI, out)
    assert 1.0 < peak < 5.0  # 0.5 / w = 2.6 per mm for the small image
    assert number(r"max error of \|grad I\| against the exact value: " + SCI, out) < 0.1 * peak
    err_along = number(r"fieldgrad along " + SCI, out)
    err_naive = number(r"nearest-pixel differences " + SCI, out)
    assert err_along < 0.1 * peak and err_naive > 10 * err_along


@pytest.mark.slow
def test_electric_field(tmp_path: Path) -> None:
    need("gradient", "divergence", "curl", "magnitude")
    out = run_example("electric_field.py", tmp_path)
    check_png(tmp_path / "electric_field.png")
    assert "E has dims ('component', 'x', 'y', 'z'), units 'V m-1'" in out
    assert number(r"quadratic potential: max \|E − E_exact\| = " + SCI, out) < 1e-10  # exact on quadratics
    e2 = number(r"accuracy=2: max \|E − E_exact\| / max\|E\| = " + SCI, out)
    e4 = number(r"accuracy=4: max \|E − E_exact\| / max\|E\| = " + SCI, out)
    assert e4 < e2 < 0.2
    assert number(r"max \|curl E\| / \(\|E\|/r\) = " + SCI, out) < 1e-10  # curl of a gradient: exactly 0


@pytest.mark.slow
def test_electric_field_convergence(tmp_path: Path) -> None:
    need("gradient", "divergence", "curl", "magnitude")
    out = run_example("electric_field.py", tmp_path, "--size", "41")
    errs = [number(rf"accuracy={a}: max \|E − E_exact\| / max\|E\| = " + SCI, out) for a in (2, 4, 6)]
    assert errs[0] > errs[1] > errs[2] and errs[2] < 1e-3
    assert number(r"max \|div E\| / \(\|E\|/r\) = " + SCI, out) < 0.05


@pytest.mark.slow
def test_noisy_derivatives(tmp_path: Path) -> None:
    need(methods=("polyfit", "spline"))
    out = run_example("noisy_derivatives.py", tmp_path)
    check_png(tmp_path / "noisy_derivatives.png")
    rms = {}
    for method in ("fd", "polyfit", "spline"):
        m = re.search(rf"^{method}\s+.*?\s{SCI}\s+{SCI}$", out, flags=re.M)
        assert m is not None, out
        rms[method] = (float(m.group(1)), float(m.group(2)))
    signal = re.search(rf"^\(signal\)\s+.*?\s{SCI}\s+{SCI}$", out, flags=re.M)
    d1, d2 = float(signal.group(1)), float(signal.group(2))
    for method in ("polyfit", "spline"):
        assert rms[method][0] < 0.1 * d1 and rms[method][1] < 0.5 * d2  # usable derivatives
        assert rms[method][0] < rms["fd"][0] / 5 and rms[method][1] < rms["fd"][1] / 20  # fd amplifies noise


@pytest.mark.slow
def test_gaps_and_masks(tmp_path: Path) -> None:
    need("gradient")
    out = run_example("gaps_and_masks.py", tmp_path)
    check_png(tmp_path / "gaps_and_masks.png")
    sea = number(r"grid \d+ x \d+: (\d+) sea points", out)
    prop = number(r"nan_policy='propagate' : d/dlon at (\d+) of", out)
    omit = number(r"nan_policy='omit'      : d/dlon at (\d+) of", out)
    assert prop < omit <= sea and omit > 0.9 * sea
    assert number(r"omit gives the same one \(max difference " + SCI, out) == 0.0
    assert number(r"nan_policy='propagate' .*? max error dT/dlon " + SCI, out) < 0.05
    assert number(r"recovered coastal points \(one-sided stencils\): RMS " + SCI, out) < 0.1


@pytest.mark.slow
def test_streaming_zarr_threaded(tmp_path: Path) -> None:
    need("gradient", "magnitude")
    out = run_example("streaming_zarr.py", tmp_path, "--workers", "0")
    check_png(tmp_path / "streaming_zarr.png")
    assert "gradient: lazy Array (2, 4, 96, 96), chunks (2, 1, 24, 24), units 'degC km-1'" in out
    assert number(r"relative " + SCI + r"\)", out) < 1e-3
    assert not list(tmp_path.glob("*.zarr"))  # stores removed without --keep


@pytest.mark.slow
def test_streaming_zarr_distributed(tmp_path: Path) -> None:
    need("gradient", "magnitude")
    out = run_example("streaming_zarr.py", tmp_path, "--workers", "2", "--keep")
    check_png(tmp_path / "streaming_zarr.png")
    assert "distributed (2 worker processes): wrote" in out
    assert number(r"equals the threaded one: max difference " + SCI, out) <= 1e-12
    assert (tmp_path / "streaming_gradient_distributed.zarr").is_dir()


@pytest.mark.slow
def test_geoscience_grids(tmp_path: Path) -> None:
    need("divergence", "curl", "gradient")
    pytest.importorskip("pyproj")
    out = run_example("geoscience_grids.py", tmp_path)
    check_png(tmp_path / "geoscience_grids.png")
    check_png(tmp_path / "geoscience_grids_regional.png")

    def errs(label: str, accuracy: int) -> tuple[float, float, float]:
        """(max error, relative, max |div|) of a printed vorticity line."""
        m = re.search(
            rf"{label}, accuracy={accuracy}: max \|ζ − ζ_exact\| = {SCI} s-1 \(relative {SCI}\)"
            rf".*?max \|div\| = {SCI} s-1",
            out,
        )
        assert m is not None, f"{label}, accuracy={accuracy} not found in:\n{out}"
        return float(m.group(1)), float(m.group(2)), float(m.group(3))

    def pole(label: str, accuracy: int) -> float:
        return number(rf"{label}, accuracy={accuracy}: .*?at the poles {SCI};", out)

    # a. the global grid (1.5° when small): second and fourth order, pole rows included
    rh2, rh4 = errs("Rossby–Haurwitz wave", 2), errs("Rossby–Haurwitz wave", 4)
    assert rh2[1] < 5e-3 and rh4[1] < 1e-4 and rh4[0] < rh2[0] / 20
    assert rh2[2] < 2e-7 and rh4[2] < 5e-9  # divergence-free wind: div is truncation error only
    assert pole("Rossby–Haurwitz wave", 2) < 1e-8 and pole("Rossby–Haurwitz wave", 4) < 1e-15
    zeta_pole = number(r"north pole: ζ = " + r"([-0-9.e+]+) s-1", out)
    assert abs(zeta_pole - 2 * 7.848e-6) < 1e-12
    xp2, xp4 = errs("flow across the poles", 2), errs("flow across the poles", 4)
    assert xp2[1] < 0.02 and xp4[1] < 1e-4  # largest next to the poles (∝ 1/cos φ)
    assert pole("flow across the poles", 2) < 1e-15 and pole("flow across the poles", 4) < 1e-15  # caps: exact
    assert "(the two pole rows, only there)" in out  # gradient components: NaN at the poles only
    assert number(r"NaN at (\d+) points", out) == 2 * 240
    assert number(r"wind k × ∇ψ: max error " + SCI, out) < 1e-2  # m s-1, against winds of ~100 m s-1
    if importlib.util.find_spec("pint_xarray") is not None:
        assert "with pint-xarray: vorticity in 1 / second" in out

    # b. rotated pole (2-D lat/lon) and c. Lambert conformal (map factors)
    for label in ("rotated pole", "Lambert conformal"):
        e2, e4 = errs(label, 2), errs(label, 4)
        assert e2[1] < 5e-3 and e4[1] < 1e-4 and e4[0] < e2[0] / 20, (label, e2, e4)
        assert e2[2] < 1e-7 and e4[2] < 1e-9, (label, e2, e4)
    assert number(r"vs the rotated sphere .*?max difference " + SCI, out) < 1e-4
    if "MetPy is not installed" not in out:
        metpy_err = number(r"max \|ζ_metpy − ζ_exact\| = " + SCI, out)
        diff = number(r"max \|ζ_fieldgrad − ζ_metpy\| = " + SCI, out)
        assert metpy_err < 5e-3 * 7.6e-5 and diff < metpy_err  # same order, closer to each other than to exact


@pytest.mark.slow
def test_quickstart(tmp_path: Path) -> None:
    out = run_example("quickstart.py", tmp_path)
    check_png(tmp_path / "quickstart.png")
    assert number(r"max \|E - E_exact\| = " + SCI, out) < 1e-10


@pytest.mark.slow
def test_custom_method(tmp_path: Path) -> None:
    scripts = sorted((EXAMPLES / "custom_method").glob("*.py")) if (EXAMPLES / "custom_method").is_dir() else []
    if not scripts:
        pytest.skip("examples/custom_method/ is not there yet (written by another helper)")
    main = next((p for p in scripts if p.stem in ("main", "run", "example", "custom_method")), scripts[0])
    out = run_example(str(main.relative_to(EXAMPLES)), tmp_path)
    assert out.strip()
    assert list(tmp_path.glob("*.png")), "the custom-method example saved no figure"


def test_every_example_is_tested() -> None:
    tested = {
        "image_edges",
        "electric_field",
        "noisy_derivatives",
        "gaps_and_masks",
        "streaming_zarr",
        "quickstart",
        "geoscience_grids",
    }
    scripts = {p.stem for p in EXAMPLES.glob("*.py") if not p.stem.startswith("_")}  # _common.py: shared helpers
    assert scripts <= tested, f"examples without a test: {sorted(scripts - tested)}"
