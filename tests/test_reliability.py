"""One bad call never breaks the next, and no silent garbage: clear errors for what has no meaning.

Each case was found by a property-based run as a new user would make it (invalid calls before
valid ones, in the same process), and each test here failed before its fix.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr


def field(n: int = 10) -> xr.DataArray:
    x = np.linspace(0.0, 1.0, n)
    return xr.DataArray(np.add.outer(x**2, x**3), dims=("x", "y"), coords={"x": x, "y": x}, name="f")


def vector(labels: list[str]) -> xr.DataArray:
    f = field()
    return xr.concat([f, 2 * f], "component").assign_coords(component=labels)


# ----------------------------------------------------------------------------- no state leaks between calls


@pytest.mark.parametrize("chunked", [False, True])
@pytest.mark.parametrize("bad", [4.0, True, np.float64(4.0), "4"])
def test_a_mistyped_accuracy_never_breaks_later_calls(bad: object, chunked: bool) -> None:
    da = field().chunk({"x": 4}) if chunked else field()
    want = field().grad.partial("x", accuracy=4)
    for _ in range(2):  # before and after a valid call: the same error each time, the same numbers
        with pytest.raises(ValueError, match="accuracy must be one of"):
            da.grad.partial("x", accuracy=bad)
        got = da.grad.partial("x", accuracy=4)
        xr.testing.assert_allclose(got.compute() if chunked else got, want, rtol=1e-14)


def test_a_valid_call_first_does_not_let_a_float_through() -> None:
    da = field()
    da.grad.partial("x", accuracy=4)
    with pytest.raises(ValueError, match="accuracy must be one of"):
        da.grad.partial("x", accuracy=4.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"accuracy": 2.0, "edge_order": 1}, "accuracy must be one of"),
        ({"edge_order": 1.0}, "edge_order must be an integer"),
        ({"boundary": "fill", "fill_value": 10**400}, r"fill_value=100000000000\.\.\.\(401 digits\) is too large"),
        ({"boundary": "fill", "fill_value": "nan"}, r"fill_value must be one number.*'nan' \(str\)"),
        ({"boundary": "fill", "fill_value": {"x": 1.0}}, r"fill_value must be one number"),
        ({"boundary": "fill", "fill_value": [1.0, 2.0]}, r"fill_value must be one number.*\[1\.0, 2\.0\]"),
        ({"boundary": "periodic", "period": "360"}, r"period must be a positive number.*'360'"),
        ({"boundary": "periodic", "period": {"x": "a"}}, r"period must be a positive number.*'a'"),
        ({"boundary": "periodic", "period": -1.0}, r"period must be a positive finite number"),
        ({"nan_policy": 1}, r"nan_policy must be one of \('propagate', 'omit'\), got 1 \(int\)"),
        ({"method": 3}, r"method must be a method name"),
        ({"radius": "6371"}, r"radius must be a positive length in metres, got '6371' \(str\)"),
    ],
)
def test_invalid_values_name_the_argument(kwargs: dict, match: str) -> None:
    da = field()
    for call in (lambda: da.grad.partial("x", **kwargs), lambda: da.chunk({"x": 5}).grad.gradient(**kwargs)):
        with pytest.raises(ValueError, match=match):
            call()


# ----------------------------------------------------------------------------- no silent garbage


@pytest.mark.parametrize("op", ["laplacian", "hessian", "gradient"])
def test_a_dim_named_twice_is_refused(op: str) -> None:
    with pytest.raises(ValueError, match=r"\['x'\] named more than once"):
        getattr(field().grad, op)(["x", "x"])


@pytest.mark.parametrize("op", ["divergence", "curl", "jacobian"])
def test_repeated_component_labels_are_refused(op: str) -> None:
    with pytest.raises(ValueError, match=r"distinct directions; \['x'\] is repeated"):
        getattr(vector(["x", "x"]).grad, op)()


@pytest.mark.parametrize("op", ["laplacian", "hessian", "directional"])
def test_datetime_unit_on_space_dims_is_refused(op: str) -> None:
    da = field()
    call = {
        "laplacian": lambda: da.grad.laplacian(datetime_unit="h"),
        "hessian": lambda: da.grad.hessian(datetime_unit="h"),
        "directional": lambda: da.grad.directional({"x": 1, "y": 1}, datetime_unit="h"),
    }[op]
    with pytest.raises(ValueError, match="datetime_unit='h' was given, but none of the dims"):
        call()


def test_a_direction_naming_an_unknown_dim_is_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown dimension 'q'; available dims: \['x', 'y'\]"):
        field().grad.directional({"x": 1, "q": 0})


@pytest.mark.parametrize(
    ("op", "kwargs"),
    [
        ("gradient", {"component_dim": "x"}),
        ("hessian", {"component_dim2": "y"}),
        ("hessian", {"component_dim": "c", "component_dim2": "c"}),
        ("along", {"path_dim": "y"}),
    ],
)
def test_a_new_dim_that_clashes_is_refused(op: str, kwargs: dict) -> None:
    da = field()
    call = getattr(da.grad, op)
    args = ({"x": [0.1, 0.5]},) if op == "along" else ()
    if op == "along":
        da = da.expand_dims(y2=2)
    with pytest.raises(ValueError, match=r"pass another|must differ"):
        call(*args, **kwargs)


def test_a_jacobian_component_dim2_that_clashes_is_refused() -> None:
    with pytest.raises(ValueError, match="already has a dimension 'x'; pass another component_dim2="):
        vector(["x", "y"]).grad.jacobian(component_dim2="x")


def test_a_2d_longitude_that_folds_back_is_refused() -> None:
    """One column of the longitude turned back: centred stencils span the fold and see no sign change."""
    j, i = np.meshgrid(np.arange(12.0), np.arange(14.0), indexing="ij")
    lat = 10 + 2.0 * j + 0.1 * i
    lon = 30 + 2.0 * i + 0.1 * j
    lon[:, 7] = lon[:, 6] - 0.5  # turned back at one column
    ds = xr.Dataset(
        {"f": (("j", "i"), np.cos(np.deg2rad(lat)))},
        coords={
            "lat": (("j", "i"), lat, {"units": "degrees_north"}),
            "lon": (("j", "i"), lon, {"units": "degrees_east"}),
        },
    )
    with pytest.raises(ValueError, match=r"folds over itself at the cell at index \(0, [67]\)"):
        ds.f.grad.gradient(geometry="sphere")
    x = ds.lon.values.copy()
    planar = ds.assign_coords(x=(("j", "i"), x), y=(("j", "i"), ds.lat.values)).drop_vars(["lat", "lon"])
    with pytest.raises(ValueError, match="folds over itself"):
        planar.f.grad.gradient(["x", "y"])


def test_unknown_chunk_sizes_on_a_dim_without_a_coordinate() -> None:
    import dask.array as dsa

    values = dsa.from_array(np.arange(20.0), chunks=5)
    lazy = xr.DataArray(values[values > 3], dims="x")  # chunks of unknown sizes
    with pytest.raises(ValueError, match=r"unknown length.*compute_chunk_sizes"):
        lazy.grad.partial("x")


def test_spline_smoothing_on_a_tiny_spacing() -> None:
    pytest.importorskip("fieldgrad_spline")
    t = np.arange(8.0) * 1e-300
    s = xr.DataArray(np.sin(np.arange(8.0)), dims="t", coords={"t": t})
    # no penalty: the same fit whatever the spacing (was NaN: 0 / 1e-300**3)
    want = xr.DataArray(np.sin(np.arange(8.0)), dims="t").grad.partial("t", method="spline", smoothing=0.0) / 1e-300
    np.testing.assert_allclose(s.grad.partial("t", method="spline", smoothing=0.0), want, rtol=1e-9)
    for obj in (s, s.chunk(4)):  # a penalty that overflows on that spacing: refused when called
        with pytest.raises(ValueError, match=r"smoothing=0\.001 is out of range for a coordinate spaced 1e-300"):
            obj.grad.partial("t", method="spline", smoothing=1e-3)
