"""Where a chunked gradient spends its time inside one block: the fused kernel and the halo strips.

Runs ``f.grad.gradient().sum()`` on a persisted 256³ float64 field in 128³ chunks with the
synchronous scheduler, and times, for every block, the whole block task
(``fieldgrad.chunked._gradient_block``) and the recomputation of the points near the block's
ends on each axis (``_patch_ends``; axis 2 is the contiguous one). Medians over blocks and
rounds, in milliseconds. Run::

    uv run python benchmarks/bench_block.py [--n 256] [--chunk 128] [--rounds 4]
"""

from __future__ import annotations

import argparse
import statistics
import time

import dask
import dask.array as da
import numpy as np
import xarray as xr

import fieldgrad  # noqa: F401
import fieldgrad.chunked as chunked


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=256)
    p.add_argument("--chunk", type=int, default=128)
    p.add_argument("--rounds", type=int, default=4)
    args = p.parse_args()
    x = np.arange(args.n) * 0.25
    data = da.random.default_rng(0).standard_normal((args.n,) * 3, chunks=args.chunk).persist()
    f = xr.DataArray(data, dims=("x", "y", "z"), coords={"x": x, "y": x, "z": x})

    blocks: list[float] = []
    strips: dict[int, list[float]] = {}
    block_fn, patch_fn = chunked._gradient_block, chunked._patch_ends

    def timed_block(*a, block_id=None, **k):
        t0 = time.perf_counter()
        out = block_fn(*a, block_id=block_id, **k)
        blocks.append(time.perf_counter() - t0)
        return out

    def timed_patch(out, block, left, right, coord, axis, *a):
        t0 = time.perf_counter()
        patch_fn(out, block, left, right, coord, axis, *a)
        strips.setdefault(axis, []).append(time.perf_counter() - t0)

    chunked._gradient_block, chunked._patch_ends = timed_block, timed_patch
    try:
        with dask.config.set(scheduler="sync"):
            f.grad.gradient(edge_order=1).sum().compute()  # warm-up: JIT, caches
            blocks.clear()
            strips.clear()
            for _ in range(args.rounds):
                f.grad.gradient(edge_order=1).sum().compute()
    finally:
        chunked._gradient_block, chunked._patch_ends = block_fn, patch_fn
    ms = {a: statistics.median(v) * 1e3 for a, v in sorted(strips.items())}
    print(
        f"{args.n}³ in {args.chunk}³ blocks, {len(blocks)} block tasks: "
        f"block {statistics.median(blocks) * 1e3:.2f} ms; "
        "end strips per axis " + ", ".join(f"axis {a}: {t:.2f} ms" for a, t in ms.items())
    )


if __name__ == "__main__":
    main()
