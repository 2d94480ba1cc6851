"""Vector calculus (SPEC §3, §4): analytic fields, discrete identities, labels, chunked = in-memory."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import fieldgrad  # noqa: F401


def grid3(nonuniform: bool = False) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    out = {}
    for name, n in zip("xyz", (9, 11, 7), strict=True):
        if nonuniform:
            out[name] = np.cumsum(rng.uniform(0.3, 1.0, n))
        else:
            out[name] = np.linspace(-1.0, 1.0, n)
    return out


def potential(coords: dict[str, np.ndarray]) -> xr.DataArray:
    X, Y, Z = np.meshgrid(coords["x"], coords["y"], coords["z"], indexing="ij")
    V = xr.DataArray(
        2 * X**2 + 3 * Y**2 - 4 * Z,
        dims=("x", "y", "z"),
        coords=coords,
        name="V",
        attrs={"units": "V", "long_name": "potential"},
    )
    for d in "xyz":
        V[d].attrs["units"] = "m"
    return V


@pytest.mark.parametrize("nonuniform", [False, True])
@pytest.mark.parametrize("accuracy", [2, 4])
def test_gradient_of_quadratic_potential_is_exact_everywhere(nonuniform, accuracy):
    V = potential(grid3(nonuniform))
    g = V.grad.gradient(["x", "y", "z"], accuracy=accuracy)
    X, Y, _ = xr.broadcast(V.x, V.y, V.z)
    np.testing.assert_allclose(g.sel(component="x"), 4 * X.transpose(*V.dims), atol=1e-11)
    np.testing.assert_allclose(g.sel(component="y"), 6 * Y.transpose(*V.dims), atol=1e-11)
    np.testing.assert_allclose(g.sel(component="z"), -4.0, atol=1e-11)
    E = -g
    assert E.component.values.tolist() == ["x", "y", "z"]
    assert g.attrs["units"] == "V m-1"


@pytest.mark.parametrize("nonuniform", [False, True])
def test_div_grad_and_laplacian_of_potential_equal_10(nonuniform):
    V = potential(grid3(nonuniform))
    div = V.grad.gradient().grad.divergence()
    lap = V.grad.laplacian()
    np.testing.assert_allclose(div, 10.0, atol=1e-9)
    np.testing.assert_allclose(lap, 10.0, atol=1e-9)
    assert lap.attrs["units"] == "V m-2" and div.attrs["units"] == "V m-2"
    assert lap.name == "laplacian_V"


def smooth_vector_field(n: int = 12) -> xr.DataArray:
    x = np.linspace(0, 2, n)
    X, Y, Z = np.meshgrid(x, x * 1.5, x * 0.7, indexing="ij")
    comps = np.stack([np.sin(Y) * Z, np.cos(X * Z), X * Y**2])
    return xr.DataArray(
        comps,
        dims=("component", "x", "y", "z"),
        coords={"component": ["x", "y", "z"], "x": x, "y": x * 1.5, "z": x * 0.7},
        name="F",
    )


@pytest.mark.parametrize("accuracy", [2, 4, 6])
def test_discrete_identities_hold_to_roundoff(accuracy):
    F = smooth_vector_field()
    div_curl = F.grad.curl(accuracy=accuracy).grad.divergence(accuracy=accuracy)
    assert float(abs(div_curl).max()) < 1e-11
    V = F.sel(component="x", drop=True)
    curl_grad = V.grad.gradient(["x", "y", "z"], accuracy=accuracy).grad.curl(accuracy=accuracy)
    assert float(abs(curl_grad).max()) < 1e-11


def test_curl_3d_analytic_and_labels():
    x = np.linspace(-1, 1, 7)
    X, Y, Z = np.meshgrid(x, x, x, indexing="ij")
    F = xr.DataArray(
        np.stack([Y * Z, X * Z**2, X**2 * Y]),
        dims=("component", "x", "y", "z"),
        coords={"component": ["x", "y", "z"], "x": x, "y": x, "z": x},
        name="F",
        attrs={"units": "T"},
    )
    for d in "xyz":
        F[d].attrs["units"] = "m"
    c = F.grad.curl()
    # curl = (x² - 2xz, y - 2xy, z² - z)
    np.testing.assert_allclose(c.sel(component="x"), X**2 - 2 * X * Z, atol=1e-12)
    np.testing.assert_allclose(c.sel(component="y"), Y - 2 * X * Y, atol=1e-12)
    np.testing.assert_allclose(c.sel(component="z"), Z**2 - Z, atol=1e-12)
    assert c.dims == F.dims and c.name == "curl_F" and c.attrs["units"] == "T m-1"


def test_curl_2d_is_scalar():
    x = np.linspace(0, 1, 6)
    X, Y = np.meshgrid(x, x, indexing="ij")
    F = xr.DataArray(
        np.stack([-3 * Y, 5 * X]), dims=("component", "x", "y"), coords={"component": ["x", "y"], "x": x, "y": x}
    )
    c = F.grad.curl()
    assert c.dims == ("x", "y")
    np.testing.assert_allclose(c, 8.0)


@pytest.mark.parametrize("accuracy", [2, 4])
def test_laplacian_converges_at_nominal_order(accuracy):
    errs, hs = [], []
    for n in (17, 33, 65):
        x = np.linspace(0, np.pi, n)
        # no symmetry at the ends, so boundary stencils show their formal order
        f = xr.DataArray(np.outer(np.sin(x + 0.3), np.sin(x + 0.7)), dims=("x", "y"), coords={"x": x, "y": x})
        lap = f.grad.laplacian(accuracy=accuracy)
        errs.append(float(abs(lap + 2 * f).max()))
        hs.append(x[1] - x[0])
    orders = np.diff(np.log(errs)) / np.diff(np.log(hs))
    assert abs(orders[-1] - accuracy) < 0.3, orders


def test_hessian_symmetric_mixed_and_dims():
    x = np.linspace(0, 1, 8)
    X, Y = np.meshgrid(x, x * 2, indexing="ij")
    f = xr.DataArray(X**3 * Y**2, dims=("x", "y"), coords={"x": x, "y": x * 2}, name="f")
    H = f.grad.hessian(accuracy=4)
    assert H.dims == ("component", "component2", "x", "y")
    np.testing.assert_allclose(H.sel(component="x", component2="x"), 6 * X * Y**2, atol=1e-10)
    np.testing.assert_allclose(H.sel(component="x", component2="y"), 6 * X**2 * Y, atol=1e-10)
    np.testing.assert_allclose(H.sel(component="y", component2="x"), H.sel(component="x", component2="y"))
    np.testing.assert_allclose(H.sel(component="y", component2="y"), 2 * X**3, atol=1e-10)


def test_jacobian_entries():
    F = smooth_vector_field(9)
    J = F.grad.jacobian(accuracy=4)
    assert J.dims == ("component", "component2", "x", "y", "z")
    for i in "xyz":
        for j in "xyz":
            ref = F.sel(component=i, drop=True).grad.partial(j, accuracy=4)
            np.testing.assert_allclose(J.sel(component=i, component2=j), ref)


def test_magnitude_and_directional():
    x = np.linspace(0, 1, 9)
    X, Y = np.meshgrid(x, x, indexing="ij")
    f = xr.DataArray(np.sin(X) * np.exp(Y), dims=("x", "y"), coords={"x": x, "y": x}, name="f")
    g = f.grad.gradient()
    np.testing.assert_allclose(g.grad.magnitude(), np.hypot(g.sel(component="x"), g.sel(component="y")))
    d = f.grad.directional({"x": 1, "y": 1})
    np.testing.assert_allclose(d, (f.grad("x") + f.grad("y")) / np.sqrt(2), rtol=1e-14)
    d2 = f.grad.directional({"x": 0, "y": -2})
    np.testing.assert_allclose(d2, -f.grad("y"), rtol=1e-14)
    with pytest.raises(ValueError, match="direction"):
        f.grad.directional({"x": 0, "y": 0})


def test_along_straight_path_equals_directional_at_grid_points():
    x = np.linspace(0, 1, 21)
    X, Y = np.meshgrid(x, x, indexing="ij")
    f = xr.DataArray(np.sin(3 * X) * np.cos(2 * Y), dims=("x", "y"), coords={"x": x, "y": x}, name="f")
    pts = x[2:18]  # the diagonal, through grid nodes
    r = f.grad.along({"x": pts, "y": pts})
    ref = f.grad.directional({"x": 1, "y": 1})
    expected = [float(ref.sel(x=p, y=p)) for p in pts]
    np.testing.assert_allclose(r.values, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(r.distance, np.sqrt(2) * (pts - pts[0]))
    assert r.dims == ("distance",)


def test_along_peaks_at_a_step_edge():
    n = 64
    img = np.zeros((n, n))
    img[:, 40:] = 1.0  # vertical edge between columns 39 and 40
    da = xr.DataArray(img, dims=("row", "col"))
    cols = np.linspace(5, 60, 111)
    r = da.grad.along({"row": np.full(cols.size, 30.0), "col": cols})
    peak = cols[int(np.argmax(r.values))]
    assert 38.5 <= peak <= 40.5
    assert r.values.min() >= -1e-12


@pytest.mark.parametrize("op", ["divergence", "curl", "laplacian", "hessian", "jacobian", "gradient"])
def test_chunked_equals_in_memory(op):
    F = smooth_vector_field(10)
    V = F.sel(component="y", drop=True)
    target = V if op in ("laplacian", "hessian", "gradient") else F
    ref = getattr(target.grad, op)(accuracy=4)
    lazy = getattr(target.chunk({"x": 3, "y": 4, "z": 1}).grad, op)(accuracy=4)
    assert lazy.chunks is not None
    np.testing.assert_allclose(lazy.compute(), ref, rtol=1e-12, atol=1e-12)


def test_dataset_forms():
    F = smooth_vector_field(8)
    ds = xr.Dataset(
        {
            "u": F.sel(component="x", drop=True),
            "v": F.sel(component="y", drop=True),
            "w": F.sel(component="z", drop=True),
            "other": ("t", [1.0, 2.0]),
        }
    )
    div = ds.grad.divergence({"x": "u", "y": "v", "z": "w"})
    np.testing.assert_allclose(div, F.grad.divergence())
    curl = ds.grad.curl({"x": "u", "y": "v", "z": "w"})
    np.testing.assert_allclose(curl, F.grad.curl())
    lap = ds.grad.laplacian(["x", "y"])
    np.testing.assert_allclose(lap["u"], ds.u.grad.laplacian(["x", "y"]))
    np.testing.assert_array_equal(lap["other"], ds["other"])
    with pytest.raises(ValueError, match="unknown variable"):
        ds.grad.divergence({"x": "u", "y": "nope"})


def test_bad_vector_inputs():
    x = np.linspace(0, 1, 5)
    f = xr.DataArray(np.zeros((5, 5)), dims=("x", "y"), coords={"x": x, "y": x})
    with pytest.raises(ValueError, match="component"):
        f.grad.divergence()
    F = xr.DataArray(np.zeros((2, 5, 5)), dims=("component", "x", "y"), coords={"component": ["x", "q"]})
    with pytest.raises(ValueError, match="'q'"):
        F.grad.divergence()
    # four components on four dims: the refusal is about the count (the field is otherwise valid)
    G = xr.DataArray(np.zeros((4, 5, 5, 5, 5)), dims=("component", *"abcd"), coords={"component": list("abcd")})
    with pytest.raises(ValueError, match="curl needs 2 or 3 components, got 4"):
        G.grad.curl()
    with pytest.raises(ValueError, match="geometry"):
        f.grad.laplacian(geometry="torus")
