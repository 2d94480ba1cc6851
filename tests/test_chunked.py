"""Chunked execution (halo exchange): what methods receive, any chunking, graph size, laziness, errors."""

from __future__ import annotations

import threading
from typing import ClassVar

import dask
import dask.array as da
import numpy as np
import pytest
import xarray as xr

import fieldgrad
from fieldgrad.halos import block_extents
from fieldgrad.registry import _unregister

N = 40


class _Recorder(fieldgrad.DerivativeMethod):
    """Records the global index ranges it is given; values encode their own global index."""

    supports_nonuniform = True
    boundaries = ("one-sided",)
    max_order = 1
    k: int | None = 2
    calls: ClassVar[list[tuple[int, int]]] = []  # per subclass (see recorder), shared by its instances
    _lock = threading.Lock()

    def halo(self, coord, order, **options):
        return self.k

    def derivative(self, values, coord, *, axis, order, **options):
        idx = np.moveaxis(values, axis, 0)[:, 0].astype(int)  # the row index is stored in the field
        assert np.all(np.diff(idx) == 1), "a method must receive a contiguous window of the axis"
        with self._lock:
            type(self).calls.append((int(idx[0]), int(idx[-1]) + 1))
        return np.gradient(values, coord.values, axis=axis)


def _field(chunks: int | tuple) -> xr.DataArray:
    data = np.repeat(np.arange(N, dtype=float)[:, None], 3, axis=1)
    return xr.DataArray(data, dims=("x", "y"), coords={"x": np.arange(N) * 0.5}).chunk({"x": chunks})


@pytest.fixture
def recorder():
    names = []

    def make(k):
        cls = type(f"Rec{k}", (_Recorder,), {"name": f"recorder-{k}", "k": k, "calls": []})
        fieldgrad.register_method(cls)
        names.append(cls.name)
        return cls

    yield make
    for name in names:
        _unregister(name)


@pytest.mark.parametrize("k", [1, 3])
def test_finite_halo_borrows_exactly_k_on_interior_sides_and_nothing_across_edges(recorder, k):
    cls = recorder(k)
    chunks = (10, 10, 10, 10)
    out = _field(chunks).grad.partial("x", method=cls.name)
    assert not cls.calls  # lazy: nothing computed yet
    out.compute()
    bounds = [(0, 10), (10, 20), (20, 30), (30, 40)]

    def served_by(lo: int, hi: int, s: int, e: int) -> bool:
        """The window is (part of) block [s, e) plus exactly k borrowed points on a side it extends to."""
        inside = max(s - k, 0) <= lo < e and s < hi <= min(e + k, N)
        return inside and (lo >= s or lo == max(s - k, 0)) and (hi <= e or hi == min(e + k, N))

    for lo, hi in set(cls.calls):
        assert 0 <= lo < hi <= N  # never wraps across the domain edge
        assert any(served_by(lo, hi, s, e) for s, e in bounds), (lo, hi, k)
    # the first and last blocks never borrow beyond the domain
    assert min(lo for lo, _ in cls.calls) == 0 and max(hi for _, hi in cls.calls) == N
    # and the result is the in-memory one
    np.testing.assert_allclose(out, _field(-1).compute().grad.partial("x", method=cls.name))


def test_whole_axis_method_receives_the_whole_axis(recorder):
    cls = recorder(None)
    f = _field(7).chunk({"y": 1})
    out = f.grad.partial("x", method=cls.name)
    assert out.chunks == f.chunks
    out.compute()
    assert set(cls.calls) == {(0, N)}
    assert len(cls.calls) == 3  # one call per chunk of the other axis


