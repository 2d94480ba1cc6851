"""The command's arguments, built from the library's tables: one subcommand per operator
(:data:`fieldgrad.table.OPERATORS`), one flag per keyword (:data:`fieldgrad.keywords.KEYWORDS`).

What an operator takes decides its arguments: an operator on fields takes ``--var V [V ...]``,
one on a vector field ``--var U V [W] --dims X Y [Z]`` (the components, along the dims in
order); its own parameters become flags by their kind (``--dims``, ``--order``,
``--direction``, ``--path``, a vector argument such as advection's ``--flow DIM=VAR,...``,
and keyword-only names such as ``--component-dim``). Every keyword of the table is a flag
(``--boundary``, ``--geometry``, ``--crs``, ``--frame``, ``--latitude``...), the built-in method's
options too (``--accuracy``, ``--edge-order``), and other methods' options are ``--option KEY=VALUE``.
"""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Sequence
from typing import Any, NoReturn

from ..call import Operator
from ..conventions import BOUNDARIES, NAN_POLICIES
from ..geometry import geometries
from ..keywords import FRAMES, KEYWORDS, Keyword
from ..registry import method_options
from ..table import OPERATORS
from .common import PROG, CLIError

__all__ = ["build_parser", "flag", "parse_chunks", "parse_options", "per_dim_value"]

#: arguments every operator's subcommand has, beside its own and the keyword table's
OUTPUT_FLAGS = ("out", "chunks", "overwrite", "progress", "quiet")


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``fieldgrad: error: ...``) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        raise CLIError(f"{message} (see '{self.prog} --help')")


def flag(name: str) -> str:
    """``datetime_unit`` -> ``--datetime-unit``."""
    return "--" + name.replace("_", "-")


# ----------------------------------------------------------------------------- values


def parse_value(text: str) -> Any:
    """``"21"`` -> 21, ``"0.5"`` -> 0.5, ``"none"`` -> None, ``"true"`` -> True, else the string.

    Examples
    --------
    >>> parse_value("21"), parse_value("0.5"), parse_value("none"), parse_value("auto")
    (21, 0.5, None, 'auto')
    """
    low = text.strip().lower()
    if low in ("none", "null"):
        return None
    if low in ("true", "false"):
        return low == "true"
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text


