"""Plugins end to end: conformance (fieldgrad.testing), every operation in memory and chunked,
independent references (scipy), the example spectral plugin through an entry point."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
from scipy.interpolate import make_interp_spline
from scipy.signal import savgol_filter

import fieldgrad
from fieldgrad import registry
from fieldgrad.fd import FiniteDifference
from fieldgrad.testing import check_method
from fieldgrad_polyfit import PolyFit
from fieldgrad_spline import SplineFit, spline_derivative

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "custom_method" / "src"
RNG = np.random.default_rng(11)


# ----------------------------------------------------------------------------- conformance


CONFORMANCE_CASES = [
    (FiniteDifference, {}),
    (FiniteDifference, {"accuracy": 6, "edge_order": 2}),
    (PolyFit, {"window": 7, "degree": 4}),  # (the default window, 21, in the slow run: 4× the blocks' work)
    (PolyFit, {}),
    (SplineFit, {}),
    (SplineFit, {"smoothing": None, "degree": 5}),
    (SplineFit, {"smoothing": 0.3, "degree": 1}),
    (SplineFit, {"smoothing": 1e-3, "degree": 5}),
]
# the chunked part of check_method (dask arrays in chunks of one point, every boundary and NaN
# policy) takes seconds a case: the first case of every method in the default run, the others in
# the slow one (-m slow), and every case without dask in the default run
_FIRST_OF_EACH = dict(reversed(CONFORMANCE_CASES))  # each method: its first case


@pytest.mark.parametrize(
    ("cls", "options"),
    [
        pytest.param(cls, options, marks=() if _FIRST_OF_EACH[cls] is options else pytest.mark.slow)
        for cls, options in CONFORMANCE_CASES
    ],
)
def test_check_method_passes(cls: type, options: dict) -> None:
    counts = check_method(cls, options=options)
    assert counts["chunked"] > 0 and counts["lines"] > 0
    if cls is not SplineFit:
        assert counts["locality windows"] > 10


@pytest.mark.parametrize(("cls", "options"), CONFORMANCE_CASES)
def test_check_method_passes_in_memory(cls: type, options: dict) -> None:
    counts = check_method(cls, options=options, dask=False)
    assert counts["chunked"] == 0 and counts["lines"] > 0 and counts["axes"] > 0 and counts["threads"] > 0
    if cls is not SplineFit:
        assert counts["locality windows"] > 10


class _Base(fieldgrad.DerivativeMethod):
    """A correct centred difference (edge_order 1), to be broken in the tests below."""

    name = "broken-example"
    max_order = 1
    supports_nonuniform = True

    def halo(self, coord: Any, order: int, **options: Any) -> int:
        return 1

    def derivative(self, values: np.ndarray, coord: Any, *, axis: int, order: int, **options: Any) -> np.ndarray:
        return np.gradient(values, coord.values, axis=axis)


def test_check_method_passes_the_base_example() -> None:
    check_method(_Base)


class _WideStencil(_Base):
    def derivative(self, values, coord, *, axis, order, **options):  # type: ignore[no-untyped-def]
        d = np.gradient(values, coord.values, axis=axis)
        return d + 0.1 * np.roll(d, 2, axis=axis)  # reaches 2 points, and wraps


class _Mutates(_Base):
    def derivative(self, values, coord, *, axis, order, **options):  # type: ignore[no-untyped-def]
        coord.values[...] = coord.values  # writes to its input (read-only in the check)
        return np.gradient(values, coord.values, axis=axis)


class _Stateful(_Base):
    def derivative(self, values, coord, *, axis, order, **options):  # type: ignore[no-untyped-def]
        self.last = values.shape
        return np.gradient(values, coord.values, axis=axis)


class _MixesLines(_Base):
    def derivative(self, values, coord, *, axis, order, **options):  # type: ignore[no-untyped-def]
        d = np.gradient(values, coord.values, axis=axis)
        return d - d.mean()


class _DropsPoint(_Base):
    def derivative(self, values, coord, *, axis, order, **options):  # type: ignore[no-untyped-def]
        d = np.gradient(values, coord.values, axis=axis)
        return np.delete(d, 0, axis=axis)


class _Float32(_Base):
    def derivative(self, values, coord, *, axis, order, **options):  # type: ignore[no-untyped-def]
        return np.gradient(values, coord.values, axis=axis).astype(np.float32)


class _IgnoresAxis(_Base):
    def derivative(self, values, coord, *, axis, order, **options):  # type: ignore[no-untyped-def]
        return np.gradient(values, coord.values, axis=-1) if values.shape[-1] == coord.size else values * 0


@pytest.mark.parametrize(
    ("cls", "match"),
    [
        (_WideStencil, "locality"),
        (_Mutates, "purity|call"),
        (_Stateful, "purity"),
        (_MixesLines, "lines"),
        (_DropsPoint, "shape"),
        (_Float32, "dtype"),
        (_IgnoresAxis, "axes"),
    ],
)
def test_check_method_catches_broken_methods(cls: type, match: str) -> None:
    with pytest.raises(AssertionError, match=match):
        check_method(cls, dask=False)


def test_check_method_refuses_invalid_classes() -> None:
    class NoName(_Base):
        name = ""

    with pytest.raises(AssertionError, match="class"):
        check_method(NoName)


# ----------------------------------------------------------------------------- every operation

METHODS: dict[str, dict[str, Any]] = {
    "polyfit": {"method": "polyfit", "window": 7, "degree": 3},
    "spline-interp": {"method": "spline", "smoothing": None},
    "spline-auto": {"method": "spline"},
}


def scalar_field(nonuniform: bool = True) -> xr.DataArray:
    x = np.linspace(0.0, 3.0, 24)
    if nonuniform:
        x = x + 0.03 * np.sin(5 * x)
    y = np.linspace(-1.0, 1.0, 14)
    z = np.arange(8) * 0.4
    X, Y, Z = np.meshgrid(x, y, z, indexing="ij")
    data = np.sin(X) * np.cos(2 * Y) + 0.3 * Z**2 * X + 0.002 * RNG.normal(size=X.shape)
    da = xr.DataArray(data, dims=("x", "y", "z"), coords={"x": x, "y": y, "z": z}, name="T", attrs={"units": "K"})
    for d in da.dims:
        da[d].attrs["units"] = "m"
    return da


def vector_field() -> xr.DataArray:
    T = scalar_field()
    parts = [T, T**2 / 3, T * T.x]
    return xr.concat(parts, dim="component").assign_coords(component=["x", "y", "z"]).rename("E")


OPERATIONS: dict[str, Callable[[xr.DataArray, dict[str, Any]], Any]] = {
    "partial": lambda f, kw: f.grad.partial("x", **kw),
    "partial-order-2": lambda f, kw: f.grad.partial("y", order=2, **kw),
    "partial-mixed": lambda f, kw: f.grad.partial({"x": 1, "y": 1}, **kw),
    "call": lambda f, kw: f.grad("z", **kw),
    "gradient": lambda f, kw: f.grad.gradient(**kw),
    "gradient-dims": lambda f, kw: f.grad.gradient(["x", "y"], **kw),
    "laplacian": lambda f, kw: f.grad.laplacian(["x", "y"], **kw),
    "hessian": lambda f, kw: f.grad.hessian(["x", "y"], **kw),
    "directional": lambda f, kw: f.grad.directional({"x": 1, "y": 2}, **kw),
    "divergence": lambda f, kw: vector_of(f).grad.divergence(**kw),
    "curl": lambda f, kw: vector_of(f).grad.curl(**kw),
    "jacobian": lambda f, kw: vector_of(f).grad.jacobian(**kw),
    "magnitude-of-gradient": lambda f, kw: f.grad.gradient(**kw).grad.magnitude(),
    "dataset-partial": lambda f, kw: dataset_of(f).grad.partial("x", **kw),
    "dataset-gradient": lambda f, kw: dataset_of(f).grad.gradient(["x", "y"], **kw),
    "dataset-divergence": lambda f, kw: dataset_of(f).grad.divergence({"x": "u", "y": "v", "z": "w"}, **kw),
    "dataset-curl": lambda f, kw: dataset_of(f).grad.curl({"x": "u", "y": "v", "z": "w"}, **kw),
    "dataset-laplacian": lambda f, kw: dataset_of(f).grad.laplacian(["x", "z"], **kw),
}


def vector_of(f: xr.DataArray) -> xr.DataArray:
    return xr.concat([f, f**2 / 3, f * f.x], dim="component").assign_coords(component=["x", "y", "z"])


def dataset_of(f: xr.DataArray) -> xr.Dataset:
    return xr.Dataset({"u": f, "v": f**2 / 3, "w": f * f.x, "c": ("t", [1.0, 2.0])})


def _values(obj: Any) -> dict[str, np.ndarray]:
    if isinstance(obj, xr.Dataset):
        return {str(k): np.asarray(v.values) for k, v in obj.data_vars.items()}
    return {"": np.asarray(obj.values)}


# chunks of one point along x make many tiny tasks: every operation runs with them in the slow
# suite (-m slow), a representative few in the default one
_ONE_POINT_DEFAULT = {"partial", "partial-mixed", "gradient", "divergence", "dataset-partial"}
_CASES = [
    pytest.param(
        method,
        op,
        one_point,
        id=f"{method}-{op}-{'one-point' if one_point else 'ragged'}",
        marks=pytest.mark.slow if one_point and op not in _ONE_POINT_DEFAULT else (),
    )
    for method in METHODS
    for op in OPERATIONS
    for one_point in (False, True)
]


@pytest.mark.parametrize(("method", "operation", "one_point"), _CASES)
def test_every_operation_in_memory_and_chunked(method: str, operation: str, one_point: bool) -> None:
    f = scalar_field()
    kw = METHODS[method]
    op = OPERATIONS[operation]
    mem = op(f, kw)
    chunks = {"x": 1, "y": -1, "z": 4} if one_point else {"x": 5, "y": 7, "z": 3}
    lazy = op(f.chunk(chunks), kw)
    computed = _values(lazy.compute())  # once: all of a Dataset's variables in one pass
    for name, want in _values(mem).items():
        assert np.isfinite(want).all(), name
        got = computed[name]
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * np.abs(want).max(), err_msg=name)
    if isinstance(lazy, xr.DataArray):
        assert lazy.chunks is not None


def axis_derivative(method: str, values: np.ndarray, x: np.ndarray, axis: int, order: int) -> np.ndarray:
    """Independent references: scipy for polyfit (uniform) and interpolating splines; the plugin's
    function (tested against scipy in its own suite) for GCV splines."""
    if method == "polyfit":
        return savgol_filter(values, 7, 3, deriv=order, delta=x[1] - x[0], mode="interp", axis=axis)
    if method == "spline-interp":
        return make_interp_spline(x, values, k=3, axis=axis).derivative(order)(x)
    return spline_derivative(values, x, axis=axis, order=order)


@pytest.mark.parametrize("method", list(METHODS))
def test_vector_operations_against_references(method: str) -> None:
    f = scalar_field(nonuniform=(method != "polyfit"))
    kw = METHODS[method]
    x, y, z = (f[d].values for d in ("x", "y", "z"))
    V = vector_of(f)
    u, v, w = (V.sel(component=c).values for c in "xyz")

    def d(a: np.ndarray, axis: int, order: int = 1) -> np.ndarray:
        return axis_derivative(method, a, (x, y, z)[axis], axis, order)

    tol = dict(rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(V.grad.divergence(**kw).values, d(u, 0) + d(v, 1) + d(w, 2), **tol)
    curl = V.grad.curl(**kw)
    np.testing.assert_allclose(curl.sel(component="x").values, d(w, 1) - d(v, 2), **tol)
    np.testing.assert_allclose(curl.sel(component="z").values, d(v, 0) - d(u, 1), **tol)
    np.testing.assert_allclose(f.grad.laplacian(["x", "y"], **kw).values, d(f.values, 0, 2) + d(f.values, 1, 2), **tol)
    hess = f.grad.hessian(["x", "y"], **kw)
    # the engine takes the dims of a mixed derivative in the order given ("auto" smoothing is not linear)
    np.testing.assert_allclose(hess.sel(component="x", component2="y").values, d(d(f.values, 0), 1), **tol)
    g = f.grad.gradient(**kw)
    np.testing.assert_allclose(g.sel(component="z").values, d(f.values, 2), **tol)
    assert g.attrs.get("units") == "K m-1"


def test_noisy_field_polyfit_and_spline_beat_fd() -> None:
    x = np.linspace(0, 2 * np.pi, 400)
    f = xr.DataArray(np.sin(x)[:, None] + 0.01 * RNG.normal(size=(400, 8)), dims=("x", "r"), coords={"x": x})
    truth = np.cos(x)[:, None]
    rmse = {
        m: float(np.sqrt(((f.grad.partial("x", method=m) - truth) ** 2).mean())) for m in ("fd", "polyfit", "spline")
    }
    assert rmse["polyfit"] * 5 < rmse["fd"] and rmse["spline"] * 5 < rmse["fd"], rmse


def test_spline_nan_policies_in_memory_and_chunked() -> None:
    f = scalar_field()
    f[5, 3, 2] = np.nan
    f[10:14, 7, 0] = np.nan
    for nan_policy in ("propagate", "omit"):
        kw = dict(method="spline", nan_policy=nan_policy)
        mem = f.grad.partial("x", **kw)
        lazy = f.chunk(x=4, y=5).grad.partial("x", **kw)
        np.testing.assert_allclose(lazy.values, mem.values, rtol=1e-12, atol=1e-12, equal_nan=True)
        line = mem.values[:, 3, 2]
        if nan_policy == "propagate":
            assert np.isnan(line).all()
        else:
            assert np.isnan(line).sum() == 1
            col = f.values[6:, 3, 2]
            np.testing.assert_allclose(line[6:], spline_derivative(col, f.x.values[6:]), rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------- the example plugin


@pytest.fixture
def spectral_entry_point(monkeypatch: pytest.MonkeyPatch):
    """The example package as if installed: its module on sys.path, its entry point in the metadata."""
    monkeypatch.syspath_prepend(str(EXAMPLE))
    sys.modules.pop("fieldgrad_spectral", None)
    ep = EntryPoint(name="spectral", value="fieldgrad_spectral:Spectral", group=registry.GROUP)
    real = registry.entry_points

    def fake(group: str | None = None) -> Any:
        return [*real(group=group), ep]

    monkeypatch.setattr(registry, "entry_points", fake)
    registry.refresh_methods()
    yield
    monkeypatch.undo()
    sys.modules.pop("fieldgrad_spectral", None)
    registry.refresh_methods()


def test_example_plugin_through_its_entry_point(spectral_entry_point: None) -> None:
    assert "spectral" in fieldgrad.available_methods()
    assert "fieldgrad_spectral" not in sys.modules  # listed without importing it
    n = 64
    x = np.arange(n) * (2 * np.pi / n)
    da = xr.DataArray(np.sin(3 * x)[:, None] * np.ones(4), dims=("x", "y"), coords={"x": x})
    out = da.grad.partial("x", method="spectral", boundary="periodic")
    np.testing.assert_allclose(out.values, 3 * np.cos(3 * x)[:, None] * np.ones(4), atol=1e-10)
    lazy = da.chunk(x=5, y=1).grad.laplacian(["x"], method="spectral", boundary="periodic")
    np.testing.assert_allclose(lazy.values, -9 * np.sin(3 * x)[:, None] * np.ones(4), atol=1e-9)
    check_method(fieldgrad.get_method("spectral"), orders=[1, 2])


def test_whole_axis_periodic_method_with_nan_omit_gives_a_clear_error(spectral_entry_point: None) -> None:
    x = np.arange(16) * 0.5
    f = np.sin(x)
    f[3] = np.nan
    da = xr.DataArray(f, dims="x", coords={"x": x})
    with pytest.raises(ValueError, match="omit"):
        da.grad.partial("x", method="spectral", boundary="periodic", nan_policy="omit")


# ----------------------------------------------------------------------------- along a path, on the sphere


@pytest.mark.parametrize("method", list(METHODS))
def test_along_a_path_in_memory_and_chunked(method: str) -> None:
    f = scalar_field().isel(z=0, drop=True)
    path = {"x": np.linspace(0.5, 2.5, 6), "y": np.linspace(-0.5, 0.5, 6)}
    kw = METHODS[method]
    mem = f.grad.along(path, **kw)
    lazy = f.chunk(x=5, y=4).grad.along(path, **kw)
    np.testing.assert_allclose(lazy.values, mem.values, rtol=1e-12, atol=1e-12)
    g = f.grad.gradient(**kw)  # the projection of the gradient on the path's direction
    unit = np.array([2.0, 1.0]) / np.hypot(2.0, 1.0)
    at = {d: xr.DataArray(v, dims="p") for d, v in path.items()}
    want = (g.interp(at).transpose("component", "p").values * unit[:, None]).sum(axis=0)
    np.testing.assert_allclose(mem.values, want, rtol=1e-10, atol=1e-12)


def test_sphere_geometry_with_plugins() -> None:
    lat = np.linspace(-60, 60, 25)
    lon = np.arange(36) * 10.0  # the full circle: longitude is periodic by default
    T = xr.DataArray(
        np.cos(np.deg2rad(lat))[:, None] * np.sin(np.deg2rad(lon))[None, :],
        dims=("lat", "lon"),
        coords={"lat": ("lat", lat, {"units": "degrees_north"}), "lon": ("lon", lon, {"units": "degrees_east"})},
    )
    for kw in (
        {"method": "polyfit", "window": 7},  # periodic longitude emulated by the engine
        {"method": "spline", "boundary": {"lon": "one-sided"}},
    ):  # spline: one-sided only
        g = T.grad.gradient(["lat", "lon"], geometry="sphere", **kw)
        lazy = T.chunk(lat=4, lon=5).grad.gradient(["lat", "lon"], geometry="sphere", **kw)
        np.testing.assert_allclose(lazy.values, g.values, rtol=1e-12, atol=1e-18)
        fd = T.grad.gradient(["lat", "lon"], geometry="sphere", accuracy=4)
        np.testing.assert_allclose(g.values, fd.values, rtol=0, atol=0.02 * float(np.abs(fd).max()))
    # a method that cannot be periodic keeps a one-sided longitude instead of failing
    auto = T.grad.gradient(["lat", "lon"], geometry="sphere", method="spline")
    explicit = T.grad.gradient(["lat", "lon"], geometry="sphere", method="spline", boundary={"lon": "one-sided"})
    np.testing.assert_array_equal(auto.values, explicit.values)
    with pytest.raises(ValueError, match="does not support boundary='periodic'"):
        T.grad.gradient(["lat", "lon"], geometry="sphere", method="spline", boundary={"lon": "periodic"})


def test_check_method_catches_chunked_results_that_differ(monkeypatch: pytest.MonkeyPatch) -> None:
    """The chunked part compares every boundary and NaN policy with the in-memory engine: a block
    computed wrongly (here, scaled by 1 + 1e-6) is reported."""
    from fieldgrad import chunked

    original = chunked._differentiate_block

    @functools.wraps(original)  # (dask passes block_id to functions whose signature has it)
    def nudged(*args, **kwargs):  # type: ignore[no-untyped-def]
        out = original(*args, **kwargs)
        return out * (1 + 1e-6)

    monkeypatch.setattr(chunked, "_differentiate_block", nudged)
    with pytest.raises(AssertionError, match="chunked"):
        check_method(FiniteDifference)
