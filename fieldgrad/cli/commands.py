"""The commands: ``info``, ``methods``, and one per operator, which calls the library's Dataset form.

An operation reads the input lazily, hands the variables named by ``--var`` (with the grid's
metadata variables: its CF grid mapping, coordinate bounds) to the operator's Dataset form, which
maps it over them with the grid resolved once, names each result by the operator (``grad_t``,
``dt_dlevel``...) and writes it atomically. Which dims an operator runs over without ``--dims`` is
the library's rule (:func:`fieldgrad.geometry.default_dims`); the run's summary line says which.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

from ..call import Operator, Request
from ..datasets import apply_to_dataset, metadata_variables, vector_from
from ..geometry import DefaultDimsError, cf_role
from ..keywords import split_keywords
from ..table import OPERATORS
from . import files
from .common import PROG, CLIError, first_line
from .parser import keyword_values, number, parse_chunks
from .signals import SIGNALS

__all__ = ["cmd_info", "cmd_methods", "cmd_operation", "compute_result", "readable_duration"]

#: operators whose result adds terms of the different dims: a time dim beside space dims is refused
#: (terms per unit of time added to terms per unit of length; use partial for time derivatives)
SUMS = ("divergence", "curl", "laplacian")


def _check_vars(ds: Any, names: Sequence[str]) -> None:
    for name in names:
        if name not in ds.data_vars:
            raise CLIError(
                f"no variable {name!r} in the input; variables: {', '.join(map(str, ds.data_vars)) or 'none'}"
            )


def _check_dims(ds: Any, names: Sequence[str], dims: Sequence[str] | None) -> None:
    if dims is None:
        return
    for name in names:
        var = ds[name]
        for dim in dims:
            # a dim, or a coordinate along the variable's dims (1-D, or the 2-D lat/lon of a curvilinear grid)
            ok = dim in var.dims or (
                dim in ds.coords and ds.coords[dim].ndim in (1, 2) and set(ds.coords[dim].dims) <= set(var.dims)
            )
            if not ok:
                raise CLIError(f"variable {name!r} has no dimension {dim!r}; its dims: {', '.join(map(str, var.dims))}")


def _datetime_dims(ds: Any, dims: Sequence[Hashable]) -> list[Hashable]:
    """The dims among ``dims`` whose coordinate is a time (counted in a ``datetime_unit``)."""
    return [d for d in dims if d in ds.coords and ds.coords[d].ndim == 1 and cf_role(ds.coords[d].variable) == "T"]


def _no_time_with_space(ds: Any, op: str, dims: Sequence[Hashable]) -> None:
    """A Laplacian, divergence or curl adds terms per unit of each dim: time beside space is refused."""
    times = _datetime_dims(ds, dims)
    if times and len(times) != len(dims):
        raise CLIError(
            f"{op} over {', '.join(map(str, dims))} would add terms per unit of time ({', '.join(map(str, times))}) "
            "to terms per unit of the other dims; differentiate in time with 'fieldgrad partial'"
        )


def _path(items: Sequence[str] | None) -> dict[str, list[float]] | None:
    """``["x=0,5,10", "y=0,5,5"]`` -> ``{"x": [0, 5, 10], "y": [0, 5, 5]}``."""
    if not items:
        return None
    out: dict[str, list[float]] = {}
    for item in items:
        dim, sep, values = item.partition("=")
        if not sep or not dim.strip():
            raise CLIError(f"--path expects DIM=V1,V2,..., got {item!r}")
        out[dim.strip()] = [number(v, "--path") for v in values.split(",")]
    return out


def _arguments(op: Operator, ds: Any, args: argparse.Namespace) -> tuple[list[Any], dict[str, Any]]:
    """The operator's own positional arguments and keyword-only ones, from the command line."""
    positional: list[Any] = []
    own: dict[str, Any] = {}
    for param in list(op.signature.parameters.values())[1:]:
        name = param.name
        if name == "spec":
            value: Any = list(args.dims)
        elif name == "path":
            value = _path(args.path)
        elif name in op.vectors:
            value = vector_from(ds, getattr(args, name), getattr(args, "component_dim", "component"))
        else:
            value = getattr(args, name, param.default)
        if param.kind is param.KEYWORD_ONLY:
            own[name] = value
        else:
            positional.append(value)
    return positional, own


