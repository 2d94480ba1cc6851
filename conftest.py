"""Shared pytest set-up: the names every doctest in the package can use, and test fixtures."""

from __future__ import annotations

import signal

import numpy as np
import pytest
import xarray as xr
from dask.callbacks import Callback

import fieldgrad


def pytest_configure(config: pytest.Config) -> None:
    # A shell starts a background job (`uv run pytest -m slow &`, nohup, some CI runners) with
    # SIGINT ignored, and a child process inherits an ignored signal: the command-line tests that
    # interrupt a run with SIGINT would then see it finish (exit 0). Tests start from the default.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def _doctest_names(doctest_namespace: dict) -> None:
    doctest_namespace.update(np=np, xr=xr, fieldgrad=fieldgrad)


class PeakBlocks(Callback):
    """A dask callback: the most results of at least ``size`` elements the scheduler held at once."""

    def __init__(self, size: int):
        super().__init__()
        self.size, self.peak = size, 0

    def _posttask(self, key, result, dsk, state, id):
        self.peak = max(self.peak, sum(getattr(v, "size", 0) >= self.size for v in state["cache"].values()))


@pytest.fixture
def peak_blocks() -> type[PeakBlocks]:
    """``with peak_blocks(size) as p: ...`` then ``p.peak``: blocks held at once while computing."""
    return PeakBlocks
