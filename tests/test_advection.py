"""advection -u·∇f: analytic fields on every geometry, units and CF names, the Dataset form, MetPy."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from test_geometry import R, lambert, order_of, rotated_pole

import fieldgrad
from fieldgrad.datasets import vector_from


def flat(n: int) -> xr.Dataset:
    x = np.linspace(0.0, 2.0, n)
    s = np.linspace(0.0, 1.0, n + 3)
    y = s + 0.3 * s**2  # non-uniform
    X, Y = np.meshgrid(x, y, indexing="ij")
    return xr.Dataset(
        {
            "T": (("x", "y"), np.sin(X) * np.cos(2 * Y), {"units": "K", "standard_name": "air_temperature"}),
            "u": (("x", "y"), 1.0 + X * Y, {"units": "m s-1"}),
            "v": (("x", "y"), np.cos(X), {"units": "m s-1"}),
        },
        coords={"x": ("x", x, {"units": "m"}), "y": ("y", y, {"units": "m"})},
    )


def flat_exact(ds: xr.Dataset) -> xr.DataArray:
    X, Y = xr.broadcast(ds.x, ds.y)
    return -(ds.u * np.cos(X) * np.cos(2 * Y) - ds.v * 2 * np.sin(X) * np.sin(2 * Y))


@pytest.mark.parametrize("accuracy", [2, 4])
def test_flat_advection_converges_to_the_analytic_value(accuracy: int) -> None:
    errs, steps = [], []
    for n in (21, 41, 81):
        ds = flat(n)
        adv = ds.T.grad.advection(vector_from(ds, {"x": "u", "y": "v"}), accuracy=accuracy)
        errs.append(float(abs(adv - flat_exact(ds)).max()))
        steps.append(2.0 / (n - 1))
    assert abs(order_of(errs[1:], steps[1:]) - accuracy) < 0.3, errs  # the finer two: asymptotic


def test_labels_units_and_cf_name() -> None:
    ds = flat(11)
    adv = ds.T.grad.advection(vector_from(ds, {"x": "u", "y": "v"}))
    assert adv.name == "advection_T" and adv.dims == ds.T.dims
    assert adv.attrs["units"] == "K s-1"
    assert adv.attrs["standard_name"] == "tendency_of_air_temperature_due_to_advection"
    assert adv.attrs["long_name"] == "advection of T"
    no_time = ds.assign(u=ds.u.assign_attrs(units="m"), v=ds.v.assign_attrs(units="m"))
    adv = no_time.T.grad.advection(vector_from(no_time, {"x": "u", "y": "v"}))
    assert adv.attrs["units"] == "K" and "standard_name" not in adv.attrs  # not a tendency: no CF name


def test_the_dataset_form_advects_every_variable_with_the_dims() -> None:
    ds = flat(11).assign(c=("t", [1.0, 2.0]))
    out = ds.grad.advection({"x": "u", "y": "v"})
    flow = vector_from(ds, {"x": "u", "y": "v"})
    for name in ("T", "u", "v"):  # u·∇u: the wind's own advection too
        xr.testing.assert_identical(out[name], ds[name].grad.advection(flow).rename(name))
    xr.testing.assert_identical(out["c"], ds["c"])


def test_chunked_equals_in_memory() -> None:
    ds = flat(23)
    want = ds.T.grad.advection(vector_from(ds, {"x": "u", "y": "v"}), accuracy=4)
    lazy = ds.chunk({"x": 5, "y": 7})
    got = lazy.T.grad.advection(vector_from(lazy, {"x": "u", "y": "v"}), accuracy=4)
    assert got.chunks is not None
    xr.testing.assert_allclose(got.compute(), want, rtol=1e-12, atol=1e-15)


def test_pint_units() -> None:
    pytest.importorskip("pint_xarray")
    ds = flat(11)
    q = ds.pint.quantify()
    adv = q.T.grad.advection(vector_from(q, {"x": "u", "y": "v"}))
    assert adv.pint.units == q.T.pint.units * q.u.pint.units / q.x.pint.units
    np.testing.assert_allclose(
        adv.pint.magnitude, ds.T.grad.advection(vector_from(ds, {"x": "u", "y": "v"})), rtol=1e-14
    )


def test_sphere_advection_of_a_zonal_field() -> None:
    """f = sin φ in the wind (v, u) = (cos λ, anything): -u·∇f = -cos λ cos φ / R."""
    errs, steps = [], []
    for d in (4.0, 2.0):
        lat = np.arange(-60.0, 60.0 + d / 2, d)
        lon = np.arange(0.0, 360.0, d)
        phi, lam = np.meshgrid(np.deg2rad(lat), np.deg2rad(lon), indexing="ij")
        ds = xr.Dataset(
            {
                "f": (("lat", "lon"), np.sin(phi)),
                "u": (("lat", "lon"), np.sin(3 * lam)),
                "v": (("lat", "lon"), np.cos(lam)),
            },
            coords={"lat": ("lat", lat, {"units": "degrees_north"}), "lon": ("lon", lon, {"units": "degrees_east"})},
        )
        adv = ds.f.grad.advection(vector_from(ds, {"lat": "v", "lon": "u"}), geometry="sphere")
        errs.append(float(abs(adv.values + np.cos(lam) * np.cos(phi) / R).max()) * R)
        steps.append(d)
    assert abs(np.log2(errs[0] / errs[1]) - 2) < 0.3, errs


@pytest.mark.parametrize("accuracy", [2, 4])
def test_projected_advection_is_frame_invariant(accuracy: int) -> None:
    """The Lambert fixture's solid rotation about the x axis advecting cos φ sin λ: -u·∇f = ω sin φ."""
    errs, steps = [], []
    for n in (41, 81):
        ds, _, (phi, _) = lambert(n)
        adv = ds.f.grad.advection(vector_from(ds, {"x": "u", "y": "v"}), geometry="projected", accuracy=accuracy)
        errs.append(float(abs(adv.values - 1e-5 * np.sin(phi)).max()))
        steps.append(float(ds.x[1] - ds.x[0]))
    assert abs(order_of(errs, steps) - accuracy) < 0.4, errs


