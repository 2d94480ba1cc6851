"""The grid's own derivatives: ``∂c/∂q`` of 2-D coordinates, and the checks that the grid is one.

The metric of a grid given by 2-D coordinates (a curvilinear planar grid, a 2-D latitude and
longitude) is built from the derivatives of those coordinates along the grid's index dims,
taken with the call's own method, stencils and accuracy, so that the metric terms carry the
same truncation order as the field's derivatives. A 2-D latitude and longitude is differentiated
through the unit vectors of its points in 3-D (:func:`embedding_derivatives`), which are smooth
across a pole and the date line where the angles are not.

Coefficients that an operator differentiates again (the Laplacian's ``J g^qr``, Christoffel
symbols, the grid's direction under grid-relative components) come from the same derivatives
taken at a higher order (:func:`refined_keywords`): a coefficient whose error is ``O(h^p)`` but
changes from the one-sided edge rows to the centred rows loses an order when differentiated,
``O(h^(p-1))`` on the boundary rows; one order more in the coefficient keeps ``O(h^p)`` there.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from ..calculus import partial
from ..coefficients import VALID_ACCURACIES
from ..fd import FiniteDifference
from .algebra import bare
from .axes import check_finite, coord_values
from .base import Grid

if TYPE_CHECKING:
    from ..keywords import DerivativeKeywords

__all__ = [
    "check_cells",
    "check_cells_on_sphere",
    "check_jacobian",
    "coordinate_derivatives",
    "embedding_derivatives",
    "extra_axes",
    "index_dims_in_place",
    "refined_keywords",
]

#: how many orders the coefficients that are differentiated again are taken above the call's
REFINEMENT = 2


def refined_keywords(kw: DerivativeKeywords, sizes: Sequence[int]) -> DerivativeKeywords:
    """The call's keywords with finite differences two orders more accurate, edges included.

    For the grid's coefficients that operators differentiate: the centred stencils of accuracy
    ``p + 2`` and one-sided edge stencils of order ``p + 2`` (at most 8) leave an error that,
    differentiated once with the call's stencils, stays below their own ``O(h^p)`` on every row.
    Other methods (and axes of ``sizes`` points too short for the wider stencils) keep the
    call's keywords.

    Examples
    --------
    >>> from fieldgrad.keywords import split_keywords
    >>> kw, _ = split_keywords({"accuracy": 4})
    >>> refined_keywords(kw, [50, 60]).options
    {'accuracy': 6, 'edge_order': 6}
    >>> refined_keywords(kw, [5, 60]).options   # 5 points: no room for wider stencils
    {'accuracy': 4}
    """
    method = kw.method_object()
    if not isinstance(method, FiniteDifference):
        return kw
    accuracy = kw.options.get("accuracy", method.options.get("accuracy", 2))
    edge_order = kw.options.get("edge_order") or accuracy
    finer = min(accuracy + REFINEMENT, max(VALID_ACCURACIES))
    finer_edge = min(max(edge_order, accuracy) + REFINEMENT, max(VALID_ACCURACIES))
    if finer == accuracy and finer_edge == edge_order:
        return kw
    if any(n < finer_edge + 1 or n < finer + 1 for n in sizes):  # the widest one-sided or centred stencil
        return kw
    return replace(kw, options={**kw.options, "accuracy": finer, "edge_order": finer_edge})


def coordinate_derivatives(grid: Grid, name: Hashable, kw: DerivativeKeywords) -> dict[str, xr.DataArray]:
    """``∂c/∂q`` of the 2-D coordinate ``name`` along each of its dims, kept by the grid."""
    dims = grid.coords[name].dims
    key = ("coordinate derivatives", name, kw.key(), tuple(kw.boundary_of(d) for d in dims))
    return grid.memo(key, lambda: _derivatives(grid.coords, name, kw), depends_on=(name, *dims))


def _derivatives(coords: xr.Dataset, name: Hashable, kw: DerivativeKeywords) -> dict[str, xr.DataArray]:
    values = coord_values(coords, name)
    var = coords[name]
    check_finite(values, name)
    dim_coords = {d: coords[d] for d in var.dims if d in coords.coords}
    out: dict[str, xr.DataArray] = {}
    for d in var.dims:
        result = partial(xr.DataArray(values, dims=var.dims, coords=dim_coords), d, 1, kw, grid=True)
        data = result.data.compute() if hasattr(result.data, "compute") else result.data
        out[str(d)] = bare(np.asarray(data, dtype=np.float64), var.dims)
    return out


def embedding_derivatives(
    coords: xr.Dataset, dims: Sequence[Hashable], up: np.ndarray, kw: DerivativeKeywords
) -> dict[str, np.ndarray]:
    """``∂r̂/∂q`` along each of ``dims`` of the unit vectors ``up`` (shape ``(3, *dims)``) of a 2-D
    latitude/longitude's points.

    Unlike the angles, ``r̂`` is as smooth as the grid across a pole (where the longitude turns
    through 360° within a cell) and the date line, so its derivatives with the call's stencils
    carry their nominal order everywhere.
    """
    dim_coords = {d: coords[d] for d in dims if d in coords.coords}
    vectors = xr.DataArray(up, dims=("__fieldgrad_xyz__", *dims), coords=dim_coords)
    out: dict[str, np.ndarray] = {}
    for d in dims:
        result = partial(vectors, d, 1, kw, grid=True)
        data = result.data.compute() if hasattr(result.data, "compute") else result.data
        out[str(d)] = np.asarray(data, dtype=np.float64)
    return out


def check_jacobian(det: xr.DataArray, names: Sequence[Hashable], skip: np.ndarray | None = None) -> None:
    """Refuse folded or degenerate grids: the Jacobian determinant must keep one sign and not vanish."""
    d = np.asarray(det.values)
    ok = np.ones(d.shape, bool) if skip is None else ~skip
    bad_nan = ok & ~np.isfinite(d)
    if bad_nan.any():
        where = tuple(int(i) for i in np.argwhere(bad_nan)[0])
        raise ValueError(
            f"the grid of coordinates {[str(n) for n in names]} has a non-finite Jacobian at index "
            f"{where} of dims {list(det.dims)}"
        )
    vals = d[ok]
    scale = np.max(np.abs(vals)) if vals.size else 0.0
    zero = ok & (np.abs(d) <= 1e-12 * scale)
    if zero.any() or scale == 0:
        where = tuple(int(i) for i in np.argwhere(zero)[0]) if zero.any() else ()
        raise ValueError(
            f"the grid of coordinates {[str(n) for n in names]} is degenerate (Jacobian determinant "
            f"zero) at index {where} of dims {list(det.dims)}"
        )
    if (vals > 0).any() and (vals < 0).any():
        minority = d > 0 if (vals > 0).sum() < (vals < 0).sum() else d < 0
        where = tuple(int(i) for i in np.argwhere(ok & minority)[0])
        raise ValueError(
            f"the grid of coordinates {[str(n) for n in names]} folds over itself (its Jacobian "
            f"determinant changes sign) at index {where} of dims {list(det.dims)}"
        )


def check_cells(first: np.ndarray, second: np.ndarray, names: Sequence[Hashable], dims: Sequence[Hashable]) -> None:
    """Refuse planar grids whose cells fold over: the cross product of each cell's two edges, from
    the coordinates' own differences, keeps one sign (a stencil spanning a fold can miss it).

    ``first``, ``second`` are the two 2-D coordinates (``x``, ``y``); on the sphere,
    :func:`check_cells_on_sphere`.
    """
    d1 = [np.diff(first, axis=a) for a in (0, 1)]
    d2 = [np.diff(second, axis=a) for a in (0, 1)]
    # the two edges of cell (j, i): along axis 1 at row j, along axis 0 at column i
    cross = d1[1][:-1, :] * d2[0][:, :-1] - d2[1][:-1, :] * d1[0][:, :-1]
    _refuse_fold(cross, names, dims)


def check_cells_on_sphere(up: np.ndarray, names: Sequence[Hashable], dims: Sequence[Hashable]) -> None:
    """Refuse grids on the sphere whose cells fold over, from the unit vectors ``up`` of their points.

    The two edges of each cell, as chords in 3-D, and the outward normal at its corner must keep
    one orientation: ``(e₁ × e₂)·r̂`` keeps one sign. Unlike the cross product in the
    (longitude, latitude) chart, this is defined for cells around a pole and across the date
    line; an edge of zero length (the points of a pole row) leaves its cell out.
    """
    e1 = up[:, :-1, 1:] - up[:, :-1, :-1]  # along axis 1 at row j
    e2 = up[:, 1:, :-1] - up[:, :-1, :-1]  # along axis 0 at column i
    cross = np.einsum("a...,a...->...", np.cross(e1, e2, axis=0), up[:, :-1, :-1])
    _refuse_fold(cross, names, dims)


def _refuse_fold(cross: np.ndarray, names: Sequence[Hashable], dims: Sequence[Hashable]) -> None:
    """Raise where the cells' orientations ``cross`` take both signs (zero within round-off: no sign)."""
    scale = np.abs(cross).max() if cross.size else 0.0
    signs = np.sign(np.where(np.abs(cross) <= 1e-12 * scale, 0.0, cross))
    positive, negative = (signs > 0).sum(), (signs < 0).sum()
    if positive and negative:
        minority = signs > 0 if positive < negative else signs < 0
        where = tuple(int(i) for i in np.argwhere(minority)[0])
        raise ValueError(
            f"the grid of coordinates {[str(n) for n in names]} folds over itself at the cell at index {where} "
            f"of dims {[str(d) for d in dims]} (its coordinates turn back there)"
        )


def extra_axes(
    grid: Grid, keys: Sequence[Hashable], horizontal: Sequence[Hashable], kw: DerivativeKeywords
) -> tuple[list[str], dict[tuple[str, str], float], dict[str, str | None]]:
    """Cartesian axes named beside the horizontal ones (a vertical dim, say): identity entries."""
    extra = [str(k) for k in keys if k not in set(horizontal)]
    return extra, {(k, k): 1.0 for k in extra}, {k: grid.length_unit(k, kw.datetime_unit) for k in extra}


def index_dims_in_place(
    keys: Sequence[Hashable], two_d: Sequence[Hashable], grid_dims: Sequence[str]
) -> tuple[str, ...]:
    """The keys with the grid's index dims where its 2-D coordinates stand (``[x, z]`` -> ``[j, z]``)."""
    it = iter(grid_dims)
    return tuple(next(it) if k in two_d else str(k) for k in keys)
