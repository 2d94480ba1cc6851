"""What to compute, decided once: the method, its validated options, and per axis the boundary kind.

A :class:`Plan` is built by :func:`make_plan` before anything is computed, and checked against
every axis by :func:`check_axis`. It answers the questions every execution layer asks the same
way (in memory, on dask blocks, in NaN runs):

* is the boundary of this axis **native** to the method, or emulated by :mod:`fieldgrad.boundary`?
* what axis object does the method see (:meth:`Plan.method_coord`: ``period`` set iff it wraps)?
* how many points does a chunk borrow on each side (:meth:`Plan.halo`, grown for NaN runs)?
* the dtype of the result (:func:`fieldgrad.conventions.result_dtype`).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .conventions import BOUNDARIES, NAN_POLICIES, result_dtype
from .coords import AxisCoord
from .method import DerivativeMethod
from .registry import BUILTIN, get_method

__all__ = ["Plan", "make_plan", "check_axis", "usable_boundaries", "wraps_uniformly"]


@dataclass(frozen=True)
class Plan:
    """A method with validated options, and the boundary/NaN keywords per axis.

    Examples
    --------
    >>> from fieldgrad.coords import axis_coord
    >>> plan = make_plan("fd", (1,), boundary={0: "fill"}, accuracy=4)
    >>> plan.native(0), plan.boundary_of(0), plan.halo(axis_coord(np.arange(9.0)), 0, 1)
    (False, 'fill', 2)
    """

    method: DerivativeMethod
    options: dict[str, Any]
    boundary: dict[int, str] = field(default_factory=dict)
    nan_policy: str = "propagate"
    fill_value: float = np.nan

    def boundary_of(self, axis: int) -> str:
        return self.boundary.get(axis, "one-sided")

    def native(self, axis: int) -> bool:
        """Whether the method implements this axis's boundary itself (``"fill"`` never is)."""
        kind = self.boundary.get(axis, "one-sided")
        return kind != "fill" and kind in self.method.boundaries

    def with_boundary(self, axis: int, kind: str) -> Plan:
        return dataclasses.replace(self, boundary={**self.boundary, axis: kind})

    def method_coord(self, coord: AxisCoord, axis: int) -> AxisCoord:
        """The axis as the method sees it: with its ``period`` when it wraps around, else without.

        A uniform axis that wraps around with a ``period`` other than its number of steps is not
        uniform across the wrap: its ``spacing`` is dropped (the padding of an emulated wrap, too,
        has that other step).
        """
        if self.boundary.get(axis) == "periodic" and not wraps_uniformly(coord):
            coord = dataclasses.replace(coord, spacing=None)
        if self.boundary.get(axis) != "periodic" or not self.native(axis):  # an interval (emulation pads one)
            return coord if coord.period is None else dataclasses.replace(coord, period=None)
        if coord.period is not None:
            h = coord.spacing
            if h is not None and abs(coord.period - coord.size * abs(h)) > 1e-12 * coord.period:
                # a uniform axis whose period is not n * step is not uniform across the seam (as
                # build_stencil decides): its halo, widths and stencils are the non-uniform ones
                return dataclasses.replace(coord, spacing=None)
            return coord
        return dataclasses.replace(coord, period=coord.size * abs(coord.spacing)) if coord.spacing else coord

    def halo(self, coord: AxisCoord, axis: int, order: int) -> int | None:
        """Points a chunk borrows on each side of ``axis`` for exact values; None: the whole axis.

        With ``nan_policy="omit"`` a point near a NaN uses its run's edge treatment, which
        reaches ``min_points - 1`` points from the run's end: the halo grows to cover it.
        """
        mc = self.method_coord(coord, axis)
        h = self.method.halo(mc, order, **self.options)
        if h is None or self.nan_policy != "omit":
            return h
        return max(h, self.method.min_points(dataclasses.replace(mc, period=None), order, **self.options) - 1)

    def min_points(self, coord: AxisCoord, axis: int, order: int) -> int:
        return self.method.min_points(self.method_coord(coord, axis), order, **self.options)

    def fill_width(self, coord: AxisCoord, axis: int, order: int) -> int:
        return self.method.fill_width(self.method_coord(coord, axis), order, **self.options)

    def result_dtype(self, dtype: np.dtype) -> np.dtype:
        return result_dtype(dtype)


