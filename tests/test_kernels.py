"""The fused stencil kernel (:mod:`fieldgrad.kernels`) against independent references.

* a dense-matrix reference: ``AxisStencil.dense()`` applied along the axis with ``np.tensordot``
  (values to round-off; NaN where the stencil's sparsity pattern touches a NaN);
* an ordered reference in plain numpy that sums the terms of every point in stencil order and
  divides once, as the kernels promise: float64 results must be *bitwise* equal to it (no
  reassociation, no FMA);
* the numpy kernel, the compiled one in one thread and in several must be bitwise equal
  (the ``mode`` fixture runs each test with each; tests/test_kernel_paths.py compares them
  directly over random stencils and dtypes).
"""

from __future__ import annotations

import multiprocessing
import os
from itertools import combinations

import numpy as np
import pytest

from fieldgrad import kernels, set_options
from fieldgrad.coords import AxisCoord
from fieldgrad.kernels import apply_stencil, apply_stencils, result_dtype, serial_kernels
from fieldgrad.options import OPTIONS
from fieldgrad.stencil import AxisStencil, build_stencil

RNG = np.random.default_rng(20261122)
SENTINEL = 1234.5  # prefilled into out=: must be overwritten everywhere


# ------------------------------------------------------------------------------------------
# references
# ------------------------------------------------------------------------------------------


def make_stencil(
    n: int,
    *,
    uniform: bool = True,
    order: int = 1,
    accuracy: int = 2,
    edge_order: int = 2,
    boundary: str = "one-sided",
    fill_value: float = np.nan,
    seed: int = 0,
) -> AxisStencil:
    rng = np.random.default_rng(seed + n)
    if uniform:
        h = 0.25
        x = np.arange(n) * h
        period = n * h if boundary == "periodic" else None
    else:
        d = rng.uniform(0.2, 1.8, n)
        x = np.cumsum(d)
        h = None
        period = x[-1] - x[0] + 0.7 if boundary == "periodic" else None  # the wrap-around gap is 0.7
    return build_stencil(
        AxisCoord(values=x, spacing=h, period=period), order, accuracy, edge_order, boundary, fill_value
    )


def pattern(st: AxisStencil) -> np.ndarray:
    """(n, n) bool: which inputs the kernel reads for each output (zero band weights of uniform
    axes and zero edge weights were dropped when the stencil was built)."""
    p = np.zeros((st.n, st.n), dtype=bool)
    i = np.arange(st.lo, st.hi)
    for off in st.offsets:
        p[i, i + off] = True
    for r, row in enumerate(st.edge_rows):
        p[row, st.edge_idx[st.edge_ptr[r] : st.edge_ptr[r + 1]]] = True
    return p


def along(mat: np.ndarray, values: np.ndarray, axis: int) -> np.ndarray:
    return np.moveaxis(np.tensordot(mat, values, axes=([1], [axis])), 0, axis)


def dense_reference(values: np.ndarray, axis: int, st: AxisStencil) -> np.ndarray:
    """The stencil as a dense matrix along ``axis`` (complex128 or float64), NaN where it touches NaN."""
    v = np.asarray(values)
    v = v.astype(np.complex128 if v.dtype.kind == "c" else np.float64)
    nan = np.isnan(v)
    ref = along(st.dense(), np.where(nan, 0, v), axis)
    touched = along(pattern(st).astype(np.float64), nan.astype(np.float64), axis) > 0
    ref[touched] = np.nan
    const_nan = np.zeros(st.n, dtype=bool)
    const_nan[st.edge_rows] = np.isnan(st.edge_const)
    shape = [1] * v.ndim
    shape[axis] = st.n
    ref[np.broadcast_to(const_nan.reshape(shape), ref.shape)] = np.nan
    # finite fill values: rows without terms are their constant
    for r, row in enumerate(st.edge_rows):
        if st.edge_ptr[r] == st.edge_ptr[r + 1] and not np.isnan(st.edge_const[r]):
            idx = [slice(None)] * v.ndim
            idx[axis] = row
            ref[tuple(idx)] = st.edge_const[r]
    return ref


