"""Electric field from a potential: E = −∇V on a 3-D grid, checked against the exact field.

Two potentials, in volts on a grid in metres:

* ``V = 2x² + 3y² − 4z`` on a grid whose z levels are stretched (non-uniform). Second-order
  stencils are exact on quadratics, uniform or not, so ``E = (−4x, −6y, 4)`` is recovered to
  round-off;
* a point charge ``q`` placed between grid nodes, ``V = q / (4π ε₀ r)``. Away from the charge
  the field is smooth and higher-order stencils (``accuracy=4, 6``) are much more accurate once
  the grid resolves it (on the coarse grid of the small run, ``accuracy=6`` is not: high order
  pays only on resolved fields); the divergence and curl of ``E`` vanish there (no charge, a
  potential field).

It saves a figure with the field of each potential (quiver plots) and the error against the
exact field for each accuracy.

Run: ``uv run python examples/electric_field.py [--size N] [--out DIR]``
(``FIELDGRAD_EXAMPLE_SMALL=1`` for a small fast run, ``FIELDGRAD_EXAMPLE_OUT`` for the folder).
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from _common import save_figure, settings

import fieldgrad  # noqa: F401  (registers the .grad accessor)

K = 8.9875517923e9  # 1 / (4π ε₀), N m² C⁻²
Q = 1e-9  # the point charge, C
CHARGE = (0.013, -0.021, 0.017)  # between grid nodes, m


def grid(n: int) -> dict[str, np.ndarray]:
    x = np.linspace(-1.0, 1.0, n)
    y = np.linspace(-1.0, 1.0, n)
    z = np.sinh(np.linspace(-1.5, 1.5, n)) / np.sinh(1.5)  # finer near z = 0
    return {"x": x, "y": y, "z": z}


def field(values: np.ndarray, coords: dict[str, np.ndarray], name: str) -> xr.DataArray:
    da = xr.DataArray(values, dims=("x", "y", "z"), coords=coords, name=name, attrs={"units": "V"})
    for d in "xyz":
        da[d].attrs["units"] = "m"
    return da


def main() -> None:
    args = settings(__doc__, default=41, small=21, size_help="points along each axis")
    c = grid(args.size)
    X, Y, Z = np.meshgrid(c["x"], c["y"], c["z"], indexing="ij")
    print(
        f"grid: {args.size}^3 points, x and y uniform, z stretched "
        f"(steps {np.diff(c['z']).min():.3f} .. {np.diff(c['z']).max():.3f} m)"
    )

    # 1. the quadratic potential
    V = field(2 * X**2 + 3 * Y**2 - 4 * Z, c, "V")
    E = -V.grad.gradient(["x", "y", "z"])
    exact = np.stack([-4 * X, -6 * Y, 4 + 0 * Z])
    err_quadratic = float(np.abs(E.values - exact).max())
    print(f"V = 2x² + 3y² − 4z: E has dims {E.dims}, units {E.attrs.get('units')!r}")
    print(f"quadratic potential: max |E − E_exact| = {err_quadratic:.2e} V/m (exact to round-off)")

    # 2. the point charge
    R = np.sqrt((X - CHARGE[0]) ** 2 + (Y - CHARGE[1]) ** 2 + (Z - CHARGE[2]) ** 2)
    Vq = field(K * Q / R, c, "Vq")
    Eq_exact = K * Q * np.stack([X - CHARGE[0], Y - CHARGE[1], Z - CHARGE[2]]) / R**3
    # compare the point-charge field only where no stencil reaches the singularity: farther
    # than 0.2 m plus the widest stencil (accuracy 6: 3 points each side, a few more at edges)
    exclude = 0.2 + 4 * max(float(np.diff(c[d]).max()) for d in "xyz")
    far = R > exclude
    print(
        f"point charge {Q:g} C at {CHARGE} m; compared farther than {exclude:.2f} m from it "
        f"({int(far.sum())} of {far.size} points)"
    )
    scale = float(np.linalg.norm(Eq_exact, axis=0)[far].max())
    errors: dict[int, float] = {}
    for accuracy in (2, 4, 6):
        Eq = -Vq.grad.gradient(["x", "y", "z"], accuracy=accuracy)
        errors[accuracy] = float(np.linalg.norm(Eq.values - Eq_exact, axis=0)[far].max()) / scale
        print(f"point charge, accuracy={accuracy}: max |E − E_exact| / max|E| = {errors[accuracy]:.2e}")
        if accuracy == 4:
            Eq4 = Eq
    div = Eq4.grad.divergence(accuracy=4)
    curl = Eq4.grad.curl(accuracy=4)
    # compare with the size of the individual derivative terms, ~ |E| / r
    terms = float((np.linalg.norm(Eq_exact, axis=0) / R)[far].max())
    print(
        f"away from the charge: max |div E| / (|E|/r) = {float(abs(div).values[far].max()) / terms:.2e}, "
        f"max |curl E| / (|E|/r) = {float(curl.grad.magnitude().values[far].max()) / terms:.2e}"
    )

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = int(np.argmin(np.abs(c["z"] - CHARGE[2])))
    step = max(1, args.size // 14)
    sl = (slice(None, None, step), slice(None, None, step))
    fig, axes = plt.subplots(1, 3, figsize=(16, 5.2), layout="constrained")

    ax = axes[0]
    V.isel(z=k).plot.contourf(ax=ax, x="x", y="y", levels=15, cmap="viridis")
    Es = E.isel(z=k)
    ax.quiver(c["x"][sl[0]], c["y"][sl[1]], Es.sel(component="x").values[sl].T, Es.sel(component="y").values[sl].T)
    ax.set_title(f"V = 2x² + 3y² − 4z and E = −∇V\nat z = {c['z'][k]:.2f} m")

    ax = axes[1]
    Eqs = Eq4.isel(z=k)
    mag = Eqs.grad.magnitude()
    np.log10(mag).plot.contourf(ax=ax, x="x", y="y", levels=15, cmap="magma", cbar_kwargs={"label": "log10 |E| (V/m)"})
    ux = (Eqs.sel(component="x") / mag).values[sl].T
    uy = (Eqs.sel(component="y") / mag).values[sl].T
    ax.quiver(c["x"][sl[0]], c["y"][sl[1]], ux, uy, color="w")
    ax.add_patch(plt.Circle(CHARGE[:2], exclude, fill=False, ls="--", color="c"))
    ax.set_title("point charge:\ndirection of E, log |E|")

    ax = axes[2]
    acc = list(errors)
    ax.bar([str(a) for a in acc], [errors[a] for a in acc], color=["C0", "C1", "C2"])
    ax.set_yscale("log")
    ax.set_xlabel("accuracy (order of the stencils)")
    ax.set_ylabel("max |E − E_exact| / max |E|")
    ax.set_title(f"point charge: error farther than\n{exclude:.2f} m from it (dashed circle)")
    for a in axes[:2]:
        a.set_aspect("equal")
    save_figure(fig, args.out, "electric_field")


if __name__ == "__main__":
    main()