def test_rotated_pole_grid_relative_flow_gives_the_earth_relative_advection() -> None:
    ds = rotated_pole(16)
    earth = ds.f.grad.advection(vector_from(ds, {"lat": "v", "lon": "u"}), geometry="sphere")
    # the same wind given along the grid's index dims (rotated by the grid's angle)
    g = fieldgrad.Grid(ds, geometry="sphere")
    metric = g.metric()
    grid_wind = metric.to_grid({"lon": ds.u, "lat": ds.v})
    F = xr.concat([grid_wind["rlon"], grid_wind["rlat"]], "component").assign_coords(component=["rlon", "rlat"])
    F = F.assign_coords(lat=ds.lat, lon=ds.lon)
    relative = ds.f.grad.advection(F, grid=g)
    np.testing.assert_allclose(relative.values, earth.values, rtol=1e-10, atol=1e-20)


def test_agrees_with_metpy_on_an_era5_like_grid() -> None:
    """Where the conventions agree (MetPy given a sphere of the same radius; inside the longitude ends,
    which MetPy takes one-sided and fieldgrad periodic) the two use the same second-order stencils."""
    mpcalc = pytest.importorskip("metpy.calc")
    pyproj = pytest.importorskip("pyproj")
    from metpy.units import units

    crs = pyproj.CRS(f"+proj=longlat +R={R} +no_defs")
    diffs = []
    for d in (2.0, 1.0):
        lat = np.arange(60.0, -60.0 - d / 2, -d)  # ERA5 order
        lon = np.arange(0.0, 360.0, d)
        phi, lam = np.meshgrid(np.deg2rad(lat), np.deg2rad(lon), indexing="ij")
        t = 280 + 20 * np.cos(phi) ** 2 + 3 * np.sin(2 * lam) * np.cos(phi)
        u = 10 * np.cos(phi) + 5 * np.cos(phi) * np.sin(lam)
        v = 4 * np.sin(2 * phi) * np.cos(3 * lam)
        ds = xr.Dataset(
            {
                "t": (("latitude", "longitude"), t, {"units": "K"}),
                "u": (("latitude", "longitude"), u, {"units": "m s-1"}),
                "v": (("latitude", "longitude"), v, {"units": "m s-1"}),
            },
            coords={
                "latitude": ("latitude", lat, {"units": "degrees_north"}),
                "longitude": ("longitude", lon, {"units": "degrees_east"}),
            },
        )
        ours = ds.grad.advection({"longitude": "u", "latitude": "v"}, geometry="sphere")["t"].values
        theirs = mpcalc.advection(
            t * units.K,
            u * units("m/s"),
            v * units("m/s"),
            latitude=lat * units.degree,
            longitude=lon * units.degree,
            crs=crs,
        ).m_as("K/s")
        inner = (slice(1, -1), slice(1, -1))  # MetPy's longitude ends are one-sided, fieldgrad's periodic
        diffs.append(float(np.abs(ours - theirs)[inner].max() / np.abs(theirs).max()))
    assert max(diffs) < 1e-10, diffs
