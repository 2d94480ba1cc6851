#!/usr/bin/env python3
"""fieldgrad against numpy and xarray at every size, and the first call in a fresh process.

Size sweep (float64, uniform coordinates, in memory; side by side in one process, medians of
shuffled rounds; every result checked against its anchor first):

* ``da.grad.gradient()``            vs ``[da.differentiate(d, edge_order=2) for d in da.dims]`` (same numbers)
* ``da.grad.partial(last dim)``     vs ``da.differentiate(last dim, edge_order=2)``
* ``fieldgrad.gradient(a)``         vs ``numpy.gradient(a)``

First call (``--cold``): a fresh interpreter imports xarray and fieldgrad and makes one
``da.grad.gradient()`` of a 200×300 and of a 1000×1000 field, with numba's cache filled and
empty (a new ``NUMBA_CACHE_DIR``); the same first call with xarray's ``differentiate`` for
reference; and, for 200×300, fieldgrad with ``FIELDGRAD_JIT=always`` (the compiled kernel from
the first call, as before the numpy kernel existed).

Run: ``uv run python benchmarks/bench_sizes.py`` (add ``--cold`` for the fresh-process part,
``--large`` for 512³).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import xarray as xr
from _harness import foreign_load_between, medians, shuffled_rounds, snapshot

import fieldgrad

COLD_SHAPES = [(200, 300), (1000, 1000)]  # below and above the size that starts a compilation
SIZES = [(50, 50), (100, 100), (500, 500), (2000, 2000), (64, 64, 64), (256, 256, 256)]
LARGE = [(512, 512, 512)]  # --large: 1 GiB fields, 3 GiB gradients (~1 min per round for the anchors)


def field(shape: tuple[int, ...]) -> xr.DataArray:
    dims = ["z", "y", "x"][-len(shape) :]
    coords = {d: np.arange(n) * 0.5 for d, n in zip(dims, shape, strict=True)}
    rng = np.random.default_rng(0)
    return xr.DataArray(rng.normal(size=shape), dims=dims, coords=coords)


def sweep(rounds: int, sizes: list[tuple[int, ...]]) -> None:
    # steady state: the compiled kernel loaded first (with jit="auto" it would otherwise be
    # compiled in the background during the first sizes' rounds; --cold measures that phase)
    with fieldgrad.set_options(jit="always"):
        fieldgrad.gradient(np.ones((8, 8)))
    print(
        f"{'field':>14} | {'gradient: fg / xarray':>30} | {'partial: fg / xarray':>30} | "
        f"{'drop-in: fg / numpy':>30} | load"
    )
    for shape in sizes:
        da = field(shape)
        a = da.values
        last = da.dims[-1]
        spacing = [0.5] * a.ndim
        cases = {
            "fg gradient": lambda: da.grad.gradient(),
            "xr gradient": lambda: [da.differentiate(d, edge_order=2) for d in da.dims],
            "fg partial": lambda: da.grad.partial(last),
            "xr partial": lambda: da.differentiate(last, edge_order=2),
            "fg drop-in": lambda: fieldgrad.gradient(a, *spacing),
            "np gradient": lambda: np.gradient(a, *spacing),
        }
        for k, ref in (("fg partial", "xr partial"), ("fg drop-in", "np gradient")):
            got, want = cases[k](), cases[ref]()
            assert np.allclose(np.asarray(got), np.asarray(want), rtol=1e-12, atol=1e-12), (shape, k)
        n = max(3, min(rounds, int(2e8 / a.size)))
        t0 = snapshot()
        med = medians(shuffled_rounds(cases, n))
        load = foreign_load_between(t0, snapshot())

        def pair(f: str, r: str) -> str:
            return f"{med[f] * 1e3:8.2f} / {med[r] * 1e3:8.2f} ms ({med[r] / med[f]:5.2f}x)"

        name = "×".join(map(str, shape))
        print(
            f"{name:>14} | {pair('fg gradient', 'xr gradient'):>30} | {pair('fg partial', 'xr partial'):>30} | "
            f"{pair('fg drop-in', 'np gradient'):>30} | {load:.0%}"
        )
    print("(x: anchor time / fieldgrad time; > 1 means fieldgrad is faster)")


_COLD = """
import time
t0 = time.perf_counter()
import numpy as np, xarray as xr
t1 = time.perf_counter()
ny, nx = {shape}
da = xr.DataArray(np.random.default_rng(0).normal(size=(ny, nx)), dims=("y", "x"),
                  coords=dict(y=np.arange(float(ny)), x=np.arange(float(nx))))
if {fieldgrad}:
    import fieldgrad
    t2 = time.perf_counter()
    da.grad.gradient()
else:
    t2 = time.perf_counter()
    [da.differentiate(d) for d in da.dims]
t3 = time.perf_counter()
print(f"{{t1 - t0:.3f}} {{t2 - t1:.3f}} {{t3 - t2:.3f}}")
"""


def cold() -> None:
    print("\nfirst call in a fresh process (s): import numpy+xarray | make the field (+ import fieldgrad) | first call")
    for shape in COLD_SHAPES:
        print(f"  {shape[0]}×{shape[1]} field")
        with tempfile.TemporaryDirectory() as empty:
            runs = [
                ("xarray differentiate", False, {}),
                ("fieldgrad, empty numba cache", True, {"NUMBA_CACHE_DIR": empty}),
                ("fieldgrad, filled numba cache", True, {"NUMBA_CACHE_DIR": empty}),
            ]
            if shape == COLD_SHAPES[0]:  # the compiled kernel alone, as before jit="auto"
                runs += [
                    (
                        "fieldgrad jit=always, empty cache",
                        True,
                        {"NUMBA_CACHE_DIR": empty + "/b", "FIELDGRAD_JIT": "always"},
                    ),
                    (
                        "fieldgrad jit=always, filled cache",
                        True,
                        {"NUMBA_CACHE_DIR": empty + "/b", "FIELDGRAD_JIT": "always"},
                    ),
                ]
            for label, use_fg, env in runs:
                code = _COLD.format(fieldgrad=use_fg, shape=shape)
                t0 = snapshot()
                out = subprocess.run(
                    [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **env}, check=True
                ).stdout.split()
                load = foreign_load_between(t0, snapshot())
                print(f"    {label:36s} {out[0]:>7} {out[1]:>7} {out[2]:>7}   load {load:.0%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=30, help="rounds for small fields (fewer for large ones)")
    parser.add_argument("--cold", action="store_true", help="also measure the first call in fresh processes")
    parser.add_argument("--large", action="store_true", help="also 512³ (needs ~10 GiB of memory)")
    parser.add_argument(
        "--sizes",
        nargs="+",
        metavar="SHAPE",
        help="only these shapes, e.g. 2000x2000 64x64x64 (an A/B of two checkouts)",
    )
    args = parser.parse_args()
    sizes = [tuple(int(n) for n in shape.split("x")) for shape in args.sizes] if args.sizes else SIZES
    sweep(args.rounds, sizes + (LARGE if args.large else []))
    if args.cold:
        cold()


if __name__ == "__main__":
    main()
