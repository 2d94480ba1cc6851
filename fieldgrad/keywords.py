"""The keywords of every operator, named once: the table, their validation, and the split of a call.

Every operator (``da.grad.*``, ``ds.grad.*``, :mod:`fieldgrad.operators`, the ``fieldgrad``
command) takes the same keywords in three groups:

* **derivative keywords** -- how each partial derivative is taken: ``method``, ``boundary``,
  ``nan_policy``, ``fill_value``, ``period``, ``datetime_unit``;
* **geometry keywords** -- which grid the coordinates describe: ``geometry``, ``latitude``,
  ``longitude``, ``radius``, ``crs``, ``frame``, or a :class:`fieldgrad.Grid` built once (``grid``);
* **method options** -- the chosen method's own (``accuracy`` and ``edge_order`` for ``"fd"``;
  ``window`` and ``degree`` for ``"polyfit"``...), declared by the method and checked by it.

:data:`KEYWORDS` is the table. :func:`split_keywords` sorts a call's keywords into the groups
once, at the top of the call, validating each value by its keyword's own rule (type, range, the
argument named in the message) before anything is looked up in a cache or computed; a name that
belongs to no group is a TypeError that lists the groups. :func:`expanded_signature` writes the
table into the signatures of the operators, which forward ``**kwargs`` (``help()``, editors, the
API docs), and the command line builds its flags from the same table.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from .conventions import BOUNDARIES, NAN_POLICIES
from .coords import is_time_coord
from .method import DerivativeMethod
from .registry import BUILTIN, get_method, method_options
from .units import datetime_unit_code

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "KEYWORDS",
    "DERIVATIVE",
    "GEOMETRY",
    "FRAMES",
    "ON_MISSING",
    "Keyword",
    "KeywordError",
    "DerivativeKeywords",
    "GeometryKeywords",
    "split_keywords",
]

DERIVATIVE = "derivative"
GEOMETRY = "geometry"
FRAMES = ("earth", "grid")
#: what the Dataset forms do with a data variable that lacks the operator's dims
ON_MISSING = ("keep", "drop", "raise")


class KeywordError(TypeError, ValueError):
    """A keyword that is none of an operator's, or a keyword's value of the wrong type.

    A TypeError, as Python's own for an unexpected keyword, and a ValueError, as every invalid
    option is (code that catches either keeps working).
    """


# ----------------------------------------------------------------------------- validators
# One function per keyword: the value as the call uses it, or a TypeError/ValueError naming the
# keyword, what was given and what is valid. Types are checked before values, so that 4.0 is never
# taken for 4 nor True for 1.


def _kind(value: Any) -> str:
    return type(value).__name__


def _scalar(value: Any) -> Any:
    """A 0-d array as the number it holds."""
    return value[()] if isinstance(value, np.ndarray) and value.ndim == 0 else value


def _is_real(value: Any) -> bool:
    """A real number that is not a bool (``True`` is not a number to a user who typed it)."""
    return isinstance(value, (numbers.Real, np.floating, np.integer)) and not isinstance(value, (bool, np.bool_))


def _choice(name: str, choices: tuple[str, ...]) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise KeywordError(f"{name} must be one of {choices}, got {value!r} ({_kind(value)})")
        if value not in choices:
            raise ValueError(f"{name} must be one of {choices}, got {value!r}")
        return value

    check.__doc__ = f"``{name}``: one of {choices}."
    return check


def check_method(value: Any) -> Any:
    """``method``: a registry name, a DerivativeMethod subclass or instance (kept as given: names
    are what the plan cache knows)."""
    _method_options(value)  # an unknown name or a broken plugin is reported now
    return value


def _method_options(value: Any) -> Mapping[str, Any]:
    """The options a method declares (ValueError for an unknown name, naming the available ones)."""
    if isinstance(value, str) and value in BUILTIN:  # a built-in name never changes its method
        return _builtin_options(value)
    if isinstance(value, str) or isinstance(value, DerivativeMethod) or inspect.isclass(value):
        return method_options(value)  # type: ignore[arg-type]  # a class that is no method is refused there
    raise KeywordError(f"method must be a method name, a DerivativeMethod subclass or instance, got {value!r}")


def _per_dim(name: str, check_one: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A keyword given once for every dim or as a ``{dim: value}`` mapping."""

    def check(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {dim: check_one(v) for dim, v in value.items()}
        return check_one(value)

    return check


_check_boundary_kind = _choice("boundary", BOUNDARIES)


def _positive(name: str, what: str, forms: str = "") -> Callable[[Any], float | None]:
    """None, or a positive finite number (a 0-d array too), as a float."""

    def check(value: Any) -> float | None:
        value = _scalar(value)
        if value is None:
            return None
        if not _is_real(value):
            raise KeywordError(f"{name} must be a positive {what}{forms}, got {value!r} ({_kind(value)})")
        number = float(value)
        if not math.isfinite(number) or number <= 0:
            raise ValueError(f"{name} must be a positive finite {what}, got {value!r}")
        return number

    return check


_check_period_value = _positive("period", "number", " (or a {dim: number} mapping)")
check_radius = _positive("radius", "length in metres")


def check_fill_value(value: Any) -> float | complex:
    """``fill_value``: one real or complex number, representable as a float64 (complex128)."""
    value = _scalar(value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Number, np.number)):
        raise KeywordError(f"fill_value must be one number (NaN by default), got {value!r} ({_kind(value)})")
    try:
        return complex(value) if isinstance(value, (complex, np.complexfloating)) else float(value)  # type: ignore[arg-type]
    except OverflowError:
        text = str(value)
        shown = text if len(text) <= 24 else f"{text[:12]}...({len(text)} digits)"
        raise ValueError(f"fill_value={shown} is too large for a float64") from None