def wraps_uniformly(coord: AxisCoord) -> bool:
    """Whether a uniform axis stays uniform across its periodic wrap: no ``period``, or a period of
    its number of steps (to the relative 1e-12 that ``fd``'s stencils allow).

    Examples
    --------
    >>> from fieldgrad.coords import axis_coord
    >>> wraps_uniformly(axis_coord(np.arange(4.0), period=4.0)), wraps_uniformly(axis_coord(np.arange(4.0), period=5.0))
    (True, False)
    """
    h, period = coord.spacing, coord.period
    return h is not None and (period is None or abs(period - coord.size * abs(h)) <= 1e-12 * period)


def make_plan(
    method: Any = "fd",
    orders: tuple[int, ...] = (1,),
    *,
    boundary: dict[int, str] | None = None,
    nan_policy: str = "propagate",
    fill_value: float = np.nan,
    **options: Any,
) -> Plan:
    """Resolve the method and validate every keyword before anything is computed.

    Examples
    --------
    >>> make_plan("fd", (1,), accuracy=4).options
    {'accuracy': 4, 'edge_order': 4}
    >>> make_plan("fd", (1,), accuracy=3)
    Traceback (most recent call last):
    ...
    ValueError: accuracy must be one of (2, 4, 6, 8), got 3
    """
    if isinstance(method, str) and method in BUILTIN:  # the same keywords give the same plan (plans are
        # never changed; a built-in name cannot be registered again, so its method never changes)
        try:
            key = (
                method,
                tuple(orders),
                tuple(sorted(boundary.items())) if boundary else (),
                nan_policy,
                _FILL_KEY if fill_value is np.nan else _fill_key(fill_value),
                # with each value's type: 4.0 == 4 == True as keys, but only 4 is a valid accuracy
                tuple((k, type(v), v) for k, v in (sorted(options.items()) if len(options) > 1 else options.items())),
            )
            hash(key)
        except TypeError:  # an option value that is not hashable (an array): not kept
            key = None
        if key is not None:
            return _cached_plan(key)
    return _make_plan(method, orders, boundary=boundary, nan_policy=nan_policy, fill_value=fill_value, **options)


def _fill_key(fill_value: Any) -> Any:
    """``fill_value`` as part of a key: its float64 (complex128) bits (NaN equals NaN, -0.0 differs
    from 0.0, in either part of a complex value too).

    Examples
    --------
    >>> _fill_key(0j) == _fill_key(complex(-0.0, 0.0)), _fill_key(np.nan) == _fill_key(float("nan"))
    (False, True)
    """
    return np.complex128(fill_value).tobytes() if isinstance(fill_value, complex) else np.float64(fill_value).tobytes()


_FILL_KEY = _fill_key(np.nan)  # the default's key, computed once


@functools.lru_cache(maxsize=256)
def _cached_plan(key: tuple) -> Plan:
    method, orders, boundary, nan_policy, fill_value, options = key
    if isinstance(fill_value, bytes):  # 8 bytes: a float64; 16: a complex128
        fill_value = np.frombuffer(fill_value, dtype=np.float64 if len(fill_value) == 8 else np.complex128)[0].item()
    return _make_plan(
        method,
        orders,
        boundary=dict(boundary),
        nan_policy=nan_policy,
        fill_value=fill_value,
        **{k: v for k, _, v in options},
    )