@np.errstate(invalid="ignore", over="ignore")  # inf - inf is NaN, silently, as in the kernels
def ordered_reference(values: np.ndarray, axis: int, st: AxisStencil) -> np.ndarray:
    """Every point's terms summed in stencil order in float64, then divided once, as the kernels do."""
    v = np.moveaxis(np.asarray(values, dtype=np.float64), axis, 0)
    out = np.empty_like(v)
    i = np.arange(st.lo, st.hi)
    if i.size:
        acc = None
        for k, off in enumerate(st.offsets):
            w = st.weights[k, 0] if st.uniform else st.weights[k, i]
            term = (w.reshape((-1,) + (1,) * (v.ndim - 1)) if np.ndim(w) else w) * v[i + off]
            acc = term if acc is None else acc + term
        out[i] = acc / st.band_div
    for r, row in enumerate(st.edge_rows):
        acc = np.full(v.shape[1:], st.edge_const[r])
        for p in range(st.edge_ptr[r], st.edge_ptr[r + 1]):
            acc = acc + st.edge_w[p] * v[st.edge_idx[p]]
        out[row] = acc / st.edge_div[r]
    return np.moveaxis(out, 0, axis)


def assert_close(actual: np.ndarray, expected: np.ndarray, rtol: float) -> None:
    assert actual.shape == expected.shape
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    finite = np.isfinite(expected)
    scale = float(np.abs(expected[finite]).max()) if finite.any() else 1.0
    np.testing.assert_allclose(actual[finite], expected[finite], rtol=0, atol=rtol * max(scale, 1e-300))


def tol(dtype: np.dtype) -> float:
    """Relative tolerance for results of a field of ``dtype``: single or double precision."""
    return 2e-6 if result_dtype(dtype) in (np.float32, np.complex64) else 1e-12


@pytest.fixture(params=["numpy", "serial", "threads"])
def mode(request, monkeypatch):
    """The numpy kernel; the compiled kernel in the calling thread; or the compiled kernel split
    between threads even for small arrays."""
    monkeypatch.setitem(OPTIONS, "jit", "never" if request.param == "numpy" else "always")
    if request.param == "threads":
        monkeypatch.setattr(kernels, "PARALLEL_THRESHOLD", 0)
        monkeypatch.setattr(kernels, "_CHUNK_ELEMENTS", 64)  # many small chunks
        monkeypatch.setitem(OPTIONS, "num_threads", 3)
        monkeypatch.setitem(OPTIONS, "serial", False)
    else:
        monkeypatch.setitem(OPTIONS, "serial", True)
    return request.param


# ------------------------------------------------------------------------------------------
# dense reference: all axes, 1-D to 4-D, size-1 dims, uniform and non-uniform, boundaries
# ------------------------------------------------------------------------------------------

SHAPES = [(9,), (7, 6), (1, 8), (6, 1), (5, 6, 7), (1, 5, 1, 6), (4, 5, 3, 6), (3, 1, 4, 1), (40, 3, 33)]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("uniform", [True, False], ids=["uniform", "nonuniform"])
def test_all_axes_fused_match_dense(shape, uniform, mode):
    f = RNG.standard_normal(shape)
    axes = [a for a in range(len(shape)) if shape[a] >= 3]
    terms = [(a, make_stencil(shape[a], uniform=uniform, seed=a)) for a in axes]
    if not terms:
        pytest.skip("no axis long enough")
    out = apply_stencils(f, terms)
    assert out.shape == (len(terms),) + shape and out.dtype == np.float64 and out.flags.c_contiguous
    # every output element is written (a sentinel in out= does not survive)
    np.testing.assert_array_equal(apply_stencils(f, terms, out=np.full(out.shape, SENTINEL)), out)
    for k, (a, st) in enumerate(terms):
        assert_close(out[k], dense_reference(f, a, st), 1e-12)
        np.testing.assert_array_equal(out[k], ordered_reference(f, a, st))  # bitwise
    # every subset of axes, in any order, gives the same numbers as the full call
    for r in range(1, len(terms)):
        for sub in combinations(range(len(terms)), r):
            part = apply_stencils(f, [terms[k] for k in reversed(sub)])
            for j, k in enumerate(reversed(sub)):
                np.testing.assert_array_equal(part[j], out[k])


