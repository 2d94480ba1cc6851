"""``fieldgrad.gradient`` against :func:`numpy.gradient` (SPEC §5).

numpy is the independent reference: every numeric result is compared with ``np.gradient`` on the
same input to ~1e-13 relative to the largest value ("bitwise-close"), and every error with
numpy's exception type and message.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import dask.array as dsa
import numpy as np
import pytest

import fieldgrad

RTOL = 1e-13


def assert_bitwise_close(actual: Any, expected: Any, rtol: float = RTOL) -> None:
    """Equal to ``rtol`` times max|expected|, NaN in the same places, same shape."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape
    finite = np.isfinite(expected)
    scale = float(np.max(np.abs(expected[finite]))) if finite.any() else 1.0
    np.testing.assert_allclose(actual, expected, rtol=0, atol=rtol * max(scale, 1e-300), equal_nan=True)


def assert_same_result(actual: Any, expected: Any, rtol: float = RTOL) -> None:
    """Same return type (ndarray or tuple of them), dtype and values as numpy."""
    if isinstance(expected, tuple):
        assert isinstance(actual, tuple), f"numpy returns a tuple, fieldgrad returned {type(actual)}"
        assert len(actual) == len(expected)
        for a, e in zip(actual, expected, strict=True):
            assert_same_result(a, e, rtol)
        return
    assert isinstance(actual, np.ndarray), f"expected an ndarray, got {type(actual)}"
    assert actual.dtype == expected.dtype
    assert_bitwise_close(actual, expected, rtol)


def assert_same_error(numpy_call: Callable[[], Any], ours: Callable[[], Any]) -> None:
    """fieldgrad raises numpy's exception type with numpy's message."""
    with pytest.raises(Exception) as np_err:  # noqa: PT011 - whatever numpy raises; compared below
        numpy_call()
    with pytest.raises(type(np_err.value), match=re.escape(str(np_err.value))):
        ours()


