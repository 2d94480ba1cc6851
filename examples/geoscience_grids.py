"""Vorticity and divergence of one wind on three geoscience grids, against the exact values.

The wind is the Rossby–Haurwitz wave of wavenumber 4 (Williamson et al. 1992, test case 6):
``u``, ``v`` (m s-1), its stream function ``ψ`` and its relative vorticity ``ζ`` are known in
closed form, and its divergence is zero. It is sampled, as model output would be, on

a. a global latitude/longitude grid in ERA5 order (latitude 90 → −90, pole rows included),
   0.25° at full size. ``geometry="sphere"`` gives vorticity and divergence per metre
   everywhere, the pole rows included (there they are the circulation or flux around the
   first rings of points divided by the cap's area); the gradient of ``ψ`` (the wind again) is
   NaN on the pole rows, where "north" and "east" have no direction. A solid-body rotation
   whose axis lies in the equator (Williamson's case 2 with α = 90°) blows *across* the poles
   and shows how errors grow near them;
b. a rotated-pole grid (EURO-CORDEX-like, 0.11° at full size) with 2-D ``lat``/``lon``
   coordinates found from their CF attributes: derivatives go through the grid's Jacobian;
c. a Lambert conformal grid (CONUS-like, 12 km at full size) with projection coordinates in
   metres and a CF ``grid_mapping``, the wind given grid-relative as in NWP files:
   ``geometry="projected"`` takes the map factors from pyproj; MetPy's ``vorticity`` with the
   same map factors is computed alongside when MetPy is installed.

Every grid is built from its coordinates alone (pyproj for the rotated and projected ones), the
exact values from the formulas. It prints the maximum errors (overall and on the pole rows) for
``accuracy=2`` and ``4`` and saves two figures.

Run: ``uv run python examples/geoscience_grids.py [--size N] [--out DIR]``
(``FIELDGRAD_EXAMPLE_SMALL=1`` for a small fast run, ``FIELDGRAD_EXAMPLE_OUT`` for the folder).
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from _common import save_figure, settings

import fieldgrad  # noqa: F401  (registers the .grad accessor)

R = 6.371e6  # sphere radius, m (fieldgrad's default, and the projections' below)
N, OMEGA, K = 4, 7.848e-6, 7.848e-6  # Rossby–Haurwitz wave: wavenumber, s-1, s-1
U0 = 40.0  # the cross-polar solid-body rotation, m s-1
SPHERE = f"+proj=longlat +R={R:.0f} +no_defs"
LCC = f"+proj=lcc +lat_1=33 +lat_2=45 +lat_0=40 +lon_0=-97 +R={R:.0f} +units=m +no_defs"
ROTATED_POLE = {
    "grid_mapping_name": "rotated_latitude_longitude",
    "grid_north_pole_latitude": 39.25,
    "grid_north_pole_longitude": -162.0,
    "north_pole_grid_longitude": 0.0,
    "earth_radius": R,
}


def rossby_haurwitz(lat: np.ndarray, lon: np.ndarray) -> dict[str, np.ndarray]:
    """u, v (m s-1), ψ (m2 s-1) and ζ (s-1) at latitudes/longitudes in degrees."""
    phi, lam = np.deg2rad(lat), np.deg2rad(lon)
    c, s = np.cos(phi), np.sin(phi)
    return {
        "u": R * OMEGA * c + R * K * c ** (N - 1) * (N * s**2 - c**2) * np.cos(N * lam),
        "v": -R * K * N * c ** (N - 1) * s * np.sin(N * lam),
        "psi": -(R**2) * OMEGA * s + R**2 * K * c**N * s * np.cos(N * lam),
        "zeta": 2 * OMEGA * s - K * s * c**N * (N**2 + 3 * N + 2) * np.cos(N * lam),
    }


def cross_polar(lat: np.ndarray, lon: np.ndarray) -> dict[str, np.ndarray]:
    """Solid-body rotation about the axis through (0°N, 90°E): U0 m s-1 across both poles."""
    phi, lam = np.deg2rad(lat), np.deg2rad(lon)
    return {
        "u": U0 * np.sin(phi) * np.cos(lam),
        "v": -U0 * np.sin(lam),
        "zeta": -2 * U0 / R * np.cos(phi) * np.cos(lam),
    }


def vector(
    v: np.ndarray, u: np.ndarray, dims: tuple[str, str], coords: dict, labels: list[str], **attrs: str
) -> xr.DataArray:
    """A wind with a ``component`` dim: components labelled by the direction they point along."""
    return xr.DataArray(
        np.stack([v, u]),
        dims=("component", *dims),
        coords={**coords, "component": labels},
        name="wind",
        attrs={"units": "m s-1", **attrs},
    )


def errors(zeta: xr.DataArray, exact: np.ndarray) -> xr.DataArray:
    return abs(zeta - exact)


def vorticity_errors(U: xr.DataArray, geometry: str, label: str, exact: np.ndarray) -> dict:
    """Vorticity at accuracy 2 and 4 against the exact value, printed; {accuracy: (vorticity, error)}."""
    scale = float(np.abs(exact).max())
    out = {}
    for accuracy in (2, 4):
        vort = U.grad.curl(geometry=geometry, accuracy=accuracy)
        div = U.grad.divergence(geometry=geometry, accuracy=accuracy)
        err = errors(vort, exact)
        print(
            f"   {label}, accuracy={accuracy}: max |ζ − ζ_exact| = {float(err.max()):.2e} s-1 "
            f"(relative {float(err.max()) / scale:.1e}); max |div| = {float(abs(div).max()):.2e} s-1"
        )
        out[accuracy] = (vort, err)
    return out


# ----------------------------------------------------------------------------- a. global grid, poles


def global_grid(rows: int) -> dict:
    step = 180.0 / (rows - 1)
    lat = np.linspace(90.0, -90.0, rows)  # ERA5 order, pole rows included
    lon = np.arange(0.0, 360.0, step)
    coords = {
        "latitude": ("latitude", lat, {"units": "degrees_north", "standard_name": "latitude"}),
        "longitude": ("longitude", lon, {"units": "degrees_east", "standard_name": "longitude"}),
    }
    LAT, LON = np.meshgrid(lat, lon, indexing="ij")
    return {"step": step, "lat": lat, "lon": lon, "coords": coords, "LAT": LAT, "LON": LON}


def global_part(rows: int) -> dict:
    g = global_grid(rows)
    dims, labels = ("latitude", "longitude"), ["latitude", "longitude"]  # northward, eastward
    print(
        f"a. global grid {g['step']:g}°: {g['lat'].size} x {g['lon'].size} points, latitude 90 → -90 "
        f"(pole rows included)"
    )
    rh = rossby_haurwitz(g["LAT"], g["LON"])
    xp = cross_polar(g["LAT"], g["LON"])
    winds = {
        "Rossby–Haurwitz wave": (vector(rh["v"], rh["u"], dims, g["coords"], labels), rh["zeta"]),
        "flow across the poles": (vector(xp["v"], xp["u"], dims, g["coords"], labels), xp["zeta"]),
    }
    out: dict = {"grid": g, "rh": rh, "profiles": {}}
    for name, (U, exact) in winds.items():
        scale = float(np.abs(exact).max())
        for accuracy in (2, 4):
            vort = U.grad.curl(geometry="sphere", accuracy=accuracy)
            div = U.grad.divergence(geometry="sphere", accuracy=accuracy)
            err = errors(vort, exact)
            at_poles = float(err.isel(latitude=[0, -1]).max())
            units = vort.attrs["units"]
            print(
                f"   {name}, accuracy={accuracy}: max |ζ − ζ_exact| = {float(err.max()):.2e} {units} "
                f"(relative {float(err.max()) / scale:.1e}), at the poles {at_poles:.2e}; "
                f"max |div| = {float(abs(div).max()):.2e} {div.attrs['units']}"
            )
            out["profiles"][name, accuracy] = err.max("longitude").values / scale
            if name.startswith("Rossby") and accuracy == 4:
                out["vort"] = vort
                pole = float(vort.isel(latitude=0, longitude=0))
                print(f"   north pole: ζ = {pole:.6e} s-1, exact 2Ω = {2 * OMEGA:.6e} s-1")

    # the wind again, from its stream function: V = k × ∇ψ (NaN where ∇ψ has no direction)
    psi = xr.DataArray(rh["psi"], dims=dims, coords=g["coords"], name="psi", attrs={"units": "m2 s-1"})
    grad = psi.grad.gradient(geometry="sphere", accuracy=4)
    u, v = -grad.sel(component="latitude"), grad.sel(component="longitude")
    nan = grad.isnull().any("component")
    on_poles = bool(nan.isel(latitude=[0, -1]).all()) and not bool(nan.isel(latitude=slice(1, -1)).any())
    werr = max(float(abs(u - rh["u"]).max()), float(abs(v - rh["v"]).max()))
    print(
        f"   gradient of ψ: units {grad.attrs['units']!r}, NaN at {int(nan.sum())} points "
        f"({'the two pole rows, only there' if on_poles else 'NOT only the pole rows'}); "
        f"wind k × ∇ψ: max error {werr:.2e} m s-1"
    )

    # pint: a quantified wind gives a quantified vorticity. pint's registry has no degrees_north:
    # the coordinates are found by their standard_name once their units are dropped
    try:
        import pint_xarray  # noqa: F401  (registers the .pint accessor)
    except ImportError:
        return out
    U = winds["Rossby–Haurwitz wave"][0].assign_attrs(units="m/s")
    for name in dims:
        U[name].attrs.pop("units")
    q = U.pint.quantify().grad.curl(geometry="sphere", accuracy=4)
    pole = float(q.isel(latitude=0, longitude=0).pint.to("1/day").pint.magnitude)
    print(f"   with pint-xarray: vorticity in {q.pint.units}; at the north pole {pole:.4f} per day")
    return out


# ----------------------------------------------------------------------------- b. rotated pole


def rotated_part(step: float) -> dict:
    import pyproj

    rlat = np.arange(-23.21, 21.67 + 1e-9, step)  # the EURO-CORDEX domain in rotated coordinates
    rlon = np.arange(-28.21, 18.155 + 1e-9, step)
    RLON, RLAT = np.meshgrid(rlon, rlat)
    to_geo = pyproj.Transformer.from_crs(pyproj.CRS.from_cf(ROTATED_POLE), SPHERE, always_xy=True)
    lon, lat = to_geo.transform(RLON, RLAT)
    coords = {
        "rlat": ("rlat", rlat, {"standard_name": "grid_latitude", "units": "degrees"}),
        "rlon": ("rlon", rlon, {"standard_name": "grid_longitude", "units": "degrees"}),
        "lat": (("rlat", "rlon"), lat, {"standard_name": "latitude", "units": "degrees_north"}),
        "lon": (("rlat", "rlon"), lon, {"standard_name": "longitude", "units": "degrees_east"}),
    }
    print(
        f"b. rotated-pole grid {step:.2f}°: {rlat.size} x {rlon.size} points, latitude {lat.min():.1f} .. "
        f"{lat.max():.1f}, longitude {lon.min():.1f} .. {lon.max():.1f} (2-D lat/lon)"
    )
    rh = rossby_haurwitz(lat, lon)
    U = vector(rh["v"], rh["u"], ("rlat", "rlon"), coords, ["lat", "lon"])  # earth-relative: north, east
    out: dict = {"lat": lat, "lon": lon, "rlat": rlat, "rlon": rlon, "exact": rh["zeta"]}
    out.update(vorticity_errors(U, "sphere", "rotated pole", rh["zeta"]))
    # grid-relative components: through the 2-D lat/lon (frame="grid") or on the rotated sphere
    # itself (rlat/rlon are CF grid_latitude/grid_longitude: latitude and longitude of that sphere)
    psi = xr.DataArray(rh["psi"], dims=("rlat", "rlon"), coords=coords, attrs={"units": "m2 s-1"})
    via_2d = psi.grad.gradient(geometry="sphere", latitude="lat", longitude="lon", frame="grid", accuracy=4)
    on_rotated = psi.grad.gradient(geometry="sphere", latitude="rlat", longitude="rlon", accuracy=4)
    diff = float(abs(via_2d - on_rotated.sel(component=list(via_2d.component.values))).max())
    print(
        f"   grid-relative gradient of ψ: frame='grid' {list(via_2d.component.values)} vs the rotated sphere "
        f"{list(on_rotated.component.values)}: max difference {diff / float(abs(on_rotated).max()):.1e} "
        "(relative)"
    )
    return out


# ----------------------------------------------------------------------------- c. Lambert conformal


def lambert_part(dx: float) -> dict:
    import pyproj

    x = np.arange(-2.7e6, 2.7e6 + 1, dx)  # a CONUS-like domain, m
    y = np.arange(-1.6e6, 1.6e6 + 1, dx)
    X, Y = np.meshgrid(x, y)
    crs = pyproj.CRS.from_user_input(LCC)
    lon, lat = pyproj.Transformer.from_crs(crs, SPHERE, always_xy=True).transform(X, Y)
    # unit vectors east and north in the map plane, from tiny offsets: the wind made grid-relative
    fwd = pyproj.Transformer.from_crs(SPHERE, crs, always_xy=True)
    e = 1e-3  # degrees
    ex, ey = np.subtract(fwd.transform(lon + e, lat), fwd.transform(lon - e, lat))
    nx, ny = np.subtract(fwd.transform(lon, lat + e), fwd.transform(lon, lat - e))
    ne, nn = np.hypot(ex, ey), np.hypot(nx, ny)
    rh = rossby_haurwitz(lat, lon)
    ug = rh["u"] * ex / ne + rh["v"] * nx / nn
    vg = rh["u"] * ey / ne + rh["v"] * ny / nn
    coords = {
        "x": ("x", x, {"units": "m", "standard_name": "projection_x_coordinate"}),
        "y": ("y", y, {"units": "m", "standard_name": "projection_y_coordinate"}),
        "lambert_conformal": xr.DataArray(0, attrs=crs.to_cf()),
    }
    U = xr.DataArray(
        np.stack([ug, vg]),
        dims=("component", "y", "x"),
        coords={**coords, "component": ["x", "y"]},
        name="wind",
        attrs={"units": "m s-1", "grid_mapping": "lambert_conformal"},
    )
    print(
        f"c. Lambert conformal grid {dx / 1e3:.0f} km: {y.size} x {x.size} points, latitude {lat.min():.1f} .. "
        f"{lat.max():.1f}, wind components along the grid's x and y"
    )
    out: dict = {"x": x, "y": y, "lat": lat, "lon": lon, "exact": rh["zeta"]}
    out.update(vorticity_errors(U, "projected", "Lambert conformal", rh["zeta"]))
    try:
        import metpy.calc as mpcalc
        from metpy.units import units
    except ImportError:
        print("   (MetPy is not installed: no comparison)")
        return out
    factors = pyproj.Proj(crs).get_factors(lon, lat)
    theirs = mpcalc.vorticity(
        ug * units("m/s"),
        vg * units("m/s"),
        dx=dx * units.m,
        dy=dx * units.m,
        parallel_scale=np.asarray(factors.parallel_scale),
        meridional_scale=np.asarray(factors.meridional_scale),
    ).m_as("1/s")
    ours = out[2][0].values
    print(
        f"   MetPy vorticity (map factors from pyproj): max |ζ_metpy − ζ_exact| = "
        f"{np.abs(theirs - rh['zeta']).max():.2e} s-1; max |ζ_fieldgrad − ζ_metpy| = "
        f"{np.abs(ours - theirs).max():.2e} s-1 (accuracy=2, both second order)"
    )
    out["metpy"] = theirs
    return out


# ----------------------------------------------------------------------------- figures


def global_figure(a: dict, folder) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    g, rh = a["grid"], a["rh"]
    vort = a["vort"].values * 1e5
    psi_levels = np.linspace(-3.2e8, 3.2e8, 17)[1:-1]
    fig = plt.figure(figsize=(16, 5), layout="constrained")
    gs = fig.add_gridspec(1, 3, width_ratios=[1.5, 0.95, 1.2])
    levels = np.linspace(-8, 8, 17)

    ax = fig.add_subplot(gs[0])
    cs = ax.contourf(g["lon"], g["lat"], vort, levels=levels, cmap="RdBu_r", extend="both")
    ax.contour(g["lon"], g["lat"], rh["psi"], levels=psi_levels, colors="k", linewidths=0.6, linestyles="solid")
    ax.set(
        xlabel="longitude (°E)",
        ylabel="latitude (°N)",
        xticks=range(0, 361, 60),
        yticks=range(-90, 91, 30),
        title="Rossby–Haurwitz wave: vorticity\n(accuracy=4) and streamlines (ψ)",
    )
    fig.colorbar(cs, ax=ax, label="relative vorticity (10⁻⁵ s⁻¹)", shrink=0.9)

    ax = fig.add_subplot(gs[1], projection="polar")
    north = g["lat"] >= 50
    lon_c = np.deg2rad(np.append(g["lon"], 360.0))  # close the circle

    def closed(v: np.ndarray) -> np.ndarray:
        return np.concatenate([v[north], v[north][:, :1]], axis=1)

    ax.contourf(lon_c, 90 - g["lat"][north], closed(vort), levels=levels, cmap="RdBu_r", extend="both")
    ax.contour(
        lon_c,
        90 - g["lat"][north],
        closed(rh["psi"]),
        levels=psi_levels,
        colors="k",
        linewidths=0.6,
        linestyles="solid",
    )
    ax.plot(0, 0, "k+", ms=12, mew=2)
    ax.set_rlim(0, 40)
    ax.set_rticks([10, 20, 30], ["80°N", "70°N", "60°N"], fontsize=8)
    ax.set_theta_zero_location("S")  # seen from above the north pole: east is counter-clockwise
    ax.set_thetagrids(range(0, 360, 45), ["0°", "45°E", "90°E", "135°E", "180°", "135°W", "90°W", "45°W"])
    ax.set_title("north of 50°N, the pole row at +\n(vorticity there: the polar-cap value)")

    ax = fig.add_subplot(gs[2])
    colors = {"Rossby–Haurwitz wave": "C0", "flow across the poles": "C3"}
    floor = 1e-16
    for (name, accuracy), prof in a["profiles"].items():
        ax.semilogy(
            g["lat"],
            np.maximum(prof, floor),
            color=colors[name],
            ls="-" if accuracy == 4 else "--",
            lw=1.2,
            label=f"{name}, accuracy={accuracy}",
        )
        ax.plot(
            g["lat"][[0, -1]],
            np.maximum(prof[[0, -1]], floor),
            "o",
            color=colors[name],
            ms=5,
            mfc="w" if accuracy == 2 else colors[name],
        )
    inner = np.abs(g["lat"]) < 89.9
    ref = a["profiles"]["flow across the poles", 2]
    k = int(np.argmin(np.abs(g["lat"] - 60)))
    cos = np.cos(np.deg2rad(g["lat"][inner]))
    ax.semilogy(g["lat"][inner], 3 * ref[k] * np.cos(np.deg2rad(60)) / cos, ":", color="0.4", label="∝ 1 / cos φ")
    ax.set(
        xlabel="latitude (°N)",
        xticks=range(-90, 91, 30),
        xlim=(-93, 93),
        ylim=(floor / 2, 1),
        ylabel="max over longitude of |ζ − ζ_exact| / max |ζ_exact|",
        title=f"vorticity error by latitude, {g['step']:g}° grid\n(dots: the pole rows)",
    )
    ax.legend(fontsize=8, loc="lower center")
    save_figure(fig, folder, "geoscience_grids")
    plt.close(fig)


def regional_figure(b: dict, c: dict, folder) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    have_metpy = "metpy" in c
    fig, axes = plt.subplots(2, 3, figsize=(16, 8.6), layout="constrained")
    levels = np.linspace(-8, 8, 17)

    ax = axes[0, 0]
    cs = ax.contourf(b["lon"], b["lat"], b[4][0].values * 1e5, levels=levels, cmap="RdBu_r", extend="both")
    for k in (0, -1):  # the domain's outline
        ax.plot(b["lon"][k, :], b["lat"][k, :], "k-", lw=0.8)
        ax.plot(b["lon"][:, k], b["lat"][:, k], "k-", lw=0.8)
    ax.set(
        xlabel="longitude (°E)", ylabel="latitude (°N)", title="rotated-pole grid (2-D lat/lon):\nvorticity, accuracy=4"
    )
    fig.colorbar(cs, ax=ax, label="relative vorticity (10⁻⁵ s⁻¹)")

    def error_map(ax, x, y, err, title, label="|ζ − ζ_exact| (s⁻¹)"):
        top = float(err.max())  # four decades below the largest error: the lines where it vanishes stay thin
        m = ax.pcolormesh(x, y, err, norm=LogNorm(vmin=top * 1e-4, vmax=top, clip=True), cmap="magma", shading="auto")
        ax.set(aspect="equal", title=title)
        fig.colorbar(m, ax=ax, label=label)

    for ax, accuracy in zip(axes[0, 1:], (2, 4), strict=True):
        error_map(
            ax,
            b["rlon"],
            b["rlat"],
            b[accuracy][1].values,
            f"rotated pole, accuracy={accuracy}:\nerror of the vorticity",
        )
        ax.set(xlabel="rotated longitude rlon (°)", ylabel="rotated latitude rlat (°)")

    km = 1e-3
    ax = axes[1, 0]
    cs = ax.contourf(c["x"] * km, c["y"] * km, c[4][0].values * 1e5, levels=levels, cmap="RdBu_r", extend="both")
    ax.contour(
        c["x"] * km, c["y"] * km, c["lat"], levels=range(20, 61, 10), colors="k", linewidths=0.5, linestyles="solid"
    )
    ax.contour(
        c["x"] * km, c["y"] * km, c["lon"], levels=range(-130, -59, 10), colors="k", linewidths=0.5, linestyles="solid"
    )
    ax.set(
        xlabel="x (km)",
        ylabel="y (km)",
        aspect="equal",
        title="Lambert conformal: vorticity, accuracy=4\n(lines: 10° parallels and meridians)",
    )
    fig.colorbar(cs, ax=ax, label="relative vorticity (10⁻⁵ s⁻¹)")
    x, y = c["x"] * km, c["y"] * km
    error_map(axes[1, 1], x, y, c[2][1].values, "Lambert conformal, accuracy=2:\nerror of the vorticity")
    if have_metpy:
        error_map(
            axes[1, 2],
            x,
            y,
            np.abs(c[2][0].values - c["metpy"]),
            "Lambert conformal: fieldgrad − MetPy\n(both second order)",
            label="|ζ fieldgrad − ζ MetPy| (s⁻¹)",
        )
    else:
        error_map(axes[1, 2], x, y, c[4][1].values, "Lambert conformal, accuracy=4:\nerror of the vorticity")
    for ax in axes[1, 1:]:
        ax.set(xlabel="x (km)", ylabel="y (km)")
    save_figure(fig, folder, "geoscience_grids_regional")
    plt.close(fig)


def main() -> None:
    args = settings(
        __doc__,
        default=721,
        small=121,
        size_help="latitude rows of the global grid, pole to pole; "
        "the regional grids scale with it (721: 0.25°, 0.11° rotated pole, 12 km Lambert)",
    )
    step = 180.0 / (args.size - 1)
    a = global_part(args.size)
    b = rotated_part(0.44 * step)
    c = lambert_part(48e3 * step)
    global_figure(a, args.out)
    regional_figure(b, c, args.out)


if __name__ == "__main__":
    main()