def compute_result(ds: Any, args: argparse.Namespace) -> Any:
    """The output Dataset of an operation: one variable per result, named by the operator, with the
    input's coordinates and its grid's metadata variables.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from .parser import build_parser
    >>> ds = xr.Dataset({"V": ("x", np.arange(5.0) ** 2)}, coords={"x": np.arange(5.0)})
    >>> args = build_parser().parse_args(["partial", "in.nc", "--var", "V", "--dims", "x", "--edge-order", "2",
    ...                                   "--out", "d.nc"])
    >>> compute_result(ds, args)["dV_dx"].values
    array([0., 2., 4., 6., 8.])
    """
    import xarray as xr

    op = OPERATORS[args.command]
    kw = keyword_values(args)
    names = list(dict.fromkeys(args.var))
    _check_vars(ds, names)
    notes: list[str] = []  # the dims chosen for the user, reported with the result
    args.notes = notes
    out: Any
    if op.takes == "vector":
        dims = list(args.dims)
        if len(args.var) != len(dims):
            raise CLIError(
                f"{op.name}: give one --var per --dims entry (components in the order of the dims); "
                f"got {len(args.var)} variable(s) for {len(dims)} dim(s)"
            )
        if len(set(dims)) != len(dims):
            raise CLIError(f"{op.name}: --dims names a dimension twice: {' '.join(dims)}")
        if op.name == "curl" and len(dims) not in (2, 3):
            raise CLIError(f"curl needs 2 or 3 components, got {len(dims)}")
        _check_dims(ds, list(args.var), dims)
        if op.name in SUMS:
            _no_time_with_space(ds, op.name, dims)
        positional, own = _arguments(op, ds, args)
        derivative_kw, geometry_kw = split_keywords(_with_time_unit(kw, ds, dims), method_options=op.derivatives)
        comps = dict(zip(dims, args.var, strict=True))
        result = apply_to_dataset(op, ds, Request((comps, *positional), own, derivative_kw, geometry_kw))
        out = xr.Dataset({str(result.name) if result.name is not None else op.name: result})
    else:
        positional, own = _arguments(op, ds, args)
        given = list(args.dims) if getattr(args, "dims", None) is not None else None
        _check_dims(ds, names, given)
        sub = ds[[*names, *sorted(metadata_variables(ds), key=str)]]
        dims = given if given is not None else _default_dims(op, sub, kw, notes, names)
        if op.name in SUMS and given is not None:
            _no_time_with_space(ds, op.name, dims)
        derivative_kw, geometry_kw = split_keywords(_with_time_unit(kw, ds, dims))
        request = Request(tuple(positional), own, derivative_kw, geometry_kw)
        out = apply_to_dataset(op, sub, request, on_missing="raise", rename=False)
    out.attrs = dict(ds.attrs)
    history = " ".join([PROG, *map(str, getattr(args, "argv", []))])
    out.attrs["history"] = (str(ds.attrs["history"]) + "\n" if "history" in ds.attrs else "") + history
    return files.prepare_for_writing(out)


def _default_dims(op: Operator, ds: Any, kw: dict[str, Any], notes: list[str], names: list[str]) -> list[Hashable]:
    """The dims the library chooses (its one rule), reported to the user; a CLIError naming --dims."""
    from ..grid import Grid

    _, geo = split_keywords(
        {k: v for k, v in kw.items() if k in ("geometry", "latitude", "longitude", "radius", "crs")}
    )
    grid = Grid.for_call(ds, geo)
    try:
        keys = grid.default_keys(ds)
    except DefaultDimsError as err:
        raise CLIError(f"{err.problem}; choose the dims with --dims") from None
    dims = grid.dims_of(keys)
    if "dims" in op.signature.parameters:
        notes += [f"{op.name} of {name} over {', '.join(map(str, keys))}" for name in names]
    return dims


def _with_time_unit(kw: dict[str, Any], ds: Any, dims: Sequence[Hashable]) -> dict[str, Any]:
    """``--datetime-unit`` as given, else seconds where a dim is a time (time derivatives per second)."""
    if kw.get("datetime_unit") is None and _datetime_dims(ds, dims):
        return {**kw, "datetime_unit": "s"}
    return kw


def cmd_operation(args: argparse.Namespace) -> int:
    out = Path(args.out)
    fmt = files.output_format(out)
    if out.resolve() == Path(args.input).resolve():
        raise CLIError(f"--out is the input itself ({args.input}); write the result to another path")
    if out.exists() and not args.overwrite:
        raise CLIError(f"output exists: {out} (pass --overwrite to replace it)")
    chunks = parse_chunks(args.chunks)
    ds = files.open_input(args.input, chunks)
    try:
        if chunks:
            unknown = [d for d in chunks if d not in ds.dims]
            if unknown:
                raise CLIError(
                    f"--chunks names {unknown[0]!r}, which is not a dimension of the input; "
                    f"dims: {', '.join(map(str, ds.dims))}"
                )
        result = compute_result(ds, args)
        show_progress = not args.quiet and (args.progress or sys.stderr.isatty())
        try:
            with files.atomic_output(out, args.overwrite) as tmp:
                files.write(result, tmp, fmt, not show_progress)
        except OSError as exc:
            reason = files.write_failure(exc)
            if reason is None:
                raise
            raise CLIError(f"cannot write {out}: {reason}") from None
        SIGNALS.mode = "done"  # OUT is complete and in place: a signal now changes nothing
    finally:
        ds.close()
    if not args.quiet:
        names = ", ".join(f"{k}{tuple(map(str, v.dims))}" for k, v in result.data_vars.items())
        chosen = f" ({'; '.join(args.notes)}; choose with --dims)" if getattr(args, "notes", None) else ""
        print(f"wrote {names} to {out}{chosen}")
    return 0


