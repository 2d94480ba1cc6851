"""Speed of the plugins (issue 4): polyfit and spline along one axis of a 2000 x 2000 float64 field.

Goals: polyfit at least as fast as ``scipy.signal.savgol_filter`` on the same uniform data (same
window 21, degree 3, first derivative, ``mode="interp"``); spline (defaults: degree 3, smoothing
"auto" = GCV per line, i.e. 2000 penalty searches) under 2 s. Both axes are timed (axis 0: lines
strided in memory; axis 1: lines contiguous). Anchors: ``savgol_filter``;
``scipy.interpolate.make_interp_spline`` (batched) for the interpolating spline; and scipy's
``make_smoothing_spline`` (GCV), which loops in Python per line, timed on a few lines and
extrapolated.

Each case: one warm-up call (also checks the values), then ``--repeats`` timed calls; median
(min - max). ``load`` is the CPU share used by other processes meanwhile (this machine is shared:
figures with a load above ~10 % are not representative), ``cpu/w`` our CPU time over wall time.

Run::

    uv run python benchmarks/bench_plugins_speed.py
    uv run python benchmarks/bench_plugins_speed.py --n 1000 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable

import numpy as np
import xarray as xr

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import foreign_load_between, snapshot

import fieldgrad  # noqa: F401


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float, float, float, float]:
    times = []
    a = snapshot()
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    b = snapshot()
    cpu_share = (b[2] - a[2]) / max(b[0] - a[0], 1e-9)
    return float(np.median(times)), min(times), max(times), foreign_load_between(a, b), cpu_share


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=2000, help="field is n x n (default 2000)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--gcv-lines", type=int, default=3, help="lines timed for scipy's per-line GCV")
    args = p.parse_args()
    n = args.n
    print(f"command: uv run python benchmarks/bench_plugins_speed.py --n {n} --repeats {args.repeats}")
    print(f"field: {n} x {n} float64, uniform coordinates; {os.cpu_count()} CPUs\n")

    from scipy.interpolate import make_interp_spline, make_smoothing_spline
    from scipy.signal import savgol_filter

    from fieldgrad_polyfit import PolyFit

    rng = np.random.default_rng(0)
    x = np.linspace(0.0, 2 * np.pi, n)
    dx = x[1] - x[0]
    field = np.sin(x)[:, None] * np.cos(x)[None, :] + 0.01 * rng.normal(size=(n, n))
    da = xr.DataArray(field, dims=("x", "y"), coords={"x": x, "y": x})
    poly = PolyFit()

    rows = []
    for axis, dim in ((0, "x"), (1, "y")):
        cases: list[tuple[str, Callable[[], np.ndarray], Callable[[], np.ndarray] | None]] = [
            (
                "scipy savgol_filter(21, 3, deriv=1, interp)",
                lambda: savgol_filter(field, 21, 3, deriv=1, delta=dx, mode="interp", axis=axis),
                None,
            ),
            (
                "fieldgrad polyfit: PolyFit().derivative",
                lambda: poly.derivative(field, x, axis=axis, order=1, window=21, degree=3, spacing=dx),
                lambda: savgol_filter(field, 21, 3, deriv=1, delta=dx, mode="interp", axis=axis),
            ),
            (
                'fieldgrad polyfit: da.grad.partial(method="polyfit")',
                lambda: da.grad.partial(dim, method="polyfit").values,
                lambda: savgol_filter(field, 21, 3, deriv=1, delta=dx, mode="interp", axis=axis),
            ),
            (
                "scipy make_interp_spline(k=3) + derivative (batched)",
                lambda: make_interp_spline(x, field, k=3, axis=axis).derivative(1)(x),
                None,
            ),
            (
                "fieldgrad spline smoothing=None: da.grad.partial",
                lambda: da.grad.partial(dim, method="spline", smoothing=None).values,
                lambda: make_interp_spline(x, field, k=3, axis=axis).derivative(1)(x),
            ),
            (
                "fieldgrad spline smoothing=1e-3 (fixed penalty)",
                lambda: da.grad.partial(dim, method="spline", smoothing=1e-3).values,
                None,
            ),
            (
                'fieldgrad spline smoothing="auto" (GCV per line): da.grad.partial',
                lambda: da.grad.partial(dim, method="spline").values,
                None,
            ),
        ]
        for label, fn, ref in cases:
            out = fn()  # warm-up (JIT load) and check
            err = ""
            if ref is not None:
                want = ref()
                err = f"{np.abs(out - want).max() / np.abs(want).max():.1e}"
            med, lo, hi, load, cpu = timed(fn, args.repeats)
            rows.append((axis, label, med, lo, hi, load, cpu, err))

    # scipy's GCV smoothing spline: a Python loop per line; time a few lines and extrapolate
    t0 = time.perf_counter()
    for j in range(args.gcv_lines):
        make_smoothing_spline(x, field[:, j]).derivative(1)(x)
    per_line = (time.perf_counter() - t0) / args.gcv_lines

    print("| axis | case | median (s) | min - max (s) | load | cpu/w | rel. diff vs anchor |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for axis, label, med, lo, hi, load, cpu, err in rows:
        print(f"| {axis} | {label} | {med:.3f} | {lo:.3f} - {hi:.3f} | {load:.0%} | {cpu:.2f} | {err} |")
    print(
        f"| 0 | scipy make_smoothing_spline (GCV), per-line loop: {per_line:.2f} s/line x {n} lines "
        f"(extrapolated) | {per_line * n:.0f} | | | | |"
    )

    print("\n### Goals (issue 4)\n")
    get = {(a, lab): med for a, lab, med, *_ in rows}
    for axis in (0, 1):
        sg = get[(axis, "scipy savgol_filter(21, 3, deriv=1, interp)")]
        pf = get[(axis, 'fieldgrad polyfit: da.grad.partial(method="polyfit")')]
        sp = get[(axis, 'fieldgrad spline smoothing="auto" (GCV per line): da.grad.partial')]
        print(
            f"* axis {axis}: polyfit {pf:.3f} s vs savgol_filter {sg:.3f} s -> {sg / pf:.1f}x "
            f"({'ok' if pf <= sg else 'MISSED'}); spline auto {sp:.2f} s ({'ok' if sp < 2 else 'MISSED'} < 2 s)"
        )


if __name__ == "__main__":
    main()
