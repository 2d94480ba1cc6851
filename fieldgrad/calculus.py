"""The labelled core: partial derivatives of a DataArray by dimension name.

:func:`derivative` (one mixed derivative) and :func:`first_derivatives` (the first derivatives
along several dims in one pass) resolve the labels -- which axis, which coordinate, which
units -- and hand plain arrays and a :class:`~fieldgrad.plan.Plan` to :mod:`fieldgrad.dispatch`.
Every operator (:mod:`fieldgrad.operators`) takes its derivatives through them, with keywords
validated once at the top of the call (:class:`fieldgrad.keywords.DerivativeKeywords`).
"""

from __future__ import annotations

import functools
from collections.abc import Hashable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr
from xarray.indexes import PandasIndex

from . import dispatch, plan
from .cf import tendency_standard_name
from .conventions import result_dtype
from .coords import AxisCoord, axis_coord, index_axis_coord, is_time_coord, share, time_values
from .labelled import coord_variables, indexes_of, like_field, with_component_dim
from .units import (
    base_label,
    datetime_unit_symbol,
    derivative_long_name,
    derivative_name,
    divide_units,
    is_pint,
    label_result,
    prefixed_name,
    split_pint,
)

if TYPE_CHECKING:
    from .keywords import DerivativeKeywords

__all__ = ["check_datetime_unit_applies", "derivative", "dim_of", "first_derivatives", "orders_of", "partial"]

DerivativeSpec = Hashable | Mapping[Hashable, int] | Iterable[Hashable]


def orders_of(spec: DerivativeSpec, order: int = 1) -> dict[Hashable, int]:
    """``"x"`` -> {x: order}; ``{"x": 1, "y": 1}`` as is; ``["x", "x", "y"]`` -> {x: 2, y: 1}.

    Examples
    --------
    >>> orders_of(["x", "x", "y"]), orders_of("x", 2)
    ({'x': 2, 'y': 1}, {'x': 2})
    """
    if isinstance(spec, Mapping):
        if order != 1:
            raise ValueError("give either a {dim: order} mapping or order=, not both")
        orders = dict(spec)
    elif isinstance(spec, (str, bytes)) or not isinstance(spec, Iterable):
        orders = {spec: order}
    else:
        orders = {}
        for dim in spec:
            orders[dim] = orders.get(dim, 0) + order
    if not orders:
        raise ValueError("no dimension given to differentiate along")
    for dim, o in orders.items():
        if isinstance(o, bool) or not isinstance(o, (int, np.integer)) or o < 0:
            raise ValueError(f"order must be a non-negative integer, got {o!r} for {dim!r}")
    return orders


def _per_dim(
    obj: xr.DataArray | xr.Dataset, value: Any, keys: Iterable[Hashable], name: str, default: Any
) -> dict[Hashable, Any]:
    """A keyword given once for all dims, or as a {dim: value} mapping (other dims: ``default``)."""
    keys = list(keys)
    if isinstance(value, Mapping):
        for k in value:
            if k not in obj.dims and k not in obj.coords:
                raise ValueError(
                    f"{name} names {k!r}, which is not a dimension; available dims: {[str(d) for d in obj.dims]}"
                )
        return {k: value.get(k, default) for k in keys}
    return dict.fromkeys(keys, value)


def dim_of(obj: xr.DataArray | xr.Dataset, key: Hashable) -> Hashable:
    """The dimension to differentiate along for ``key``: a dim, or a 1-D coordinate's dim.

    Examples
    --------
    >>> dim_of(xr.DataArray([1.0, 2.0], dims="x", coords={"s": ("x", [0.0, 1.0])}), "s")
    'x'
    """
    if key in obj.dims:
        return key
    var = coord_variables(obj).get(key)  # a Variable: no DataArray built
    if var is not None and var.ndim == 1:
        return var.dims[0]
    raise ValueError(f"unknown dimension {key!r}; available dims: {[str(d) for d in obj.dims]}")


def check_datetime_unit_applies(obj: xr.DataArray | xr.Dataset, keys: Iterable[Hashable], datetime_unit: Any) -> None:
    """A ValueError when ``datetime_unit`` is given but none of ``keys`` is a time coordinate and the
    field's values are not datetimes or timedeltas (a unit of time with nothing to count in it)."""
    if datetime_unit is None:
        return
    keys = list(keys)
    names = [k if k in obj.coords else dim_of(obj, k) for k in keys]
    if not any(n in obj.coords and is_time_coord(obj.coords.variables[n]) for n in names) and not has_time_values(obj):
        raise ValueError(
            f"datetime_unit={datetime_unit!r} was given, but none of the dims differentiated "
            f"along ({', '.join(map(str, keys))}) has a datetime or cftime coordinate, and the "
            "field's values are not datetimes or timedeltas"
        )


