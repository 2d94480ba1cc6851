"""Tests a plugin author would write: analytic derivatives, and fieldgrad's conformance checks."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from fieldgrad.testing import check_method
from fieldgrad_spectral import Spectral


def test_conformance() -> None:
    check_method(Spectral, orders=[1, 2, 3])


@pytest.mark.parametrize("order", [1, 2, 3])
def test_exact_for_resolved_modes(order: int) -> None:
    n = 64
    x = np.arange(n) * (2 * np.pi / n)
    f = np.sin(3 * x) + 0.5 * np.cos(7 * x)
    da = xr.DataArray(f, dims="x", coords={"x": x})
    got = da.grad.partial("x", order=order, method=Spectral, boundary="periodic")
    want = {
        1: 3 * np.cos(3 * x) - 3.5 * np.sin(7 * x),
        2: -9 * np.sin(3 * x) - 24.5 * np.cos(7 * x),
        3: -27 * np.cos(3 * x) + 171.5 * np.sin(7 * x),
    }[order]
    np.testing.assert_allclose(got.values, want, atol=1e-9)


def test_chunked_like_in_memory() -> None:
    n = 48
    x = np.arange(n) * 0.5
    da = xr.DataArray(np.random.default_rng(0).normal(size=(5, n)), dims=("y", "x"), coords={"x": x})
    mem = da.grad.partial("x", method=Spectral, boundary="periodic")
    lazy = da.chunk(x=7, y=2).grad.partial("x", method=Spectral, boundary="periodic")
    np.testing.assert_allclose(lazy.values, mem.values, rtol=1e-12, atol=1e-12)


def test_refuses_what_it_cannot_do() -> None:
    x = np.linspace(0, 1, 16) ** 2
    da = xr.DataArray(np.sin(x), dims="x", coords={"x": x})
    with pytest.raises(ValueError, match="uniformly spaced"):
        da.grad.partial("x", method=Spectral, boundary="periodic")
    uniform = da.assign_coords(x=np.arange(16.0))
    with pytest.raises(ValueError, match="does not support boundary='one-sided'"):
        uniform.grad.partial("x", method=Spectral)
