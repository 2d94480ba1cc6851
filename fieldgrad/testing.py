"""Conformance checks for derivative methods: run :func:`check_method` in a plugin's tests.

The engine relies on a few promises of every :class:`~fieldgrad.DerivativeMethod`; this module
checks them on random data, so that a method that passes works with every operation, in
memory and on dask arrays:

* **class** -- the capabilities are well formed (the registry's own validator);
* **shape and dtype** -- the result has the input's shape, float64 in gives float64 out, and
  ``axis`` may be any axis (negative too) of an N-D array;
* **purity** -- neither the inputs (which may be read-only) nor the method object change, and
  concurrent calls from several threads give the serial results;
* **lines** -- every 1-D line along ``axis`` is differentiated on its own;
* **locality** (methods whose ``halo`` is an int) -- on any window ``[a, b)`` of the axis with at
  least ``min_points`` points, the values at points at least ``halo`` from both window ends (or
  at the domain end itself, where the window shares it) equal those computed on the whole axis:
  the engine's halo exchange on dask arrays depends on exactly this;
* **minimum size** -- the method works on ``min_points`` points;
* **engine parity** -- through the engine, dask arrays cut into small chunks (chunks of one point
  included) give the in-memory result, for NaN-free data and, with ``nan_policy="omit"``, data
  with NaN gaps.

Examples
--------
>>> from fieldgrad.testing import check_method
>>> from fieldgrad.fd import FiniteDifference
>>> report = check_method(FiniteDifference, options={"accuracy": 4}, orders=[1])
>>> report["locality windows"] > 0
True
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .conventions import BOUNDARIES
from .coords import AxisCoord, axis_coord
from .method import DerivativeMethod

__all__ = ["check_method"]


class _Failure(AssertionError):
    pass


def _fail(name: str, check: str, detail: str) -> None:
    raise _Failure(f"check_method({name}): {check}: {detail}")


def _close(a: np.ndarray, b: np.ndarray, rtol: float) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if not np.array_equal(np.isnan(a), np.isnan(b)):
        return False
    ok = ~np.isnan(b)
    if not ok.any():
        return True
    scale = max(float(np.abs(b[ok]).max()), 1e-300)
    return bool(np.all(np.abs(a[ok] - b[ok]) <= rtol * scale))


def _snapshot(obj: Any) -> Any:
    try:
        return copy.deepcopy(vars(obj))
    except Exception:  # noqa: BLE001 - not copyable: compare identities of the attributes only
        return {k: id(v) for k, v in vars(obj).items()}


def _same_state(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same_state(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same_state(x, y) for x, y in zip(a, b, strict=True))
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - no usable ==: identity
        return a is b


def _coords(n: int, nonuniform: bool, rng: np.random.Generator) -> AxisCoord:
    if not nonuniform:
        return axis_coord(0.5 + 0.25 * np.arange(n), "x")
    steps = 0.25 * (1.0 + 0.6 * np.sin(np.arange(n - 1) * 0.7)) * rng.uniform(0.8, 1.2, n - 1)
    return axis_coord(np.concatenate([[0.5], 0.5 + np.cumsum(steps)]), "x")


def _field(n: int, lines: int, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Smooth lines with noise: any data must do, but smooth data keeps round-off comparable."""
    phase = rng.uniform(0, 2 * np.pi, (lines, 1))
    k = rng.uniform(0.3, 1.5, (lines, 1))
    return np.sin(k * x[None, :] + phase) + 0.05 * rng.normal(size=(lines, n))


