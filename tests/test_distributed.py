"""What a distributed run needs: methods, plans and graphs that survive pickling, and a result that
survives a worker process killed mid-computation.

The pickling tests are fast (no processes). The worker test is ``slow``: it starts a
``dask.distributed.LocalCluster`` of two worker processes, kills one with SIGKILL once part of
the graph has run, and checks the result against the in-memory computation.
"""

from __future__ import annotations

import os
import pickle
import signal
import time
from typing import Any

import numpy as np
import pytest
import xarray as xr

from fieldgrad import engine
from fieldgrad import plan as plans
from fieldgrad.coords import axis_coord
from fieldgrad.registry import get_method

cloudpickle = pytest.importorskip("cloudpickle")

DUMPERS = {"pickle": (pickle.dumps, pickle.loads), "cloudpickle": (cloudpickle.dumps, cloudpickle.loads)}
METHODS = [
    ("fd", {}),
    ("fd", {"accuracy": 6}),
    ("polyfit", {}),
    ("spline", {"smoothing": None}),
    ("spline", {"smoothing": "auto"}),
]


def field(shape: tuple[int, int] = (40, 30), seed: int = 3) -> xr.DataArray:
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.uniform(0.5, 1.5, shape[0]))
    y = np.linspace(0.0, 3.0, shape[1])
    data = np.sin(x)[:, None] * np.cos(y)[None, :] + 0.01 * rng.normal(size=shape)
    return xr.DataArray(data, dims=("x", "y"), coords={"x": x, "y": y}, name="f")


@pytest.mark.parametrize("dumper", sorted(DUMPERS))
@pytest.mark.parametrize(("name", "options"), METHODS, ids=[f"{n}-{o}" for n, o in METHODS])
def test_methods_and_plans_round_trip(dumper: str, name: str, options: dict[str, Any]) -> None:
    dumps, loads = DUMPERS[dumper]
    f = field()
    coord = f.x.values
    method = get_method(name)
    copy = loads(dumps(method))
    assert type(copy) is type(method) and copy == method
    axis = axis_coord(coord, "x")
    opts = method.check_options(1, **options)
    want = method.derivative(f.values, axis, axis=0, order=1, **opts)
    np.testing.assert_array_equal(copy.derivative(f.values, axis, axis=0, order=1, **opts), want)

    plan = plans.make_plan(name, (1,), boundary={0: "one-sided"}, **options)
    plan_copy = loads(dumps(plan))
    assert plan_copy.options == plan.options and plan_copy.boundary == plan.boundary
    coords = {0: axis_coord(coord, "x")}
    np.testing.assert_array_equal(
        engine.derivative(f.values, coords, {0: 1}, plan_copy), engine.derivative(f.values, coords, {0: 1}, plan)
    )
    # and the same numbers as the labelled call, an independent path through the accessor
    np.testing.assert_allclose(
        engine.derivative(f.values, coords, {0: 1}, plan_copy),
        f.grad.partial("x", method=name, **options).values,
        rtol=1e-13,
        atol=1e-13,
    )


@pytest.mark.parametrize("dumper", sorted(DUMPERS))
@pytest.mark.parametrize(("name", "options"), [("fd", {"accuracy": 4}), ("polyfit", {}), ("spline", {})])
def test_chunked_graph_round_trips(dumper: str, name: str, options: dict[str, Any]) -> None:
    """The dask graph of a chunked gradient, pickled and unpickled, computes the same numbers."""
    dumps, loads = DUMPERS[dumper]
    f = field()
    lazy = f.chunk({"x": 7, "y": 11}).grad.gradient(method=name, **options)
    want = f.grad.gradient(method=name, **options)
    graph_copy = loads(dumps(lazy.data))
    got = graph_copy.compute(scheduler="sync")
    np.testing.assert_array_equal(got, lazy.data.compute(scheduler="sync"))
    np.testing.assert_allclose(got, want.values, rtol=1e-12, atol=1e-12)
    labelled_copy = loads(dumps(lazy))  # the DataArray around it
    xr.testing.assert_allclose(labelled_copy.compute(scheduler="sync"), want, rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------- a worker dies


def _results_held(dask_scheduler: Any) -> int:  # runs on the scheduler
    """Tasks whose results are in worker memory: each has finished (a lower bound of those done)."""
    return sum(ts.state == "memory" for ts in dask_scheduler.tasks.values())


def _wait_for(condition: Any, timeout: float, what: str) -> None:
    """Poll ``condition`` until it holds (the scheduler offers no event for "n tasks done")."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what}")
        time.sleep(0.02)


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.slow
def test_worker_killed_mid_computation(tmp_path: Any) -> None:
    distributed = pytest.importorskip("distributed")
    pytest.importorskip("zarr")
    rng = np.random.default_rng(11)
    nx, ny = 720, 600
    x = np.cumsum(rng.uniform(0.5, 1.5, nx))
    f = xr.DataArray(rng.normal(size=(nx, ny)), dims=("x", "y"), coords={"x": x, "y": np.arange(ny) * 0.1}, name="f")
    f.chunk({"x": 60, "y": 60}).to_dataset().to_zarr(tmp_path / "f.zarr")  # 12 x 10 = 120 chunks
    want = f.grad.gradient(accuracy=8)

    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=True
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        client.wait_for_workers(2)
        pids_before = client.run(os.getpid)  # {worker address: process id}
        stored = xr.open_zarr(tmp_path / "f.zarr")["f"]
        lazy = stored.grad.gradient(accuracy=8)
        nblocks = lazy.data.npartitions
        future = client.compute(lazy)

        # once some tasks have finished (a quarter as many as the result has blocks), kill a worker
        # that is running some
        _wait_for(lambda: client.run_on_scheduler(_results_held) >= nblocks // 4, 120, "the first tasks")
        busy = [addr for addr, keys in client.processing().items() if keys]
        assert busy and not future.done(), "the computation finished before a worker could be killed"
        victim = pids_before[busy[0]]
        os.kill(victim, signal.SIGKILL)

        got = future.result(timeout=600)
        assert future.status == "finished"
        assert not _alive(victim)

    assert got.dims == want.dims
    np.testing.assert_allclose(got.values, want.values, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(got.values, lazy.compute(scheduler="sync").values)
