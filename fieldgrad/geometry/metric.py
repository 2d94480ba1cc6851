"""The metric of a grid: the one object every operator is written on.

``G[a, q] = ∂r_a / ∂q`` is the physical length along the frame direction ``a`` per unit of the
coordinate ``q`` that the derivatives run along (a dim's 1-D coordinate, or its index when it
has none). With ``J = det G``, ``adj G = J G⁻¹`` and ``g_qr = Σ_a G_aq G_ar``:

* gradient      ``∇f_a = Σ_q (G⁻¹)_qa ∂_q f``
* divergence    ``(1/J) Σ_q ∂_q (Σ_a adj(G)_qa F_a)``
* curl          ``(1/J) ε_qrs ∂_q (Σ_a G_ar F_a)`` (the normal component in 2-D)
* Laplacian     ``Σ_qr g^qr ∂_q∂_r f + Σ_r (1/J) Σ_q ∂_q(J g^qr) ∂_r f``
* Hessian and Jacobian with the Christoffel symbols of ``g``.

A flat grid is the identity metric: the coefficient algebra (:mod:`.algebra`) skips its 0s and
1s, so the same formulas cost exactly the partial derivatives there. Coefficients that a formula
differentiates (``J g^qr``, ``g`` in the Christoffel symbols, ``G`` in the Jacobian) are read from
:meth:`Metric.for_derivatives`, and an operator that differentiates components does so in
:meth:`Metric.in_smooth_frame`. Points where the frame has
no direction (the poles) are *singular*: vector results are NaN there, and divergence, curl and
Laplacian at a pole row of a latitude axis take the value of the polar cap (:class:`PolarCaps`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

import numpy as np
import xarray as xr

from .algebra import Coef, add, det, is_const, mul, safe_div, sub

__all__ = ["Metric", "PolarCaps"]


@dataclass(frozen=True)
class PolarCaps:
    """Values at the pole rows of a 1-D latitude axis from Gauss's and Stokes's theorems.

    At a pole every direction is south (or north), so the metric is singular there. Divergence,
    vorticity and Laplacian are instead the flux or circulation through the circle of the
    ``r``-th ring of points around the pole divided by the area of the cap inside it: a value
    ``c(s) = c₀ + a s + b s² + …`` in the cap's relative height ``s = 1 − |sin φ_r|``. With
    ``k = accuracy // 2`` rings, the values are extrapolated to ``s = 0`` (the pole itself) with
    error ``O(Δφ^{2k})``, the nominal order of the stencils. The means over a full, uniform circle
    of longitudes are exact for every wave the grid resolves.
    """

    lat: Hashable  # the latitude dim
    lon: Hashable  # the longitude dim
    radius: float
    to_radians: float  # radians per unit of the latitude coordinate
    poles: tuple[tuple[int, float, tuple[int, ...], tuple[float, ...]], ...]
    # per pole: (row index, +1 north / -1 south, ring rows, weights × cos φ_r / (R s_r))

    def _insert(self, result: xr.DataArray, ring_values: xr.DataArray, sign: float) -> xr.DataArray:
        out = result
        for index, hemisphere, rings, weights in self.poles:
            value: Any = 0.0
            for r, w in zip(rings, weights, strict=True):
                ring = ring_values.isel({self.lat: r}, drop=True)  # a float32 ring is averaged in float64
                ring = ring.astype(np.result_type(ring.dtype, np.float64), copy=False)
                value = add(value, ring.mean(self.lon) * np.float64(w * sign * hemisphere))
            elsewhere = xr.DataArray(np.arange(result.sizes[self.lat]) != index, dims=(self.lat,))
            out = out.where(elsewhere, value)  # the result's own coordinates and attributes kept
        return out.transpose(*result.dims)

    def curl(self, result: xr.DataArray, east: xr.DataArray) -> xr.DataArray:
        """Vorticity at the poles: the circulation of the eastward component around each cap."""
        return self._insert(result, east, 1.0)

    def divergence(self, result: xr.DataArray, north: xr.DataArray) -> xr.DataArray:
        """Divergence at the poles: the outward flux of the northward component through each cap."""
        return self._insert(result, north, -1.0)

    def laplacian(self, result: xr.DataArray, d_dlat: xr.DataArray) -> xr.DataArray:
        """Laplacian at the poles: the outward flux of the gradient (``∂f/∂lat`` per unit of latitude)."""
        return self._insert(result, d_dlat, -1.0 / (self.radius * self.to_radians))


@dataclass(frozen=True)
class Metric:
    """The geometry of one call, resolved from the field's coordinates.

    Attributes
    ----------
    kind : str
        ``"cartesian"``, ``"curvilinear"`` (cartesian with 2-D coordinates), ``"sphere"`` or ``"projected"``.
    labels : tuple of str
        The physical frame: component labels of vector inputs and outputs.
    dims : tuple of str
        The coordinates ``q`` derivatives run along (dims, or 1-D coordinates named for them).
    G : dict
        ``G[(label, q)]``: length along ``label`` per unit of ``q``; missing entries are zero.
    length_units : dict
        Units of length along each label (``"m"`` on the sphere), None where unknown.
    orientation : tuple of str or None
        The label order that is right-handed (a 2-D curl's sign); None: the labels' order.
    singular : DataArray or None
        Points where the frame has no direction (poles): vector results are NaN there.
    caps : PolarCaps or None
        Pole-row values of divergence, curl and Laplacian.
    options : dict
        Keyword defaults for the derivatives (a periodic longitude that covers the circle).
    grid_frame : tuple of str or None
        The index dims ``(i, j)`` of a curvilinear grid: grid-relative components are labelled by
        them, ``i`` along the grid lines of the last dim and ``j`` 90° counter-clockwise from it.
    refined : Metric or None
        The same metric from the coordinates differentiated two orders more accurately, for the
        coefficients that operators differentiate again (:meth:`for_derivatives`) and for the
        grid's direction; None where ``G`` is exact (1-D coordinates, projections).
    smooth_frame : bool
        Whether the frame of the labels is as smooth as the grid. East and north on a 2-D
        latitude/longitude grid are not (they turn through 360° around a pole inside the grid):
        components are differentiated in the grid's own frame there (:meth:`in_smooth_frame`).
    """

    kind: str
    labels: tuple[str, ...]
    dims: tuple[str, ...]
    G: dict[tuple[str, str], Coef]
    length_units: dict[str, str | None]
    orientation: tuple[str, ...] | None = None
    singular: xr.DataArray | None = None
    caps: PolarCaps | None = None
    options: dict[str, Any] = field(default_factory=dict)
    grid_frame: tuple[str, str] | None = None
    refined: Metric | None = field(default=None, repr=False, compare=False)
    smooth_frame: bool = True
    _memo: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    def _memoized(self, key: Any, compute: Callable[[], Any]) -> Any:
        """Derived quantities (det, inverse...) are computed once per metric."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def for_derivatives(self) -> Metric:
        """The metric whose coefficients an operator differentiates (``∂_q(J g^qr)``, Christoffel
        symbols): :attr:`refined` where ``G`` comes from differentiated coordinates, else itself."""
        return self.refined if self.refined is not None else self

    @property
    def flat(self) -> bool:
        """True when ``G`` is the identity: every operator is a plain sum of partial derivatives."""
        return self._memoized("flat", self._is_identity)

    def _is_identity(self) -> bool:
        return all(
            (is_const(self.G.get((a, q), 0.0), 1.0) if i == j else (a, q) not in self.G)
            for i, a in enumerate(self.labels)
            for j, q in enumerate(self.dims)
        )

    def entry(self, a: str, q: str) -> Coef:
        return self.G.get((a, q), 0.0)

    def det(self, rows: Sequence[str] | None = None) -> Coef:
        """``det G`` with the rows in the order given (default: the labels')."""
        rows = tuple(rows or self.labels)
        return self._memoized(("det", rows), lambda: self._det(rows))

    def reciprocal_det(self, rows: Sequence[str] | None = None) -> Coef:
        """``1 / det G`` (rows as in :meth:`det`), NaN where it is zero."""
        rows = tuple(rows or self.labels)
        return self._memoized(("1/det", rows), lambda: safe_div(1.0, self.det(rows)))

    def _det(self, rows: Sequence[str]) -> Coef:
        return det(
            {(i, j): self.entry(a, q) for i, a in enumerate(rows) for j, q in enumerate(self.dims)},
            list(range(len(rows))),
            list(range(len(self.dims))),
        )

    def adjugate(self) -> dict[tuple[str, str], Coef]:
        """``adj(G)[(q, a)] = det(G) (G⁻¹)[q, a]``: finite where ``G`` is singular."""
        return self._memoized("adjugate", self._adjugate)

    def _adjugate(self) -> dict[tuple[str, str], Coef]:
        n = len(self.labels)
        rows, cols = list(range(n)), list(range(n))
        m = {(i, j): self.entry(a, q) for i, a in enumerate(self.labels) for j, q in enumerate(self.dims)}
        out: dict[tuple[str, str], Coef] = {}
        for i, a in enumerate(self.labels):
            for j, q in enumerate(self.dims):
                minor = det(m, [r for r in rows if r != i], [c for c in cols if c != j])
                if not is_const(minor, 0.0):
                    out[q, a] = minor if (i + j) % 2 == 0 else mul(minor, -1.0)
        return out

    def inverse(self) -> dict[tuple[str, str], Coef]:
        """``G⁻¹[(q, a)]``, NaN at singular points (only in the entries that are singular there)."""
        return self._memoized("inverse", self._inverse)

    def _inverse(self) -> dict[tuple[str, str], Coef]:
        pairs = dict(zip(self.labels, self.dims, strict=True))
        if all(pairs.get(a) == q for a, q in self.G):  # diagonal: entry by entry
            return {(q, a): safe_div(1.0, v) for (a, q), v in self.G.items()}
        det = self.det(self.labels)
        return {k: safe_div(v, det) for k, v in self.adjugate().items()}

    @property
    def handed(self) -> tuple[str, ...]:
        """The labels in right-handed order (east before north on the sphere)."""
        return self.orientation or self.labels

    def metric_tensor(self) -> dict[tuple[str, str], Coef]:
        """``g_qr = Σ_a G_aq G_ar`` (lengths squared per unit of q and r)."""
        return self._memoized("metric_tensor", self._metric_tensor)

    def _metric_tensor(self) -> dict[tuple[str, str], Coef]:
        out: dict[tuple[str, str], Coef] = {}
        for q in self.dims:
            for r in self.dims:
                total: Coef = 0.0
                for a in self.labels:
                    total = add(total, mul(self.entry(a, q), self.entry(a, r)))
                if not is_const(total, 0.0):
                    out[q, r] = total
        return out

    def inverse_metric(self) -> dict[tuple[str, str], Coef]:
        """``g^qr = Σ_a G⁻¹_qa G⁻¹_ra``."""
        return self._memoized("inverse_metric", self._inverse_metric)

    def _inverse_metric(self) -> dict[tuple[str, str], Coef]:
        inv = self.inverse()
        out: dict[tuple[str, str], Coef] = {}
        for q in self.dims:
            for r in self.dims:
                total: Coef = 0.0
                for a in self.labels:
                    total = add(total, mul(inv.get((q, a), 0.0), inv.get((r, a), 0.0)))
                if not is_const(total, 0.0):
                    out[q, r] = total
        return out

    def mask_singular(self, result: xr.DataArray) -> xr.DataArray:
        """NaN where the frame has no direction (the poles)."""
        if self.singular is None:
            return result
        return result.where(~self.singular)

    def rotation(self) -> tuple[Coef, Coef]:
        """``(cos α, sin α)``: the direction of the grid's ``i`` lines in the (east, north) frame.

        From :meth:`for_derivatives` (grid-relative components are differentiated). Where the ``i``
        lines have no length (a pole row of a 2-D latitude, whose points coincide), 90° clockwise
        from the ``j`` lines.
        """
        if self.grid_frame is None:
            raise ValueError("grid-relative components need a curvilinear grid (2-D coordinates)")
        return self._memoized("rotation", self._rotation)

    def _rotation(self) -> tuple[Coef, Coef]:
        east, north = self.handed[:2]
        assert self.grid_frame is not None
        i, j = self.grid_frame
        smooth = self.for_derivatives()
        gx, gy = smooth.entry(east, i), smooth.entry(north, i)
        norm = cast(Coef, np.hypot(gx, gy))  # a DataArray for DataArray entries
        if isinstance(norm, xr.DataArray) and bool((norm == 0).any()):
            none = norm == 0
            gx, gy = xr.where(none, smooth.entry(north, j), gx), xr.where(none, -smooth.entry(east, j), gy)
            norm = cast(Coef, np.hypot(gx, gy))
        return safe_div(gx, norm), safe_div(gy, norm)

    def to_grid(self, parts: Mapping[str, Any]) -> dict[str, Any]:
        """Components in the (east, north) frame -> grid-relative ``(i, j)``; other components kept."""
        if self.grid_frame is None:  # the frame is the grid's already (flat, 1-D coordinates, projections)
            return dict(parts)
        east, north = self.handed[:2]
        return self._rotated(parts, (east, north), self.grid_frame, -1.0)

    def from_grid(self, parts: Mapping[str, Any]) -> dict[str, Any]:
        """Grid-relative ``(i, j)`` components -> the (east, north) frame; other components kept."""
        if self.grid_frame is None:
            return dict(parts)
        east, north = self.handed[:2]
        return self._rotated(parts, self.grid_frame, (east, north), 1.0)

    def _rotated(
        self, parts: Mapping[str, Any], source: tuple[str, str], target: tuple[str, str], turn: float
    ) -> dict[str, Any]:
        """The pair of components ``source`` turned by ``turn`` × the grid's angle α, as ``target``."""
        c, s = self.rotation()
        s = mul(s, turn)
        x, y = parts[source[0]], parts[source[1]]
        turned = {target[0]: sub(mul(x, c), mul(y, s)), target[1]: add(mul(x, s), mul(y, c))}
        out: dict[str, Any] = {}
        for a, v in parts.items():
            if a in source:
                out[target[source.index(a)]] = turned[target[source.index(a)]]
            else:
                out[a] = v
        return out

    def in_smooth_frame(self) -> Metric:
        """This metric in a frame as smooth as the grid, for an operator that differentiates
        components or entries of ``G`` (the Jacobian): itself, or turned to the grid's own frame
        (labelled by the index dims, as :meth:`to_grid` gives them) where its own frame is not
        smooth (``smooth_frame`` False: east and north around a pole)."""
        if self.smooth_frame or self.grid_frame is None:
            return self
        return self._memoized("in grid frame", self._in_grid_frame)

    def _in_grid_frame(self) -> Metric:
        east, north = self.handed[:2]
        assert self.grid_frame is not None
        turn = {east: self.grid_frame[0], north: self.grid_frame[1]}

        def turned(metric: Metric) -> Metric:  # G's rows turned by the grid's angle (one angle for both)
            G: dict[tuple[str, str], Coef] = {}
            for q in self.dims:
                column = self.to_grid({a: metric.entry(a, q) for a in self.labels})
                G.update({(a, q): v for a, v in column.items() if not is_const(v, 0.0)})
            return replace(
                metric,
                labels=self.grid_labels(),
                G=G,
                length_units={turn.get(a, a): u for a, u in self.length_units.items()},
                orientation=tuple(turn.get(a, a) for a in self.handed),
                grid_frame=None,
                refined=None,
                smooth_frame=True,
                _memo={},
            )

        return replace(turned(self), refined=turned(self.refined) if self.refined is not None else None)

    def grid_labels(self) -> tuple[str, ...]:
        """The labels of grid-relative components (the index dims in place of east/north)."""
        east, north = self.handed[:2]
        i, j = self.grid_frame or (east, north)
        return tuple({east: i, north: j}.get(a, a) for a in self.labels)
