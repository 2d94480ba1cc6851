#!/usr/bin/env python3
"""Precision of the geometry layer, against analytic values: float32 near the poles, projected grids at fine spacing.

* ``poles``: an ERA5-like float32 temperature ``T = 250 + 40 cos²φ + 5 sin 3λ cos³φ`` (spherical
  harmonics of degree 0, 2 and 3, so ``∇²T`` is exact) and a wind (solid rotation about the x axis
  plus a Rossby–Haurwitz wave, vorticity exact, divergence 0) on a global ``--deg``° grid with both
  pole rows, latitude 90 → -90. Largest error per band of latitude, over the largest exact value,
  for: the float64 field; the float32 values in float64 (what the float32 data allows); the
  float32 field; MetPy's ``geospatial_laplacian`` of the float32 field (``--metpy``).
* ``lambert``: curl, divergence, Laplacian and gradient at ``accuracy=`` 2 and 4 on the spherical
  Lambert conformal grid of ``tests/test_geometry.py`` from 100 km down to 4 km, the fields taken
  at the points from the projection's closed-form inverse (Snyder 1987) in extended precision and
  rounded once; the order between successive grids in parentheses (``--inner N`` leaves out N
  points at each edge).

Run: ``uv run python benchmarks/bench_precision.py poles`` and ``... lambert``.
"""

from __future__ import annotations

import argparse
import warnings
from typing import Any

import numpy as np
import xarray as xr

import fieldgrad  # noqa: F401  (the accessor)

R = 6.371e6
LCC = "+proj=lcc +lat_1=33 +lat_2=45 +lat_0=40 +lon_0=-97 +R=6371000 +units=m +no_defs"


def era5_like(deg: float) -> tuple[xr.Dataset, np.ndarray, np.ndarray]:
    """T, u, v on a global grid with both poles; the exact ∇²T and vorticity."""
    lat, lon = np.linspace(90.0, -90.0, round(180 / deg) + 1), np.arange(0.0, 360.0, deg)
    phi, lam = np.meshgrid(np.deg2rad(lat), np.deg2rad(lon), indexing="ij")
    c, s = np.cos(phi), np.sin(phi)
    p2 = (3 * s**2 - 1) / 2  # 40 cos²φ = 80/3 (1 - P₂)
    T = 250 + 80 / 3 - 80 / 3 * p2 + 5 * np.sin(3 * lam) * c**3
    lap_T = (-6 * -80 / 3 * p2 - 12 * 5 * np.sin(3 * lam) * c**3) / R**2
    om, w, k, n = 1e-5, 7.848e-6, 7.848e-6, 4
    u = -om * R * s * np.cos(lam) + R * w * c + R * k * c ** (n - 1) * (n * s**2 - c**2) * np.cos(n * lam)
    v = om * R * np.sin(lam) - R * k * n * c ** (n - 1) * s * np.sin(n * lam)
    zeta = 2 * om * c * np.cos(lam) + 2 * w * s - k * s * c**n * (n**2 + 3 * n + 2) * np.cos(n * lam)
    dims = ("latitude", "longitude")
    ds = xr.Dataset(
        {"T": (dims, T, {"units": "K"}), "u": (dims, u, {"units": "m s-1"}), "v": (dims, v, {"units": "m s-1"})},
        coords={
            "latitude": ("latitude", lat, {"units": "degrees_north"}),
            "longitude": ("longitude", lon, {"units": "degrees_east"}),
        },
    )
    return ds, lap_T, zeta


def bands(lat: np.ndarray) -> dict[str, np.ndarray]:
    a = 90 - np.abs(lat)
    d = a[a > 0].min() * 1.001
    return {
        "pole rows": a == 0,
        "next rows": (a > 0) & (a <= d),
        "2nd-4th rows": (a > d) & (a <= 4 * d),
        "to 10° from": (a > 4 * d) & (a <= 10),
        "10° to 30°": (a > 10) & (a <= 30),
        "60S-60N": a > 30,
    }


def poles(deg: float, accuracy: int, metpy: bool) -> None:
    ds, lap_T, zeta = era5_like(deg)
    variants = {
        "float64": ds,
        "float32 in f64": ds.astype(np.float32).astype(np.float64),
        "float32": ds.astype(np.float32),
    }
    kw = {"geometry": "sphere", "accuracy": accuracy}
    errors: dict[str, dict[str, tuple[np.ndarray, float]]] = {"laplacian": {}, "curl": {}, "divergence": {}}
    for name, d in variants.items():
        U = xr.concat([d.v, d.u], "component").assign_coords(component=["latitude", "longitude"])
        errors["laplacian"][name] = (np.abs(d.T.grad.laplacian(**kw).values - lap_T), np.abs(lap_T).max())
        errors["curl"][name] = (np.abs(U.grad.curl(**kw).values - zeta), np.abs(zeta).max())
        errors["divergence"][name] = (np.abs(U.grad.divergence(**kw).values.astype(np.float64)), np.abs(zeta).max())
    if metpy:
        import metpy.calc as mpcalc

        warnings.filterwarnings("ignore")
        t32 = ds[["T"]].astype(np.float32)
        t32 = t32.metpy.assign_crs(grid_mapping_name="latitude_longitude", earth_radius=R).metpy.parse_cf()
        theirs = np.asarray(mpcalc.geospatial_laplacian(t32.T).metpy.dequantify().values, dtype=np.float64)
        errors["laplacian"]["MetPy float32"] = (np.abs(theirs - lap_T), np.abs(lap_T).max())
    for op, by in errors.items():
        print(f"\n{op}, global {deg}°, accuracy={accuracy}: largest error per band / largest exact value")
        print(f"  {'band':14s}" + "".join(f"{k:>16s}" for k in by))
        for band, mask in bands(ds.latitude.values).items():
            cells = (f"{np.nanmax(e[mask]) / scale:16.3g}" if mask.any() else f"{'-':>16s}" for e, scale in by.values())
            print(f"  {band:14s}" + "".join(cells))


