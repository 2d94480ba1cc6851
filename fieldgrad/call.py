"""One operator call on a DataArray, resolved once at the top and labelled once at the end.

:func:`run` is what :func:`fieldgrad.table.operator` puts around an operator's body, which is
only mathematics (as MetPy's ``preprocess_and_wrap`` does):

1. :func:`resolve` finds the grid (``grid=``, or built from the field and the geometry keywords),
   the keys the derivatives run along and the :class:`~fieldgrad.geometry.metric.Metric`, and
   prepares the field (pint units and the grid's 2-D coordinates set aside): a :class:`Call`,
   which the body reads;
2. :func:`finish` labels the result: name, ``long_name``, ``units`` (or pint units), a CF
   ``standard_name`` where the table has one, and the coordinates set aside.

Precision: every partial derivative is computed in float64 and rounded once to the dtype rule's
dtype (:func:`fieldgrad.conventions.result_dtype`: float32 for float16 and float32 fields). On a
curved or curvilinear grid (any metric but the identity) the metric's coefficients are float64
and the coefficient algebra (:mod:`fieldgrad.geometry.algebra`) promotes what they multiply, so a
single-precision field's products with them (the fluxes a divergence or curl differentiates),
their derivatives and the operator's sums are float64; :func:`finish` rounds the result once to
the dtype rule's dtype (declared so on dask arrays before anything is computed).
"""

from __future__ import annotations

import inspect
import sys
import warnings
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import xarray as xr

from .calculus import check_datetime_unit_applies, dim_of, first_derivatives_of, partial
from .checks import (
    COMPONENT_STANDARD_NAMES,
    check_component_names,
    check_field_dtype,
    check_keys,
    check_new_dims,
    check_period_applies,
)
from .conventions import result_dtype
from .geometry.algebra import add, mul
from .geometry.axes import GeometryWarning, as_keys, curved_grid_hint
from .geometry.metric import Metric
from .grid import Grid
from .keywords import DerivativeKeywords, GeometryKeywords
from .units import base_label, component_labels, divide_units, label_result, split_pint

__all__ = [
    "COMPONENT_STANDARD_NAMES",
    "Call",
    "Label",
    "Labelled",
    "Operator",
    "components",
    "finish",
    "resolve",
    "run",
]

# single-precision fields: their results are rounded once to float32 (complex64) by finish()
_SINGLE = frozenset({np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.complex64)})


def components(field: xr.DataArray, component_dim: Hashable = "component") -> dict[str, xr.DataArray]:
    """The components of a vector field by the direction they point along.

    Examples
    --------
    >>> E = xr.DataArray(np.zeros((2, 3, 4)), dims=("component", "x", "y"),
    ...                  coords={"component": ["x", "y"]})
    >>> list(components(E))
    ['x', 'y']
    """
    if component_dim not in field.dims:
        raise ValueError(
            f"a vector field needs a {component_dim!r} dimension (component_dim=), "
            f"got dims {[str(d) for d in field.dims]}"
        )
    if component_dim not in field.coords:
        raise ValueError(
            f"the {component_dim!r} dimension needs a coordinate whose labels name the "
            f"dimensions the components point along, e.g. ['x', 'y']"
        )
    labels = [str(v) for v in field[component_dim].values.tolist()]
    repeated = sorted({a for a in labels if labels.count(a) > 1})
    if repeated:
        raise ValueError(f"the components of a vector field point along distinct directions; {repeated} is repeated")
    spatial = [str(d) for d in field.dims if d != component_dim]
    for label in labels:
        if label not in spatial and label not in field.coords:
            raise ValueError(f"component {label!r} does not name a dimension of the field; dims: {spatial}")
    return {label: field.isel({component_dim: k}, drop=True) for k, label in enumerate(labels)}


# ----------------------------------------------------------------------------- the resolved call


