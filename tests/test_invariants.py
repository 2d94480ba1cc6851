"""Invariants of every operator, as a long notebook session exercises them (hypothesis).

Fields of 1 to 4 dims and of every dtype (booleans, integers, floats, complex, datetime64 and
timedelta64 values), on uniform, non-uniform, decreasing, integer and datetime coordinates, with
NaN (NaT) anywhere -- in either part of a complex value too --, every operator (partial, gradient,
laplacian, hessian, divergence, curl, jacobian, directional, advection, magnitude, along on
cartesian grids, DataArray and Dataset forms; the operators on small latitude/longitude grids, 1-D
and 2-D, in the earth and the grid frame), every option (accuracy, edge_order, the three boundary
kinds with period and fill_value, nan_policy, datetime_unit) and random dask chunkings down to one
point, read from memory or from a zarr store (``dask.array.from_zarr``, ``xr.open_zarr``), with each
halo source:

1. chunked = in memory: values, NaN pattern, dtype, dims, coords, attrs; the result's chunks are
   the input's;
2. numpy and xarray parity: ``fieldgrad.gradient`` is ``numpy.gradient`` bit for bit where numpy
   defines the result; ``partial(dim, accuracy=2, edge_order=e)`` is ``differentiate(dim, edge_order=e)``;
3. the input (values, coords, attrs, encoding) is never modified;
4. the dtype rule, and the declared dtype of a lazy result is the computed one;
5. linear exactness: first derivatives of a field linear in the coordinates are exact, second
   derivatives zero, the Laplacian and Hessian of a quadratic exact;
6. jit parity: ``jit="never"`` and ``jit="always"`` are bit-identical;
7. clear errors: an invalid value of a keyword is a ValueError or TypeError naming it, raised by the
   call itself;
8. no state leaks: a session of calls, with invalid calls, option changes and in-place edits of the
   fields interleaved, gives each valid call the result it gives alone.

Every case is drawn from a strategy (the references are independent: the in-memory result, numpy,
xarray, analytic values); the bugs the invariants found are pinned by the tests at the end, at their
smallest. The default run draws a few derandomized examples of each (the same examples on every
run); each property has a ``_full`` twin with more random examples under the slow marker
(``uv run pytest -m slow -n 0 tests/test_invariants.py``).
"""

from __future__ import annotations

import copy
import itertools
import math
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import dask.array as dsa
import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

import fieldgrad
from fieldgrad.conventions import result_dtype

# ---------------------------------------------------------------------------------------------
# profiles: a few derandomized examples in the default run, more random ones under `slow`

_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
QUICK = settings(deadline=None, derandomize=True, database=None, suppress_health_check=_HEALTH, print_blob=True)
FULL = settings(deadline=None, derandomize=False, suppress_health_check=_HEALTH, print_blob=True)


def quick_and_full(*strategies: Any, quick: int, full: int) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """``@given(*strategies)`` twice: ``quick`` derandomized examples in the default run and a twin
    ``<name>_full`` with ``full`` random examples under the slow marker."""

    def decorate(test: Callable[..., None]) -> Callable[..., None]:
        full_test = settings(FULL, max_examples=full)(given(*strategies)(test))
        test.__globals__[f"{test.__name__}_full"] = pytest.mark.slow(full_test)
        return settings(QUICK, max_examples=quick)(given(*strategies)(test))

    return decorate


# ---------------------------------------------------------------------------------------------
# fields

BOOL = ["bool"]
INTS = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]
FLOATS = ["float16", "float32", "float64"]
COMPLEX = ["complex64", "complex128"]
TIMES = ["datetime64[s]", "datetime64[ns]", "timedelta64[ms]", "timedelta64[s]"]
DTYPES = BOOL + INTS + FLOATS + COMPLEX + TIMES
SPACE = ("x", "y", "z", "w")
COORD_KINDS = ("none", "uniform", "nonuniform", "decreasing", "int", "datetime", "datetime-uniform")
OPERATORS = ("partial", "gradient", "laplacian", "hessian", "divergence", "curl", "jacobian", "directional")
OPERATORS += ("advection", "magnitude", "along")
VECTOR_OPERATORS = ("divergence", "curl", "jacobian", "magnitude")
TIME_UNITS = ("s", "ms", "m", "h")


def expected_dtype(dtype: np.dtype) -> np.dtype:
    """The contract's dtype rule (datetimes and timedeltas are counted in float64, as xarray does)."""
    return np.dtype(np.float64) if dtype.kind in "mM" else result_dtype(dtype)


def random_values(rng: np.random.Generator, shape: tuple[int, ...], dtype: np.dtype, nan: float) -> np.ndarray:
    """Random values of ``dtype``: a fraction ``nan`` of them NaN (NaT; either part of a complex value)."""
    kind = dtype.kind
    if kind == "b":
        return rng.random(shape) < 0.5
    if kind in "iu":
        info = np.iinfo(dtype)
        if rng.random() < 0.3:  # the whole range: differences that overflow the integer type
            return rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)
        lo = 0 if kind == "u" else -100
        return rng.integers(lo, 100, shape, endpoint=True).astype(dtype)
    if kind == "f":
        scale = 10.0 ** rng.integers(-3, 4)
        out = (rng.standard_normal(shape) * scale).astype(dtype)
        out[rng.random(shape) < nan] = np.nan
        return out
    if kind == "c":
        out = np.empty(shape, dtype)
        out.real = rng.standard_normal(shape)
        out.imag = rng.standard_normal(shape)
        out.real[rng.random(shape) < nan / 2] = np.nan
        out.imag[rng.random(shape) < nan / 2] = np.nan
        return out
    unit = np.datetime_data(dtype)[0]
    ticks = rng.integers(-(10**6), 10**6, shape)
    if kind == "M":
        out = (np.datetime64("2001-02-03T04:05:06", unit) + ticks.astype(f"m8[{unit}]")).astype(dtype)
    else:
        out = ticks.astype(dtype)
    out[rng.random(shape) < nan] = np.datetime64("NaT") if kind == "M" else np.timedelta64("NaT")
    return out


def coordinate(rng: np.random.Generator, n: int, kind: str) -> np.ndarray | None:
    if kind == "none":
        return None
    if kind == "uniform":
        return float(rng.choice([0.1, 0.5, 1.0, 3.0, -0.25])) * np.arange(n) + float(rng.uniform(-5, 5))
    if kind in ("nonuniform", "decreasing"):
        x = np.cumsum(rng.uniform(0.3, 2.0, n)) + float(rng.uniform(-5, 5))
        return x[::-1].copy() if kind == "decreasing" else x
    if kind == "int":
        return np.cumsum(rng.integers(1, 4, n)).astype(np.int64) * int(rng.choice([1, -1]))
    unit = str(rng.choice(["s", "ns"]))
    step = np.full(n, 3600) if kind == "datetime-uniform" else rng.integers(60, 7200, n)
    start = np.datetime64("2020-02-28T22:00:00", unit)
    return start + np.concatenate([[0], np.cumsum(step[1:])]).astype("m8[s]").astype(f"m8[{unit}]")


def positions(x: np.ndarray, unit: str | None = None) -> np.ndarray:
    """A coordinate's positions as the numbers fieldgrad counts (a datetime's in ``unit``, else its own)."""
    if x.dtype.kind == "M":
        return (x - x[0]) / np.timedelta64(1, unit or np.datetime_data(x.dtype)[0])
    return x.astype(np.float64)


def exactly_uniform(x: np.ndarray) -> bool:
    d = np.diff(x.astype(np.int64) if x.dtype.kind == "M" else x)
    return bool((d == d[0]).all()) if d.size else True


@dataclass
class Case:
    """One operator call: the (in-memory) field, the call, and how the field is chunked."""

    op: str
    field: xr.DataArray  # for the vector operators, the vector field
    dims: list[str]  # the dims differentiated along
    kw: dict[str, Any]  # derivative keywords and method options
    args: tuple[Any, ...] = ()
    own: dict[str, Any] = field(default_factory=dict)  # the operator's own keywords (order=...)
    flow: xr.DataArray | None = None  # advection's
    chunks: dict[str, tuple[int, ...]] = field(default_factory=dict)
    halo_source: str = "auto"
    storage: str = "memory"  # "memory", "from_zarr" or "open_zarr"
    dataset: bool = False  # the Dataset form of the call

    def __repr__(self) -> str:  # what hypothesis prints for a failing example
        f = self.field
        coords = {k: f"{v.dtype}{list(v.values[:3])}..." for k, v in f.coords.items()}
        return (
            f"Case(op={self.op!r}, dims={self.dims}, kw={self.kw}, args={self.args}, own={self.own}, "
            f"field={f.dtype}{dict(f.sizes)} coords={coords}, chunks={self.chunks}, "
            f"halo_source={self.halo_source!r}, storage={self.storage!r}, dataset={self.dataset})"
        )


