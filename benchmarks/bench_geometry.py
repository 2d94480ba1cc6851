#!/usr/bin/env python3
"""Vorticity on geoscience grids: fieldgrad's geometry layer against MetPy, side by side in one process.

Cases (float64, in memory, one call as a user makes it; results checked against each other first):

* Lambert conformal, ``--lcc`` points square (default 1000²): ``U.grad.curl(geometry="projected")``
  with the CF grid mapping (map factors from pyproj in the call) against ``metpy.calc.vorticity``
  on DataArrays with the CRS (MetPy derives dx, dy and the map factors from it), and on numpy
  arrays with dx, dy and the factors precomputed (MetPy's fastest form);
* global 0.25° (721 × 1440, 90 → −90): ``U.grad.curl(geometry="sphere")`` against
  ``metpy.calc.vorticity`` on DataArrays with latitude/longitude coordinates;
* the curvilinear path on the same global grid: 2-D ``lat(j, i)``, ``lon(j, i)`` coordinates (the
  grid's Jacobian computed in the call) against the 1-D form.

Medians of ``--repeats`` rounds (cases in a shuffled order each round); the foreign CPU load
during the timed runs is reported. Run: ``uv run python benchmarks/bench_geometry.py``.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import xarray as xr
from _harness import foreign_load_between, medians, shuffled_rounds, snapshot

import fieldgrad

R = 6.371e6
LCC = "+proj=lcc +lat_1=33 +lat_2=45 +lat_0=40 +lon_0=-97 +R=6371000 +units=m +no_defs"


def wind_on(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A Rossby–Haurwitz wave (earth-relative u, v)."""
    phi, lam = np.deg2rad(lat), np.deg2rad(lon)
    c, s, n, w, k = np.cos(phi), np.sin(phi), 4, 7.848e-6, 7.848e-6
    u = R * w * c + R * k * c ** (n - 1) * (n * s**2 - c**2) * np.cos(n * lam)
    v = -R * k * n * c ** (n - 1) * s * np.sin(n * lam)
    return u, v


def lambert_case(n: int):
    import pyproj

    x = np.linspace(-2.5e6, 2.5e6, n)
    y = np.linspace(-2.0e6, 2.0e6, n)
    X, Y = np.meshgrid(x, y)
    lon, lat = pyproj.Transformer.from_crs(LCC, "+proj=longlat +R=6371000 +no_defs", always_xy=True).transform(X, Y)
    u, v = wind_on(lat, lon)  # treated as grid-relative: the same input for both libraries
    crs = pyproj.CRS.from_user_input(LCC)
    coords = {
        "x": ("x", x, {"units": "m", "standard_name": "projection_x_coordinate"}),
        "y": ("y", y, {"units": "m", "standard_name": "projection_y_coordinate"}),
        "lambert": xr.DataArray(0, attrs=crs.to_cf()),
    }
    attrs = {"units": "m s-1", "grid_mapping": "lambert"}
    ds = xr.Dataset({"u": (("y", "x"), u, attrs), "v": (("y", "x"), v, attrs)}, coords=coords)
    return ds, crs