def smooth_field(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    grids = np.meshgrid(*[np.linspace(0, 1, n) for n in shape], indexing="ij")
    f = sum(np.sin((k + 1.3) * g) for k, g in enumerate(grids))
    return f + 0.1 * rng.standard_normal(shape)


def nonuniform_coord(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.uniform(0.2, 1.5, n)) - 3.0


# ---------------------------------------------------------------------------------------------
# numpy's own documented examples


def test_numpy_docstring_examples() -> None:
    f = np.array([1, 2, 4, 7, 11, 16])
    assert_same_result(fieldgrad.gradient(f), np.gradient(f))
    np.testing.assert_array_equal(fieldgrad.gradient(f), [1.0, 1.5, 2.5, 3.5, 4.5, 5.0])
    assert_same_result(fieldgrad.gradient(f, 2), np.gradient(f, 2))
    np.testing.assert_array_equal(fieldgrad.gradient(f, 2), [0.5, 0.75, 1.25, 1.75, 2.25, 2.5])
    x = np.arange(f.size)
    assert_same_result(fieldgrad.gradient(f, x), np.gradient(f, x))
    x = np.array([0.0, 1.0, 1.5, 3.5, 4.0, 6.0])
    assert_same_result(fieldgrad.gradient(f, x), np.gradient(f, x))
    np.testing.assert_allclose(fieldgrad.gradient(f, x), [1.0, 3.0, 3.5, 6.7, 6.9, 2.5], rtol=1e-14)

    a = np.array([[1, 2, 6], [3, 4, 5]])
    assert_same_result(fieldgrad.gradient(a), np.gradient(a))
    dx, y = 2.0, [1.0, 1.5, 3.5]
    assert_same_result(fieldgrad.gradient(a, dx, y), np.gradient(a, dx, y))
    np.testing.assert_allclose(fieldgrad.gradient(a, dx, y)[1], [[2.0, 2.0, 2.0], [2.0, 1.7, 0.5]], rtol=1e-14)

    x = np.array([0, 1, 2, 3, 4])
    for eo in (1, 2):
        assert_same_result(fieldgrad.gradient(x**2, edge_order=eo), np.gradient(x**2, edge_order=eo))
    np.testing.assert_array_equal(fieldgrad.gradient(x**2, edge_order=1), [1.0, 2.0, 4.0, 6.0, 7.0])
    np.testing.assert_array_equal(fieldgrad.gradient(x**2, edge_order=2), [0.0, 2.0, 4.0, 6.0, 8.0])
    assert_same_result(fieldgrad.gradient(a, axis=0), np.gradient(a, axis=0))

    x = np.array([0.0, 2.0, 3.0, 6.0, 8.0])
    assert_same_result(fieldgrad.gradient(x**2, x, edge_order=2), np.gradient(x**2, x, edge_order=2))
    np.testing.assert_allclose(fieldgrad.gradient(x**2, x, edge_order=2), [0.0, 4.0, 6.0, 12.0, 16.0], atol=1e-13)
    x = np.array([0.0, 2.0, 4.0, 6.0, 8.0])
    assert_same_result(fieldgrad.gradient(x**2, 2, edge_order=2), np.gradient(x**2, 2, edge_order=2))

    dx, dy = 2, 3
    xs, ys = np.meshgrid(np.arange(0, 6, dx), np.arange(0, 9, dy))
    zs = xs + 2 * ys
    assert_same_result(fieldgrad.gradient(zs, dy, dx), np.gradient(zs, dy, dx))
    assert_same_result(fieldgrad.gradient(zs, np.arange(0, 9, dy), dx), np.gradient(zs, np.arange(0, 9, dy), dx))


# ---------------------------------------------------------------------------------------------
# spacing: scalar, 1-D coordinates (non-uniform and exactly uniform), any number of dims


@pytest.mark.parametrize("edge_order", [1, 2])
@pytest.mark.parametrize("shape", [(7,), (5, 6), (4, 3, 5), (3, 4, 3, 5)])
def test_unit_spacing_all_axes(shape: tuple[int, ...], edge_order: int) -> None:
    f = smooth_field(shape)
    assert_same_result(fieldgrad.gradient(f, edge_order=edge_order), np.gradient(f, edge_order=edge_order))


@pytest.mark.parametrize("edge_order", [1, 2])
@pytest.mark.parametrize("shape", [(9,), (6, 7), (4, 5, 6), (3, 4, 3, 5)])
def test_scalar_spacing(shape: tuple[int, ...], edge_order: int) -> None:
    f = smooth_field(shape, seed=1)
    assert_same_result(fieldgrad.gradient(f, 0.37, edge_order=edge_order), np.gradient(f, 0.37, edge_order=edge_order))
    spacings = [0.1 * (k + 1) for k in range(len(shape))]
    assert_same_result(
        fieldgrad.gradient(f, *spacings, edge_order=edge_order), np.gradient(f, *spacings, edge_order=edge_order)
    )
    # a negative step is a decreasing uniform coordinate
    assert_same_result(fieldgrad.gradient(f, -2.5, edge_order=edge_order), np.gradient(f, -2.5, edge_order=edge_order))


@pytest.mark.parametrize("edge_order", [1, 2])
@pytest.mark.parametrize("shape", [(9,), (6, 7), (4, 5, 6), (3, 4, 3, 5)])
def test_nonuniform_coordinates(shape: tuple[int, ...], edge_order: int) -> None:
    f = smooth_field(shape, seed=2)
    coords = [nonuniform_coord(n, seed=k) for k, n in enumerate(shape)]
    assert_same_result(
        fieldgrad.gradient(f, *coords, edge_order=edge_order), np.gradient(f, *coords, edge_order=edge_order)
    )
    decreasing = [c[::-1].copy() for c in coords]
    assert_same_result(
        fieldgrad.gradient(f, *decreasing, edge_order=edge_order), np.gradient(f, *decreasing, edge_order=edge_order)
    )


@pytest.mark.parametrize("edge_order", [1, 2])
def test_mixed_scalar_and_array_spacing(edge_order: int) -> None:
    f = smooth_field((5, 6, 7), seed=3)
    args = (0.5, nonuniform_coord(6), np.arange(7) * 0.25)
    assert_same_result(
        fieldgrad.gradient(f, *args, edge_order=edge_order), np.gradient(f, *args, edge_order=edge_order)
    )


@pytest.mark.parametrize("edge_order", [1, 2])
def test_exactly_uniform_arrays(edge_order: int) -> None:
    """An exactly uniform coordinate array takes numpy's uniform formula, int arrays included."""
    f = smooth_field((8, 6), seed=4)
    for x in (np.arange(8), np.arange(8) * 0.5, np.arange(8.0) * 3 - 7, np.arange(8)[::-1].copy()):
        assert_same_result(
            fieldgrad.gradient(f, x, axis=0, edge_order=edge_order), np.gradient(f, x, axis=0, edge_order=edge_order)
        )
    # round-off uniform (linspace) is a non-uniform array for numpy; agree to round-off either way
    x = np.linspace(0, 1, 8)
    assert_same_result(
        fieldgrad.gradient(f, x, axis=0, edge_order=edge_order),
        np.gradient(f, x, axis=0, edge_order=edge_order),
        rtol=1e-12,
    )


@pytest.mark.parametrize("edge_order", [1, 2])
def test_numpy_corner_cases(edge_order: int) -> None:
    """Inputs numpy accepts without validation give numpy's numbers (repeated, non-monotonic or NaN
    coordinates included: numpy.gradient does not check them, and neither does the drop-in)."""
    f = np.array([1.0, 4.0, 2.0, 8.0, 3.0, 5.0])
    for x in (
        np.array([0, 1, 3, 4, 7, 8]),  # integer, non-uniform
        np.float32(0.1),  # float32 scalar spacing: its edge_order=2 weights are float32, as numpy's
        np.array([0.0, 2.0, 1.0, 3.0, 4.0, 5.0]),  # non-monotonic
        np.array([0.0, 1.0, 1.0, 2.0, 3.0, 4.0]),  # repeated value
        np.array([0.0, 1.0, 2.0, np.nan, 4.0, 5.0]),
    ):  # NaN
        with np.errstate(divide="ignore", invalid="ignore"):
            assert_same_result(
                fieldgrad.gradient(f, x, edge_order=edge_order), np.gradient(f, x, edge_order=edge_order)
            )
    assert fieldgrad.gradient(np.array(3.0)) == np.gradient(np.array(3.0)) == ()
    assert fieldgrad.gradient(np.ones((3, 4)), axis=()) == np.gradient(np.ones((3, 4)), axis=()) == ()
    c = [1 + 0j, 2 - 1j, 4 + 3j, 7j]
    assert_same_result(fieldgrad.gradient(c, edge_order=edge_order), np.gradient(c, edge_order=edge_order))


def test_list_coordinate_and_list_input() -> None:
    f = [1.0, 4.0, 9.0, 16.0, 30.0]
    x = [0.0, 1.0, 3.0, 4.0, 7.0]
    assert_same_result(fieldgrad.gradient(f, x), np.gradient(f, x))
    assert_same_result(fieldgrad.gradient(f), np.gradient(f))


# ---------------------------------------------------------------------------------------------
# axis keyword and return types


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -3, (0, 2), (2, 0), (-1, 1), (0, 1, 2)])
@pytest.mark.parametrize("edge_order", [1, 2])
def test_axis_keyword(axis: int | tuple[int, ...], edge_order: int) -> None:
    f = smooth_field((5, 6, 7), seed=5)
    n_axes = 1 if isinstance(axis, int) else len(axis)
    spacing = [nonuniform_coord((5, 6, 7)[a], seed=a % 3) for a in ([axis] if isinstance(axis, int) else axis)]
    expected = np.gradient(f, axis=axis, edge_order=edge_order)
    actual = fieldgrad.gradient(f, axis=axis, edge_order=edge_order)
    assert_same_result(actual, expected)
    assert isinstance(actual, np.ndarray) == (n_axes == 1)
    assert_same_result(
        fieldgrad.gradient(f, *spacing, axis=axis, edge_order=edge_order),
        np.gradient(f, *spacing, axis=axis, edge_order=edge_order),
    )
    assert_same_result(
        fieldgrad.gradient(f, 0.3, axis=axis, edge_order=edge_order),
        np.gradient(f, 0.3, axis=axis, edge_order=edge_order),
    )


