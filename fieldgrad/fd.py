"""The built-in finite-difference method, ``method="fd"``."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from .coefficients import VALID_ACCURACIES, central_radius, one_sided_width
from .coords import AxisCoord, detect_spacing
from .kernels import apply_stencils
from .method import DerivativeMethod
from .stencil import BOUNDARIES, build_stencil

__all__ = ["FiniteDifference"]


class FiniteDifference(DerivativeMethod):
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
    >>> fd = FiniteDifference()
    >>> f = np.array([1.0, -1.0, 1.0, -1.0, 1.0])  # a true second derivative sees this mode
    >>> fd.derivative(f, np.arange(5.0), axis=0, order=2)
    array([12.,  4., -4.,  4., 12.])
    >>> fd.halo(1, accuracy=4)
    2
    """

    name: ClassVar[str] = "fd"
    description: ClassVar[str] = "finite differences: any order, accuracy 2-8, uniform and non-uniform coordinates"
    max_order: ClassVar[int | None] = None
    supports_nonuniform: ClassVar[bool] = True
    boundaries: ClassVar[tuple[str, ...]] = BOUNDARIES
    options: ClassVar[dict[str, Any]] = {"accuracy": 2, "edge_order": None}

    def check_options(self, order: int, **options: Any) -> dict[str, Any]:
        opts = super().check_options(order, **options)
        accuracy = opts["accuracy"]
        if accuracy not in VALID_ACCURACIES or isinstance(accuracy, bool):
            raise ValueError(f"accuracy must be one of {VALID_ACCURACIES}, got {accuracy!r}")
        edge_order = opts["edge_order"]
        if edge_order is None:
            opts["edge_order"] = accuracy
        elif isinstance(edge_order, bool) or not isinstance(edge_order, (int, np.integer)) or not 1 <= edge_order <= 8:
            raise ValueError(f"edge_order must be an integer from 1 to 8, or None (= accuracy), got {edge_order!r}")
        return opts

    def halo(
        self,
        order: int,
        *,
        accuracy: int = 2,
        edge_order: int | None = None,
        nan_policy: str = "propagate",
        spacing: float | None = None,
        **options: Any,
    ) -> int:
        r = central_radius(order, accuracy, uniform=spacing is not None)  # None: the wider, non-uniform one
        q = one_sided_width(order, edge_order or accuracy)
        # a point near a domain edge uses the q-point window at that edge: it must reach it
        r = max(r, (q + 1) // 2 - 1)
        if nan_policy == "omit":
            r = max(r, q - 1)  # a run's one-sided window reaches this far from the point it serves
        return r

    def fill_width(self, order: int, *, accuracy: int = 2, spacing: float | None = None, **options: Any) -> int:
        return central_radius(order, accuracy, uniform=spacing is not None)

    def min_points(
        self,
        order: int,
        *,
        accuracy: int = 2,
        edge_order: int | None = None,
        boundary: str = "one-sided",
        nan_policy: str = "propagate",
        spacing: float | None = None,
        **options: Any,
    ) -> int:
        if nan_policy == "omit" and boundary == "one-sided":
            return order + 1  # short NaN-free runs fall back to lower edge orders
        if boundary == "one-sided":
            return one_sided_width(order, edge_order or accuracy)
        return 2 * central_radius(order, accuracy, uniform=spacing is not None) + 1

    def _stencil(
        self,
        coord: np.ndarray,
        order: int,
        *,
        accuracy: int = 2,
        edge_order: int | None = None,
        boundary: str = "one-sided",
        fill_value: float = np.nan,
        period: float | None = None,
        nan_policy: str = "propagate",
        spacing: float | str | None = "auto",
        **options: Any,
    ) -> Any:
        n = coord.shape[0]
        edge_order = edge_order or accuracy
        if nan_policy == "omit" and boundary == "one-sided":
            edge_order = max(1, min(edge_order, n - order))
        if isinstance(spacing, str):  # "auto": called directly, not by the engine
            spacing = detect_spacing(coord)
        elif spacing is not None and n > 1:
            spacing = abs(spacing) if coord[-1] > coord[0] else -abs(spacing)
        axis = AxisCoord(values=coord, spacing=spacing, period=period)
        return build_stencil(axis, order, accuracy, edge_order, boundary, fill_value)

    def derivative(self, values: np.ndarray, coord: np.ndarray, *, axis: int, order: int, **options: Any) -> np.ndarray:
        return apply_stencils(values, [(axis, self._stencil(coord, order, **options))])[0]

    def derivatives(self, values: np.ndarray, terms: list[tuple[int, np.ndarray, dict[str, Any]]]) -> np.ndarray:
        """All first derivatives in one pass over memory (see :func:`fieldgrad.kernels.apply_stencils`)."""
        return apply_stencils(values, [(axis, self._stencil(coord, 1, **kw)) for axis, coord, kw in terms])
