"""The geometry table: each geometry is a builder registered under its name, in a file of its own.

A :class:`Geometry` reads what it needs from a grid's coordinates once (:meth:`Geometry.detect`,
when a :class:`fieldgrad.Grid` is built) and turns the dims of a call into a
:class:`~fieldgrad.geometry.metric.Metric` (:meth:`Geometry.metric`). Operators never ask which
geometry they run on: they are written once on the metric. A new geometry is a new module with a
``@register_geometry`` class; :func:`register_geometry` is public, so a package may add its own.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

if TYPE_CHECKING:
    import xarray as xr

    from ..keywords import DerivativeKeywords
    from .metric import Metric

__all__ = ["Geometry", "Grid", "geometries", "geometry_builder", "register_geometry"]

G = TypeVar("G", bound="type[Geometry]")

_GEOMETRIES: dict[str, Geometry] = {}


class Grid(Protocol):
    """What a geometry reads of a :class:`fieldgrad.Grid` (its coordinates, what it detected, its memo)."""

    axes: Any
    sizes: Mapping[Hashable, int]

    @property
    def coords(self) -> xr.Dataset: ...

    @property
    def variables(self) -> Mapping[Hashable, xr.Variable]: ...

    @property
    def geometry_builder(self) -> Geometry: ...

    def memo(self, key: Hashable, compute: Callable[[], Any], depends_on: Iterable[Hashable] = ()) -> Any: ...

    def length_unit(self, key: Hashable, datetime_unit: str | None = None) -> str | None: ...

    def is_2d_coordinate(self, key: Hashable) -> bool: ...

    def periodic_dims(self) -> dict[Hashable, float | None]: ...


class Geometry:
    """How the coordinates of one kind of grid become a metric.

    Attributes
    ----------
    name : str
        The ``geometry=`` value.
    keywords : tuple of str
        The grid keywords it reads (``latitude``, ``longitude``, ``radius``, ``crs``); another given
        with it is a ValueError.
    """

    name: ClassVar[str] = ""
    keywords: ClassVar[tuple[str, ...]] = ()

    def detect(self, coords: xr.Dataset, **keywords: Any) -> Any:  # the keywords it lists in `keywords`
        """What the grid is (its axes, radius, projection...), read once from its coordinates."""
        return None

    def default_keys(self, grid: Grid, field: xr.DataArray | xr.Dataset) -> list[Hashable]:
        """What an operator on ``field`` differentiates along when no dims are named (dims or coordinates)."""
        raise NotImplementedError

    def metric(self, grid: Grid, keys: Sequence[Hashable], kw: DerivativeKeywords) -> Metric:
        """The metric of the derivatives along ``keys`` (dims or coordinates), taken with ``kw``."""
        raise NotImplementedError

    def periodic(self, grid: Grid) -> dict[Hashable, float]:
        """The grid's periodic dims and their periods (a longitude that closes the circle)."""
        return {}

    def seam(self, grid: Grid) -> Hashable | None:
        """The dim of a periodic coordinate whose last point repeats the first (``None``: none)."""
        return None

    def describe(self, grid: Grid) -> list[str]:
        """Lines for the grid's repr: what was detected, as a user would check it."""
        return []


def register_geometry(cls: G) -> G:
    """Class decorator: add a :class:`Geometry` to the table under its ``name``.

    Examples
    --------
    >>> sorted(geometries())
    ['cartesian', 'projected', 'sphere']
    """
    _GEOMETRIES[cls.name] = cls()
    return cls


def geometries() -> tuple[str, ...]:
    """The names ``geometry=`` accepts."""
    return tuple(_GEOMETRIES)


def geometry_builder(name: str) -> Geometry:
    """The geometry registered as ``name``; ValueError listing them for another name."""
    try:
        return _GEOMETRIES[name]
    except KeyError:
        raise ValueError(f"geometry must be one of {geometries()}, got {name!r}") from None