def global_case(d: float = 0.25):
    lat = np.linspace(90, -90, round(180 / d) + 1)
    lon = np.arange(0, 360, d)
    LAT, LON = np.meshgrid(lat, lon, indexing="ij")
    u, v = wind_on(LAT, LON)
    coords = {
        "latitude": ("latitude", lat, {"units": "degrees_north"}),
        "longitude": ("longitude", lon, {"units": "degrees_east"}),
    }
    ds = xr.Dataset(
        {
            "u": (("latitude", "longitude"), u, {"units": "m s-1"}),
            "v": (("latitude", "longitude"), v, {"units": "m s-1"}),
        },
        coords=coords,
    )
    ds2 = xr.Dataset(
        {"u": (("j", "i"), u, {"units": "m s-1"}), "v": (("j", "i"), v, {"units": "m s-1"})},
        coords={
            "lat": (("j", "i"), LAT, {"units": "degrees_north"}),
            "lon": (("j", "i"), LON, {"units": "degrees_east"}),
        },
    )
    return ds, ds2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lcc", type=int, default=1000, help="Lambert grid points per side (default 1000)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    import metpy.calc as mpcalc
    from metpy.units import units

    warnings.filterwarnings("ignore", category=UserWarning)
    lcc, crs = lambert_case(args.lcc)
    glob, glob2d = global_case()
    U_lcc = xr.concat([lcc.u, lcc.v], "component").assign_coords(component=["x", "y"]).assign_attrs(lcc.u.attrs)
    U_glob = xr.concat([glob.v, glob.u], "component").assign_coords(component=["latitude", "longitude"])
    U_glob2d = xr.concat([glob2d.v, glob2d.u], "component").assign_coords(component=["lat", "lon"])

    # MetPy inputs: DataArrays with the CRS (as MetPy's docs show), and numpy with precomputed factors
    lcc_mp = lcc.metpy.assign_crs(crs.to_cf()).metpy.parse_cf()
    glob_mp = glob.metpy.assign_crs(grid_mapping_name="latitude_longitude", earth_radius=R).metpy.parse_cf()
    k = 1.0 / np.asarray(fieldgrad.Grid(lcc.u, geometry="projected").metric().G["x", "x"].values)  # x in metres
    dx = float(np.diff(lcc.x.values).mean()) * units.m
    dy = float(np.diff(lcc.y.values).mean()) * units.m
    u_q, v_q = lcc.u.values * units("m/s"), lcc.v.values * units("m/s")

    cases = {
        "lcc fieldgrad": lambda: U_lcc.grad.curl(geometry="projected").values,
        "lcc metpy (xarray+CRS)": lambda: mpcalc.vorticity(lcc_mp.u, lcc_mp.v).values,
        "lcc metpy (numpy, factors given)": lambda: (
            mpcalc.vorticity(u_q, v_q, dx=dx, dy=dy, parallel_scale=k, meridional_scale=k).m
        ),
        "global fieldgrad (1-D lat/lon)": lambda: U_glob.grad.curl(geometry="sphere").values,
        "global fieldgrad (2-D lat/lon)": lambda: U_glob2d.grad.curl(geometry="sphere").values,
        "global metpy (xarray)": lambda: mpcalc.vorticity(glob_mp.u, glob_mp.v).values,
    }
    results = {name: np.asarray(f()) for name, f in cases.items()}  # warm-up and check
    inner = (slice(5, -5), slice(5, -5))
    for a, b in (
        ("lcc fieldgrad", "lcc metpy (numpy, factors given)"),
        ("global fieldgrad (1-D lat/lon)", "global fieldgrad (2-D lat/lon)"),
        ("global fieldgrad (1-D lat/lon)", "global metpy (xarray)"),
    ):
        diff = np.nanmax(np.abs(results[a][inner] - results[b][inner]))
        print(
            f"check: max |{a} − {b}| inside 5 points of the edges = {diff:.2e} s-1 "
            f"(values up to {np.nanmax(np.abs(results[a])):.1e})"
        )
    t0 = snapshot()
    times = shuffled_rounds(cases, args.repeats)
    load = foreign_load_between(t0, snapshot())
    print(
        f"\nLambert conformal {args.lcc}x{args.lcc}, global 0.25° 721x1440; median of {args.repeats}; "
        f"foreign load {load:.0%}"
    )
    med = medians(times)
    for name, t in med.items():
        print(f"  {name:38s} {t * 1e3:9.1f} ms  (min {min(times[name]) * 1e3:.1f}, max {max(times[name]) * 1e3:.1f})")
    print("\nratios (anchor / fieldgrad; > 1: fieldgrad faster)")
    print(
        f"  lcc: vs metpy xarray+CRS {med['lcc metpy (xarray+CRS)'] / med['lcc fieldgrad']:.2f}x, "
        f"vs metpy numpy {med['lcc metpy (numpy, factors given)'] / med['lcc fieldgrad']:.2f}x"
    )
    print(f"  global: vs metpy xarray {med['global metpy (xarray)'] / med['global fieldgrad (1-D lat/lon)']:.2f}x")
    print(
        f"  curvilinear (2-D lat/lon) / rectilinear (1-D) on the same grid: "
        f"{med['global fieldgrad (2-D lat/lon)'] / med['global fieldgrad (1-D lat/lon)']:.2f}x the time"
    )


if __name__ == "__main__":
    main()
