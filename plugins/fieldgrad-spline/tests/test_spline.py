"""The spline method against scipy.interpolate, dense references, limits and exact cases."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from scipy.interpolate import make_interp_spline, make_smoothing_spline

import fieldgrad
from fieldgrad_spline import SplineFit, spline_derivative
from fieldgrad_spline._smoothing import fit_auto, penalty_system

RNG = np.random.default_rng(7)


def rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


def jittered(n: int, lo: float = 0.0, hi: float = 10.0) -> np.ndarray:
    x = np.linspace(lo, hi, n)
    return x + RNG.uniform(-0.3, 0.3, n) * (x[1] - x[0])


def test_entry_point_resolves_to_spline() -> None:
    assert "spline" in fieldgrad.available_methods()
    assert isinstance(fieldgrad.get_method("spline"), SplineFit)


# ------------------------------------------------------------------ interpolating splines


@pytest.mark.parametrize("degree", [1, 2, 3, 4, 5])
def test_interpolating_equals_make_interp_spline(degree: int) -> None:
    x = jittered(40)
    y = RNG.normal(size=(3, 40))
    for order in range(1, degree + 1):
        got = spline_derivative(y, x, axis=1, order=order, degree=degree, smoothing=None)
        want = make_interp_spline(x, y, k=degree, axis=1).derivative(order)(x)
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9 * np.abs(want).max())


def test_interpolating_exact_for_polynomials() -> None:
    x = jittered(30, -2.0, 2.0)
    for degree in (3, 5):
        poly = np.polynomial.Polynomial(RNG.normal(size=degree + 1))
        for order in range(1, degree + 1):
            got = spline_derivative(poly(x), x, order=order, degree=degree, smoothing=None)
            np.testing.assert_allclose(got, poly.deriv(order)(x), rtol=1e-7, atol=1e-7)


# ------------------------------------------------------------------ smoothing splines, fixed penalty


@pytest.mark.parametrize("lam", [1e-4, 1e-2, 1.0, 30.0])
@pytest.mark.parametrize("grid", ["uniform", "jittered", "random"])
def test_fixed_penalty_equals_make_smoothing_spline(lam: float, grid: str) -> None:
    n = 120
    x = {"uniform": np.linspace(0, 10, n), "jittered": jittered(n), "random": np.sort(RNG.uniform(0, 10, n))}[grid]
    y = np.sin(x) + 0.1 * RNG.normal(size=(2, n))
    for order in range(4):
        got = spline_derivative(y, x, axis=-1, order=order, smoothing=lam)
        want = np.array([make_smoothing_spline(x, line, lam=lam).derivative(order)(x) for line in y])
        tol = 1e-9 if grid != "random" else 1e-6  # scipy itself loses digits on random points
        assert rel(got, want) < tol, (order, rel(got, want))


def dense_linear_smoother(x: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    """min |y - f|^2 + lam * integral f'^2 over piecewise linear f: (I + lam Δ^T H^-1 Δ) f = y."""
    n = x.size
    delta = np.diff(np.eye(n), axis=0)
    k = delta.T @ np.diag(1 / np.diff(x)) @ delta
    return np.linalg.solve(np.eye(n) + lam * k, y)


def test_degree_one_smoothing_equals_dense_reference() -> None:
    x = jittered(50)
    y = np.cos(x) + 0.2 * RNG.normal(size=50)
    for lam in (0.01, 1.0):
        f = dense_linear_smoother(x, y, lam)
        np.testing.assert_allclose(spline_derivative(y, x, order=0, degree=1, smoothing=lam), f, rtol=1e-10)
        slope = np.diff(f) / np.diff(x)
        np.testing.assert_allclose(
            spline_derivative(y, x, order=1, degree=1, smoothing=lam), np.append(slope, slope[-1]), rtol=1e-9
        )