def _make_plan(
    method: Any,
    orders: tuple[int, ...],
    *,
    boundary: dict[int, str] | None,
    nan_policy: str,
    fill_value: float,
    **options: Any,
) -> Plan:
    m = get_method(method)
    boundary = dict(boundary or {})
    for kind in boundary.values():
        if kind not in BOUNDARIES:
            raise ValueError(f"boundary must be one of {BOUNDARIES}, got {kind!r}")
    if nan_policy not in NAN_POLICIES:
        raise ValueError(f"nan_policy must be one of {NAN_POLICIES}, got {nan_policy!r}")
    resolved: dict[str, Any] | None = None
    for order in orders or (1,):
        resolved = m.check_options(order, **options)
    return Plan(
        method=m,
        options=resolved or {},
        boundary=boundary,
        nan_policy=nan_policy,
        fill_value=float(fill_value) if not isinstance(fill_value, complex) else fill_value,
    )


def check_axis(values_shape: tuple[int, ...], axis: int, coord: AxisCoord, order: int, plan: Plan, name: str) -> None:
    """Raise before computing when the method cannot handle this axis.

    Examples
    --------
    >>> from fieldgrad.coords import axis_coord
    >>> check_axis((3,), 0, axis_coord(np.arange(3.0)), 1, make_plan("fd", accuracy=4), "x")
    Traceback (most recent call last):
    ...
    ValueError: 'x' has 3 points, but method 'fd' with these options needs at least 5 points for a derivative of order 1
    """
    n = values_shape[axis]
    m = plan.method
    if coord.size != n:
        raise ValueError(f"coordinate {name!r} has {coord.size} values but the axis has {n} points")
    if order == 0:
        return
    if not plan.method_coord(coord, axis).uniform and not m.supports_nonuniform and n > 1:
        h = coord.spacing
        across = f" across its periodic wrap (period={coord.period!r} is not {n} steps of {abs(h)!r})" if h else ""
        raise ValueError(
            f"method {m.name!r} needs uniformly spaced coordinates, but {name!r} is "
            f"not uniform{across}; use a method that supports non-uniform coordinates, e.g. method='fd'"
        )
    kind = plan.boundary_of(axis)
    if not plan.native(axis):
        # emulated: periodic by padding and fill by overwriting, both around a one-sided derivative
        if "one-sided" not in m.boundaries:
            raise ValueError(f"method {m.name!r} does not support boundary={kind!r} (it supports {m.boundaries})")
        if plan.halo(coord, axis, order) is None:
            raise ValueError(
                f"method {m.name!r} does not support boundary={kind!r} (it supports "
                f"{m.boundaries}, and needs the whole axis, so it cannot be emulated)"
            )
    if kind == "periodic" and plan.nan_policy == "omit" and plan.halo(coord, axis, order) is None:
        raise ValueError(
            f"nan_policy='omit' with boundary='periodic' needs a method with a finite halo; "
            f"method {m.name!r} needs the whole axis (use nan_policy='propagate', "
            "or another boundary)"
        )
    if kind == "periodic" and not coord.uniform and coord.period is None:
        raise ValueError(
            f"boundary='periodic' on the non-uniform coordinate {name!r} needs period= (the length of one period)"
        )
    m.check_axis(plan.method_coord(coord, axis), order, **plan.options)
    need = plan.min_points(coord, axis, order)
    if n < need:
        raise ValueError(
            f"{name!r} has {n} points, but method {m.name!r} with these options needs "
            f"at least {need} points for a derivative of order {order}"
        )


def usable_boundaries(method: DerivativeMethod) -> tuple[str, ...]:
    """The boundary kinds a method can be used with: its own, and those the engine emulates for it.

    Examples
    --------
    >>> from fieldgrad.registry import get_method
    >>> usable_boundaries(get_method("fd"))
    ('one-sided', 'periodic', 'fill')
    """
    if "one-sided" not in method.boundaries:
        return tuple(k for k in BOUNDARIES if k in method.boundaries and k != "fill")
    probe = AxisCoord(values=np.arange(64.0), spacing=1.0)
    finite = method.halo(probe, 1, **method.options) is not None
    return tuple(k for k in BOUNDARIES if k in method.boundaries or finite)