def test_return_types() -> None:
    assert isinstance(fieldgrad.gradient(np.arange(5.0)), np.ndarray)  # 1-D, axis=None: one ndarray
    out = fieldgrad.gradient(np.ones((3, 4)))
    assert isinstance(out, tuple) and len(out) == 2
    assert all(isinstance(o, np.ndarray) and o.shape == (3, 4) for o in out)
    assert isinstance(fieldgrad.gradient(np.ones((3, 4)), axis=(1,)), np.ndarray) == isinstance(
        np.gradient(np.ones((3, 4)), axis=(1,)), np.ndarray
    )


def test_outputs_are_independent_arrays() -> None:
    """Writing into one output of a tuple must not change the others (they may share a buffer)."""
    gx, gy = fieldgrad.gradient(smooth_field((4, 5)))
    before = gy.copy()
    gx[...] = 123.0
    np.testing.assert_array_equal(gy, before)


# ---------------------------------------------------------------------------------------------
# memory layouts and sizes (threaded kernels above ~2**18 elements, rows longer than a block)


def _views(shape: tuple[int, ...], seed: int) -> dict[str, np.ndarray]:
    base = smooth_field(tuple(2 * n for n in shape), seed=seed)
    c = np.ascontiguousarray(base[tuple(slice(0, n) for n in shape)])
    return {
        "C": c,
        "F": np.asfortranarray(c),
        "strided": base[tuple(slice(None, None, 2) for _ in shape)],
        "reversed": c[..., ::-1],
        "transposed": np.ascontiguousarray(c.T).T,
    }


@pytest.mark.parametrize("layout", ["C", "F", "strided", "reversed", "transposed"])
@pytest.mark.parametrize("shape", [(6, 7, 5), (7, 5000), (5000, 3), (3001,)])
def test_memory_layouts(shape: tuple[int, ...], layout: str) -> None:
    f = _views(shape, seed=14)[layout]
    coords = [nonuniform_coord(n, seed=k) for k, n in enumerate(f.shape)]
    for eo in (1, 2):
        assert_same_result(fieldgrad.gradient(f, edge_order=eo), np.gradient(f, edge_order=eo))
        assert_same_result(fieldgrad.gradient(f, *coords, edge_order=eo), np.gradient(f, *coords, edge_order=eo))


@pytest.mark.parametrize("shape", [(70, 66, 64), (300_001,), (600, 500)])
@pytest.mark.parametrize("uniform", [True, False])
def test_large_arrays(shape: tuple[int, ...], uniform: bool) -> None:
    f = np.sin(np.arange(np.prod(shape)) * 1e-3).reshape(shape) + smooth_field(shape, seed=15)
    spacing = [0.5] * f.ndim if uniform else [nonuniform_coord(n, seed=k) for k, n in enumerate(shape)]
    for eo in (1, 2):
        assert_same_result(fieldgrad.gradient(f, *spacing, edge_order=eo), np.gradient(f, *spacing, edge_order=eo))
    strided = f[..., ::-1] if f.ndim > 1 else f[::-1]
    assert_same_result(
        fieldgrad.gradient(strided, *spacing, edge_order=2), np.gradient(strided, *spacing, edge_order=2)
    )
    f32 = f.astype(np.float32)
    a, e = fieldgrad.gradient(f32, axis=0), np.gradient(f32, axis=0)
    assert a.dtype == e.dtype == np.float32
    assert_bitwise_close(a, e, rtol=2e-6)


# ---------------------------------------------------------------------------------------------
# dtypes


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"])
@pytest.mark.parametrize("edge_order", [1, 2])
def test_integer_dtypes(dtype: str, edge_order: int) -> None:
    info = np.iinfo(dtype)
    f = np.array([info.min, info.max, info.min, 3, info.max, 0, 1], dtype=dtype)
    expected = np.gradient(f, edge_order=edge_order)
    assert expected.dtype == np.float64
    assert_same_result(fieldgrad.gradient(f, edge_order=edge_order), expected)
    x = nonuniform_coord(f.size)
    assert_same_result(fieldgrad.gradient(f, x, edge_order=edge_order), np.gradient(f, x, edge_order=edge_order))


