"""Hypothesis properties of the derivative engine (SPEC §2).

* chunked (dask, any chunking, 1-point chunks included) equals in-memory to 1e-12 relative, for
  orders 1-2, accuracies 2-8, every edge order, boundary kind and NaN policy;
* linearity, constants and straight lines, reversing / translating / scaling the coordinate,
  commuting mixed derivatives.

Each property runs with a few examples in the default run and with more in its ``_full`` twin,
marked slow (``uv run pytest -m slow``, which CI runs after the default suite).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dask.array as dsa
import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import fieldgrad
from fieldgrad.coords import exactly_uniform

QUICK_EXAMPLES, FULL_EXAMPLES = 10, 25
QUICK = settings(max_examples=QUICK_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FULL = settings(QUICK, max_examples=FULL_EXAMPLES)


def quick_and_full(*strategies: Any) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """``@given(*strategies)`` twice: ``QUICK_EXAMPLES`` examples in the default run, and a twin
    ``<name>_full`` with ``FULL_EXAMPLES`` under the slow marker (``uv run pytest -m slow``)."""

    def decorate(test: Callable[..., None]) -> Callable[..., None]:
        test.__globals__[f"{test.__name__}_full"] = pytest.mark.slow(FULL(given(*strategies)(test)))
        return QUICK(given(*strategies)(test))

    return decorate


@dataclass
class Problem:
    da: xr.DataArray
    dim: str
    kw: dict[str, Any]
    chunks: dict[str, tuple[int, ...]]


def partitions(draw: Any, n: int) -> tuple[int, ...]:
    """A random chunking of n points (1-point chunks are likely)."""
    style = draw(st.sampled_from(["random", "ones", "whole", "even"]))
    if style == "ones":
        return (1,) * n
    if style == "whole":
        return (n,)
    if style == "even":
        size = draw(st.integers(1, n))
        return tuple([size] * (n // size) + ([n % size] if n % size else []))
    cuts = sorted(draw(st.sets(st.integers(1, n - 1), max_size=n - 1))) if n > 1 else []
    bounds = [0, *cuts, n]
    return tuple(b - a for a, b in itertools.pairwise(bounds))


def coordinate(draw: Any, n: int, kind: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "none":
        return np.arange(n, dtype=float)
    if kind == "uniform":
        return draw(st.sampled_from([0.1, 0.5, 1.0, 3.0])) * np.arange(n) + 2.0
    x = np.cumsum(rng.uniform(0.3, 2.0, n))
    return x[::-1].copy() if kind == "decreasing" else x


@st.composite
def problems(draw: Any, *, max_ndim: int = 3) -> Problem:
    ndim = draw(st.integers(1, max_ndim))
    dims = ["x", "y", "z"][:ndim]
    dim = draw(st.sampled_from(dims))
    order = draw(st.integers(1, 2))
    accuracy = draw(st.sampled_from([2, 4, 6, 8]))
    edge_order = draw(st.one_of(st.none(), st.integers(1, accuracy), st.integers(1, 8)))
    boundary = draw(st.sampled_from(["one-sided", "periodic", "fill"]))
    nan_policy = draw(st.sampled_from(["propagate", "omit"]))
    seed = draw(st.integers(0, 2**32 - 1))
    kind = draw(st.sampled_from(["uniform", "nonuniform", "decreasing", "none"]))
    rng = np.random.default_rng(seed)
    need = order + max(accuracy, edge_order or 0) + 1  # every centred (non-uniform) and one-sided stencil fits
    sizes = {d: (draw(st.integers(need, need + 12)) if d == dim else draw(st.integers(1, 5))) for d in dims}
    coords = {}
    for d in dims:
        if d == dim and kind != "none":
            coords[d] = coordinate(draw, sizes[d], kind, seed)
    values = rng.standard_normal(tuple(sizes.values()))
    nan_fraction = draw(st.sampled_from([0.0, 0.0, 0.05, 0.2]))
    values[rng.random(values.shape) < nan_fraction] = np.nan
    da = xr.DataArray(values, dims=dims, coords=coords, name="f")
    kw: dict[str, Any] = {
        "order": order,
        "accuracy": accuracy,
        "edge_order": edge_order,
        "boundary": boundary,
        "nan_policy": nan_policy,
    }
    if boundary == "periodic" and kind in ("nonuniform", "decreasing"):
        x = coords[dim]
        kw["period"] = float(abs(x[-1] - x[0]) + draw(st.sampled_from([0.5, 1.0, 1.7])))
    if boundary == "fill":
        kw["fill_value"] = draw(st.sampled_from([np.nan, 0.0, -7.5]))
    chunks = {d: partitions(draw, sizes[d]) for d in dims}
    return Problem(da, dim, kw, chunks)


def assert_close(actual: np.ndarray, expected: np.ndarray, rtol: float = 1e-12) -> None:
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    finite = np.isfinite(expected)
    if finite.any():
        scale = max(float(np.abs(expected[finite]).max()), 1e-300)
        np.testing.assert_allclose(actual[finite], expected[finite], rtol=0, atol=rtol * scale)


# ---------------------------------------------------------------------------------------------
# chunked == in memory


HALO_SOURCES = st.sampled_from(["neighbours", "reread"])  # halos cut from the blocks, or a second read


@quick_and_full(problems(), HALO_SOURCES)
def test_chunked_equals_in_memory(p: Problem, halo_source: str) -> None:
    kw = dict(p.kw)
    order = kw.pop("order")
    expected = p.da.grad.partial(p.dim, order=order, **kw)
    lazy = p.da.chunk(p.chunks)
    with fieldgrad.set_options(halo_source=halo_source):
        actual = lazy.grad.partial(p.dim, order=order, **kw)
    assert isinstance(actual.data, dsa.Array)
    assert actual.chunks == lazy.chunks
    assert actual.dtype == expected.dtype
    assert_close(actual.values, expected.values)


@st.composite
def wide_block_problems(draw: Any) -> tuple[xr.DataArray, dict[str, Any], dict[str, int]]:
    """2-3 dims, each with its own boundary kind and coordinate kind, in blocks wide enough that
    the points near block ends are recomputed from thin strips (not the small-block path)."""
    dims = ["x", "y", "z"][: draw(st.integers(2, 3))]
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    sizes = {d: draw(st.integers(24, 40)) for d in dims}
    kinds = {d: draw(st.sampled_from(["one-sided", "periodic", "fill"])) for d in dims}
    coords, period = {}, {}
    for d in dims:
        coords[d] = coordinate(draw, sizes[d], draw(st.sampled_from(["uniform", "nonuniform"])), seed)
        if kinds[d] == "periodic" and coords[d][1] - coords[d][0] != coords[d][2] - coords[d][1]:
            period[d] = float(coords[d][-1] - coords[d][0] + 1.0)
    values = rng.standard_normal(tuple(sizes.values()))
    if draw(st.booleans()):
        values[rng.random(values.shape) < 0.02] = np.nan
    kw = {
        "accuracy": draw(st.sampled_from([2, 4])),
        "boundary": kinds,
        "period": period or None,
        "nan_policy": draw(st.sampled_from(["propagate", "omit"])),
    }
    chunks = {d: draw(st.integers(12, 20)) for d in dims}
    return xr.DataArray(values, dims=dims, coords=coords, name="f"), kw, chunks


@quick_and_full(wide_block_problems(), HALO_SOURCES)
def test_chunked_equals_in_memory_with_a_boundary_kind_per_dim(problem: Any, halo_source: str) -> None:
    da, kw, chunks = problem
    with fieldgrad.set_options(halo_source=halo_source):
        lazy_gradient = da.chunk(chunks).grad.gradient(**kw)
        lazy_partial = da.chunk(chunks).grad.partial(da.dims[-1], **kw)  # along the contiguous axis
    assert_close(lazy_gradient.values, da.grad.gradient(**kw).values)
    assert_close(lazy_partial.values, da.grad.partial(da.dims[-1], **kw).values)


@quick_and_full(problems(max_ndim=3), HALO_SOURCES)
def test_chunked_gradient_equals_in_memory(p: Problem, halo_source: str) -> None:
    kw = {k: v for k, v in p.kw.items() if k not in ("order", "period")}
    if kw["boundary"] == "periodic":
        kw["period"] = {p.dim: p.kw["period"]} if "period" in p.kw else None
    dims = list(p.da.dims)
    # gradient needs every dim long enough: only use dims with enough points
    dims = [d for d in dims if p.da.sizes[d] >= 1 + max(kw["accuracy"], kw["edge_order"] or 0) + 1]
    assume(dims)
    expected = p.da.grad.gradient(dims, **kw)
    with fieldgrad.set_options(halo_source=halo_source):
        actual = p.da.chunk(p.chunks).grad.gradient(dims, **kw)
    assert isinstance(actual.data, dsa.Array)
    assert_close(actual.values, expected.values)


@quick_and_full(st.data())
def test_chunked_mixed_derivative_equals_in_memory(data: Any) -> None:
    accuracy = data.draw(st.sampled_from([2, 4, 6]))
    boundary = data.draw(st.sampled_from(["one-sided", "periodic", "fill"]))
    nx, ny = (data.draw(st.integers(accuracy + 3, accuracy + 10)) for _ in range(2))
    seed = data.draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.uniform(0.5, 1.5, nx))
    y = np.linspace(0, 1, ny)
    da = xr.DataArray(rng.standard_normal((nx, ny)), dims=("x", "y"), coords={"x": x, "y": y})
    kw: dict[str, Any] = {"accuracy": accuracy, "boundary": boundary}
    if boundary == "periodic":
        kw["period"] = {"x": float(x[-1] - x[0] + 1.0)}
    orders = data.draw(st.sampled_from([{"x": 1, "y": 1}, {"x": 2, "y": 1}, {"y": 2, "x": 1}]))
    expected = da.grad.partial(orders, **kw).values
    chunks = {"x": partitions(data.draw, nx), "y": partitions(data.draw, ny)}
    actual = da.chunk(chunks).grad.partial(orders, **kw).values
    assert_close(actual, expected)


@quick_and_full(st.data())
def test_numpy_compat_dask_equals_numpy(data: Any) -> None:
    shape = tuple(data.draw(st.lists(st.integers(3, 9), min_size=1, max_size=3)))
    edge_order = data.draw(st.sampled_from([1, 2]))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    f = rng.standard_normal(shape)
    spacing = [np.cumsum(rng.uniform(0.5, 1.5, n)) if data.draw(st.booleans()) else 0.5 for n in shape]
    chunks = tuple(partitions(data.draw, n) for n in shape)
    expected = np.gradient(f, *spacing, edge_order=edge_order)
    actual = fieldgrad.gradient(dsa.from_array(f, chunks=chunks), *spacing, edge_order=edge_order)
    if len(shape) == 1:
        expected, actual = [expected], [actual]
    for a, e in zip(actual, expected, strict=True):
        assert isinstance(a, dsa.Array)
        assert_close(a.compute(), e)


# ---------------------------------------------------------------------------------------------
# algebraic properties


@quick_and_full(problems(max_ndim=2), st.floats(-3, 3), st.floats(-3, 3))
def test_linearity(p: Problem, a: float, b: float) -> None:
    kw = dict(p.kw)
    order = kw.pop("order")
    kw["nan_policy"] = "propagate"
    kw.pop("fill_value", None)  # a finite fill value is not linear
    f = p.da.fillna(0.0)
    g = xr.zeros_like(f) + np.cos(np.arange(f.size)).reshape(f.shape)
    df = f.grad.partial(p.dim, order=order, **kw).values
    dg = g.grad.partial(p.dim, order=order, **kw).values
    dh = (a * f + b * g).grad.partial(p.dim, order=order, **kw).values
    expected = a * df + b * dg
    nan = np.isnan(expected)
    np.testing.assert_array_equal(np.isnan(dh), nan)
    scale = np.nanmax(np.abs(a * df) + np.abs(b * dg)) if (~nan).any() else 1.0
    np.testing.assert_allclose(dh[~nan], expected[~nan], rtol=0, atol=1e-12 * max(scale, 1e-300))


@quick_and_full(problems(max_ndim=2), st.floats(-100, 100), st.floats(-10, 10))
def test_constants_and_straight_lines(p: Problem, c: float, slope: float) -> None:
    """d/dx of c + slope * x is slope, every second derivative of it is 0 (every boundary kind, up to
    round-off), except where ``fill`` puts its fill value. Periodic boundaries only see constants."""
    kw = dict(p.kw)
    order = kw.pop("order")
    kw["nan_policy"] = "propagate"
    x = p.da[p.dim].values if p.dim in p.da.coords else np.arange(p.da.sizes[p.dim], dtype=float)
    periodic = kw["boundary"] == "periodic"
    line = c + (0.0 if periodic else slope) * x
    shape = [1] * p.da.ndim
    shape[p.da.get_axis_num(p.dim)] = -1
    f = xr.zeros_like(p.da.fillna(0.0)) + line.reshape(shape)
    out = f.grad.partial(p.dim, order=order, **kw).values
    expected = (0.0 if periodic else slope) if order == 1 else 0.0
    h = np.abs(np.diff(x)).min()
    tol = 1e-11 * (abs(c) + abs(slope) * np.abs(x).max() + 1) / h**order
    fill = kw.get("fill_value", np.nan)
    is_fill = np.isnan(out) if np.isnan(fill) else out == fill
    if kw["boundary"] != "fill":
        assert not is_fill.any()
    np.testing.assert_allclose(out[~is_fill], expected, rtol=0, atol=tol)


@quick_and_full(problems(max_ndim=2))
def test_reversing_the_coordinate(p: Problem) -> None:
    """The same samples listed in the opposite order have the same derivative at each point
    (default edge_order; see test_reversing_with_low_edge_order for the others)."""
    kw = dict(p.kw)
    order = kw.pop("order")
    kw["edge_order"] = None
    if p.dim not in p.da.coords:
        p.da = p.da.assign_coords({p.dim: np.arange(p.da.sizes[p.dim], dtype=float)})
    forward = p.da.grad.partial(p.dim, order=order, **kw)
    flipped = p.da.isel({p.dim: slice(None, None, -1)})
    backward = flipped.grad.partial(p.dim, order=order, **kw).isel({p.dim: slice(None, None, -1)})
    assert_close(backward.values, forward.values, rtol=1e-11)


@pytest.mark.parametrize(("order", "accuracy", "chunk"), [(2, 2, 1), (2, 4, 1), (2, 6, 1), (4, 2, 1)])
def test_periodic_second_derivative_on_small_chunks(order: int, accuracy: int, chunk: int) -> None:
    x = np.arange(12.0)
    da = xr.DataArray(np.sin(2 * np.pi * x / 12), dims="x", coords={"x": x})
    expected = da.grad.partial("x", order=order, accuracy=accuracy, boundary="periodic").values
    actual = da.chunk({"x": chunk}).grad.partial("x", order=order, accuracy=accuracy, boundary="periodic").values
    assert_close(actual, expected)


def test_reversing_with_low_edge_order() -> None:
    x = np.array([1.383, 2.141, 2.511, 2.839, 4.522, 6.373])
    da = xr.DataArray(np.array([0.126, -0.132, 0.640, 0.105, -0.536, 0.362]), dims="x", coords={"x": x})
    forward = da.grad.partial("x", accuracy=4, edge_order=1).values
    backward = da.isel(x=slice(None, None, -1)).grad.partial("x", accuracy=4, edge_order=1).values[::-1]
    np.testing.assert_allclose(backward, forward, rtol=1e-12)


@quick_and_full(problems(max_ndim=2), st.sampled_from([1e-3, 0.25, 4.0, 1e3]), st.floats(-1e3, 1e3))
def test_scaling_and_translating_the_coordinate(p: Problem, scale: float, shift: float) -> None:
    """x -> s x + t divides the derivative by s**order."""
    kw = dict(p.kw)
    order = kw.pop("order")
    x = p.da[p.dim].values if p.dim in p.da.coords else np.arange(p.da.sizes[p.dim], dtype=float)
    moved_kw = dict(kw)
    if "period" in kw:
        moved_kw["period"] = kw["period"] * scale
    base = p.da.assign_coords({p.dim: x}).grad.partial(p.dim, order=order, **kw).values
    moved = p.da.assign_coords({p.dim: scale * x + shift}).grad.partial(p.dim, order=order, **moved_kw).values
    if kw["boundary"] == "fill" and not np.isnan(kw.get("fill_value", np.nan)):
        return  # the fill value is not scaled
    # translation loses ~|shift| / h digits of the positions
    h = np.abs(np.diff(x)).min()
    rtol = 1e-10 * (1 + abs(shift) / (scale * h))
    if exactly_uniform(x) != exactly_uniform(scale * x + shift):
        # one is uniform only to round-off: its NaNs reach their stencils' centres too, as numpy's and
        # xarray's do on such positions; the values agree wherever both are defined
        rounded, exact = (base, moved) if not exactly_uniform(x) else (moved, base)
        assert not (np.isnan(exact) & ~np.isnan(rounded)).any()
        both = ~np.isnan(base) & ~np.isnan(moved)
        assert_close((moved * scale**order)[both], base[both], rtol=rtol)
        return
    assert_close(moved * scale**order, base, rtol=rtol)


@quick_and_full(st.data())
def test_chunking_never_changes_nan_positions(data: Any) -> None:
    """With nan_policy='omit', a NaN-free run split over many chunks is still one domain."""
    n = data.draw(st.integers(12, 30))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    f = rng.standard_normal(n)
    holes = data.draw(st.sets(st.integers(0, n - 1), max_size=5))
    f[list(holes)] = np.nan
    accuracy = data.draw(st.sampled_from([2, 4, 6, 8]))
    da = xr.DataArray(f, dims="x", coords={"x": np.cumsum(rng.uniform(0.5, 1.5, n))})
    expected = da.grad.partial("x", accuracy=accuracy, nan_policy="omit").values
    actual = da.chunk({"x": partitions(data.draw, n)}).grad.partial("x", accuracy=accuracy, nan_policy="omit").values
    assert_close(actual, expected)
    # every finite value sits in a NaN-free run of at least two points
    for i in np.flatnonzero(np.isfinite(expected)):
        left = i > 0 and np.isfinite(f[i - 1])
        right = i < n - 1 and np.isfinite(f[i + 1])
        assert np.isfinite(f[i]) and (left or right)


def test_problem_strategy_draws_every_option() -> None:
    """Sanity check of the strategy itself: it can produce each boundary kind and NaN policy."""
    seen: set[tuple[str, str]] = set()

    @settings(max_examples=60, deadline=None, derandomize=True, database=None)
    @given(problems(max_ndim=1))
    def collect(p: Problem) -> None:
        seen.add((p.kw["boundary"], p.kw["nan_policy"]))

    collect()
    assert len(seen) >= 4