def _windows(n: int, need: int, halo: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """Windows of at least ``need`` points: at the start, at the end, inside, and random."""
    out = {(0, min(n, need + halo)), (max(0, n - need - halo), n), (0, n)}
    lengths = [need, need + 1, need + 2 * halo + 3, (n + need) // 2]
    for length in lengths:
        length = min(max(length, need), n)
        for _ in range(3):
            a = int(rng.integers(0, n - length + 1))
            out.add((a, a + length))
    return sorted(out)


def check_method(
    method: type[DerivativeMethod] | DerivativeMethod,
    *,
    options: Mapping[str, Any] | None = None,
    orders: Iterable[int] | None = None,
    rtol: float = 1e-9,
    seed: int = 0,
    dask: bool = True,
) -> dict[str, int]:
    """Check that a derivative method keeps the promises the engine relies on.

    Parameters
    ----------
    method : DerivativeMethod subclass or instance
        The method to check.
    options : mapping, optional
        Options of the method to check with (default: its defaults).
    orders : iterable of int, optional
        Derivative orders to check; default 1 and 2 where the method supports them.
    rtol : float, default 1e-9
        Tolerance, relative to the largest value, of comparisons that are exact in exact
        arithmetic (windows against the whole axis, lines, axes, chunked against in memory).
    seed : int, default 0
        Seed of the random data and windows.
    dask : bool, default True
        Also compare dask arrays cut into small chunks with the in-memory result (through the
        engine); skipped when dask is not installed.

    Returns
    -------
    dict
        How many comparisons of each kind were made.

    Raises
    ------
    AssertionError
        Naming the method, the promise broken and how.

    Examples
    --------
    >>> from fieldgrad.fd import FiniteDifference
    >>> sorted(check_method(FiniteDifference, orders=[1]))
    ['axes', 'chunked', 'lines', 'locality windows', 'threads']
    """
    from .registry import validate_method_class

    cls = method if isinstance(method, type) else type(method)
    name = getattr(cls, "__name__", repr(cls))
    try:
        validate_method_class(cls)
    except TypeError as exc:
        _fail(name, "class", str(exc))
    m = method() if isinstance(method, type) else method
    rng = np.random.default_rng(seed)
    counts = {"axes": 0, "lines": 0, "locality windows": 0, "threads": 0, "chunked": 0}
    wanted = list(orders) if orders is not None else [1, 2]
    checked = []
    for order in wanted:
        try:
            opts = m.check_options(order, **dict(options or {}))
        except ValueError:
            if orders is not None:
                raise
            continue
        checked.append(order)
        for nonuniform in [False, True] if cls.supports_nonuniform else [False]:
            _check_order(m, name, order, opts, nonuniform, rtol, rng, counts)
            if dask:
                _check_chunked(m, name, order, opts, nonuniform, rtol, rng, counts)
    if not checked:
        _fail(name, "orders", f"none of the orders {wanted} is accepted by check_options with {dict(options or {})}")
    return counts


def _boundary(m: DerivativeMethod) -> str:
    """The boundary kind to check with: "one-sided" if the method has it, else its first kind."""
    return "one-sided" if "one-sided" in m.boundaries else m.boundaries[0]


def _as_method_sees(coord: AxisCoord, boundary: str) -> AxisCoord:
    """The axis as the engine hands it to the method: with its period iff it wraps around."""
    if boundary != "periodic":
        return coord
    x = coord.values
    step = coord.spacing if coord.spacing is not None else (x[-1] - x[0]) / (x.shape[0] - 1)
    return AxisCoord(x, coord.spacing, period=abs(x[-1] - x[0]) + abs(step))


def _check_order(
    m: DerivativeMethod,
    name: str,
    order: int,
    opts: dict[str, Any],
    nonuniform: bool,
    rtol: float,
    rng: np.random.Generator,
    counts: dict[str, int],
) -> None:
    what = f"order {order}, {'non-uniform' if nonuniform else 'uniform'} coordinate"
    boundary = _boundary(m)
    probe = _as_method_sees(_coords(64, nonuniform, rng), boundary)
    halo = m.halo(probe, order, **opts)
    need = m.min_points(probe, order, **opts)
    if halo is not None and (isinstance(halo, bool) or not isinstance(halo, (int, np.integer)) or halo < 0):
        _fail(name, "halo", f"halo({order}) must be None or an int >= 0, got {halo!r}")
    if isinstance(need, bool) or not isinstance(need, (int, np.integer)) or need < 1:
        _fail(name, "min_points", f"min_points({order}) must be an int >= 1, got {need!r}")
    n = max(64, 3 * need + 2 * (halo or 0) + 8)
    coord = _as_method_sees(_coords(n, nonuniform, rng), boundary)
    x = coord.values
    values = _field(n, 3, x, rng)

    # purity: read-only inputs, unchanged inputs and method object
    frozen_v, frozen_x = values.copy(), x.copy()
    values.setflags(write=False)
    x.setflags(write=False)
    before = _snapshot(m)
    try:
        full = np.asarray(m.derivative(values, coord, axis=-1, order=order, **opts))
    except Exception as exc:  # noqa: BLE001 - the method under test may raise anything: reported
        _fail(name, "call", f"{what}: derivative() raised {type(exc).__name__}: {exc} (on read-only inputs)")
    if not (np.array_equal(values, frozen_v) and np.array_equal(x, frozen_x)):
        _fail(name, "purity", f"{what}: derivative() modified its inputs")
    if not _same_state(before, _snapshot(m)):
        _fail(name, "purity", f"{what}: derivative() changed the method object's attributes")
    if full.shape != values.shape:
        _fail(name, "shape", f"{what}: result shape {full.shape}, expected {values.shape}")
    if full.dtype != np.float64:
        _fail(name, "dtype", f"{what}: float64 input gave {full.dtype}")
    if not np.isfinite(full).all():
        _fail(name, "finite", f"{what}: finite input gave non-finite values")
    single = np.asarray(m.derivative(values.astype(np.float32), coord, axis=-1, order=order, **opts))
    if single.shape != values.shape or single.dtype.kind != "f":
        _fail(name, "dtype", f"{what}: float32 input gave {single.dtype} of shape {single.shape}")

    # axes and lines
    for arr, axis, back in (
        (values.T, 0, lambda r: r.T),
        (values[:, None, :], -1, lambda r: r[:, 0, :]),
        (values[:, :, None], 1, lambda r: r[:, :, 0]),
    ):
        got = back(np.asarray(m.derivative(np.ascontiguousarray(arr), coord, axis=axis, order=order, **opts)))
        if not _close(got, full, rtol):
            _fail(
                name,
                "axes",
                f"{what}: differentiating along axis={axis} of a {arr.ndim}-D array does not give the same values",
            )
        counts["axes"] += 1
    for i in range(values.shape[0]):
        line = np.asarray(m.derivative(values[i], coord, axis=0, order=order, **opts))
        if not _close(line, full[i], rtol):
            _fail(name, "lines", f"{what}: line {i} alone differs from the same line in a batch")
        counts["lines"] += 1

    # threads
    results: list[np.ndarray | BaseException] = [None] * 4  # type: ignore[list-item]

    def work(k: int) -> None:
        try:
            results[k] = np.asarray(m.derivative(values, coord, axis=-1, order=order, **opts))
        except BaseException as exc:  # noqa: BLE001 - reported below, from the main thread
            results[k] = exc

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        if isinstance(r, BaseException) or not _close(r, full, rtol):
            _fail(name, "threads", f"{what}: concurrent calls from threads gave different results ({r!r:.200})")
        counts["threads"] += 1

    # the minimum size
    small = values[:, :need]
    try:
        out = np.asarray(
            m.derivative(
                small, _as_method_sees(AxisCoord(x[:need], coord.spacing), boundary), axis=-1, order=order, **opts
            )
        )
    except Exception as exc:  # noqa: BLE001 - the method under test may raise anything: reported
        _fail(name, "min_points", f"{what}: min_points()={need} points raised {type(exc).__name__}: {exc}")
    if out.shape != small.shape or not np.isfinite(out).all():
        _fail(name, "min_points", f"{what}: min_points()={need} points gave shape {out.shape} or non-finite values")

    # locality (one-sided windows: a periodic-only method has no windows)
    if halo is None or boundary != "one-sided":
        return
    for a, b in _windows(n, need, halo, rng):
        part = np.asarray(m.derivative(values[:, a:b], AxisCoord(x[a:b], coord.spacing), axis=-1, order=order, **opts))
        lo = a if a == 0 else a + halo
        hi = b if b == n else b - halo
        if hi <= lo:
            continue
        if not _close(part[:, lo - a : hi - a], full[:, lo:hi], rtol):
            bad = np.abs(part[:, lo - a : hi - a] - full[:, lo:hi]).max(axis=0).argmax() + lo
            _fail(
                name,
                "locality",
                f"{what}: on the window [{a}, {b}) of {n} points, the value at point {bad} "
                f"(at least halo={halo} from the window's inner ends) differs from the "
                "whole-axis value; halo() is too small or the method is not local",
            )
        counts["locality windows"] += 1


def _check_chunked(
    m: DerivativeMethod,
    name: str,
    order: int,
    opts: dict[str, Any],
    nonuniform: bool,
    rtol: float,
    rng: np.random.Generator,
    counts: dict[str, int],
) -> None:
    """Through the engine: every boundary kind and NaN policy the method takes, chunked = in memory."""
    try:
        import dask.array as da
    except ImportError:  # pragma: no cover - dask is a dependency of fieldgrad
        return
    from .dispatch import derivative
    from .plan import check_axis, make_plan

    what = f"order {order}, {'non-uniform' if nonuniform else 'uniform'} coordinate"
    probe = _coords(64, nonuniform, rng)
    halo = make_plan(m, (order,), nan_policy="omit", **opts).halo(probe, 1, order) or 0
    need = m.min_points(_as_method_sees(probe, _boundary(m)), order, **opts)
    n = max(24, 2 * need + 2 * halo + 6)  # room for interior points between the two edges; small: dask per block
    coord = _coords(n, nonuniform, rng)
    values = _field(n, 4, coord.values, rng)
    gappy = values.copy()
    gappy[0, n // 3] = np.nan
    gappy[1, n // 2 : n // 2 + 3] = np.nan
    gappy[2, :2] = np.nan
    for boundary in BOUNDARIES:
        axis_coord = _as_method_sees(coord, boundary)  # the period a periodic axis needs
        for data, nan_policy in ((values, "propagate"), (gappy, "propagate"), (gappy, "omit")):
            plan = make_plan(m, (order,), boundary={1: boundary}, nan_policy=nan_policy, **opts)
            try:
                check_axis(data.shape, 1, axis_coord, order, plan, "x")
            except ValueError:  # a boundary or policy the method cannot take: refused before computing
                continue
            want = derivative(data, {1: axis_coord}, {1: order}, plan)
            if want.dtype != np.float64 or want.shape != data.shape:
                _fail(name, "engine", f"{what}, boundary={boundary!r}: the engine gave {want.dtype} {want.shape}")
            # chunks of one point (a halo across several blocks), of seven, and uneven ones; the
            # lines in one or two chunks (more would only repeat the same blocks)
            for chunks in ((4, 1), (2, 7), (4, (n // 2, 1, n - n // 2 - 1))):
                lazy = da.from_array(data, chunks=chunks)
                got = np.asarray(derivative(lazy, {1: axis_coord}, {1: order}, plan).compute(scheduler="sync"))
                if not _close(got, want, rtol):
                    _fail(
                        name,
                        "chunked",
                        f"{what}, boundary={boundary!r}, nan_policy={nan_policy!r}: a dask "
                        f"array with chunks {lazy.chunks[1][:4]}... differs from the "
                        "in-memory result",
                    )
                counts["chunked"] += 1