@pytest.mark.parametrize("chunks", [1, 2, 3, (1, 38, 1), (33, 6, 1), (39, 1), 40, (5, 1, 1, 1, 32)])
@pytest.mark.parametrize("boundary", ["one-sided", "periodic", "fill"])
@pytest.mark.parametrize(("order", "accuracy"), [(1, 2), (1, 8), (2, 4), (3, 2)])
def test_any_chunking_equals_in_memory(chunks, boundary, order, accuracy):
    rng = np.random.default_rng(1)
    x = np.cumsum(rng.uniform(0.5, 1.5, N))
    f = xr.DataArray(rng.normal(size=(N, 4)), dims=("x", "y"), coords={"x": x})
    kw = dict(order=order, accuracy=accuracy, boundary=boundary)
    if boundary == "periodic":
        kw["period"] = x[-1] - x[0] + 1.0
    ref = f.grad.partial("x", **kw)
    lazy = f.chunk({"x": chunks}).grad.partial("x", **kw)
    assert lazy.chunks == f.chunk({"x": chunks}).chunks
    np.testing.assert_allclose(lazy.values, ref.values, rtol=1e-12, atol=1e-12 * float(np.nanmax(abs(ref))))
    np.testing.assert_array_equal(np.isnan(lazy.values), np.isnan(ref.values))


@pytest.mark.parametrize("chunks", [1, (1, 2, 37), 4])
def test_nan_omit_chunked_equals_in_memory(chunks):
    rng = np.random.default_rng(2)
    f = xr.DataArray(rng.normal(size=(N, 5)), dims=("x", "y"), coords={"x": np.arange(N) * 0.1})
    f[[3, 4, 10, 11, 12, 30], 1] = np.nan
    f[20, :] = np.nan
    for kw in (dict(accuracy=4), dict(accuracy=2, edge_order=1), dict(order=2, accuracy=2)):
        ref = f.grad.partial("x", nan_policy="omit", **kw)
        lazy = f.chunk({"x": chunks}).grad.partial("x", nan_policy="omit", **kw)
        np.testing.assert_allclose(lazy.values, ref.values, rtol=1e-12, atol=1e-12)