@pytest.mark.parametrize("boundary", ["one-sided", "periodic", "fill"])
@pytest.mark.parametrize("uniform", [True, False], ids=["uniform", "nonuniform"])
@pytest.mark.parametrize(
    "order,accuracy,edge_order", [(1, 2, 1), (1, 2, 2), (1, 4, 4), (2, 2, 2), (1, 6, 3), (3, 4, 2), (1, 8, 8)]
)
def test_stencil_kinds_match_dense(boundary, uniform, order, accuracy, edge_order, mode):
    shape = (13, 4, 17)
    f = RNG.standard_normal(shape)
    terms = [
        (
            a,
            make_stencil(
                shape[a],
                uniform=uniform,
                order=order,
                accuracy=accuracy,
                edge_order=edge_order,
                boundary=boundary,
                seed=a,
            ),
        )
        for a in (0, 2)
    ]
    out = apply_stencils(f, terms, out=np.full((2,) + shape, SENTINEL))
    for k, (a, st) in enumerate(terms):
        assert_close(out[k], dense_reference(f, a, st), 1e-11)
        np.testing.assert_array_equal(out[k], ordered_reference(f, a, st))


@pytest.mark.parametrize("fill_value", [np.nan, 0.0, -7.5])
def test_fill_values(fill_value, mode):
    f = RNG.standard_normal((6, 9))
    st = make_stencil(9, boundary="fill", fill_value=fill_value, accuracy=4)
    got = apply_stencil(f, st, axis=1)
    np.testing.assert_array_equal(got[:, :2], np.full((6, 2), fill_value))
    np.testing.assert_array_equal(got[:, -2:], np.full((6, 2), fill_value))
    assert_close(got[:, 2:-2], dense_reference(f, 1, st)[:, 2:-2], 1e-12)


def test_same_axis_twice_and_negative_axes(mode):
    f = RNG.standard_normal((8, 9, 10))
    s1 = make_stencil(10)
    s2 = make_stencil(10, order=2, accuracy=4, uniform=False)
    out = apply_stencils(f, [(-1, s1), (2, s2), (0, make_stencil(8))])
    assert_close(out[0], dense_reference(f, 2, s1), 1e-12)
    assert_close(out[1], dense_reference(f, 2, s2), 1e-12)
    assert_close(out[2], dense_reference(f, 0, make_stencil(8)), 1e-12)


def test_inner_axis_only_rows_are_pieces(mode):
    """The last differentiated axis is not the array's last: rows are whole trailing blocks."""
    f = RNG.standard_normal((7, 5, 3, 4))
    terms = [(0, make_stencil(7, uniform=False)), (2, make_stencil(3, edge_order=1))]
    out = apply_stencils(f, terms)
    for k, (a, st) in enumerate(terms):
        np.testing.assert_array_equal(out[k], ordered_reference(f, a, st))


def test_long_rows_split_in_blocks(mode, monkeypatch):
    """Rows longer than a block, and few rows: tasks are pieces of rows; the last axis' band and
    its boundary rows must be right at every piece boundary."""
    monkeypatch.setattr(kernels, "_BLOCK", 7)
    for shape in [(3, 50), (50,), (5, 3, 41)]:
        f = RNG.standard_normal(shape)
        terms = [
            (a, make_stencil(shape[a], uniform=bool(a % 2), accuracy=4, boundary="periodic"))
            for a in range(len(shape))
            if shape[a] >= 5
        ]
        out = apply_stencils(f, terms, out=np.full((len(terms),) + shape, SENTINEL))
        for k, (a, st) in enumerate(terms):
            np.testing.assert_array_equal(out[k], ordered_reference(f, a, st))


# ------------------------------------------------------------------------------------------
# dtypes
# ------------------------------------------------------------------------------------------

DTYPES = [
    "int8",
    "uint8",
    "int32",
    "int64",
    "uint64",
    "bool",
    "float16",
    "float32",
    "float64",
    "complex64",
    "complex128",
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("uniform", [True, False], ids=["uniform", "nonuniform"])
def test_dtypes(dtype, uniform, mode):
    shape = (6, 7, 8)
    if dtype == "bool":
        f = RNG.random(shape) > 0.5
    elif np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        f = RNG.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
    elif np.dtype(dtype).kind == "c":
        f = (RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)).astype(dtype)
    else:
        f = RNG.standard_normal(shape).astype(dtype)
    terms = [(a, make_stencil(shape[a], uniform=uniform, seed=a)) for a in range(3)]
    out = apply_stencils(f, terms)
    assert out.dtype == result_dtype(f.dtype)
    exact = f.astype(np.complex128 if f.dtype.kind == "c" else np.float64)  # the input's exact values
    for k, (a, st) in enumerate(terms):
        assert_close(out[k], dense_reference(exact, a, st), tol(f.dtype))
    if f.dtype.kind in "biu":  # computed in float64 from the exact integers: no wrap-around
        for k, (a, st) in enumerate(terms):
            np.testing.assert_array_equal(out[k], ordered_reference(exact, a, st))


