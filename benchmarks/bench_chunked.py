"""Chunked (dask) gradient: fieldgrad vs xarray.differentiate vs dask.array.gradient, side by side.

A 512³ float64 field in 128³ chunks (persisted), threaded scheduler, three axes. Cases:

* ``sum``: each of the three derivatives reduced with ``.sum()``, all in one compute (fieldgrad:
  ``g.sum(["x", "y", "z"])`` of its vector field; the anchors: one ``.sum()`` per derivative);
* ``zarr``: the three derivatives stored to a zarr store in a temporary folder, with zarr's
  default codec (zstd) and uncompressed (``compressors=None``);
* ``compute``: the three derivatives gathered into memory with ``.compute()``, and with
  :func:`fieldgrad.compute` (each block written into a fresh result in place), against
  fieldgrad's in-memory path on the same (loaded) field;
* ``store``: the three derivatives stored into a preallocated numpy array with ``da.store``
  (the dask idiom for a result that fits in memory; no gather);
* ``laplacian``: the Laplacian reduced with ``.sum()``: fieldgrad (one task per block and axis,
  each with thin halo slabs), xarray (``differentiate`` twice per axis), and the alternative
  design of one halo exchange for all axes (``dask.array.overlap`` copies every block with its
  halos, then fieldgrad's in-memory Laplacian per block): the issue asked to measure both;
* ``floor``: the same writes and gathers of the gradient already computed (persisted), which no
  derivative engine can beat: what is left over the floor is the engine's share.

Cases run round-robin in a shuffled order each round; medians are reported, with the CPU share
other processes used meanwhile (the machine is shared). Peak RSS is the watermark over each
case (``/proc/self/clear_refs``). Run::

    uv run python benchmarks/bench_chunked.py            # 512³, 3 rounds
    uv run python benchmarks/bench_chunked.py --quick    # 256³ in 64³ chunks
    uv run python benchmarks/bench_chunked.py --only sum --rounds 7
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import shutil
import statistics
import tempfile
import time

import dask
import dask.array as da
import numpy as np
import xarray as xr
from _harness import foreign_load_between, peak_rss_mib, peak_rss_reset, snapshot

import fieldgrad


def field(n: int, chunk: int) -> xr.DataArray:
    x = np.arange(n) * 0.25
    data = da.random.default_rng(0).standard_normal((n, n, n), chunks=chunk).persist()
    return xr.DataArray(data, dims=("x", "y", "z"), coords={"x": x, "y": x, "z": x}, name="f")


def cases(f: xr.DataArray, tmp: str) -> dict:
    dims = ["x", "y", "z"]
    dx = float(f.x[1] - f.x[0])

    def fg():
        return f.grad.gradient(dims, edge_order=1)

    def xa():
        return [f.differentiate(d, edge_order=1) for d in dims]

    def dk():
        return da.gradient(f.data, dx, dx, dx)

    def sums(parts):
        return dask.compute(*[p.sum() for p in parts])

    def store(name, ds, compressed=True):
        path = os.path.join(tmp, name)
        shutil.rmtree(path, ignore_errors=True)
        encoding = None if compressed else {v: {"compressors": None} for v in ds.data_vars}
        ds.to_zarr(path, mode="w", encoding=encoding)

    def xa_ds():
        return xr.Dataset({f"d{d}": v for d, v in zip(dims, xa(), strict=True)})

    def one_exchange_laplacian():
        def block(b):
            return xr.DataArray(b, dims=dims).grad.laplacian(dims).values

        ext = da.overlap.overlap(f.data, depth=1, boundary="none")
        out = da.overlap.trim_internal(ext.map_blocks(block, dtype=float), {0: 1, 1: 1, 2: 1}, boundary="none")
        return out.sum().compute()

    loaded = f.compute()
    done = f.grad.gradient(dims, edge_order=1).persist()  # for the floors: nothing left to compute
    target = np.empty(done.shape)
    target[...] = 0.0  # allocated and touched once, reused by every round

    return {
        # the three sums, as an xarray user reduces a vector field (one pass over each block)
        "sum: fieldgrad gradient": lambda: fg().sum(dims).compute(),
        "sum: xarray differentiate x,y,z": lambda: sums(xa()),
        "sum: dask.array.gradient": lambda: sums(dk()),
        "laplacian: fieldgrad, per axis with thin slabs": lambda: f.grad.laplacian(dims).sum().compute(),
        "laplacian: xarray differentiate twice per axis": lambda: (
            sum(f.differentiate(d).differentiate(d) for d in dims).sum().compute()
        ),
        "laplacian: one exchange for all axes (overlap)": one_exchange_laplacian,
        "zarr: fieldgrad gradient": lambda: store("fg.zarr", fg().to_dataset(name="g")),
        "zarr: xarray differentiate x,y,z": lambda: store("xa.zarr", xa_ds()),
        "zarr floor: the computed gradient": lambda: store("done.zarr", done.to_dataset(name="g")),
        "zarr-raw: fieldgrad gradient": lambda: store("fg.zarr", fg().to_dataset(name="g"), False),
        "zarr-raw: xarray differentiate x,y,z": lambda: store("xa.zarr", xa_ds(), False),
        "zarr-raw floor: the computed gradient": lambda: store("done.zarr", done.to_dataset(name="g"), False),
        "compute: fieldgrad gradient (dask -> memory)": lambda: fg().compute(),
        "compute: xarray differentiate x,y,z (dask -> memory)": lambda: xa_ds().compute(),
        "compute: fieldgrad.compute(gradient) (dask -> memory, in place)": lambda: fieldgrad.compute(fg()),
        "compute floor: gather the computed gradient": lambda: done.compute(),
        "store: fieldgrad gradient -> preallocated": lambda: da.store(fg().data, target, lock=False),
        "store floor: the computed gradient -> preallocated": lambda: da.store(done.data, target, lock=False),
        "in-memory: fieldgrad gradient (numpy)": lambda: loaded.grad.gradient(dims, edge_order=1),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="256³ in 64³ chunks")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument(
        "--only",
        nargs="+",
        metavar="KIND",
        help="only these kinds of case (sum, laplacian, zarr, "
        "zarr-raw, compute, store; their floors and the in-memory path come along)",
    )
    p.add_argument("--json", help="write the results here")
    args = p.parse_args()
    n, chunk = (256, 64) if args.quick else (512, 128)
    dask.config.set(scheduler="threads")
    f = field(n, chunk)
    print(
        f"field {n}³ float64 ({f.nbytes / 2**30:.2f} GiB) in {chunk}³ chunks, threaded scheduler, "
        f"{os.cpu_count()} cores"
    )
    with tempfile.TemporaryDirectory(dir=os.environ.get("FIELDGRAD_BENCH_TMP")) as tmp:
        ops = cases(f, tmp)
        if args.only:
            keep = set(args.only) | {k + " floor" for k in args.only} | {"in-memory"}
            ops = {k: v for k, v in ops.items() if k.split(":")[0] in keep}
        for op in ops.values():  # verify / warm up (JIT, imports)
            op()
        times = {k: [] for k in ops}
        loads = {k: [] for k in ops}
        peaks = {k: [] for k in ops}
        for _ in range(args.rounds):
            order = list(ops)
            random.shuffle(order)
            for name in order:
                gc.collect()
                peak_rss_reset()
                base = peak_rss_mib(current=True)
                a = snapshot()
                t0 = time.perf_counter()
                res = ops[name]()
                times[name].append(time.perf_counter() - t0)
                loads[name].append(foreign_load_between(a, snapshot()))
                peaks[name].append(peak_rss_mib() - base)
                del res
    med = {k: statistics.median(v) for k, v in times.items()}
    mem = med.get("in-memory: fieldgrad gradient (numpy)", float("nan"))
    rows = []
    print(
        f"\n{'case':52s} {'median s':>9s} {'min-max':>13s} {'ratio':>9s} {'over floor':>10s} "
        f"{'peak MiB':>9s} {'load':>5s}"
    )
    for name in ops:
        t, kind = med[name], name.split(":")[0]
        group = kind.replace(" floor", "")
        floor = med.get(next((k for k in ops if k.startswith(group + " floor:")), ""), 0.0)
        if kind in ("sum", "zarr", "zarr-raw"):  # xarray's time over this case's: higher is faster
            ratio, label = med[f"{kind}: xarray differentiate x,y,z"] / t, "×"
        elif kind == "laplacian":
            ratio, label = med["laplacian: xarray differentiate twice per axis"] / t, "×"
        elif kind in ("compute", "store", "compute floor", "store floor"):  # over the in-memory path: lower is faster
            ratio, label = t / mem, "⋅mem"
        else:
            ratio, label = float("nan"), ""
        over = t - floor if floor and "floor" not in kind else float("nan")
        rows.append(
            dict(
                case=name,
                median_s=t,
                times=times[name],
                peak_mib=max(peaks[name]),
                load=max(loads[name]),
                ratio=ratio,
                ratio_kind=label,
                over_floor_s=over,
            )
        )
        print(
            f"{name:52s} {t:9.3f} {min(times[name]):6.2f}-{max(times[name]):<6.2f} {ratio:6.2f}{label:4s}"
            f"{over:10.2f} {max(peaks[name]):9.0f} {max(loads[name]):5.0%}"
        )
    for kind in ("zarr", "zarr-raw"):
        if f"{kind} floor: the computed gradient" not in med:
            continue
        fg_over = med[f"{kind}: fieldgrad gradient"] - med[f"{kind} floor: the computed gradient"]
        xa_over = med[f"{kind}: xarray differentiate x,y,z"] - med[f"{kind} floor: the computed gradient"]
        ratio = f"= {xa_over / fg_over:.2f}×" if fg_over > 0 else "(fieldgrad within the floor's spread)"
        print(f"{kind}: time over the write floor, xarray / fieldgrad = {xa_over:.2f} / {fg_over:.2f} s {ratio}")
    print(
        "\nratio: for sum/zarr, xarray's time over this case's (higher is faster); for compute/store, this "
        "case's time over fieldgrad's in-memory path (goal ≤ 1.5); over floor: seconds beyond writing or "
        "gathering the already computed gradient; load: other processes' CPU share"
    )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(dict(n=n, chunk=chunk, rows=rows), fh, indent=1)


if __name__ == "__main__":
    main()
