"""A zarr store larger than memory, streamed through ``gradient`` chunk by chunk.

A temperature ``T(time, y, x)`` is written to a zarr store one chunk at a time (it is never in
memory whole), opened lazily with dask, and its horizontal gradient (``accuracy=4``) is written
to a second store with a progress bar. Each chunk is read with the few neighbouring points its
stencils need (halo exchange), so the memory in use is a few chunks, not the store: with
``--size 8192 --steps 32`` the input is 16 GiB and the peak memory stays near a gigabyte.

Then the same computation runs on a ``dask.distributed`` ``LocalCluster`` (separate worker
processes) and both outputs are compared, together with the error against the exact gradient.

Defaults are small (a few tens of MB). Run:
``uv run python examples/streaming_zarr.py [--size N] [--steps T] [--out DIR] [--workers W] [--keep]``
(``FIELDGRAD_EXAMPLE_SMALL=1`` for a small fast run, ``FIELDGRAD_EXAMPLE_OUT`` for the folder).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import time

import dask.array as dsa
import numpy as np
import xarray as xr
from _common import save_figure, settings, small_run
from dask.diagnostics import ProgressBar

import fieldgrad  # noqa: F401  (registers the .grad accessor)

KX, KY, OMEGA = 3.0, 2.0, 0.1  # wavenumbers (per 1000 km) and frequency (per step)


def _streaming_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--steps", type=int, help="time steps (default 16; 4 when small)")
    parser.add_argument("--chunk", type=int, help="chunk size along x and y (default size // 4)")
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes (default 2; 0 skips)")
    parser.add_argument("--keep", action="store_true", help="keep the zarr stores (default: delete them)")


def temperature(t: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """T = 15 + 5 sin(kx x − ω t) cos(ky y) in °C (a sea surface: 10 to 20 °C), x and y in km."""
    return 15 + 5 * np.sin(KX * x / 1000 - OMEGA * t) * np.cos(KY * y / 1000)


def exact_gradient(t: np.ndarray, y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(dT/dy, dT/dx) in °C per km."""
    dy = -5 * KY / 1000 * np.sin(KX * x / 1000 - OMEGA * t) * np.sin(KY * y / 1000)
    dx = 5 * KX / 1000 * np.cos(KX * x / 1000 - OMEGA * t) * np.cos(KY * y / 1000)
    return dy, dx


def lazy_field(nt: int, n: int, chunk: int) -> xr.Dataset:
    """The input as a dask array built chunk by chunk from its formula (never whole in memory)."""
    t = np.arange(nt, dtype=np.float64)
    y = np.linspace(0.0, 2000.0, n)
    x = np.linspace(0.0, 3000.0, n)
    T = dsa.map_blocks(
        lambda b, block_info=None: _block(block_info, t, y, x),
        dsa.empty((nt, n, n), chunks=(1, chunk, chunk)),
        dtype=np.float64,
    )
    ds = xr.Dataset(
        {"T": (("time", "y", "x"), T, {"units": "degC", "long_name": "temperature"})},
        coords={"time": t, "y": ("y", y, {"units": "km"}), "x": ("x", x, {"units": "km"})},
    )
    return ds