def test_uint8_never_wraps() -> None:
    f = np.array([0, 255, 0, 0, 255], dtype=np.uint8)
    out = fieldgrad.gradient(f)
    np.testing.assert_array_equal(out, [255.0, 0.0, -127.5, 127.5, 255.0])
    np.testing.assert_array_equal(fieldgrad.gradient(np.array([5, 3, 1], np.uint8)), [-2.0, -2.0, -2.0])


def test_bool_gives_float64() -> None:
    """numpy.gradient refuses bool (no boolean subtract); fieldgrad differentiates it as 0/1 (SPEC §2)."""
    f = np.array([[True, False, True, True], [False, False, True, False]])
    out = fieldgrad.gradient(f)
    expected = np.gradient(f.astype(np.float64))
    assert_same_result(out, expected)


@pytest.mark.parametrize("edge_order", [1, 2])
def test_float32(edge_order: int) -> None:
    f = smooth_field((6, 7), seed=6).astype(np.float32)
    x = nonuniform_coord(7).astype(np.float32)
    expected = np.gradient(f, 1.0, x, edge_order=edge_order)
    actual = fieldgrad.gradient(f, 1.0, x, edge_order=edge_order)
    for a, e in zip(actual, expected, strict=True):
        assert a.dtype == e.dtype == np.float32
        assert_bitwise_close(a, e, rtol=2e-6)


def _spacings(n: int) -> dict[str, Any]:
    """Spacings of every dtype numpy computes its weights in differently (NEP 50): a float16 or float32
    step's ``-1.5 / dx`` is float16/float32, a float16/float32 coordinate's steps are ``np.diff`` in its
    dtype (and its a, b, c weights too), integers are converted to float64 first."""
    rng = np.random.default_rng(21)
    x = np.cumsum(rng.uniform(0.2, 1.5, n)) - 2.0
    return {
        "python float": 0.1,
        "np.float64": np.float64(0.1),
        "np.float32": np.float32(0.1),
        "np.float16": np.float16(0.1),
        "0-d float32 array": np.array(0.3, dtype=np.float32),
        "np.int32": np.int32(3),
        "np.uint8": np.uint8(2),
        "float32 coordinate": x.astype(np.float32),
        "float16 coordinate": x.astype(np.float16),
        "float32 exactly uniform": np.arange(n, dtype=np.float32) * np.float32(0.25),
        "float32 uniform to round-off": np.linspace(0.0, 1.0, n, dtype=np.float32),
        "float32 decreasing": x[::-1].astype(np.float32),
        "int16 coordinate": np.array([0, 1, 3, 4, 7, 8, 10, 13, 14], dtype=np.int16)[:n],
        "uint8 uniform coordinate": (np.arange(n) * 3).astype(np.uint8),
    }


@pytest.mark.parametrize("edge_order", [1, 2])
@pytest.mark.parametrize("name", list(_spacings(9)))
@pytest.mark.parametrize("dtype", ["float64", "int32"])
def test_spacing_dtypes_exact(name: str, dtype: str, edge_order: int) -> None:
    """The weights are computed in the dtype numpy computes them in: float64 results equal numpy's
    bit for bit, whatever the spacing's dtype."""
    f = (smooth_field((7, 9), seed=22) * 100).astype(dtype)
    spacing = _spacings(9)[name]
    with np.errstate(all="ignore"):
        expected = np.gradient(f, spacing, axis=1, edge_order=edge_order)
        actual = fieldgrad.gradient(f, spacing, axis=1, edge_order=edge_order)
        assert actual.dtype == expected.dtype
        np.testing.assert_array_equal(actual, expected)
        lazy = fieldgrad.gradient(dsa.from_array(f, chunks=(3, 4)), spacing, axis=1, edge_order=edge_order)
        np.testing.assert_array_equal(lazy.compute(), expected)
        if np.ndim(spacing) == 0:  # one scalar for every axis
            for a, e in zip(
                fieldgrad.gradient(f, spacing, edge_order=edge_order),
                np.gradient(f, spacing, edge_order=edge_order),
                strict=True,
            ):
                np.testing.assert_array_equal(a, e)


@pytest.mark.parametrize("edge_order", [1, 2])
@pytest.mark.parametrize("name", list(_spacings(9)))
def test_spacing_dtypes_float32_field(name: str, edge_order: int) -> None:
    """A float32 field is differentiated in float64 with numpy's weights and rounded once: numpy's
    float64 result on the same values, rounded (numpy itself rounds every term to float32)."""
    f = smooth_field((7, 9), seed=23).astype(np.float32)
    spacing = _spacings(9)[name]
    with np.errstate(all="ignore"):
        reference = np.gradient(f.astype(np.float64), spacing, axis=1, edge_order=edge_order).astype(np.float32)
        actual = fieldgrad.gradient(f, spacing, axis=1, edge_order=edge_order)
        assert actual.dtype == np.gradient(f, spacing, axis=1, edge_order=edge_order).dtype == np.float32
        np.testing.assert_array_equal(actual, reference)