def parse_options(items: Sequence[str]) -> dict[str, Any]:
    """``--option KEY=VALUE`` items as a dict of values."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CLIError(f"--option expects KEY=VALUE, got {item!r}")
        out[key.strip()] = parse_value(value)
    return out


def parse_chunks(items: Sequence[str] | None) -> dict[str, int | str] | None:
    """``["x=128,y=64"]`` -> ``{"x": 128, "y": 64}``; ``["auto"]`` -> ``{}`` meaning dask's choice.

    Examples
    --------
    >>> parse_chunks(["x=128,y=64"])
    {'x': 128, 'y': 64}
    >>> parse_chunks(["x=-1", "t=auto"])
    {'x': -1, 't': 'auto'}
    """
    if not items:
        return None
    out: dict[str, int | str] = {}
    for item in items:
        for part in item.split(","):
            part = part.strip()
            if not part or part == "auto":
                continue
            dim, sep, size = part.partition("=")
            if not sep or not dim:
                raise CLIError(f"--chunks expects DIM=SIZE[,DIM=SIZE...], got {part!r}")
            if size == "auto":
                out[dim] = "auto"
                continue
            try:
                n = int(size)
            except ValueError:
                raise CLIError(
                    f"--chunks: the size for {dim!r} must be an integer, -1 or 'auto', got {size!r}"
                ) from None
            if n == 0 or n < -1:
                raise CLIError(f"--chunks: the size for {dim!r} must be positive (or -1 for the whole dim), got {n}")
            out[dim] = n
    return out


def per_dim_value(text: str, flag_name: str, convert: Any) -> Any:
    """``"periodic"`` -> "periodic"; ``"lon=periodic,lat=fill"`` -> {"lon": "periodic", "lat": "fill"}.

    Examples
    --------
    >>> per_dim_value("lon=360", "--period", lambda v: number(v, "--period"))
    {'lon': 360.0}
    >>> per_dim_value("periodic", "--boundary", boundary_kind)
    'periodic'
    """
    if "=" not in text:
        return convert(text.strip())
    out = {}
    for part in text.split(","):
        dim, sep, value = part.partition("=")
        if not sep or not dim.strip():
            raise CLIError(f"{flag_name} expects VALUE or DIM=VALUE[,DIM=VALUE...], got {text!r}")
        out[dim.strip()] = convert(value.strip())
    return out


def boundary_kind(text: str) -> str:
    if text not in BOUNDARIES:
        raise CLIError(f"--boundary: unknown kind {text!r}; valid kinds: {', '.join(BOUNDARIES)}")
    return text


def number(text: str, flag_name: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise CLIError(f"{flag_name}: expected a number, got {text!r}") from None


def pairs(text: str, flag_name: str, convert: Any = str) -> dict[str, Any]:
    """``"x=1,y=2"`` -> ``{"x": convert("1"), "y": convert("2")}`` (a direction, a flow's components)."""
    out = per_dim_value(text, flag_name, lambda value: value)
    if not isinstance(out, dict):
        raise CLIError(f"{flag_name} expects DIM=VALUE[,DIM=VALUE...], got {text!r}")
    return {dim: convert(value) for dim, value in out.items()}


def _pairs_for(flag_name: str) -> Any:
    """The argparse ``type`` of a ``DIM=VAR[,...]`` flag."""

    def read(text: str) -> dict[str, Any]:
        return pairs(text, flag_name)

    return read


# ----------------------------------------------------------------------------- the keyword table as flags

#: how the command line reads each keyword of the table (a DIM=VALUE mapping where it is per-dim)
_KEYWORD_TYPES: dict[str, Any] = {
    "boundary": lambda text: per_dim_value(text, "--boundary", boundary_kind),
    "period": lambda text: per_dim_value(text, "--period", lambda v: number(v, "--period")),
    "fill_value": lambda text: number(text, "--fill-value"),
    "radius": lambda text: number(text, "--radius"),
}
_KEYWORD_METAVARS = {"boundary": "KIND|DIM=KIND[,...]", "period": "P|DIM=P[,...]", "datetime_unit": "UNIT"}
_NOT_FLAGS = ("grid",)  # a Grid object: the command builds it from the file and the geometry flags
#: where the command's help says more than the library's (its own default, where the list is)
_KEYWORD_HELP = {
    "method": "derivative method (see 'fieldgrad methods'; default fd)",
    "datetime_unit": "unit of time for a datetime coordinate: s, h, D, ms, ... or hours, seconds, days "
    "(default: s, so time derivatives are per second, the SI unit)",
}


def _keyword_flag(group: argparse._ArgumentGroup, keyword: Keyword) -> None:
    choices: Sequence[str] | None = {"geometry": geometries(), "frame": FRAMES, "nan_policy": NAN_POLICIES}.get(
        keyword.name
    )
    kwargs: dict[str, Any] = {"help": _KEYWORD_HELP.get(keyword.name, keyword.help), "dest": keyword.name}
    if choices:
        kwargs["choices"] = choices
    if keyword.name in _KEYWORD_TYPES:
        kwargs["type"] = _KEYWORD_TYPES[keyword.name]
    if keyword.name in _KEYWORD_METAVARS:
        kwargs["metavar"] = _KEYWORD_METAVARS[keyword.name]
    names = [flag(keyword.name)] + (["-m"] if keyword.name == "method" else [])
    group.add_argument(*names, **kwargs)


def keyword_values(args: argparse.Namespace) -> dict[str, Any]:
    """The keywords given on the command line (flags left out are the library's defaults)."""
    kw = {k.name: getattr(args, k.name) for k in KEYWORDS if getattr(args, k.name, None) is not None}
    for name in method_options("fd"):
        value = getattr(args, name, None)
        if value is not None:
            kw[name] = value
    options = parse_options(getattr(args, "option", []))
    clash = set(options) & set(kw)
    if clash:
        raise CLIError(f"--option {sorted(clash)[0]}= duplicates a dedicated flag; use the flag")
    return {**kw, **options}


# ----------------------------------------------------------------------------- an operator's own arguments


def _operator_arguments(p: argparse.ArgumentParser, op: Operator) -> None:
    """``--var`` and the operator's own parameters, by what they are."""
    vector = op.takes == "vector"
    p.add_argument(
        "--var",
        "-v",
        nargs="+",
        required=True,
        metavar="VAR",
        help="the components of the vector field, one per --dims entry" if vector else "variable(s)",
    )
    if vector:
        p.add_argument(
            "--dims", "-d", nargs="+", required=True, metavar="DIM", help="the directions of the components, in order"
        )
    for param in list(op.signature.parameters.values())[1:]:
        name = param.name
        required = param.default is inspect.Parameter.empty
        if name == "spec":
            p.add_argument(
                "--dims",
                "-d",
                nargs="+",
                required=True,
                metavar="DIM",
                help="dimensions (or 1-D coordinates) to differentiate along; a repeated dim counts twice",
            )
        elif name == "order":
            p.add_argument("--order", type=int, default=1, help="derivative order along each dim (default 1)")
        elif name == "dims" and not vector:
            p.add_argument(
                "--dims",
                "-d",
                nargs="+",
                metavar="DIM",
                help="dimensions (or coordinates) to differentiate along (default: the spatial dims: "
                "coordinates with a CF axis X/Y/Z, latitude/longitude or projection attributes, or "
                "length units; never time)",
            )
        elif name == "dims":
            p.add_argument("--jacobian-dims", dest="dims", nargs="+", metavar="DIM", help="the derivatives' directions")
        elif name == "direction":
            p.add_argument(
                "--direction",
                required=required,
                metavar="DIM=C[,DIM=C...]",
                type=lambda text: pairs(text, "--direction", lambda v: number(v, "--direction")),
                help="the direction, e.g. x=1,y=1 (normalised)",
            )
        elif name == "path":
            p.add_argument(
                "--path",
                required=required,
                action="append",
                metavar="DIM=V1,V2,...",
                help="the path's positions along one dim (repeat for each dim), e.g. --path x=0,1,2 --path y=0,0,1",
            )
        elif name in op.vectors:
            vector_flag = flag(name)
            p.add_argument(
                vector_flag,
                required=required,
                metavar="DIM=VAR[,DIM=VAR...]",
                type=_pairs_for(vector_flag),
                help=f"the {name}: the variable of each component, by direction, e.g. x=u,y=v",
            )
        elif param.kind is param.KEYWORD_ONLY:
            p.add_argument(flag(name), default=param.default, metavar=name.upper(), help=f"(default {param.default})")


# ----------------------------------------------------------------------------- the parser


def build_parser() -> Parser:
    """The ``fieldgrad`` command's argument parser."""
    from .. import __version__

    parser = Parser(
        prog=PROG,
        description="Coordinate-aware derivatives of variables in netCDF and zarr files.",
        epilog="Run 'fieldgrad COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name, text, example in (
        ("info", "show the variables, dims and coordinates of a file (uniform or not)", "fieldgrad info era5.nc"),
        ("methods", "list the derivative methods and their capabilities", "fieldgrad methods"),
    ):
        p = sub.add_parser(
            name,
            help=text,
            description=text,
            epilog=f"example:\n  {example}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if name == "info":
            p.add_argument("input", metavar="IN", help="netCDF file or zarr store")
    fd_options = method_options("fd")
    for op in OPERATORS.values():
        epilog = "example:\n  " + op.cli_example if op.cli_example else None
        p = sub.add_parser(
            op.name,
            help=op.summary,
            description=op.summary,
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.add_argument("input", metavar="IN", help="netCDF file or zarr store")
        _operator_arguments(p, op)
        p.add_argument(
            "--out", "-o", required=True, metavar="OUT", help="output path: .nc (netCDF) or .zarr; not the input itself"
        )
        if op.derivatives:
            group = p.add_argument_group("derivative and geometry keywords")
            for keyword in KEYWORDS:
                if keyword.name not in _NOT_FLAGS:
                    _keyword_flag(group, keyword)
            for option in fd_options:
                group.add_argument(flag(option), type=int, help=f"fd: {option.replace('_', ' ')} (integer)")
            group.add_argument(
                "--option",
                action="append",
                default=[],
                metavar="KEY=VALUE",
                help="an option of the method, e.g. window=21 or smoothing=auto (repeatable)",
            )
        p.add_argument(
            "--chunks",
            nargs="+",
            metavar="DIM=SIZE",
            help="dask chunks to read with, e.g. x=128,y=128 (default: the file's own chunks)",
        )
        p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
        p.add_argument(
            "--progress", action="store_true", help="show a progress bar (default: only when stderr is a terminal)"
        )
        p.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no summary line")
    return parser
