"""The operators of vector calculus, each written once on the grid's metric.

A vector field is a DataArray with a ``component`` dimension whose labels name the directions
the components point along (``component=["x", "y", "z"]``; ``["lat", "lon"]`` on the sphere:
northward and eastward). Each function here is only its mathematics, written on the
:class:`~fieldgrad.geometry.metric.Metric` of the call (``G[a, q] = ∂r_a/∂q``): a flat grid is the
identity metric, and latitude/longitude, curvilinear and projected grids add their terms. The
call is resolved before the body runs and its result labelled after it (:func:`fieldgrad.table.operator`),
so every operator takes the same keywords:

* derivative keywords -- ``method``, ``boundary``, ``nan_policy``, ``fill_value``, ``period``,
  ``datetime_unit`` and the method's options (``accuracy=4``...);
* geometry keywords -- ``geometry`` (``"cartesian"``, ``"sphere"``, ``"projected"``), ``latitude``,
  ``longitude``, ``radius``, ``crs``, ``frame`` (``"earth"``: vectors along the coordinates, east/north
  on the sphere; ``"grid"``: along the grid's index dims), or ``grid=`` a :class:`fieldgrad.Grid`.

All derivatives come from :mod:`fieldgrad.calculus`, so every operator runs with any registered
method, on numpy- or dask-backed data. A Dataset given to an operator on scalar fields is mapped
over its variables (:mod:`fieldgrad.datasets`).

The operators are in three modules: :mod:`.fields` (partial, gradient, laplacian, hessian),
:mod:`.vectors` (divergence, curl, jacobian, magnitude, advection) and :mod:`.paths` (directional,
along); each registers its operators in the operator table (:mod:`fieldgrad.table`).
"""

from __future__ import annotations

from ..call import components
from .fields import *  # noqa: F403  (each module's __all__: its operators)
from .fields import __all__ as _fields
from .paths import *  # noqa: F403
from .paths import __all__ as _paths
from .vectors import *  # noqa: F403
from .vectors import __all__ as _vectors

__all__ = [*_fields, *_vectors, *_paths, "components"]