def test_result_dtype_rules():
    assert result_dtype(np.dtype("int16")) == np.float64
    assert result_dtype(np.dtype("bool")) == np.float64
    assert result_dtype(np.dtype("float16")) == np.float32
    assert result_dtype(np.dtype("float32")) == np.float32
    assert result_dtype(np.dtype("float64")) == np.float64
    assert result_dtype(np.dtype("complex64")) == np.complex64
    assert result_dtype(np.dtype("complex128")) == np.complex128
    for bad in ("O", "U3", "M8[s]"):
        for _ in range(2):  # answers are kept: asked again, still an error
            with pytest.raises(TypeError, match="numeric"):
                result_dtype(np.dtype(bad))
    # answers are kept per dtype; a type, a string or another byte order get the same rule
    for given, want in ((np.int8, np.float64), ("f2", np.float32), (np.dtype(">f4"), np.float32), (float, np.float64)):
        assert result_dtype(given) == want
        assert result_dtype(given) == want


# ------------------------------------------------------------------------------------------
# NaN propagation
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("uniform", [True, False], ids=["uniform", "nonuniform"])
@pytest.mark.parametrize("boundary", ["one-sided", "periodic"])
def test_nan_spoils_exactly_the_points_whose_stencil_touches_it(uniform, boundary, mode):
    shape = (9, 10, 11)
    f = RNG.standard_normal(shape)
    f[RNG.random(shape) < 0.02] = np.nan
    f[0, 0, 0] = f[4, 5, 10] = f[8, 9, 1] = np.nan
    terms = [(a, make_stencil(shape[a], uniform=uniform, boundary=boundary, seed=a)) for a in range(3)]
    out = apply_stencils(f, terms)
    for k, (a, st) in enumerate(terms):
        touched = along(pattern(st).astype(float), np.isnan(f).astype(float), a) > 0
        np.testing.assert_array_equal(np.isnan(out[k]), touched)
        np.testing.assert_array_equal(out[k], ordered_reference(f, a, st))


def test_nan_at_the_centre_of_a_uniform_first_derivative_is_not_read(mode):
    """Uniform accuracy-2 first derivative: the centre weight is zero and dropped, as numpy does."""
    f = np.arange(7.0) ** 2
    f[3] = np.nan
    got = apply_stencil(f, make_stencil(7), axis=0)
    assert not np.isnan(got[3])
    np.testing.assert_array_equal(np.isnan(got), np.isnan(np.gradient(f, 0.25, edge_order=2)))


def test_inf_propagates(mode):
    f = RNG.standard_normal((5, 6))
    f[2, 3] = np.inf
    st = make_stencil(6, uniform=False)
    out = apply_stencil(f, st, axis=1)
    np.testing.assert_array_equal(out, ordered_reference(f, 1, st))
    assert not np.isfinite(out[2, 2:5]).any()


# ------------------------------------------------------------------------------------------
# threads, layouts, out=, errors
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("uniform", [True, False], ids=["uniform", "nonuniform"])
def test_threads_bitwise_equal_to_serial(uniform, monkeypatch):
    shape = (66, 65, 64)  # above PARALLEL_THRESHOLD: the threaded path by default
    assert np.prod(shape) >= kernels.PARALLEL_THRESHOLD
    f = RNG.standard_normal(shape)
    terms = [(a, make_stencil(shape[a], uniform=uniform, seed=a)) for a in range(3)]
    monkeypatch.setitem(OPTIONS, "serial", False)
    monkeypatch.setitem(OPTIONS, "num_threads", 4)
    monkeypatch.setitem(OPTIONS, "jit", "always")
    threaded = apply_stencils(f, terms)
    with serial_kernels():
        serial = apply_stencils(f, terms)
    with set_options(serial=True):
        env_serial = apply_stencils(f, terms)
    np.testing.assert_array_equal(threaded, serial)
    np.testing.assert_array_equal(env_serial, serial)
    for k, (a, st) in enumerate(terms):
        np.testing.assert_array_equal(serial[k], ordered_reference(f, a, st))


def test_serial_kernels_context_is_per_thread_and_nests():
    assert not getattr(kernels.threads._local, "serial", False)
    with serial_kernels():
        assert kernels.threads._local.serial
        with serial_kernels():
            assert kernels.threads._local.serial
        assert kernels.threads._local.serial
    assert not kernels.threads._local.serial


