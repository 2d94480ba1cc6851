"""The derivative-method protocol: what a method declares and the functions it implements.

A method is a small stateless object: a floating numpy array in, an array of the same shape
out, along one axis at a time. It receives the positions of that axis as an
:class:`~fieldgrad.coords.AxisCoord` and its own options, nothing else. The engine does the
rest: labels, coordinates, the dtype of the result, NaN runs (``nan_policy="omit"``), boundary
kinds the method does not implement itself, dask chunks and halo exchange.

Two base classes:

* :class:`DerivativeMethod` -- implement ``derivative(values, coord, *, axis, order, <options>)``
  and ``halo(coord, order, <options>)``;
* :class:`StencilMethod` -- a method that is a linear stencil along the axis implements
  ``stencil(coord, order, <options>)`` and ``halo`` and inherits the compiled, multi-threaded
  kernel, the fused gradient and the chunked execution.

A method's options are the keyword-only parameters (with defaults) of ``derivative`` (of
``stencil`` for a :class:`StencilMethod`): declared once, by the signature.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from .conventions import BOUNDARIES, result_dtype
from .coords import AxisCoord
from .kernels import apply_stencils

if TYPE_CHECKING:
    from .stencil import AxisStencil

__all__ = ["DerivativeMethod", "StencilMethod", "declared_options"]

# Parameters of `derivative` / `stencil` that are the protocol's, not a method's options.
_PROTOCOL_PARAMETERS = ("self", "values", "coord", "axis", "order")


def declared_options(function: Any) -> dict[str, Any]:
    """The options a function declares: its keyword-only parameters and their defaults.

    Examples
    --------
    >>> def derivative(values, coord, *, axis, order, window=21, degree=3):
    ...     ...
    >>> declared_options(derivative)
    {'window': 21, 'degree': 3}
    """
    out = {}
    for p in inspect.signature(function).parameters.values():
        if p.name in _PROTOCOL_PARAMETERS or p.kind is not p.KEYWORD_ONLY:
            continue
        if p.default is p.empty:
            raise TypeError(f"{function.__qualname__}: option {p.name!r} needs a default value")
        out[p.name] = p.default
    return out


def _stub(function: Any) -> Any:
    """Mark a protocol function a subclass must implement (its options are not read from it)."""
    function.protocol_stub = True
    return function


def _takes_var_keywords(function: Any) -> bool:
    return any(p.kind is p.VAR_KEYWORD for p in inspect.signature(function).parameters.values())


class DerivativeMethod:
    """Base class of derivative methods (finite differences, spline fits, ...).

    Subclasses set the class attributes and implement :meth:`derivative` and :meth:`halo`.
    Instances hold no per-call state: dask may call one instance from many threads at once.

    Attributes
    ----------
    name : str
        Registry name, used as ``method="name"``.
    description : str
        One line shown by :func:`fieldgrad.available_methods`.
    max_order : int or None
        Highest derivative order supported (None: any). A method whose highest order depends
        on its options overrides :meth:`check_options`.
    supports_nonuniform : bool
        Whether non-uniform coordinates are handled. When False the engine refuses a
        non-uniform coordinate with a ValueError; spacing is never silently assumed.
    boundaries : tuple of str
        Boundary kinds the method implements itself: ``"one-sided"`` (an interval: the method
        does what it can at the two ends) and/or ``"periodic"`` (``coord.period`` is set and the
        axis wraps around). The engine emulates ``"periodic"`` for methods with a finite halo
        (wrapping ``halo`` points around each end) and always implements ``"fill"`` (the
        ``fill_width`` points at each end set to ``fill_value``).
    options : dict
        Default values of the method's own options, read from the keyword-only parameters of
        :meth:`derivative` (set it explicitly only if ``derivative`` takes ``**options``).

    Notes
    -----
    The engine calls the methods with the method's own options only, validated by
    :meth:`check_options` and with defaults filled in, and hands :meth:`derivative` floating
    arrays (integers and booleans arrive as float64, float16 as float32); it casts the result
    to the derivative's dtype. With ``nan_policy="omit"``, each NaN-free run along the axis is
    a domain of its own: the method never sees a NaN there.

    Locality (methods with a finite :meth:`halo`): the derivative at a point depends only on
    the values within ``halo`` points of it, except within ``halo`` of a domain end, where it
    may depend on the ``min_points`` points at that end. Chunked results equal in-memory ones
    by this promise; :func:`fieldgrad.testing.check_method` checks it.

    Examples
    --------
    >>> from fieldgrad.plugin import DerivativeMethod, axis_coord
    >>> class Centered(DerivativeMethod):
    ...     name = "centered-example"
    ...     max_order = 1
    ...     supports_nonuniform = True
    ...     def halo(self, coord, order):
    ...         return 1
    ...     def derivative(self, values, coord, *, axis, order):
    ...         return np.gradient(values, coord.values, axis=axis)
    >>> Centered().derivative(np.arange(4.0) ** 2, axis_coord(np.arange(4.0)), axis=0, order=1)
    array([1., 2., 4., 5.])
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    max_order: ClassVar[int | None] = None
    supports_nonuniform: ClassVar[bool] = False
    boundaries: ClassVar[tuple[str, ...]] = ("one-sided",)
    options: ClassVar[dict[str, Any]] = {}
    _declares_options: ClassVar[str] = "derivative"  # the function whose keyword-only parameters are the options

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "options" in cls.__dict__:
            return
        declaring = getattr(cls, cls._declares_options)
        if not getattr(declaring, "protocol_stub", False) and not _takes_var_keywords(declaring):
            cls.options = declared_options(declaring)

    @_stub
    def halo(self, coord: AxisCoord, order: int, **options: Any) -> int | None:
        """Points needed on each side of a chunk for exact interior values; None: the whole axis.

        ``coord`` is the whole axis (its ``spacing`` says whether it is uniform; ``period`` whether
        it wraps around).
        """
        raise NotImplementedError(f"{type(self).__name__} must implement halo(coord, order, **options)")

    @_stub
    def derivative(self, values: np.ndarray, coord: AxisCoord, *, axis: int, order: int, **options: Any) -> np.ndarray:
        """The ``order``-th derivative of ``values`` along ``axis`` at the positions ``coord``.

        ``values`` is a floating-point numpy array without NaN runs to worry about (see the
        class notes), ``coord.values`` holds its ``values.shape[axis]`` positions. Returns an
        array of the same shape. Must not modify its inputs or ``self``.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must implement derivative(values, coord, *, axis, order, <options>)"
        )

    def min_points(self, coord: AxisCoord, order: int, **options: Any) -> int:
        """Fewest points along the axis for which :meth:`derivative` is defined."""
        return order + 1

    def check_axis(self, coord: AxisCoord, order: int, **options: Any) -> None:
        """Raise ValueError, naming the option and what would be valid, when the method cannot take
        this axis with these options (called when the operation is called, before any computing).

        The default accepts every axis that has :meth:`min_points`.
        """

    def fill_width(self, coord: AxisCoord, order: int, **options: Any) -> int:
        """Points at each domain end without a centred stencil: set to ``fill_value`` by ``boundary="fill"``.

        The default is the halo (methods with a finite halo only).
        """
        width = self.halo(coord, order, **options)
        if width is None:
            raise ValueError(f"method {self.name!r} needs the whole axis, so boundary='fill' has no meaning for it")
        return width

    def short_run_options(self, coord: AxisCoord, order: int, **options: Any) -> dict[str, Any] | None:
        """Options for a NaN-free run shorter than :meth:`min_points` (``nan_policy="omit"``).

        None (the default) leaves such a run NaN; a method may instead return options that
        work on fewer points (finite differences lower their edge order).
        """
        return None

    def check_options(self, order: int, **options: Any) -> dict[str, Any]:
        """Validate ``order`` and the method's options; return them with defaults filled in.

        Raises ValueError naming the argument and what is valid.
        """
        if not isinstance(order, (int, np.integer)) or isinstance(order, bool) or order < 0:
            raise ValueError(f"order must be a non-negative integer, got {order!r}")
        if self.max_order is not None and order > self.max_order:
            raise ValueError(
                f"method {self.name!r} supports derivative orders up to {self.max_order}, got order={order}"
            )
        unknown = set(options) - set(self.options)
        if unknown:
            valid = ", ".join(sorted(self.options)) or "none"
            raise ValueError(f"unknown option(s) {sorted(unknown)} for method {self.name!r}; valid options: {valid}")
        return {**self.options, **options}

    def derivatives(self, values: np.ndarray, coords: list[tuple[int, AxisCoord]], **options: Any) -> np.ndarray:
        """First derivatives along several axes, stacked on a new leading axis.

        ``coords`` holds ``(axis, coord)`` per output. The default calls :meth:`derivative`
        once per axis; a method that can do better (one pass over memory for all axes, as
        :class:`StencilMethod` does) overrides it.
        """
        out = np.empty((len(coords),) + values.shape, dtype=result_dtype(values.dtype))
        for k, (axis, coord) in enumerate(coords):
            out[k] = self.derivative(values, coord, axis=axis, order=1, **options)
        return out

    def __repr__(self) -> str:
        return f"<{type(self).__name__} method {self.name!r}: {self.description}>"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(type(self))


class StencilMethod(DerivativeMethod):
    """A method that is a linear stencil along the axis: supply the stencil, inherit the rest.

    Implement :meth:`stencil` (the :class:`~fieldgrad.stencil.AxisStencil` of one derivative
    along an axis) and :meth:`halo`; the options are the keyword-only parameters of
    :meth:`stencil`. :meth:`derivative` applies the stencil with fieldgrad's compiled kernel,
    and the gradient computes all its axes in one pass over memory.

    Examples
    --------
    >>> from fieldgrad.plugin import StencilMethod, axis_coord, stencil_from_rows
    >>> class Forward(StencilMethod):
    ...     name = "forward-example"
    ...     max_order = 1
    ...     def halo(self, coord, order):
    ...         return 1
    ...     def stencil(self, coord, order, *, scale=1.0):
    ...         # f[i+1] - f[i] over the step, and a backward difference at the last point
    ...         n, h = coord.size, coord.spacing
    ...         rows = [[(i, -scale / h), (i + 1, scale / h)] for i in range(n - 1)]
    ...         rows.append([(n - 2, -scale / h), (n - 1, scale / h)])
    ...         return stencil_from_rows(n, rows)
    >>> Forward.options
    {'scale': 1.0}
    >>> Forward().derivative(np.arange(5.0) ** 2, axis_coord(np.arange(5.0)), axis=0, order=1)
    array([1., 3., 5., 7., 7.])
    """

    _declares_options: ClassVar[str] = "stencil"

    @_stub
    def stencil(self, coord: AxisCoord, order: int, **options: Any) -> AxisStencil:
        """The stencil of the ``order``-th derivative along an axis at the positions ``coord``."""
        raise NotImplementedError(f"{type(self).__name__} must implement stencil(coord, order, <options>)")

    def derivative(self, values: np.ndarray, coord: AxisCoord, *, axis: int, order: int, **options: Any) -> np.ndarray:
        return apply_stencils(values, [(axis, self.stencil(coord, order, **options))])[0]

    def derivatives(self, values: np.ndarray, coords: list[tuple[int, AxisCoord]], **options: Any) -> np.ndarray:
        """All first derivatives in one pass over memory (:func:`fieldgrad.kernels.apply_stencils`)."""
        return apply_stencils(values, [(axis, self.stencil(coord, 1, **options)) for axis, coord in coords])


def check_boundaries(kinds: Any, label: str) -> None:
    """Raise TypeError unless ``kinds`` is a non-empty tuple of boundary kinds a method may implement."""
    if not isinstance(kinds, tuple) or not kinds or any(k not in BOUNDARIES for k in kinds):
        raise TypeError(f"{label}.boundaries must be a non-empty tuple of {BOUNDARIES}, got {kinds!r}")
