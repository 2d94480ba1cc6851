"""Use the example plugin: spectral derivatives of a periodic field, against finite differences.

``f(x) = exp(sin x)`` on one period, sampled at ``n`` uniform points. The spectral method of this
folder's ``fieldgrad_spectral`` package converges exponentially; finite differences of accuracy
2 and 8 (periodic boundary) algebraically. The script registers the method if the package is not
installed (``pip install -e examples/custom_method`` makes ``method="spectral"`` available
everywhere through its entry point), runs fieldgrad's conformance checks on it, prints the
maximum errors, and saves a figure of the errors.

Run: ``uv run python examples/custom_method/example.py [--size N] [--out DIR]``
(``FIELDGRAD_EXAMPLE_SMALL=1`` for a small fast run, ``FIELDGRAD_EXAMPLE_OUT`` for the folder).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import xarray as xr

import fieldgrad
from fieldgrad.testing import check_method

try:
    from fieldgrad_spectral import Spectral
except ImportError:  # not installed: use the source next to this script
    sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))
    from fieldgrad_spectral import Spectral


def settings(default: int, small: int) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, help=f"number of points (default {default}; {small} when small)")
    parser.add_argument(
        "--out", type=Path, help="folder for the figure (default: FIELDGRAD_EXAMPLE_OUT or examples/out)"
    )
    args = parser.parse_args()
    small_run = os.environ.get("FIELDGRAD_EXAMPLE_SMALL", "") not in ("", "0")
    args.size = args.size or (small if small_run else default)
    # like examples/_common.py: never the current folder (the clone's root when run as documented)
    args.out = args.out or Path(os.environ.get("FIELDGRAD_EXAMPLE_OUT", Path(__file__).resolve().parents[1] / "out"))
    args.out.mkdir(parents=True, exist_ok=True)
    return args


def main() -> None:
    args = settings(default=64, small=32)
    if "spectral" not in fieldgrad.available_methods():
        fieldgrad.register_method(Spectral)  # in this process only; the entry point does it for installs
    counts = check_method(Spectral, orders=[1, 2])
    print(f"check_method(Spectral): all promises kept ({sum(counts.values())} comparisons)")

    n = args.size
    x = np.arange(n) * (2 * np.pi / n)
    f = xr.DataArray(np.exp(np.sin(x)), dims="x", coords={"x": x}, name="f")
    exact = {1: np.cos(x) * np.exp(np.sin(x)), 2: (np.cos(x) ** 2 - np.sin(x)) * np.exp(np.sin(x))}
    methods = {
        "fd, accuracy 2": {"method": "fd", "accuracy": 2},
        "fd, accuracy 8": {"method": "fd", "accuracy": 8},
        "spectral": {"method": "spectral"},
    }
    errors: dict[str, dict[int, np.ndarray]] = {}
    print(f"f = exp(sin x), {n} points on one period, boundary='periodic'")
    print(f"{'method':<16} {'max error df/dx':>16} {'max error d2f/dx2':>18}")
    for name, opts in methods.items():
        errors[name] = {
            order: np.abs(f.grad.partial("x", order=order, boundary="periodic", **opts).values - exact[order])
            for order in (1, 2)
        }
        print(f"{name:<16} {errors[name][1].max():>16.3g} {errors[name][2].max():>18.3g}")
    lazy = f.chunk(x=n // 4).grad.partial("x", method="spectral", boundary="periodic")
    print(
        f"dask, 4 chunks: max |lazy - in memory| = "
        f"{float(np.abs(lazy.values - f.grad.partial('x', method='spectral', boundary='periodic').values).max()):.1e}"
    )

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, order in zip(axes, (1, 2), strict=True):
        for name in methods:
            ax.semilogy(x, np.maximum(errors[name][order], 1e-17), ".-", label=name)
        ax.set_title(f"|error| of the derivative of order {order}")
        ax.set_xlabel("x")
        ax.legend(fontsize=8)
    fig.tight_layout()
    out = args.out / "custom_method.png"
    fig.savefig(out, dpi=90)
    print(f"figure saved to {out}")


if __name__ == "__main__":
    main()
