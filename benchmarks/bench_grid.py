#!/usr/bin/env python3
"""One grid, resolved once: what reusing a ``fieldgrad.Grid`` saves, and advection against MetPy.

Cases (float64, in memory, in one process):

* Lambert conformal ``--lcc`` points square (default 1000²), ``--calls`` gradients (default 100):
  with one ``fieldgrad.Grid`` built once and passed as ``grid=``; with ``geometry="projected"`` on
  every call (the call builds its grid; map factors found again by a fingerprint of the
  coordinates); and a fresh grid for every call (pyproj every time). pyproj's projection calls
  (``Transformer.transform``: the map factors come from the inverse projection of the grid's
  points) are counted in each case.
* advection of an ERA5-like temperature by its wind on a global ``--deg``° grid (default 0.25°,
  721 × 1440): ``ds.grad.advection({"longitude": "u", "latitude": "v"}, geometry="sphere")`` against
  ``metpy.calc.advection`` given latitude, longitude and a spherical CRS of the same radius (the
  conventions agree: the numbers are compared first).

Run: ``uv run python benchmarks/bench_grid.py`` (``--quick`` for a small run).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import xarray as xr
from _harness import foreign_load_between, medians, shuffled_rounds, snapshot

import fieldgrad

R = 6.371e6
LCC = "+proj=lcc +lat_1=33 +lat_2=45 +lat_0=40 +lon_0=-97 +R=6371000 +units=m +no_defs"


def lambert(n: int) -> xr.Dataset:
    import pyproj

    x = np.linspace(-2.5e6, 2.5e6, n)
    y = np.linspace(-2.0e6, 2.0e6, n)
    X, Y = np.meshgrid(x, y)
    lon, lat = pyproj.Transformer.from_crs(LCC, "+proj=longlat +R=6371000", always_xy=True).transform(X, Y)
    crs = xr.DataArray(0, attrs=pyproj.CRS.from_user_input(LCC).to_cf())
    return xr.Dataset(
        {"T": (("y", "x"), 280 + 10 * np.cos(np.deg2rad(lat)) * np.sin(np.deg2rad(lon)), {"grid_mapping": "crs"})},
        coords={
            "x": ("x", x, {"units": "m", "standard_name": "projection_x_coordinate"}),
            "y": ("y", y, {"units": "m", "standard_name": "projection_y_coordinate"}),
            "crs": crs,
        },
    )


class CountingProjections:
    """Counts pyproj's projections of points (``Transformer.transform``) while installed."""

    def __init__(self) -> None:
        import pyproj

        self.pyproj, self.real, self.calls = pyproj, pyproj.Transformer.transform, 0

    def __enter__(self) -> CountingProjections:
        real = self.real

        def counting(transformer, *args, **kwargs):  # type: ignore[no-untyped-def]
            self.calls += 1
            return real(transformer, *args, **kwargs)

        self.pyproj.Transformer.transform = counting
        return self

    def __exit__(self, *exc: object) -> None:
        self.pyproj.Transformer.transform = self.real


def grid_reuse(n: int, calls: int) -> None:
    ds = lambert(n)
    print(f"Lambert conformal {n}x{n}, {calls} gradients of T")
    rows = []
    for label, run in (
        ("one Grid, grid= on every call", lambda g: ds.T.grad.gradient(grid=g)),
        ("geometry='projected' on every call", lambda g: ds.T.grad.gradient(geometry="projected")),
        ("a new Grid for every call", lambda g: ds.T.grad.gradient(grid=fieldgrad.Grid(ds, geometry="projected"))),
    ):
        fieldgrad.grid._RECENT.clear()  # nothing kept from an earlier case
        with CountingProjections() as counter:
            before = snapshot()
            start = time.perf_counter()
            grid = fieldgrad.Grid(ds, geometry="projected")
            first = time.perf_counter()
            run(grid)
            after_first = time.perf_counter()
            for _ in range(calls - 1):
                run(grid)
            end = time.perf_counter()
            load = foreign_load_between(before, snapshot())
        rows.append((label, counter.calls, after_first - start, (end - after_first) / (calls - 1), first - start, load))
    print(f"  {'case':38s} {'pyproj calls':>12s} {'first call':>11s} {'each later':>11s}  (Grid() {'':>6s}) load")
    for label, n_calls, first, later, build, load in rows:
        times = f"{first * 1e3:9.1f} ms {later * 1e3:9.1f} ms  ({build * 1e3:6.1f} ms)"
        print(f"  {label:38s} {n_calls:12d} {times} {load:.0%}")