@pytest.mark.parametrize("edge_order", [1, 2])
def test_float16_keeps_numpy_dtype(edge_order: int) -> None:
    """numpy.gradient keeps float16; so does the drop-in (computed in float32, so closer to exact)."""
    f = smooth_field((9,), seed=7).astype(np.float16)
    expected = np.gradient(f, edge_order=edge_order)
    actual = fieldgrad.gradient(f, edge_order=edge_order)
    assert actual.dtype == expected.dtype == np.float16
    exact = np.gradient(f.astype(np.float64), edge_order=edge_order)
    assert_bitwise_close(actual, exact, rtol=2e-3)
    assert_bitwise_close(actual, expected, rtol=4e-3)


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
@pytest.mark.parametrize("edge_order", [1, 2])
def test_complex(dtype: type, edge_order: int) -> None:
    f = (smooth_field((5, 6), seed=8) + 1j * smooth_field((5, 6), seed=9)).astype(dtype)
    x = nonuniform_coord(6)
    expected = np.gradient(f, 0.5, x, edge_order=edge_order)
    actual = fieldgrad.gradient(f, 0.5, x, edge_order=edge_order)
    rtol = 1e-13 if dtype is np.complex128 else 2e-6
    for a, e in zip(actual, expected, strict=True):
        assert a.dtype == e.dtype
        assert_bitwise_close(a, e, rtol=rtol)


def assert_same_complex(actual: np.ndarray, expected: np.ndarray) -> None:
    """Each part: NaN and signed infinities in the same places, finite values bitwise-close."""
    assert actual.dtype == expected.dtype
    for part in ("real", "imag"):
        a, e = getattr(actual, part), getattr(expected, part)
        np.testing.assert_array_equal(np.isnan(a), np.isnan(e), err_msg=f"NaN in the {part} parts")
        np.testing.assert_array_equal(np.isposinf(a), np.isposinf(e), err_msg=f"+inf in the {part} parts")
        np.testing.assert_array_equal(np.isneginf(a), np.isneginf(e), err_msg=f"-inf in the {part} parts")
        assert_bitwise_close(a, e)


NON_FINITE = {
    "nan+0j": complex(np.nan, 0.0),
    "0+nanj": complex(0.0, np.nan),
    "nan+nanj": complex(np.nan, np.nan),
    "inf+0j": complex(np.inf, 0.0),
    "1-infj": complex(1.0, -np.inf),
    "inf+infj": complex(np.inf, np.inf),
    "-inf+nanj": complex(-np.inf, np.nan),
}


@pytest.mark.parametrize("chunks", [None, (2, 3)])
@pytest.mark.parametrize("edge_order", [1, 2])
@pytest.mark.parametrize("spacing", ["unit", "scalar", "coordinates"])
@pytest.mark.parametrize("bad", list(NON_FINITE))
def test_complex_non_finite_parts(bad: str, spacing: str, edge_order: int, chunks: tuple[int, int] | None) -> None:
    """A NaN or infinite part spoils the other part of the points whose stencil reaches it, as numpy's
    complex arithmetic does (``0 * inf`` and ``0 * nan`` in the cross terms), in memory and on dask."""
    f = smooth_field((6, 7), seed=24) + 1j * smooth_field((6, 7), seed=25)
    for idx in [(0, 0), (2, 3), (5, 4), (3, 6)]:  # a corner, the interior, two edges
        f[idx] = NON_FINITE[bad]
    args = {"unit": (), "scalar": (0.5,), "coordinates": (nonuniform_coord(6), nonuniform_coord(7, seed=1))}[spacing]
    with np.errstate(invalid="ignore"):
        expected = np.gradient(f, *args, edge_order=edge_order)
        actual = fieldgrad.gradient(
            f if chunks is None else dsa.from_array(f, chunks=chunks), *args, edge_order=edge_order
        )
    for a, e in zip(actual, expected, strict=True):
        assert_same_complex(np.asarray(a), e)


@pytest.mark.parametrize("edge_order", [1, 2])
@pytest.mark.parametrize("uniform", [True, False])
def test_masked_arrays(edge_order: int, uniform: bool) -> None:
    rng = np.random.default_rng(10)
    data = smooth_field((8, 9), seed=10)
    mask = rng.random((8, 9)) < 0.15
    f = np.ma.masked_array(data, mask=mask)
    spacing = (0.5, 2.0) if uniform else (nonuniform_coord(8), nonuniform_coord(9, seed=1))
    expected = np.gradient(f, *spacing, edge_order=edge_order)
    actual = fieldgrad.gradient(f, *spacing, edge_order=edge_order)
    assert isinstance(actual, tuple)
    for a, e in zip(actual, expected, strict=True):
        assert isinstance(a, np.ma.MaskedArray) and isinstance(e, np.ma.MaskedArray)
        np.testing.assert_array_equal(np.ma.getmaskarray(a), np.ma.getmaskarray(e))
        assert_bitwise_close(a.compressed(), e.compressed())


def test_masked_array_without_mask() -> None:
    f = np.ma.masked_array(np.arange(6.0) ** 2)
    actual, expected = fieldgrad.gradient(f), np.gradient(f)
    assert isinstance(actual, np.ma.MaskedArray)
    np.testing.assert_array_equal(np.ma.getmaskarray(actual), np.ma.getmaskarray(expected))
    assert_bitwise_close(np.ma.getdata(actual), np.ma.getdata(expected))


