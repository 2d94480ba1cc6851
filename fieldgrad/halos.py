"""Halos of dask blocks: how many points each block borrows, where they are cut from, and the
thin slabs that carry them (the first three steps of :mod:`fieldgrad.chunked`, after
``dask/array/overlap.py``).

1. :func:`block_extents` -- for each block, how many points it borrows on each side.
2. :func:`halo_source` -- the input itself, or an independent second read of it when it reads
   from storage (memory then depends on the chunk size alone).
3. :func:`halo_slabs` -- the borrowed points as two thin dask arrays, one chunk per block.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from dask.typing import Key

__all__ = ["axis_slice", "block_extents", "halo_source", "halo_slabs"]


def block_extents(
    chunks: tuple[int, ...], halo: int, min_points: int, periodic: bool
) -> list[tuple[int, int, int, int]]:
    """``(start, stop, left, right)`` for every block: its span and the points it borrows.

    Examples
    --------
    >>> block_extents((1, 4, 1), halo=1, min_points=3, periodic=False)
    [(0, 1, 0, 2), (1, 5, 1, 1), (5, 6, 2, 0)]
    >>> block_extents((2, 1, 2), halo=1, min_points=4, periodic=False)
    [(0, 2, 0, 2), (2, 3, 2, 2), (3, 5, 2, 0)]
    >>> block_extents((3, 3), halo=2, min_points=5, periodic=True)
    [(0, 3, 2, 2), (3, 6, 2, 2)]

    A periodic window may be longer than the axis (the points wrap around more than once):

    >>> block_extents((1, 2), halo=1, min_points=4, periodic=True)
    [(0, 1, 2, 2), (1, 3, 1, 1)]
    """
    n = int(sum(chunks))
    bounds = np.concatenate([[0], np.cumsum(chunks)]).astype(int)
    out = []
    for s, e in itertools.pairwise(bounds):
        s, e = int(s), int(e)
        if periodic:
            left = right = halo
        else:
            left, right = min(s, halo), min(n - e, halo)
        # every block must be a valid domain: on an interval at most the whole axis, while a
        # periodic window may wrap past it (the method's own periodic stencils need fewer points
        # than the one-sided ends a block is differentiated with)
        while (e + right) - (s - left) < (min_points if periodic else min(min_points, n)):
            right = right + 1 if periodic else min(n - e, right + 1)
            left = left + 1 if periodic else min(s, left + 1)
        out.append((s, e, left, right))
    return out


def _reads_storage(x: Any) -> bool:
    """Whether every block of ``x`` is one read of a stored array.

    That is the graph ``da.from_array`` makes (``xr.open_zarr``, ``xr.open_dataset(chunks=...)``,
    ``da.from_zarr``): a layer of block reads over layers holding a single object each (the
    store, file or array wrapper), or several such reads joined by ``da.concatenate``
    (``xr.open_mfdataset``). Reading a block again costs one decode and no other work.
    """
    from dask._task_spec import Alias

    graph = x.__dask_graph__()
    layers, deps = getattr(graph, "layers", None), getattr(graph, "dependencies", {})
    if layers is None or x.name not in layers:
        return False

    def holder(name: str) -> bool:
        return not deps.get(name) and len(layers[name]) == 1

    def reads(name: str) -> bool:
        return bool(deps.get(name)) and all(holder(d) for d in deps[name])

    def joins_reads(name: str) -> bool:  # every block is another layer's block, unchanged
        return (
            bool(deps.get(name))
            and all(reads(d) for d in deps[name])
            and all(
                isinstance(task, Alias) or (isinstance(task, tuple) and task in graph) for task in layers[name].values()
            )
        )

    if not (reads(x.name) or joins_reads(x.name)):
        return False
    return all(name == x.name or holder(name) or reads(name) for name in layers)


def halo_source(x: Any) -> Any:
    """The dask array the halo slabs of ``x`` are cut from: ``x`` itself or a second read of it.

    A second, independent read (:func:`_second_read`: every task again, under deterministic new keys)
    is used when ``x`` reads from storage (see the module notes) or when the option
    ``halo_source`` (:func:`fieldgrad.set_options`) is ``"reread"``; ``"neighbours"`` always cuts
    from ``x``.

    Examples
    --------
    >>> import dask, dask.array as da, numpy as np, zarr
    >>> x = da.from_zarr(zarr.array(np.arange(12.0).reshape(3, 4), chunks=(2, 2)))
    >>> again = halo_source(x)  # a second read: new keys, the same values
    >>> again.name == x.name, bool((again == x).all())
    (False, True)
    >>> with fieldgrad.set_options(halo_source="neighbours"):
    ...     halo_source(x) is x
    True
    >>> y = da.from_array(np.arange(12.0).reshape(3, 4), chunks=2)  # in memory: cut from x
    >>> halo_source(y) is y
    True
    """
    from .options import OPTIONS

    mode = OPTIONS["halo_source"]  # validated by fieldgrad.set_options
    if mode == "reread" or (mode == "auto" and _reads_storage(x)):
        return _second_read(x, seed=("fieldgrad-halo-source", x.name))
    return x


def _second_read(x: Any, seed: Any) -> Any:
    """``x`` computed again under new keys (deterministic in ``seed``): every task of its graph is
    copied, each under the key :func:`dask.base.clone_key` gives it, and every reference to a key
    of the graph is renamed likewise, so the copy shares no task with ``x``.

    What :func:`dask.graph_manipulation.clone` means to do; but its generic layer clone renames only
    a layer's dictionary keys and legacy tuple tasks: a layer holding ``dask._task_spec`` nodes
    (xarray's and dask's indexing, ``da.concatenate`` of them) kept each node's own ``key`` and its
    references to the original keys. The copy then read the original blocks instead of its own,
    and dask's linear fusion, which goes by each node's ``key``, found two outputs in one chain
    ("Cannot fuse tasks with multiple outputs", in an order that depends on ``PYTHONHASHSEED``).
    Here every layer that is not a Blockwise (which renames itself without materialising) is
    copied node by node with :meth:`GraphNode.substitute`.
    """
    from dask._task_spec import Alias, DataNode, GraphNode, convert_legacy_task
    from dask.array import Array
    from dask.base import clone_key
    from dask.blockwise import Blockwise
    from dask.highlevelgraph import HighLevelGraph, MaterializedLayer

    graph = x.__dask_graph__()
    if not isinstance(graph, HighLevelGraph):
        graph = HighLevelGraph.from_collections(x.name, graph, dependencies=())
    keys = graph.get_all_external_keys()
    names, todo = set(), [x.name]
    while todo:  # the layers x depends on (a graph may hold others)
        name = todo.pop()
        if name not in names:
            names.add(name)
            todo.extend(graph.dependencies.get(name, ()))

    def copy_node(key: Key, value: Any) -> GraphNode:
        node = convert_legacy_task(key, value, keys)
        new_key = clone_key(key, seed)
        if not isinstance(node, GraphNode):
            return DataNode(new_key, node)
        if isinstance(node, Alias):  # (its substitute keeps the old key when the target stays)
            return Alias(new_key, clone_key(node.target, seed) if node.target in keys else node.target)
        return node.substitute({d: clone_key(d, seed) for d in node.dependencies if d in keys}, key=new_key)

    layers, deps = {}, {}
    for name in names:
        layer = graph.layers[name]
        new_name = clone_key(name, seed)
        if isinstance(layer, Blockwise):
            layers[new_name] = layer.clone(keys, seed)[0]
        else:
            layers[new_name] = MaterializedLayer({clone_key(k, seed): copy_node(k, v) for k, v in layer.items()})
        deps[new_name] = {clone_key(d, seed) for d in graph.dependencies.get(name, ())}
    return Array(HighLevelGraph(layers, deps), clone_key(x.name, seed), x.chunks, meta=x._meta)


def _pieces(bounds: np.ndarray, start: int, stop: int) -> list[tuple[int, int, int]]:
    """``(chunk, a, b)``: the chunks and local ranges covering ``[start, stop)`` along an axis whose
    chunk boundaries are ``bounds``; the range may leave ``[0, n)`` (periodic wrap)."""
    n = int(bounds[-1])
    out = []
    for lo in range(start - start % n, stop, n):  # whole periods touched by [start, stop)
        a, b = max(start, lo) - lo, min(stop, lo + n) - lo
        first, last = np.searchsorted(bounds, a, "right") - 1, np.searchsorted(bounds, b, "left")
        for c in range(int(first), int(last)):
            ca, cb = max(a, int(bounds[c])), min(b, int(bounds[c + 1]))
            if cb > ca:
                out.append((c, ca - int(bounds[c]), cb - int(bounds[c])))
    return out


def _cut(axis: int, blocks: list[np.ndarray], ranges: list[tuple[int, int]]) -> np.ndarray:
    """The points ``ranges[i]`` of ``blocks[i]`` along ``axis``, joined: a copy, never a view (a view
    would keep a whole neighbouring block in memory)."""
    parts = [axis_slice(block, axis, a, b) for block, (a, b) in zip(blocks, ranges, strict=True)]
    return np.concatenate(parts, axis=axis) if len(parts) > 1 else parts[0].copy()


def halo_slabs(x: Any, axis: int, extents: list[tuple[int, int, int, int]]) -> tuple[Any, Any]:
    """Left and right slabs of borrowed points: dask arrays with one chunk per block along ``axis``.

    Each slab chunk is one task that cuts the points it needs out of the neighbouring chunk(s)
    of ``x`` (several when chunks are thinner than the halo, across the domain edge when periodic).

    Examples
    --------
    >>> import dask.array as da
    >>> x = da.arange(6, chunks=2)
    >>> left, right = halo_slabs(x, 0, block_extents(x.chunks[0], 1, 2, periodic=True))
    >>> left.compute(), right.compute(), left.chunks
    (array([5, 1, 3]), array([2, 4, 0]), ((1, 1, 1),))

    A side that borrows nothing (a domain edge) holds one placeholder point, which the block
    function drops (:func:`_trim_slabs`).

    """
    import dask.array as da
    from dask.array.utils import meta_from_array
    from dask.base import tokenize
    from dask.highlevelgraph import HighLevelGraph

    bounds = np.concatenate([[0], np.cumsum(x.chunks[axis])]).astype(np.int64)
    # an empty side still gets one (ignored) point: dask drops empty chunks, and the slabs must
    # keep one chunk per block
    sides = {
        "left": [(s - left, s) if left else (s, s + 1) for s, _, left, _ in extents],
        "right": [(e, e + right) if right else (e - 1, e) for _, e, _, right in extents],
    }
    out = []
    for side, spans in sides.items():
        name = f"halo-{side}-{tokenize(x.name, axis, spans)}"
        pieces = [_pieces(bounds, start, stop) for start, stop in spans]
        graph: dict[Key, Any] = {}
        for index in np.ndindex(*x.numblocks):
            cut = pieces[index[axis]]
            keys = [(x.name, *index[:axis], c, *index[axis + 1 :]) for c, _, _ in cut]
            key = (name, *index)
            graph[key] = (_cut, axis, keys, [(a, b) for _, a, b in cut])
        chunks = x.chunks[:axis] + (tuple(b - a for a, b in spans),) + x.chunks[axis + 1 :]
        layers = HighLevelGraph.from_collections(name, graph, dependencies=[x])
        out.append(da.Array(layers, name, chunks, meta=meta_from_array(x)))
    return out[0], out[1]


def axis_slice(values: np.ndarray, axis: int, start: int, stop: int) -> np.ndarray:
    """The points ``start:stop`` of ``values`` along ``axis`` (a view)."""
    idx = [slice(None)] * values.ndim
    idx[axis] = slice(start, stop)
    return values[tuple(idx)]
