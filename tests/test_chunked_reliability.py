"""Chunked execution that must not depend on the process, the chunking or the number of chunks.

* ``halo_source="reread"`` builds a second read of any graph (:func:`fieldgrad.halos.halo_source`):
  it must be a whole copy under new keys, or dask's fusion fails in an order set by ``PYTHONHASHSEED``.
* A periodic axis needs fewer points than a block's one-sided ends: a block's window may wrap past
  the whole axis (:func:`fieldgrad.halos.block_extents`).
* On a non-uniform periodic axis the points near the seam are the method's wrap-around stencils, in
  memory and in a block alike (:func:`fieldgrad.chunked._window_derivative`): a NaN spoils exactly
  the points whose stencil gives it a non-zero weight.
* A uniform coordinate given a ``period`` other than its number of steps is not uniform across its
  wrap (:func:`fieldgrad.plan.wraps_uniformly`): every layer sees the other step there.
* Nothing grows with the number of blocks per block: a block's task holds its own window, not those
  of every block (a scheduler ships each task on its own: that was O(N²) bytes for N blocks).
"""

from __future__ import annotations

import itertools
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import dask
import numpy as np
import pytest
import xarray as xr
from dask._task_spec import convert_legacy_graph, fuse_linear_task_spec
from dask.core import flatten
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fieldgrad
from fieldgrad.halos import halo_source

# ----------------------------------------------------------------------------- reread halo source


def _vector(chunks: dict[str, int] | None) -> xr.DataArray:
    """A 2-component vector field, its components stacked after chunking (as from two stored variables):
    each component is then an indexing task (a ``dask._task_spec`` node) over a concatenation."""
    rng = np.random.default_rng(0)
    f = xr.DataArray(
        rng.normal(size=(12, 13)), dims=("x", "y"), coords={"x": np.arange(12.0), "y": np.cumsum(rng.uniform(1, 2, 13))}
    )
    if chunks:
        f = f.chunk(chunks)
    return xr.concat([f, 2 * f], "component").assign_coords(component=["x", "y"])


def test_second_read_is_a_whole_copy_under_new_keys():
    """Every task of the copy is under its own key and reads the copy's blocks, never the original's."""
    F = _vector({"x": 6, "y": 5})
    x = F.sel(component="y").data  # indexing tasks (dask._task_spec nodes) over a concatenation
    with fieldgrad.set_options(halo_source="reread"):
        again = halo_source(x)
    original = convert_legacy_graph(dict(x.__dask_graph__()))
    copy = convert_legacy_graph(dict(again.__dask_graph__()))
    assert not set(copy) & set(original)
    assert all(node.key == key for key, node in copy.items())  # what dask's fusion goes by
    assert all(dep in copy for node in copy.values() for dep in node.dependencies)  # nothing from x
    np.testing.assert_array_equal(again.compute(), x.compute())


@pytest.mark.parametrize("op", ["divergence", "curl"])
def test_reread_divergence_and_curl_fuse_in_any_order(op):
    """Linear fusion of the graph whatever order its keys come in (PYTHONHASHSEED decides it)."""
    F = _vector({"x": 6, "y": 5})
    with fieldgrad.set_options(halo_source="reread"):
        lazy = getattr(F.grad, op)()
    keys = list(flatten(lazy.data.__dask_keys__()))
    items = list(convert_legacy_graph(dict(lazy.data.__dask_graph__())).items())
    by_name = sorted(items, key=lambda kv: str(kv[0]))
    for order in (items, items[::-1], by_name, by_name[::-1]):
        fuse_linear_task_spec(dict(order), keys)
    with dask.config.set(scheduler="sync"):
        np.testing.assert_allclose(lazy.values, getattr(_vector(None).grad, op)().values, rtol=1e-12, atol=1e-12)


_SEEDED = """
import sys, numpy as np, xarray as xr, fieldgrad
from fieldgrad import cli
path, out = sys.argv[1], sys.argv[2]
ds = xr.open_zarr(path)
ref = ds.compute()
for op in ("divergence", "curl"):
    got = getattr(ds.grad, op)({"x": "u", "y": "v"}).values
    want = getattr(ref.grad, op)({"x": "u", "y": "v"}).values
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
sys.exit(cli.main(["divergence", path, "--var", "u", "v", "--dims", "x", "y", "--out", out, "--overwrite"]))
"""