def test_datetime64_edge_order_1_exact() -> None:
    t = np.array(
        ["2000-01-01T00", "2000-01-01T03", "2000-01-01T05", "2000-01-02T00", "2000-01-02T01"], dtype="datetime64[h]"
    )
    for args in ((), (1,), (2,), (3,)):
        expected = np.gradient(t, *args)
        actual = fieldgrad.gradient(t, *args)
        assert actual.dtype == expected.dtype == np.dtype("m8[h]")
        np.testing.assert_array_equal(actual, expected)
    t2 = np.datetime64("2020-01-01T00:00:00", "s") + np.array([[0, 7, 100, 1001], [5, 13, 18, 999]]).astype("m8[s]")
    expected = np.gradient(t2)
    actual = fieldgrad.gradient(t2)
    for a, e in zip(actual, expected, strict=True):
        assert a.dtype == e.dtype
        np.testing.assert_array_equal(a, e)


def test_timedelta64() -> None:
    td = np.array([1, 4, 6, 11, -3], dtype="m8[ms]")
    expected, actual = np.gradient(td), fieldgrad.gradient(td)
    assert actual.dtype == expected.dtype
    np.testing.assert_array_equal(actual, expected)


def test_datetime64_edge_order_2_and_nonuniform_truncate_total() -> None:
    """numpy truncates each weighted term of a datetime stencil; fieldgrad truncates the total
    (documented). They differ by at most one unit per stencil term, and fieldgrad's is the
    truncation of the exact float derivative."""
    t = np.array(
        ["2000-01-01T00", "2000-01-01T03", "2000-01-01T05", "2000-01-02T00", "2000-01-02T07"], dtype="datetime64[h]"
    )
    hours = (t - t[0]).astype(np.int64).astype(np.float64)
    x = np.array([0.0, 1.0, 3.0, 4.0, 6.5])
    for args, kw in [((), {"edge_order": 2}), ((x,), {}), ((x,), {"edge_order": 2})]:
        actual = fieldgrad.gradient(t, *args, **kw)
        assert actual.dtype == np.dtype("m8[h]")
        np.testing.assert_array_equal(actual.astype(np.int64), np.trunc(np.gradient(hours, *args, **kw)))
        diff = np.abs(actual.astype(np.int64) - np.gradient(t, *args, **kw).astype(np.int64))
        assert diff.max() <= 3


_NAT_CASES = {
    "middle": ["2000-01-01", "NaT", "2000-01-03", "2000-01-04", "2000-01-07"],
    "first": ["NaT", "2000-01-02", "2000-01-03", "2000-01-05", "2000-01-06"],
    "last": ["2000-01-01", "2000-01-02", "2000-01-04", "2000-01-05", "NaT"],
    "two": ["NaT", "2000-01-02", "2000-01-03", "NaT", "2000-01-09"],
    "all": ["NaT", "NaT", "NaT", "NaT", "NaT"],
}


def _times(case: str, kind: str) -> np.ndarray:
    t = np.array(_NAT_CASES[case], dtype="datetime64[D]")
    return t if kind == "datetime" else t - np.datetime64("1999-12-25", "D")  # timedelta64[D], NaT kept


def _as_numbers(t: np.ndarray) -> np.ndarray:
    """Days since the earliest valid time as float64, NaN for NaT (the reference's input)."""
    days = t.astype("m8[D]" if t.dtype.kind == "m" else "M8[D]").astype(np.int64).astype(np.float64)
    days[np.isnat(t)] = np.nan
    return days - np.nanmin(days) if not np.isnat(t).all() else days


@pytest.mark.parametrize("kind", ["datetime", "timedelta"])
@pytest.mark.parametrize("case", list(_NAT_CASES))
@pytest.mark.parametrize("chunks", [None, 1, 2])
def test_datetime_with_nat(case: str, kind: str, chunks: int | None) -> None:
    """NaT spoils the points whose stencil touches it, as in numpy's timedelta arithmetic; every other
    point keeps its value (NaT first included), for numpy and dask input."""
    t = _times(case, kind)
    f = t if chunks is None else dsa.from_array(t, chunks=chunks)
    x = np.array([0.0, 1.0, 3.0, 4.0, 6.5])
    with np.errstate(invalid="ignore"):  # all-NaT: numpy's reference of the reference warns
        for args, kw in [((), {}), ((2,), {}), ((), {"edge_order": 2}), ((x,), {}), ((x,), {"edge_order": 2})]:
            expected = np.gradient(t, *args, **kw)
            actual = fieldgrad.gradient(f, *args, **kw)
            if chunks is not None:
                assert isinstance(actual, dsa.Array)
                actual = actual.compute()
            assert actual.dtype == expected.dtype == np.dtype("m8[D]")
            np.testing.assert_array_equal(np.isnat(actual), np.isnat(expected))
            if not kw and (not args or np.ndim(args[0]) == 0):  # uniform, edge_order=1: exact integer differences
                np.testing.assert_array_equal(actual, expected)
            # numpy truncates every term, fieldgrad the total: compare with the float computation
            exact = np.trunc(np.gradient(_as_numbers(t), *args, **kw))
            valid = ~np.isnat(actual)
            np.testing.assert_array_equal(actual[valid].astype(np.int64), exact[valid])


