"""fieldgrad: coordinate-aware derivatives of labelled N-D fields.

``import fieldgrad`` registers the ``.grad`` accessor on :class:`xarray.DataArray` and
:class:`xarray.Dataset`. Plugins are discovered lazily: importing fieldgrad never imports one.
"""

from . import accessor as _accessor  # noqa: F401  (registers .grad)
from . import operators as operators  # fieldgrad.operators.gradient, ...: the operators, one module
from . import plugin
from .geometry import GeometryWarning
from .grid import Grid
from .method import DerivativeMethod, StencilMethod
from .numpy_compat import gradient
from .operators import partial
from .options import get_options, set_options
from .registry import FieldgradPluginWarning, available_methods, get_method, refresh_methods, register_method
from .store import compute

__version__ = "0.1.0"

__all__ = [
    "Grid",
    "DerivativeMethod",
    "FieldgradPluginWarning",
    "GeometryWarning",
    "available_methods",
    "compute",
    "get_method",
    "get_options",
    "set_options",
    "gradient",
    "partial",
    "plugin",
    "refresh_methods",
    "register_method",
    "StencilMethod",
]
