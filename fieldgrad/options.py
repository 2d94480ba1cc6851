"""fieldgrad's run-time options: one channel, :func:`set_options` (as :func:`xarray.set_options`).

Options are process-global. Environment variables give their defaults, read once when fieldgrad
is imported (never per call): ``FIELDGRAD_SERIAL``, ``FIELDGRAD_NUM_THREADS`` (else
``NUMBA_NUM_THREADS``), ``FIELDGRAD_REUSE_BUFFERS``, ``FIELDGRAD_JIT``, ``FIELDGRAD_HALO_SOURCE``.
Inside dask tasks fieldgrad's own kernels run in the calling thread whatever the options
(:func:`fieldgrad.kernels.serial_kernels`, per thread).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["set_options", "get_options"]

JIT_MODES = ("auto", "always", "never")
HALO_SOURCES = ("auto", "neighbours", "reread")


def _is_bool(v: Any) -> bool:
    return isinstance(v, bool)


def _is_threads(v: Any) -> bool:
    return v is None or (isinstance(v, int) and not isinstance(v, bool) and v >= 1)


# name -> (check, the valid values as an error message says them)
_VALID: dict[str, tuple[Callable[[Any], bool], str]] = {
    "serial": (_is_bool, "True or False"),
    "num_threads": (_is_threads, "an integer >= 1, or None (the CPUs this process may use)"),
    "reuse_buffers": (_is_bool, "True or False"),
    "jit": (lambda v: v in JIT_MODES, " | ".join(map(repr, JIT_MODES))),
    "halo_source": (lambda v: v in HALO_SOURCES, " | ".join(map(repr, HALO_SOURCES))),
}


def _from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """The defaults: built-in values, overridden by valid environment variables (invalid ones warn)."""
    opts: dict[str, Any] = {
        "serial": False,
        "num_threads": None,
        "reuse_buffers": True,
        "jit": "auto",
        "halo_source": "auto",
    }

    def flag(value: str) -> bool:
        return value.strip().lower() not in ("", "0", "false", "no", "off")

    env: dict[str, Any] = {}
    if environ.get("FIELDGRAD_SERIAL") is not None:
        env["serial"] = flag(environ["FIELDGRAD_SERIAL"])
    if environ.get("FIELDGRAD_REUSE_BUFFERS") is not None:
        env["reuse_buffers"] = flag(environ["FIELDGRAD_REUSE_BUFFERS"])
    threads = environ.get("FIELDGRAD_NUM_THREADS") or environ.get("NUMBA_NUM_THREADS")
    if threads:
        try:
            env["num_threads"] = int(threads)
        except ValueError:
            env["num_threads"] = threads
    for key, var in (("jit", "FIELDGRAD_JIT"), ("halo_source", "FIELDGRAD_HALO_SOURCE")):
        if environ.get(var):
            env[key] = environ[var].strip()
    for key, value in env.items():
        check, valid = _VALID[key]
        if check(value):
            opts[key] = value
        else:
            warnings.warn(
                f"ignoring the environment's {key}={value!r}: it must be {valid}", RuntimeWarning, stacklevel=2
            )
    return opts


#: The current options (read them through :func:`get_options`; fieldgrad's own code reads this dict).
OPTIONS: dict[str, Any] = _from_environment(os.environ)


class set_options:
    """Set fieldgrad's options, for the rest of the process or, as a context manager, for a block.

    Parameters
    ----------
    serial : bool, default False (``FIELDGRAD_SERIAL``)
        Run every kernel in the calling thread (no worker threads).
    num_threads : int >= 1 or None, default None (``FIELDGRAD_NUM_THREADS``, else ``NUMBA_NUM_THREADS``)
        Most threads one large call uses (the caller included). None: the CPUs this process may
        run on; a larger number is capped at them.
    reuse_buffers : bool, default True (``FIELDGRAD_REUSE_BUFFERS``)
        Allocate large outputs in the memory of outputs freed during the last few seconds (a
        gradient in a loop then skips the page faults of fresh memory). False: every output is
        allocated afresh (see :func:`fieldgrad.kernels.release_buffers`).
    jit : {"auto", "always", "never"}, default "auto" (``FIELDGRAD_JIT``)
        The compiled (numba) kernel or the vectorised numpy one, which give bit-identical results.
        ``"auto"``: numpy for small arrays, and for large ones until the compiled kernel is ready
        (it is compiled, or loaded from numba's disk cache, in a background thread on the first
        large call: no call waits for it). ``"always"``: the compiled kernel for every call (the
        first one waits for it). ``"never"``: numpy only; numba is never imported.
        The spline plugin (fieldgrad-spline) follows it for its smoothing kernels; with ``"auto"``
        its first smoothing call of any size starts their compilation.
    halo_source : {"auto", "neighbours", "reread"}, default "auto" (``FIELDGRAD_HALO_SOURCE``)
        Where the halos of dask blocks are cut from (:func:`fieldgrad.halos.halo_source`):
        ``"auto"`` rereads inputs that read from storage and cuts in-memory ones from the
        neighbouring blocks; ``"neighbours"`` and ``"reread"`` force one or the other.

    Raises
    ------
    ValueError
        For an unknown option or an invalid value, naming it and the valid values; no option
        is changed then.

    Examples
    --------
    >>> import fieldgrad, numpy as np
    >>> with fieldgrad.set_options(num_threads=1, jit="never"):
    ...     fieldgrad.get_options()["num_threads"], fieldgrad.gradient(np.arange(4.0) ** 2)
    (1, array([1., 2., 4., 5.]))
    >>> _ = fieldgrad.set_options(serial=True)  # for the rest of the process
    >>> fieldgrad.get_options()["serial"]
    True
    >>> _ = fieldgrad.set_options(serial=False)
    >>> fieldgrad.set_options(threads=2)
    Traceback (most recent call last):
    ...
    ValueError: unknown option 'threads'; the options are 'serial', 'num_threads', 'reuse_buffers', 'jit', 'halo_source'
    """

    def __init__(self, **options: Any) -> None:
        for key, value in options.items():
            if key not in _VALID:
                names = ", ".join(map(repr, _VALID))
                raise ValueError(f"unknown option {key!r}; the options are {names}")
            check, valid = _VALID[key]
            if not check(value):
                raise ValueError(f"option {key} must be {valid}, got {value!r}")
        self._previous = {key: OPTIONS[key] for key in options}
        OPTIONS.update(options)

    def __enter__(self) -> set_options:
        return self

    def __exit__(self, *exc: object) -> None:
        OPTIONS.update(self._previous)


def get_options() -> dict[str, Any]:
    """A copy of the current options (see :func:`set_options`).

    Examples
    --------
    >>> import fieldgrad
    >>> sorted(fieldgrad.get_options())
    ['halo_source', 'jit', 'num_threads', 'reuse_buffers', 'serial']
    """
    return dict(OPTIONS)
