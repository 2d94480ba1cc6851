"""The numpy kernel and the compiled kernel give bit-identical results, and the automatic choice
between them (option ``jit="auto"``) never waits for compilation.

Random stencils (uniform and non-uniform coordinates, every boundary kind, orders 1-3,
accuracies 2-8, several axes fused, float32/float64/complex/integer fields, NaNs and infs) are
applied by both kernels and compared with ``assert_array_equal``; both are also compared with
an independent ordered reference (tests/test_kernels.py) and numpy.gradient.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from test_kernels import ordered_reference  # tests/ is on sys.path (rootdir-relative imports)

from fieldgrad import kernels, set_options
from fieldgrad.coords import AxisCoord
from fieldgrad.kernels import apply_stencils, compiled
from fieldgrad.stencil import build_stencil


def _random_terms(rng: np.random.Generator, shape: tuple[int, ...]) -> list:
    terms = []
    for axis in rng.permutation(len(shape))[: rng.integers(1, len(shape) + 1)]:
        n = shape[axis]
        order = int(rng.integers(1, 4))
        accuracy = int(rng.choice([2, 4, 6, 8]))
        boundary = str(rng.choice(["one-sided", "periodic", "fill"]))
        edge_order = int(rng.integers(1, 5))
        uniform = bool(rng.random() < 0.5)
        h = float(rng.choice([0.25, 0.1, -0.3, 3.0]))
        x = np.arange(n) * h if uniform else np.cumsum(rng.uniform(0.2, 1.8, n))
        period = (abs(h) * n if uniform else x[-1] - x[0] + 0.9) if boundary == "periodic" else None
        coord = AxisCoord(values=x, spacing=h if uniform else None, period=period)
        try:
            st = build_stencil(coord, order, accuracy, edge_order, boundary, float(rng.choice([np.nan, 0.0, 2.5])))
        except ValueError:  # too few points for this stencil
            continue
        terms.append((int(axis), st))
    return terms


def _field(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    if np.dtype(dtype).kind in "iu":
        return rng.integers(-50 if dtype[0] == "i" else 0, 100, size=shape).astype(dtype)
    f = rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 4, size=shape)
    if np.dtype(dtype).kind == "c":
        f = f + 1j * rng.standard_normal(shape)
    f = f.astype(dtype)
    f[rng.random(shape) < 0.03] = np.nan
    f[rng.random(shape) < 0.01] = np.inf
    return f


def _both(f: np.ndarray, terms: list) -> tuple[np.ndarray, np.ndarray]:
    with set_options(jit="never"):
        by_numpy = apply_stencils(f, terms)
    with set_options(jit="always"):
        by_numba = apply_stencils(f, terms)
    return by_numpy, by_numba


@pytest.mark.parametrize("dtype", ["float64", "float32", "complex128", "complex64", "int16", "uint8"])
@pytest.mark.parametrize("seed", range(12))
def test_numpy_and_compiled_kernels_are_bit_identical(dtype, seed):
    rng = np.random.default_rng([seed, len(dtype)])
    shape = tuple(int(n) for n in rng.integers(4, 14, size=rng.integers(1, 4)))
    terms = _random_terms(rng, shape)
    if not terms:
        pytest.skip("no stencil fits this shape")
    f = _field(rng, shape, dtype)
    by_numpy, by_numba = _both(f, terms)
    assert by_numpy.dtype == by_numba.dtype == kernels.result_dtype(f.dtype)
    np.testing.assert_array_equal(by_numpy, by_numba)
    if np.dtype(dtype) in (np.float64, np.int16, np.uint8):  # and both equal an independent reference
        for k, (axis, st) in enumerate(terms):
            np.testing.assert_array_equal(by_numpy[k], ordered_reference(f, axis, st))
    if np.dtype(dtype).kind == "c":  # complex: the real and imaginary parts as real fields
        re, _ = _both(np.ascontiguousarray(f.real), terms)
        np.testing.assert_array_equal(by_numpy.real, re)


@pytest.mark.parametrize("shape", [(300, 301), (70, 30, 40)])
@pytest.mark.parametrize("uniform", [True, False], ids=["uniform", "nonuniform"])
def test_large_fields_bit_identical_with_threads(shape, uniform, monkeypatch):
    monkeypatch.setattr(kernels, "PARALLEL_THRESHOLD", 1 << 10)
    rng = np.random.default_rng(3)
    f = _field(rng, shape, "float64")
    terms = []
    for a, n in enumerate(shape):
        x = np.arange(n) * 0.5 if uniform else np.cumsum(rng.uniform(0.5, 1.5, n))
        terms.append((a, build_stencil(AxisCoord(values=x, spacing=0.5 if uniform else None), 1, 4, 2, "one-sided")))
    with set_options(num_threads=2, serial=False):
        by_numpy, by_numba = _both(f, terms)
    np.testing.assert_array_equal(by_numpy, by_numba)


@pytest.mark.parametrize("edge_order", [1, 2])
@pytest.mark.parametrize("uniform", [True, False], ids=["uniform", "nonuniform"])
def test_both_kernels_are_numpy_gradient_bit_for_bit(edge_order, uniform):
    import fieldgrad

    rng = np.random.default_rng(5)
    f = rng.standard_normal((40, 37)) * 1e3
    x = np.arange(40) * 0.1 if uniform else np.cumsum(rng.uniform(0.05, 0.2, 40))
    y = np.arange(37) * 0.37 if uniform else np.cumsum(rng.uniform(0.2, 0.6, 37))
    want = np.gradient(f, x, y, edge_order=edge_order)
    for jit in ("never", "always"):
        with set_options(jit=jit):
            got = fieldgrad.gradient(f, x, y, edge_order=edge_order)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


def test_auto_uses_numpy_for_small_fields_and_never_waits_for_compilation(monkeypatch):
    """jit="auto": a small call never starts a compilation; a large call starts one in the background
    and is served by the numpy kernel until the compiled one is ready (same numbers either way)."""
    started = []
    monkeypatch.setattr(compiled, "compile_in_background", lambda *a: started.append(a))
    monkeypatch.setattr(compiled, "_ready", set())  # as in a fresh process
    monkeypatch.setattr(kernels, "_numpy_calls", 0)
    st = build_stencil(AxisCoord(values=np.arange(8.0), spacing=1.0), 1, 2, 2, "one-sided")
    with set_options(jit="auto"):
        small = apply_stencils(np.ones((4, 8)), [(1, st)])
        assert started == []
        big = np.random.default_rng(0).standard_normal((kernels.COMPILED_MIN_SIZE // 8 + 1, 8))
        got = apply_stencils(big, [(1, st)])
        assert [a[0] for a in started] == [np.dtype(np.float64)]
    np.testing.assert_array_equal(small, 0.0)
    with set_options(jit="auto"):  # many small calls start it too
        for _ in range(kernels._NUMPY_CALLS_BEFORE_COMPILING):
            apply_stencils(np.ones((4, 8)), [(1, st)])
    assert len(started) >= 2
    with set_options(jit="always"):
        np.testing.assert_array_equal(got, apply_stencils(big, [(1, st)]))


def test_read_only_integer_and_boolean_fields_compile_nothing_more_than_float64(monkeypatch):
    """numba types read-only arrays apart from writable ones: the kernel must see one kind only, or a
    read-only field (from xarray, zarr, ``np.broadcast_to``) would compile a new signature, and wait
    for it, in a call where the dtype's kernel is ready. Integer and boolean fields are computed by
    the float64 kernel: no compilation per integer dtype."""
    with set_options(jit="always"):  # float64's kernel ready
        apply_stencils(np.ones((4, 8)), [(1, build_stencil(AxisCoord(np.arange(8.0), 1.0), 1, 2, 2, "one-sided"))])
    signatures = list(compiled.kernel().signatures)
    f = np.random.default_rng(5).standard_normal((30, 40))
    frozen = f.copy()
    frozen.flags.writeable = False
    terms = [(0, build_stencil(AxisCoord(np.arange(30.0), 1.0), 1, 2, 2, "one-sided"))]
    terms.append((1, build_stencil(AxisCoord(np.arange(40.0), 1.0), 1, 2, 2, "one-sided")))
    started = []
    monkeypatch.setattr(compiled, "compile_in_background", lambda *a: started.append(a))
    monkeypatch.setattr(kernels, "_numpy_calls", kernels._NUMPY_CALLS_BEFORE_COMPILING)  # any dtype not ready asks
    with set_options(jit="auto"):
        integers = (f * 100).astype(np.int16)
        for field in (f, frozen, np.broadcast_to(f[:1], f.shape), integers, integers.T.copy().T, f > 0):
            got = apply_stencils(field, terms)
            with set_options(jit="never"):
                np.testing.assert_array_equal(got, apply_stencils(field, terms))
    assert started == []  # no other dtype's kernel was asked for
    # and none was ever compiled in this process (a background compilation of float32 may add that one)
    for signature in compiled.kernel().signatures:
        field_type = signature[0]
        assert str(field_type.dtype) in ("float32", "float64") and not field_type.mutable, signature
    assert set(signatures) <= set(compiled.kernel().signatures)
    assert f.flags.writeable  # the caller's array is left as it was


_FRESH = textwrap.dedent("""
    import sys, time
    import numpy as np
    import fieldgrad
    from fieldgrad.kernels import compiled
    f = np.random.default_rng(0).standard_normal((600, 600))
    first = fieldgrad.gradient(f)              # large: starts the compilation, computed by numpy
    assert "fieldgrad-jit" in [t.name for t in __import__("threading").enumerate()] or compiled.ready(f.dtype)
    for _ in range(600):                        # the compiled kernel takes over once ready
        if compiled.ready(f.dtype):
            break
        time.sleep(0.1)
    assert compiled.ready(f.dtype)
    again = fieldgrad.gradient(f)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    print("ok", "numba" in sys.modules)