def check_datetime_unit(value: Any) -> str | None:
    """``datetime_unit``: None or a unit of time (``"s"``, ``"h"``, ``"hours"``...), as its numpy code."""
    return None if value is None else datetime_unit_code(value)


@functools.cache
def _builtin_options(name: str) -> Mapping[str, Any]:
    return method_options(name)


def check_name(name: str) -> Callable[[Any], Hashable | None]:
    def check(value: Any) -> Hashable | None:
        if value is not None and not isinstance(value, Hashable):
            raise KeywordError(f"{name} must be the name of a coordinate or dim, got {value!r}")
        return value

    return check


def check_crs(value: Any) -> Any:
    """``crs``: anything pyproj reads (read when the grid is built); a CF attribute dict is made plain
    (numpy scalars and arrays as Python numbers and lists, as a netCDF reader returns them)."""
    if isinstance(value, Mapping):
        return {str(k): (v.tolist() if isinstance(v, (np.ndarray, np.generic)) else v) for k, v in value.items()}
    return value


def check_grid(value: Any) -> Any:
    """``grid``: a :class:`fieldgrad.Grid` (its type is checked where grids are known, by the call)."""
    if value is not None and (isinstance(value, (str, bytes, Mapping)) or not hasattr(value, "metric")):
        raise KeywordError(f"grid must be a fieldgrad.Grid, got {value!r} ({_kind(value)})")
    return value


def check_geometry(value: Any) -> str:
    """``geometry``: a name (whether one of the geometries is checked when the grid is built)."""
    if not isinstance(value, str):
        raise KeywordError(f"geometry must be a name such as 'sphere', got {value!r} ({_kind(value)})")
    return value


# ----------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Keyword:
    """One keyword of the operators: its group, default, validation and help.

    Attributes
    ----------
    name, group : str
        The keyword and its group (:data:`DERIVATIVE` or :data:`GEOMETRY`).
    default : Any
        The value when the keyword is not given.
    annotation : str
        Its type, as signatures show it.
    check : callable
        ``check(value)`` returns the value the call uses, or raises TypeError/ValueError naming it.
    help : str
        One line for the docs and the command line.
    per_dim : bool
        Whether a ``{dim: value}`` mapping is accepted (the command line reads ``DIM=VALUE,...``).
    """

    name: str
    group: str
    default: Any
    annotation: str
    check: Callable[[Any], Any]
    help: str
    per_dim: bool = False

    def parameter(self) -> inspect.Parameter:
        return inspect.Parameter(
            self.name, inspect.Parameter.KEYWORD_ONLY, default=self.default, annotation=self.annotation
        )


