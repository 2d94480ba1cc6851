"""Everything a derivative-method plugin needs, from one public module.

A plugin subclasses :class:`DerivativeMethod` (implement ``derivative`` and ``halo``) or
:class:`StencilMethod` (implement ``stencil`` and ``halo``; the compiled kernel, the fused
gradient and chunking come with it), receives each axis as an :class:`AxisCoord`, registers
itself with :func:`register_method` or a ``fieldgrad.methods`` entry point, and checks itself
with :func:`check_method` in its tests.

Examples
--------
>>> import numpy as np
>>> from fieldgrad.plugin import DerivativeMethod, axis_coord, check_method
>>> class Centered(DerivativeMethod):
...     name = "centered-plugin-example"
...     description = "second-order centred differences (numpy.gradient)"
...     max_order = 1
...     supports_nonuniform = True
...     def halo(self, coord, order):
...         return 1
...     def derivative(self, values, coord, *, axis, order):
...         return np.gradient(values, coord.values, axis=axis)
>>> Centered().derivative(np.arange(4.0) ** 2, axis_coord(np.arange(4.0)), axis=0, order=1)
array([1., 2., 4., 5.])
>>> check_method(Centered)["chunked"] > 0
True
"""

from __future__ import annotations

from .coefficients import fornberg_weights
from .conventions import BOUNDARIES, result_dtype
from .coords import AxisCoord, axis_coord
from .kernels import serial_requested
from .method import DerivativeMethod, StencilMethod
from .registry import FieldgradPluginWarning, register_method
from .stencil import AxisStencil, build_stencil, stencil_from_rows
from .testing import check_method

__all__ = [
    "BOUNDARIES",
    "AxisCoord",
    "AxisStencil",
    "DerivativeMethod",
    "FieldgradPluginWarning",
    "StencilMethod",
    "axis_coord",
    "build_stencil",
    "check_method",
    "fornberg_weights",
    "register_method",
    "result_dtype",
    "serial_requested",
    "stencil_from_rows",
]