def lambert_case(n: int, extent: float = 2.0e6) -> tuple[xr.Dataset, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """The fields of the test fixture from the closed-form inverse of the spherical Lambert conformal
    projection, in extended precision (``np.longdouble``), rounded once."""
    import pyproj

    x, y = np.linspace(-extent, extent, n), np.linspace(-extent * 0.8, extent * 0.8, n)
    X, Y = np.meshgrid(x, y)
    L = np.longdouble
    pi = L(4) * np.arctan(L(1))
    p1, p2, p0, l0 = (L(v) * pi / 180 for v in (33, 45, 40, -97))

    def t(p: Any) -> Any:
        return np.tan(pi / 4 + p / 2)

    cone = np.log(np.cos(p1) / np.cos(p2)) / np.log(t(p2) / t(p1))
    F, RL = np.cos(p1) * t(p1) ** cone / cone, L(R)
    rho0 = RL * F / t(p0) ** cone
    XL, YL = X.astype(L), Y.astype(L)
    rho, theta = np.sqrt(XL**2 + (rho0 - YL) ** 2), np.arctan2(XL, rho0 - YL)
    lam, phi = l0 + theta / cone, 2 * np.arctan((RL * F / rho) ** (1 / cone)) - pi / 2
    ex, ey, nx, ny = np.cos(theta), np.sin(theta), -np.sin(theta), np.cos(theta)  # east, north in the plane
    om = L(1e-5)
    ue, vn = -om * RL * np.sin(phi) * np.cos(lam), om * RL * np.sin(lam)

    def d(v: Any) -> np.ndarray:
        return np.asarray(v, dtype=np.float64)

    a = {"grid_mapping": "lambert"}
    ds = xr.Dataset(
        {
            "u": (("y", "x"), d(ue * ex + vn * nx), {"units": "m s-1", **a}),
            "v": (("y", "x"), d(ue * ey + vn * ny), {"units": "m s-1", **a}),
            "f": (("y", "x"), d(np.cos(phi) * np.sin(lam)), {"units": "K", **a}),
        },
        coords={
            "x": ("x", x, {"units": "m", "standard_name": "projection_x_coordinate"}),
            "y": ("y", y, {"units": "m", "standard_name": "projection_y_coordinate"}),
            "lambert": xr.DataArray(0, attrs=pyproj.CRS.from_user_input(LCC).to_cf()),
        },
    )
    ge, gn = np.cos(lam) / RL, -np.sin(phi) * np.sin(lam) / RL
    return ds, d(2 * om * np.cos(phi) * np.cos(lam)), (d(ge * ex + gn * nx), d(ge * ey + gn * ny))


def lambert(sizes: list[int], accuracy: int, inner: int) -> None:
    print(
        f"\nLambert conformal, accuracy={accuracy}: largest relative error (curl, divergence: / max|ζ|; "
        f"Laplacian: × R² / max|f|; gradient: × R){f', {inner} points from the edges left out' if inner else ''}"
    )
    print(f"  {'n':>5s} {'dx km':>7s}" + "".join(f"{k:>18s}" for k in ("curl", "divergence", "laplacian", "gradient")))
    previous = None
    for n in sizes:
        ds, zeta, (gx, gy) = lambert_case(n)
        U = xr.concat([ds.u, ds.v], "component").assign_coords(component=["x", "y"]).assign_attrs(ds.u.attrs)
        kw = {"geometry": "projected", "accuracy": accuracy}
        g = ds.f.grad.gradient(**kw)
        results = {
            "curl": (U.grad.curl(**kw).values - zeta) / np.abs(zeta).max(),
            "divergence": U.grad.divergence(**kw).values / np.abs(zeta).max(),
            "laplacian": (ds.f.grad.laplacian(**kw).values + 2 * ds.f.values / R**2) * R**2 / np.abs(ds.f.values).max(),
            "gradient": np.fmax(np.abs(g.sel(component="x").values - gx), np.abs(g.sel(component="y").values - gy)) * R,
        }
        cut = (slice(inner, -inner), slice(inner, -inner)) if inner else (slice(None), slice(None))
        errs = {k: float(np.abs(v[cut]).max()) for k, v in results.items()}
        dx = 4.0e3 / (n - 1)
        line = f"  {n:5d} {dx:7.2f}"
        for k, e in errs.items():
            order = f"({np.log(previous[1][k] / e) / np.log(previous[0] / dx):5.2f})" if previous else " " * 7
            line += f"{e:11.2e}{order}"
        print(line)
        previous = (dx, errs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("case", choices=["poles", "lambert"])
    parser.add_argument("--deg", type=float, default=0.25, help="global grid spacing (poles)")
    parser.add_argument("--accuracy", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--metpy", action="store_true", help="MetPy's float32 Laplacian too (poles)")
    parser.add_argument("--sizes", default="41,81,161,321,641,1001", help="points per side (lambert)")
    parser.add_argument("--inner", type=int, default=0, help="points left out at each edge (lambert)")
    args = parser.parse_args()
    for accuracy in args.accuracy:
        if args.case == "poles":
            poles(args.deg, accuracy, args.metpy)
        else:
            lambert([int(v) for v in args.sizes.split(",")], accuracy, args.inner)


if __name__ == "__main__":
    main()