def _block(block_info: dict, t: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    (t0, t1), (y0, y1), (x0, x1) = block_info[None]["array-location"]
    return temperature(t[t0:t1, None, None], y[None, y0:y1, None], x[None, None, x0:x1])


def max_error(g: xr.DataArray) -> float:
    """max |g − exact| over the whole store, computed chunk by chunk."""

    def err(block: np.ndarray, block_info: dict | None = None) -> np.ndarray:
        loc = block_info[0]["array-location"]
        (c0, c1), (t0, t1), (y0, y1), (x0, x1) = loc
        tt, yy, xx = g.time.values[t0:t1, None, None], g.y.values[None, y0:y1, None], g.x.values[None, None, x0:x1]
        exact = np.stack(exact_gradient(tt, yy, xx))[c0:c1]
        return np.abs(block - exact).max(keepdims=True).reshape((1,) * block.ndim)

    data = g.transpose("component", "time", "y", "x").data
    blocks = data.map_blocks(err, chunks=(1,) * 4, dtype=np.float64)
    return float(blocks.max().compute())


def peak_memory_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kibibytes


def main() -> None:
    args = settings(
        __doc__,
        default=512,
        small=96,
        size_help="points along x and y",
        out_help="folder for the stores and the figure",
        more=_streaming_options,
    )
    args.steps = args.steps or (4 if small_run() else 16)
    args.chunk = args.chunk or max(8, args.size // 4)
    src = args.out / "streaming_input.zarr"
    dst = args.out / "streaming_gradient.zarr"
    dst2 = args.out / "streaming_gradient_distributed.zarr"
    show = not os.environ.get("FIELDGRAD_EXAMPLE_QUIET")

    ds = lazy_field(args.steps, args.size, args.chunk)
    mib = ds["T"].nbytes / 2**20
    print(
        f"input: T{tuple(ds['T'].shape)} float64 = {mib:.1f} MiB in chunks of "
        f"{ds['T'].data.chunksize} ({np.prod(ds['T'].data.chunksize) * 8 / 2**20:.2f} MiB)"
    )
    start = time.perf_counter()
    with ProgressBar(minimum=0.5) if show else _nothing():
        ds.to_zarr(src, mode="w", consolidated=False)
    print(f"wrote {src.name} chunk by chunk in {time.perf_counter() - start:.1f} s")

    # 1. the threaded scheduler: lazy open, lazy gradient, streaming write
    T = xr.open_zarr(src, consolidated=False)["T"]
    g = T.grad.gradient(["y", "x"], accuracy=4)
    print(
        f"gradient: lazy {type(g.data).__name__} {tuple(g.shape)}, chunks {g.data.chunksize}, "
        f"units {g.attrs.get('units')!r}"
    )
    start = time.perf_counter()
    with ProgressBar(minimum=0.5) if show else _nothing():
        g.to_dataset(name="grad_T").to_zarr(dst, mode="w", consolidated=False)
    elapsed = time.perf_counter() - start
    print(
        f"threaded: wrote {dst.name} ({2 * mib:.1f} MiB) in {elapsed:.1f} s; "
        f"peak memory of this process {peak_memory_mib():.0f} MiB"
    )
    g1 = xr.open_zarr(dst, consolidated=False)["grad_T"]
    err = max_error(g1)
    scale = 5 * max(KX, KY) / 1000
    print(f"max |grad T − exact| = {err:.2e} degC/km (|grad T| up to {scale:.1e}; relative {err / scale:.1e})")

    # 2. the same on a LocalCluster of worker processes
    if args.workers > 0:
        from distributed import Client, LocalCluster, progress

        with (
            LocalCluster(
                n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):
            start = time.perf_counter()
            T = xr.open_zarr(src, consolidated=False)["T"]
            job = (
                T.grad.gradient(["y", "x"], accuracy=4)
                .to_dataset(name="grad_T")
                .to_zarr(dst2, mode="w", consolidated=False, compute=False)
            )
            future = client.compute(job)
            if show:
                progress(future)
                print()
            future.result()
            print(
                f"distributed ({args.workers} worker processes): wrote {dst2.name} in "
                f"{time.perf_counter() - start:.1f} s"
            )
        g2 = xr.open_zarr(dst2, consolidated=False)["grad_T"]
        diff = float(abs(g2 - g1).max().compute())
        print(f"distributed result equals the threaded one: max difference {diff:.1e}")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    last = dict(time=args.steps - 1)
    step = max(1, args.size // 24)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4))
    T.isel(**last).plot(ax=axes[0], cmap="coolwarm")
    gl = g1.isel(**last).compute()
    gl.grad.magnitude().plot(ax=axes[1], cmap="viridis")
    sub = gl.isel(x=slice(None, None, step), y=slice(None, None, step))
    axes[1].quiver(sub.x, sub.y, sub.sel(component="x"), sub.sel(component="y"), color="w")
    axes[0].set_title(f"T at time step {args.steps - 1}")
    axes[1].set_title("|grad T| and grad T, streamed from zarr")
    fig.tight_layout()
    save_figure(fig, args.out, "streaming_zarr")
    if not args.keep:
        for path in (src, dst, dst2):
            shutil.rmtree(path, ignore_errors=True)


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


if __name__ == "__main__":
    main()