def test_num_threads_option():
    with set_options(num_threads=1):
        assert kernels.threads.num_threads() == 1
    with set_options(num_threads=100000):
        assert kernels.threads.num_threads() == len(os.sched_getaffinity(0))
    with set_options(num_threads=None):
        assert kernels.threads.num_threads() == len(os.sched_getaffinity(0))


def test_non_contiguous_input_and_input_untouched(mode):
    base = RNG.standard_normal((12, 10, 14))
    f = base[::2, :, 1:-1].transpose(2, 0, 1)  # neither C- nor F-contiguous
    keep = base.copy()
    terms = [(a, make_stencil(f.shape[a], uniform=a != 1, seed=a)) for a in range(3)]
    out = apply_stencils(f, terms)
    np.testing.assert_array_equal(base, keep)
    for k, (a, st) in enumerate(terms):
        np.testing.assert_array_equal(out[k], ordered_reference(np.ascontiguousarray(f), a, st))


def test_out_parameter(mode):
    f = RNG.standard_normal((5, 6))
    terms = [(0, make_stencil(5)), (1, make_stencil(6))]
    out = np.full((2, 5, 6), 99.0)
    res = apply_stencils(f, terms, out=out)
    assert res is out
    np.testing.assert_array_equal(out, apply_stencils(f, terms))
    with pytest.raises(ValueError, match="C-contiguous float64 array of shape"):
        apply_stencils(f, terms, out=np.empty((2, 5, 6), dtype=np.float32))
    with pytest.raises(ValueError, match="shape"):
        apply_stencils(f, terms, out=np.empty((3, 5, 6)))
    with pytest.raises(ValueError, match="C-contiguous"):
        apply_stencils(f, terms, out=np.empty((2, 6, 5)).transpose(0, 2, 1))


def test_stencil_length_mismatch():
    with pytest.raises(ValueError, match="stencil is for 5 points but axis 1 has 6"):
        apply_stencils(np.zeros((5, 6)), [(1, make_stencil(5))])


def test_axis_out_of_bounds_is_an_error_not_a_wrap_around():
    f = np.random.default_rng(3).normal(size=(5, 5))
    for axis in (2, -3):
        with pytest.raises(ValueError, match=f"axis {axis} is out of bounds for an array of dimension 2"):
            apply_stencils(f, [(axis, make_stencil(5))])
    # a negative axis counts from the end, as in numpy
    np.testing.assert_array_equal(apply_stencils(f, [(-1, make_stencil(5))]), apply_stencils(f, [(1, make_stencil(5))]))


def test_empty_array_and_no_terms():
    out = apply_stencils(np.zeros((0, 5)), [(1, make_stencil(5))])
    assert out.shape == (1, 0, 5)
    out = apply_stencils(np.zeros((4, 5)), [])
    assert out.shape == (0, 4, 5)


def _child(conn):  # pragma: no cover - runs in a forked child
    f = np.random.default_rng(0).standard_normal((70, 64, 64))
    st = make_stencil(64)
    out = apply_stencils(f, [(1, st), (2, st)])
    conn.send(bool(np.array_equal(out[0], ordered_reference(f, 1, st))))


@pytest.mark.slow  # starts a process
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_threads_work_after_fork(monkeypatch):
    """The worker threads are recreated in a forked child (no hang, right numbers)."""
    monkeypatch.setitem(OPTIONS, "serial", False)
    monkeypatch.setitem(OPTIONS, "num_threads", 2)
    monkeypatch.setitem(OPTIONS, "jit", "always")
    f = RNG.standard_normal((70, 64, 64))
    apply_stencils(f, [(2, make_stencil(64))])  # the parent's pool exists
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe()
    p = ctx.Process(target=_child, args=(child,))
    p.start()
    assert parent.poll(120), "the forked child did not finish"
    assert parent.recv() is True
    p.join(30)
    assert p.exitcode == 0


