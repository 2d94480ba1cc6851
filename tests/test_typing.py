"""What editors and type checkers see: the ``py.typed`` markers and the accessor methods' real keywords."""

from __future__ import annotations

import importlib.resources
import inspect

import pytest
import xarray as xr

import fieldgrad  # noqa: F401  (registers .grad)

DERIVATIVE_KEYWORDS = ("method", "boundary", "nan_policy", "fill_value", "period", "datetime_unit")
GEOMETRY_KEYWORDS = ("geometry", "latitude", "longitude", "radius", "crs", "frame")
NOT_DERIVATIVES = {"magnitude": ("component_dim",)}  # a norm: no derivative, so only its own keywords


@pytest.mark.parametrize("package", ["fieldgrad", "fieldgrad_polyfit", "fieldgrad_spline"])
def test_packages_are_marked_typed(package: str) -> None:
    """PEP 561: without ``py.typed`` type checkers ignore the package's annotations."""
    assert importlib.resources.files(package).joinpath("py.typed").is_file()


def _accessor_methods(obj: xr.DataArray | xr.Dataset) -> list[str]:
    """Every public method of ``obj.grad``, and ``__call__`` (``da.grad("x")``)."""
    cls = type(obj.grad)
    names = [n for n in dir(cls) if not n.startswith("_") and callable(getattr(cls, n))]
    return [*names, "__call__"]


@pytest.mark.parametrize(
    "obj", [xr.DataArray([1.0, 2, 3]), xr.Dataset({"a": ("x", [1.0, 2, 3])})], ids=["DataArray", "Dataset"]
)
def test_every_accessor_method_shows_its_real_keywords(obj: xr.DataArray | xr.Dataset) -> None:
    """Not ``**kwargs`` alone: ``help()``, editors and the API docs list the keywords each method forwards.
    Every method found on the accessor is checked, so a method added without its signature fails here."""
    methods = _accessor_methods(obj)
    assert {"partial", "gradient", "laplacian", "hessian", "directional", "along"} <= set(methods)
    for name in methods:
        params = inspect.signature(getattr(obj.grad, name)).parameters
        assert "self" not in params, name
        if name in NOT_DERIVATIVES:
            assert all(k in params for k in NOT_DERIVATIVES[name]), (name, list(params))
            assert not any(p.kind is p.VAR_KEYWORD for p in params.values()), (name, list(params))
            continue
        for keyword in DERIVATIVE_KEYWORDS + GEOMETRY_KEYWORDS:
            assert keyword in params, (name, keyword, list(params))
            assert params[keyword].kind is inspect.Parameter.KEYWORD_ONLY, (name, keyword)
        assert params["geometry"].default == "cartesian", name
        assert params["boundary"].default == "one-sided", name
