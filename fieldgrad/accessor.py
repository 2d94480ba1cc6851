"""The ``.grad`` accessor on DataArray and Dataset: a thin layer over :mod:`fieldgrad.operators`.

Its methods are made from the operator table (:data:`fieldgrad.table.OPERATORS`): each is the
operator with ``self`` for the field, showing the operator's keywords in its signature. The
Dataset accessor maps operators on fields over the data variables that have the dims
(:mod:`fieldgrad.datasets`, with ``on_missing=``), and takes the components of vector fields as
variable names (``{"x": "u", "y": "v"}``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import xarray as xr

from . import operators
from .call import Operator
from .table import OPERATORS

__all__ = ["GradDataArrayAccessor", "GradDatasetAccessor"]


class _GradAccessor:
    """Shared by the DataArray and Dataset accessors."""

    def __init__(self, obj: xr.DataArray | xr.Dataset) -> None:
        self._obj = obj

    def __call__(self, spec: Any, order: int = 1, **kwargs: Any) -> Any:
        """Shorthand for :meth:`partial`.

        Examples
        --------
        >>> da = xr.DataArray([0.0, 1.0, 4.0, 9.0], dims="x")
        >>> da.grad("x").values
        array([0., 2., 4., 6.])
        """
        return operators.partial(self._obj, spec, order, **kwargs)


@xr.register_dataarray_accessor("grad")
class GradDataArrayAccessor(_GradAccessor):
    """``da.grad``: derivatives and vector calculus of a DataArray by dimension name."""

    _obj: xr.DataArray


@xr.register_dataset_accessor("grad")
class GradDatasetAccessor(_GradAccessor):
    """``ds.grad``: every operator of ``da.grad``, mapped over the data variables that have its dims
    (``on_missing=`` says what happens to the others), or on vector fields whose components are
    variables (``{"x": "u", "y": "v"}``)."""

    _obj: xr.Dataset


_ON_MISSING = inspect.Parameter("on_missing", inspect.Parameter.KEYWORD_ONLY, default="keep", annotation="str")


def _method(op: Operator, dataset: bool) -> Callable[..., Any]:
    public = getattr(operators, op.name)

    def method(self: _GradAccessor, *args: Any, **kwargs: Any) -> Any:
        return public(self._obj, *args, **kwargs)

    params = list(inspect.signature(public).parameters.values())
    first = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    rest = params[1:]
    if dataset and op.takes == "vector":
        components = inspect.Parameter(
            "components", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation="Mapping[Hashable, Hashable]"
        )
        rest = [components, *rest]
    if dataset and op.takes == "scalar":
        at = next((i for i, p in enumerate(rest) if p.kind is p.VAR_KEYWORD), len(rest))
        rest = [*rest[:at], _ON_MISSING, *rest[at:]]
    method.__signature__ = inspect.Signature([first, *rest])  # type: ignore[attr-defined]
    method.__name__ = method.__qualname__ = op.name
    method.__doc__ = _docstring(op, dataset)
    return method


def _docstring(op: Operator, dataset: bool) -> str:
    summary = op.summary[0].upper() + op.summary[1:]
    if dataset and op.takes == "vector":
        what = "of the vector field whose components are the Dataset's variables, ``{direction: variable}``"
    elif dataset:
        what = (
            "of every data variable that has the dims (names kept); the others are kept, dropped or an "
            "error by ``on_missing`` (``'keep'``, ``'drop'``, ``'raise'``)"
        )
    else:
        what = "of this DataArray"
    example = op.dataset_example if dataset else op.example
    return (
        f"{summary}, {what}.\n\n"
        f"See :func:`fieldgrad.operators.{op.name}` for the parameters; every keyword of the operators "
        "(derivative, geometry and the method's options) applies.\n\n"
        f"Examples\n--------\n{inspect.cleandoc(example)}\n"
    )


_GradAccessor.__call__.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
    [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    + list(inspect.signature(operators.partial).parameters.values())[1:]
)

for _op in OPERATORS.values():
    if _op.example:
        setattr(GradDataArrayAccessor, _op.name, _method(_op, dataset=False))
    if _op.dataset_example:
        setattr(GradDatasetAccessor, _op.name, _method(_op, dataset=True))
