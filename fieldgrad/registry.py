"""Method registry: built-ins, in-process registrations and lazily loaded entry points.

Resolution of a name is the same on every path (:func:`get_method`, :func:`available_methods`,
the ``method=`` keyword):

1. built-in methods (``fd``): loaded through the same loader and validator as plugins, but
   without scanning the installed distributions;
2. methods registered in this process with :func:`register_method`;
3. entry points of the group ``fieldgrad.methods``, scanned once (cached until
   :func:`refresh_methods`) and imported only when their name is requested.

An entry point that shadows a built-in or a registered name is ignored with a
:class:`FieldgradPluginWarning`; between two distributions offering one name, the first
distribution by name wins, with a warning.

A plugin that fails to import or validate never breaks ``import fieldgrad`` or listing: it is
reported once as a :class:`FieldgradPluginWarning` naming its distribution, and requesting it
raises a ValueError that names the plugin, its distribution and the reason.
"""

from __future__ import annotations

import importlib.util
import inspect
import threading
import warnings
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from .method import DerivativeMethod, check_boundaries

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
_failed: dict[str, PluginFailure] = {}
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
        return (
            f"derivative method {self.name!r} ({self.value}) from distribution "
            f"{self.distribution!r} could not be loaded: {self.error}"
        )


@dataclass(frozen=True)
class _Offer:
    """One entry point of the group: the method name, its target and its distribution."""

    name: str
    value: str
    distribution: str
    entry_point: Any  # importlib.metadata.EntryPoint (or an object with .load())


def validate_method_class(cls: Any, name: str | None = None) -> type[DerivativeMethod]:
    """Check that ``cls`` is a usable DerivativeMethod subclass (and is called ``name``).

    Checks the capabilities declared as class attributes, that ``derivative`` and ``halo`` are
    implemented, and that the class can be instantiated without arguments.

    Examples
    --------
    >>> from fieldgrad.fd import FiniteDifference
    >>> validate_method_class(FiniteDifference, "fd").name
    'fd'
    >>> validate_method_class(int)
    Traceback (most recent call last):
    ...
    TypeError: a derivative method must be a subclass of fieldgrad.DerivativeMethod, got <class 'int'>
    """
    if not (inspect.isclass(cls) and issubclass(cls, DerivativeMethod)):
        raise TypeError(f"a derivative method must be a subclass of fieldgrad.DerivativeMethod, got {cls!r}")
    label = cls.__name__
    if not isinstance(cls.name, str) or not cls.name:
        raise TypeError(f"{label} must set a non-empty class attribute `name`")
    if name is not None and cls.name != name:
        raise TypeError(f"entry point {name!r} loads a method named {cls.name!r}; the names must match")
    for attr in (cls._declares_options, "halo"):
        if getattr(getattr(cls, attr), "protocol_stub", False):
            raise TypeError(f"{label} must implement {attr}()")
    if not isinstance(cls.description, str):
        raise TypeError(f"{label}.description must be a str, got {cls.description!r}")
    max_order = cls.max_order
    if max_order is not None and (isinstance(max_order, bool) or not isinstance(max_order, int) or max_order < 0):
        raise TypeError(f"{label}.max_order must be None or a non-negative int, got {max_order!r}")
    if not isinstance(cls.supports_nonuniform, bool):
        raise TypeError(f"{label}.supports_nonuniform must be a bool, got {cls.supports_nonuniform!r}")
    check_boundaries(cls.boundaries, label)
    if not isinstance(cls.options, dict):
        raise TypeError(f"{label}.options must be a dict of option defaults, got {cls.options!r}")
    try:
        cls()
    except Exception as exc:
        raise TypeError(f"{label}() cannot be instantiated without arguments: {type(exc).__name__}: {exc}") from exc
    return cls


def _warn_once(key: str, message: str) -> None:
    with _lock:
        if key in _warned:
            return
        _warned.add(key)
    warnings.warn(message, FieldgradPluginWarning, stacklevel=4)


