"""What is derived from objects that cannot change, kept while those objects live.

Several inputs of a call are immutable and recur from call to call: the pandas index of a
dimension coordinate, the read-only positions fieldgrad derives from it, the stencils built on
them. What is computed from them (validated positions, stencil weights, the kernel's tables) is
kept in an :class:`IdentityCache`. Such objects are often unhashable (arrays, pandas indexes),
so entries are keyed by identity, with a weak reference that tells a live object from a new one
that was given the id of a dead one.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Hashable
from typing import Any

__all__ = ["IdentityCache"]


class IdentityCache:
    """A bounded map from (objects, key) to a value, valid while the same objects live.

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
        refs = tuple(weakref.ref(obj) for obj in objects)
        with self._lock:
            if len(self._entries) >= self._size:
                self._entries.pop(next(iter(self._entries)))  # dicts keep insertion order
            self._entries[(tuple([id(obj) for obj in objects]), key)] = (refs, value)
        return value