def has_time_values(obj: xr.DataArray | xr.Dataset) -> bool:
    """Whether a field's values (a Dataset: any data variable's) are datetime64 or timedelta64.

    Examples
    --------
    >>> has_time_values(xr.DataArray(np.array([1, 2], dtype="timedelta64[s]"))), has_time_values(xr.DataArray([1.0]))
    (True, False)
    """
    variables = obj.data_vars.values() if isinstance(obj, xr.Dataset) else [obj]
    return any(v.dtype.kind in "mM" for v in variables)


def _values_unit(da: xr.DataArray, keys: Iterable[Hashable], datetime_unit: str | None) -> str | None:
    """The unit datetime/timedelta values are counted in, as :meth:`xarray.DataArray.differentiate`
    counts them: ``datetime_unit``, else that of the first time coordinate differentiated along
    (its resolution; seconds for cftime), else None (the values' own resolution)."""
    if datetime_unit is not None:
        return datetime_unit
    for key in keys:
        name = key if key in da.coords else dim_of(da, key)
        if name in da.coords and is_time_coord(da.coords.variables[name]):
            coord = da.coords.variables[name]
            return np.datetime_data(coord.dtype)[0] if coord.dtype.kind in "mM" else "s"
    return None


def _coord(
    obj: xr.DataArray | xr.Dataset, key: Hashable, period: float | None, datetime_unit: str | None
) -> tuple[AxisCoord, str | None]:
    """Validated positions along ``key`` and their units (None if unknown)."""
    dim = dim_of(obj, key)
    var = coord_variables(obj).get(key)
    if var is None:
        n = obj.sizes[dim]
        if not isinstance(n, (int, np.integer)):  # a dask array of unknown chunk sizes
            raise ValueError(
                f"dim {str(dim)!r} has an unknown length (dask chunks of unknown sizes, e.g. after boolean "
                "indexing): compute the chunk sizes first (dask's compute_chunk_sizes(), or .chunk(...))"
            )
        return _positions_of_dim(int(n), str(key), None if period is None else float(period)), None
    units = var.attrs.get("units")
    index = indexes_of(obj).get(key)
    if isinstance(index, PandasIndex) and index.dim == key and not isinstance(index.index, pd.MultiIndex):
        # a dimension coordinate: its pandas Index is immutable, so it is validated once
        coord = index_axis_coord(index.index, str(key), datetime_unit=datetime_unit, period=period)
        dtype = index.index.dtype
    else:
        values = var.data
        for _ in range(2):  # pint wrapping dask, or dask wrapping pint (quantified, then chunked)
            if is_pint(values):
                units, values = str(values.units), values.magnitude
            if hasattr(values, "__dask_graph__"):
                values = values.compute()  # a dask-backed coordinate: small, and needed now
        values = np.asarray(values)
        coord = axis_coord(values, str(key), datetime_unit=datetime_unit, period=period)
        dtype = values.dtype if values.size else np.dtype(float)
    if dtype.kind in "mM":
        units = datetime_unit_symbol(datetime_unit or np.datetime_data(dtype)[0])
    elif dtype.kind == "O":  # cftime dates (axis_coord refused anything else)
        units = datetime_unit_symbol(datetime_unit or "s")
    return coord, units


@functools.lru_cache(maxsize=64)
def _positions_of_dim(n: int, name: str, period: float | None) -> AxisCoord:
    """The positions 0, 1, ..., n-1 of a dim without a coordinate (read-only: shared)."""
    return share(axis_coord(np.arange(n, dtype=np.float64), name, period=period))


def _check_fill_value(fill_value: float | complex, dtype: np.dtype) -> None:
    """ValueError unless the derivative (of ``dtype``) can hold ``fill_value``: a complex value on a
    real field, or a finite value its precision cannot hold (1e300 in float32: inf), is no fill value.

    Examples
    --------
    >>> _check_fill_value(1e300, np.dtype(np.float32))
    Traceback (most recent call last):
    ...
    ValueError: fill_value=1e+300 is too large for the derivative's dtype float32 (at most 3.4028235e+38)
    """
    if isinstance(fill_value, complex) and dtype.kind != "c":
        raise ValueError(
            f"fill_value={fill_value!r} is complex, but the field is real (its derivative is {dtype}): "
            "give a real fill_value"
        )
    parts = (fill_value.real, fill_value.imag) if isinstance(fill_value, complex) else (fill_value,)
    largest = float(np.finfo(dtype).max)
    if any(np.isfinite(p) and abs(p) > largest for p in parts):
        raise ValueError(
            f"fill_value={fill_value!r} is too large for the derivative's dtype {dtype} (at most {largest:.8g})"
        )