KEYWORDS: tuple[Keyword, ...] = (
    Keyword("method", DERIVATIVE, "fd", "str", check_method, "derivative method (see fieldgrad.available_methods())"),
    Keyword(
        "boundary",
        DERIVATIVE,
        "one-sided",
        "str | Mapping[Hashable, str]",
        _per_dim("boundary", _check_boundary_kind),
        "one-sided, periodic or fill, for every dim or per dim",
        per_dim=True,
    ),
    Keyword(
        "nan_policy",
        DERIVATIVE,
        "propagate",
        "str",
        _choice("nan_policy", NAN_POLICIES),
        "propagate: a NaN spoils the points whose stencil touches it; omit: NaN-free runs are domains of their own",
    ),
    Keyword("fill_value", DERIVATIVE, np.nan, "float", check_fill_value, "value of the points boundary='fill' sets"),
    Keyword(
        "period",
        DERIVATIVE,
        None,
        "float | Mapping[Hashable, float] | None",
        _per_dim("period", _check_period_value),
        "length of one period of a periodic non-uniform coordinate",
        per_dim=True,
    ),
    Keyword(
        "datetime_unit",
        DERIVATIVE,
        None,
        "str | None",
        check_datetime_unit,
        "unit of time for datetime coordinates and values (s, h, D, ...)",
    ),
    Keyword("geometry", GEOMETRY, "cartesian", "str", check_geometry, "cartesian, sphere or projected"),
    Keyword("latitude", GEOMETRY, None, "Hashable | None", check_name("latitude"), "the latitude coordinate (sphere)"),
    Keyword(
        "longitude", GEOMETRY, None, "Hashable | None", check_name("longitude"), "the longitude coordinate (sphere)"
    ),
    Keyword("radius", GEOMETRY, None, "float | None", check_radius, "sphere radius in metres (default the Earth's)"),
    Keyword("crs", GEOMETRY, None, "Any", check_crs, "the map projection (default: the CF grid_mapping)"),
    Keyword(
        "frame",
        GEOMETRY,
        "earth",
        "str",
        _choice("frame", FRAMES),
        "earth: components along the coordinates (east/north); grid: along the grid's index dims",
    ),
    Keyword("grid", GEOMETRY, None, "Grid | None", check_grid, "a fieldgrad.Grid built once for these coordinates"),
)

BY_NAME: dict[str, Keyword] = {k.name: k for k in KEYWORDS}
DERIVATIVE_NAMES = tuple(k.name for k in KEYWORDS if k.group == DERIVATIVE)
GEOMETRY_NAMES = tuple(k.name for k in KEYWORDS if k.group == GEOMETRY)


# ----------------------------------------------------------------------------- resolved groups