def partition(draw: Any, n: int, most: int) -> tuple[int, ...]:
    """A random chunking of ``n`` points in at most ``most`` chunks (one-point chunks are likely)."""
    style = draw(st.sampled_from(["random", "ones", "whole", "even"]))
    if style == "ones" and n <= most:
        return (1,) * n
    if style == "random" and n > 1 and most > 1:
        cuts = sorted(draw(st.sets(st.integers(1, n - 1), max_size=min(n - 1, most - 1))))
        return tuple(b - a for a, b in itertools.pairwise([0, *cuts, n]))
    if style == "whole" or most <= 1:
        return (n,)
    size = draw(st.integers(max(1, math.ceil(n / most)), n))
    return tuple([size] * (n // size) + ([n % size] if n % size else []))


def regular(chunks: tuple[int, ...]) -> tuple[int, ...]:
    """A chunking zarr can store (every chunk the first's size, the last one smaller)."""
    n, size = sum(chunks), chunks[0]
    return tuple([size] * (n // size) + ([n % size] if n % size else []))


def chunkings(draw: Any, sizes: dict[str, int], budget: int) -> dict[str, tuple[int, ...]]:
    """One chunking per dim, at most ``budget`` blocks in all (the dims in a random order)."""
    out: dict[str, tuple[int, ...]] = {}
    left = budget
    for d in draw(st.permutations(list(sizes))):
        out[d] = partition(draw, sizes[d], max(1, left))
        left = max(1, left // len(out[d]))
    return {d: out[d] for d in sizes}


@st.composite
def cartesian_cases(
    draw: Any,
    ops: tuple[str, ...] = OPERATORS,
    dtypes: list[str] = DTYPES,
    max_ndim: int = 4,
    nan: bool = True,
    budget: int = 48,
) -> Case:
    op = draw(st.sampled_from(ops))
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    if op == "magnitude" and dtype.kind in "mM":
        dtype = np.dtype("float64")  # a norm of timestamps has no meaning
    if op == "curl":
        n_diff = draw(st.integers(2, 3))
    elif op == "partial":
        n_diff = draw(st.integers(1, 2))
    else:
        n_diff = draw(st.integers(1, 3))
    ndim = draw(st.integers(max(1, n_diff), max(max_ndim, n_diff)))
    names = list(SPACE[:ndim])
    diff = draw(st.permutations(names))[:n_diff]
    kinds = {
        d: draw(st.sampled_from(COORD_KINDS)) if d in diff else draw(st.sampled_from(["none", "uniform"]))
        for d in names
    }
    timed = [d for d in diff if kinds[d].startswith("datetime")]
    for d in timed[1:] if op != "along" else timed:
        kinds[d] = "nonuniform"  # one time axis at most (along() takes a path of numbers)
    timed = timed[:1] if op != "along" else []
    rename = dict.fromkeys(timed[:1], "time")
    own: dict[str, Any] = {}
    args: tuple[Any, ...] = ()
    # the derivative orders each differentiated dim sees
    if op == "partial":
        if n_diff == 1:
            orders = {diff[0]: draw(st.integers(1, 3))}
            own = {"order": orders[diff[0]]}
            args = (rename.get(diff[0], diff[0]),)
        else:
            orders = {diff[0]: draw(st.integers(1, 2)), diff[1]: 1}
            own, args = {}, ({rename.get(d, d): o for d, o in orders.items()},)
    elif op in ("laplacian", "hessian"):
        orders = dict.fromkeys(diff, 2)
    else:
        orders = dict.fromkeys(diff, 1)
    small = ndim >= 3 or n_diff >= 2
    accuracy = draw(st.sampled_from([2, 4] if small else [2, 4, 6, 8]))
    edge_order = draw(st.one_of(st.none(), st.integers(1, accuracy), st.integers(1, 8 if not small else 4)))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    extra = 10 if ndim == 1 else 5 if ndim == 2 else 2
    sizes = {}
    for d in names:
        if d in diff:
            need = orders[d] + max(accuracy, edge_order or 0) + 1
            sizes[d] = draw(st.integers(need, need + extra))
        else:
            sizes[d] = draw(st.integers(1, 3))
    # options
    boundary_kinds = {d: draw(st.sampled_from(["one-sided", "periodic", "fill"])) for d in diff}
    if len(set(boundary_kinds.values())) == 1 and draw(st.booleans()):
        boundary: Any = next(iter(boundary_kinds.values()))
    else:
        boundary = {rename.get(d, d): k for d, k in boundary_kinds.items()}
    datetime_unit = None
    if (timed or dtype.kind in "mM") and draw(st.booleans()):
        datetime_unit = draw(st.sampled_from(TIME_UNITS))
    coords: dict[str, Any] = {}
    period: dict[str, float] = {}
    for d in names:
        x = coordinate(rng, sizes[d], kinds[d])
        if x is None:
            continue
        coords[rename.get(d, d)] = x
        if d in diff and boundary_kinds[d] == "periodic" and (not exactly_uniform(x) or draw(st.booleans())):
            if x.dtype.kind == "M" and datetime_unit is None:
                # a period counts the datetime_unit (default: the coordinate's resolution, which a
                # zarr store may change: s -> ns)
                datetime_unit = np.datetime_data(x.dtype)[0]
            p = positions(x, datetime_unit)
            span, step = float(abs(p[-1] - p[0])), float(np.abs(np.diff(p)).max())
            period[rename.get(d, d)] = span + step * draw(st.sampled_from([0.5, 1.0, 1.5]))
    kw: dict[str, Any] = {"accuracy": accuracy}
    if edge_order is not None:
        kw["edge_order"] = edge_order
    if boundary != "one-sided" or draw(st.booleans()):
        kw["boundary"] = boundary
    if period:
        periodic = [d for d, k in boundary_kinds.items() if k == "periodic"]
        one = len(period) == 1 and len(periodic) == 1  # one number for every dim: for the periodic one only
        only = next(iter(period.values())) if one and draw(st.booleans()) else None
        kw["period"] = only if only is not None else period
    if "fill" in boundary_kinds.values():
        fills: list[Any] = [np.nan, 0.0, -7.5, 3, np.inf]
        if dtype.kind == "c":
            fills += [1 - 2j, complex(np.nan, 1.0)]
        kw["fill_value"] = draw(st.sampled_from(fills))
    kw["nan_policy"] = draw(st.sampled_from(["propagate", "omit"]))
    if datetime_unit is not None:
        kw["datetime_unit"] = datetime_unit
    nan_fraction = draw(st.sampled_from([0.0, 0.0, 0.05, 0.3])) if nan else 0.0
    dims = [rename.get(d, d) for d in names]
    diff_dims = [rename.get(d, d) for d in diff]
    shape = tuple(sizes[d] for d in names)

    def make(values: np.ndarray, name: str) -> xr.DataArray:
        attrs = {"note": "kept"} if values.dtype.kind in "mM" else {"units": "K", "note": "kept"}
        return xr.DataArray(values, dims=dims, coords=coords, name=name, attrs=attrs)

    flow = None
    if op in VECTOR_OPERATORS:
        labels = draw(st.permutations(diff_dims))
        comps = [make(random_values(rng, shape, dtype, nan_fraction), "F") for _ in labels]
        where = draw(st.integers(0, ndim))
        f = xr.concat(comps, "component").assign_coords(component=list(labels))
        f = f.transpose(*dims[:where], "component", *dims[where:])
        f.attrs = {} if dtype.kind in "mM" else {"units": "m s-1"}
    else:
        f = make(random_values(rng, shape, dtype, nan_fraction), "T")
    if op in ("gradient", "laplacian", "hessian"):
        args = (diff_dims,)
    elif op == "jacobian" and draw(st.booleans()):
        args = (diff_dims,)
    elif op == "directional":
        weights = draw(st.lists(st.sampled_from([1.0, -2.0, 0.5, 3]), min_size=len(diff_dims), max_size=len(diff_dims)))
        args = (dict(zip(diff_dims, weights, strict=True)),)
    elif op == "along":  # a path of 2-4 points inside the grid, through every differentiated dim
        npts = draw(st.integers(2, 4))
        path = {}
        for d in diff_dims:
            x = coords[d] if d in coords else np.arange(sizes[d], dtype=float)
            path[d] = rng.uniform(float(np.min(x)), float(np.max(x)), npts)
        args = (path,)
        if draw(st.booleans()):
            own = {"interp": draw(st.sampled_from(["linear", "nearest"]))}
    elif op == "advection":
        labels = draw(st.permutations(diff_dims))
        u = [make(rng.standard_normal(shape), "u") for _ in labels]
        flow = xr.concat(u, "component").assign_coords(component=list(labels))
        flow.attrs = {"units": "m s-1"}
    if op == "magnitude":
        kw = {}
    sizes_by_name = {rename.get(d, d): n for d, n in sizes.items()}
    chunks = chunkings(draw, sizes_by_name, budget)
    storage = draw(st.sampled_from(["memory", "memory", "from_zarr", "open_zarr"]))
    if storage == "from_zarr" and op in VECTOR_OPERATORS:
        storage = "open_zarr"
    return Case(
        op=op,
        field=f,
        dims=diff_dims,
        kw=kw,
        args=args,
        own=own if op in ("partial", "along") else {},
        flow=flow,
        chunks=chunks,
        halo_source=draw(st.sampled_from(["auto", "neighbours", "reread"])),
        storage=storage,
        dataset=op not in VECTOR_OPERATORS and op != "advection" and draw(st.integers(0, 3)) == 0,
    )


@st.composite
def sphere_cases(draw: Any, budget: int = 24) -> Case:
    """A small latitude/longitude grid: 1-D coordinates (poles and a whole circle of longitude now and
    then) or 2-D ones lat(j, i), lon(j, i) of a rotated grid (vectors in the earth or the grid's frame)."""
    ops = ["partial", "gradient", "laplacian", "hessian", "divergence", "curl", "jacobian", "advection", "directional"]
    op = draw(st.sampled_from(ops))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    curvilinear = draw(st.integers(0, 2)) == 0
    kw: dict[str, Any] = {"geometry": "sphere", "accuracy": draw(st.sampled_from([2, 4]))}
    if curvilinear:
        nj, ni = draw(st.integers(6, 10)), draw(st.integers(6, 10))
        j, i = np.meshgrid(np.arange(float(nj)), np.arange(float(ni)), indexing="ij")
        tilt = draw(st.sampled_from([0.1, 0.5, -0.7]))
        lat = float(rng.uniform(-60, 20)) + 4.0 * j + tilt * i
        lon = float(rng.uniform(0, 300)) + 5.0 * i + tilt * j
        plane = ["j", "i"]
        coords: dict[str, Any] = {
            "lat": (("j", "i"), lat, {"units": "degrees_north"}),
            "lon": (("j", "i"), lon, {"units": "degrees_east"}),
        }
        sizes = {"j": nj, "i": ni}
        frame = draw(st.sampled_from(["earth", "grid"]))
        if frame == "grid" or draw(st.booleans()):
            kw["frame"] = frame
        labels = plane if frame == "grid" else ["lat", "lon"]
    else:
        nlat, nlon = draw(st.integers(6, 11)), draw(st.integers(8, 14))
        if draw(st.booleans()):
            lat1 = np.linspace(-90, 90, nlat)
        else:
            lat1 = np.unique(np.round(np.sort(rng.uniform(-80, 80, nlat)), 3))
            nlat = lat1.size
        lon1 = np.arange(nlon) * (360.0 / nlon) if draw(st.booleans()) else np.linspace(10.0, 100.0, nlon)
        if draw(st.booleans()):
            lat1 = lat1[::-1].copy()
        plane = ["lat", "lon"]
        coords = {"lat": ("lat", lat1, {"units": "degrees_north"}), "lon": ("lon", lon1, {"units": "degrees_east"})}
        sizes = {"lat": nlat, "lon": nlon}
        labels = ["lat", "lon"]
    dims = list(plane)
    extra = draw(st.integers(0, 2))
    if extra:
        dims = draw(st.permutations([*plane, "level"]))
        coords["level"] = ("level", np.arange(extra) * 100.0)
        sizes["level"] = extra
    shape = tuple(sizes[d] for d in dims)
    dtype = np.dtype(draw(st.sampled_from(["float64", "float32", "complex128", "int32", "float16"])))
    nan = draw(st.sampled_from([0.0, 0.0, 0.05]))

    def make(values: np.ndarray, name: str, units: str) -> xr.DataArray:
        return xr.DataArray(values, dims=dims, coords=coords, name=name, attrs={"units": units})

    if draw(st.booleans()):
        kw["radius"] = draw(st.sampled_from([6.371e6, 1.0, 3389.5e3]))
    kw["nan_policy"] = draw(st.sampled_from(["propagate", "omit"]))
    if draw(st.booleans()):
        kw["edge_order"] = draw(st.integers(1, kw["accuracy"]))
    args: tuple[Any, ...] = ()
    flow = None
    if op in ("divergence", "curl", "jacobian"):
        order = draw(st.permutations(labels))
        f = xr.concat([make(random_values(rng, shape, dtype, nan), "u", "m s-1") for _ in order], "component")
        f = f.assign_coords(component=list(order))
    else:
        f = make(random_values(rng, shape, dtype, nan), "T", "K")
    if op == "partial":  # a direction of the frame
        args = (draw(st.sampled_from(labels)),)
    elif op == "directional":
        args = ({labels[0]: float(draw(st.sampled_from([1.0, -2.0]))), labels[1]: 1.0},)
    elif op == "advection":
        order = draw(st.permutations(labels))
        flow = xr.concat([make(rng.standard_normal(shape), "u", "m s-1") for _ in order], "component")
        flow = flow.assign_coords(component=list(order))
    chunks = chunkings(draw, {d: sizes[d] for d in dims}, budget)
    return Case(
        op=op,
        field=f,
        dims=list(plane),
        kw=kw,
        args=args,
        flow=flow,
        chunks=chunks,
        halo_source=draw(st.sampled_from(["auto", "neighbours", "reread"])),
        storage=draw(st.sampled_from(["memory", "memory", "open_zarr"])),
    )


# ---------------------------------------------------------------------------------------------
# running a case


def apply(case: Case, obj: xr.DataArray | xr.Dataset, flow: xr.DataArray | None = None, **extra: Any) -> Any:
    """The case's call on ``obj`` (its field, chunked or not; a Dataset for the Dataset form)."""
    kw = {**case.kw, **extra}
    method = getattr(obj.grad, case.op)
    if case.op == "advection":
        return method(case.flow if flow is None else flow, **kw)
    return method(*case.args, **case.own, **kw)


def as_dataset(case: Case, da: xr.DataArray) -> xr.Dataset:
    """The field in a Dataset beside a variable without its dims (kept unchanged by the operators)."""
    return xr.Dataset({"T": da, "other": ("other_dim", np.arange(3.0), {"units": "1"})}, attrs={"title": "t"})


@contextmanager
def storage_dir() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="fieldgrad-invariants-") as d:
        yield d


def chunked(case: Case, da: xr.DataArray, where: str) -> xr.DataArray:
    """``da`` as a dask-backed DataArray chunked as the case says, read from memory or a zarr store."""
    chunks = {d: c for d, c in case.chunks.items() if d in da.dims}
    full = {d: chunks.get(d, (da.sizes[d],)) for d in da.dims}
    if case.storage == "from_zarr":
        import zarr

        path = os.path.join(where, "raw.zarr")
        z = zarr.create_array(store=path, shape=da.shape, dtype=da.dtype, chunks=tuple(max(c) for c in full.values()))
        z[...] = da.values
        lazy = dsa.from_zarr(path, chunks=tuple(full.values()))
        return da.copy(data=lazy)
    if case.storage == "open_zarr":
        path = os.path.join(where, "ds.zarr")
        stored = da.chunk({d: regular(c) for d, c in full.items()})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # zarr's notes on string coordinates and consolidation
            stored.to_dataset(name="f").to_zarr(path, mode="w", consolidated=False)
            opened = xr.open_zarr(path, consolidated=False)["f"]
        opened.name = da.name
        return opened
    return da.chunk(full)


def loaded(da: xr.DataArray) -> xr.DataArray:
    """An in-memory copy of a (lazy) field: values, coords, attrs; no encoding."""
    out = da.copy(deep=True).compute()
    out.encoding = {}
    return out


# ---------------------------------------------------------------------------------------------
# comparing results


def nan_pattern(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind == "c":
        return np.stack([np.isnan(values.real), np.isnan(values.imag)])
    if values.dtype.kind in "mM":
        return np.isnat(values)
    return np.isnan(values) if values.dtype.kind == "f" else np.zeros(values.shape, bool)


def assert_values_close(actual: np.ndarray, expected: np.ndarray, rtol: float, what: str = "") -> None:
    """Same dtype and NaN (per part) pattern; infinities in place; finite values within ``rtol`` of
    the largest finite value."""
    assert actual.dtype == expected.dtype, (what, actual.dtype, expected.dtype)
    assert actual.shape == expected.shape, (what, actual.shape, expected.shape)
    np.testing.assert_array_equal(nan_pattern(actual), nan_pattern(expected), err_msg=f"NaN pattern {what}")
    parts = (
        [(actual.real, expected.real), (actual.imag, expected.imag)]
        if expected.dtype.kind == "c"
        else [(actual, expected)]
    )
    for a, e in parts:
        if e.dtype.kind not in "fc":
            np.testing.assert_array_equal(a, e, err_msg=what)
            continue
        inf = np.isinf(e)
        np.testing.assert_array_equal(a[inf], e[inf], err_msg=f"infinities {what}")
        finite = np.isfinite(e)
        assert np.isfinite(a[finite]).all(), f"non-finite values where the reference is finite {what}"
        if finite.any():
            scale = float(np.max(np.abs(e[finite])))
            np.testing.assert_allclose(a[finite], e[finite], rtol=0, atol=rtol * max(scale, 1e-300), err_msg=what)


def tolerance(dtype: np.dtype) -> float:
    return 1e-12 if dtype in (np.float64, np.complex128) else 2e-6


def assert_same_result(actual: Any, expected: Any, rtol: float | None = None) -> None:
    """Same structure (dims, coords, name, attrs, dtype) and values (see :func:`assert_values_close`)."""
    if isinstance(expected, xr.Dataset):
        assert isinstance(actual, xr.Dataset)
        assert list(actual.data_vars) == list(expected.data_vars)
        assert actual.attrs == expected.attrs
        for name in expected.data_vars:
            assert_same_result(actual[name], expected[name], rtol)
        return
    assert isinstance(actual, xr.DataArray) and isinstance(expected, xr.DataArray)
    assert actual.dims == expected.dims
    assert actual.name == expected.name
    assert actual.attrs == expected.attrs
    assert set(actual.coords) == set(expected.coords)
    for k in expected.coords:
        a, e = actual.coords[k], expected.coords[k]
        assert a.dims == e.dims and a.attrs == e.attrs, k
        np.testing.assert_array_equal(np.asarray(a.values), np.asarray(e.values), err_msg=str(k))
    a_values, e_values = np.asarray(actual.values), np.asarray(expected.values)
    assert_values_close(a_values, e_values, tolerance(e_values.dtype) if rtol is None else rtol, str(actual.name))


def assert_bit_identical(actual: Any, expected: Any) -> None:
    """Identical labels, and the same bytes (NaN payloads aside: any NaN is a NaN)."""
    if isinstance(expected, xr.Dataset):
        for name in expected.data_vars:
            assert_bit_identical(actual[name], expected[name])
        xr.testing.assert_identical(actual, expected)
        return
    xr.testing.assert_identical(actual, expected)
    a, e = np.asarray(actual.values), np.asarray(expected.values)
    assert a.dtype == e.dtype
    pattern_a, pattern_e = nan_pattern(a), nan_pattern(e)
    np.testing.assert_array_equal(pattern_a, pattern_e)
    if e.dtype.kind == "c":
        a, e = np.stack([a.real, a.imag]), np.stack([e.real, e.imag])
    if e.dtype.kind == "f":
        a, e = np.where(np.isnan(a), 0, a), np.where(np.isnan(e), 0, e)
    assert a.tobytes() == e.tobytes(), "not bit-identical"


def data_of(result: Any) -> list[Any]:
    if isinstance(result, xr.Dataset):
        return [v.data for v in result.data_vars.values() if "other_dim" not in v.dims]
    return [result.data]


def no_warnings(case: Case) -> None:
    """Inside ``warnings.catch_warnings()``: a RuntimeWarning (an overflow, an invalid value) is an error,
    except inf - inf where the call asked for an infinite fill value."""
    warnings.simplefilter("error", RuntimeWarning)
    fill = case.kw.get("fill_value")
    if isinstance(fill, (float, complex)) and np.isinf(fill):
        warnings.filterwarnings("ignore", "invalid value encountered", RuntimeWarning)


# ---------------------------------------------------------------------------------------------
# 1. chunked == in memory, for every operator


def check_chunked_equals_in_memory(case: Case) -> None:
    note(repr(case))
    with storage_dir() as where:
        lazy = chunked(case, case.field, where)
        memory = loaded(lazy)  # what the store holds, in memory (the same dtype and values)
        flow = (
            case.flow.chunk({d: c for d, c in case.chunks.items() if d in case.flow.dims})
            if case.flow is not None
            else None
        )
        obj_lazy: Any = as_dataset(case, lazy) if case.dataset else lazy
        obj_memory: Any = as_dataset(case, memory) if case.dataset else memory
        with warnings.catch_warnings():
            no_warnings(case)
            expected = apply(case, obj_memory)  # every case is a valid call
            with fieldgrad.set_options(halo_source=case.halo_source):
                actual = apply(case, obj_lazy, flow=flow)
            for data in data_of(expected):
                assert isinstance(data, np.ndarray), type(data)  # numpy in, numpy out
            for data in data_of(actual):
                assert isinstance(data, dsa.Array), type(data)  # dask in, lazy dask out
            for name, var in actual.data_vars.items() if isinstance(actual, xr.Dataset) else [(None, actual)]:
                if name == "other":
                    continue
                for d in case.field.dims:  # the input's chunks along every dim the result keeps
                    if d in var.dims and d != "component":
                        assert var.chunksizes[d] == lazy.chunksizes[d], (d, var.chunksizes[d], lazy.chunksizes[d])
            declared = [d.dtype for d in data_of(actual)]
            with fieldgrad.set_options(halo_source=case.halo_source):
                computed = actual.compute()
        assert [d.dtype for d in data_of(computed)] == declared  # the declared dtype is the computed one
        assert_same_result(computed, expected)


@quick_and_full(cartesian_cases(), quick=36, full=400)
def test_chunked_equals_in_memory(case: Case) -> None:
    check_chunked_equals_in_memory(case)


@quick_and_full(sphere_cases(), quick=8, full=120)
def test_chunked_equals_in_memory_on_the_sphere(case: Case) -> None:
    check_chunked_equals_in_memory(case)


def test_reread_halos_of_an_array_sliced_in_memory() -> None:
    """dask's own ``clone`` leaves the Task values of a getitem layer pointing at the original keys
    (dask/dask#12455: 'Cannot fuse tasks with multiple outputs'); the second read fieldgrad builds
    renames every node."""
    F = xr.DataArray(np.arange(32.0).reshape(2, 2, 8), dims=("c", "y", "x"), coords={"x": np.linspace(0, 1, 8)})
    u = F.chunk({"x": 1}).isel(c=0) * 2
    expected = (F.isel(c=0) * 2).grad.partial("x", nan_policy="omit")
    with fieldgrad.set_options(halo_source="reread"):
        actual = u.grad.partial("x", nan_policy="omit").compute()
    assert_same_result(actual, expected)


def test_the_cases_cover_every_operator_dtype_coordinate_and_option() -> None:
    """The strategy itself: in a few hundred draws it gives every operator, kind of dtype, coordinate kind,
    boundary kind, NaN policy, halo source, storage and chunking style (one-point chunks included)."""
    seen: dict[str, set[Any]] = {k: set() for k in ("op", "dtype", "coord", "boundary", "nan", "halo", "storage")}
    seen["ones"], seen["ndim"], seen["accuracy"] = set(), set(), set()

    @settings(max_examples=300, deadline=None, derandomize=True, database=None, suppress_health_check=_HEALTH)
    @given(cartesian_cases())
    def collect(case: Case) -> None:
        f = case.field
        seen["op"].add(case.op)
        seen["dtype"].add(str(f.dtype))
        for d in case.dims:
            x = f.coords[d].values if d in f.coords else None
            seen["coord"].add(
                "none"
                if x is None
                else "datetime"
                if x.dtype.kind == "M"
                else "int"
                if x.dtype.kind == "i"
                else "decreasing"
                if x[-1] < x[0]
                else "increasing"
            )
        b = case.kw.get("boundary", "one-sided")
        seen["boundary"].update(b.values() if isinstance(b, dict) else [b])
        seen["nan"].add(case.kw.get("nan_policy"))
        seen["halo"].add(case.halo_source)
        seen["storage"].add(case.storage)
        seen["ones"].add(any(set(c) == {1} and len(c) > 1 for c in case.chunks.values()))
        seen["ndim"].add(f.ndim - ("component" in f.dims))
        seen["accuracy"].add(case.kw.get("accuracy"))

    collect()
    assert seen["op"] == set(OPERATORS)
    assert {np.dtype(d).kind for d in seen["dtype"]} == set("biufcMm") and len(seen["dtype"]) >= 12
    assert seen["coord"] == {"none", "datetime", "int", "decreasing", "increasing"}
    assert seen["boundary"] == {"one-sided", "periodic", "fill"}
    assert seen["nan"] >= {"propagate", "omit"}
    assert seen["halo"] == {"auto", "neighbours", "reread"}
    assert seen["storage"] == {"memory", "from_zarr", "open_zarr"}
    assert True in seen["ones"] and seen["ndim"] == {1, 2, 3, 4} and seen["accuracy"] >= {2, 4, 6, 8}


# ---------------------------------------------------------------------------------------------
# 2. numpy and xarray parity


def spacing_of(draw: Any, rng: np.random.Generator, n: int) -> Any:
    """One axis's spacing as numpy.gradient takes it: a scalar or a 1-D coordinate of any kind."""
    kind = draw(
        st.sampled_from(["float", "int", "np.float64", "uniform", "linspace", "nonuniform", "decreasing", "ints"])
    )
    if kind == "float":
        return float(draw(st.sampled_from([0.5, 1.0, 0.1, 3.0, -2.0])))
    if kind == "int":
        return draw(st.sampled_from([1, 2, 3]))
    if kind == "np.float64":
        return np.float64(draw(st.sampled_from([0.25, 0.3, 7.0])))
    if kind == "uniform":
        return np.arange(n) * 0.5 + 1.0
    if kind == "linspace":  # uniform to round-off only: numpy takes its non-uniform formula
        return np.linspace(0.0, 1.0, n)
    if kind == "ints":
        return np.cumsum(rng.integers(1, 4, n))
    x = np.cumsum(rng.uniform(0.3, 2.0, n))
    return x[::-1].copy() if kind == "decreasing" else x


@st.composite
def numpy_problems(draw: Any, dtypes: list[str] = ["float64", *INTS]) -> tuple[np.ndarray, tuple, dict, np.ndarray]:  # noqa: B006
    edge_order = draw(st.sampled_from([1, 2]))
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.integers(edge_order + 1, 9 if ndim < 3 else 5)) for _ in range(ndim))
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    f = random_values(rng, shape, dtype, draw(st.sampled_from([0.0, 0.1])))
    if dtype.kind == "f" and draw(st.booleans()):
        f[rng.random(shape) < 0.05] = draw(st.sampled_from([np.inf, -np.inf]))
    style = draw(st.sampled_from(["all", "int", "negative", "tuple"]))
    axis: Any = None
    if style == "int":
        axis = draw(st.integers(0, ndim - 1))
    elif style == "negative":
        axis = -draw(st.integers(1, ndim))
    elif style == "tuple":
        axis = tuple(draw(st.permutations(range(ndim)))[: draw(st.integers(1, ndim))])
    axes = list(range(ndim)) if axis is None else [axis % ndim] if isinstance(axis, int) else list(axis)
    how = draw(st.sampled_from(["none", "one", "each"]))
    if how == "none":
        spacing: tuple[Any, ...] = ()
    elif how == "one":
        spacing = (draw(st.sampled_from([0.5, 2, np.float64(0.1), -1.5])),)
    else:
        spacing = tuple(spacing_of(draw, rng, shape[a]) for a in axes)
    kw = {"edge_order": edge_order} if edge_order == 2 or draw(st.booleans()) else {}
    if axis is not None:
        kw["axis"] = axis
    chunks = tuple(partition(draw, n, 8) for n in shape)
    return f, spacing, kw, chunks


def as_list(result: Any) -> list[Any]:
    return list(result) if isinstance(result, (tuple, list)) else [result]


def assert_bitwise(actual: np.ndarray, expected: np.ndarray) -> None:
    """The same dtype, NaN (NaT) positions and bytes everywhere else."""
    assert type(actual) is type(expected) and actual.dtype == expected.dtype and actual.shape == expected.shape
    nan = nan_pattern(expected)
    np.testing.assert_array_equal(nan_pattern(actual), nan)
    a, e = actual.copy(), expected.copy()
    if e.dtype.kind == "f":
        a[nan], e[nan] = 0, 0
    if e.dtype.kind == "m":
        a[nan], e[nan] = np.timedelta64(0), np.timedelta64(0)
    assert a.tobytes() == e.tobytes(), f"not bit for bit: {actual} != {expected}"


@quick_and_full(numpy_problems(), quick=12, full=300)
def test_numpy_gradient_parity(problem: Any) -> None:
    """``fieldgrad.gradient`` is ``numpy.gradient`` bit for bit (float64 and integer fields, scalar and
    array spacings, edge_order 1 and 2, NaN and inf; with either kernel); a dask array gives a lazy result of numpy's
    values (1e-12) with its chunks; the inputs are left as they were."""
    f, spacing, kw, chunks = problem
    note(f"f={f!r}, spacing={spacing!r}, kw={kw!r}, chunks={chunks}")
    before = copy.deepcopy((f, spacing))
    with np.errstate(all="ignore"):  # inf - inf, as numpy computes it
        expected = np.gradient(f, *spacing, **kw)
        for jit in ("auto", "never", "always"):  # the numpy kernel and the compiled one: the same bits
            with fieldgrad.set_options(jit=jit):
                actual = fieldgrad.gradient(f, *spacing, **kw)
            assert type(actual) is type(expected)
            for a, e in zip(as_list(actual), as_list(expected), strict=True):
                assert_bitwise(a, e)
        lazy = fieldgrad.gradient(dsa.from_array(f, chunks=chunks), *spacing, **kw)
        assert isinstance(lazy, tuple) == isinstance(expected, tuple)
        for a, e in zip(as_list(lazy), as_list(expected), strict=True):
            assert isinstance(a, dsa.Array) and a.chunks == chunks and a.dtype == e.dtype
            assert_values_close(a.compute(), e, 1e-12)
    assert_bitwise(f, before[0])
    for s, b in zip(spacing, before[1], strict=True):
        np.testing.assert_array_equal(s, b)


@st.composite
def datetime_problems(draw: Any) -> tuple[np.ndarray, tuple, dict]:
    edge_order = draw(st.sampled_from([1, 2]))
    ndim = draw(st.integers(1, 2))
    shape = tuple(draw(st.integers(edge_order + 1, 9)) for _ in range(ndim))
    dtype = np.dtype(draw(st.sampled_from(["datetime64[s]", "datetime64[ms]", "datetime64[D]", "timedelta64[s]"])))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    f = random_values(rng, shape, dtype, draw(st.sampled_from([0.0, 0.1, 0.4])))
    how = draw(st.sampled_from(["none", "one", "each"]))
    spacing: tuple[Any, ...] = ()
    if how == "one":
        spacing = (draw(st.sampled_from([0.5, 2, 3.0])),)
    elif how == "each":
        spacing = tuple(spacing_of(draw, rng, n) for n in shape)
    return f, spacing, {"edge_order": edge_order}


@quick_and_full(datetime_problems(), quick=6, full=150)
def test_numpy_gradient_parity_on_datetimes(problem: Any) -> None:
    """datetime64 and timedelta64 values: numpy's timedelta64 dtype and NaT pattern; numpy's values
    where it truncates once (uniform steps, edge_order=1), else within the 3 units its truncation
    of every product can lose (fieldgrad computes in float64 and truncates once)."""
    f, spacing, kw = problem
    note(f"f={f!r}, spacing={spacing!r}, kw={kw!r}")
    expected = as_list(np.gradient(f, *spacing, **kw))
    actual = as_list(fieldgrad.gradient(f, *spacing, **kw))
    lazy = as_list(fieldgrad.gradient(dsa.from_array(f, chunks=2), *spacing, **kw))
    for k, (a, lz, e) in enumerate(zip(actual, lazy, expected, strict=True)):
        assert a.dtype == e.dtype == lz.dtype and isinstance(lz, dsa.Array)
        np.testing.assert_array_equal(np.isnat(a), np.isnat(e))
        np.testing.assert_array_equal(lz.compute().view(np.int64), a.view(np.int64))
        valid = ~np.isnat(e)
        steps = spacing[k] if len(spacing) == f.ndim else spacing[0] if spacing else 1.0
        uniform = np.ndim(steps) == 0 or exactly_uniform(np.asarray(steps))
        worst = np.abs(a[valid].view(np.int64) - e[valid].view(np.int64)).max(initial=0)
        assert worst <= (0 if uniform and kw["edge_order"] == 1 else 3), worst


XR_KINDS = ("uniform", "nonuniform", "decreasing", "int", "datetime", "datetime-uniform")


@st.composite
def xarray_problems(draw: Any) -> tuple[Any, str, int, str | None]:
    edge_order = draw(st.sampled_from([1, 2]))
    ndim = draw(st.integers(1, 3))
    dims = list(SPACE[:ndim])
    dim = draw(st.sampled_from(dims))
    kind = draw(st.sampled_from(XR_KINDS))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    sizes = {d: draw(st.integers(edge_order + 2, 12)) if d == dim else draw(st.integers(1, 4)) for d in dims}
    x = coordinate(rng, sizes[dim], kind)
    name = "time" if kind.startswith("datetime") else dim
    dims = [name if d == dim else d for d in dims]
    dtype = np.dtype(
        draw(st.sampled_from(["float64", "complex128", "int16", "uint8", "int64"]))
    )  # numpy cannot subtract booleans
    values = random_values(rng, tuple(sizes.values()), dtype, draw(st.sampled_from([0.0, 0.1])))
    da = xr.DataArray(values, dims=dims, coords={name: x}, name="T")
    unit = draw(st.sampled_from([None, "s", "h"])) if kind.startswith("datetime") else None
    obj: Any = da
    if draw(st.booleans()):
        obj = xr.Dataset({"T": da, "U": da * 2, "c": ("other", np.arange(3.0))})
    return obj, name, edge_order, unit


@quick_and_full(xarray_problems(), quick=10, full=300)
def test_xarray_parity(problem: Any) -> None:
    """``partial(dim, accuracy=2, edge_order=e)`` is ``differentiate(dim, edge_order=e)`` to 1e-12:
    values, NaN pattern, dims and coordinates; the Dataset forms too."""
    obj, dim, edge_order, unit = problem
    note(f"{obj!r}, dim={dim}, edge_order={edge_order}, unit={unit}")
    kw = {"datetime_unit": unit} if unit else {}
    expected = obj.differentiate(dim, edge_order=edge_order, **kw)
    actual = obj.grad.partial(dim, accuracy=2, edge_order=edge_order, **kw)
    pairs = (
        [(actual[v], expected[v]) for v in expected.data_vars] if isinstance(obj, xr.Dataset) else [(actual, expected)]
    )
    for a, e in pairs:
        assert a.dims == e.dims
        xr.testing.assert_identical(a.coords.to_dataset(), e.coords.to_dataset())
        assert_values_close(np.asarray(a.values), np.asarray(e.values), 1e-12, str(a.name))


# ---------------------------------------------------------------------------------------------
# 3. the input is never modified


def snapshot(obj: Any) -> Any:
    """What must not change: a deep copy (encoding included) and the write flags of the numpy buffers."""
    variables = obj.variables if isinstance(obj, xr.Dataset) else {**obj.coords.variables, None: obj.variable}
    flags = {k: v._data.flags.writeable for k, v in variables.items() if isinstance(v._data, np.ndarray)}
    return obj.copy(deep=True), {k: dict(v.encoding) for k, v in variables.items()}, flags


def assert_unchanged(obj: Any, before: Any) -> None:
    copied, encodings, flags = before
    now = snapshot(obj)
    xr.testing.assert_identical(obj, copied)
    assert obj.name == copied.name if isinstance(obj, xr.DataArray) else obj.attrs == copied.attrs
    if isinstance(obj, xr.DataArray):
        assert_bitwise(np.asarray(obj.values), np.asarray(copied.values))
        for k in obj.coords:
            assert_bitwise(np.asarray(obj[k].values), np.asarray(copied[k].values))
    else:
        for k in obj.variables:
            assert_bitwise(np.asarray(obj[k].values), np.asarray(copied[k].values))
    assert now[1] == encodings, "encoding changed"
    assert now[2] == flags, "the write flags of the input's arrays changed"


def check_input_unchanged(case: Case) -> None:
    note(repr(case))
    with storage_dir() as where:
        lazy = chunked(case, case.field, where)
        memory = case.field if case.storage == "memory" else loaded(lazy)
        flow = case.flow
        lazy_flow = flow.chunk({d: c for d, c in case.chunks.items() if d in flow.dims}) if flow is not None else None
        inputs: list[Any] = [
            as_dataset(case, memory) if case.dataset else memory,
            as_dataset(case, lazy) if case.dataset else lazy,
        ]
        before = [snapshot(x) for x in (*inputs, *([flow, lazy_flow] if flow is not None else []))]
        with warnings.catch_warnings():
            no_warnings(case)
            apply(case, inputs[0], flow=flow)
            with fieldgrad.set_options(halo_source=case.halo_source):
                result = apply(case, inputs[1], flow=lazy_flow)
                result.compute()
        for obj, b in zip((*inputs, *([flow, lazy_flow] if flow is not None else [])), before, strict=True):
            assert_unchanged(obj, b)


@quick_and_full(cartesian_cases(budget=16), quick=12, full=200)
def test_input_unchanged(case: Case) -> None:
    check_input_unchanged(case)


@quick_and_full(sphere_cases(budget=8), quick=3, full=60)
def test_input_unchanged_on_the_sphere(case: Case) -> None:
    check_input_unchanged(case)


# ---------------------------------------------------------------------------------------------
# 4. the dtype rule


@quick_and_full(cartesian_cases(nan=False, budget=8), st.booleans(), quick=12, full=300)
def test_dtype_rule(case: Case, chunk: bool) -> None:
    """Integers and booleans give float64, float16 and float32 float32, float64 float64, complex stays,
    datetimes and timedeltas float64 (counted in a unit of time); numpy in, numpy out; dask in, lazy
    dask out whose declared dtype (and meta) is the computed one."""
    note(repr(case))
    field = case.field
    obj: Any = field.chunk(case.chunks) if chunk else field
    flow = case.flow.chunk(case.chunks) if chunk and case.flow is not None else case.flow
    with warnings.catch_warnings():
        no_warnings(case)
        out = apply(case, obj, flow=flow)
        computed = out.compute() if chunk else out
    # the field's rule (advection: the field's, its flow taken in that precision); a magnitude is the real
    # dtype of the rule's (|F| of a complex64 field: float32)
    want = expected_dtype(field.dtype)
    if case.op == "magnitude":
        want = np.zeros(0, want).real.dtype
    assert out.dtype == want, (out.dtype, want)
    assert computed.dtype == want
    assert isinstance(out.data, dsa.Array) == chunk
    if chunk:
        assert out.data._meta.dtype == want
        assert isinstance(computed.data, np.ndarray)


@quick_and_full(sphere_cases(budget=8), st.booleans(), quick=4, full=100)
def test_dtype_rule_on_the_sphere(case: Case, chunk: bool) -> None:
    note(repr(case))
    obj = case.field.chunk(case.chunks) if chunk else case.field
    out = apply(case, obj)
    want = expected_dtype(case.field.dtype)
    assert out.dtype == want
    assert out.compute().dtype == want
    if chunk:
        assert out.data._meta.dtype == want


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("chunk", [False, True])
def test_numpy_compat_dtype_is_numpys(dtype: str, chunk: bool) -> None:
    """``fieldgrad.gradient`` gives numpy.gradient's dtype (float16 stays, datetimes give timedelta64),
    except for booleans, which numpy cannot subtract (fieldgrad: float64)."""
    f = random_values(np.random.default_rng(0), (6, 5), np.dtype(dtype), 0.0)
    out = fieldgrad.gradient(dsa.from_array(f, chunks=2) if chunk else f)
    if np.dtype(dtype).kind == "b":
        with pytest.raises(TypeError):
            np.gradient(f)
        want = np.dtype(np.float64)
    else:
        want = np.gradient(f)[0].dtype
    for d in out:
        assert d.dtype == want and isinstance(d, dsa.Array) == chunk
        assert np.asarray(d).dtype == want


# ---------------------------------------------------------------------------------------------
# 5. linear exactness


@dataclass
class Linear:
    field: xr.DataArray
    dims: list[str]
    slopes: dict[str, float]  # per unit of each dim's positions
    curvature: dict[str, float]  # b in b * x**2 (quadratic fields)
    cross: float  # c in c * x0 * x1
    kw: dict[str, Any]
    chunks: dict[str, tuple[int, ...]] | None
    scale: float  # of the positions' numbers
    hmin: float


@st.composite
def linear_problems(draw: Any, quadratic: bool = False) -> Linear:
    """c + Σ a_d x_d (+ Σ b_d x_d² + c x_0 x_1 for ``quadratic``) on 1-3 differentiated dims."""
    n_diff = draw(st.integers(1, 3))
    ndim = draw(st.integers(n_diff, 4))
    names = list(SPACE[:ndim])
    diff = draw(st.permutations(names))[:n_diff]
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    accuracy = draw(st.sampled_from([2, 4] if n_diff > 1 else [2, 4, 6, 8]))
    edge_order = draw(st.one_of(st.none(), st.integers(1, accuracy)))
    kinds = {d: draw(st.sampled_from(("none", "uniform", "nonuniform", "decreasing", "int", "datetime"))) for d in diff}
    for d in [d for d in diff if kinds[d] == "datetime"][1:]:
        kinds[d] = "nonuniform"
    rename = {d: ("time" if kinds.get(d) == "datetime" else d) for d in names}
    unit = draw(st.sampled_from([None, "s", "m", "h"])) if "datetime" in kinds.values() else None
    sizes = {
        d: draw(st.integers(3 + max(accuracy, edge_order or 0), 14 - 2 * n_diff + accuracy))
        if d in diff
        else draw(st.integers(1, 3))
        for d in names
    }
    coords, pos = {}, {}
    for d in diff:
        x = coordinate(rng, sizes[d], kinds[d])
        if x is not None:
            coords[rename[d]] = x
        pos[d] = positions(x, unit) if x is not None else np.arange(sizes[d], dtype=float)
    shape = tuple(sizes[d] for d in names)

    def along(d: str) -> np.ndarray:
        s = [1] * ndim
        s[names.index(d)] = sizes[d]
        return pos[d].reshape(s)

    slopes = {d: float(draw(st.sampled_from([0.0, 1.0, -2.5, 3.0, 0.125]))) for d in diff}
    curv = {d: float(draw(st.sampled_from([0.0, 1.0, -0.5]))) if quadratic else 0.0 for d in diff}
    cross = float(draw(st.sampled_from([0.0, 2.0]))) if quadratic and n_diff > 1 else 0.0
    f = np.full(shape, float(draw(st.sampled_from([0.0, 7.0, -100.0]))))
    for d in diff:
        f = f + slopes[d] * along(d) + curv[d] * along(d) ** 2
    if cross:
        f = f + cross * along(diff[0]) * along(diff[1])
    if not quadratic and draw(st.booleans()) and all(float(p).is_integer() for d in diff for p in pos[d]):
        f = f.astype(np.int64) if all(s.is_integer() for s in slopes.values()) else f
    nan = draw(st.sampled_from([0.0, 0.0, 0.1]))
    kw: dict[str, Any] = {"accuracy": accuracy, "nan_policy": draw(st.sampled_from(["propagate", "omit"]))}
    if quadratic and nan:
        # with "omit", a NaN-free run shorter than the stencils is differentiated at a lower order (2
        # points: exact for lines only), so a mixed derivative of a quadratic is exact with "propagate" only
        kw["nan_policy"] = "propagate"
    if nan and f.dtype.kind == "f":
        f[rng.random(shape) < nan] = np.nan
    if edge_order is not None:
        kw["edge_order"] = edge_order
    boundary = draw(st.sampled_from(["one-sided", "fill"]))
    if boundary == "fill":
        kw["boundary"] = "fill"  # fill_value NaN: the points without a centred stencil are NaN
    if unit is not None:
        kw["datetime_unit"] = unit
    dims = [rename[d] for d in diff]
    da = xr.DataArray(f, dims=[rename[d] for d in names], coords=coords, name="f")
    chunks = chunkings(draw, {rename[d]: sizes[d] for d in names}, 24) if draw(st.booleans()) else None
    scale = max(float(np.abs(pos[d]).max()) for d in diff)
    hmin = min(float(np.abs(np.diff(pos[d])).min()) for d in diff)
    return Linear(
        da,
        dims,
        {rename[d]: slopes[d] for d in diff},
        {rename[d]: curv[d] for d in diff},
        cross,
        kw,
        chunks,
        scale,
        hmin,
    )


def assert_exact(got: xr.DataArray, want: float, p: Linear, order: int, what: str) -> None:
    """Every defined value is ``want`` up to round-off: ~eps times the field's size over h**order,
    times the stencils' sums of |weights| (at most ~1e3 for the one-sided ones of order 8)."""
    values = np.asarray(got.values, dtype=np.float64)
    defined = ~np.isnan(values)
    assert defined.any() or np.isnan(p.field.values).any() or p.kw.get("boundary") == "fill", f"{what}: all NaN"
    size = float(np.nanmax(np.abs(p.field.values.astype(np.float64)))) + 1.0
    tol = 1e-12 * 1e3 * size / p.hmin**order
    np.testing.assert_allclose(values[defined], want, rtol=0, atol=tol, err_msg=what)


@quick_and_full(linear_problems(), quick=8, full=300)
def test_linear_fields_have_exact_first_and_zero_second_derivatives(p: Linear) -> None:
    note(repr(p.kw) + repr(p.field))
    f = p.field.chunk(p.chunks) if p.chunks else p.field
    for d in p.dims:
        kw = p.kw if d == "time" else {k: v for k, v in p.kw.items() if k != "datetime_unit"}
        assert_exact(f.grad.partial(d, **kw), p.slopes[d], p, 1, f"d/d{d}")
        assert_exact(f.grad.partial(d, order=2, **kw), 0.0, p, 2, f"d2/d{d}2")
    g = f.grad.gradient(p.dims, **p.kw)
    for d in p.dims:
        assert_exact(g.sel(component=d), p.slopes[d], p, 1, f"gradient {d}")
    assert_exact(f.grad.laplacian(p.dims, **p.kw), 0.0, p, 2, "laplacian")
    assert_exact(f.grad.hessian(p.dims, **p.kw), 0.0, p, 2, "hessian")
    direction = {d: float(k + 1) for k, d in enumerate(p.dims)}
    norm = math.sqrt(sum(v * v for v in direction.values()))
    want = sum(p.slopes[d] * direction[d] for d in p.dims) / norm
    assert_exact(f.grad.directional(direction, **p.kw), want, p, 1, "directional")
    # the gradient of a linear field is a constant vector: its Jacobian and divergence are 0, and a
    # vector of linear fields F_i = f_i has Jacobian dF_i/dx_j = slope_j
    if p.field.dtype.kind == "f":
        vector = xr.concat([f] * len(p.dims), "component").assign_coords(component=p.dims)
        assert_exact(vector.grad.divergence(**p.kw), sum(p.slopes.values()), p, 1, "divergence")
        J = vector.grad.jacobian(**p.kw)
        for a in p.dims:
            for b in p.dims:
                assert_exact(J.sel(component=a, component2=b), p.slopes[b], p, 1, f"jacobian {a} {b}")
        if len(p.dims) == 2:
            a, b = p.dims
            assert_exact(vector.grad.curl(**p.kw), p.slopes[a] - p.slopes[b], p, 1, "curl")
        flow = xr.ones_like(vector)
        assert_exact(f.grad.advection(flow, **p.kw), -sum(p.slopes.values()), p, 1, "advection")


@quick_and_full(linear_problems(quadratic=True), quick=6, full=300)
def test_laplacian_and_hessian_of_a_quadratic_are_exact(p: Linear) -> None:
    note(repr(p.kw) + repr(p.field))
    f = p.field.chunk(p.chunks) if p.chunks else p.field
    assert_exact(f.grad.laplacian(p.dims, **p.kw), 2 * sum(p.curvature.values()), p, 2, "laplacian")
    H = f.grad.hessian(p.dims, **p.kw)
    for i, a in enumerate(p.dims):
        for j, b in enumerate(p.dims):
            want = 2 * p.curvature[a] if a == b else (p.cross if {i, j} == {0, 1} else 0.0)
            assert_exact(H.sel(component=a, component2=b), want, p, 2, f"hessian {a} {b}")


# ---------------------------------------------------------------------------------------------
# 6. jit parity


def check_jit_parity(case: Case, chunk: bool) -> None:
    note(repr(case))
    obj = case.field.chunk(case.chunks) if chunk else case.field
    flow = (
        case.flow.chunk({d: c for d, c in case.chunks.items() if d in case.flow.dims})
        if chunk and case.flow is not None
        else case.flow
    )
    results = []
    for jit in ("never", "always"):
        with fieldgrad.set_options(jit=jit), warnings.catch_warnings():
            no_warnings(case)
            out = apply(case, obj, flow=flow)
            results.append(out.compute() if chunk else out)
    assert_bit_identical(results[1], results[0])


@quick_and_full(cartesian_cases(budget=8), st.booleans(), quick=10, full=200)
def test_jit_never_and_always_are_bit_identical(case: Case, chunk: bool) -> None:
    check_jit_parity(case, chunk)


@quick_and_full(sphere_cases(budget=6), st.booleans(), quick=3, full=60)
def test_jit_parity_on_the_sphere(case: Case, chunk: bool) -> None:
    check_jit_parity(case, chunk)


# ---------------------------------------------------------------------------------------------
# 7. clear errors

#: invalid values of each keyword, with the keywords that give them a context (a period is checked
#: against the span where the axis wraps around, a fill value against the field's dtype)
INVALID: dict[str, list[Any]] = {
    "accuracy": [4.0, True, "4", 3, 0, -2, 10, None, [4], np.float64(4.0), 2**70, 1.5],
    "edge_order": [0, -1, 1.5, True, "2", 9, [1], np.float64(2.0)],
    "boundary": ["wrap", 1, None, ["periodic"], {"x": "wrap"}, {"nope": "periodic"}, "Periodic", True],
    "fill_value": ["x", [1, 2], 10**400, -(10**400), {"x": 1.0}, True, None, "nan", np.array([1.0, 2.0]), 1 + 2j],
    "period": ["360", -1, -1.0, 0, np.nan, np.inf, {"x": "a"}, [1.0, 2.0], True, {"nope": 3.0}, 0.5],
    "nan_policy": [None, "ignore", 1, True, "Omit", ["omit"]],
    "datetime_unit": ["M", "Y", "fortnight", 3, True, "h"],
    "geometry": ["spherical", 1, None, "Sphere", ["sphere"]],
    "frame": ["north", 1, None, "Earth"],
    "radius": ["6371", -1, 0, np.inf, np.nan, True, [1.0]],
    "latitude": [["lat"], "nope"],
    "longitude": [{"a": 1}, "nope"],
    "method": [3, "nope", None],
    "grid": ["x", 3, {"geometry": "sphere"}],
    "order": [1.5, -1, True, "2", None],
    "component_dim": [["c"], {"c": 1}],
    "on_missing": ["ignore", 1],
}
CONTEXT = {
    "period": {"boundary": "periodic"},
    "fill_value": {"boundary": "fill"},
    "latitude": {"geometry": "sphere"},
    "longitude": {"geometry": "sphere"},
    "radius": {"geometry": "sphere"},
}
UNKNOWN = ["acuracy", "edgeorder", "boundry", "fill", "periodic", "foo", "window", "spacing", "axis"]
ERROR_OPERATORS = ("partial", "gradient", "laplacian", "hessian", "divergence", "curl", "jacobian", "directional")
ERROR_OPERATORS += ("advection", "magnitude", "along")


def error_field(op: str, sphere: bool, dataset: bool) -> tuple[Any, tuple[Any, ...]]:
    """A valid field and arguments for ``op`` (a vector field for the vector operators)."""
    if sphere:
        x, y = np.linspace(-60.0, 60.0, 9), np.arange(0.0, 360.0, 30.0)
        names = ("lat", "lon")
        coords = {"lat": ("lat", x, {"units": "degrees_north"}), "lon": ("lon", y, {"units": "degrees_east"})}
    else:
        x = y = np.linspace(0.0, 1.0, 9)
        names = ("x", "y")
        coords = {"x": x, "y": y}
    f = xr.DataArray(np.add.outer(x, y) ** 2, dims=names, coords=coords, name="f", attrs={"units": "K"})
    F = xr.concat([f, 2 * f], "component").assign_coords(component=list(names))
    vector = op in ("divergence", "curl", "jacobian", "magnitude")
    if dataset:
        ds = xr.Dataset({"u": f, "v": 2 * f})
        args: tuple[Any, ...] = ({names[0]: "u", names[1]: "v"},) if vector or op == "advection" else ()
        obj: Any = ds
    else:
        obj, args = (F, ()) if vector else (f, ())
        if op == "advection":
            args = (F,)
    if op == "partial":
        args = (names[0],)
    elif op == "directional":
        args = ({names[0]: 1.0, names[1]: 1.0},)
    elif op == "along":
        args = ({names[0]: [x[1], x[3]], names[1]: [y[2], y[2]]},)
    return obj, args


@st.composite
def invalid_calls(draw: Any) -> tuple[str, str, Any, dict[str, Any], bool, bool, bool]:
    op = draw(st.sampled_from(ERROR_OPERATORS))
    if draw(st.integers(0, 4)) == 0:
        keyword = draw(st.sampled_from(UNKNOWN))
        value: Any = 4
    else:
        keyword = draw(st.sampled_from(sorted(INVALID)))
        value = draw(st.sampled_from(INVALID[keyword]))
    sphere = keyword in ("latitude", "longitude", "radius")
    context = dict(CONTEXT.get(keyword, {}))
    if keyword == "order" and op != "partial":
        op = "partial"
    if keyword == "component_dim" and op in ("partial", "laplacian", "directional", "along"):
        op = "gradient"
    dataset = keyword == "on_missing" or draw(st.integers(0, 3)) == 0
    return op, keyword, value, context, sphere, dataset, draw(st.booleans())


def check_invalid_call(
    op: str, keyword: str, value: Any, context: dict, sphere: bool, dataset: bool, chunk: bool
) -> None:
    obj, args = error_field(op, sphere, dataset)
    if chunk:
        obj = obj.chunk(3)
    call = lambda: getattr(obj.grad, op)(*args, **context, **{keyword: value})  # noqa: E731
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no overflow or other warning in place of an error
            result = call()
    except (ValueError, TypeError) as e:
        message = f"{type(e).__name__}: {e}"
    except Exception as e:  # any other exception is a failure, reported as such
        raise AssertionError(f"{op}({keyword}={value!r}) raised {type(e).__name__}: {e}") from e
    else:
        raise AssertionError(f"{op}({keyword}={value!r}) returned a result instead of an error: {result!r}")
    assert keyword in message, f"the error does not name {keyword!r}: {message}"


@quick_and_full(invalid_calls(), quick=25, full=600)
def test_invalid_keyword_values_raise_naming_the_keyword(call: Any) -> None:
    """An invalid value of any keyword, for any operator, in memory or chunked, DataArray or Dataset:
    a ValueError or TypeError whose message names the keyword, raised by the call itself (a lazy result
    is never returned), and no warning instead."""
    note(repr(call))
    check_invalid_call(*call)


@pytest.mark.parametrize("chunk", [False, True])
@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        (k, v)
        for k in ("accuracy", "boundary", "fill_value", "period", "nan_policy", "datetime_unit")
        for v in INVALID[k]
    ]
    + [("geometry", "spherical"), ("frame", "north"), ("radius", "6371"), ("method", "nope")]
    + [(name, 4) for name in UNKNOWN],
)
def test_invalid_values_of_every_keyword_on_partial_and_gradient(keyword: str, value: Any, chunk: bool) -> None:
    for op in ("partial", "gradient"):
        check_invalid_call(op, keyword, value, CONTEXT.get(keyword, {}), keyword == "radius", False, chunk)


def test_latitude_naming_the_longitude_is_refused_naming_latitude() -> None:
    """The sphere took ('lon', 'lon') and said "['lon'] named more than once", naming no argument."""
    check_invalid_call("gradient", "latitude", "lon", {"geometry": "sphere"}, True, False, False)


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"jit": "sometimes"}, "jit"),
        ({"jit": True}, "jit"),
        ({"halo_source": "disk"}, "halo_source"),
        ({"halo_source": None}, "halo_source"),
        ({"num_threads": 0}, "num_threads"),
        ({"num_threads": 2.0}, "num_threads"),
        ({"serial": "yes"}, "serial"),
        ({"reuse_buffers": 1}, "reuse_buffers"),
        ({"threads": 2}, "threads"),
    ],
)
def test_invalid_options_raise_naming_the_option(options: dict, name: str) -> None:
    before = fieldgrad.get_options()
    with pytest.raises(ValueError, match=name):
        fieldgrad.set_options(**options)
    assert fieldgrad.get_options() == before  # nothing changed


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"geometry": "spherical"}, "geometry"),
        ({"geometry": 1}, "geometry"),
        ({"frame": "north"}, "frame"),
        ({"radius": "6371", "geometry": "sphere"}, "radius"),
        ({"radius": -1.0, "geometry": "sphere"}, "radius"),
        ({"latitude": ["lat"], "geometry": "sphere"}, "latitude"),
    ],
)
def test_invalid_grid_keywords_raise_naming_them(kwargs: dict, name: str) -> None:
    f, _ = error_field("gradient", True, False)
    with pytest.raises((ValueError, TypeError), match=name):
        fieldgrad.Grid(f, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "name", "numpy_refuses"),
    [({"edge_order": 3}, "edge_order", True), ({"edge_order": 0}, "edge_order", False), ({"axis": 2}, "axis", True)],
)
@pytest.mark.parametrize("chunk", [False, True])
def test_numpy_compat_errors_are_numpys(kwargs: dict, name: str, numpy_refuses: bool, chunk: bool) -> None:
    """numpy's errors, of numpy's types; edge_order=0, which numpy takes for 2, is refused too."""
    f = np.arange(12.0).reshape(3, 4)
    with pytest.raises(ValueError, match=name) as ours:
        fieldgrad.gradient(dsa.from_array(f, chunks=2) if chunk else f, **kwargs)
    if numpy_refuses:
        with pytest.raises(ValueError, match=name) as numpys:
            np.gradient(f, **kwargs)
        assert type(ours.value) is type(numpys.value)


