"""The operator table: each operator registered once, its public function made around its body.

:func:`operator` turns a function whose body is only mathematics, ``body(call, field, ...)``, into
a public operator. The public function

1. sorts the keywords into derivative keywords, geometry keywords and method options
   (:func:`fieldgrad.keywords.split_keywords`: a TypeError for any other name), once, at the top;
2. maps a Dataset over its variables (:mod:`fieldgrad.datasets`, the one Dataset loop), or runs
   on a DataArray (:func:`fieldgrad.call.run`: the call resolved, the body run, the result labelled).

:data:`OPERATORS` lists them; the ``.grad`` accessors (:mod:`fieldgrad.accessor`) and the command
line (:mod:`fieldgrad.cli`) are built from it, so a new operator is one decorated function.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Hashable
from typing import Any

import xarray as xr

from .call import Label, Operator, Request, run
from .datasets import apply_to_dataset
from .keywords import DERIVATIVE, GEOMETRY, KeywordError, expanded_signature, split_keywords

__all__ = ["OPERATORS", "operator"]


#: every operator by name, in the order they were defined (the accessors and the command line read it)
OPERATORS: dict[str, Operator] = {}


def operator(
    *, takes: str, label: Label | None, dims: Any = "dims", **options: Any
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``body(call, field, ...)`` as an operator and return its public function.

    The public function takes the field (a DataArray; a Dataset for operators on scalar fields,
    mapped over its variables), the body's own arguments and the keyword table's keywords.

    Parameters
    ----------
    takes, label
        What the first argument is and how the result is labelled (:class:`fieldgrad.call.Operator`).
    dims : str, callable or None, default "dims"
        Where the keys of the derivatives come from: a parameter's name, ``dims(arguments)``, or
        None (the grid's defaults, or a vector's directions).
    **options
        The other fields of :class:`fieldgrad.call.Operator` (``vectors``, ``new_dims``, examples...).
    """

    def decorate(body: Callable[..., Any]) -> Callable[..., Any]:
        params = list(inspect.signature(body).parameters.values())[1:]  # without `call`
        public_sig = inspect.Signature(params, return_annotation=inspect.signature(body).return_annotation)
        dims_of = dims if callable(dims) else ((lambda a, name=dims: a.get(name)) if dims else (lambda a: None))
        fields = {"summary": (body.__doc__ or "").strip().splitlines()[0], **options}
        op = Operator(
            name=body.__name__, body=body, takes=takes, label=label, dims=dims_of, signature=public_sig, **fields
        )

        @functools.wraps(body)
        def public(obj: Any, *args: Any, **kwargs: Any) -> Any:
            return apply(op, obj, args, kwargs)

        public.__signature__ = _with_keywords(public_sig, op.derivatives)  # type: ignore[attr-defined]
        OPERATORS[op.name] = op
        return public

    return decorate


def _with_keywords(sig: inspect.Signature, derivatives: bool) -> inspect.Signature:
    def stub(*args: Any, **kwargs: Any) -> None: ...

    stub.__signature__ = sig.replace(  # type: ignore[attr-defined]
        parameters=[*sig.parameters.values(), inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD)]
    )
    return expanded_signature(stub, (DERIVATIVE, GEOMETRY) if derivatives else ())


def apply(op: Operator, obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Run an operator on a DataArray (or, for a field operator, each variable of a Dataset)."""
    own = {k: kwargs.pop(k) for k in op.own_keywords if k in kwargs} if kwargs else {}
    for name, value in own.items():  # component_dim, component_dim2, path_dim: names of dims
        if name.endswith(("_dim", "_dim2")) and not isinstance(value, Hashable):
            raise KeywordError(f"{name} must be the name of a dimension, got {value!r} ({type(value).__name__})")
    on_missing = kwargs.pop("on_missing", None) if kwargs else None
    if not op.derivatives and kwargs:
        raise KeywordError(f"{op.name}() got unexpected keyword(s) {sorted(kwargs)}; it takes {list(op.own_keywords)}")
    kw, geo = split_keywords(kwargs, method_options=op.derivatives)
    request = Request(args, own, kw, geo)
    if isinstance(obj, xr.Dataset):
        return apply_to_dataset(op, obj, request, on_missing=on_missing or "keep")
    if on_missing is not None:
        raise KeywordError("on_missing= applies to Datasets (what to do with variables that lack the dims)")
    if not isinstance(obj, xr.DataArray):
        raise TypeError(f"{op.name}() takes an xarray DataArray or Dataset, got {type(obj).__name__}")
    return run(op, obj, request)