@dataclass(frozen=True)
class DerivativeKeywords:
    """How one call takes its partial derivatives: the derivative keywords and the method options.

    Built by :func:`split_keywords` (validated); :func:`fieldgrad.calculus.partial` takes the
    derivatives of a call with them, for the field and for the grid's own coefficients.

    Examples
    --------
    >>> kw, _ = split_keywords({"accuracy": 4, "boundary": {"x": "periodic"}})
    >>> kw.options, kw.boundary_of("x"), kw.boundary_of("y")
    ({'accuracy': 4}, 'periodic', 'one-sided')
    """

    method: Any = "fd"
    boundary: str | Mapping[Hashable, str] = "one-sided"
    nan_policy: str = "propagate"
    fill_value: float | complex = np.nan
    period: float | Mapping[Hashable, float | None] | None = None
    datetime_unit: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    given: frozenset[str] = frozenset()  # the keywords the call named (a named boundary wins over the grid's)

    def for_terms(self, f: xr.DataArray, orders: Mapping[Hashable, int]) -> DerivativeKeywords:
        """These keywords for one term of an operator: ``datetime_unit`` only where a term runs along
        time or the field's values are datetimes (one term of a mixed time/space operator)."""
        if self.datetime_unit is None or f.dtype.kind in "mM":
            return self
        variables = f.coords.variables
        if any(k in variables and is_time_coord(variables[k]) for k in orders):
            return self
        return replace(self, datetime_unit=None)

    def restricted_to(self, f: xr.DataArray | xr.Dataset) -> DerivativeKeywords:
        """Per-dim mappings restricted to what ``f`` has (a metric coefficient lacks some dims)."""
        changes: dict[str, Any] = {}
        for name in ("boundary", "period"):
            value = getattr(self, name)
            if isinstance(value, Mapping):
                changes[name] = {k: v for k, v in value.items() if k in f.dims or k in f.coords}
        return replace(self, **changes) if changes else self

    def boundary_of(self, dim: Hashable) -> str:
        """The boundary kind of one dim."""
        if isinstance(self.boundary, Mapping):
            return str(self.boundary.get(dim, "one-sided"))
        return str(self.boundary)

    def names_boundary(self, *dims: Hashable) -> bool:
        """Whether the call chose the boundary of any of ``dims`` (one kind for every dim, or a
        mapping naming one of them)."""
        if isinstance(self.boundary, Mapping):
            return any(d in self.boundary for d in dims)
        return "boundary" in self.given

    def with_grid_defaults(
        self, boundary: Mapping[Hashable, str], period: Mapping[Hashable, float]
    ) -> DerivativeKeywords:
        """The grid's defaults (a periodic longitude) under what the call chose itself: a boundary
        or period given for every dim, or per dim for the dims it names."""
        if not boundary and not period:
            return self
        new_boundary: Any = dict(boundary)
        if isinstance(self.boundary, Mapping):
            new_boundary.update(self.boundary)
        elif "boundary" in self.given:
            new_boundary = self.boundary
        new_period: Any = dict(period)
        if isinstance(self.period, Mapping):
            new_period.update(self.period)
        elif self.period is not None:
            new_period = self.period
        return replace(self, boundary=new_boundary, period=new_period)

    def method_object(self) -> DerivativeMethod:
        return get_method(self.method)

    def key(self) -> tuple[Any, ...]:
        """A hashable summary distinguishing every call that can give other numbers (types included)."""
        return tuple((name, _keyed(getattr(self, name))) for name in (*DERIVATIVE_NAMES, "options", "given"))


def _keyed(value: Any) -> Any:
    if isinstance(value, Mapping):
        return tuple(sorted(((repr(k), _keyed(v)) for k, v in value.items())))
    if isinstance(value, frozenset):
        return tuple(sorted(value))
    if isinstance(value, float) and math.isnan(value):
        return ("nan",)
    return (type(value).__name__, repr(value))


@dataclass(frozen=True)
class GeometryKeywords:
    """Which grid the coordinates describe: the geometry keywords of one call, validated.

    Examples
    --------
    >>> _, geo = split_keywords({"geometry": "sphere", "radius": 6.4e6})
    >>> geo.geometry, geo.radius, sorted(geo.given)
    ('sphere', 6400000.0, ['geometry', 'radius'])
    """

    geometry: str = "cartesian"
    latitude: Hashable | None = None
    longitude: Hashable | None = None
    radius: float | None = None
    crs: Any = None
    frame: str | None = None  # None: the grid's (``"earth"`` unless a Grid says otherwise)
    grid: Any = None
    given: frozenset[str] = frozenset()  # the keywords the call named

    def grid_keywords(self) -> dict[str, Any]:
        """The keywords that describe the grid (not the frame of the result), as given."""
        return {
            name: getattr(self, name)
            for name in ("latitude", "longitude", "radius", "crs")
            if getattr(self, name) is not None
        }


