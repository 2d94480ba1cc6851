"""The labelled functional core: derivatives of xarray objects by dimension name.

Every function here takes a DataArray or Dataset and keywords, resolves the labels (which
axis, which coordinate, which units) and hands plain arrays to :mod:`fieldgrad.engine`. The
``.grad`` accessor (:mod:`fieldgrad.accessor`) is a thin layer over these functions.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from xarray.indexes import PandasIndex

from . import dispatch, plan
from .cf import tendency_standard_name
from .conventions import result_dtype
from .coords import AxisCoord, _is_cftime, axis_coord, index_axis_coord, share, time_values
from .labelled import coord_variables, indexes_of, like_field, with_component_dim
from .units import (
    base_label,
    datetime_unit_code,
    datetime_unit_symbol,
    derivative_long_name,
    derivative_name,
    divide_units,
    is_pint,
    label_result,
    prefixed_name,
    split_pint,
)

__all__ = ["partial", "gradient", "map_variables"]

DerivativeSpec = Hashable | Mapping[Hashable, int] | Iterable[Hashable]


def _orders(spec: DerivativeSpec, order: int) -> dict[Hashable, int]:
    """``"x"`` -> {x: order}; ``{"x": 1, "y": 1}`` as is; ``["x", "x", "y"]`` -> {x: 2, y: 1}."""
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


def map_variables(
    ds: xr.Dataset, keys: Iterable[Hashable], func: Callable[[xr.DataArray, Hashable], xr.DataArray]
) -> xr.Dataset:
    """Apply ``func(variable, name)`` to every data variable that has all the dims of ``keys``.

    ``keys`` are dims or coordinates (a 2-D coordinate stands for its two dims). The others are
    kept unchanged, as :meth:`xarray.Dataset.differentiate` does.

    Examples
    --------
    >>> ds = xr.Dataset({"a": ("x", [1.0, 2.0]), "b": ("t", [3.0])})
    >>> map_variables(ds, ["x"], lambda v, name: v * 10)["a"].values.tolist()
    [10.0, 20.0]
    """
    dims: set[Hashable] = set()
    for k in keys:
        dims |= set(ds.coords[k].dims) if k in ds.coords and k not in ds.dims else {dim_of(ds, k)}
    out = ds.copy()
    for name, var in ds.data_vars.items():
        if dims <= set(var.dims):
            out[name] = func(var, name)
    return out


def is_time_coord(coord: xr.DataArray | xr.Variable) -> bool:
    """Whether a coordinate holds datetimes or cftime dates (counted in a ``datetime_unit``).

    Examples
    --------
    >>> t = xr.DataArray(np.array(["2000-01-01"], dtype="datetime64[ns]"))
    >>> is_time_coord(t), is_time_coord(xr.DataArray([1.0]))
    (True, False)
    """
    if coord.dtype.kind in "mM":
        return True
    return coord.dtype.kind == "O" and coord.size > 0 and _is_cftime(coord.values.flat[0])


def _check_datetime_unit(obj: xr.DataArray | xr.Dataset, keys: Iterable[Hashable], datetime_unit: Any) -> str | None:
    """``datetime_unit`` as a numpy code; a ValueError when none of ``keys`` is a time coordinate."""
    if datetime_unit is None:
        return None
    code = datetime_unit_code(datetime_unit)
    keys = list(keys)
    names = [k if k in obj.coords else dim_of(obj, k) for k in keys]
    if not any(n in obj.coords and is_time_coord(obj.coords.variables[n]) for n in names) and not has_time_values(obj):
        raise ValueError(
            f"datetime_unit={datetime_unit!r} was given, but none of the dims differentiated "
            f"along ({', '.join(map(str, keys))}) has a datetime or cftime coordinate, and the "
            "field's values are not datetimes or timedeltas"
        )
    return code


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
        return _positions_of_dim(obj.sizes[dim], str(key), None if period is None else float(period)), None
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


class _Prepared:
    """The arrays and labels of one call, resolved and validated before anything is computed."""

    def __init__(
        self,
        da: xr.DataArray,
        keys: list[Hashable],
        orders: Mapping[Hashable, int],
        *,
        method: Any,
        boundary: Any,
        nan_policy: str,
        fill_value: float,
        period: Any,
        datetime_unit: str | None,
        options: dict[str, Any],
    ) -> None:
        dims = [dim_of(da, k) for k in keys]
        if len(set(dims)) != len(dims):
            raise ValueError(f"{keys} name the same dimension more than once")
        self.axes = [da.get_axis_num(d) for d in dims]
        boundaries = _per_dim(da, boundary, keys, "boundary", "one-sided")
        periods = _per_dim(da, period, keys, "period", None)
        self.coords: dict[int, AxisCoord] = {}
        self.coord_units: dict[Hashable, str | None] = {}
        for key, axis in zip(keys, self.axes, strict=True):
            self.coords[axis], self.coord_units[key] = _coord(da, key, periods[key], datetime_unit)
        self.plan = plan.make_plan(
            method,
            tuple(sorted(set(orders.values()))),
            boundary={a: boundaries[k] for k, a in zip(keys, self.axes, strict=True)},
            nan_policy=nan_policy,
            fill_value=fill_value,
            **options,
        )
        self.field_units: str | None = da.attrs.get("units")
        data, self.pint_units = split_pint(da.data)
        if data.dtype.kind in "mM":  # datetimes and timedeltas: numbers of a unit of time, as xarray does
            unit = _values_unit(da, keys, datetime_unit)
            self.field_units = datetime_unit_symbol(unit or np.datetime_data(data.dtype)[0])
            data = time_values(data, unit)
        try:
            result_dtype(data.dtype)
        except TypeError:
            raise TypeError(
                "the field must be numeric (integer, boolean, float or complex), datetime64 or "
                f"timedelta64, got dtype {data.dtype}"
            ) from None
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


def _label(
    da: xr.DataArray, result: xr.DataArray, orders: Mapping[Hashable, int], units: str | None, *, name: Any = "derive"
) -> xr.DataArray:
    str_orders = {str(k): o for k, o in orders.items()}
    standard_name = None  # the field's own is never copied onto a derivative (fieldgrad.cf)
    if not any(orders.values()):  # order 0: the field itself
        standard_name = da.attrs.get("standard_name")
    elif list(orders.values()) == [1]:
        key = next(iter(orders))
        var = coord_variables(da).get(key)
        if var is not None and is_time_coord(var):
            standard_name = tendency_standard_name(da.attrs.get("standard_name"))
    name = derivative_name(da.name, str_orders) if name == "derive" else name
    return label_result(
        result,
        da,
        name,
        derivative_long_name(base_label(da), str_orders),
        None if is_pint(result.data) else units,
        standard_name=standard_name,
    )


def partial(
    obj: xr.DataArray | xr.Dataset,
    spec: DerivativeSpec,
    order: int = 1,
    *,
    method: Any = "fd",
    boundary: str | Mapping[Hashable, str] = "one-sided",
    nan_policy: str = "propagate",
    fill_value: float = np.nan,
    period: float | Mapping[Hashable, float] | None = None,
    datetime_unit: str | None = None,
    **options: Any,
) -> xr.DataArray | xr.Dataset:
    """Partial derivative of a labelled field along named dimensions, using their coordinates.

    Parameters
    ----------
    obj : DataArray or Dataset
        The field. For a Dataset, every data variable that has all the dims is differentiated
        (names kept, as :meth:`xarray.Dataset.differentiate` does); the others are kept as they are.
    spec : str, mapping or list
        ``"x"``; ``{"x": 1, "y": 1}`` for a mixed derivative; ``["x", "x"]`` counts repeats.
        A 1-D non-dimension coordinate may be named instead of its dim.
    order : int, default 1
        Derivative order when ``spec`` names one dim (or a list of dims).
    method : str, DerivativeMethod subclass or instance, default "fd"
        See :func:`fieldgrad.available_methods`.
    boundary : {"one-sided", "periodic", "fill"} or {dim: kind}, default "one-sided"
        Treatment of points without a centred stencil.
    nan_policy : {"propagate", "omit"}, default "propagate"
        ``"omit"`` differentiates each NaN-free run along the axis as a domain of its own.
    fill_value : float, default NaN
        Value of the boundary points with ``boundary="fill"``.
    period : float or {dim: float}, optional
        Length of one period of a periodic coordinate (needed when it is not uniform).
    datetime_unit : str, optional
        Unit of time for datetime and cftime coordinates, as in
        :meth:`xarray.DataArray.differentiate` (default: the coordinate's resolution; seconds
        for cftime). Datetime64/timedelta64 *values* are counted in the same unit (default: that
        of the time coordinate differentiated along, else their own resolution; NaT becomes
        NaN), with ``units`` set to it: the derivative of timestamps along time is a
        dimensionless ratio (``units`` ``"1"``).
    **options
        Options of the method, e.g. ``accuracy=4``, ``edge_order=1`` for ``"fd"``.

    Returns
    -------
    DataArray or Dataset
        Same dims, coords and chunks as ``obj``; named ``dV_dx`` (DataArray) with ``units``
        and ``long_name`` attrs updated.

    Examples
    --------
    >>> x = np.linspace(0, 2, 5)
    >>> V = xr.DataArray(x**2, dims="x", coords={"x": x}, name="V", attrs={"units": "V"})
    >>> V.coords["x"].attrs["units"] = "m"
    >>> dV = partial(V, "x", accuracy=2, edge_order=2)
    >>> dV.values
    array([0., 1., 2., 3., 4.])
    >>> dV.name, dV.attrs["units"]
    ('dV_dx', 'V m-1')
    """
    orders = _orders(spec, order)
    datetime_unit = _check_datetime_unit(obj, orders, datetime_unit)
    common = dict(
        method=method,
        boundary=boundary,
        nan_policy=nan_policy,
        fill_value=fill_value,
        period=period,
        datetime_unit=datetime_unit,
        options=options,
    )
    if isinstance(obj, xr.Dataset):
        return map_variables(obj, orders, lambda var, name: _partial_da(var, orders, common, name=name))
    return _partial_da(obj, orders, common)


def _partial_da(
    da: xr.DataArray, orders: dict[Hashable, int], common: dict[str, Any], name: Any = "derive"
) -> xr.DataArray:
    prep = _Prepared(da, list(orders), orders, **common)
    result = dispatch.derivative(prep.data, prep.coords, dict(zip(prep.axes, orders.values(), strict=True)), prep.plan)
    out = like_field(da, prep.wrap_data(result, orders))
    return _label(da, out, orders, prep.units(orders), name=name)


def gradient(
    obj: xr.DataArray | xr.Dataset,
    dims: Iterable[Hashable] | None = None,
    *,
    component_dim: Hashable = "component",
    method: Any = "fd",
    boundary: str | Mapping[Hashable, str] = "one-sided",
    nan_policy: str = "propagate",
    fill_value: float = np.nan,
    period: float | Mapping[Hashable, float] | None = None,
    datetime_unit: str | None = None,
    **options: Any,
) -> xr.DataArray | xr.Dataset:
    """Gradient of a scalar field: the vector of first partial derivatives along ``dims``.

    Parameters
    ----------
    obj : DataArray or Dataset
        The field; for a Dataset, each data variable with all ``dims`` becomes a vector field.
    dims : list of str, optional
        Dimensions (or 1-D coordinates) to differentiate along; default all dims of ``obj``.
    component_dim : str, default "component"
        Name of the new leading dimension; its coordinate labels are the dims.
    method, boundary, nan_policy, fill_value, period, datetime_unit, **options
        As in :func:`partial`.

    Returns
    -------
    DataArray or Dataset
        With a new leading dimension ``component_dim``. ``units`` are set when every
        coordinate has the same units.

    Examples
    --------
    >>> x = np.arange(4.0)
    >>> V = xr.DataArray(np.add.outer(2 * x**2, 3 * x**2), dims=("x", "y"),
    ...                  coords={"x": x, "y": x}, name="V")
    >>> g = gradient(V, accuracy=2, edge_order=2)
    >>> g.dims, g.component.values.tolist()
    (('component', 'x', 'y'), ['x', 'y'])
    >>> g.sel(component="x", y=0).values
    array([ 0.,  4.,  8., 12.])
    """
    keys: list[Hashable] = list(obj.dims) if dims is None else ([dims] if isinstance(dims, str) else list(dims))
    datetime_unit = _check_datetime_unit(obj, keys, datetime_unit)
    common = dict(
        method=method,
        boundary=boundary,
        nan_policy=nan_policy,
        fill_value=fill_value,
        period=period,
        datetime_unit=datetime_unit,
        options=options,
    )
    if isinstance(obj, xr.Dataset):
        return map_variables(obj, keys, lambda var, name: _gradient_da(var, keys, component_dim, common, name=name))
    return _gradient_da(obj, keys, component_dim, common)


def _gradient_da(
    da: xr.DataArray, keys: list[Hashable], component_dim: Hashable, common: dict[str, Any], name: Any = "derive"
) -> xr.DataArray:
    if not keys:
        raise ValueError("gradient needs at least one dimension")
    if component_dim in da.dims:
        raise ValueError(f"the field already has a dimension {component_dim!r}; pass another component_dim=")
    prep = _Prepared(da, keys, dict.fromkeys(keys, 1), **common)
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
        prefixed_name("grad", da.name) if name == "derive" else name,
        f"gradient of {base_label(da)}",
        units.pop() if len(units) == 1 and None not in units else None,
    )
