"""The conventions every layer shares: boundary kinds, NaN policies, the dtype of a derivative.

Defined once here, at the bottom of the import graph, so that the stencil builder, the method
protocol, the plan, the engine, the registry and the command line all read the same names and
the same dtype rule.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["BOUNDARIES", "NAN_POLICIES", "as_floating", "is_dask", "result_dtype"]

#: What happens where a centred stencil does not fit: one-sided stencils, wrap around, or fill.
BOUNDARIES = ("one-sided", "periodic", "fill")

#: What a NaN does: spoil the points whose stencil touches it, or split the axis into NaN-free runs.
NAN_POLICIES = ("propagate", "omit")


def result_dtype(dtype: np.dtype | type) -> np.dtype:
    """The dtype of a derivative of a field of ``dtype``.

    Integers and booleans give float64 (never wrap around); float16 and float32 give float32;
    float64 stays; complex64 and complex128 stay.

    Examples
    --------
    >>> result_dtype(np.dtype("uint8")), result_dtype(np.dtype("float16"))
    (dtype('float64'), dtype('float32'))
    >>> result_dtype(np.dtype("complex64"))
    dtype('complex64')
    """
    known = _RESULT_DTYPES.get(dtype)  # (a type or a string simply misses)
    if known is not None:  # asked on every call: a dict lookup, not the rule again
        return known
    dtype = np.dtype(dtype)
    out: np.dtype
    if dtype.kind in "biu":
        out = np.dtype(np.float64)
    elif dtype.kind == "f":
        out = np.dtype(np.float32) if dtype.itemsize <= 4 else np.dtype(np.float64)
    elif dtype.kind == "c":
        out = np.dtype(np.complex64) if dtype.itemsize <= 8 else np.dtype(np.complex128)
    else:
        raise TypeError(f"the field must be numeric (integer, boolean, float or complex), got dtype {dtype}")
    _RESULT_DTYPES[dtype] = out
    return out


_RESULT_DTYPES: dict[Any, np.dtype] = {}  # result_dtype's answers, per dtype (a few dozen at most)


def is_dask(values: object) -> bool:
    """Whether ``values`` is a dask array (without importing dask).

    Examples
    --------
    >>> is_dask(np.zeros(2))
    False
    """
    module = type(values).__module__
    return module == "dask" or module.startswith("dask.")


def as_floating(values: np.ndarray) -> np.ndarray:
    """``values`` as the dtype of its derivative: what a method receives (no copy when it already is).

    Examples
    --------
    >>> as_floating(np.array([1, 2], dtype=np.uint8)).dtype
    dtype('float64')
    """
    values = np.asarray(values)
    dtype = result_dtype(values.dtype)
    return values if values.dtype is dtype else values.astype(dtype, copy=False)
