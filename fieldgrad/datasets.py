"""The one Dataset loop: every operator's Dataset form, the accessor's and the command line's.

An operator on a field maps over a Dataset's data variables that have its dims (names kept, as
:meth:`xarray.Dataset.differentiate` does), with the grid resolved once for the whole Dataset.
A variable that lacks the dims is, by ``on_missing``:

* ``"keep"`` (the default, for every operator): kept unchanged;
* ``"drop"``: left out;
* ``"raise"``: a ValueError naming it.

A CF grid-mapping variable and the bounds of coordinates describe the grid, not a field: they
are never differentiated and always kept (as they are: a data variable stays one, so the
results' ``grid_mapping`` attributes still name it), except where a result has no place for them
(the bounds of the dims a path leaves). Operators on vector fields take the components as
variable names, ``{"x": "u", "y": "v"}``, and give a DataArray.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import replace
from typing import Any

import xarray as xr

from .call import COMPONENT_STANDARD_NAMES, Operator, Request, run
from .geometry.axes import as_keys
from .grid import Grid
from .keywords import ON_MISSING
from .units import component_labels

__all__ = ["apply_to_dataset", "metadata_variables", "vector_from"]


def vector_from(ds: xr.Dataset, comps: Any, component_dim: Hashable = "component") -> xr.DataArray:
    """A vector field from Dataset variables: ``{"x": "u", "y": "v"}`` (their grid mapping attached).

    Examples
    --------
    >>> ds = xr.Dataset({"u": ("x", [1.0, 2.0]), "v": ("x", [3.0, 4.0])})
    >>> vector_from(ds, {"x": "u", "y": "v"}).sel(component="y").values
    array([3., 4.])
    """
    if not isinstance(comps, Mapping) or not comps:
        raise ValueError("give the components as a {direction: variable name} mapping, e.g. {'x': 'u', 'y': 'v'}")
    missing = [v for v in comps.values() if v not in ds.data_vars]
    if missing:
        raise ValueError(f"unknown variable(s) {missing}; data variables: {[str(v) for v in ds.data_vars]}")
    parts = [_with_grid_mapping(ds, ds[v]) for v in comps.values()]
    field = xr.concat(parts, dim=component_dim, coords="minimal", compat="override")
    field = field.assign_coords({component_dim: component_labels(comps)})
    attrs: dict[str, Any] = {}
    for key in ("units", "grid_mapping"):
        values = {p.attrs.get(key) for p in parts}
        if len(values) == 1 and None not in values:
            attrs[key] = values.pop()
    field.attrs = attrs
    field.encoding[COMPONENT_STANDARD_NAMES] = {
        str(label): p.attrs["standard_name"]
        for label, p in zip(comps, parts, strict=True)
        if "standard_name" in p.attrs
    }
    field.name = "_".join(str(v) for v in comps.values())
    return field


def _with_grid_mapping(ds: xr.Dataset, var: xr.DataArray) -> xr.DataArray:
    """A variable with the CF grid-mapping variable it names attached as a coordinate."""
    name = str(var.attrs.get("grid_mapping", "")).split(":")[0].strip()
    if name and name in ds.variables and name not in var.coords:
        return var.assign_coords({name: ds[name].variable})
    return var


def metadata_variables(ds: xr.Dataset) -> set[Hashable]:
    """The data variables that describe the grid: CF grid mappings and the bounds of coordinates.

    Examples
    --------
    >>> ds = xr.Dataset({"T": ("x", [1.0, 2.0], {"grid_mapping": "crs"}), "crs": ((), 0),
    ...                  "x_bnds": (("x", "nv"), [[0.0, 1.0], [1.0, 2.0]])},
    ...                 coords={"x": ("x", [0.5, 1.5], {"bounds": "x_bnds"})})
    >>> sorted(metadata_variables(ds))
    ['crs', 'x_bnds']
    """
    named: set[Hashable] = set()
    for var in ds.variables.values():
        for key in ("grid_mapping", "bounds"):
            value = var.attrs.get(key)
            if isinstance(value, str) and value.strip():
                named.add(value.split(":")[0].strip())
    return {name for name in named if name in ds.data_vars}


def apply_to_dataset(
    op: Operator, ds: xr.Dataset, request: Request, *, on_missing: str = "keep", rename: bool = True
) -> xr.Dataset | xr.DataArray:
    """Run ``op`` on a Dataset: mapped over its variables, or on a vector field of its variables.

    Results take their variable's name (as :meth:`xarray.Dataset.differentiate` gives them), or with
    ``rename=False`` keep their own (``grad_T``: the command line writes them so).
    """
    if on_missing not in ON_MISSING:
        raise ValueError(f"on_missing must be one of {ON_MISSING}, got {on_missing!r}")
    args, own, geo = request.args, request.own, request.geo
    component_dim = own.get("component_dim", "component")
    grid = geo.grid if geo.grid is not None else Grid.for_call(ds, geo)
    if geo.grid is not None:
        grid.check_field(ds)
    if op.takes == "vector":
        if not args:
            raise TypeError(f"{op.name}() of a Dataset needs the components: {{direction: variable name}}")
        field = vector_from(ds, args[0], component_dim)
        return run(op, field, replace(request, args=args[1:]), grid)
    arguments = op.arguments(ds, args, own)
    for vector in op.vectors:
        if isinstance(arguments.get(vector), Mapping):
            arguments[vector] = vector_from(ds, arguments[vector], component_dim)
    keys = as_keys(op.dims(arguments))
    if keys is None or (grid.geometry != "cartesian" and not op.dims_on_curved_grids):
        keys = grid.default_keys(ds)
    for k in keys:
        if k not in ds.dims and k not in ds.coords:
            raise ValueError(f"unknown dimension {k!r}; available dims: {[str(d) for d in ds.dims]}")
    dims = set(grid.dims_of(keys))
    metadata = metadata_variables(ds)
    params = list(op.signature.parameters.values())[1:]
    positional = [p.name for p in params if p.kind is not p.KEYWORD_ONLY]
    # the arguments before the first one the call named (``partial("x", order=2)``) positionally, the
    # rest by name: each is given once
    given = next((i for i, n in enumerate(positional) if n in own), len(positional))
    rest = [arguments[n] for n in positional[:given]]
    named = {**own, **{n: arguments[n] for n in positional[given:] if n not in own}}
    results: dict[Hashable, xr.DataArray] = {}
    lacking: list[Hashable] = []
    for name, var in ds.data_vars.items():
        if name in metadata:
            continue
        if dims <= set(var.dims):
            result = run(op, var, replace(request, args=tuple(rest), own=named), grid)
            result = result.rename(name) if rename or result.name is None else result
            clash = [c for c in result.coords if c in ds.data_vars]  # (a grid mapping a flow carried)
            results[name] = result.drop_vars(clash) if clash else result
        else:
            lacking.append(name)
    if lacking and on_missing == "raise":
        raise ValueError(
            f"variable(s) {[str(v) for v in lacking]} lack the dims {sorted(map(str, dims))}; "
            "pass on_missing='keep' or 'drop', or select the variables first"
        )
    kept = lacking if on_missing == "keep" else []
    return _assemble(ds, results, kept, metadata)


def _assemble(
    ds: xr.Dataset, results: dict[Hashable, xr.DataArray], kept: list[Hashable], metadata: set[Hashable]
) -> xr.Dataset:
    """The output Dataset: results and kept variables in the input's order, its attrs and coordinates."""
    order = [name for name in ds.data_vars if name in results or name in kept or name in metadata]
    # dims whose coordinate a result holds along another dim (the positions of a path): nothing that
    # still runs along them can be kept beside it
    replaced = {d for d in ds.dims if any(d in r.coords and d not in r.dims for r in results.values())}
    variables: dict[Hashable, xr.DataArray] = {}
    for name in order:
        if name in results:
            result = results[name]
            variables[result.name if result.name is not None else name] = result  # (its own with rename=False)
            continue
        var = ds[name]
        clash = replaced & set(var.dims)
        if clash:
            if name in metadata:
                continue  # the bounds of the dims a path leaves
            raise ValueError(
                f"variable {str(name)!r} runs along {sorted(map(str, clash))} but has no value along the path; "
                "pass on_missing='drop'"
            )
        variables[name] = var
    coords = {k: v for k, v in ds.coords.items() if not (set(v.dims) & replaced) and k not in replaced}
    out = xr.Dataset(variables, coords=coords, attrs=ds.attrs)
    return out