def test_gradient_chunked_equals_in_memory_with_ragged_chunks_and_tiny_last_chunk():
    rng = np.random.default_rng(3)
    f = xr.DataArray(rng.normal(size=(33, 17, 9)), dims=("x", "y", "z"))
    ref = f.grad.gradient(accuracy=4)
    lazy = f.chunk({"x": 16, "y": (1, 15, 1), "z": 4}).grad.gradient(accuracy=4)
    assert lazy.data.chunks[1:] == f.chunk({"x": 16, "y": (1, 15, 1), "z": 4}).data.chunks
    np.testing.assert_allclose(lazy.values, ref.values, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dims", [("x", "y"), ("x", "y", "z")])
def test_different_boundaries_per_dim_chunked_equal_in_memory(dims):
    """Each axis keeps its own boundary kind in the blocks and in the strips near block ends."""
    rng = np.random.default_rng(5)
    shape = (40, 36, 34)[: len(dims)]  # chunks of 16: blocks wide enough for the end strips
    coords = {d: np.cumsum(rng.uniform(0.5, 1.5, n)) for d, n in zip(dims, shape, strict=True)}
    f = xr.DataArray(rng.normal(size=shape), dims=dims, coords=coords)
    kinds = dict(zip(dims, ["periodic", "one-sided", "fill"][: len(dims)], strict=True))
    period = {dims[0]: float(coords[dims[0]][-1] - coords[dims[0]][0]) + 1.0}
    lazy = f.chunk(16)
    for d in dims:
        want = f.grad.partial(d, accuracy=4, boundary=kinds, period=period)
        got = lazy.grad.partial(d, accuracy=4, boundary=kinds, period=period)
        np.testing.assert_allclose(got.values, want.values, rtol=1e-12, atol=1e-12)
    want = f.grad.gradient(accuracy=4, boundary=kinds, period=period)
    np.testing.assert_allclose(
        lazy.grad.gradient(accuracy=4, boundary=kinds, period=period).values, want.values, rtol=1e-12, atol=1e-12
    )


def test_dask_gradient_fails_on_tiny_chunks_where_fieldgrad_does_not():
    f = xr.DataArray(np.arange(129.0) ** 2, dims="t").chunk({"t": 64})  # last chunk of one point
    with pytest.raises(ValueError, match="Chunk size"):
        f.differentiate("t").compute()
    np.testing.assert_allclose(f.grad.partial("t", edge_order=1), f.compute().differentiate("t"))


def test_graph_grows_linearly_with_the_number_of_chunks():
    def tasks_per_block(nblocks: int) -> float:
        f = xr.DataArray(da.zeros((nblocks * 8, 16), chunks=(8, 8)), dims=("x", "y"))
        graph = f.grad.gradient(["x", "y"]).data.__dask_graph__()
        return len(graph) / f.data.npartitions

    per = [tasks_per_block(n) for n in (4, 16, 64)]
    assert max(per) <= 16 and per[-1] <= per[0] * 1.1, per


def test_lazy_until_computed_and_errors_raised_at_call_time():
    calls = []

    def boom(block):
        calls.append(1)
        return block

    data = da.ones((20, 6), chunks=5).map_blocks(boom, dtype=float, meta=np.empty((0, 0)))
    f = xr.DataArray(data, dims=("x", "y"))
    out = f.grad.partial("x", accuracy=4)
    out2 = f.grad.gradient()
    assert not calls and isinstance(out.data, da.Array) and isinstance(out2.data, da.Array)
    with pytest.raises(ValueError, match="accuracy"):
        f.grad.partial("x", accuracy=3)
    with pytest.raises(ValueError, match="unknown dimension"):
        f.grad.partial("q")
    assert not calls


def test_unknown_chunk_sizes_give_a_clear_error():
    x = da.arange(10, chunks=3)
    y = x[x > 2]  # unknown chunk sizes
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        fieldgrad.gradient(y)


def test_dask_backed_coordinate_is_accepted():
    x = np.cumsum(np.linspace(1, 2, 30))
    f = xr.DataArray(np.sin(x), dims="x", coords={"x": ("x", da.from_array(x, chunks=7))})
    ref = xr.DataArray(np.sin(x), dims="x", coords={"x": x}).grad.partial("x")
    np.testing.assert_allclose(f.grad.partial("x"), ref)


def test_block_extents_grow_small_blocks_to_the_minimum():
    for left_right in block_extents((1,) * 10, halo=2, min_points=6, periodic=False):
        s, e, left, right = left_right
        assert (e + right) - (s - left) >= 6
        assert s - left >= 0 and e + right <= 10


def _store(tmp_path, n: int, chunk: int) -> xr.DataArray:
    rng = np.random.default_rng(n)
    x = np.arange(n) * 0.5
    path = tmp_path / f"in{n}.zarr"
    f = xr.DataArray(rng.normal(size=(n, n, n)), dims=("x", "y", "z"), coords={"x": x, "y": x, "z": x}, name="f")
    f.chunk(chunk).to_dataset().to_zarr(path)
    return xr.open_zarr(path)["f"]


@pytest.mark.parametrize(
    "sizes", [(2, 4), pytest.param((3, 6), marks=pytest.mark.slow)], ids=["8-or-64-blocks", "27-or-216-blocks"]
)
@pytest.mark.parametrize("halo_source", ["auto", "neighbours"])
def test_zarr_input_streams_with_memory_independent_of_the_store_size(tmp_path, halo_source, sizes, peak_blocks):
    """zarr → gradient → zarr holds O(1) blocks when halos are reread, a plane of blocks otherwise."""
    chunk, peaks = 8, {}
    small, large = sizes
    for blocks in sizes:
        f = _store(tmp_path, blocks * chunk, chunk)
        with (
            dask.config.set({"scheduler": "sync"}),
            fieldgrad.set_options(halo_source=halo_source),
            peak_blocks(chunk**3) as peak,
        ):
            g = f.grad.gradient(["x", "y", "z"], accuracy=4)
            g.to_dataset(name="g").to_zarr(tmp_path / f"out{blocks}-{halo_source}.zarr")
        peaks[blocks] = peak.peak
        written = xr.open_zarr(tmp_path / f"out{blocks}-{halo_source}.zarr")["g"]
        np.testing.assert_allclose(written, f.compute().grad.gradient(["x", "y", "z"], accuracy=4), rtol=1e-12)
    if halo_source == "auto":  # a second read of the store: the same handful of blocks for 8 or 64, 27 or 216
        assert peaks[large] == peaks[small] <= 3, peaks
    else:  # slabs cut from neighbours keep whole planes of blocks alive (the contrast)
        assert peaks[large] > 2 * peaks[small] > 10, peaks


def test_store_reads_are_reread_for_halos_and_in_memory_arrays_are_not(tmp_path):
    f = _store(tmp_path, 16, 8)
    graph = f.grad.gradient(["x", "y"]).data.__dask_graph__()
    reads = [name for name in graph.layers if name.startswith(f.data.name.split("-")[0])]
    assert len(reads) == 2, reads  # the block reads and their independent second read
    graph = f.compute().chunk(8).grad.gradient(["x", "y"]).data.__dask_graph__()
    assert not any(name.startswith("open_dataset") for name in graph.layers)
    with pytest.raises(ValueError, match="halo_source"):
        fieldgrad.set_options(halo_source="everywhere")


def test_multi_file_datasets_are_reread_for_halos_too(tmp_path):
    pytest.importorskip("h5netcdf")
    rng = np.random.default_rng(7)
    whole = xr.DataArray(
        rng.normal(size=(15, 12)),
        dims=("x", "y"),
        coords={"x": np.cumsum(rng.uniform(0.5, 1.5, 15)), "y": np.arange(12.0)},
        name="f",
    )
    paths = [tmp_path / f"part{i}.nc" for i in range(3)]
    for i, path in enumerate(paths):
        whole.isel(x=slice(5 * i, 5 * i + 5)).to_dataset().to_netcdf(path, engine="h5netcdf")
    f = xr.open_mfdataset(paths, engine="h5netcdf", combine="by_coords", chunks={"y": 4})["f"]
    g = f.grad.gradient(accuracy=4)
    reads = [n for n in g.data.__dask_graph__().layers if n.startswith("open_dataset")]
    assert len(reads) == 6, reads  # the three files, and their second read for the halos
    np.testing.assert_allclose(g, whole.grad.gradient(accuracy=4), rtol=1e-12)
    twice = (f * 2).grad.gradient(accuracy=4)  # computed from the reads: halos from the neighbours
    assert len([n for n in twice.data.__dask_graph__().layers if n.startswith("open_dataset")]) == 3


@pytest.mark.slow
def test_distributed_local_cluster_gives_the_in_memory_result(tmp_path):
    distributed = pytest.importorskip("distributed")
    rng = np.random.default_rng(4)
    x = np.cumsum(rng.uniform(0.5, 1.5, 24))
    f = xr.DataArray(rng.normal(size=(24, 10)), dims=("x", "y"), coords={"x": x}, name="f")
    f.chunk({"x": 5, "y": 4}).to_dataset().to_zarr(tmp_path / "f.zarr")
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        distributed.Client(cluster),
    ):
        lazy = f.chunk({"x": 5, "y": 4})
        stored = xr.open_zarr(tmp_path / "f.zarr")["f"]  # halos from a second read of the store
        got = [
            lazy.grad.partial("x", accuracy=4).compute(),
            lazy.grad.gradient().compute(),
            lazy.grad.partial("x", nan_policy="omit", boundary="periodic", period=30.0).compute(),
            stored.grad.gradient(accuracy=4).compute(),
        ]
    want = [
        f.grad.partial("x", accuracy=4),
        f.grad.gradient(),
        f.grad.partial("x", nan_policy="omit", boundary="periodic", period=30.0),
        f.grad.gradient(accuracy=4),
    ]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-12)