@pytest.mark.parametrize("degree", [3, 5])
def test_smoothing_limits(degree: int) -> None:
    """No penalty: the natural interpolating spline; huge penalty: the least-squares polynomial of degree m-1."""
    m = (degree + 1) // 2
    x = jittered(40)
    y = np.sin(x) + 0.1 * RNG.normal(size=40)
    ends = [(j, 0.0) for j in range(m, 2 * m - 1)]
    natural = make_interp_spline(x, y, k=degree, bc_type=(ends, ends))
    for order in (0, 1, 2):
        got = spline_derivative(y, x, order=order, degree=degree, smoothing=0.0)
        np.testing.assert_allclose(
            got, natural.derivative(order)(x) if order else natural(x), rtol=1e-7, atol=1e-7 * np.abs(y).max()
        )
    poly = np.polynomial.Polynomial.fit(x, y, m - 1)
    for order in (0, 1):
        got = spline_derivative(y, x, order=order, degree=degree, smoothing=1e9)
        np.testing.assert_allclose(got, poly.deriv(order)(x), rtol=1e-4, atol=1e-4)


def test_lines_are_never_penalised() -> None:
    x = jittered(60)
    line = 2.5 * x - 1.0
    for smoothing in ("auto", 1.0, 1e6):
        np.testing.assert_allclose(spline_derivative(line, x, smoothing=smoothing), 2.5, rtol=1e-8)
        np.testing.assert_allclose(spline_derivative(line, x, order=2, smoothing=smoothing), 0.0, atol=1e-6)


# ------------------------------------------------------------------ GCV


