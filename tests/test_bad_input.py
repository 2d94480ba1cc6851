"""SPEC §7: every bad input raises a clear exception naming the argument and what is valid;
nothing is computed half-way, no input is modified, and on dask-backed input the exception is
raised when the operation is called.

The row "a plugin that fails to import" is tested in tests/test_registry.py (fake distributions).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import dask.array as dsa
import numpy as np
import pytest
import xarray as xr

import fieldgrad


def _explode(block: np.ndarray) -> np.ndarray:
    raise RuntimeError("computed: the error must come before any computation")


def make(
    n: int = 10, *, coord: Any = "default", dask: bool = False, dtype: Any = float, name: str = "V"
) -> xr.DataArray:
    """A 2-D field (x, y); with ``dask=True`` its blocks raise RuntimeError when computed."""
    x = np.arange(n, dtype=float) if isinstance(coord, str) else np.asarray(coord)
    data: Any = (np.arange(n * 4) % 7).reshape(n, 4).astype(dtype)
    if dask:
        data = dsa.from_array(data, chunks=(3, 2)).map_blocks(_explode, dtype=data.dtype)
    return xr.DataArray(
        data, dims=("x", "y"), coords={"x": x, "y": [0.0, 1.0, 2.0, 3.0]}, name=name, attrs={"units": "V"}
    )


def expect_error(exc: type[Exception], pattern: str, call: Callable[[xr.DataArray], Any], **make_kw: Any) -> None:
    """The error for numpy- and dask-backed input (raised at call time), inputs left unchanged."""
    for dask in (False, True):
        da = make(dask=dask, **make_kw)
        before = da.copy(deep=not dask)
        with pytest.raises(exc, match=pattern):
            call(da)
        xr.testing.assert_identical(da, before)
        assert da.attrs == before.attrs


# ---------------------------------------------------------------------------------------------
# unknown dimension


def test_unknown_dimension_names_it_and_lists_dims() -> None:
    pattern = r"(?s)(?=.*'q')(?=.*\bx\b)(?=.*\by\b)"
    expect_error(ValueError, pattern, lambda da: da.grad.partial("q"))
    expect_error(ValueError, pattern, lambda da: da.grad("q"))
    expect_error(ValueError, pattern, lambda da: da.grad.partial({"x": 1, "q": 1}))
    expect_error(ValueError, pattern, lambda da: da.grad.gradient(["x", "q"]))
    expect_error(ValueError, pattern, lambda da: fieldgrad.partial(da, "q"))
    expect_error(ValueError, pattern, lambda da: da.grad.partial("x", boundary={"q": "periodic"}))


def test_unknown_dimension_dataset() -> None:
    ds = xr.Dataset({"a": make(), "b": make(name="b") * 2})
    before = ds.copy(deep=True)
    with pytest.raises(ValueError, match=r"(?s)(?=.*'q')(?=.*\bx\b)"):
        ds.grad.partial("q")
    with pytest.raises(ValueError, match=r"(?s)(?=.*'q')(?=.*\bx\b)"):
        ds.grad.gradient(["q"])
    xr.testing.assert_identical(ds, before)


# ---------------------------------------------------------------------------------------------
# bad coordinates


@pytest.mark.parametrize(
    ("coord", "pattern"),
    [
        ([0.0, 1.0, 3.0, 2.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0], "monoton"),
        ([0.0, 1.0, 2.0, 2.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0], "repeated"),
        ([0.0, 1.0, 2.0, np.nan, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0], "NaN"),
        ([0.0, 1.0, 2.0, np.inf, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0], "infinite"),
        ([9.0, 8.0, 7.0, 7.0, 5.0, 4.0, 3.0, 2.0, 1.0, 0.0], "repeated"),
    ],
)
def test_bad_coordinate(coord: list[float], pattern: str) -> None:
    expect_error(ValueError, f"(?s)'x'.*{pattern}|{pattern}.*'x'", lambda da: da.grad.partial("x"), coord=coord)
    expect_error(ValueError, pattern, lambda da: da.grad.gradient(), coord=coord)
    # the other dim is fine: the bad coordinate is only an error where it is used
    da = make(coord=coord)
    assert np.isfinite(da.grad.partial("y").values).all()


def test_bad_datetime_coordinate() -> None:
    t = np.array(["2000-01-01", "2000-01-03", "2000-01-02", "2000-01-04"], dtype="datetime64[ns]")
    da = xr.DataArray(np.arange(4.0), dims="t", coords={"t": t})
    with pytest.raises(ValueError, match="monoton"):
        da.grad.partial("t")
    nat = t.copy()
    nat[2] = np.datetime64("NaT")
    with pytest.raises(ValueError, match="'t'"):
        da.assign_coords(t=nat).grad.partial("t")


def test_dask_backed_coordinate_validated_at_call_time() -> None:
    da = make(dask=True)
    bad = da.assign_coords(x2=("x", dsa.from_array(np.array([0.0, 1.0, 3.0, 2.0, 4, 5, 6, 7, 8, 9]), chunks=3)))
    with pytest.raises(ValueError, match="monoton"):
        bad.grad.partial("x2")


def test_non_numeric_coordinate() -> None:
    da = xr.DataArray(np.arange(4.0), dims="x", coords={"x": ["a", "b", "c", "d"]})
    with pytest.raises(TypeError, match=r"'?x'?"):
        da.grad.partial("x")


def test_periodic_nonuniform_needs_period() -> None:
    coord = np.cumsum(np.linspace(1.0, 2.0, 10))
    expect_error(ValueError, "period", lambda da: da.grad.partial("x", boundary="periodic"), coord=coord)


@pytest.mark.parametrize("period", [-1.0, 0.0, np.nan, np.inf, 5.0])
def test_invalid_period(period: float) -> None:
    # the span of x is 9, so a period must exceed it
    expect_error(ValueError, "period", lambda da: da.grad.partial("x", boundary="periodic", period=period))


# ---------------------------------------------------------------------------------------------
# too few points


@pytest.mark.parametrize(
    ("n", "kw", "minimum"),
    [
        (1, {}, 3),  # accuracy 2, edge_order 2: 3 points
        (2, {"edge_order": 2}, 3),
        (1, {"edge_order": 1}, 2),
        (4, {"accuracy": 4}, 5),
        (8, {"accuracy": 8}, 9),
        (3, {"order": 2}, 4),  # order 2 + edge_order 2
        (4, {"accuracy": 4, "boundary": "fill"}, 5),
        (8, {"accuracy": 8, "boundary": "periodic"}, 9),
        (2, {"boundary": "periodic"}, 3),
    ],
)
def test_too_few_points_states_the_minimum(n: int, kw: dict[str, Any], minimum: int) -> None:
    kw = dict(kw)
    order = kw.pop("order", 1)
    expect_error(ValueError, rf"(?s)'x'.*\b{minimum}\b", lambda da: da.grad.partial("x", order=order, **kw), n=n)
    # with one point more than needed... exactly the minimum works
    ok = make(n=minimum).grad.partial("x", order=order, **kw)
    assert ok.shape == (minimum, 4)


def test_too_few_points_nonuniform_periodic_second_derivative() -> None:
    """Non-uniform: the centred stencil of a second derivative with accuracy 2 has 5 points."""
    coord = np.array([0.0, 1.0, 2.5, 3.0])
    da = xr.DataArray(np.arange(4.0), dims="x", coords={"x": coord})
    with pytest.raises(ValueError, match=r"\b5\b"):
        da.grad.partial("x", order=2, boundary="periodic", period=10.0)


# ---------------------------------------------------------------------------------------------
# unknown method, invalid options


def test_unknown_method_lists_available() -> None:
    available = list(fieldgrad.available_methods())
    assert "fd" in available
    pattern = "(?s)'nope'" + "".join(f"(?=.*{re.escape(m)})" for m in available)
    expect_error(ValueError, pattern, lambda da: da.grad.partial("x", method="nope"))
    expect_error(ValueError, pattern, lambda da: da.grad.gradient(method="nope"))


@pytest.mark.parametrize(
    ("kw", "pattern"),
    [
        ({"accuracy": 3}, r"accuracy.*\(2, 4, 6, 8\)"),
        ({"accuracy": 5}, r"accuracy.*\(2, 4, 6, 8\)"),
        ({"accuracy": 10}, r"accuracy.*\(2, 4, 6, 8\)"),
        ({"accuracy": 0}, r"accuracy.*\(2, 4, 6, 8\)"),
        ({"accuracy": 2.5}, r"accuracy"),
        ({"accuracy": True}, r"accuracy"),
        ({"edge_order": 0}, r"edge_order"),
        ({"edge_order": -1}, r"edge_order"),
        ({"edge_order": 1.5}, r"edge_order"),
        ({"order": -1}, r"order.*non-negative"),
        ({"order": 1.5}, r"order"),
        ({"order": True}, r"order"),
        ({"boundary": "reflect"}, r"(?s)boundary.*one-sided.*periodic.*fill"),
        ({"boundary": {"x": "wrap"}}, r"(?s)boundary.*one-sided.*periodic.*fill"),
        ({"nan_policy": "raise"}, r"(?s)nan_policy.*propagate.*omit"),
        ({"nan_policy": None}, r"nan_policy"),
        ({"window": 5}, r"(?s)window.*accuracy.*edge_order"),
        ({"spam": 1}, r"spam"),
    ],
)
def test_invalid_options(kw: dict[str, Any], pattern: str) -> None:
    kw = dict(kw)
    has_order = "order" in kw
    order = kw.pop("order", 1)
    expect_error(ValueError, pattern, lambda da: da.grad.partial("x", order=order, **kw))
    if not has_order:
        expect_error(ValueError, pattern, lambda da: da.grad.gradient(**kw))


def test_negative_order_in_mapping() -> None:
    expect_error(ValueError, "order", lambda da: da.grad.partial({"x": -1}))
    expect_error(ValueError, "order", lambda da: da.grad.partial({"x": 1, "y": -2}))


def test_order_and_mapping_together() -> None:
    expect_error(ValueError, "order", lambda da: da.grad.partial({"x": 1}, order=2))


def test_empty_spec() -> None:
    expect_error(ValueError, "dimension", lambda da: da.grad.partial([]))
    expect_error(ValueError, "dimension", lambda da: da.grad.gradient([]))


def test_same_dimension_twice_in_gradient() -> None:
    expect_error(ValueError, "x", lambda da: da.grad.gradient(["x", "x"]))


def test_component_dim_clash() -> None:
    expect_error(ValueError, "component", lambda da: da.rename(y="component").grad.gradient())


@pytest.mark.parametrize("unit", ["Y", "M", "parsec"])
def test_invalid_datetime_unit_like_xarray(unit: str) -> None:
    t = np.datetime64("2000-01-01", "ns") + np.arange(5) * np.timedelta64(1, "D")
    da = xr.DataArray(np.arange(5.0), dims="t", coords={"t": t})
    with pytest.raises(Exception) as ref:  # noqa: PT011 - whatever xarray raises; compared below
        da.differentiate("t", datetime_unit=unit)
    with pytest.raises(type(ref.value)):
        da.grad.partial("t", datetime_unit=unit)


# ---------------------------------------------------------------------------------------------
# non-numeric fields


@pytest.mark.parametrize("dtype", [object, "U3", "S2"])
def test_non_numeric_field(dtype: Any) -> None:
    # (datetime64 and timedelta64 fields are differentiated as xarray does: tests/test_datetime_values.py)
    if dtype is object:
        values = np.array([{"a": 1}] * 40, dtype=object).reshape(10, 4)
    else:
        values = np.array(["ab"] * 40, dtype=dtype).reshape(10, 4)
    for dask in (False, True):
        data = dsa.from_array(values, chunks=(3, 2)).map_blocks(_explode, dtype=values.dtype) if dask else values
        da = xr.DataArray(data, dims=("x", "y"), coords={"x": np.arange(10.0)}, name="V")
        with pytest.raises(TypeError, match="numeric"):
            da.grad.partial("x")
        with pytest.raises(TypeError, match="numeric"):
            da.grad.gradient()


def test_object_array_of_numbers_is_refused() -> None:
    da = xr.DataArray(np.arange(10.0).astype(object), dims="x")
    with pytest.raises(TypeError, match="numeric"):
        da.grad.partial("x")


def test_dataset_with_string_variable_on_the_dim() -> None:
    ds = xr.Dataset({"a": ("x", np.arange(6.0)), "s": ("x", np.array(list("abcdef")))})
    before = ds.copy(deep=True)
    with pytest.raises(TypeError, match="numeric"):
        ds.grad.partial("x")
    xr.testing.assert_identical(ds, before)


# ---------------------------------------------------------------------------------------------
# NaN in the field is never an exception; valid calls on dask input stay lazy


@pytest.mark.parametrize("nan_policy", ["propagate", "omit"])
@pytest.mark.parametrize("boundary", ["one-sided", "periodic", "fill"])
def test_nan_in_field_is_not_an_error(nan_policy: str, boundary: str) -> None:
    values = np.full((10, 4), np.nan)
    values[3, 1] = 1.0
    da = xr.DataArray(values, dims=("x", "y"))
    out = da.grad.partial("x", nan_policy=nan_policy, boundary=boundary, accuracy=4)
    assert out.shape == da.shape
    out = da.chunk({"x": 3}).grad.gradient(nan_policy=nan_policy, boundary=boundary).compute()
    assert out.shape == (2, 10, 4)


@pytest.mark.parametrize(
    "call",
    [
        lambda da: da.grad.partial("x"),
        lambda da: da.grad.partial({"x": 1, "y": 2}, accuracy=2, boundary="periodic"),
        lambda da: da.grad.gradient(nan_policy="omit"),
        lambda da: da.grad.partial("x", method="fd", accuracy=8, edge_order=1, boundary="fill"),
    ],
)
def test_valid_call_on_dask_is_lazy(call: Callable[[xr.DataArray], Any]) -> None:
    da = make(dask=True)
    out = call(da)
    assert isinstance(out.data, dsa.Array)
    with pytest.raises(RuntimeError, match="computed"):
        out.compute()


def test_numpy_input_not_modified_by_successful_calls() -> None:
    da = make(dtype=np.float32)
    da.values[2, 1] = np.nan
    before = da.copy(deep=True)
    for kw in ({}, {"nan_policy": "omit"}, {"boundary": "periodic"}, {"boundary": "fill", "fill_value": 0.0}):
        da.grad.partial("x", accuracy=4, **kw)
        da.grad.gradient(**kw)
    xr.testing.assert_identical(da, before)
