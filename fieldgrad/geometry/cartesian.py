"""``geometry="cartesian"``: flat grids (the identity metric) and planar curvilinear grids.

Dims or 1-D coordinates named for the derivatives give the identity metric. Two 2-D
coordinates ``x(j, i)``, ``y(j, i)`` named in place of dims are a planar curvilinear grid:
``G`` is the grid's Jacobian ``∂(x, y)/∂(j, i)``, differentiated with the call's own stencils
(and two orders finer for the coefficients that operators differentiate again).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

import xarray as xr

from .algebra import Coef, det
from .axes import DefaultDimsError, coord_values, default_dims
from .base import Geometry, Grid, register_geometry
from .metric import Metric
from .terms import (
    check_cells,
    check_jacobian,
    coordinate_derivatives,
    extra_axes,
    index_dims_in_place,
    refined_keywords,
)

if TYPE_CHECKING:
    from ..keywords import DerivativeKeywords

__all__ = ["Cartesian"]


@register_geometry
class Cartesian(Geometry):
    """Flat grids and planar curvilinear grids (2-D coordinates named in place of dims)."""

    name = "cartesian"

    def default_keys(self, grid: Grid, field: xr.DataArray | xr.Dataset) -> list[Hashable]:
        return default_dims(field)

    def describe(self, grid: Grid) -> list[str]:
        try:
            dims = ", ".join(map(str, default_dims(grid.coords, list(grid.sizes)))) or "none"
        except DefaultDimsError as err:
            dims = f"none without naming them ({err.problem})"
        out = [f"default dims: {dims}"]
        two_d = [f"{k}{tuple(map(str, v.dims))}" for k, v in grid.variables.items() if v.ndim == 2]
        if two_d:
            out.append(f"2-D coordinates (a curvilinear grid when named): {', '.join(two_d)}")
        return out

    def metric(self, grid: Grid, keys: Sequence[Hashable], kw: DerivativeKeywords) -> Metric:
        two_d = [k for k in keys if grid.is_2d_coordinate(k)]
        if two_d:
            return _curvilinear(grid, keys, two_d, kw)
        labels = tuple(str(k) for k in keys)
        if not labels:
            raise ValueError("no dimension given to differentiate along")
        return identity_metric(labels, tuple(grid.length_unit(k, kw.datetime_unit) for k in keys))


@lru_cache(maxsize=128)
def identity_metric(labels: tuple[str, ...], units: tuple[str | None, ...]) -> Metric:
    """The metric of a flat grid along ``labels`` (the same object for the same labels and units:
    what it derives, its determinant and inverse, is kept with it)."""
    return Metric(
        kind="cartesian",
        labels=labels,
        dims=labels,
        G={(k, k): 1.0 for k in labels},
        length_units=dict(zip(labels, units, strict=True)),
    )


def _curvilinear(grid: Grid, keys: Sequence[Hashable], two_d: list[Hashable], kw: DerivativeKeywords) -> Metric:
    """Planar 2-D coordinates ``x(j, i)``, ``y(j, i)``: G is the grid's Jacobian."""
    coords = grid.coords
    if len(two_d) != 2:
        raise ValueError(
            f"a curvilinear grid needs two 2-D coordinates (e.g. x(j, i) and y(j, i)), got {[str(k) for k in two_d]}"
        )
    grid_dims = coords[two_d[0]].dims
    if set(coords[two_d[1]].dims) != set(grid_dims):
        raise ValueError(
            f"the 2-D coordinates {two_d[0]!r} and {two_d[1]!r} must have the same dims, got "
            f"{coords[two_d[0]].dims} and {coords[two_d[1]].dims}"
        )
    clash = [k for k in keys if k in grid_dims]
    if clash:
        raise ValueError(
            f"name either the 2-D coordinates {[str(k) for k in two_d]} or their dims, not both "
            f"(got {[str(k) for k in keys]})"
        )
    labels2 = tuple(str(k) for k in two_d)
    qs = tuple(str(d) for d in grid_dims)

    def entries(kw_used: DerivativeKeywords) -> dict[tuple[str, str], Coef]:
        G: dict[tuple[str, str], Coef] = {}
        for name in two_d:
            for q, dq in coordinate_derivatives(grid, name, kw_used).items():
                G[str(name), q] = dq
        return G

    G = entries(kw)
    jacobian = det({(i, j): G[a, q] for i, a in enumerate(labels2) for j, q in enumerate(qs)}, [0, 1], [0, 1])
    check_jacobian(jacobian, two_d)  # type: ignore[arg-type]
    check_cells(coord_values(coords, two_d[0]), coord_values(coords, two_d[1]), two_d, grid_dims)
    extra, extra_G, extra_units = extra_axes(grid, keys, two_d, kw)
    units = {str(k): grid.length_unit(k) for k in two_d}

    def metric(G: dict[tuple[str, str], Coef], refined: Metric | None) -> Metric:
        return Metric(
            kind="curvilinear",
            labels=tuple(str(k) for k in keys),
            dims=index_dims_in_place(keys, two_d, qs),
            G={**G, **extra_G},
            length_units={**units, **extra_units},
            orientation=labels2 + tuple(extra),
            grid_frame=(qs[1], qs[0]),
            refined=refined,
        )

    # the coefficients operators differentiate, from coordinate derivatives two orders finer
    finer = refined_keywords(kw, [grid.sizes[d] for d in grid_dims])
    return metric(G, metric(entries(finer), None) if finer is not kw else None)