@dataclass
class Call:
    """An operator's field with its grid and metric resolved, its derivative keywords validated.

    The body of an operator reads ``call.field`` (pint units and the grid's 2-D coordinates set
    aside), ``call.metric`` and ``call.diff`` (the partial derivative of the call), and helpers
    written on the metric. ``unit_labels`` are the directions whose lengths divide the result's
    units (default: the metric's labels).
    """

    field: xr.DataArray
    original: xr.DataArray
    grid: Grid
    metric: Metric
    diff: DerivativeKeywords
    frame: str
    pint_units: Any = None
    stripped: bool = False
    unit_labels: list[str] | None = None
    flat_on_curved: bool = False  # a flat grid on coordinates that describe a curved one (no CF names then)

    @property
    def labels(self) -> tuple[str, ...]:
        """The labels of vector results: the metric's, or the index dims with ``frame="grid"``."""
        return self.metric.grid_labels() if self.frame == "grid" else self.metric.labels

    def strip(self, part: xr.DataArray) -> xr.DataArray:
        """A field of the call as the body works on it (pint units and 2-D coordinates set aside)."""
        if self.stripped:
            part = _without_grid_coords(part)
        data, _ = split_pint(part.data)
        return part if data is part.data else part.copy(data=data)

    def dim_of(self, key: Hashable) -> Hashable:
        """The dim of the field that ``key`` (a dim or a 1-D coordinate) runs along."""
        return dim_of(self.field, key)

    def partial(self, f: xr.DataArray, spec: Any, order: int = 1) -> xr.DataArray:
        """``∂f`` along ``spec`` with the call's keywords."""
        return partial(f, spec, order, self.diff)

    def gradient(self, f: xr.DataArray, component_dim: Hashable) -> xr.DataArray:
        """The first derivatives along the metric's coordinates in one pass, stacked along ``component_dim``."""
        return first_derivatives_of(f, list(self.metric.dims), component_dim, self.diff)

    def first(self, f: xr.DataArray) -> dict[str, xr.DataArray]:
        """``∂_q f`` for every coordinate ``q`` of the metric, in one pass (one halo exchange)."""
        d = self.gradient(f, "__fieldgrad_q__")
        return {str(q): d.isel(__fieldgrad_q__=k, drop=True) for k, q in enumerate(self.metric.dims)}

    def gradient_parts(self, f: xr.DataArray) -> dict[str, Any]:
        """``∇f_a = Σ_q (G⁻¹)_qa ∂_q f`` for every label (in the earth frame), NaN where singular."""
        metric = self.metric
        d = self.first(f)
        inv = metric.inverse()
        parts = {}
        for a in metric.labels:
            total: Any = 0.0
            for q in metric.dims:
                total = add(total, mul(d[q], inv.get((q, a), 0.0)))
            parts[a] = metric.mask_singular(total.transpose(*f.dims))
        return parts

    def coef_derivative(self, coef: Any, q: str) -> Any:
        """``∂c/∂q`` of a metric coefficient (0 when it does not vary along q)."""
        if not isinstance(coef, xr.DataArray):
            return 0.0
        dim = dim_of(self.field, q)
        if dim not in coef.dims:
            return 0.0
        coords = {name: c for name, c in self.field.coords.items() if c.ndim == 1 and c.dims[0] in coef.dims}
        d = partial(coef.assign_coords(coords), q, 1, self.diff, grid=True)
        return xr.DataArray(d.data, dims=d.dims)

    def christoffel(self) -> dict[tuple[str, str, str], Any]:
        """``Γ^k_qr = ½ g^kl (∂_q g_lr + ∂_r g_lq − ∂_l g_qr)``, non-zero entries only (``g`` is
        differentiated: from :meth:`~fieldgrad.geometry.metric.Metric.for_derivatives`)."""
        from .geometry.algebra import sub

        metric = self.metric.for_derivatives()
        g, ginv = metric.metric_tensor(), metric.inverse_metric()
        qs = metric.dims
        dg = {(q, r, s): self.coef_derivative(g.get((r, s), 0.0), q) for q in qs for r in qs for s in qs}
        out: dict[tuple[str, str, str], Any] = {}
        for k in qs:
            for q in qs:
                for r in qs:
                    total: Any = 0.0
                    for m in qs:
                        inner = sub(add(dg[q, m, r], dg[r, m, q]), dg[m, q, r])
                        total = add(total, mul(inner, ginv.get((k, m), 0.0)))
                    if not (isinstance(total, float) and total == 0.0):
                        out[k, q, r] = mul(total, 0.5)
        return out

    def vector_in(self, comps: Mapping[str, xr.DataArray]) -> dict[str, xr.DataArray]:
        """The components in the metric's frame, in its label order (grid-relative input rotated).

        float16 components are taken in float32, their derivatives' precision: the metric's
        coefficients (``R cos φ`` ~ 6e6 m) overflow float16.
        """
        metric = self.metric
        comps = {a: v.astype(np.float32) if v.dtype == np.float16 else v for a, v in comps.items()}
        labels = set(comps)
        if labels == set(metric.labels):
            return {a: self.strip(comps[a]) for a in metric.labels}
        if metric.grid_frame is not None and labels == set(metric.grid_labels()):
            rotated = metric.from_grid({a: self.strip(v) for a, v in comps.items()})
            return {a: rotated[a] for a in metric.labels}
        expected = [list(metric.labels)] + ([list(metric.grid_labels())] if metric.grid_frame else [])
        raise ValueError(
            f"the vector's components {sorted(labels)} do not match the grid's directions: expected "
            f"labels {' or '.join(str(e) for e in expected)}"
        )

    def stack(self, parts: Mapping[str, Any], dim: Hashable) -> xr.DataArray:
        """Components stacked along a new leading dim labelled by their directions."""
        out = xr.concat(list(parts.values()), dim=dim, coords="minimal", compat="override", join="override")
        return out.assign_coords({dim: component_labels(parts)})

    def units(self, orders: Mapping[str, int], field_units: str | None) -> str | None:
        """``field_units`` per the lengths of the directions to the powers given (None if any is unknown)."""
        if field_units is None:
            return None
        per: dict[str, int] = {}
        for a, order in orders.items():
            u = self.metric.length_units.get(a)
            if u is None:
                return None
            per[u] = per.get(u, 0) + order
        per = {u: o for u, o in per.items() if o}
        return divide_units(field_units, per) if per else field_units


