"""The output buffer pool: large outputs reuse the memory of outputs freed moments ago.

Fresh memory costs a page fault and a kernel-side zeroing per page, which on virtual machines
takes as long as the whole computation, and a gradient in a loop allocates the same outputs over
and over. Outputs of at least ``REUSE_MIN_BYTES`` are allocated in buffers that outputs freed
during the last ``REUSE_IDLE_SECONDS`` (5 s) gave back; at most ``REUSE_MAX_IDLE_BYTES`` (1 GiB,
or 1/8 of the RAM) is kept idle.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import numpy as np

__all__ = ["release_buffers", "empty"]

# Reuse the memory of large outputs once every view of them is gone, for this long: on virtual
# machines fresh memory is expensive (every page is zeroed by the kernel, and pages handed back
# to the host are faulted in again through the hypervisor), and a gradient in a loop allocates
# the same outputs over and over. fieldgrad.set_options(reuse_buffers=False) allocates every
# output afresh.
REUSE_MIN_BYTES = 32 << 20  # smaller blocks are recycled by malloc itself
REUSE_IDLE_SECONDS = 5.0  # idle buffers are released after this long
REUSE_MAX_IDLE_BYTES = 1 << 30  # and never more than this (or 1/8 of the RAM) is kept idle


class _Holder:
    """The base of an output array in a reused buffer: when it dies (every view of the output is
    gone), its finalizer hands the buffer back."""

    __slots__ = ("__array_interface__", "__weakref__")
    __array_interface__: dict[str, Any]


class _BufferCache:
    def __init__(self) -> None:
        self._reset()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        import collections

        self._lock = threading.Lock()
        self._idle: list[tuple[float, np.ndarray]] = []  # (when it came back, raw bytes)
        self._returned: Any = collections.deque()  # appended by finalizers, without the lock
        self._janitor_pid = -1

    def _give(self, raw: np.ndarray) -> None:  # a finalizer: may run in any thread, inside gc
        import time

        self._returned.append((time.monotonic(), raw))

    def _collect(self, now: float, older_than: float) -> None:
        """Under the lock: take in returned buffers, release those idle too long or beyond the cap."""
        while self._returned:
            self._idle.append(self._returned.popleft())
        self._idle = [(t, raw) for t, raw in self._idle if now - t < older_than]
        cap = REUSE_MAX_IDLE_BYTES
        try:
            cap = min(cap, os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 8)
        except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
            pass
        total = sum(raw.nbytes for _, raw in self._idle)
        while self._idle and total > cap:
            total -= self._idle.pop(0)[1].nbytes  # the oldest first

    def release(self) -> None:
        """Release every idle buffer now."""
        with self._lock:
            self._collect(0.0, -1.0)

    def idle_bytes(self) -> int:
        import time

        with self._lock:
            self._collect(time.monotonic(), REUSE_IDLE_SECONDS)
            return sum(raw.nbytes for _, raw in self._idle)

    def _janitor(self) -> None:  # pragma: no cover - timing
        import time

        while True:
            time.sleep(max(REUSE_IDLE_SECONDS / 2, 0.05))
            if self._returned or self._idle:
                with self._lock:
                    self._collect(time.monotonic(), REUSE_IDLE_SECONDS)

    def empty(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """An uninitialised C-contiguous array, in a buffer that an earlier output gave back if
        one fits (at most 25 % larger)."""
        import time
        import weakref

        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        with self._lock:
            self._collect(time.monotonic(), REUSE_IDLE_SECONDS)
            fits = [k for k, (_, raw) in enumerate(self._idle) if nbytes <= raw.nbytes <= nbytes + nbytes // 4]
            raw = self._idle.pop(min(fits, key=lambda k: self._idle[k][1].nbytes))[1] if fits else None
            if self._janitor_pid != os.getpid():
                self._janitor_pid = os.getpid()
                threading.Thread(target=self._janitor, name="fieldgrad-buffers", daemon=True).start()
        if raw is None:
            raw = np.empty(nbytes, dtype=np.uint8)
        holder = _Holder()
        holder.__array_interface__ = {
            "shape": tuple(shape),
            "typestr": dtype.str,
            "version": 3,
            "data": (raw.ctypes.data, False),
        }
        arr = np.asarray(holder)
        weakref.finalize(holder, self._give, raw).atexit = False
        return arr


_buffers = _BufferCache()


def empty(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An uninitialised C-contiguous array, in a reused buffer when one fits."""
    return _buffers.empty(shape, dtype)


def release_buffers() -> None:
    """Release the memory of outputs kept for reuse now (see the option ``reuse_buffers``).

    Examples
    --------
    >>> release_buffers()
    """
    _buffers.release()
