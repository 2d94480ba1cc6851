"""Chunked execution that must not depend on the process, the chunking or the number of chunks.

* ``halo_source="reread"`` builds a second read of any graph (:func:`fieldgrad.chunked.halo_source`):
  it must be a whole copy under new keys, or dask's fusion fails in an order set by ``PYTHONHASHSEED``.
* A periodic axis needs fewer points than a block's one-sided ends: a block's window may wrap past
  the whole axis (:func:`fieldgrad.chunked.block_extents`).
"""

from __future__ import annotations

import itertools
import os
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

import fieldgrad
from fieldgrad.chunked import halo_source

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