def _rounded(out: xr.DataArray, like: xr.DataArray) -> xr.DataArray:
    """The result of an operator on ``like`` in the dtype rule's dtype: float32 (complex64) for a
    single-precision field whose result was computed in double precision, rounded once."""
    if like.dtype not in _SINGLE or out.dtype.kind not in "fc":
        return out
    target = np.dtype(np.complex64) if out.dtype.kind == "c" else result_dtype(like.dtype)
    return out if out.dtype == target else out.astype(target)


def _without_grid_coords(da: xr.DataArray) -> xr.DataArray:
    """``da`` without its coordinates of two or more dims (the grid's, used by the metric only)."""
    drop = [k for k, v in da.coords.items() if v.ndim >= 2]
    return da.drop_vars(drop) if drop else da


# ----------------------------------------------------------------------------- operators


@dataclass(frozen=True)
class Label:
    """How an operator's result is named and what its units are.

    Attributes
    ----------
    name : callable
        ``name(field_name, arguments)``: the result's name (None for an unnamed field).
    long_name : str or callable
        ``"gradient of {}"`` (the field's long_name or name), or ``long_name(call, arguments)`` giving
        such a template.
    order : int
        The power of length dividing the field's units.
    standard_name : callable, optional
        ``standard_name(call, field, units)``: a CF standard name where the table has one.
    times : str, optional
        An argument (a field) whose units multiply the result's (advection's flow).
    """

    name: Callable[[Any, Mapping[str, Any]], str | None]
    long_name: str | Callable[[Call, Mapping[str, Any]], str]
    order: int = 1
    standard_name: Callable[[Call, xr.DataArray, str | None], str | None] | None = None
    times: str | None = None


def prefixed(prefix: str) -> Callable[[Any, Mapping[str, Any]], str | None]:
    """``grad_V`` from ``V``: a name function for :class:`Label`."""
    return lambda name, arguments: f"{prefix}_{name}" if name is not None else None


