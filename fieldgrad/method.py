"""The derivative-method protocol: what a method declares and the two functions it implements.

A method is a small stateless object: numpy in, numpy out, one axis at a time. The engine
(:mod:`fieldgrad.engine`) does everything else: labels, coordinates, dtype rules, NaN runs,
boundary emulation, dask chunks and halo exchange.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

__all__ = ["DerivativeMethod"]


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
        Boundary kinds the method implements itself. The engine emulates the others where the
        method has a finite halo: ``"periodic"`` by wrapping ``halo`` points (and the
        coordinate, shifted by the period) around each end, ``"fill"`` by setting the ``halo``
        points at each end to ``fill_value``.
    options : dict
        Default values of the method's own options (e.g. ``{"window": 21}``); unknown
        keywords are refused by :meth:`check_options`.

    Notes
    -----
    Besides its own options, the engine passes these keywords to :meth:`derivative`,
    :meth:`halo` and :meth:`min_points` (accept them with ``**options``):

    ``boundary``
        one of :attr:`boundaries` (emulated kinds arrive as ``"one-sided"``);
    ``fill_value``
        the value for ``boundary="fill"``;
    ``period``
        the period of the coordinate, or None;
    ``nan_policy``
        ``"propagate"`` or ``"omit"`` (with ``"omit"`` the engine passes NaN-free runs);
    ``spacing``
        the constant step of the *whole* axis, or None when it is not uniform. A chunk or a
        run of a non-uniform axis may look uniform; use ``spacing``, not the chunk, to decide.

    Examples
    --------
    >>> import fieldgrad
    >>> class Centered(fieldgrad.DerivativeMethod):
    ...     name = "centered-example"
    ...     max_order = 1
    ...     supports_nonuniform = True
    ...     def halo(self, order, **options):
    ...         return 1
    ...     def derivative(self, values, coord, *, axis, order, **options):
    ...         return np.gradient(values, coord, axis=axis)
    >>> Centered().derivative(np.arange(4.0) ** 2, np.arange(4.0), axis=0, order=1)
    array([1., 2., 4., 5.])
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    max_order: ClassVar[int | None] = None
    supports_nonuniform: ClassVar[bool] = False
    boundaries: ClassVar[tuple[str, ...]] = ("one-sided",)
    options: ClassVar[dict[str, Any]] = {}

    def halo(self, order: int, **options: Any) -> int | None:
        """Points needed on each side of a chunk for exact interior values; None: the whole axis."""
        raise NotImplementedError(f"{type(self).__name__} must implement halo(order, **options)")

    def derivative(self, values: np.ndarray, coord: np.ndarray, *, axis: int, order: int, **options: Any) -> np.ndarray:
        """The ``order``-th derivative of ``values`` along ``axis`` at the points ``coord``.

        ``values`` is a floating-point numpy array, ``coord`` a strictly monotonic float64 array
        of ``values.shape[axis]`` positions. Returns an array of the same shape. Must not modify
        its inputs or ``self``.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must implement derivative(values, coord, *, axis, order, **options)"
        )

    def fill_width(self, order: int, **options: Any) -> int:
        """Points at each domain end without a centred stencil: set to ``fill_value`` by ``boundary="fill"``.

        The default is the halo (methods with a finite halo only).
        """
        width = self.halo(order, **options)
        if width is None:
            raise ValueError(f"method {self.name!r} needs the whole axis, so boundary='fill' has no meaning for it")
        return width

    def min_points(self, order: int, **options: Any) -> int:
        """Fewest points along the axis for which :meth:`derivative` is defined."""
        return order + 1

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

    def derivatives(self, values: np.ndarray, terms: list[tuple[int, np.ndarray, dict[str, Any]]]) -> np.ndarray:
        """First derivatives along several axes, stacked on a new leading axis.

        ``terms`` holds ``(axis, coord, options)`` per output. The default calls
        :meth:`derivative` once per axis; a method that can do better (one pass over memory
        for all axes, as ``fd`` does) overrides it.
        """
        out = np.empty((len(terms),) + values.shape, dtype=np.result_type(values.dtype, np.float32))
        for k, (axis, coord, options) in enumerate(terms):
            out[k] = self.derivative(values, coord, axis=axis, order=1, **options)
        return out

    def __repr__(self) -> str:
        return f"<{type(self).__name__} method {self.name!r}: {self.description}>"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(type(self))
