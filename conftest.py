"""Shared doctest namespace: numpy as np, xarray as xr, fieldgrad imported (accessor registered)."""

import numpy as np
import pytest
import xarray as xr

import fieldgrad


@pytest.fixture(autouse=True)
def _doctest_namespace(doctest_namespace):
    doctest_namespace.update(np=np, xr=xr, fieldgrad=fieldgrad)