def split_keywords(
    kwargs: Mapping[str, Any], method_options: bool = True
) -> tuple[DerivativeKeywords, GeometryKeywords]:
    """Sort a call's keywords into the derivative and geometry groups and the method's options.

    Every value is validated here, before anything is cached or computed. A name that is none
    of these is a TypeError listing the groups; method option *values* are checked by the
    method (with the derivative order, when the plan is made).

    Parameters
    ----------
    kwargs : mapping
        The keywords as the user gave them.
    method_options : bool, default True
        Whether the method's options are accepted (False for operators that take no derivative).

    Examples
    --------
    >>> kw, geo = split_keywords({"accuracy": 4, "boundary": {"x": "periodic"}, "geometry": "sphere"})
    >>> kw.options, kw.boundary, geo.geometry
    ({'accuracy': 4}, {'x': 'periodic'}, 'sphere')
    >>> split_keywords({"acuracy": 4})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    fieldgrad.keywords.KeywordError: unexpected keyword 'acuracy'. ...; options of method 'fd': accuracy, edge_order
    """
    if not kwargs:  # the common call: every default (immutable, so shared)
        return _DEFAULTS_SPLIT
    derivative: dict[str, Any] = {}
    geometry: dict[str, Any] = {}
    options: dict[str, Any] = {}
    unknown: list[str] = []
    method = kwargs.get("method", "fd")
    declared = _method_options(method) if method_options else {}
    for name, value in kwargs.items():
        keyword = BY_NAME.get(name)
        if keyword is not None:
            (derivative if keyword.group == DERIVATIVE else geometry)[name] = keyword.check(value)
        elif name in declared:
            options[name] = value
        else:
            unknown.append(name)
    if unknown:
        raise KeywordError(_unknown_message(unknown, method, declared))
    if geometry.get("grid") is not None:
        clash = [n for n in ("geometry", "latitude", "longitude", "radius", "crs") if n in geometry]
        if clash:
            raise KeywordError(
                f"give either grid= or the geometry keywords that build one ({', '.join(clash)}), not both: "
                "the grid already says which geometry its coordinates have"
            )
    given = frozenset(derivative)
    derivative["method"] = method
    return (
        DerivativeKeywords(options=options, given=given, **derivative),
        GeometryKeywords(given=frozenset(geometry), **geometry),
    )


_DEFAULTS_SPLIT = (DerivativeKeywords(options=MappingProxyType({})), GeometryKeywords())


def _unknown_message(unknown: list[str], method: Any, declared: Mapping[str, Any]) -> str:
    names = ", ".join(repr(n) for n in unknown)
    label = method if isinstance(method, str) else get_method(method).name
    own = ", ".join(declared) or "none"
    return (
        f"unexpected keyword{'s' if len(unknown) > 1 else ''} {names}. "
        f"Derivative keywords: {', '.join(DERIVATIVE_NAMES)}; "
        f"geometry keywords: {', '.join(GEOMETRY_NAMES)}; options of method {label!r}: {own}"
    )


# ----------------------------------------------------------------------------- signatures


def keyword_parameters(groups: tuple[str, ...] = (DERIVATIVE, GEOMETRY)) -> list[inspect.Parameter]:
    """The table's keywords of ``groups`` as keyword-only parameters, then ``**options``."""
    params = [k.parameter() for k in KEYWORDS if k.group in groups]
    if DERIVATIVE in groups:
        params.append(inspect.Parameter("options", inspect.Parameter.VAR_KEYWORD))
    return params


def expanded_signature(func: Callable[..., Any], groups: tuple[str, ...] = (DERIVATIVE, GEOMETRY)) -> inspect.Signature:
    """``func``'s signature with ``**kwargs`` replaced by the table's keywords (and ``**options``)."""
    sig = inspect.signature(func)
    own = [p for p in sig.parameters.values() if p.kind is not p.VAR_KEYWORD]
    names = {p.name for p in own}
    extra = [p for p in keyword_parameters(groups) if p.name not in names]
    return sig.replace(parameters=own + extra)