def test_concurrent_callers_share_the_worker_threads(monkeypatch):
    """Several user threads calling at once: every call finishes with the right numbers."""
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setitem(OPTIONS, "serial", False)
    monkeypatch.setitem(OPTIONS, "jit", "always")
    monkeypatch.setattr(kernels, "PARALLEL_THRESHOLD", 0)
    monkeypatch.setattr(kernels, "_CHUNK_ELEMENTS", 256)
    fields = [RNG.standard_normal((20, 30, 40)) for _ in range(6)]
    terms = [(a, make_stencil((20, 30, 40)[a], uniform=a == 1, seed=a)) for a in range(3)]
    with ThreadPoolExecutor(4) as ex:
        results = list(ex.map(lambda f: apply_stencils(f, terms), fields))
    for f, out in zip(fields, results, strict=True):
        for k, (a, st) in enumerate(terms):
            np.testing.assert_array_equal(out[k], ordered_reference(f, a, st))


# ------------------------------------------------------------------------------------------
# reuse of large output buffers
# ------------------------------------------------------------------------------------------


@pytest.fixture
def reuse(monkeypatch):
    monkeypatch.setitem(OPTIONS, "serial", False)
    monkeypatch.setitem(OPTIONS, "reuse_buffers", True)
    monkeypatch.setattr(kernels.buffers, "REUSE_MIN_BYTES", 1 << 16)
    monkeypatch.setattr(kernels, "PARALLEL_THRESHOLD", 1 << 10)
    # idle buffers are released after REUSE_IDLE_SECONDS (5 s): on a loaded machine a test could
    # be paused that long between freeing an output and asking for it again
    monkeypatch.setattr(kernels.buffers, "REUSE_IDLE_SECONDS", 60.0)
    kernels.release_buffers()
    yield
    kernels.release_buffers()


def _address(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


def test_freed_outputs_are_reused_and_fully_overwritten(reuse):
    import gc

    f = RNG.standard_normal((30, 20, 40))
    terms = [(a, make_stencil(f.shape[a], uniform=a != 2, seed=a)) for a in range(3)]
    first = apply_stencils(f, terms)
    expected = first.copy()
    addr = _address(first)
    first[...] = SENTINEL  # what a user might leave in it
    del first
    gc.collect()
    assert kernels.buffers._buffers.idle_bytes() >= expected.nbytes
    again = apply_stencils(f, terms)
    assert _address(again) == addr  # the same memory
    np.testing.assert_array_equal(again, expected)
    assert again.flags.c_contiguous and again.flags.writeable and again.dtype == np.float64


def test_outputs_alive_or_viewed_are_never_reused(reuse):
    import gc

    f = RNG.standard_normal((30, 20, 40))
    terms = [(a, make_stencil(f.shape[a])) for a in range(3)]
    a = apply_stencils(f, terms)
    view = a[1, 3]  # a view keeps the whole buffer
    addr = _address(a)
    del a
    gc.collect()
    b = apply_stencils(f, terms)
    assert _address(b) != addr
    view[...] = 7.0  # still the user's memory
    np.testing.assert_array_equal(b, apply_stencils(f, terms))


def test_idle_buffers_are_released(reuse, monkeypatch):
    import gc
    import time

    monkeypatch.setattr(kernels.buffers, "REUSE_IDLE_SECONDS", 60.0)
    f = RNG.standard_normal((30, 20, 40))
    out = apply_stencils(f, [(0, make_stencil(30))])
    del out
    gc.collect()
    assert kernels.buffers._buffers.idle_bytes() > 0
    monkeypatch.setattr(kernels.buffers, "REUSE_IDLE_SECONDS", 0.2)
    time.sleep(0.5)
    assert kernels.buffers._buffers.idle_bytes() == 0
    monkeypatch.setattr(kernels.buffers, "REUSE_MAX_IDLE_BYTES", 100)  # a cap below one buffer: none kept
    monkeypatch.setattr(kernels.buffers, "REUSE_IDLE_SECONDS", 60.0)
    out = apply_stencils(f, [(0, make_stencil(30))])
    del out
    gc.collect()
    assert kernels.buffers._buffers.idle_bytes() == 0


def test_reuse_off_or_small_allocates_plainly(reuse, monkeypatch):
    f = RNG.standard_normal((30, 20, 40))
    terms = [(0, make_stencil(30))]
    assert apply_stencils(f, terms).base is not None  # the reusable kind: a view of a holder
    with set_options(reuse_buffers=False):
        assert apply_stencils(f, terms).base is None
    with serial_kernels():  # dask blocks reuse too: they are freed as soon as they are reduced or stored
        assert apply_stencils(f, terms).base is not None
    assert apply_stencils(f[:4, :4, :4], [(0, make_stencil(4))]).base is None  # small
