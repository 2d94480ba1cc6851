"""Geometry as data: the axes of a grid and the scale factors that make derivatives physical.

* :mod:`.axes` reads what coordinates are from their CF attributes (latitude, longitude,
  projection x/y, time, the default dims);
* :mod:`.algebra` and :mod:`.metric` hold the :class:`Metric` every operator is written on;
* :mod:`.base` is the table of geometries; :mod:`.cartesian`, :mod:`.sphere` and
  :mod:`.projected` are its entries (:mod:`.terms`: the grid's own derivatives they share).

Build a :class:`fieldgrad.Grid` to resolve a grid once and reuse it.
"""

from . import cartesian, sphere, projected  # noqa: F401, I001  (each registers its geometry, in this order)
from .axes import DefaultDimsError, GeometryWarning, as_keys, cf_kind, cf_role, default_dims, lat_lon_coords
from .base import Geometry, geometries, geometry_builder, register_geometry
from .metric import Metric, PolarCaps
from .sphere import EARTH_RADIUS

__all__ = [
    "EARTH_RADIUS",
    "DefaultDimsError",
    "Geometry",
    "GeometryWarning",
    "Metric",
    "PolarCaps",
    "as_keys",
    "cf_kind",
    "cf_role",
    "default_dims",
    "geometries",
    "geometry_builder",
    "lat_lon_coords",
    "register_geometry",
]
