"""Method registry: built-ins, in-process registrations and lazily loaded entry points.

Resolution of a name, the same on every path:

1. built-in methods (``fd``): loaded through the same loader and validator as plugins, but
   without scanning the installed distributions;
2. methods registered in this process with :func:`register_method`;
3. entry points of the group ``fieldgrad.methods``, scanned once (cached) and imported only
   when their name is requested. An entry point that shadows a built-in or a registered
   name is ignored with a warning; between two distributions offering one name, the first
   distribution by name wins, with a warning.

A plugin that fails to import or validate never breaks ``import fieldgrad`` or listing: it is
reported once as a :class:`FieldgradPluginWarning` naming its distribution, and requesting it
raises a ValueError that says why.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import threading
import warnings
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from .method import DerivativeMethod

__all__ = [
    "FieldgradPluginWarning",
    "available_methods",
    "get_method",
    "register_method",
    "refresh_methods",
]

GROUP = "fieldgrad.methods"
# name -> "module:Class"; loaded like an entry point but found without scanning metadata
BUILTIN = {"fd": "fieldgrad.fd:FiniteDifference"}

_lock = threading.RLock()
_registered: dict[str, type[DerivativeMethod]] = {}
_loaded: dict[str, type[DerivativeMethod]] = {}
_failed: dict[str, "PluginFailure"] = {}
_warned: set[str] = set()


class FieldgradPluginWarning(RuntimeWarning):
    """A derivative-method plugin could not be loaded, or was shadowed by another."""


@dataclass(frozen=True)
class PluginFailure:
    """Why a plugin could not be used: its name, target, distribution and the error."""

    name: str
    value: str
    distribution: str
    error: str

    def message(self) -> str:
        return (f"derivative method {self.name!r} ({self.value}) from distribution "
                f"{self.distribution!r} could not be loaded: {self.error}")


def validate_method_class(cls: Any, name: str | None = None) -> type[DerivativeMethod]:
    """Check that ``cls`` is a usable DerivativeMethod subclass (and is called ``name``)."""
    if not (inspect.isclass(cls) and issubclass(cls, DerivativeMethod)):
        raise TypeError(f"a derivative method must be a subclass of fieldgrad.DerivativeMethod, got {cls!r}")
    if not isinstance(cls.name, str) or not cls.name:
        raise TypeError(f"{cls.__name__} must set a non-empty class attribute `name`")
    if name is not None and cls.name != name:
        raise TypeError(f"entry point {name!r} loads a method named {cls.name!r}; the names must match")
    for attr in ("derivative", "halo"):
        if getattr(cls, attr) is getattr(DerivativeMethod, attr):
            raise TypeError(f"{cls.__name__} must implement {attr}()")
    return cls


def _load(name: str, value: str, distribution: str) -> type[DerivativeMethod]:
    """Import ``module:Class`` and validate it; failures are recorded, warned once, and raised."""
    with _lock:
        if name in _loaded:
            return _loaded[name]
        if name in _failed:
            raise ValueError(_failed[name].message())
        try:
            cls = EntryPoint(name=name, value=value, group=GROUP).load()
            validate_method_class(cls, name)
        except Exception as exc:  # a broken plugin must not break fieldgrad
            failure = PluginFailure(name, value, distribution, f"{type(exc).__name__}: {exc}")
            _failed[name] = failure
            _warn_once(name, failure.message())
            raise ValueError(failure.message()) from exc
        _loaded[name] = cls
        return cls


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, FieldgradPluginWarning, stacklevel=3)


@lru_cache(maxsize=1)
def _entry_points() -> dict[str, tuple[str, str]]:
    """name -> (value, distribution) of the installed plugins (scanned once; see refresh_methods)."""
    found: dict[str, list[tuple[str, str]]] = {}
    for ep in entry_points(group=GROUP):
        dist = ep.dist.name if ep.dist is not None else "<unknown>"
        found.setdefault(ep.name, []).append((dist, ep.value))
    chosen: dict[str, tuple[str, str]] = {}
    for name, offers in found.items():
        offers = sorted(set(offers))
        if name in BUILTIN:
            if any(value != BUILTIN[name] for _, value in offers):
                others = [d for d, v in offers if v != BUILTIN[name]]
                _warn_once(f"shadow:{name}", f"entry point {name!r} from {others} is ignored: "
                           f"{name!r} is a built-in method")
            continue
        if len(offers) > 1:
            _warn_once(f"dup:{name}", f"derivative method {name!r} is offered by several distributions "
                       f"{[d for d, _ in offers]}; using the one from {offers[0][0]!r}")
        dist, value = offers[0]
        chosen[name] = (value, dist)
    return chosen


def refresh_methods() -> None:
    """Forget scanned entry points and load failures (after installing or fixing a plugin).

    Examples
    --------
    >>> refresh_methods()
    """
    with _lock:
        _entry_points.cache_clear()
        _failed.clear()
        _warned.clear()
        for name in list(_loaded):
            if name not in BUILTIN:
                del _loaded[name]


def register_method(cls: type[DerivativeMethod]) -> type[DerivativeMethod]:
    """Register a :class:`DerivativeMethod` subclass under its ``name`` (usable as a decorator).

    A registered name takes precedence over an installed plugin of the same name. Registering
    a built-in name is refused; registering a name again replaces the earlier class, with a
    warning.

    Examples
    --------
    >>> import fieldgrad
    >>> @fieldgrad.register_method
    ... class Forward(fieldgrad.DerivativeMethod):
    ...     name = "forward-example"
    ...     description = "first-order forward differences"
    ...     max_order = 1
    ...     supports_nonuniform = True
    ...     def halo(self, order, **options):
    ...         return 1
    ...     def derivative(self, values, coord, *, axis, order, **options):
    ...         return np.gradient(values, coord, axis=axis, edge_order=1)
    >>> fieldgrad.get_method("forward-example")
    <Forward method 'forward-example': first-order forward differences>
    """
    validate_method_class(cls)
    name = cls.name
    with _lock:
        if name in BUILTIN:
            raise ValueError(f"cannot register a method named {name!r}: that is a built-in method")
        previous = _registered.get(name)
        if previous is not None and previous is not cls:
            warnings.warn(f"derivative method {name!r} was registered before ({previous.__qualname__}); "
                          f"replacing it with {cls.__qualname__}", FieldgradPluginWarning, stacklevel=2)
        _registered[name] = cls
    return cls


def _unregister(name: str) -> None:
    """Remove an in-process registration (for tests)."""
    with _lock:
        _registered.pop(name, None)


def _resolve_class(name: str) -> type[DerivativeMethod]:
    if name in BUILTIN:
        return _load(name, BUILTIN[name], "fieldgrad")
    if name in _registered:
        return _registered[name]
    eps = _entry_points()
    if name in eps:
        value, dist = eps[name]
        return _load(name, value, dist)
    raise ValueError(f"unknown derivative method {name!r}; available methods: {sorted(available_methods())}")


def get_method(method: str | type[DerivativeMethod] | DerivativeMethod = "fd") -> DerivativeMethod:
    """The method object for a registry name, a DerivativeMethod subclass, or an instance.

    Looking up a built-in never scans installed packages; a plugin is imported the first time
    it is requested.

    Examples
    --------
    >>> get_method("fd")
    <FiniteDifference method 'fd': finite differences: any order, accuracy 2-8, uniform and non-uniform coordinates>
    >>> get_method("nope")
    Traceback (most recent call last):
    ...
    ValueError: unknown derivative method 'nope'; available methods: [...]
    """
    if isinstance(method, DerivativeMethod):
        validate_method_class(type(method))
        return method
    if inspect.isclass(method):
        return validate_method_class(method)()
    if not isinstance(method, str):
        raise TypeError(f"method must be a name, a DerivativeMethod subclass or instance, got {method!r}")
    return _resolve_class(method)()


def available_methods() -> dict[str, str]:
    """``{name: description}`` of every usable method, without importing any plugin.

    A plugin not imported yet is described by its distribution's summary. A plugin whose
    module cannot be found, or that already failed to load, is left out with a warning.

    Examples
    --------
    >>> "fd" in available_methods()
    True
    """
    out: dict[str, str] = {}
    with _lock:
        for name in BUILTIN:
            cls = _load(name, BUILTIN[name], "fieldgrad")
            out[name] = cls.description
        for name, (value, dist) in _entry_points().items():
            if name in _registered:
                continue
            if name in _failed:
                _warn_once(name, _failed[name].message())
                continue
            if name in _loaded:
                out[name] = _loaded[name].description
                continue
            module = value.split(":")[0]
            try:
                spec = importlib.util.find_spec(module)
            except (ImportError, ValueError) as exc:
                spec, why = None, f"{type(exc).__name__}: {exc}"
            else:
                why = f"module {module!r} not found"
            if spec is None:
                failure = PluginFailure(name, value, dist, why)
                _failed[name] = failure
                _warn_once(name, failure.message())
                continue
            out[name] = _summary(dist)
        for name, cls in _registered.items():
            out[name] = cls.description
    return dict(sorted(out.items()))


def _summary(dist: str) -> str:
    try:
        from importlib.metadata import metadata

        return metadata(dist).get("Summary") or f"plugin from {dist}"
    except Exception:
        return f"plugin from {dist}"


def method_failures() -> dict[str, PluginFailure]:
    """The plugins that failed to load so far, by name."""
    return dict(_failed)
