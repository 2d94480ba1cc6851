"""Bounded memory: zarr store → ``.grad.gradient`` → zarr store, peak RSS against store size.

Generates float64 stores of two sizes (default 1 GiB = 512³ and 8 GiB = 1024³, both in 128³
chunks) in a temporary folder, then for each runs, in a fresh process with the threaded
scheduler::

    xr.open_zarr(src)["f"].grad.gradient(["x", "y", "z"]).to_dataset(name="g").to_zarr(dst)

and records its peak resident memory (VmHWM) and time. The goal: peak RSS depends on the chunk
size, not on the store size (ratio ≤ 1.3, and under 2 GiB for 128³ chunks). Run::

    uv run python benchmarks/bench_streaming.py                  # 1 GiB and 8 GiB (needs ~40 GB of disk)
    uv run python benchmarks/bench_streaming.py --sizes 256 512  # quicker: 128 MiB and 1 GiB

FIELDGRAD_BENCH_TMP chooses the folder for the temporary stores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

CHILD = r"""
import json, sys, time
import dask, xarray as xr
import fieldgrad
from _harness import peak_rss_mib, peak_rss_reset
src, dst = sys.argv[1], sys.argv[2]
dask.config.set(scheduler="threads")
peak_rss_reset()
base = peak_rss_mib(current=True)
t0 = time.perf_counter()
f = xr.open_zarr(src)["f"]
g = f.grad.gradient(["x", "y", "z"])
g.to_dataset(name="g").to_zarr(dst, mode="w")
dt = time.perf_counter() - t0
print(json.dumps(dict(seconds=dt, peak_mib=peak_rss_mib(), base_mib=base)))
"""


def make_store(path: str, n: int, chunk: int) -> None:
    import dask.array as da
    import numpy as np
    import xarray as xr

    x = np.arange(n) * 0.5
    data = da.random.default_rng(0).standard_normal((n, n, n), chunks=chunk)
    xr.Dataset({"f": (("x", "y", "z"), data)}, coords={"x": x, "y": x, "z": x}).to_zarr(path, mode="w")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[512, 1024], help="points per axis of each store")
    p.add_argument("--chunk", type=int, default=128)
    p.add_argument("--json")
    args = p.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    rows = []
    with tempfile.TemporaryDirectory(dir=os.environ.get("FIELDGRAD_BENCH_TMP")) as tmp:
        for n in args.sizes:
            src, dst = os.path.join(tmp, f"in{n}.zarr"), os.path.join(tmp, f"out{n}.zarr")
            t0 = time.perf_counter()
            make_store(src, n, args.chunk)
            gen = time.perf_counter() - t0
            res = subprocess.run(
                [sys.executable, "-c", CHILD, src, dst],
                cwd=here,
                capture_output=True,
                text=True,
                env=dict(os.environ, PYTHONPATH=here),
            )
            if res.returncode != 0:
                raise SystemExit(res.stderr)
            out = json.loads(res.stdout.strip().splitlines()[-1])
            gib = n**3 * 8 / 2**30
            rows.append(dict(n=n, store_gib=gib, generate_s=gen, **out))
            print(
                f"{n}³ ({gib:5.2f} GiB in {args.chunk}³ chunks): gradient → zarr {out['seconds']:7.1f} s, "
                f"peak RSS {out['peak_mib']:7.0f} MiB (process start {out['base_mib']:.0f} MiB)",
                flush=True,
            )
            shutil.rmtree(src)
            shutil.rmtree(dst)
    if len(rows) > 1:
        ratio = rows[-1]["peak_mib"] / rows[0]["peak_mib"]
        print(
            f"peak RSS ratio, {rows[-1]['store_gib']:.2f} GiB vs {rows[0]['store_gib']:.2f} GiB store: {ratio:.2f} "
            f"(goal ≤ 1.3; store sizes differ {rows[-1]['store_gib'] / rows[0]['store_gib']:.0f}×)"
        )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
