"""Edges of a grayscale image: gradient magnitude, and the rate of change along a line.

The image is a blurred disk on a tilted background, so its derivatives are known exactly:
``I(x, y) = 0.3 + 0.1 x / L + 0.5 (1 - tanh((r - R) / w))`` with ``r`` the distance to the
centre. Coordinates are in millimetres (pixel size 0.1 mm), so derivatives are per mm.

It shows

* the gradient magnitude ``|∇I|`` (``img.grad.gradient(...).grad.magnitude()``), which peaks on
  the edge of the disk;
* the rate of change of gray level along a line drawn between two points through the edge,
  with ``img.grad.along(...)``, against the naive estimate that takes the nearest pixel of each
  point on the line and differences those values, and against the exact value.

``--image hopper`` uses the photograph bundled with matplotlib instead (no exact reference).

Run: ``uv run python examples/image_edges.py [--size N] [--out DIR]``
(``FIELDGRAD_EXAMPLE_SMALL=1`` for a small fast run, ``FIELDGRAD_EXAMPLE_OUT`` for the folder).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np
import xarray as xr
from _common import save_figure, settings

import fieldgrad  # noqa: F401  (registers the .grad accessor)


def _image_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--image", choices=("synthetic", "hopper"), default="synthetic")


# The synthetic image and its exact derivatives ---------------------------------------------
CENTRE = (0.45, 0.55)  # as fractions of the image side
RADIUS = 0.28
WIDTH = 0.03


def synthetic(
    n: int, pixel: float = 0.1
) -> tuple[xr.DataArray, Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]]:
    side = n * pixel
    x = np.arange(n) * pixel
    y = np.arange(n) * pixel
    cx, cy, R, w = CENTRE[0] * side, CENTRE[1] * side, RADIUS * side, WIDTH * side

    def image(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        r = np.hypot(X - cx, Y - cy)
        return 0.3 + 0.1 * X / side + 0.5 * (1 - np.tanh((r - R) / w))

    def grad(X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r = np.hypot(X - cx, Y - cy)
        dIdr = -0.5 / w / np.cosh((r - R) / w) ** 2
        return 0.1 / side + dIdr * (X - cx) / r, dIdr * (Y - cy) / r

    Y, X = np.meshgrid(y, x, indexing="ij")
    img = xr.DataArray(
        image(X, Y), dims=("y", "x"), coords={"y": y, "x": x}, name="I", attrs={"long_name": "gray level"}
    )
    img.x.attrs["units"] = img.y.attrs["units"] = "mm"
    return img, grad


def hopper(n: int) -> xr.DataArray:
    import matplotlib.pyplot as plt
    from matplotlib import cbook

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        rgb = plt.imread(f).astype(np.float64) / 255.0
    gray = rgb @ np.array([0.299, 0.587, 0.114])
    step = max(1, min(gray.shape) // n)
    gray = gray[::step, ::step]
    y, x = np.arange(gray.shape[0]) * 0.1 * step, np.arange(gray.shape[1]) * 0.1 * step
    img = xr.DataArray(gray, dims=("y", "x"), coords={"y": y, "x": x}, name="I")
    img.x.attrs["units"] = img.y.attrs["units"] = "mm"
    return img


def main() -> None:
    args = settings(__doc__, default=256, small=64, size_help="pixels on a side", more=_image_option)
    if args.image == "synthetic":
        img, exact_grad = synthetic(args.size)
    else:
        img, exact_grad = hopper(args.size), None
    ny, nx = img.shape
    side_x, side_y = float(img.x[-1]), float(img.y[-1])
    print(f"image {args.image}: {ny} x {nx} pixels, {side_x:.1f} x {side_y:.1f} mm")

    # 1. gradient magnitude: fourth-order stencils, derivatives per mm
    g = img.grad.gradient(["y", "x"], accuracy=4)
    mag = g.grad.magnitude()
    print(f"|grad I|: max {float(mag.max()):.3f} per mm, mean {float(mag.mean()):.3f} per mm")
    edge = mag > 0.5 * float(mag.max())
    print(f"edge pixels (|grad I| above half its maximum): {int(edge.sum())} of {edge.size}")
    if exact_grad is not None:
        Y, X = xr.broadcast(img.y, img.x)
        gx, gy = exact_grad(X.values, Y.values)
        err = np.abs(mag.values - np.hypot(gx, gy))
        print(
            f"max error of |grad I| against the exact value: {err.max():.2e} per mm "
            f"(relative {err.max() / np.hypot(gx, gy).max():.1e})"
        )

    # 2. rate of change along a line through the edge of the disk
    p0 = np.array([0.15 * side_x, 0.20 * side_y])
    p1 = np.array([0.80 * side_x, 0.85 * side_y])
    n_line = 4 * max(nx, ny)
    t = np.linspace(0.0, 1.0, n_line)
    xs, ys = p0[0] + t * (p1[0] - p0[0]), p0[1] + t * (p1[1] - p0[1])
    rate = img.grad.along({"x": xs, "y": ys}, accuracy=4)
    s = rate["distance"].values
    print(
        f"line from ({p0[0]:.2f}, {p0[1]:.2f}) to ({p1[0]:.2f}, {p1[1]:.2f}) mm: {n_line} points, length {s[-1]:.2f} mm"
    )

    # naive: gray level of the nearest pixel to each point, differenced along the line
    dx = float(img.x[1] - img.x[0])
    ix = np.clip(np.rint((xs - float(img.x[0])) / dx).astype(int), 0, nx - 1)
    iy = np.clip(np.rint((ys - float(img.y[0])) / dx).astype(int), 0, ny - 1)
    nearest = img.values[iy, ix]
    naive = np.gradient(nearest, s)

    if exact_grad is not None:
        tangent = (p1 - p0) / np.hypot(*(p1 - p0))
        gx, gy = exact_grad(xs, ys)
        exact = gx * tangent[0] + gy * tangent[1]
        err_along = np.abs(rate.values - exact).max()
        err_naive = np.abs(naive - exact).max()
        print(
            f"max error along the line: fieldgrad along {err_along:.3e}, nearest-pixel differences "
            f"{err_naive:.3e} per mm (peak rate {np.abs(exact).max():.3f})"
        )
        print(f"along is {err_naive / err_along:.0f}x more accurate than nearest-pixel differences")
    else:
        exact = None

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    img.plot.imshow(ax=axes[0], cmap="gray", add_colorbar=True)
    axes[0].plot([p0[0], p1[0]], [p0[1], p1[1]], "r-", lw=1.5)
    axes[0].set_title("image and the line")
    mag.plot.imshow(ax=axes[1], cmap="magma")
    axes[1].set_title("gradient magnitude |∇I| (per mm)")
    for a in axes[:2]:
        a.set_aspect("equal")
    ax = axes[2]
    ax.plot(s, naive, color="0.6", lw=1, label="nearest-pixel differences")
    ax.plot(s, rate.values, "C0", lw=2, label="fieldgrad: img.grad.along")
    if exact is not None:
        ax.plot(s, exact, "k--", lw=1, label="exact")
    ax.set_xlabel("distance along the line (mm)")
    ax.set_ylabel("dI/ds (per mm)")
    ax.set_title("rate of change along the line")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    save_figure(fig, args.out, "image_edges")


if __name__ == "__main__":
    main()