@pytest.mark.slow
def test_reread_from_zarr_works_in_every_process(tmp_path: Path):
    """xr.open_zarr → divergence/curl and the CLI, with halos reread, under several PYTHONHASHSEEDs."""
    rng = np.random.default_rng(1)
    ds = xr.Dataset(
        {"u": (("x", "y"), rng.normal(size=(12, 13))), "v": (("x", "y"), rng.normal(size=(12, 13)))},
        coords={"x": np.arange(12.0), "y": np.arange(13.0)},
    )
    ds.chunk({"x": 6, "y": 5}).to_zarr(tmp_path / "in.zarr")
    failed = {}
    for seed in range(10):
        env = {**os.environ, "PYTHONHASHSEED": str(seed), "FIELDGRAD_HALO_SOURCE": "reread"}
        proc = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(_SEEDED), str(tmp_path / "in.zarr"), str(tmp_path / "o.nc")],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if proc.returncode:
            failed[seed] = proc.stderr.strip().splitlines()[-1:]
    assert not failed, failed


# ----------------------------------------------------------------------------- periodic axis at its minimum length


def chunkings(n: int) -> list[tuple[int, ...]]:
    """Every way to cut ``n`` points into chunks."""
    out = []
    for cuts in itertools.chain.from_iterable(itertools.combinations(range(1, n), k) for k in range(n)):
        bounds = (0, *cuts, n)
        out.append(tuple(b - a for a, b in itertools.pairwise(bounds)))
    return out


# the central stencils of the textbooks, (offset, weight) on unit spacing
CENTRAL = {
    (1, 2): {-1: -1 / 2, 1: 1 / 2},
    (2, 2): {-1: 1.0, 0: -2.0, 1: 1.0},
    (1, 4): {-2: 1 / 12, -1: -2 / 3, 1: 2 / 3, 2: -1 / 12},
    (2, 4): {-2: -1 / 12, -1: 4 / 3, 0: -5 / 2, 1: 4 / 3, 2: -1 / 12},
}


@pytest.mark.parametrize(("order", "accuracy", "n"), [(1, 2, 3), (2, 2, 3), (1, 4, 5), (2, 4, 5)])
def test_periodic_axis_at_its_minimum_length_any_chunking(order, accuracy, n):
    """Fewer points than one-sided ends need: chunked equals numpy's wrapped stencil and in memory."""
    rng = np.random.default_rng(n)
    h = 0.5
    v = rng.normal(size=(n, 2))
    if n == 3:
        v[:, 0] = [1.0, 4.0, 2.0]
    f = xr.DataArray(v, dims=("x", "y"), coords={"x": np.arange(n) * h})
    want = sum(w * np.roll(v, -k, axis=0) for k, w in CENTRAL[order, accuracy].items()) / h**order
    kw = dict(order=order, accuracy=accuracy, boundary="periodic")
    np.testing.assert_allclose(f.grad.partial("x", **kw).values, want, rtol=1e-12, atol=1e-12)
    for chunks in chunkings(n):
        got = f.chunk({"x": chunks}).grad.partial("x", **kw).values
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, err_msg=str(chunks))


# ----------------------------------------------------------------------------- NaN at the seam of a non-uniform axis


def _numpy_three_point_periodic(x: np.ndarray, period: float, f: np.ndarray) -> np.ndarray:
    """The periodic first derivative by numpy's three-point formulas: ``numpy.gradient`` of the axis
    extended by one point across each end. Every weight counts, a zero one too (0 * NaN is NaN, as in
    numpy's non-uniform formula and fieldgrad's interior rows)."""
    xs = np.concatenate([[x[-1] - period], x, [x[0] + period]])
    fs = np.concatenate([f[-1:], f, f[:1]])
    return np.gradient(fs, xs)[1:-1]


# the steps around the seam are equal (0.5, 0.5 from 2.0 over 2.5 to 3.0 = 0.0 + period), the others not
SEAM_X, SEAM_PERIOD = np.array([0.0, 0.5, 1.5, 2.0, 2.5]), 3.0


