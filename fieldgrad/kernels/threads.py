"""Threads for large kernel calls: the worker pool, the per-thread serial context, the thread count.

Large arrays are shared between threads by Python threads pulling chunks of tasks (dynamic
scheduling: a core that another process occupies does less of the work, instead of holding up
the call). Code inside dask tasks runs in the calling thread alone (:func:`serial_kernels`).
"""

from __future__ import annotations

import itertools
import os
import threading
from typing import Any

from ..options import OPTIONS

__all__ = ["serial_requested", "serial_kernels", "num_threads", "run_threads"]

_local = threading.local()


def serial_requested() -> bool:
    """Whether code in this thread should stay single-threaded (inside dask tasks, or the option ``serial``).

    Methods with compiled kernels of their own call this before starting threads.

    Examples
    --------
    >>> with serial_kernels():
    ...     serial_requested()
    True
    """
    return bool(getattr(_local, "serial", False) or OPTIONS["serial"])


def serial_kernels() -> _SerialContext:
    """Context manager: kernels called in this thread run in it alone (used inside dask tasks).

    Per thread, unlike the process-global option ``serial`` (:func:`fieldgrad.set_options`).

    Examples
    --------
    >>> with serial_kernels():
    ...     serial_requested()
    True
    """
    return _SerialContext()


class _SerialContext:
    def __enter__(self) -> None:
        self._prev = getattr(_local, "serial", False)
        _local.serial = True

    def __exit__(self, *exc: object) -> None:
        _local.serial = self._prev


def num_threads() -> int:
    """Threads for one large call: the option ``num_threads`` (None: the CPUs), at most the CPUs
    this process may run on.

    Examples
    --------
    >>> from fieldgrad import set_options
    >>> with set_options(num_threads=1):
    ...     num_threads()
    1
    """
    cpus = len(_usable_cpus())
    wanted = OPTIONS["num_threads"] or cpus
    return max(1, min(wanted, cpus))


def _usable_cpus() -> set[int]:
    """The CPUs this process may run on."""
    try:
        return os.sched_getaffinity(0)
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return set(range(os.cpu_count() or 1))


class _Pool:
    """Worker threads that run kernel chunks (created on first use, again after a fork)."""

    def __init__(self) -> None:
        self._reset()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:  # the threads do not survive a fork; the lock may have been held
        self._lock = threading.Lock()
        self._pid = -1
        self._executor: Any = None

    def executor(self, workers: int) -> Any:
        from concurrent.futures import ThreadPoolExecutor

        with self._lock:
            if self._executor is None or self._pid != os.getpid() or self._executor._max_workers < workers:
                if self._executor is not None and self._pid == os.getpid():
                    self._executor.shutdown(wait=False)
                self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fieldgrad")
                self._pid = os.getpid()
            return self._executor


_pool = _Pool()


def run_threads(kernel: Any, args: tuple, ntasks: int, chunk: int, nthreads: int) -> None:
    """Run tasks ``[0, ntasks)`` in chunks, pulled by ``nthreads`` threads (the caller is one)."""
    nchunks = -(-ntasks // chunk)
    counter = itertools.count()  # next() is atomic under the GIL
    failed: list[BaseException] = []

    def work() -> None:
        while not failed:
            c = next(counter)
            if c >= nchunks:
                return
            try:
                kernel(*args, c * chunk, min(c * chunk + chunk, ntasks))
            except BaseException as exc:  # pragma: no cover - the kernel does not raise
                failed.append(exc)
                raise

    helpers = min(nthreads, nchunks) - 1
    futures = [_pool.executor(helpers).submit(work) for _ in range(helpers)] if helpers > 0 else []
    try:
        work()
    finally:
        for fu in futures:
            if not fu.cancel():  # a helper still queued (busy with another call) is not waited for
                fu.result()
