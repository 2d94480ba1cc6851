"""Gaps and masks: ``nan_policy="omit"`` against ``"propagate"`` on a sea field with a land mask.

The coastline is real: the sea/land mask of the topography bundled with matplotlib
(``topobathy.npz``, the Salish Sea and Vancouver Island, 0.033° × 0.022°). A smooth synthetic
sea-surface temperature ``T(lat, lon)`` with known derivatives is set to NaN on land, and its
derivatives along longitude and latitude (K per degree) are computed two ways:

* ``nan_policy="propagate"`` (the default): a NaN spoils every point whose stencil touches it,
  so a band of sea along each coast loses its derivative;
* ``nan_policy="omit"``: each run of sea points between two pieces of land is differentiated
  as a domain of its own, with one-sided stencils at the coast; only runs too short for any
  stencil (one point wide) stay NaN.

It prints how many sea points get a derivative each way and the error against the exact
derivative, and saves a figure. (For derivatives per metre, add ``geometry="sphere"`` to
``gradient``; the NaN handling is the same.)

Run: ``uv run python examples/gaps_and_masks.py [--size N] [--out DIR]``
(``FIELDGRAD_EXAMPLE_SMALL=1`` for a small fast run, ``FIELDGRAD_EXAMPLE_OUT`` for the folder).
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from _common import save_figure, settings

import fieldgrad  # noqa: F401  (registers the .grad accessor)


def sst(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A smooth temperature (°C) and its exact derivatives along lon and lat (°C per degree)."""
    a, b = 2 * np.pi / 3.0, 2 * np.pi / 1.5
    T = 12 - 1.5 * (lat - 49) + 0.8 * np.sin(a * lon) * np.cos(b * lat)
    dT_dlon = 0.8 * a * np.cos(a * lon) * np.cos(b * lat)
    dT_dlat = -1.5 - 0.8 * b * np.sin(a * lon) * np.sin(b * lat)
    return T, dT_dlon, dT_dlat


def main() -> None:
    args = settings(__doc__, default=120, small=60, size_help="longitude points (120: the full grid)")
    from matplotlib import cbook

    data = cbook.get_sample_data("topobathy.npz")
    step = max(1, round(120 / args.size))
    topo = data["topo"][::step, ::step].astype(np.float64)
    lat = data["latitude"][::step].astype(np.float64)
    lon = data["longitude"][::step].astype(np.float64)
    LAT, LON = np.meshgrid(lat, lon, indexing="ij")
    T_exact, dlon_exact, dlat_exact = sst(LAT, LON)
    sea = topo < 0
    T = xr.DataArray(
        np.where(sea, T_exact, np.nan),
        dims=("lat", "lon"),
        coords={"lat": lat, "lon": lon},
        name="T",
        attrs={"units": "degC", "long_name": "sea surface temperature"},
    )
    T.lat.attrs["units"] = "degrees_north"
    T.lon.attrs["units"] = "degrees_east"
    print(f"grid {T.sizes['lat']} x {T.sizes['lon']}: {int(sea.sum())} sea points, {int((~sea).sum())} land (NaN)")

    results = {}
    counts = {}  # sea points with a d/dlon value: printed here and in the titles of the figure
    for policy in ("propagate", "omit"):
        g = T.grad.gradient(["lon", "lat"], nan_policy=policy)
        results[policy] = g
        ok_lon = np.isfinite(g.sel(component="lon").values) & sea
        ok_lat = np.isfinite(g.sel(component="lat").values) & sea
        counts[policy] = int(ok_lon.sum())
        err_lon = np.abs(g.sel(component="lon").values - dlon_exact)[ok_lon]
        err_lat = np.abs(g.sel(component="lat").values - dlat_exact)[ok_lat]
        print(
            f"nan_policy={policy!r:<12}: d/dlon at {counts[policy]} of {int(sea.sum())} sea points "
            f"({100 * counts[policy] / sea.sum():.1f}%), d/dlat at {int(ok_lat.sum())} "
            f"({100 * ok_lat.sum() / sea.sum():.1f}%); max error dT/dlon {err_lon.max():.3f}, "
            f"dT/dlat {err_lat.max():.3f} degC per degree"
        )
        assert not (np.isfinite(g.values) & ~sea).any()  # never a value on land
    both = {c: results[c] for c in ("propagate", "omit")}
    lost = np.isnan(both["propagate"].sel(component="lon").values) & sea
    kept = lost & np.isfinite(both["omit"].sel(component="lon").values)
    print(f"coastal sea points that propagate loses and omit recovers (d/dlon): {int(kept.sum())} of {int(lost.sum())}")
    same = np.isfinite(both["propagate"].values)
    diff = float(np.abs(both["omit"].values - both["propagate"].values)[same].max())
    print(f"where propagate has a value, omit gives the same one (max difference {diff:.1e})")
    coast_err = np.abs(both["omit"].sel(component="lon").values - dlon_exact)[kept]
    print(
        "error of d/dlon at the recovered coastal points (one-sided stencils): "
        f"RMS {np.sqrt(np.mean(coast_err**2)):.3f}, "
        f"max {coast_err.max():.3f} degC per degree (|dT/dlon| up to {np.abs(dlon_exact).max():.2f})"
    )

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.4), sharey=True)
    T.plot(ax=axes[0], cmap="coolwarm", cbar_kwargs={"label": "T (degC)"})
    axes[0].set_title("sea surface temperature (land masked)")
    vmax = float(np.nanmax(np.abs(dlon_exact)))
    for ax, policy in zip(axes[1:], ("propagate", "omit"), strict=True):
        results[policy].sel(component="lon").plot(
            ax=ax, cmap="RdBu_r", vmin=-vmax, vmax=vmax, cbar_kwargs={"label": "dT/dlon (degC per degree)"}
        )
        ax.contour(lon, lat, sea.astype(float), levels=[0.5], colors="k", linewidths=0.5)
        ax.set_title(f'dT/dlon, nan_policy="{policy}"\n(a value at {counts[policy]} of {int(sea.sum())} sea points)')
    fig.tight_layout()
    save_figure(fig, args.out, "gaps_and_masks")


if __name__ == "__main__":
    main()
