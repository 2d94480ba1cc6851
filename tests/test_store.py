"""fieldgrad.compute: a chunked result into memory, each block written in place (no final gather)."""

from __future__ import annotations

import cloudpickle
import dask
import dask.array as da
import dask.local
import numpy as np
import pytest
import xarray as xr

import fieldgrad


def _field() -> xr.DataArray:
    rng = np.random.default_rng(0)
    x = np.cumsum(rng.uniform(0.5, 1.5, 24))
    return xr.DataArray(
        rng.normal(size=(24, 18)),
        dims=("x", "y"),
        name="T",
        coords={"x": x, "y": np.arange(18.0), "lat": ("y", np.linspace(-80, 80, 18))},
        attrs={"units": "K"},
    ).chunk({"x": 5, "y": 6})


def test_dataarray_is_identical_to_compute():
    g = _field().grad.gradient(accuracy=4)
    got = fieldgrad.compute(g)
    assert isinstance(got.data, np.ndarray)
    xr.testing.assert_identical(got, g.compute())
    xr.testing.assert_identical(fieldgrad.compute(g, lock=True, scheduler="sync"), got)  # store keywords pass


def test_dataset_with_dask_coordinate_and_numpy_variable_is_identical_to_compute():
    f = _field()
    ds = xr.Dataset({"dTdx": f.grad.partial("x"), "T": f, "mask": (("x", "y"), np.ones(f.shape, bool))})
    ds = ds.assign_coords(depth=(("x", "y"), da.ones(f.shape, chunks=(8, 9))))
    got = fieldgrad.compute(ds)
    assert all(isinstance(v.data, np.ndarray) for v in got.variables.values())
    xr.testing.assert_identical(got, ds.compute())


def test_shared_work_is_done_once():
    calls = []

    def count(block):
        if block.size:  # not dask's meta probe
            calls.append(block.shape)
        return block

    base = xr.DataArray(da.ones((20, 12), chunks=(5, 6)).map_blocks(count, dtype=float), dims=("x", "y"))
    ds = xr.Dataset({"a": base + 1, "b": base.grad.partial("x")})
    fieldgrad.compute(ds)
    assert len(calls) == base.data.npartitions


def test_blocks_are_freed_as_they_are_written_not_gathered_at_the_end(peak_blocks):
    f = xr.DataArray(np.random.default_rng(1).normal(size=(64, 64)), dims=("x", "y")).chunk(16)
    g = f.grad.gradient()
    with dask.config.set(scheduler="sync"):
        with peak_blocks(2 * 16 * 16) as gathered:
            g.compute()
        with peak_blocks(2 * 16 * 16) as stored:
            fieldgrad.compute(g)
    assert gathered.peak == g.data.npartitions  # .compute() holds every block until the gather
    assert stored.peak <= 1


def test_schedulers_outside_this_process_fall_back_to_compute():
    """A scheduler that is not dask's threaded or synchronous one gets ``obj.compute(**kwargs)``.

    The stand-in runs the graph on a pickled copy, as a process pool does: blocks stored into
    copies of the targets would never reach this process's arrays (the slow test below uses
    real processes)."""
    g = _field().grad.gradient()
    want = g.compute(scheduler="sync")
    calls = []

    def copying_get(dsk, keys, **kwargs):
        calls.append(keys)
        result = dask.local.get_sync(cloudpickle.loads(cloudpickle.dumps(dsk)), keys, **kwargs)
        return cloudpickle.loads(cloudpickle.dumps(result))

    got = fieldgrad.compute(g, scheduler=copying_get)
    xr.testing.assert_identical(got, want)
    assert isinstance(got.data, np.ndarray) and len(calls) == 1  # one pass, through that scheduler
    with dask.config.set(scheduler=copying_get):
        xr.testing.assert_identical(fieldgrad.compute(g), want)
    assert len(calls) == 2


@pytest.mark.slow  # starts process pools (an interpreter per worker)
def test_out_of_process_schedulers_fall_back_to_compute():
    g = _field().grad.gradient()
    want = g.compute(scheduler="sync")
    with dask.config.set(scheduler="processes", num_workers=1):
        xr.testing.assert_identical(fieldgrad.compute(g), want)
    xr.testing.assert_identical(fieldgrad.compute(g, scheduler="processes", num_workers=1), want)


def test_non_xarray_input_is_a_type_error():
    with pytest.raises(TypeError, match="DataArray or Dataset"):
        fieldgrad.compute(da.ones(3))
