"""The built-in finite-difference method, ``method="fd"``."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from .coefficients import VALID_ACCURACIES, central_radius, one_sided_width
from .coords import AxisCoord
from .method import StencilMethod
from .stencil import AxisStencil, build_stencil

__all__ = ["FiniteDifference"]


class FiniteDifference(StencilMethod):
    """Finite differences of any order and accuracy 2, 4, 6 or 8, on uniform and non-uniform axes.

    Options
    -------
    accuracy : {2, 4, 6, 8}, default 2
        Formal order of accuracy of the centred interior stencils.
    edge_order : int, optional
        Formal order of accuracy of the one-sided boundary stencils; defaults to ``accuracy``.
        With ``accuracy=2``, ``edge_order`` 1 and 2 reproduce :func:`numpy.gradient`.

    Examples
    --------
    >>> from fieldgrad.coords import axis_coord
    >>> fd = FiniteDifference()
    >>> f = np.array([1.0, -1.0, 1.0, -1.0, 1.0])  # a true second derivative sees this mode
    >>> fd.derivative(f, axis_coord(np.arange(5.0)), axis=0, order=2)
    array([12.,  4., -4.,  4., 12.])
    >>> fd.halo(axis_coord(np.arange(5.0)), 1, accuracy=4)
    2
    """

    name: ClassVar[str] = "fd"
    description: ClassVar[str] = "finite differences: any order, accuracy 2-8, uniform and non-uniform coordinates"
    max_order: ClassVar[int | None] = None
    supports_nonuniform: ClassVar[bool] = True
    boundaries: ClassVar[tuple[str, ...]] = ("one-sided", "periodic")

    def check_options(self, order: int, **options: Any) -> dict[str, Any]:
        opts = super().check_options(order, **options)
        accuracy = opts["accuracy"]
        if not _is_int(accuracy) or accuracy not in VALID_ACCURACIES:
            raise ValueError(f"accuracy must be one of {VALID_ACCURACIES}, got {accuracy!r}")
        edge_order = opts["edge_order"]
        if edge_order is None:
            opts["edge_order"] = accuracy
        elif not _is_int(edge_order) or not 1 <= edge_order <= 8:
            raise ValueError(f"edge_order must be an integer from 1 to 8, or None (= accuracy), got {edge_order!r}")
        return opts

    def stencil(self, coord: AxisCoord, order: int, *, accuracy: int = 2, edge_order: int | None = None) -> AxisStencil:
        boundary = "periodic" if coord.period is not None else "one-sided"
        return build_stencil(coord, order, accuracy, edge_order or accuracy, boundary)

    def halo(self, coord: AxisCoord, order: int, *, accuracy: int = 2, edge_order: int | None = None) -> int:
        r = central_radius(order, accuracy, uniform=coord.uniform)  # non-uniform: the wider one
        q = one_sided_width(order, edge_order or accuracy)
        # a point near a domain edge uses the q-point window at that edge: it must reach it
        return max(r, (q + 1) // 2 - 1)

    def fill_width(  # type: ignore[override]  # allow LSP violation: options are keyword-only, not **options
        self, coord: AxisCoord, order: int, *, accuracy: int = 2, edge_order: int | None = None
    ) -> int:
        return central_radius(order, accuracy, uniform=coord.uniform)

    def min_points(  # type: ignore[override]  # allow LSP violation: options are keyword-only, not **options
        self, coord: AxisCoord, order: int, *, accuracy: int = 2, edge_order: int | None = None
    ) -> int:
        if coord.period is None:
            return one_sided_width(order, edge_order or accuracy)
        return 2 * central_radius(order, accuracy, uniform=coord.uniform) + 1

    def short_run_options(  # type: ignore[override]  # allow LSP violation: options are keyword-only, not **options
        self, coord: AxisCoord, order: int, *, accuracy: int = 2, edge_order: int | None = None
    ) -> dict[str, Any] | None:
        """A run of ``n`` points shorter than the edge stencils: edge order ``n - order`` (at least 1)."""
        n = coord.size
        if n <= order:
            return None
        return {"accuracy": accuracy, "edge_order": max(1, min(edge_order or accuracy, n - order))}


def _is_int(value: Any) -> bool:
    """An integer, not a bool nor a float that equals one (4.0 is a typo for 4, not 4)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