# ---------------------------------------------------------------------------------------------
# 8. no state leaks between calls


@dataclass
class Session:
    """A notebook session: fields, valid calls on them, and the steps between the calls."""

    fields: list[xr.DataArray]  # numpy-backed, changed in place by "mutate" steps
    calls: list[tuple[int, Case, bool]]  # (field, case, chunked)
    steps: list[tuple[Any, ...]]


@st.composite
def sessions(draw: Any) -> Session:
    cases = [
        draw(cartesian_cases(dtypes=["float64", "float32", "int16", "complex128"], max_ndim=2, budget=6, ops=ops))
        for ops in (("partial", "gradient", "laplacian", "directional"), ("hessian", "advection", "divergence", "curl"))
    ]
    if draw(st.booleans()):
        cases.append(draw(sphere_cases(budget=4)))
    fields, calls = [], []
    for k, case in enumerate(cases):
        f = case.field.copy(deep=True)
        scalar = case.op in ("partial", "gradient", "laplacian", "directional") and "geometry" not in case.kw
        scalar = scalar and "datetime_unit" not in case.kw  # (s is no time coordinate)
        if scalar and draw(st.booleans()):
            # a 1-D non-dimension coordinate along the first differentiated dim, named in partial calls
            d = case.dims[0]
            f = f.assign_coords(s=(d, np.cumsum(np.random.default_rng(k).uniform(0.5, 1.5, f.sizes[d]))))
        fields.append(f)
        variants = [case, replace(case, kw={**case.kw, "accuracy": 2}), replace(case, halo_source="neighbours")]
        if "geometry" in case.kw:  # a Grid built once and passed to the calls, as the README shows
            variants.append(replace(case, kw={**case.kw, "grid": "built once"}))
        for v in variants:
            calls.append((k, replace(v, field=f, dataset=False, storage="memory"), draw(st.booleans())))
    steps: list[tuple[Any, ...]] = []
    for _ in range(draw(st.integers(len(calls), 2 * len(calls)))):
        kind = draw(st.sampled_from(["call", "call", "call", "bad", "option", "mutate"]))
        if kind == "call":
            steps.append(("call", draw(st.integers(0, len(calls) - 1))))
        elif kind == "bad" and draw(st.booleans()):
            steps.append(("bad", draw(invalid_calls())))
        elif kind == "bad":  # an invalid value given to one of the session's own calls, on its field
            i = draw(st.integers(0, len(calls) - 1))
            sphere = "geometry" in calls[i][1].kw
            # (a latitude or longitude names a coordinate of a latitude/longitude grid: on another grid the
            # missing latitude is reported first)
            keyword = draw(
                st.sampled_from([k for k in sorted(INVALID) if sphere or k not in ("latitude", "longitude")])
            )
            valid_here = {"datetime_unit": ["h"], "period": [0.5], "fill_value": [1 + 2j]}.get(keyword, [])
            value = draw(st.sampled_from([v for v in INVALID[keyword] if not any(v is w for w in valid_here)]))
            steps.append(("bad call", i, keyword, value))
        elif kind == "option":
            name = draw(st.sampled_from(["jit", "num_threads", "reuse_buffers", "serial"]))
            value = {
                "jit": st.sampled_from(["never", "always", "auto"]),
                "num_threads": st.sampled_from([1, 2, None]),
                "reuse_buffers": st.booleans(),
                "serial": st.booleans(),
            }[name]
            steps.append(("option", name, draw(value)))
        else:
            steps.append(("mutate", draw(st.integers(0, len(fields) - 1)), draw(st.integers(0, 2**32 - 1))))
    return Session(fields, calls, steps)


