#!/usr/bin/env python3
"""``fieldgrad.gradient`` against ``numpy.gradient`` on small and medium 2-D fields, with spacing arrays.

Side by side in one process, float64 fields, the same spacing objects passed to both, call after
call (as a loop over time steps on one grid does):

* ``non-uniform x, y``: ``gradient(f, x, y)``, both axes non-uniform arrays (``cumsum(uniform(0.2, 1.8))``);
* ``non-uniform y``: ``gradient(f, 0.5, y)``, one scalar step and one non-uniform array;
* ``uniform scalars`` (control): ``gradient(f, 0.5, 0.5)``;
* ``new values each call`` (diagnostic): ``gradient(f, x_k, y_k)`` cycling through more non-uniform
  arrays than fieldgrad keeps (every call meets values it has not kept: the first call's cost).

Every result is compared with numpy's, bit for bit, before timing. Each round runs every case of a
size, in a new random order, ``--calls`` times in a row; reported are the best round (per call) and
the median round of ``--rounds``, and the ratio numpy / fieldgrad of each (> 1: fieldgrad faster).
``load`` is the CPU share other processes used during the size's rounds (``_harness.py``).

Run: ``uv run python benchmarks/bench_dropin.py`` (``--src DIR`` imports fieldgrad from another
checkout's source, for a before/after comparison; ``--json PATH`` writes every time).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from _harness import foreign_load_between, snapshot

SIZES = [50, 100, 200, 1000]
CASES = ["non-uniform x, y", "non-uniform y", "uniform scalars", "new values each call"]
VARIANTS = 96  # arrays cycled by "new values each call": more than fieldgrad keeps (64)


def coordinate(n: int, rng: np.random.Generator) -> np.ndarray:
    return np.cumsum(rng.uniform(0.2, 1.8, n))


def cases(fieldgrad: Any, n: int) -> dict[str, tuple[Callable[[], Any], Callable[[], Any]]]:
    """(fieldgrad call, numpy call) per case, on an n×n field."""
    rng = np.random.default_rng(n)
    f = rng.normal(size=(n, n))
    x, y = coordinate(n, rng), coordinate(n, rng)
    xs = [coordinate(n, rng) for _ in range(VARIANTS)]
    ys = [coordinate(n, rng) for _ in range(VARIANTS)]
    turn = {"fg": 0, "np": 0}

    def cycling(gradient: Callable[..., Any], who: str) -> Callable[[], Any]:
        def call() -> Any:
            k = turn[who] = (turn[who] + 1) % VARIANTS
            return gradient(f, xs[k], ys[k])

        return call

    return {
        "non-uniform x, y": (lambda: fieldgrad.gradient(f, x, y), lambda: np.gradient(f, x, y)),
        "non-uniform y": (lambda: fieldgrad.gradient(f, 0.5, y), lambda: np.gradient(f, 0.5, y)),
        "uniform scalars": (lambda: fieldgrad.gradient(f, 0.5, 0.5), lambda: np.gradient(f, 0.5, 0.5)),
        "new values each call": (cycling(fieldgrad.gradient, "fg"), cycling(np.gradient, "np")),
    }


def check(pairs: dict[str, tuple[Callable[[], Any], Callable[[], Any]]]) -> None:
    for name, (ours, theirs) in pairs.items():
        for _ in range(2):  # the first call builds, the second finds what was kept
            for a, b in zip(ours(), theirs(), strict=True):
                assert a.dtype == b.dtype and np.array_equal(a, b), name


def timed(calls: dict[str, Callable[[], Any]], rounds: int, repeat: int) -> dict[str, list[float]]:
    """Per-call seconds of each round: every case ``repeat`` times in a row, cases shuffled per round."""
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        order = list(calls)
        random.shuffle(order)
        for name in order:
            fn = calls[name]
            start = time.perf_counter()
            for _ in range(repeat):
                fn()
            times[name].append((time.perf_counter() - start) / repeat)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=SIZES, help="n of the n×n fields")
    parser.add_argument("--rounds", type=int, default=41, help="rounds per size")
    parser.add_argument("--calls", type=int, default=0, help="calls per case and round (0: ~2 ms worth)")
    parser.add_argument("--src", help="import fieldgrad from this directory (another checkout's source)")
    parser.add_argument("--json", help="write every time here")
    args = parser.parse_args()
    if args.src:
        sys.path.insert(0, args.src)
    import fieldgrad

    with fieldgrad.set_options(jit="always"):  # steady state: the compiled kernel loaded first
        fieldgrad.gradient(np.ones((8, 8)))
    print(f"fieldgrad from {fieldgrad.__file__}; numpy {np.__version__}")
    print(f"{'field':>9} {'case':>22} | {'best: fg / np (µs)':>28} | {'median: fg / np (µs)':>28} | load")
    report: dict[str, Any] = {}
    for n in args.sizes:
        pairs = cases(fieldgrad, n)
        check(pairs)
        calls = {f"{name}|{who}": fns[k] for name, fns in pairs.items() for k, who in enumerate(("fg", "np"))}
        repeat = args.calls or max(1, int(2e-3 / (n * n * 2e-8 + 3e-5)))  # ~2 ms of numpy per case and round
        t0 = snapshot()
        times = timed(calls, args.rounds, repeat)
        load = foreign_load_between(t0, snapshot())
        report[str(n)] = {"load": load, "calls_per_round": repeat, "times": times}
        for name in pairs:
            fg, ref = times[f"{name}|fg"], times[f"{name}|np"]
            best = f"{min(fg) * 1e6:9.1f} / {min(ref) * 1e6:9.1f} ({min(ref) / min(fg):5.2f}x)"
            med_fg, med_np = statistics.median(fg), statistics.median(ref)
            med = f"{med_fg * 1e6:9.1f} / {med_np * 1e6:9.1f} ({med_np / med_fg:5.2f}x)"
            print(f"{n:>4}×{n:<4} {name:>22} | {best:>28} | {med:>28} | {load:.0%}")
    print("(x: numpy time / fieldgrad time; > 1 means fieldgrad is faster)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh)


if __name__ == "__main__":
    main()