@pytest.mark.parametrize("at", [0, 4])
def test_nan_at_the_seam_reaches_as_numpy_gradient_on_the_extended_axis(at):
    """At the NaN itself the centre weight is exactly zero, and a zero weight still counts (numpy's
    non-uniform formula): the NaN and its two neighbours across the seam are NaN, the other points
    finite, in memory and in every chunking."""
    v = np.array([0.3, -0.2, 0.7, 0.4, 0.1])
    v[at] = np.nan
    want = _numpy_three_point_periodic(SEAM_X, SEAM_PERIOD, v)
    assert np.isnan(want[[(at - 1) % 5, at, (at + 1) % 5]]).all() and np.isfinite(want).sum() == 2
    f = xr.DataArray(v, dims="x", coords={"x": SEAM_X})
    kw = dict(boundary="periodic", period=SEAM_PERIOD)
    np.testing.assert_allclose(f.grad.partial("x", **kw).values, want, rtol=1e-12, atol=1e-12)
    with dask.config.set(scheduler="sync"):
        for chunks in chunkings(5):
            got = f.chunk({"x": chunks}).grad.partial("x", **kw).values
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, err_msg=str(chunks))


def test_gradient_with_a_nan_at_the_seam_chunked_equals_in_memory():
    """The gradient's blocks (one fused pass, then end strips across the seam) agree too."""
    rng = np.random.default_rng(3)
    v = rng.normal(size=(5, 40))
    v[4, 7] = v[0, 30] = np.nan
    f = xr.DataArray(v, dims=("x", "y"), coords={"x": SEAM_X, "y": np.cumsum(rng.uniform(0.5, 1.5, 40))})
    kw = dict(boundary="periodic", period={"x": SEAM_PERIOD, "y": 50.0})
    want = f.grad.gradient(**kw).values
    assert np.isnan(want[0, 4, 7]) and np.isnan(want[0, 0, 30])  # zero centre weights at the seam count
    assert np.isfinite(want[0, 2, 7]) and np.isfinite(want[1, 4, 5])
    with dask.config.set(scheduler="sync"):
        for chunks in [{"x": 1, "y": 40}, {"x": (2, 3), "y": 13}, {"x": 5, "y": (30, 10)}, {"x": (4, 1), "y": 1}]:
            got = f.chunk(chunks).grad.gradient(**kw).values
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, err_msg=str(chunks))
            np.testing.assert_array_equal(np.isnan(got), np.isnan(want))


@st.composite
def seam_problems(draw):
    """A periodic axis of steps 0.5, 1 or 1.5 (equal steps around many points, the seam included
    or not), a few NaNs, a derivative and a chunking."""
    n = draw(st.integers(3, 9))
    steps = np.array(draw(st.lists(st.sampled_from([0.5, 1.0, 1.5]), min_size=n, max_size=n)))
    x = np.concatenate([[0.0], np.cumsum(steps[:-1])])
    period = float(x[-1] + steps[-1])
    v = np.random.default_rng(draw(st.integers(0, 2**16))).normal(size=(n, 2))
    for i in draw(st.sets(st.integers(0, n - 1), max_size=2)):
        v[i, 0] = np.nan
    order, accuracy = draw(st.sampled_from([(1, 2), (2, 2), (1, 4), (3, 2)]))
    nan_policy = draw(st.sampled_from(["propagate", "omit"]))
    chunks = draw(st.sampled_from(chunkings(n)))
    kw = dict(order=order, accuracy=accuracy, boundary="periodic", period=period, nan_policy=nan_policy)
    return xr.DataArray(v, dims=("x", "y"), coords={"x": x}), kw, chunks


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seam_problems())
def test_periodic_nonuniform_axis_with_nans_any_chunking_equals_in_memory(problem):
    f, kw, chunks = problem
    try:
        want = f.grad.partial("x", **kw).values
    except ValueError:  # too few points for these options: nothing to compare
        return
    with dask.config.set(scheduler="sync"):
        got = f.chunk({"x": chunks}).grad.partial("x", **kw).values
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))


# ----------------------------------------------------------------------------- a period that is not the steps


