"""``fieldgrad.set_options`` / ``get_options``: validation, scoping, defaults from the environment,
and each option's effect."""

from __future__ import annotations

import threading

import dask.array as dsa
import numpy as np
import pytest

import fieldgrad
from fieldgrad import get_options, kernels, set_options
from fieldgrad.coords import axis_coord
from fieldgrad.halos import halo_source
from fieldgrad.options import OPTIONS, _from_environment
from fieldgrad.stencil import build_stencil

DEFAULTS = {"serial": False, "num_threads": None, "reuse_buffers": True, "jit": "auto", "halo_source": "auto"}


def test_get_options_is_a_copy():
    opts = get_options()
    assert set(opts) == set(DEFAULTS)
    opts["serial"] = "junk"
    assert get_options()["serial"] in (True, False)


@pytest.mark.parametrize(
    "key,bad",
    [
        ("serial", 1),
        ("serial", "yes"),
        ("num_threads", 0),
        ("num_threads", 2.0),
        ("num_threads", True),
        ("reuse_buffers", None),
        ("jit", "sometimes"),
        ("halo_source", "everywhere"),
    ],
)
def test_bad_values_name_the_option_and_the_valid_values(key, bad):
    before = get_options()
    with pytest.raises(ValueError, match=rf"option {key} must be .*got {bad!r}"):
        set_options(**{key: bad})
    assert get_options() == before


def test_unknown_option_lists_the_options_and_changes_nothing():
    before = get_options()
    with pytest.raises(ValueError, match="unknown option 'threads'; the options are 'serial', 'num_threads'"):
        set_options(serial=True, threads=2)
    assert get_options() == before


def test_context_manager_restores_also_on_exception():
    before = get_options()
    with set_options(num_threads=1, jit="never"):
        assert get_options()["num_threads"] == 1 and get_options()["jit"] == "never"
        with set_options(num_threads=2):
            assert get_options()["num_threads"] == 2
        assert get_options()["num_threads"] == 1
    assert get_options() == before
    with pytest.raises(RuntimeError, match="boom"):
        with set_options(reuse_buffers=not before["reuse_buffers"], halo_source="reread"):
            raise RuntimeError("boom")
    assert get_options() == before


def test_plain_call_sets_for_the_process():
    saved = dict(OPTIONS)
    try:
        set_options(serial=True)
        assert get_options()["serial"] is True
        seen = []
        t = threading.Thread(target=lambda: seen.append(get_options()["serial"]))  # process-global
        t.start()
        t.join()
        assert seen == [True]
    finally:
        OPTIONS.update(saved)


def test_environment_gives_the_defaults():
    assert _from_environment({}) == DEFAULTS
    env = {
        "FIELDGRAD_SERIAL": "1",
        "FIELDGRAD_NUM_THREADS": "3",
        "FIELDGRAD_REUSE_BUFFERS": "off",
        "FIELDGRAD_JIT": "never",
        "FIELDGRAD_HALO_SOURCE": "reread",
    }
    assert _from_environment(env) == {
        "serial": True,
        "num_threads": 3,
        "reuse_buffers": False,
        "jit": "never",
        "halo_source": "reread",
    }
    assert _from_environment({"NUMBA_NUM_THREADS": "2"})["num_threads"] == 2
    assert _from_environment({"NUMBA_NUM_THREADS": "2", "FIELDGRAD_NUM_THREADS": "1"})["num_threads"] == 1
    assert _from_environment({"FIELDGRAD_SERIAL": "0"})["serial"] is False
    with pytest.warns(RuntimeWarning, match="num_threads='junk'"):
        assert _from_environment({"FIELDGRAD_NUM_THREADS": "junk"})["num_threads"] is None
    with pytest.warns(RuntimeWarning, match="jit='fast'"):
        assert _from_environment({"FIELDGRAD_JIT": "fast"})["jit"] == "auto"


def test_environment_is_not_read_per_call(monkeypatch):
    monkeypatch.setenv("FIELDGRAD_SERIAL", "1")
    monkeypatch.setenv("FIELDGRAD_REUSE_BUFFERS", "0")
    assert get_options()["serial"] == OPTIONS["serial"]
    with set_options(serial=False):
        assert not kernels.serial_requested()


# ------------------------------------------------------------------------------------------
# effects
# ------------------------------------------------------------------------------------------


def _large_call() -> np.ndarray:
    f = np.random.default_rng(0).standard_normal((80, 64, 64))  # above the parallel threshold
    st = build_stencil(axis_coord(np.arange(64.0)), 1, 2, 2, "one-sided")
    return kernels.apply_stencils(f, [(1, st), (2, st)])


@pytest.fixture
def fresh_pool(monkeypatch):
    """An unused worker pool, and the compiled kernel (threads are used by the compiled path)."""
    pool = kernels.threads._Pool()
    monkeypatch.setattr(kernels.threads, "_pool", pool)
    return pool


@pytest.mark.parametrize("opts", [{"num_threads": 1}, {"serial": True}], ids=["num_threads=1", "serial"])
def test_one_thread_starts_no_pool_threads(fresh_pool, opts):
    with set_options(jit="always", **opts):
        single = _large_call()
    assert fresh_pool._executor is None
    with set_options(jit="always", num_threads=2, serial=False):
        threaded = _large_call()
    if len(kernels.threads._usable_cpus()) >= 2:
        assert fresh_pool._executor is not None
    np.testing.assert_array_equal(single, threaded)


def test_reuse_buffers_option(monkeypatch):
    monkeypatch.setattr(kernels.buffers, "REUSE_MIN_BYTES", 1 << 16)
    with set_options(reuse_buffers=True):
        assert _large_call().base is not None  # a view of a reusable holder
    with set_options(reuse_buffers=False):
        assert _large_call().base is None
    kernels.release_buffers()


def test_halo_source_option():
    x = dsa.from_array(np.arange(24.0).reshape(4, 6), chunks=2)  # in memory: "auto" cuts from x
    assert halo_source(x) is x
    with set_options(halo_source="neighbours"):
        assert halo_source(x) is x
    with set_options(halo_source="reread"):
        again = halo_source(x)
        assert again.name != x.name  # a cloned graph
        g = fieldgrad.gradient(x)
    np.testing.assert_array_equal(np.asarray(again), np.asarray(x))
    np.testing.assert_array_equal(np.stack(dsa.compute(*g)), np.stack(np.gradient(np.asarray(x))))