@dataclass(frozen=True)
class Operator:
    """A registered operator: its body, what it takes, how its result is labelled and where its dims come from.

    Attributes
    ----------
    name : str
        The accessor method and command name.
    body : callable
        ``body(call, field, *arguments)``: the mathematics, on the resolved call.
    takes : {"scalar", "vector"}
        What the first argument is: a field, or a vector field with a component dim.
    label : Label or None
        How the result is labelled (None: the body labels it).
    dims : callable
        ``dims(arguments)``: the keys the derivatives run along as the call names them (None: the
        grid's defaults).
    dims_on_curved_grids : bool
        Whether those keys also choose the axes on a sphere or projection (else the geometry's own).
    vectors : tuple of str
        Other arguments that are vector fields (a Dataset form gives them as ``{direction: variable}``).
    new_dims : tuple of str
        Arguments that name the dims the result adds (``component_dim``...): they must be new.
    derivatives : bool
        Whether the operator takes derivatives (and so the derivative keywords and method options).
    summary : str
        One line: the command line's help and the accessor's docstring.
    example, dataset_example : str
        Doctests of the accessor forms (``da.grad.NAME(...)``, ``ds.grad.NAME(...)``); an operator
        is on an accessor when it has its example.
    cli_example : str
        A ``fieldgrad NAME ...`` command line, shown by ``fieldgrad NAME --help``.
    """

    name: str
    body: Callable[..., Any]
    takes: str
    label: Label | None
    dims: Callable[[Mapping[str, Any]], Any]
    dims_on_curved_grids: bool = True
    vectors: tuple[str, ...] = ()
    new_dims: tuple[str, ...] = ()
    derivatives: bool = True
    summary: str = ""
    example: str = ""
    dataset_example: str = ""
    cli_example: str = ""
    signature: inspect.Signature = field(default=None, repr=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        params = list(self.signature.parameters.values())
        object.__setattr__(self, "_positional", tuple(p.name for p in params if p.kind is not p.KEYWORD_ONLY))
        object.__setattr__(self, "_keyword", tuple(p.name for p in params if p.kind is p.KEYWORD_ONLY))
        object.__setattr__(self, "_defaults", {p.name: p.default for p in params if p.default is not p.empty})
        own = tuple(p.name for p in params[1:])
        object.__setattr__(self, "_own", own)

    @property
    def own_keywords(self) -> tuple[str, ...]:
        """The body's own parameters after the field (``order``, ``component_dim``...), not the table's."""
        return self._own  # type: ignore[attr-defined]

    def arguments(self, field: Any, args: tuple[Any, ...], own: Mapping[str, Any]) -> dict[str, Any]:
        """The body's arguments by name, defaults filled in (``inspect.Signature.bind``, without its cost)."""
        positional: tuple[str, ...] = self._positional  # type: ignore[attr-defined]
        if len(args) >= len(positional):
            raise TypeError(
                f"{self.name}() takes {len(positional)} positional arguments but {len(args) + 1} were given"
            )
        out = {positional[0]: field, **self._defaults}  # type: ignore[attr-defined]
        for name, value in zip(positional[1:], args, strict=False):  # fewer args than parameters
            out[name] = value
        for name, value in own.items():
            if name in positional[1 : len(args) + 1]:
                raise TypeError(f"{self.name}() got multiple values for argument {name!r}")
            out[name] = value
        missing = [n for n in (*positional, *self._keyword) if n not in out]  # type: ignore[attr-defined]
        if missing:
            raise TypeError(f"{self.name}() missing required argument(s): {', '.join(map(repr, missing))}")
        return out

    def call_body(self, call: Call | None, arguments: Mapping[str, Any]) -> Any:
        """``body(call, *positional, **keyword-only)`` from the arguments by name."""
        positional = [arguments[n] for n in self._positional]  # type: ignore[attr-defined]
        return self.body(call, *positional, **{n: arguments[n] for n in self._keyword})  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Request:
    """What a call asks of an operator: its own arguments after the field (positional, and by name)
    and the keyword groups, validated (:func:`fieldgrad.keywords.split_keywords`)."""

    args: tuple[Any, ...]
    own: Mapping[str, Any]
    kw: DerivativeKeywords
    geo: GeometryKeywords


def run(op: Operator, field: xr.DataArray, request: Request, grid: Grid | None = None) -> Any:
    """Resolve the call, run the body, label the result (``grid``: one a Dataset loop resolved)."""
    kw, geo = request.kw, request.geo
    arguments = op.arguments(field, request.args, request.own)
    if not op.derivatives:
        return op.call_body(None, arguments)
    check_field_dtype(field)
    if op.new_dims:
        check_new_dims(op.new_dims, field, arguments)
    grid = _grid_of(field, geo, grid)
    seam = grid.seam()
    if seam is not None and seam in field.dims:
        return _without_seam(op, field, arguments, request, grid, seam)
    call = resolve(op, field, arguments, kw, geo, grid)
    given = dict(arguments)
    if op.takes == "scalar":  # a vector field is given as is: call.vector_in() reads its components
        arguments[op._positional[0]] = call.field  # type: ignore[attr-defined]
    out = op.call_body(call, arguments)
    if isinstance(out, Labelled):
        return out.result
    return finish(call, op.label, out, field, given)  # type: ignore[arg-type]


def _grid_of(field: xr.DataArray, geo: GeometryKeywords, grid: Grid | None) -> Grid:
    """The call's grid: ``grid=`` (checked against the field), one given by a Dataset loop, or built."""
    if geo.grid is not None:
        if not isinstance(geo.grid, Grid):
            raise TypeError(f"grid must be a fieldgrad.Grid, got {type(geo.grid).__name__}")
        geo.grid.check_field(field)
        return geo.grid
    return grid if grid is not None else Grid.for_call(field, geo)


def _without_seam(
    op: Operator, field: xr.DataArray, arguments: dict[str, Any], request: Request, grid: Grid, seam: Hashable
) -> Any:
    """A longitude whose last column repeats the first (0 ... 360): the operator on the other columns,
    around the closed circle, and the first column's result repeated as the last."""
    inner = {k: v.isel({seam: slice(0, -1)}) if isinstance(v, xr.DataArray) and seam in v.dims else v
             for k, v in arguments.items()}  # fmt: skip
    first = op._positional[0]  # type: ignore[attr-defined]
    own = {k: v for k, v in inner.items() if k != first}
    out = run(op, inner[first], Request((), own, request.kw, replace(request.geo, grid=None)), grid.without(seam))
    if not isinstance(out, xr.DataArray) or seam not in out.dims:
        return out
    last = out.isel({seam: [0]}).assign_coords({seam: field[seam].isel({seam: [-1]})})
    return xr.concat([out, last], dim=seam, coords="minimal", compat="override", combine_attrs="override")


@dataclass(frozen=True)
class Labelled:
    """A body's result that it labelled itself (a partial derivative of the identity metric)."""

    result: xr.DataArray


def resolve(
    op: Operator,
    field: xr.DataArray,
    arguments: Mapping[str, Any],
    kw: DerivativeKeywords,
    geo: GeometryKeywords,
    grid: Grid,
) -> Call:
    """The keys, metric and prepared field of one call on its ``grid`` (before anything is computed)."""
    frame = geo.frame if geo.frame is not None else grid.frame
    source = "field" if op.takes == "vector" else (op.vectors[0] if op.vectors else None)
    vector = arguments.get(source) if source is not None else None
    vector_labels = list(components(vector, arguments["component_dim"])) if vector is not None else None
    curved = grid.geometry != "cartesian"
    keys = as_keys(op.dims(arguments))
    if curved and not op.dims_on_curved_grids:
        keys = None
    if keys is None and vector_labels is not None and not curved:
        keys = list(vector_labels)
        if frame == "grid":  # grid-relative components: along the index dims of the 2-D coordinates over them
            keys = _planar_coordinates(field, vector_labels)
    if keys is None:
        keys = grid.default_keys(field)
    check_keys(field, keys)
    boundary, period = grid.derivative_defaults()
    kw = kw.with_grid_defaults(boundary, period)
    metric = grid.metric(keys, kw)
    if vector_labels is not None and curved:
        # the geometry's horizontal axes, and any other direction the vector has (a vertical one)
        earth = dict(zip(metric.grid_labels(), metric.labels, strict=True)) if metric.grid_frame else {}
        mapped = [earth.get(a, a) for a in vector_labels]
        if set(mapped) - set(metric.labels):  # the vector's own directions (another latitude, a vertical)
            metric = grid.metric(mapped, kw)
    if vector is not None:
        check_component_names(vector, metric, grid.geometry)
    if metric.options:
        kw = kw.with_grid_defaults(metric.options["boundary"], metric.options["period"])
    if frame == "grid" and metric.grid_frame is None and metric.kind != "projected":
        raise ValueError(
            "frame='grid' needs a curvilinear grid (2-D coordinates); on this grid the components "
            f"are already along its axes {list(metric.labels)}"
        )
    check_datetime_unit_applies(field, metric.dims, kw.datetime_unit)
    check_period_applies(kw, metric.dims)
    flat_on_curved = None if curved else curved_grid_hint(grid.variables, keys, grid.mapping_variable)
    if flat_on_curved is not None and "geometry" not in geo.given and geo.grid is None:
        warnings.warn(flat_on_curved, GeometryWarning, stacklevel=_caller())
    stripped = not metric.flat
    prepared = _without_grid_coords(field) if stripped else field
    data, pint_units = split_pint(prepared.data)
    if pint_units is not None:
        prepared = prepared.copy(data=data)
    return Call(
        field=prepared,
        original=field,
        grid=grid,
        metric=metric,
        diff=kw,
        frame=frame,
        pint_units=pint_units,
        stripped=stripped,
        flat_on_curved=flat_on_curved is not None,
    )


def _caller() -> int:
    """The ``stacklevel`` of the first frame outside fieldgrad (the user's call), for a warning."""
    frame, level = sys._getframe(1), 1
    package = __name__.rpartition(".")[0]
    while frame is not None and frame.f_globals.get("__name__", "").startswith(package + "."):
        frame, level = frame.f_back, level + 1  # type: ignore[assignment]
    return level


def _planar_coordinates(field: xr.DataArray, grid_dims: list[str]) -> list[Hashable]:
    """The two 2-D coordinates ``x(j, i)``, ``y(j, i)`` over the index dims a grid-relative vector names."""
    found = [c for c, v in field.coords.items() if v.ndim == 2 and set(map(str, v.dims)) == set(grid_dims)]
    if len(found) != 2:
        raise ValueError(
            f"frame='grid' reads components along the index dims {grid_dims} of a curvilinear grid, "
            f"which needs exactly two 2-D coordinates over them; found {[str(c) for c in found]}"
        )
    return found


def finish(
    call: Call, label: Label, out: xr.DataArray, like: xr.DataArray, arguments: Mapping[str, Any]
) -> xr.DataArray:
    """Round the result once to the dtype rule's dtype of ``like``; name it and give it ``long_name``,
    ``units`` (or pint units), a CF standard name where the table has one, and the coordinates the
    call set aside."""
    out = _rounded(out, like)
    labels = list(call.unit_labels if call.unit_labels is not None else call.metric.labels)
    lengths = {call.metric.length_units.get(a) for a in labels}
    length = lengths.pop() if len(lengths) == 1 else None
    per: dict[str, int] = {} if length is None else {length: label.order}
    times = arguments.get(label.times) if label.times else None
    units = None
    if call.pint_units is None and length is not None:
        field_units = like.attrs.get("units")
        factor = None if times is None else times.attrs.get("units")
        if field_units is not None and (times is None or factor is not None):
            if factor is not None:
                per[factor] = per.get(factor, 0) - 1
            units = divide_units(field_units, per)
    if call.pint_units is not None:
        if length is None:
            raise ValueError(
                f"a pint-quantified result needs coordinates with the same units, got {call.metric.length_units}"
            )
        registry = call.pint_units._REGISTRY
        quantity = call.pint_units / registry.Unit(length) ** label.order
        if times is not None:
            _, times_units = split_pint(times.data)
            quantity = quantity * (
                times_units if times_units is not None else registry.Unit(times.attrs.get("units", ""))
            )
        out = out.copy(data=registry.Quantity(out.data, quantity))
    standard_name = None
    if label.standard_name is not None:
        shown = units if units is not None else (str(out.data.units) if call.pint_units is not None else None)
        standard_name = label.standard_name(call, like, shown)
    if call.stripped:
        out = out.assign_coords(
            {k: v for k, v in like.coords.items() if k not in out.coords and set(v.dims) <= set(out.dims)}
        )
    long_name = label.long_name(call, arguments) if callable(label.long_name) else label.long_name
    name = label.name(like.name, arguments)
    return label_result(out, like, name, long_name.format(base_label(like)), units, standard_name=standard_name)
