"""Invariants of every operator, as a long notebook session exercises them (hypothesis).

Fields of 1 to 4 dims and of every dtype (booleans, integers, floats, complex, datetime64 and
timedelta64 values), on uniform, non-uniform, decreasing, integer and datetime coordinates, with
NaN (NaT) anywhere -- in either part of a complex value too --, every operator (partial, gradient,
laplacian, hessian, divergence, curl, jacobian, directional, advection, magnitude on cartesian
grids; the vector operators on small latitude/longitude grids), every option (accuracy, edge_order,
the three boundary kinds with period and fill_value, nan_policy, datetime_unit) and random dask
chunkings down to one point, read from memory or from a zarr store, with each halo source:

1. chunked = in memory: values, NaN pattern, dtype, dims, coords, attrs; the result's chunks are
   the input's;
2. numpy and xarray parity: ``fieldgrad.gradient`` is ``numpy.gradient`` bit for bit where numpy
   defines the result; ``partial(dim, accuracy=2, edge_order=e)`` is ``differentiate(dim, edge_order=e)``;
3. the input (values, coords, attrs, encoding) is never modified;
4. the dtype rule, and the declared dtype of a lazy result is the computed one;
5. linear exactness: first derivatives of a field linear in the coordinates are exact, second
   derivatives zero, the Laplacian of a quadratic exact;
6. jit parity: ``jit="never"`` and ``jit="always"`` are bit-identical;
7. clear errors: an invalid value of a keyword is a ValueError or TypeError naming it;
8. no state leaks: a sequence of calls, invalid ones interleaved, gives each valid call the
   result it gives alone.

The default run draws a few derandomized examples of each (reproducible: the same examples on
every run); each test has a ``_full`` twin with more random examples under the slow marker
(``uv run pytest -m slow -n 0 tests/test_invariants.py``).
"""

from __future__ import annotations

import itertools
import math
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import dask.array as dsa
import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, note, reject, settings
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
OPERATORS += ("advection", "magnitude")
VECTOR_OPERATORS = ("divergence", "curl", "jacobian", "magnitude")
TIME_UNITS = {"s": 1, "ms": 1e-3, "m": 60, "h": 3600}


def has_nan(dtype: np.dtype) -> bool:
    return dtype.kind in "fcmM"


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
    for d in timed[1:]:
        kinds[d] = "nonuniform"  # one time axis at most
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
        datetime_unit = draw(st.sampled_from(list(TIME_UNITS)))
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
        own=own if op == "partial" else {},
        flow=flow,
        chunks=chunks,
        halo_source=draw(st.sampled_from(["auto", "neighbours", "reread"])),
        storage=storage,
        dataset=op not in VECTOR_OPERATORS and op != "advection" and draw(st.integers(0, 3)) == 0,
    )


