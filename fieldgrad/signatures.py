"""The keywords of the public operators, written once and shown in every signature.

The operators forward their keywords (``geometry=``, ``method=``, ``accuracy=``...) to the
geometry layer and to :func:`fieldgrad.calculus.partial`. :func:`shows_keywords` gives a
function that takes ``**kwargs`` a ``__signature__`` listing those keywords, so ``help()``,
``inspect.signature``, editors and the API docs show them instead of ``**kwargs``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["GEOMETRY_KEYWORDS", "shows_keywords", "accessor_signature"]

F = TypeVar("F", bound=Callable[..., Any])

_KW = inspect.Parameter.KEYWORD_ONLY
GEOMETRY_KEYWORDS = (
    inspect.Parameter("geometry", _KW, default="cartesian", annotation="str"),
    inspect.Parameter("latitude", _KW, default=None, annotation="Hashable | None"),
    inspect.Parameter("longitude", _KW, default=None, annotation="Hashable | None"),
    inspect.Parameter("radius", _KW, default=None, annotation="float | None"),
    inspect.Parameter("crs", _KW, default=None, annotation="Any"),
    inspect.Parameter("frame", _KW, default="earth", annotation="str"),
)


def _derivative_keywords() -> list[inspect.Parameter]:
    """``method``, ``boundary``, ... and ``**options``: the keyword-only parameters of ``partial``."""
    from .calculus import partial

    params = inspect.signature(partial).parameters.values()
    return [p for p in params if p.kind in (p.KEYWORD_ONLY, p.VAR_KEYWORD)]


def _expanded(func: Callable[..., Any], geometry: bool) -> inspect.Signature:
    sig = inspect.signature(func)
    own = [p for p in sig.parameters.values() if p.kind is not p.VAR_KEYWORD]
    names = {p.name for p in own}
    extra = [p for p in (list(GEOMETRY_KEYWORDS) if geometry else []) + _derivative_keywords() if p.name not in names]
    keyword_only = [p for p in extra if p.kind is p.KEYWORD_ONLY]
    var = [p for p in extra if p.kind is p.VAR_KEYWORD]
    return sig.replace(parameters=own + keyword_only + var)


def shows_keywords(geometry: bool = True) -> Callable[[F], F]:
    """Decorator: list the geometry and derivative keywords in the function's signature.

    Examples
    --------
    >>> @shows_keywords()
    ... def op(field, *, component_dim="component", **kwargs):
    ...     return kwargs
    >>> "accuracy" in str(inspect.signature(op)) or "method" in inspect.signature(op).parameters
    True
    """

    def decorate(func: F) -> F:
        func.__signature__ = _expanded(func, geometry)  # type: ignore[attr-defined]
        return func

    return decorate


def accessor_signature(func: Callable[..., Any]) -> inspect.Signature:
    """The signature of ``func`` as an accessor method: ``self`` in place of the field argument."""
    sig = inspect.signature(func)
    params = list(sig.parameters.values())
    self_param = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sig.replace(parameters=[self_param] + params[1:])