_DURATIONS = (("day", 86400.0), ("h", 3600.0), ("min", 60.0), ("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9))


def readable_duration(seconds: float) -> str:
    """A time step in the largest unit that counts it whole: ``21600`` -> ``"6 h"``.

    Examples
    --------
    >>> readable_duration(21600.0), readable_duration(90.0), readable_duration(86400 * 7), readable_duration(1.5)
    ('6 h', '90 s', '7 day', '1500 ms')
    """
    for symbol, size in _DURATIONS:
        count = seconds / size
        if count >= 1 and abs(count - round(count)) <= 1e-9 * count:
            return f"{round(count)} {symbol}"
    return f"{seconds:g} s"


def _readable_time(value: Any) -> str:
    """A datetime64 as ISO 8601 without trailing zeros; cftime dates as they print."""
    import numpy as np

    if isinstance(value, np.datetime64):
        import pandas as pd

        return pd.Timestamp(value).isoformat()
    return str(value)


def _describe_coord(ds: Any, dim: Any) -> str:
    from ..coords import axis_coord

    n = ds.sizes[dim]
    if dim not in ds.coords:
        return f"{dim}: {n} points, no coordinate (unit spacing)"
    c = ds.coords[dim]
    if c.dtype.kind in "USb" or (c.dtype.kind == "O" and c.size and isinstance(c.values[0], str)):
        return f"{dim}: {n} points, labels {', '.join(map(str, c.values[:8]))}{' ...' if n > 8 else ''}"
    units = c.attrs.get("units")
    u = f" {units}" if units else ""
    try:
        ac = axis_coord(c.values, str(dim))
    except (ValueError, TypeError) as exc:
        return f"{dim}: {n} points, invalid for derivatives: {first_line(exc)}"
    vals = c.values
    first, last = vals[0], vals[-1]
    direction = "" if n < 2 or ac.values[-1] > ac.values[0] else ", decreasing"
    if c.dtype.kind in "mMO":
        span = f"{_readable_time(first)} .. {_readable_time(last)}"
        seconds = axis_coord(c.values, str(dim), datetime_unit="s")
        if seconds.spacing is not None:  # uniform
            return f"{dim}: {n} points, {span}, uniform (step {readable_duration(abs(seconds.spacing))}){direction}"
        steps = abs(seconds.values[1:] - seconds.values[:-1])
        return (
            f"{dim}: {n} points, {span}, non-uniform (steps {readable_duration(steps.min())} .. "
            f"{readable_duration(steps.max())}){direction}"
        )
    if ac.uniform:
        return f"{dim}: {n} points, {first:g} .. {last:g}{u}, uniform (step {ac.spacing:g}{u}){direction}"
    steps = abs(ac.values[1:] - ac.values[:-1])
    return (
        f"{dim}: {n} points, {first:g} .. {last:g}{u}, non-uniform (steps {steps.min():g} .. {steps.max():g}{u})"
        f"{direction}"
    )


def cmd_info(args: argparse.Namespace) -> int:
    ds = files.open_input(args.input, None)
    try:
        print(f"{args.input}")
        print("dimensions:")
        for dim in ds.dims:
            print(f"  {_describe_coord(ds, dim)}")
        print("variables:")
        if not ds.data_vars:
            print("  (none)")
        for name, var in ds.data_vars.items():
            units = var.attrs.get("units")
            extra = f" [{units}]" if units else ""
            long_name = var.attrs.get("long_name")
            extra += f" {long_name}" if long_name else ""
            shape = "x".join(str(s) for s in var.shape) or "scalar"
            print(f"  {name}({', '.join(map(str, var.dims))}): {var.dtype}, {shape}{extra}")
        others = [k for k in ds.coords if k not in ds.dims]
        if others:
            print("other coordinates:")
            for name in others:
                c = ds.coords[name]
                print(f"  {name}({', '.join(map(str, c.dims))}): {c.dtype}")
    finally:
        ds.close()
    return 0


def cmd_methods(args: argparse.Namespace) -> int:
    from .. import registry
    from ..plan import usable_boundaries

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        methods = registry.available_methods()
        rows: list[tuple[str, str, dict[str, str] | None]] = []
        for name, description in methods.items():
            try:
                m = registry.get_method(name)
            except Exception as exc:  # noqa: BLE001 - a plugin may fail any way; listed as unavailable
                rows.append((name, f"unavailable: {first_line(exc)}", None))
                continue
            caps = {
                "max order": "any" if m.max_order is None else str(m.max_order),
                "non-uniform": "yes" if m.supports_nonuniform else "no",
                "boundaries": ", ".join(usable_boundaries(m)),
                "options": ", ".join(f"{k}={v!r}" for k, v in m.options.items()) or "none",
            }
            rows.append((name, m.description or description, caps))
    for name, description, details in rows:
        print(f"{name}: {description}")
        if details:
            for key, value in details.items():
                print(f"    {key}: {value}")
    for w in caught:
        print(f"{PROG}: warning: {first_line(w.message)}", file=sys.stderr)
    return 0