@st.composite
def sphere_cases(draw: Any, budget: int = 24) -> Case:
    """A small latitude/longitude grid (poles and a whole circle of longitude now and then)."""
    op = draw(
        st.sampled_from(["partial", "gradient", "laplacian", "hessian", "divergence", "curl", "jacobian", "advection"])
    )
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    nlat, nlon = draw(st.integers(6, 11)), draw(st.integers(8, 14))
    if draw(st.booleans()):
        lat = np.linspace(-90, 90, nlat)
    else:
        lat = np.sort(rng.uniform(-80, 80, nlat))
        lat = np.unique(np.round(lat, 3))
        nlat = lat.size
    whole = draw(st.booleans())
    lon = np.arange(nlon) * (360.0 / nlon) if whole else np.linspace(10.0, 100.0, nlon)
    if draw(st.booleans()):
        lat = lat[::-1].copy()
    dims = ["lat", "lon"]
    coords: dict[str, Any] = {
        "lat": ("lat", lat, {"units": "degrees_north"}),
        "lon": ("lon", lon, {"units": "degrees_east"}),
    }
    extra = draw(st.integers(0, 2))
    if extra:
        dims = draw(st.permutations(["lat", "lon", "level"]))
        coords["level"] = ("level", np.arange(extra) * 100.0)
    sizes = {"lat": nlat, "lon": nlon, "level": extra}
    shape = tuple(sizes[d] for d in dims)
    dtype = np.dtype(draw(st.sampled_from(["float64", "float32", "complex128", "int32"])))
    nan = draw(st.sampled_from([0.0, 0.0, 0.05]))

    def make(values: np.ndarray, name: str, units: str) -> xr.DataArray:
        return xr.DataArray(values, dims=dims, coords=coords, name=name, attrs={"units": units})

    kw: dict[str, Any] = {"geometry": "sphere", "accuracy": draw(st.sampled_from([2, 4]))}
    if draw(st.booleans()):
        kw["radius"] = draw(st.sampled_from([6.371e6, 1.0, 3389.5e3]))
    kw["nan_policy"] = draw(st.sampled_from(["propagate", "omit"]))
    if draw(st.booleans()):
        kw["edge_order"] = draw(st.integers(1, kw["accuracy"]))
    args: tuple[Any, ...] = ()
    flow = None
    if op in ("divergence", "curl", "jacobian"):
        labels = draw(st.permutations(["lat", "lon"]))
        f = xr.concat([make(random_values(rng, shape, dtype, nan), "u", "m s-1") for _ in labels], "component")
        f = f.assign_coords(component=list(labels))
    else:
        f = make(random_values(rng, shape, dtype, nan), "T", "K")
    if op == "partial":
        args = (draw(st.sampled_from(["lat", "lon"])),)
    elif op == "advection":
        labels = draw(st.permutations(["lat", "lon"]))
        flow = xr.concat([make(rng.standard_normal(shape), "u", "m s-1") for _ in labels], "component")
        flow = flow.assign_coords(component=list(labels))
    chunks = chunkings(draw, {d: sizes[d] for d in dims}, budget)
    return Case(
        op=op,
        field=f,
        dims=["lat", "lon"],
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


def is_dask_clone_bug(e: Exception) -> bool:
    """dask's ``clone`` of a graph with Task values (dask/dask#12455): what a second read of an array
    sliced in memory raises when computed."""
    return "Cannot fuse tasks with multiple outputs" in str(e) or "Missing dependency" in str(e)


def outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    """``("ok", result)`` or ``("error", exception)`` for the errors a call may legitimately raise."""
    try:
        return "ok", call()
    except (ValueError, TypeError) as e:
        return "error", e


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
            warnings.simplefilter("ignore", RuntimeWarning)  # overflow of extreme integers, inf - inf
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
                try:
                    computed = actual.compute()
                except ValueError as e:
                    if case.halo_source == "reread" and is_dask_clone_bug(e):
                        reject()  # dask's bug, test_reread_halos_of_a_sliced_array_dask_clone_bug below
                    raise
        assert [d.dtype for d in data_of(computed)] == declared  # the declared dtype is the computed one
        assert_same_result(computed, expected)


@quick_and_full(cartesian_cases(), quick=36, full=400)
def test_chunked_equals_in_memory(case: Case) -> None:
    check_chunked_equals_in_memory(case)


@quick_and_full(sphere_cases(), quick=8, full=120)
def test_chunked_equals_in_memory_on_the_sphere(case: Case) -> None:
    check_chunked_equals_in_memory(case)


@pytest.mark.xfail(
    strict=True,
    raises=ValueError,
    reason="dask/dask#12455: dask.graph_manipulation.clone leaves the Task values of a getitem layer "
    "pointing at the original keys; halo_source='reread' clones the input (fieldgrad.chunked.halo_source), "
    "so a dask array sliced in memory fails when computed ('Cannot fuse tasks with multiple outputs')",
)
def test_reread_halos_of_a_sliced_array_dask_clone_bug() -> None:
    F = xr.DataArray(np.arange(32.0).reshape(2, 2, 8), dims=("c", "y", "x"), coords={"x": np.linspace(0, 1, 8)})
    u = F.chunk({"x": 1}).isel(c=0) * 2
    expected = (F.isel(c=0) * 2).grad.partial("x", nan_policy="omit")
    with fieldgrad.set_options(halo_source="reread"):
        actual = u.grad.partial("x", nan_policy="omit").compute()
    assert_same_result(actual, expected)


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