@pytest.mark.parametrize("period", [5.5, 4.75])
def test_uniform_axis_with_another_period_sees_the_step_across_the_wrap(period):
    """Steps of 0.5 and a wrap of 1.0 or 0.75: numpy's non-uniform formulas there, in memory, in
    every chunking, and with nan_policy="omit" whatever NaN is elsewhere on the axis."""
    x = np.arange(10) * 0.5
    v = np.sin(2 * np.pi * x / period)
    want = _numpy_three_point_periodic(x, period, v)
    f = xr.DataArray(v, dims="x", coords={"x": x})
    kw = dict(boundary="periodic", period=period)
    np.testing.assert_allclose(f.grad.partial("x", **kw).values, want, rtol=1e-12, atol=1e-12)
    holed = f.copy(data=np.where(np.arange(10) == 5, np.nan, v))
    omit = holed.grad.partial("x", nan_policy="omit", **kw).values
    far = np.abs(np.arange(10) - 5) > 2  # the NaN's run ends change the points near it only
    np.testing.assert_allclose(omit[far], want[far], rtol=1e-12, atol=1e-12)
    with dask.config.set(scheduler="sync"):
        for chunks in [1, 2, 3, (9, 1), (1, 9), 10]:
            got = f.chunk({"x": chunks}).grad.partial("x", **kw).values
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, err_msg=str(chunks))
            got = holed.chunk({"x": chunks}).grad.partial("x", nan_policy="omit", **kw).values
            np.testing.assert_allclose(got, omit, rtol=1e-12, atol=1e-12, err_msg=str(chunks))
        second = f.grad.partial("x", order=2, **kw).values
        got = f.chunk({"x": 1}).grad.partial("x", order=2, **kw).values
        np.testing.assert_allclose(got, second, rtol=1e-12, atol=1e-12)


def test_a_uniform_only_method_refuses_a_period_that_is_not_the_steps():
    class UniformOnly(fieldgrad.DerivativeMethod):
        name = "uniform-only-wrap"
        max_order = 1

        def halo(self, coord, order):
            return 1

        def derivative(self, values, coord, *, axis, order):
            assert coord.spacing is not None  # never called on positions that are not uniform
            return np.gradient(values, coord.spacing, axis=axis)

    x = np.arange(6.0)
    f = xr.DataArray(np.sin(x), dims="x", coords={"x": x})
    want = (np.roll(np.sin(x), -1) - np.roll(np.sin(x), 1)) / 2
    np.testing.assert_allclose(f.grad.partial("x", method=UniformOnly, boundary="periodic").values, want)
    np.testing.assert_allclose(f.grad.partial("x", method=UniformOnly, boundary="periodic", period=6.0).values, want)
    for data in (f, f.chunk({"x": 2})):
        with pytest.raises(ValueError, match=r"'x' is not uniform across its periodic wrap \(period=7.0"):
            data.grad.partial("x", method=UniformOnly, boundary="periodic", period=7.0)


# ----------------------------------------------------------------------------- per-block cost


def _task_bytes(lazy: xr.DataArray, prefix: str) -> float:
    """Mean bytes of a block task, each pickled on its own (as a distributed scheduler sends it)."""
    tasks = [t for k, t in convert_legacy_graph(dict(lazy.data.__dask_graph__())).items() if k[0].startswith(prefix)]
    return float(np.mean([len(pickle.dumps(t)) for t in tasks[:50]]))


@pytest.mark.parametrize("boundary", ["one-sided", "periodic"])
def test_a_block_task_does_not_grow_with_the_number_of_blocks(boundary):
    def field(n: int) -> xr.DataArray:
        x = np.cumsum(np.random.default_rng(n).uniform(0.5, 1.5, n))
        return xr.DataArray(np.sin(x), dims="x", coords={"x": x}).chunk(1)

    def partial(f: xr.DataArray) -> xr.DataArray:
        period = float(f.x[-1]) + 1.0 if boundary == "periodic" else None
        return f.grad.partial("x", accuracy=4, boundary=boundary, period=period)

    small, large = (_task_bytes(partial(field(n)), "_differentiate_block") for n in (40, 640))
    assert large < 1.2 * small, (small, large)
    f = field(640)
    np.testing.assert_allclose(pickle.loads(pickle.dumps(partial(f))).values, partial(f.compute()).values, rtol=1e-12)


def test_a_gradient_block_task_does_not_grow_with_the_number_of_blocks():
    def grad(n: int) -> xr.DataArray:
        f = xr.DataArray(np.ones((2 * n, 2 * n)), dims=("x", "y"), coords={"x": np.arange(2.0 * n) ** 1.5})
        return f.chunk(2).grad.gradient(boundary="periodic", period={"x": (2.0 * n) ** 1.5})

    small, large = _task_bytes(grad(8), "_gradient_block"), _task_bytes(grad(64), "_gradient_block")
    assert large < 1.2 * small, (small, large)
