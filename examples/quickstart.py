"""fieldgrad quickstart: the electric field of a potential, in a few lines.

Run with ``uv run python examples/quickstart.py``. Prints the error against the analytic field
and saves ``quickstart.png`` (in ``examples/out/``, or in FIELDGRAD_EXAMPLE_OUT).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr

import fieldgrad  # noqa: F401  (registers the .grad accessor)


def main() -> None:
    # A potential on a non-uniform 3-D grid (metres) -- V = 2x² + 3y² − 4z (volts)
    x = np.linspace(-1, 1, 41)
    y = np.sinh(np.linspace(-1, 1, 33))  # stretched: finer near y = 0
    z = np.linspace(0, 2, 21)
    X, Y, Z = np.meshgrid(x, y, z, indexing="ij")
    V = xr.DataArray(
        2 * X**2 + 3 * Y**2 - 4 * Z,
        dims=("x", "y", "z"),
        coords={"x": x, "y": y, "z": z},
        name="V",
        attrs={"units": "V", "long_name": "potential"},
    )
    for d in "xyz":
        V[d].attrs["units"] = "m"

    E = -V.grad.gradient(["x", "y", "z"])  # E = −∇V, a vector field with a "component" dim
    exact = xr.concat([-4 * V.x + 0 * V, -6 * V.y + 0 * V, 4 + 0 * V], dim="component").transpose(*E.dims)
    err = float(abs(E - exact.values).max())
    print(f"E = -grad V: dims {E.dims}, components {E.component.values.tolist()}, units {E.attrs.get('units')!r}")
    print(f"max |E - E_exact| = {err:.2e} V/m (2nd-order stencils are exact on quadratics)")

    lap = V.grad.partial("x", order=2) + V.grad.partial("y", order=2) + V.grad.partial("z", order=2)
    print(f"Laplacian of V: min {float(lap.min()):.6f}, max {float(lap.max()):.6f} (exact: 10)")

    chunked = V.chunk({"x": 8, "y": 5}).grad.gradient(["x", "y", "z"])
    print(
        f"dask-chunked gradient is lazy: {type(chunked.data).__name__}; "
        f"equal to in-memory: {bool(np.allclose(chunked.values, -E.values, rtol=1e-12, atol=0))}"
    )

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sl = dict(z=10)
    fig, ax = plt.subplots(figsize=(6, 5))
    V.isel(**sl).plot.contourf(ax=ax, x="x", levels=20, cmap="viridis")
    Es = E.isel(**sl)
    ax.quiver(x[::3], y[::3], Es.sel(component="x").values[::3, ::3].T, Es.sel(component="y").values[::3, ::3].T)
    ax.set_title("V and E = -grad V at z = 1 m")
    folder = Path(os.environ.get("FIELDGRAD_EXAMPLE_OUT", Path(__file__).resolve().parent / "out"))
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "quickstart.png"
    fig.savefig(out, dpi=100)
    print(f"figure saved to {out}")


if __name__ == "__main__":
    main()
