"""Derivatives of noisy measurements: finite differences against polyfit and spline.

A signal ``f(t) = sin(2π t) + 0.5 sin(6π t)`` is sampled at irregular times and measured with
Gaussian noise. Finite differences amplify the noise (the error of the first derivative grows
like σ/h, of the second like σ/h²); the ``polyfit`` method (local least-squares polynomials,
Savitzky-Golay) and the ``spline`` method (a smoothing spline whose penalty is chosen by
generalised cross-validation) fit the data first. It prints the RMS error of the first and
second derivative of each method against the exact ones and saves a figure.

The methods ``polyfit`` and ``spline`` are plugins shipped under ``plugins/``; with uv they are
installed with the project.

Run: ``uv run python examples/noisy_derivatives.py [--size N] [--out DIR] [--noise SIGMA]``
(``FIELDGRAD_EXAMPLE_SMALL=1`` for a small fast run, ``FIELDGRAD_EXAMPLE_OUT`` for the folder).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import xarray as xr
from _common import save_figure, settings

import fieldgrad


def _noise_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--noise", type=float, default=0.01, help="standard deviation of the noise (0.01)")
    parser.add_argument("--seed", type=int, default=0)


def exact(t: np.ndarray, order: int) -> np.ndarray:
    w1, w2 = 2 * np.pi, 6 * np.pi
    if order == 0:
        return np.sin(w1 * t) + 0.5 * np.sin(w2 * t)
    if order == 1:
        return w1 * np.cos(w1 * t) + 0.5 * w2 * np.cos(w2 * t)
    return -(w1**2) * np.sin(w1 * t) - 0.5 * w2**2 * np.sin(w2 * t)


def main() -> None:
    args = settings(__doc__, default=1000, small=300, size_help="number of samples", more=_noise_options)
    missing = [m for m in ("polyfit", "spline") if m not in fieldgrad.available_methods()]
    if missing:
        sys.exit(
            f"this example needs the {' and '.join(missing)} method plugin(s) from plugins/ "
            f"(uv sync installs them); available: {sorted(fieldgrad.available_methods())}"
        )
    rng = np.random.default_rng(args.seed)
    n = args.size
    # irregular sampling times: jittered around a uniform grid
    t = np.sort(np.linspace(0, 1, n) + rng.uniform(-0.3, 0.3, n) / n)
    t[0], t[-1] = 0.0, 1.0
    f = xr.DataArray(exact(t, 0) + rng.normal(0, args.noise, n), dims="t", coords={"t": t}, name="f")
    print(
        f"{n} samples at irregular times in [0, 1] (steps {np.diff(t).min():.2e} .. {np.diff(t).max():.2e}), "
        f"noise σ = {args.noise}"
    )

    # polyfit: a window wide enough to average the noise, narrow enough to follow the signal
    window = 2 * (n // 40) + 1
    methods = {
        "fd": {"method": "fd"},
        "polyfit": {"method": "polyfit", "window": window, "degree": 3},
        "spline": {"method": "spline"},  # smoothing="auto": GCV picks the penalty
    }
    inner = slice(n // 20, n - n // 20)  # compare away from the ends, where every method is one-sided
    results: dict[str, dict[int, xr.DataArray]] = {}
    rms: dict[str, dict[int, float]] = {}
    print(f"{'method':<10} {'options':<28} {'RMS error df/dt':>16} {'RMS error d2f/dt2':>18}")
    for name, opts in methods.items():
        results[name] = {order: f.grad.partial("t", order=order, **opts) for order in (1, 2)}
        rms[name] = {
            order: float(np.sqrt(np.mean((results[name][order].values - exact(t, order))[inner] ** 2)))
            for order in (1, 2)
        }
        shown = ", ".join(f"{k}={v}" for k, v in opts.items() if k != "method") or "-"
        print(f"{name:<10} {shown:<28} {rms[name][1]:>16.3g} {rms[name][2]:>18.3g}")
    scale = {order: float(np.sqrt(np.mean(exact(t, order) ** 2))) for order in (1, 2)}
    print(f"{'(signal)':<10} {'RMS of the exact derivative':<28} {scale[1]:>16.3g} {scale[2]:>18.3g}")
    best = min(rms, key=lambda m: rms[m][2])
    print(f"second derivative: fd error / {best} error = {rms['fd'][2] / rms[best][2]:.0f}")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.4))
    axes[0].plot(t, f.values, ".", ms=2, color="0.5", label="measurements")
    axes[0].plot(t, exact(t, 0), "k-", lw=1, label="signal")
    axes[0].set_title(f"f(t) with noise σ = {args.noise}")
    styles = {"fd": dict(color="0.75", lw=0.5), "polyfit": dict(color="C1", lw=1.5), "spline": dict(color="C0", lw=1.5)}
    for ax, order in zip(axes[1:], (1, 2), strict=True):
        for name in methods:
            ax.plot(t, results[name][order].values, label=f"{name} (RMS {rms[name][order]:.2g})", **styles[name])
        ax.plot(t, exact(t, order), "k--", lw=1, label="exact")
        lim = 1.6 * np.abs(exact(t, order)).max()
        ax.set_ylim(-lim, lim)
        ax.set_title(["", "first derivative", "second derivative"][order])
    for ax in axes:
        ax.set_xlabel("t")
        ax.legend(loc="lower left", fontsize=7)
    fig.tight_layout()
    save_figure(fig, args.out, "noisy_derivatives")


if __name__ == "__main__":
    main()