@pytest.mark.parametrize("first_nat", [False, True])
def test_datetime_with_nat_2d_numpy_and_dask_agree(first_nat: bool) -> None:
    rng = np.random.default_rng(20)
    t = np.datetime64("2000-01-01", "ns") + rng.integers(0, 10**12, (6, 7)).astype("m8[ns]")
    t[rng.random(t.shape) < 0.2] = np.datetime64("NaT")
    if first_nat:
        t[0, :3] = np.datetime64("NaT")
    y = np.cumsum(rng.uniform(0.5, 2.0, 7))
    for args, kw in [((), {}), ((2.0, y), {}), ((2.0, y), {"edge_order": 2})]:
        expected = np.gradient(t, *args, **kw)
        actual = fieldgrad.gradient(t, *args, **kw)
        lazy = fieldgrad.gradient(dsa.from_array(t, chunks=(2, 3)), *args, **kw)
        for a, e, d in zip(actual, expected, lazy, strict=True):
            assert a.dtype == e.dtype == d.dtype
            np.testing.assert_array_equal(np.isnat(a), np.isnat(e))
            np.testing.assert_array_equal(d.compute(), a)
            if not args:
                np.testing.assert_array_equal(a, e)


def test_datetime_zero_step_gives_nat() -> None:
    t = np.array([1, 5, 9], dtype="m8[s]")
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.gradient(t, 0.0)
        actual = fieldgrad.gradient(t, 0.0)
    np.testing.assert_array_equal(actual, expected)


def test_datetime_empty() -> None:
    t = np.zeros((0, 3), dtype="M8[s]")
    expected = np.gradient(t, axis=1)
    assert fieldgrad.gradient(t, axis=1).shape == expected.shape
    assert fieldgrad.gradient(t, axis=1).dtype == expected.dtype
    assert fieldgrad.gradient(dsa.from_array(t), axis=1).compute().shape == expected.shape


# ---------------------------------------------------------------------------------------------
# dask arrays


@pytest.mark.parametrize("edge_order", [1, 2])
def test_dask_same_values_and_lazy(edge_order: int) -> None:
    f = smooth_field((12, 10, 9), seed=11)
    x = nonuniform_coord(10)
    d = dsa.from_array(f, chunks=(5, 3, 4))
    actual = fieldgrad.gradient(d, 0.5, x, 2.0, edge_order=edge_order)
    expected = np.gradient(f, 0.5, x, 2.0, edge_order=edge_order)
    assert isinstance(actual, tuple) and len(actual) == 3
    for a, e in zip(actual, expected, strict=True):
        assert isinstance(a, dsa.Array)
        assert a.chunks == d.chunks
        assert a.dtype == e.dtype
        assert_bitwise_close(a.compute(), e, rtol=1e-12)
    one = fieldgrad.gradient(d, axis=1, edge_order=edge_order)
    assert isinstance(one, dsa.Array)
    assert_bitwise_close(one.compute(), np.gradient(f, axis=1, edge_order=edge_order), rtol=1e-12)


def test_dask_is_not_computed_at_call_time() -> None:
    def boom(block: np.ndarray) -> np.ndarray:
        raise RuntimeError("computed too early")

    d = dsa.from_array(np.arange(20.0).reshape(4, 5), chunks=2).map_blocks(boom, dtype=float)
    out = fieldgrad.gradient(d)
    assert all(isinstance(o, dsa.Array) for o in out)
    with pytest.raises(RuntimeError, match="computed too early"):
        out[0].compute()


@pytest.mark.parametrize("dtype", ["uint8", "int32", "float32", "complex128"])
def test_dask_dtypes_match_numpy(dtype: str) -> None:
    f = (np.arange(24) % 7).reshape(4, 6).astype(dtype)
    d = dsa.from_array(f, chunks=(1, 2))
    for a, e in zip(fieldgrad.gradient(d), np.gradient(f), strict=True):
        assert a.dtype == e.dtype
        assert_bitwise_close(a.compute(), e, rtol=1e-6 if dtype == "float32" else RTOL)


