"""What is derived from inputs that recur from call to call, and when it may be reused.

Several inputs of a call are immutable and recur from call to call: the pandas index of a
dimension coordinate, the read-only positions fieldgrad derives from it, the stencils built on
them. What is computed from them (validated positions, stencil weights, the kernel's tables) is
kept in an :class:`IdentityCache`. Such objects are often unhashable (arrays, pandas indexes),
so entries are keyed by identity, with a weak reference that tells a live object from a new one
that was given the id of a dead one.

A user's own array (the positions given to :func:`fieldgrad.gradient`) may change in place
between calls, so its identity says nothing about its values. What is derived from such an array
is kept in a :class:`ValueCache`, keyed by the array's values themselves: every lookup compares
all of them, bit for bit, with those the entry was computed from.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

import numpy as np

__all__ = ["IdentityCache", "ValueCache"]

#: a :class:`ValueCache` entry's key: the array's dtype, shape and bytes, and the caller's key
ValueKey = tuple[str, tuple[int, ...], bytes, Hashable]


class IdentityCache:
    """A bounded map from (objects, key) to a value, valid while the same objects live.

    An entry goes when one of its objects dies (a weak reference's callback), so what is kept never
    outlives what it was derived from; and when ``size`` newer entries came after it.

    Parameters
    ----------
    size : int
        Most entries kept; the oldest goes first.

    Examples
    --------
    >>> import numpy as np
    >>> cache = IdentityCache(size=8)
    >>> positions = np.arange(3.0)
    >>> cache.get((positions,), "sum") is None
    True
    >>> cache.put((positions,), "sum", float(positions.sum()))
    3.0
    >>> cache.get((positions,), "sum"), cache.get((positions.copy(),), "sum")
    (3.0, None)
    >>> del positions  # the entry goes with its array
    >>> len(cache)
    0
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: dict[tuple[tuple[int, ...], Hashable], tuple[tuple[weakref.ref, ...], Any]] = {}
        self._lock = threading.Lock()

    def get(self, objects: tuple[Any, ...], key: Hashable = ()) -> Any:
        """The value kept for these very objects and ``key``, else None."""
        entry = self._entries.get((tuple([id(obj) for obj in objects]), key))
        if entry is None:
            return None
        refs, value = entry
        # an index, not zip(strict=True) or all(<generator>): each costs more than the lookup
        for i, ref in enumerate(refs):
            if ref() is not objects[i]:
                return None  # an id reused by a new object: the entry is replaced by the next put
        return value

    def put(self, objects: tuple[Any, ...], key: Hashable, value: Any) -> Any:
        """Keep ``value`` for ``objects`` (each must accept weak references) and ``key``; return it."""
        entry_key = (tuple([id(obj) for obj in objects]), key)
        forget = _forgetter(weakref.ref(self), entry_key)
        refs = tuple(weakref.ref(obj, forget) for obj in objects)
        with self._lock:
            if len(self._entries) >= self._size:
                self._entries.pop(next(iter(self._entries)), None)  # dicts keep insertion order
            self._entries[entry_key] = (refs, value)
        return value

    def __len__(self) -> int:
        return len(self._entries)


def _forgetter(cache_ref: weakref.ref, entry_key: Hashable) -> Any:
    """The weak-reference callback that drops an :class:`IdentityCache` entry when one of its objects dies.

    It takes no lock (it may run in a garbage collection inside :meth:`IdentityCache.put`, which holds
    it): single dict operations are atomic. It drops the entry only if it still holds the dead
    reference, not a newer entry under the same ids (a new object may get a dead one's id); a race with
    such a put can at worst drop the newer entry, a miss at the next lookup.
    """

    def forget(dead: weakref.ref) -> None:
        cache = cache_ref()
        if cache is None:
            return
        entry = cache._entries.get(entry_key)
        if entry is not None and any(ref is dead for ref in entry[0]):
            cache._entries.pop(entry_key, None)

    return forget


class ValueCache:
    """A bounded map from (the values of an array, key) to a value: for what is derived from arrays
    that may change between calls.

    An entry is found by the array's dtype, shape and bytes (a copy of them is the entry's key), so a
    lookup is a hash of the bytes and, on a matching hash, a comparison of every byte: an array whose
    values changed in any bit, in place or not, never finds the entry of its old values. Both are
    O(n) at memory speed (about 0.3 µs for 100 float64 values, 2 µs for 1000 on the project's
    machine). Least recently used entries go first, once there are more than ``size`` or their bytes
    (the keys' and the sizes given to :meth:`put`) exceed ``max_bytes``.

    Parameters
    ----------
    size : int
        Most entries kept.
    max_bytes : int
        Most bytes kept, keys included; an entry larger than this is not kept at all.

    Examples
    --------
    >>> cache = ValueCache(size=8, max_bytes=1 << 20)
    >>> positions = np.arange(3.0)
    >>> entry, value = cache.get(positions, "sum")
    >>> value is None
    True
    >>> cache.put(entry, float(positions.sum()), nbytes=8)
    3.0
    >>> cache.get(positions.copy(), "sum")[1]  # the same values: found
    3.0
    >>> positions[0] = 1.0  # changed in place: not found
    >>> cache.get(positions, "sum")[1] is None
    True
    """

    def __init__(self, size: int, max_bytes: int) -> None:
        self.size = size
        self.max_bytes = max_bytes
        self._entries: OrderedDict[ValueKey, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, values: np.ndarray, key: Hashable = ()) -> tuple[ValueKey, Any]:
        """The entry key of these values and ``key`` (for :meth:`put`), and the value kept for them, else None."""
        entry: ValueKey = (values.dtype.str, values.shape, values.tobytes(), key)
        with self._lock:
            found = self._entries.get(entry)
            if found is None:
                return entry, None
            self._entries.move_to_end(entry)
        return entry, found[0]

    def put(self, entry: ValueKey, value: Any, nbytes: int) -> Any:
        """Keep ``value`` under ``entry`` (from :meth:`get`), counting ``nbytes`` for it; return ``value``."""
        total = nbytes + len(entry[2])
        if total > self.max_bytes:
            return value
        with self._lock:
            old = self._entries.pop(entry, None)
            if old is not None:
                self._bytes -= old[1]
            self._entries[entry] = (value, total)
            self._bytes += total
            while len(self._entries) > self.size or self._bytes > self.max_bytes:
                self._bytes -= self._entries.popitem(last=False)[1][1]
        return value

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def nbytes(self) -> int:
        """Bytes kept: the entries' keys and the sizes given to :meth:`put`."""
        return self._bytes

    def clear(self) -> None:
        """Drop every entry."""
        with self._lock:
            self._entries.clear()
            self._bytes = 0