def scipy_gcv_lambda(x: np.ndarray, y: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> float:
    import scipy.interpolate._bsplines as bsplines

    seen: list[float] = []
    original = bsplines._compute_optimal_gcv_parameter

    def spy(*args):  # type: ignore[no-untyped-def]
        seen.append(float(original(*args)))
        return seen[-1]

    monkeypatch.setattr(bsplines, "_compute_optimal_gcv_parameter", spy)
    make_smoothing_spline(x, y)
    return seen[-1]


@pytest.mark.parametrize("case", range(4))
def test_auto_matches_scipy_gcv(case: int, monkeypatch: pytest.MonkeyPatch) -> None:
    n = (150, 250, 200, 300)[case]
    x = np.linspace(0, 5, n) ** 1.3 if case % 2 else np.sort(RNG.uniform(0, 5, n))
    y = np.sin(2 * x) + (0.02, 0.1, 0.3, 0.05)[case] * RNG.normal(size=n)
    want_lam = scipy_gcv_lambda(x, y, monkeypatch)
    got, lam = spline_derivative(y, x, return_smoothing=True)
    assert abs(np.log10(float(lam) / want_lam)) < 0.02  # within 5 %
    want = make_smoothing_spline(x, y, lam=want_lam).derivative(1)(x)
    assert rel(got, want) < 5e-3


def test_auto_per_line_and_independent_of_the_other_lines() -> None:
    n = 200
    x = jittered(n)
    noise = np.array([0.0, 0.01, 0.1, 0.5])
    y = np.sin(x)[:, None] + noise * RNG.normal(size=(n, 4))
    y = np.tile(y, (1, 40))  # 160 lines: several blocks
    full, lam = spline_derivative(y, x, axis=0, return_smoothing=True)
    assert np.all(np.diff(lam[:4]) > 0)  # noisier lines are smoothed more
    for cols in (slice(0, 1), slice(3, 4), slice(5, 77), slice(63, 160)):
        part, lam_part = spline_derivative(y[:, cols], x, axis=0, return_smoothing=True, parallel=False)
        np.testing.assert_array_equal(part, full[:, cols])
        np.testing.assert_array_equal(lam_part, lam[cols])


def test_auto_beats_finite_differences_on_noisy_data() -> None:
    x = np.linspace(0, 2 * np.pi, 1000)
    y = np.sin(x) + 0.01 * RNG.normal(size=x.size)
    rmse_spline = np.sqrt(np.mean((spline_derivative(y, x) - np.cos(x)) ** 2))
    rmse_fd = np.sqrt(np.mean((np.gradient(y, x) - np.cos(x)) ** 2))
    assert rmse_spline * 10 < rmse_fd


def test_fit_auto_kernel_returns_fit_and_penalties() -> None:
    u = np.arange(100.0)
    y = np.c_[np.sin(u / 10), np.cos(u / 10)] + 0.01 * RNG.normal(size=(100, 2))
    fit, lam = fit_auto(y, penalty_system(u, 2))
    assert fit.shape == y.shape and lam.shape == (2,) and np.all(lam > 0)
    assert np.abs(fit - np.c_[np.sin(u / 10), np.cos(u / 10)]).max() < 0.04


# ------------------------------------------------------------------ conventions


def test_decreasing_coordinate() -> None:
    x = jittered(50)
    y = np.sin(x) + 0.05 * RNG.normal(size=50)
    for smoothing in (None, 0.5, "auto"):
        up = spline_derivative(y, x, smoothing=smoothing)
        down = spline_derivative(y[::-1], x[::-1], smoothing=smoothing)
        np.testing.assert_allclose(down[::-1], up, rtol=1e-10, atol=1e-12)


def test_axis_and_complex() -> None:
    x = jittered(30)
    f = RNG.normal(size=(4, 30, 3))
    a = spline_derivative(f, x, axis=1, smoothing=0.1)
    b = np.moveaxis(spline_derivative(np.moveaxis(f, 1, -1), x, axis=-1, smoothing=0.1), -1, 1)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    z = f + 1j * f[::-1]
    c = spline_derivative(z, x, axis=1, smoothing=0.1)
    np.testing.assert_allclose(c, a + 1j * a[::-1], rtol=1e-12, atol=1e-12)


def test_nan_spoils_only_its_line() -> None:
    x = jittered(40)
    y = np.sin(x)[:, None] + 0.01 * RNG.normal(size=(40, 3))
    y[10, 1] = np.nan
    for smoothing in (None, "auto", 0.1):
        out = spline_derivative(y, x, axis=0, smoothing=smoothing)
        assert np.isnan(out[:, 1]).all() and np.isfinite(out[:, [0, 2]]).all()
        clean = spline_derivative(y[:, [0, 2]], x, axis=0, smoothing=smoothing)
        np.testing.assert_array_equal(out[:, [0, 2]], clean)


@pytest.mark.parametrize(
    ("options", "order", "match"),
    [
        ({"degree": 4}, 1, "odd degree"),
        ({"degree": 6, "smoothing": None}, 1, "from 1 to 5"),
        ({"smoothing": -1.0}, 1, "penalty >= 0"),
        ({"smoothing": "gcv"}, 1, "'auto', None"),
        ({"degree": 3}, 4, "orders up to 3"),
        ({"window": 5}, 1, r"unexpected keyword 'window'.*options of method 'spline': degree, smoothing"),
    ],
)
def test_invalid_options(options: dict, order: int, match: str) -> None:
    da = xr.DataArray(np.arange(30.0), dims="x")
    with pytest.raises(ValueError, match=match):
        da.grad.partial("x", order=order, method="spline", **options)


def test_even_degree_interpolation_is_allowed() -> None:
    x = np.linspace(0, 1, 20)
    da = xr.DataArray(x**2, dims="x", coords={"x": x})
    out = da.grad.partial("x", method="spline", degree=4, smoothing=None)
    np.testing.assert_allclose(out.values, 2 * x, rtol=1e-8, atol=1e-10)


def test_boundary_kinds_other_than_one_sided_are_refused() -> None:
    da = xr.DataArray(np.sin(np.linspace(0, 6, 30)), dims="x")
    for kind in ("periodic", "fill"):
        with pytest.raises(ValueError, match="does not support boundary"):
            da.grad.partial("x", method="spline", boundary=kind)


def test_too_few_points() -> None:
    da = xr.DataArray(np.arange(3.0), dims="x")
    with pytest.raises(ValueError, match="at least 4 points"):
        da.grad.partial("x", method="spline")


# ------------------------------------------------------------------ the numpy and the compiled kernels


def _coordinates(n: int, rng: np.random.Generator) -> list[np.ndarray]:
    return [
        np.linspace(0, 10, n),
        np.linspace(0, 10, n) + rng.uniform(-0.3, 0.3, n) * 10 / n,
        np.linspace(0, 3, n) ** 3,  # very non-uniform
        np.sort(rng.uniform(0, 10, n)),
    ]


@pytest.mark.parametrize("n", [5, 12, 120])
def test_numpy_and_compiled_kernels_are_bit_identical(n: int) -> None:
    """jit="never" (numpy) and jit="always" (numba): the same fits, derivatives and penalties, bit for bit."""
    rng = np.random.default_rng(n)
    for x in _coordinates(n, rng):
        if not np.all(np.diff(x) > 0):
            continue
        y = np.sin(x)[:, None] * rng.uniform(0, 2, 7) + rng.uniform(0, 0.5, 7) * rng.normal(size=(n, 7))
        y[:, 0] = 2 * x + 1  # a straight line: no penalty needed
        y[:, 1] = 0.0
        y[n // 2, 2] = np.nan
        for degree in (1, 3, 5):
            if n < degree + 1:
                continue
            m = (degree + 1) // 2
            for smoothing in ("auto", 0.0, 1e-3, 1.0, 1e6):
                for order in range((2 * m - 1 if m <= 2 else 0) + 1):
                    got = []
                    for jit in ("never", "always"):
                        with fieldgrad.set_options(jit=jit):
                            got.append(
                                spline_derivative(
                                    y, x, axis=0, order=order, degree=degree, smoothing=smoothing, return_smoothing=True
                                )
                            )
                    np.testing.assert_array_equal(got[0][0], got[1][0])
                    np.testing.assert_array_equal(got[0][1], got[1][1])


def test_numpy_kernels_do_not_depend_on_chunking(monkeypatch: pytest.MonkeyPatch) -> None:
    from fieldgrad_spline import _vectorised

    x = jittered(60)
    y = np.sin(x)[:, None] + np.array([0.0, 0.01, 0.1, 0.3, 1.0]) * RNG.normal(size=(60, 5))
    with fieldgrad.set_options(jit="never"):
        whole = spline_derivative(y, x, axis=0, return_smoothing=True)
        monkeypatch.setattr(_vectorised, "CHUNK", 2)
        chunked = spline_derivative(y, x, axis=0, return_smoothing=True)
        alone = spline_derivative(y[:, 3:4], x, axis=0, return_smoothing=True)
    np.testing.assert_array_equal(whole[0], chunked[0])
    np.testing.assert_array_equal(whole[1], chunked[1])
    np.testing.assert_array_equal(whole[0][:, 3:4], alone[0])


def test_auto_uses_numpy_and_compiles_in_the_background(monkeypatch: pytest.MonkeyPatch) -> None:
    """jit="auto" before the kernels are ready: the call is computed by numpy, then starts the compilation."""
    from fieldgrad_spline import _smoothing

    started: list[bool] = []
    monkeypatch.setattr(_smoothing, "_ready", False)  # as in a fresh process
    monkeypatch.setattr(_smoothing, "compile_in_background", lambda: started.append(True))
    x = jittered(30)
    y = np.sin(x) + 0.1 * RNG.normal(size=30)
    with fieldgrad.set_options(jit="auto"):
        got = spline_derivative(y, x)
    assert started == [True]
    with fieldgrad.set_options(jit="never"):
        assert started == [True] and np.array_equal(got, spline_derivative(y, x))
    assert started == [True]


_FRESH = """
import sys, threading
import numpy as np
import fieldgrad_spline
assert "numba" not in sys.modules, "import fieldgrad_spline imported numba"
from fieldgrad_spline import spline_derivative, _smoothing
x = np.linspace(0.0, 6.0, 200)
y = np.sin(x)[:, None] + 0.01 * np.random.default_rng(0).normal(size=(200, 70))
first = spline_derivative(y, x, axis=0)        # the numpy kernels; the compilation starts after it
assert not _smoothing._ready and "fieldgrad-spline-jit" in [t.name for t in threading.enumerate()]
assert _smoothing.wait_for_compilation(600)
assert np.array_equal(first, spline_derivative(y, x, axis=0))
print("ok")
"""


@pytest.mark.slow  # fresh interpreters, one compiling the kernels on an empty numba cache
def test_fresh_process_first_call_does_not_wait_for_numba(tmp_path: Path) -> None:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "FIELDGRAD_JIT": "auto"}
    out = subprocess.run([sys.executable, "-c", _FRESH], capture_output=True, text=True, timeout=900, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["ok"]
    never = "import sys, numpy as np\nfrom fieldgrad_spline import spline_derivative\n"
    never += (
        "spline_derivative(np.random.default_rng(0).normal(size=50), np.arange(50.0))\nprint('numba' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", never],
        capture_output=True,
        text=True,
        timeout=300,
        env={**env, "FIELDGRAD_JIT": "never"},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False"]