def test_dask_one_point_chunks() -> None:
    f = smooth_field((7, 5), seed=12)
    d = dsa.from_array(f, chunks=1)
    for eo in (1, 2):
        for a, e in zip(fieldgrad.gradient(d, edge_order=eo), np.gradient(f, edge_order=eo), strict=True):
            assert_bitwise_close(a.compute(), e, rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# errors: numpy's types and messages


def test_error_bad_number_of_varargs() -> None:
    f = np.ones((3, 4))
    assert_same_error(lambda: np.gradient(f, 1.0, 2.0, 3.0), lambda: fieldgrad.gradient(f, 1.0, 2.0, 3.0))
    assert_same_error(lambda: np.gradient(f, 1.0, 2.0, axis=0), lambda: fieldgrad.gradient(f, 1.0, 2.0, axis=0))


def test_error_two_dimensional_distances() -> None:
    f = np.ones((3, 4))
    d = np.ones((3, 4))
    assert_same_error(lambda: np.gradient(f, d, 1.0), lambda: fieldgrad.gradient(f, d, 1.0))


def test_error_wrong_length_distances() -> None:
    f = np.ones((3, 4))
    assert_same_error(lambda: np.gradient(f, np.arange(4.0), 1.0), lambda: fieldgrad.gradient(f, np.arange(4.0), 1.0))


def test_error_edge_order_too_large() -> None:
    f = np.arange(10.0)
    assert_same_error(lambda: np.gradient(f, edge_order=3), lambda: fieldgrad.gradient(f, edge_order=3))


@pytest.mark.parametrize("edge_order", [1, 2])
def test_error_array_too_small(edge_order: int) -> None:
    f = np.ones((5, edge_order))
    assert_same_error(
        lambda: np.gradient(f, edge_order=edge_order), lambda: fieldgrad.gradient(f, edge_order=edge_order)
    )
    assert_same_error(
        lambda: np.gradient(f, axis=1, edge_order=edge_order),
        lambda: fieldgrad.gradient(f, axis=1, edge_order=edge_order),
    )
    # the other axis alone is fine
    assert_same_result(
        fieldgrad.gradient(f, axis=0, edge_order=edge_order), np.gradient(f, axis=0, edge_order=edge_order)
    )


def test_error_axis_out_of_range_and_repeated() -> None:
    f = np.ones((3, 4))
    assert_same_error(lambda: np.gradient(f, axis=2), lambda: fieldgrad.gradient(f, axis=2))
    assert_same_error(lambda: np.gradient(f, axis=(0, 0)), lambda: fieldgrad.gradient(f, axis=(0, 0)))


def test_error_object_array() -> None:
    f = np.array(["a", "b", "c"], dtype=object)
    with pytest.raises(TypeError):
        fieldgrad.gradient(f)


def test_input_not_modified() -> None:
    f = smooth_field((5, 6), seed=13)
    x = nonuniform_coord(6)
    f0, x0 = f.copy(), x.copy()
    fieldgrad.gradient(f, 1.0, x, edge_order=2)
    np.testing.assert_array_equal(f, f0)
    np.testing.assert_array_equal(x, x0)


# ---------------------------------------------------------------------------------------------
# coordinate arrays: their stencils are kept by value between calls, never trusted to be unchanged


def _as_input(f: np.ndarray, kind: str) -> Any:
    return dsa.from_array(f, chunks=tuple(max(2, n // 3) for n in f.shape)) if kind == "dask" else f


def _computed(out: Any) -> list[np.ndarray]:
    parts = out if isinstance(out, tuple) else (out,)
    return [np.asarray(p.compute() if isinstance(p, dsa.Array) else p) for p in parts]


@pytest.mark.parametrize("kind", ["numpy", "dask"])
@pytest.mark.parametrize("edge_order", [1, 2])
@pytest.mark.parametrize("field_dtype", ["float64", "float32"])
@pytest.mark.parametrize("coord_dtype", ["float64", "float32"])
@pytest.mark.parametrize("which", ["both axes", "one axis", "axis keyword"])
def test_nonuniform_spacings_bit_for_bit_call_after_call(
    kind: str, edge_order: int, field_dtype: str, coord_dtype: str, which: str
) -> None:
    """The first call builds the stencils of the coordinate arrays, later ones find them: every call
    gives the same bits. float64 fields: numpy's. float32 fields: numpy's float64 numbers on the same
    values rounded once, as the module documents (numpy rounds every term to float32)."""
    f = smooth_field((11, 13), seed=31).astype(field_dtype)
    x = nonuniform_coord(11, seed=32).astype(coord_dtype)
    y = nonuniform_coord(13, seed=33).astype(coord_dtype)
    args: tuple[Any, ...] = {"both axes": (x, y), "one axis": (0.5, y), "axis keyword": (y,)}[which]
    kwargs: dict[str, Any] = {"axis": 1} if which == "axis keyword" else {}
    with np.errstate(all="ignore"):
        want = _computed(np.gradient(f.astype(np.float64), *args, edge_order=edge_order, **kwargs))
        want = [w.astype(field_dtype) for w in want]
        dtypes = [w.dtype for w in _computed(np.gradient(f, *args, edge_order=edge_order, **kwargs))]
        for _ in range(3):
            got = _computed(fieldgrad.gradient(_as_input(f, kind), *args, edge_order=edge_order, **kwargs))
            assert [g.dtype for g in got] == dtypes
            for g, w in zip(got, want, strict=True):
                np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("kind", ["numpy", "dask"])
@pytest.mark.parametrize("edge_order", [1, 2])
def test_a_coordinate_array_changed_in_place_gives_the_new_numbers(kind: str, edge_order: int) -> None:
    """The same array object, with other values: never the stencil of its old values."""
    f = smooth_field((9, 12), seed=34)
    x = nonuniform_coord(9, seed=35)
    y = nonuniform_coord(12, seed=36)

    def check() -> list[np.ndarray]:
        got = _computed(fieldgrad.gradient(_as_input(f, kind), x, y, edge_order=edge_order))
        for g, w in zip(got, np.gradient(f, x, y, edge_order=edge_order), strict=True):
            np.testing.assert_array_equal(g, w)
        return got

    before = check()
    check()  # found by value
    x *= 2.0  # every value, in place
    after = check()
    assert not np.array_equal(after[0], before[0])
    np.testing.assert_array_equal(after[1], before[1])  # y did not change
    y[5] = np.nextafter(y[5], np.inf)  # one value, by one ulp
    last = check()
    assert not np.array_equal(last[1], after[1])
    y[5] = np.nextafter(y[5], -np.inf)  # back: the old values, the old numbers
    np.testing.assert_array_equal(check()[1], after[1])


def test_a_coordinate_view_changed_through_its_base_gives_the_new_numbers() -> None:
    """A view (read-only, even) of an array changed through the array: the view's values decide."""
    f = smooth_field((10,), seed=37)
    base = nonuniform_coord(20, seed=38)
    view = base[::2]
    view.flags.writeable = False
    np.testing.assert_array_equal(fieldgrad.gradient(f, view), np.gradient(f, view))
    base[4] += 0.25  # view[2]
    np.testing.assert_array_equal(fieldgrad.gradient(f, view), np.gradient(f, view))