class _Prepared:
    """The arrays and labels of one derivative, resolved and validated before anything is computed."""

    def __init__(self, da: xr.DataArray, keys: list[Hashable], orders: Mapping[Hashable, int], kw: DerivativeKeywords):
        dims = [dim_of(da, k) for k in keys]
        if len(set(dims)) != len(dims):
            raise ValueError(f"{keys} name the same dimension more than once")
        self.axes = [da.get_axis_num(d) for d in dims]
        datetime_unit = kw.datetime_unit
        boundaries = _per_dim(da, kw.boundary, keys, "boundary", "one-sided")
        periods = _per_dim(da, kw.period, keys, "period", None)
        if not isinstance(kw.period, Mapping):  # one period for every dim: the dims that wrap around
            periods = {k: p if boundaries[k] == "periodic" else None for k, p in periods.items()}
        self.coords: dict[int, AxisCoord] = {}
        self.coord_units: dict[Hashable, str | None] = {}
        for key, axis in zip(keys, self.axes, strict=True):
            self.coords[axis], self.coord_units[key] = _coord(da, key, periods[key], datetime_unit)
        self.plan = plan.make_plan(
            kw.method,
            tuple(sorted(set(orders.values()))),
            boundary={a: boundaries[k] for k, a in zip(keys, self.axes, strict=True)},
            nan_policy=kw.nan_policy,
            fill_value=kw.fill_value,  # type: ignore[arg-type]  # complex for complex fields, as the plan keeps it
            **kw.options,
        )
        self.field_units: str | None = da.attrs.get("units")
        data, self.pint_units = split_pint(da.data)
        if data.dtype.kind in "mM":  # datetimes and timedeltas: numbers of a unit of time, as xarray does
            unit = _values_unit(da, keys, datetime_unit)
            self.field_units = datetime_unit_symbol(unit or np.datetime_data(data.dtype)[0])
            data = time_values(data, unit)
        try:
            out_dtype = result_dtype(data.dtype)
        except TypeError:
            raise TypeError(
                "the field must be numeric (integer, boolean, float or complex), datetime64 or "
                f"timedelta64, got dtype {data.dtype}"
            ) from None
        if "fill" in boundaries.values():
            _check_fill_value(kw.fill_value, out_dtype)
        for key, axis in zip(keys, self.axes, strict=True):
            plan.check_axis(data.shape, axis, self.coords[axis], orders.get(key, 1), self.plan, str(key))
        self.data = data

    def units(self, orders: Mapping[Hashable, int]) -> str | None:
        """attrs units of a derivative, when the field's and every coordinate's are known."""
        field_units = self.field_units
        if field_units is None:
            return None
        per: dict[str, int] = {}
        for key, o in orders.items():
            u = self.coord_units.get(key)
            if u is None:
                return None
            if o:
                per[u] = per.get(u, 0) + o
        return divide_units(field_units, per) if per else field_units

    def wrap_data(self, result: Any, orders: Mapping[Hashable, int]) -> Any:
        if self.pint_units is None:
            return result
        units = self.pint_units
        for key, o in orders.items():
            cu = self.coord_units.get(key)
            if o and cu is not None:
                units = units / self.pint_units._REGISTRY.Unit(cu) ** o
        return self.pint_units._REGISTRY.Quantity(result, units)


def _label(da: xr.DataArray, result: xr.DataArray, orders: Mapping[Hashable, int], units: str | None) -> xr.DataArray:
    str_orders = {str(k): o for k, o in orders.items()}
    standard_name = None  # the field's own is never copied onto a derivative (fieldgrad.cf)
    if not any(orders.values()):  # order 0: the field itself
        standard_name = da.attrs.get("standard_name")
    elif list(orders.values()) == [1]:
        key = next(iter(orders))
        var = coord_variables(da).get(key)
        if var is not None and is_time_coord(var):
            standard_name = tendency_standard_name(da.attrs.get("standard_name"))
    name = derivative_name(da.name, str_orders)
    return label_result(
        result,
        da,
        name,
        derivative_long_name(base_label(da), str_orders),
        None if is_pint(result.data) else units,
        standard_name=standard_name,
    )