def _load(offer: _Offer) -> type[DerivativeMethod]:
    """Import an offer's class and validate it; failures are recorded, warned once, and raised."""
    name = offer.name
    with _lock:
        if name in _loaded:
            return _loaded[name]
        if name in _failed:
            raise ValueError(_failed[name].message())
        try:
            cls = offer.entry_point.load()
            validate_method_class(cls, name)
        except Exception as exc:  # a broken plugin must not break fieldgrad
            failure = PluginFailure(name, offer.value, offer.distribution, f"{type(exc).__name__}: {exc}")
            _failed[name] = failure
            _warn_once(f"failed:{name}", failure.message())
            raise ValueError(failure.message()) from exc
        _loaded[name] = cls
        return cls


def _builtin(name: str) -> _Offer:
    value = BUILTIN[name]
    return _Offer(name, value, "fieldgrad", EntryPoint(name=name, value=value, group=GROUP))


def _distribution_name(ep: Any) -> str:
    try:
        dist = getattr(ep, "dist", None)
        return str(dist.name) if dist is not None else "<unknown distribution>"
    except Exception:  # noqa: BLE001 - broken metadata of a third-party distribution
        return "<unknown distribution>"


@lru_cache(maxsize=1)
def _entry_points() -> dict[str, _Offer]:
    """The chosen offer for every entry-point name (scanned once; see :func:`refresh_methods`).

    Built-in names are dropped here (with a warning if a distribution tries to replace one);
    registered names are dropped later, by :func:`_plugin_offers`, because a registration may
    come after the scan.
    """
    try:
        eps = list(entry_points(group=GROUP))
    except Exception as exc:  # noqa: BLE001 - unreadable metadata must not break fieldgrad
        _warn_once("scan", f"could not scan the entry points {GROUP!r}: {type(exc).__name__}: {exc}")
        return {}
    found: dict[str, dict[tuple[str, str], Any]] = {}
    for ep in eps:
        found.setdefault(ep.name, {}).setdefault((_distribution_name(ep), ep.value), ep)
    chosen: dict[str, _Offer] = {}
    for name, offers in sorted(found.items()):
        keys = sorted(offers)
        if name in BUILTIN:
            others = [d for d, v in keys if v != BUILTIN[name]]
            if others:
                _warn_once(
                    f"shadow:{name}", f"entry point {name!r} from {others} is ignored: {name!r} is a built-in method"
                )
            continue
        if len(keys) > 1:
            _warn_once(
                f"dup:{name}",
                f"derivative method {name!r} is offered by several distributions "
                f"{[d for d, _ in keys]}; using the one from {keys[0][0]!r}",
            )
        dist, value = keys[0]
        chosen[name] = _Offer(name, value, dist, offers[keys[0]])
    return chosen


def _plugin_offers() -> dict[str, _Offer]:
    """Entry points not shadowed by a registration (warning once for each shadowed one)."""
    offers = _entry_points()
    with _lock:
        registered = dict(_registered)
    for name in offers.keys() & registered.keys():
        _warn_shadowed_by_registration(name, registered[name], offers[name])
    return {k: v for k, v in offers.items() if k not in registered}


def _warn_shadowed_by_registration(name: str, cls: type, offer: _Offer) -> None:
    _warn_once(
        f"registered:{name}",
        f"entry point {name!r} ({offer.value}) from distribution "
        f"{offer.distribution!r} is ignored: {name!r} is registered in this process "
        f"({cls.__module__}.{cls.__qualname__})",
    )


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

    A registered name takes precedence over an installed plugin of the same name (with a
    :class:`FieldgradPluginWarning` once the plugins have been scanned). Registering a built-in
    name is refused; registering a name again replaces the earlier class, with a warning.

    Examples
    --------
    >>> import fieldgrad
    >>> @fieldgrad.register_method
    ... class Forward(fieldgrad.DerivativeMethod):
    ...     name = "forward-example"
    ...     description = "first-order forward differences"
    ...     max_order = 1
    ...     supports_nonuniform = True
    ...     def halo(self, coord, order):
    ...         return 1
    ...     def derivative(self, values, coord, *, axis, order):
    ...         return np.gradient(values, coord.values, axis=axis, edge_order=1)
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
            warnings.warn(
                f"derivative method {name!r} was registered before ({previous.__qualname__}); "
                f"replacing it with {cls.__qualname__}",
                FieldgradPluginWarning,
                stacklevel=2,
            )
        _registered[name] = cls
        scanned = _entry_points.cache_info().currsize > 0
    if scanned and name in _entry_points():  # otherwise warned when the plugins are scanned
        _warn_shadowed_by_registration(name, cls, _entry_points()[name])
    return cls