""")


@pytest.mark.slow  # a fresh interpreter, compiling or loading the kernel
def test_fresh_process_switches_to_the_compiled_kernel():
    out = subprocess.run(
        [sys.executable, "-c", _FRESH],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "FIELDGRAD_JIT": "auto"},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["ok", "True"]


@pytest.mark.slow  # a fresh interpreter
def test_jit_never_does_not_import_numba():
    code = (
        "import sys, numpy as np, fieldgrad\n"
        "fieldgrad.gradient(np.random.default_rng(0).standard_normal((400, 400)))\n"
        "print('numba' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "FIELDGRAD_JIT": "never"},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False"]


_FORK = textwrap.dedent("""
    import os, sys
    import numpy as np
    import fieldgrad
    from fieldgrad.kernels import compiled
    f = np.random.default_rng(0).standard_normal((400, 400))
    want = np.gradient(f)
    fieldgrad.gradient(f)                       # starts the background compilation
    pid = os.fork()                             # while it runs (or just after)
    if pid == 0:
        got = fieldgrad.gradient(f)             # the child never waits for a compiler lock
        os._exit(0 if all(np.array_equal(a, b) for a, b in zip(got, want)) else 3)
    _, status = os.waitpid(pid, 0)
    print(os.waitstatus_to_exitcode(status))
""")


@pytest.mark.slow  # a fresh interpreter and a fork
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_fork_during_background_compilation():
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", _FORK],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "FIELDGRAD_JIT": "auto"},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["0"]