def derivative(da: xr.DataArray, orders: Mapping[Hashable, int], kw: DerivativeKeywords) -> xr.DataArray:
    """The mixed partial derivative of ``da`` of the given orders, labelled (``dV_dx``, ``units``...).

    Examples
    --------
    >>> from fieldgrad.keywords import split_keywords
    >>> x = np.linspace(0, 2, 5)
    >>> V = xr.DataArray(x**2, dims="x", coords={"x": x}, name="V", attrs={"units": "V"})
    >>> V.coords["x"].attrs["units"] = "m"
    >>> dV = derivative(V, {"x": 1}, split_keywords({"edge_order": 2})[0])
    >>> dV.values, dV.name, dV.attrs["units"]
    (array([0., 1., 2., 3., 4.]), 'dV_dx', 'V m-1')
    """
    prep = _Prepared(da, list(orders), orders, kw)
    result = dispatch.derivative(prep.data, prep.coords, dict(zip(prep.axes, orders.values(), strict=True)), prep.plan)
    out = like_field(da, prep.wrap_data(result, orders))
    return _label(da, out, orders, prep.units(orders))


def first_derivatives(
    da: xr.DataArray, keys: list[Hashable], component_dim: Hashable, kw: DerivativeKeywords
) -> xr.DataArray:
    """The first derivatives of ``da`` along ``keys`` in one pass, stacked along a new leading
    ``component_dim`` labelled by the keys (named ``grad_V``; ``units`` when they agree).

    Examples
    --------
    >>> from fieldgrad.keywords import split_keywords
    >>> x = np.arange(4.0)
    >>> V = xr.DataArray(np.add.outer(2 * x**2, 3 * x**2), dims=("x", "y"), coords={"x": x, "y": x}, name="V")
    >>> g = first_derivatives(V, ["x", "y"], "component", split_keywords({"edge_order": 2})[0])
    >>> g.dims, g.sel(component="x", y=0).values
    (('component', 'x', 'y'), array([ 0.,  4.,  8., 12.]))
    """
    if not keys:
        raise ValueError("gradient needs at least one dimension")
    if component_dim in da.dims:
        raise ValueError(f"the field already has a dimension {component_dim!r}; pass another component_dim=")
    prep = _Prepared(da, keys, dict.fromkeys(keys, 1), kw)
    result = dispatch.first_derivatives(prep.data, prep.coords, prep.axes, prep.plan)
    units = {prep.units({k: 1}) for k in keys}
    if prep.pint_units is not None and len({prep.coord_units[k] for k in keys}) > 1:
        raise ValueError(
            "a pint-quantified gradient needs coordinates with the same units, got "
            f"{prep.coord_units}; differentiate each dim with .grad.partial instead"
        )
    data = prep.wrap_data(result, {keys[0]: 1})
    out = with_component_dim(da, data, component_dim, keys)
    return label_result(
        out,
        da,
        prefixed_name("grad", da.name),
        f"gradient of {base_label(da)}",
        units.pop() if len(units) == 1 and None not in units else None,
    )


def partial(
    f: xr.DataArray, spec: DerivativeSpec, order: int, kw: DerivativeKeywords, *, grid: bool = False
) -> xr.DataArray:
    """One term of an operator: ``∂f`` along ``spec`` with the call's keywords.

    ``datetime_unit`` applies where the term runs along time (or the values are datetimes);
    ``grid=True`` for a grid's own coefficients, which lack some of the field's dims (per-dim
    keywords for those are dropped).

    Examples
    --------
    >>> from fieldgrad.keywords import split_keywords
    >>> kw, _ = split_keywords({"accuracy": 4})
    >>> x = np.linspace(0, 1, 11)
    >>> round(float(partial(xr.DataArray(x**3, dims="x", coords={"x": x}), "x", 1, kw)[5]), 12)  # 3 x² at 0.5
    0.75
    """
    orders = orders_of(spec, order)
    kw = kw.restricted_to(f) if grid else kw
    return derivative(f, orders, kw.for_terms(f, orders))


def first_derivatives_of(
    f: xr.DataArray, dims: list[Hashable], component_dim: Hashable, kw: DerivativeKeywords
) -> xr.DataArray:
    """:func:`first_derivatives` as one term of an operator (``datetime_unit`` where it applies)."""
    return first_derivatives(f, dims, component_dim, kw.for_terms(f, dict.fromkeys(dims, 1)))