def _unregister(name: str) -> None:
    """Remove an in-process registration (for tests)."""
    with _lock:
        _registered.pop(name, None)


def _resolve_class(name: str) -> type[DerivativeMethod]:
    if name in BUILTIN:
        return _load(_builtin(name))
    with _lock:
        registered = _registered.get(name)
    if registered is not None:
        return registered
    offers = _plugin_offers()
    if name in offers:
        return _load(offers[name])
    raise ValueError(f"unknown derivative method {name!r}; available methods: {sorted(available_methods())}")


def method_options(method: str | type[DerivativeMethod] | DerivativeMethod = "fd") -> dict[str, Any]:
    """The options (and their defaults) a method declares, without making the method object.

    Examples
    --------
    >>> method_options("fd")
    {'accuracy': 2, 'edge_order': None}
    """
    if isinstance(method, str):
        return _resolve_class(method).options
    return get_method(method).options


def get_method(method: str | type[DerivativeMethod] | DerivativeMethod = "fd") -> DerivativeMethod:
    """The method object for a registry name, a DerivativeMethod subclass, or an instance.

    Looking up a built-in never scans installed packages; a plugin is imported the first time
    it is requested. A class or an instance is used as given (validated, not registered).

    Parameters
    ----------
    method : str, DerivativeMethod subclass or instance, default "fd"
        What ``method=`` was given.

    Returns
    -------
    DerivativeMethod

    Raises
    ------
    ValueError
        For an unknown name (listing the available methods) or a plugin that could not be
        loaded (naming it, its distribution and why).
    TypeError
        For anything that is not a name, a DerivativeMethod subclass or instance.

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
    top-level module cannot be found, or that already failed to load, is left out with a
    warning (once).

    Examples
    --------
    >>> "fd" in available_methods()
    True
    """
    out: dict[str, str] = {}
    for name in BUILTIN:
        out[name] = _load(_builtin(name)).description
    for name, offer in _plugin_offers().items():
        with _lock:
            failed, loaded = _failed.get(name), _loaded.get(name)
        if failed is not None:
            _warn_once(f"failed:{name}", failed.message())
            continue
        if loaded is not None:
            out[name] = loaded.description
            continue
        why = _missing_module(offer.value)
        if why is not None:
            failure = PluginFailure(name, offer.value, offer.distribution, why)
            with _lock:
                _failed[name] = failure
            _warn_once(f"failed:{name}", failure.message())
            continue
        out[name] = _summary(offer.distribution)
    with _lock:
        out.update((name, cls.description) for name, cls in _registered.items())
    return dict(sorted(out.items()))


def _missing_module(value: str) -> str | None:
    """Why the top-level module of ``module:attr`` cannot be found, or None (imports nothing)."""
    top = value.split(":")[0].strip().split(".")[0]
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None if spec is not None else f"ModuleNotFoundError: no module named {top!r}"


def _summary(dist: str) -> str:
    try:
        from importlib.metadata import metadata

        return metadata(dist).get("Summary") or f"plugin from {dist}"  # type: ignore[attr-defined]  # an email Message
    except Exception:  # noqa: BLE001 - broken metadata: a generic summary
        return f"plugin from {dist}"


def method_failures() -> dict[str, PluginFailure]:
    """The plugins that failed to load so far, by name.

    Examples
    --------
    >>> isinstance(method_failures(), dict)
    True
    """
    with _lock:
        return dict(_failed)
