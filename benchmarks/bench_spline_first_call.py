"""The spline plugin's first use in a fresh interpreter: numba's cache empty, then filled; a warm call.

Each run is a new ``python`` process with ``NUMBA_CACHE_DIR`` pointing at a new empty directory
(a fresh install), then a second process on the same directory (the cache filled by the first).
Each process times ``import fieldgrad_spline`` (which imports fieldgrad and xarray, not numba) and
the first ``da.grad.partial("x", method="spline")`` of a 200-point field with ``--lines`` lines
(1: one serial block; 200: several blocks, run by the thread pool), then a second call, then the
time from the first call until the compiled kernels are ready (``jit="auto"``: they compile, or
load from numba's cache, in a background thread while numpy serves the calls) and a call then.
The foreign CPU load (other users of this shared machine) over the runs is printed with them.

Run: ``uv run python benchmarks/bench_spline_first_call.py [--rounds 3] [--lines 1 200]``;
``--warm [--repeats 7] [--lines 200 4000]`` times warm calls of the compiled kernels in one process
instead (``FIELDGRAD_JIT=always``). ``--src DIR`` measures another copy of the plugin's ``src``
directory (e.g. an older commit's, from ``git worktree`` or ``git archive``) in place of the installed one.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import foreign_load_between, snapshot

_CHILD = """
import time
t0 = time.perf_counter()
import numpy as np
import xarray as xr
t1 = time.perf_counter()
import fieldgrad_spline
t2 = time.perf_counter()
x = np.linspace(0.0, 6.0, 200)
rng = np.random.default_rng(0)
da = xr.DataArray(np.sin(x)[:, None] + 0.01 * rng.normal(size=(200, {lines})), dims=("x", "y"),
                  coords={{"x": x}})
t3 = time.perf_counter()
da.grad.partial("x", method="spline")
t4 = time.perf_counter()
da.grad.partial("x", method="spline")
t5 = time.perf_counter()
from fieldgrad_spline import _smoothing
if hasattr(_smoothing, "wait_for_compilation"):  # jit="auto": the kernels compile in a background thread
    _smoothing.wait_for_compilation()
t6 = time.perf_counter()
da.grad.partial("x", method="spline")
t7 = time.perf_counter()
print(f"{{t1 - t0:.3f}} {{t2 - t1:.3f}} {{t4 - t3:.3f}} {{t5 - t4:.4f}} {{t6 - t3:.3f}} {{t7 - t6:.4f}}")
"""

_WARM = """
import statistics, time
import numpy as np
from fieldgrad_spline import spline_derivative
x = np.linspace(0.0, 6.0, 200)
rng = np.random.default_rng(0)
for lines in {lines}:
    y = np.sin(x)[:, None] + 0.01 * rng.normal(size=(200, lines))
    spline_derivative(y, x, axis=0)  # compiles or loads the kernels (FIELDGRAD_JIT=always)
    times = []
    for _ in range({repeats}):
        t0 = time.perf_counter()
        spline_derivative(y, x, axis=0)
        times.append(time.perf_counter() - t0)
    print(lines, statistics.median(times), min(times), max(times))
"""


def warm(lines: list[int], repeats: int, src: str | None) -> None:
    """Warm calls of ``spline_derivative`` (compiled kernels) in one process: median, min, max."""
    env = {**os.environ, "FIELDGRAD_JIT": "always"}
    if src:
        env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    before = snapshot()
    out = subprocess.run(
        [sys.executable, "-c", _WARM.format(lines=tuple(lines), repeats=repeats)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout.splitlines()
    load = foreign_load_between(before, snapshot())
    print(f"warm calls, spline_derivative of 200-point lines, {repeats} repeats ({src or 'installed plugin'}):")
    for row in out:
        n, med, lo, hi = row.split()
        med_ms, lo_ms, hi_ms = (1e3 * float(v) for v in (med, lo, hi))
        print(f"  {int(n):5d} lines: median {med_ms:7.1f} ms  (min {lo_ms:.1f}, max {hi_ms:.1f})")
    print(f"  foreign load: {100 * load:.0f} %")


def run(lines: int, cache: str, src: str | None) -> list[float]:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache}
    if src:
        env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run(
        [sys.executable, "-c", _CHILD.format(lines=lines)], capture_output=True, text=True, env=env, check=True
    ).stdout.split()
    return [float(v) for v in out]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="fresh installs per case")
    parser.add_argument("--lines", type=int, nargs="+", default=[1, 200], help="lines of the 200-point field")
    parser.add_argument("--src", default=None, help="a plugin src directory to measure instead of the installed one")
    parser.add_argument("--warm", action="store_true", help="time warm (compiled) calls instead, one process")
    parser.add_argument("--repeats", type=int, default=7, help="warm calls timed (with --warm)")
    args = parser.parse_args()
    if args.warm:
        warm(args.lines if args.lines != [1, 200] else [200, 4000], args.repeats, args.src)
        return
    print(
        "seconds, medians of",
        args.rounds,
        "fresh installs: import numpy+xarray | import fieldgrad_spline | first partial(method='spline') | "
        "second call | compiled kernels ready, from the first call | a call once they are",
    )
    for lines in args.lines:
        rows: dict[str, list[list[float]]] = {"empty cache": [], "filled cache": []}
        before = snapshot()
        for _ in range(args.rounds):
            with tempfile.TemporaryDirectory() as cache:
                rows["empty cache"].append(run(lines, cache, args.src))
                rows["filled cache"].append(run(lines, cache, args.src))
        load = foreign_load_between(before, snapshot())
        for label, values in rows.items():
            med = [statistics.median(col) for col in zip(*values, strict=True)]
            first_use = med[1] + med[2]
            print(
                f"  {lines:4d} lines, {label:12s}  {med[0]:6.2f} | {med[1]:6.2f} | {med[2]:6.2f} | {med[3]:7.4f}"
                f" | {med[4]:6.2f} | {med[5]:7.4f}"
                f"   import + first call {first_use:6.2f}  (all first calls: "
                f"{', '.join(f'{v[2]:.2f}' for v in values)})"
            )
        print(f"  foreign load during the {lines}-line runs: {100 * load:.0f} %")


if __name__ == "__main__":
    main()
