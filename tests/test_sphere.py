"""geometry="sphere": analytic fields, convergence, metric terms, and agreement with MetPy."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import fieldgrad  # noqa: F401
from fieldgrad.geometry import EARTH_RADIUS
from fieldgrad.geometry import lat_lon_coords as lat_lon_dims

OMEGA = 7.292e-5
R = EARTH_RADIUS


def latlon_grid(dlat: float, dlon: float, lat_max: float = 60.0) -> tuple[np.ndarray, np.ndarray]:
    lat = np.arange(-lat_max, lat_max + dlat / 2, dlat)
    lon = np.arange(0.0, 360.0, dlon)
    return lat, lon


def vector(v: np.ndarray, u: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> xr.DataArray:
    return xr.DataArray(
        np.stack([v, u]),
        dims=("component", "lat", "lon"),
        coords={
            "component": ["lat", "lon"],
            "lat": ("lat", lat, {"units": "degrees_north"}),
            "lon": ("lon", lon, {"units": "degrees_east"}),
        },
        name="wind",
        attrs={"units": "m s-1"},
    )


def phi_of(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    return np.deg2rad(np.broadcast_to(lat[:, None], (lat.size, lon.size)))


def errors_solid_body(d: float, accuracy: int) -> tuple[float, float]:
    lat, lon = latlon_grid(d, d)
    phi = phi_of(lat, lon)
    U = vector(0 * phi, OMEGA * R * np.cos(phi), lat, lon)
    vort = U.grad.curl(geometry="sphere", accuracy=accuracy)
    div = U.grad.divergence(geometry="sphere", accuracy=accuracy)
    return float(abs(vort - 2 * OMEGA * np.sin(phi)).max()), float(abs(div).max())


@pytest.mark.parametrize("accuracy", [2, 4])
def test_solid_body_rotation_vorticity_converges_and_divergence_vanishes(accuracy):
    (e1, d1), (e2, d2) = errors_solid_body(4.0, accuracy), errors_solid_body(2.0, accuracy)
    order = np.log2(e1 / e2)
    assert abs(order - accuracy) < 0.3, order
    assert d1 < 1e-12 * OMEGA and d2 < 1e-12 * OMEGA  # u independent of longitude: zero to round-off


def test_uniform_wind_has_metric_term_vorticity_and_divergence():
    errs = []
    for d in (4.0, 2.0):
        lat, lon = latlon_grid(d, d)
        phi = phi_of(lat, lon)
        U = vector(np.ones_like(phi), np.ones_like(phi), lat, lon)
        vort = U.grad.curl(geometry="sphere")
        div = U.grad.divergence(geometry="sphere")
        assert float(abs(vort).max()) > 1e-7  # a Cartesian code would give 0
        errs.append((float(abs(vort - np.tan(phi) / R).max()), float(abs(div + np.tan(phi) / R).max())))
    assert abs(np.log2(errs[0][0] / errs[1][0]) - 2) < 0.3
    assert abs(np.log2(errs[0][1] / errs[1][1]) - 2) < 0.3
    # Cartesian on the same numbers really is zero
    assert float(abs(U.grad.curl()).max()) == 0.0


def test_gradient_and_laplacian_of_spherical_harmonic():
    # f = sin φ (Y_1^0): ∇f = (cos φ / R northward, 0), ∇²f = -2 sin φ / R²
    errs = []
    for d in (3.0, 1.5):
        lat, lon = latlon_grid(d, d, lat_max=75.0)
        phi = phi_of(lat, lon)
        T = xr.DataArray(
            np.sin(phi),
            dims=("lat", "lon"),
            name="T",
            attrs={"units": "K"},
            coords={
                "lat": ("lat", lat, {"standard_name": "latitude"}),
                "lon": ("lon", lon, {"standard_name": "longitude"}),
            },
        )
        g = T.grad.gradient(["lat", "lon"], geometry="sphere")
        lap = T.grad.laplacian(geometry="sphere")
        assert g.attrs["units"] == "K m-1" and lap.attrs["units"] == "K m-2"
        assert float(abs(g.sel(component="lon")).max()) < 1e-20
        errs.append(
            (float(abs(g.sel(component="lat") - np.cos(phi) / R).max()), float(abs(lap + 2 * np.sin(phi) / R**2).max()))
        )
    assert abs(np.log2(errs[0][0] / errs[1][0]) - 2) < 0.3
    assert abs(np.log2(errs[0][1] / errs[1][1]) - 2) < 0.3


def test_periodic_longitude_when_the_grid_wraps():
    lat, lon = latlon_grid(5.0, 5.0)
    phi = phi_of(lat, lon)
    lam = np.deg2rad(np.broadcast_to(lon, phi.shape))
    T = xr.DataArray(
        np.cos(phi) * np.sin(lam),
        dims=("lat", "lon"),
        coords={"lat": ("lat", lat, {"units": "degrees_north"}), "lon": ("lon", lon, {"units": "degrees_east"})},
    )
    g = T.grad.gradient(geometry="sphere", radius=1.0)
    # eastward component: 1/(cos φ) ∂f/∂λ = cos λ, everywhere including the seam
    err = abs(g.sel(component="lon") - np.cos(lam))
    assert float(err.max()) < 3e-3
    one_sided = T.grad.gradient(geometry="sphere", radius=1.0, boundary={"lon": "one-sided"})
    assert float(abs(one_sided.sel(component="lon") - np.cos(lam)).isel(lon=0).max()) > float(err.isel(lon=0).max())


def test_dims_come_from_attributes_or_keywords_never_names():
    da = xr.DataArray(np.zeros((3, 4)), dims=("lat", "lon"), coords={"lat": [0.0, 1, 2], "lon": [0.0, 1, 2, 3]})
    with pytest.raises(ValueError, match="latitude"):
        lat_lon_dims(da)
    assert lat_lon_dims(da, latitude="lat", longitude="lon") == ("lat", "lon")
    with pytest.raises(ValueError, match="neither a coordinate nor a dimension"):
        lat_lon_dims(da, latitude="phi", longitude="lon")


def test_chunked_equals_in_memory_on_the_sphere():
    lat, lon = latlon_grid(4.0, 4.0)
    phi = phi_of(lat, lon)
    rng = np.random.default_rng(0)
    U = vector(rng.normal(size=phi.shape), rng.normal(size=phi.shape), lat, lon)
    for op in ("curl", "divergence"):
        ref = getattr(U.grad, op)(geometry="sphere")
        lazy = getattr(U.chunk({"lat": 7, "lon": 11}).grad, op)(geometry="sphere")
        np.testing.assert_allclose(lazy.compute(), ref, rtol=1e-12, atol=1e-18)


metpy_calc = pytest.importorskip("metpy.calc")


def test_agrees_with_metpy_to_the_stencil_order():
    import pyproj
    from metpy.units import units

    crs = pyproj.CRS(f"+proj=longlat +R={R} +no_defs")
    diffs = []
    for d in (4.0, 2.0):
        lat, lon = latlon_grid(d, d)
        phi = phi_of(lat, lon)
        lam = np.deg2rad(np.broadcast_to(lon, phi.shape))
        u = 10 * np.cos(phi) ** 2 * np.sin(2 * lam)
        v = 5 * np.sin(2 * phi) * np.cos(lam)
        U = vector(v, u, lat, lon)
        kw = dict(latitude=lat * units.degree, longitude=lon * units.degree, crs=crs)
        m_vort = np.asarray(metpy_calc.vorticity(u * units("m/s"), v * units("m/s"), **kw).m)
        m_div = np.asarray(metpy_calc.divergence(u * units("m/s"), v * units("m/s"), **kw).m)
        m_grad = metpy_calc.geospatial_gradient(u * units("m/s"), **kw)  # (d/dx, d/dy)
        vort = U.grad.curl(geometry="sphere").values
        div = U.grad.divergence(geometry="sphere").values
        g = U.sel(component="lon", drop=True).grad.gradient(["lat", "lon"], geometry="sphere")
        inner = (slice(1, -1), slice(None))  # MetPy's edges are one-sided in latitude too, but differently
        scale = float(np.abs(m_vort).max())
        diffs.append(
            [
                np.abs(vort - m_vort)[inner].max() / scale,
                np.abs(div - m_div)[inner].max() / scale,
                np.abs(g.sel(component="lon").values - np.asarray(m_grad[0].m))[inner].max() / scale,
                np.abs(g.sel(component="lat").values - np.asarray(m_grad[1].m))[inner].max() / scale,
            ]
        )
    diffs = np.array(diffs)
    assert np.all(diffs[1] < 1e-2), diffs
    # both are second-order, so where they differ the difference shrinks at least like h²
    # (the meridional gradient uses the same formula in both: equal to round-off)
    converging = np.log2(diffs[0] / diffs[1]) > 1.7
    assert np.all(converging | (diffs[1] < 1e-10)), diffs