def era5_like(deg: float) -> xr.Dataset:
    lat = np.linspace(90.0, -90.0, round(180 / deg) + 1)
    lon = np.arange(0.0, 360.0, deg)
    phi, lam = np.meshgrid(np.deg2rad(lat), np.deg2rad(lon), indexing="ij")
    t = 250 + 40 * np.cos(phi) ** 2 + 5 * np.sin(3 * lam) * np.cos(phi) ** 3
    u = 10 * np.cos(phi) + 8 * np.cos(phi) ** 2 * np.sin(2 * lam)
    v = 6 * np.sin(2 * phi) * np.cos(3 * lam)
    dims = ("latitude", "longitude")
    return xr.Dataset(
        {
            "t": (dims, t, {"units": "K", "standard_name": "air_temperature"}),
            "u": (dims, u, {"units": "m s-1", "standard_name": "eastward_wind"}),
            "v": (dims, v, {"units": "m s-1", "standard_name": "northward_wind"}),
        },
        coords={
            "latitude": ("latitude", lat, {"units": "degrees_north"}),
            "longitude": ("longitude", lon, {"units": "degrees_east"}),
        },
    )


def advection_vs_metpy(deg: float, repeats: int) -> None:
    import metpy.calc as mpcalc
    import pyproj
    from metpy.units import units

    ds = era5_like(deg)
    lat, lon = ds.latitude.values, ds.longitude.values
    crs = pyproj.CRS(f"+proj=longlat +R={R} +no_defs")
    grid = fieldgrad.Grid(ds, geometry="sphere")

    def ours() -> np.ndarray:
        return ds.t.grad.advection(fieldgrad.datasets.vector_from(ds, {"longitude": "u", "latitude": "v"}), grid=grid)

    def metpy() -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return mpcalc.advection(
                ds.t.values * units.K,
                ds.u.values * units("m/s"),
                ds.v.values * units("m/s"),
                latitude=lat * units.degree,
                longitude=lon * units.degree,
                crs=crs,
            )

    a, b = ours().values, metpy().m_as("K/s")
    inner = (slice(1, -1), slice(1, -1))  # the poles (NaN here) and MetPy's one-sided longitude ends
    scale = np.nanmax(np.abs(b[inner]))
    diff = np.nanmax(np.abs(a[inner] - b[inner])) / scale
    print(f"\nadvection of T by (u, v), global {deg}° ({lat.size}x{lon.size}), float64")
    print(f"  max |fieldgrad - MetPy| / max|MetPy| inside the poles and longitude ends: {diff:.1e}")
    before = snapshot()
    times = medians(shuffled_rounds({"fieldgrad": ours, "metpy": metpy}, repeats))
    load = foreign_load_between(before, snapshot())
    print(
        f"  fieldgrad {times['fieldgrad'] * 1e3:8.1f} ms   MetPy {times['metpy'] * 1e3:8.1f} ms   "
        f"ratio {times['metpy'] / times['fieldgrad']:.1f}x   (foreign load {load:.0%})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lcc", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--deg", type=float, default=0.25)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="200² Lambert, 20 calls, 1° global grid")
    args = parser.parse_args()
    if args.quick:
        args.lcc, args.calls, args.deg, args.repeats = 200, 20, 1.0, 3
    grid_reuse(args.lcc, args.calls)
    advection_vs_metpy(args.deg, args.repeats)


if __name__ == "__main__":
    main()