def mutate(f: xr.DataArray, seed: int) -> None:
    """Change a field in place, as a notebook cell does: some values, or its 1-D non-dim coordinate."""
    rng = np.random.default_rng(seed)
    if "s" in f.coords and rng.random() < 0.5:
        f.coords["s"].values[...] = np.cumsum(rng.uniform(0.5, 1.5, f.coords["s"].size))
        return
    values = f.values
    flat = values.reshape(-1)
    k = rng.integers(0, flat.size, max(1, flat.size // 5))
    flat[k] = (rng.standard_normal(k.size) * 10).astype(values.dtype) if values.dtype.kind != "c" else 1 - 2j


def run_call(
    session: Session, i: int, fields: list[xr.DataArray], grids: dict[int, Any] | None = None, **extra: Any
) -> Any:
    """Call ``i`` of the session on ``fields`` (``grids``: the Grids built once, by field; None: a new one)."""
    k, case, chunk = session.calls[i]
    f = fields[k]
    if case.kw.get("grid") == "built once":
        geometry = {n: case.kw[n] for n in ("geometry", "radius") if n in case.kw}
        grid = (
            grids.setdefault(k, fieldgrad.Grid(f, **geometry)) if grids is not None else fieldgrad.Grid(f, **geometry)
        )
        kw = {n: v for n, v in case.kw.items() if n not in ("geometry", "radius")}
        case = replace(case, kw={**kw, "grid": grid})
    case = replace(case, kw={**case.kw, **extra})
    obj = f.chunk(case.chunks) if chunk else f
    flow = (
        case.flow.chunk({d: c for d, c in case.chunks.items() if d in case.flow.dims})
        if chunk and case.flow is not None
        else case.flow
    )
    args = case.args
    if case.op == "partial" and "s" in f.coords and case.args and case.args[0] == f.coords["s"].dims[0]:
        args = ("s",)  # the non-dimension coordinate instead of its dim
    with fieldgrad.set_options(halo_source=case.halo_source), warnings.catch_warnings():
        no_warnings(case)
        out = apply(replace(case, args=args), obj, flow=flow)
        return out.compute() if chunk else out


@quick_and_full(sessions(), quick=3, full=60)
def test_no_state_leaks_between_calls(session: Session) -> None:
    """Each valid call of a session -- invalid calls, option changes and in-place changes of the
    fields interleaved -- gives the result it gives alone (computed first, on a copy of the field as it
    is at that step), bit for bit."""
    note(repr(session.steps))
    # the fields as each step sees them, and every (call, version) computed first, on copies
    versions: list[list[xr.DataArray]] = [[f.copy(deep=True) for f in session.fields]]
    needed: dict[tuple[int, int], Any] = {}
    version = 0
    for step in session.steps:
        if step[0] == "mutate":
            fields = [f.copy(deep=True) for f in versions[-1]]
            mutate(fields[step[1]], step[2])
            versions.append(fields)
            version += 1
        elif step[0] == "call":
            needed[step[1], version] = None
    for i, v in sorted(needed):
        needed[i, v] = run_call(session, i, [f.copy(deep=True) for f in versions[v]])
    # the session, on the fields themselves (with one Grid per field, built at its first use)
    version = 0
    initial = fieldgrad.get_options()
    grids: dict[int, Any] = {}
    try:
        for step in session.steps:
            if step[0] == "call":
                got = run_call(session, step[1], session.fields, grids)
                assert_bit_identical(got, needed[step[1], version])
            elif step[0] == "bad":
                check_invalid_call(*step[1])
            elif step[0] == "bad call":
                _, i, keyword, value = step
                with pytest.raises((ValueError, TypeError), match=keyword):
                    run_call(session, i, session.fields, grids, **CONTEXT.get(keyword, {}), **{keyword: value})
            elif step[0] == "option":
                fieldgrad.set_options(**{step[1]: step[2]})
            else:
                mutate(session.fields[step[1]], step[2])
                version += 1
    finally:
        fieldgrad.set_options(**initial)


def test_2d_sphere_metric_follows_the_units_of_the_same_numbers() -> None:
    """A call's grid finds what earlier calls derived by the coordinates' values: their units count
    too (the same numbers in radians, then in degrees, gave the degrees call the radians metric)."""
    j, i = np.meshgrid(np.arange(6.0), np.arange(7.0), indexing="ij")
    lat, lon = 0.1 + 0.15 * j + 0.01 * i, 0.2 + 0.2 * i + 0.01 * j

    def field(lat_units: str, lon_units: str) -> xr.DataArray:
        coords = {"lat": (("j", "i"), lat, {"units": lat_units}), "lon": (("j", "i"), lon, {"units": lon_units})}
        return xr.DataArray(np.cos(lat) * np.sin(lon), dims=("j", "i"), coords=coords, name="T")

    kw = {"latitude": "lat", "longitude": "lon"}
    degrees = field("degrees_north", "degrees_east")
    # a Grid the user builds keeps what it derives itself: the degrees' own metric, whatever came before
    expected = degrees.grad.gradient(grid=fieldgrad.Grid(degrees, geometry="sphere", **kw))
    field("radians", "radians").grad.gradient(geometry="sphere", **kw)  # the same numbers, in radians
    assert_bit_identical(degrees.grad.gradient(geometry="sphere", **kw), expected)


# ---------------------------------------------------------------------------------------------
# the bugs these invariants found, each at its smallest


@pytest.mark.parametrize("chunks", [8, 3, 1])
@pytest.mark.parametrize("step", [0.25, -0.25])
def test_chunked_periodic_uniform_coordinate_with_its_own_period(chunks: int, step: float) -> None:
    """A uniform coordinate whose period is not n * step is not uniform across the seam: the dask
    blocks' wrapped halos took the step there (-2 for 16/3 at both ends)."""
    da = xr.DataArray(np.array([1.0, 1, 0, 0, 0, 0, 0, 0]), dims="x", coords={"x": step * np.arange(8)})
    kw = {"boundary": "periodic", "period": 1.875}
    expected = da.grad.partial("x", **kw)
    # the wrap-around neighbour of x[0] is x[7] shifted by the period: 0.125 away, not 0.25
    x = np.array([-0.125, 0.0, 0.25])
    np.testing.assert_allclose(
        expected.values[0], np.polyval(np.polyder(np.polyfit(x, [0, 1, 1], 2)), 0.0) * np.sign(step)
    )
    assert_same_result(da.chunk({"x": chunks}).grad.partial("x", **kw).compute(), expected)


@pytest.mark.parametrize("chunks", [None, 2])
def test_one_period_for_every_dim_is_the_periodic_dims_own(chunks: int | None) -> None:
    """``period=12.0`` with ``boundary={"x": "one-sided", "y": "periodic"}`` is y's period; it was
    also checked against x's span (20 points: "period=12.0 must exceed the span of coordinate 'x'")."""
    x, y = np.arange(20.0), np.cumsum(np.linspace(1.0, 2.0, 6))
    da = xr.DataArray(np.random.default_rng(0).random((20, 6)), dims=("x", "y"), coords={"x": x, "y": y})
    obj = da if chunks is None else da.chunk(chunks)
    boundary = {"x": "one-sided", "y": "periodic"}
    got = obj.grad.gradient(boundary=boundary, period=12.0)
    want = da.grad.gradient(boundary=boundary, period={"y": 12.0})
    assert_same_result(got.compute(), want)
    with pytest.raises(ValueError, match=r"period=5\.0 must exceed the span of coordinate 'y'"):
        obj.grad.gradient(boundary=boundary, period=5.0)  # still checked where it applies


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [(("x",), {"order": 2}), (("x",), {"order": 0}), ((), {"spec": "x", "order": 3}), ((), {"spec": {"x": 1, "y": 1}})],
)
@pytest.mark.parametrize("chunks", [None, 4])
def test_dataset_partial_takes_order_by_name(args: tuple, kwargs: dict, chunks: int | None) -> None:
    """``ds.grad.partial("x", order=2)`` was "partial() got multiple values for argument 'order'"."""
    x = np.linspace(0.0, 1.0, 12)
    f = xr.DataArray(np.add.outer(x**3, x**2), dims=("x", "y"), coords={"x": x, "y": x}, name="f")
    ds = f.to_dataset() if chunks is None else f.to_dataset().chunk(chunks)
    got = ds.grad.partial(*args, **kwargs)["f"]
    assert_same_result(got.compute(), f.grad.partial(*args, **kwargs).rename("f"))


@pytest.mark.parametrize(
    ("name", "args", "kwargs"),
    [
        ("gradient", (), {"dims": ["x"]}),
        ("laplacian", (), {"dims": ["x", "y"]}),
        ("hessian", (), {"dims": ["y"], "component_dim": "c"}),
        ("directional", (), {"direction": {"x": 1, "y": 2}}),
    ],
)
def test_dataset_forms_take_their_arguments_by_name(name: str, args: tuple, kwargs: dict) -> None:
    x = np.linspace(0.0, 1.0, 12)
    f = xr.DataArray(np.add.outer(x**3, x**2), dims=("x", "y"), coords={"x": x, "y": x}, name="f")
    got = getattr(f.to_dataset().grad, name)(*args, **kwargs)["f"]
    assert_bit_identical(got, getattr(f.grad, name)(*args, **kwargs).rename("f"))


@pytest.mark.parametrize("chunks", [None, 3])
@pytest.mark.parametrize(
    ("dtype", "fill_value", "match"),
    [
        ("float64", 1 + 2j, r"fill_value=\(1\+2j\) is complex, but the field is real \(its derivative is float64\)"),
        ("int16", np.complex128(1), r"fill_value=\(1\+0j\) is complex, but the field is real"),
        ("float32", 1e300, r"fill_value=1e\+300 is too large for the derivative's dtype float32"),
        ("float16", -1e39, r"fill_value=-1e\+39 is too large for the derivative's dtype float32"),
        ("complex64", 1e300j, r"fill_value=1e\+300j is too large for the derivative's dtype complex64"),
    ],
)
def test_a_fill_value_the_derivative_cannot_hold_is_refused(
    dtype: str, fill_value: Any, match: str, chunks: int | None
) -> None:
    """A complex fill value on a real field was "float() argument must be a string or a real number,
    not 'complex'" (no argument named); one too large for float32 silently became inf."""
    da = xr.DataArray(np.arange(12).astype(dtype), dims="x")
    obj = da if chunks is None else da.chunk(chunks)
    with pytest.raises(ValueError, match=match):
        obj.grad.partial("x", boundary="fill", fill_value=fill_value)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # what fits is taken as it is, without an overflow
        out = obj.grad.partial("x", boundary="fill", fill_value=np.inf).values
    assert np.isinf(out[0]) and np.isinf(out[-1])


def test_complex_fill_values_of_either_sign_of_zero_are_kept_apart() -> None:
    """The plan cache took -0j for 0j (complex keys compare by value; real ones by their bits)."""
    f = xr.DataArray(np.arange(8.0) + 1j, dims="x")
    first = f.grad.partial("x", boundary="fill", fill_value=0j).values[0]
    second = f.grad.partial("x", boundary="fill", fill_value=complex(-0.0, -0.0)).values[0]
    assert not np.signbit(first.real) and not np.signbit(first.imag)
    assert np.signbit(second.real) and np.signbit(second.imag)


@pytest.mark.parametrize("name", ["gradient", "hessian", "divergence", "magnitude", "along"])
@pytest.mark.parametrize("dataset", [False, True])
def test_an_unhashable_dim_name_is_refused_naming_its_keyword(name: str, dataset: bool) -> None:
    """``component_dim=["c"]`` was "unhashable type: 'list'"."""
    x = np.linspace(0.0, 1.0, 6)
    f = xr.DataArray(np.add.outer(x, x), dims=("x", "y"), coords={"x": x, "y": x}, name="f")
    F = xr.concat([f, f], "component").assign_coords(component=["x", "y"])
    keyword = {"hessian": "component_dim2", "along": "path_dim"}.get(name, "component_dim")
    args: tuple[Any, ...] = {"along": ({"x": [0.1, 0.2], "y": [0.1, 0.1]},)}.get(name, ())
    obj: Any = F if name in ("divergence", "magnitude") else f
    if dataset:
        obj = xr.Dataset({"u": f, "v": f})
        if name in ("divergence", "magnitude"):
            args = ({"x": "u", "y": "v"},)
    with pytest.raises(TypeError, match=rf"{keyword} must be the name of a dimension, got \['c'\] \(list\)"):
        getattr(obj.grad, name)(*args, **{keyword: ["c"]})


@pytest.mark.parametrize("chunks", [None, 1, 2])
def test_periodic_wrap_on_a_non_uniform_axis_keeps_its_zero_weights(chunks: int | None) -> None:
    """A wrapped row of a non-uniform axis whose neighbours are equally far (x[-1] - period is as far
    below x[0] as x[1] above) has a zero centre weight: the band keeps such terms (0 * NaN is NaN, as
    in numpy's non-uniform formula), the wrapped rows dropped them (-1.5 at a NaN in memory, NaN in
    dask blocks). numpy.gradient of the periodically extended axis is the reference."""
    x, period = np.array([0.0, 1.0, 1.5, 3.0]), 4.0
    f = np.array([np.nan, 1.0, 2.0, 4.0])
    extended = np.gradient(np.r_[f[-1], f, f[0]], np.r_[x[-1] - period, x, x[0] + period])[1:-1]
    da = xr.DataArray(f, dims="x", coords={"x": x})
    obj = da if chunks is None else da.chunk(chunks)
    got = obj.grad.partial("x", boundary="periodic", period=period, accuracy=2).values
    assert_values_close(got, extended, 1e-15)


@pytest.mark.parametrize("chunks", [None, 3])
@pytest.mark.parametrize("op", ["divergence", "curl", "jacobian"])
def test_float16_vectors_on_the_sphere(op: str, chunks: int | None) -> None:
    """float16 components times the metric's coefficients (R cos φ ~ 6e6) stayed float16 and overflowed:
    divergence and curl were inf and NaN (differently in memory and chunked), and float64."""
    lat, lon = np.linspace(-60, 60, 7), np.arange(0, 360, 30.0)
    coords = {"lat": ("lat", lat, {"units": "degrees_north"}), "lon": ("lon", lon, {"units": "degrees_east"})}
    s = xr.DataArray(np.random.default_rng(0).standard_normal((7, 12)) * 3, dims=("lat", "lon"), coords=coords)
    V = xr.concat([s, 2 * s], "component").assign_coords(component=["lat", "lon"]).astype(np.float16)
    obj = V if chunks is None else V.chunk(chunks)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = getattr(obj.grad, op)(geometry="sphere").compute()
    want = getattr(V.astype(np.float32).grad, op)(geometry="sphere")  # float16 values are exact in float32
    assert got.dtype == np.float32
    assert_same_result(got, want, rtol=0.0)


@pytest.mark.parametrize("nan_policy", ["propagate", "omit"])
@pytest.mark.parametrize("chunks", [5, 2, 1])
def test_chunked_periodic_second_derivative_on_a_uniform_axis_with_its_own_period(chunks: int, nan_policy: str) -> None:
    """A uniform axis whose period is not n * step takes the non-uniform stencils (5 points for a second
    derivative at accuracy 2); the blocks borrowed the uniform stencil's 1-point halos and so took
    one-sided rows near their ends (0.07 off in one chunk of 5)."""
    z, period = 3.0 * np.arange(5), 13.5
    f = np.array([1.0, 0.0, 0.0, 0.0, 0.0])
    da = xr.DataArray(f, dims="z", coords={"z": z})
    kw = {"boundary": "periodic", "period": period, "accuracy": 2, "nan_policy": nan_policy}
    expected = da.grad.partial("z", order=2, **kw)
    # the 5-point Lagrange second derivative on the periodically extended positions
    zz, ff = np.r_[z[-2:] - period, z, z[:2] + period], np.r_[f[-2:], f, f[:2]]
    lagrange = [
        np.polyval(np.polyder(np.polyfit(zz[i : i + 5] - zz[i + 2], ff[i : i + 5], 4), 2), 0.0) for i in range(5)
    ]
    np.testing.assert_allclose(expected.values, lagrange, rtol=1e-10, atol=1e-12)
    assert_same_result(da.chunk(chunks).grad.partial("z", order=2, **kw).compute(), expected)


@pytest.mark.parametrize("chunks", [None, 2])
@pytest.mark.parametrize("dtype", ["float16", "float32", "complex64", "int16", "float64"])
def test_along_keeps_the_dtype_rule(dtype: str, chunks: int | None) -> None:
    """along() gave float64 for float16/float32 fields (complex128 for complex64): xarray interpolates in
    float64, and lazily declares float32 but computes float64 blocks."""
    f = xr.DataArray(np.array([-13.21, 64.06, 10.49, -53.56]).astype(dtype), dims="x")
    obj = f if chunks is None else f.chunk(chunks)
    out = obj.grad.along({"x": [2.8, 2.4]})
    want = expected_dtype(np.dtype(dtype))
    assert out.dtype == want and out.compute().dtype == want
    reference = f.astype(np.float64 if dtype != "complex64" else np.complex128).grad.along({"x": [2.8, 2.4]})
    np.testing.assert_allclose(out.values, reference.values.astype(want), rtol=1e-6)


@pytest.mark.parametrize("chunks", [{"x": 3, "y": 1}, {"x": (2, 4), "y": 2, "z": 1}, {"y": 4}])
def test_along_keeps_the_chunks_of_the_dims_it_keeps(chunks: dict) -> None:
    """xarray's interpolation split the dims the path does not cross into one-point chunks (x: (3, 3)
    became six chunks of one point)."""
    f = xr.DataArray(
        np.random.default_rng(0).standard_normal((6, 4, 3)), dims=("x", "y", "z"), coords={"y": np.arange(4.0)}
    )
    lazy = f.chunk(chunks)
    out = lazy.grad.along({"y": [1.63, 2.8, 0.5]})
    assert out.dims == ("x", "distance", "z")
    assert out.chunksizes["x"] == lazy.chunksizes["x"] and out.chunksizes["z"] == lazy.chunksizes["z"]
    assert_same_result(out.compute(), f.grad.along({"y": [1.63, 2.8, 0.5]}))


@pytest.mark.parametrize("chunks", [None, 1])
@pytest.mark.parametrize(
    ("dtype", "values", "norm"),
    [
        ("int8", [100, 100], 100 * np.sqrt(2)),
        ("uint8", [200, 100], np.sqrt(50000)),
        ("int64", [2**40, 2**40], 2**40 * np.sqrt(2)),
        ("float16", [300, 400], 500.0),
        ("bool", [True, True], np.sqrt(2)),
    ],
)
def test_magnitude_of_small_dtypes_does_not_overflow(dtype: str, values: list, norm: float, chunks: int | None) -> None:
    """|F| squared the components in their own dtype: int8 [100, 100] gave 5.66 (10000 wrapped
    around), int64 [2**40, 2**40] gave 0, float16 [300, 400] gave inf."""
    g = xr.DataArray(np.array(values).astype(dtype)[:, None], dims=("component", "x"), coords={"component": ["x", "y"]})
    obj = g if chunks is None else g.chunk(chunks)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = obj.grad.magnitude().compute()
    assert out.dtype == np.zeros(0, expected_dtype(np.dtype(dtype))).real.dtype
    np.testing.assert_allclose(out.values, [norm], rtol=1e-6)


@pytest.mark.parametrize("geometry", ["cartesian", "sphere"])
def test_advection_result_has_the_fields_chunks(geometry: str) -> None:
    """A flow chunked otherwise than the field gave the intersection of both chunkings; on a 2-D
    latitude/longitude grid read from zarr (dask coordinates) the result's coordinates kept the
    field's chunks and its data the intersection: ``result.chunksizes`` raised "inconsistent chunks"."""
    j, i = np.meshgrid(np.arange(6.0), np.arange(6.0), indexing="ij")
    lat, lon = -9 + 4.0 * j + 0.1 * i, 30 + 5.0 * i + 0.1 * j
    if geometry == "sphere":
        coords: dict[str, Any] = {
            "lat": (("j", "i"), lat, {"units": "degrees_north"}),
            "lon": (("j", "i"), lon, {"units": "degrees_east"}),
        }
        labels = ["lat", "lon"]
    else:
        coords, labels = {"j": np.arange(6.0), "i": np.arange(6.0)}, ["j", "i"]
    T = xr.DataArray(np.random.default_rng(0).standard_normal((6, 6)), dims=("j", "i"), coords=coords, name="T")
    U = xr.concat([T, 2 * T], "component").assign_coords(component=labels)
    expected = T.grad.advection(U, geometry=geometry)
    with storage_dir() as where:
        T.chunk({"i": 2}).to_dataset().to_zarr(os.path.join(where, "t.zarr"), consolidated=False)
        lazy = xr.open_zarr(os.path.join(where, "t.zarr"), consolidated=False)["T"]
        out = lazy.grad.advection(U.chunk({"i": 3}), geometry=geometry)
        assert out.chunksizes["i"] == lazy.chunksizes["i"] == (2, 2, 2)
        assert_same_result(out.compute(), expected)
