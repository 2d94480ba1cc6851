"""Computing a chunked result into memory without dask's final gather.

``.compute()`` on a dask-backed array computes every block, keeps them all, then copies them
into one new array: twice the result's memory, and a last single-threaded pass over all of it
(``benchmarks/bench_chunked.py``: the gather alone of a 3 GiB gradient takes longer than the
whole in-memory gradient). :func:`compute` allocates the results first and has each block
written into its place as soon as it is done (:func:`dask.array.store`), so the blocks are freed
one by one and the peak is the result plus the blocks in flight.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, TypeVar

import numpy as np
import xarray as xr

__all__ = ["compute"]

T = TypeVar("T", xr.DataArray, xr.Dataset)


def _local_scheduler(scheduler: Any = None) -> bool:
    """Whether dask would run in this process's memory (threads or synchronous)."""
    import dask.local
    import dask.threaded
    from dask.base import get_scheduler

    return get_scheduler(scheduler=scheduler) in (None, dask.threaded.get, dask.local.get_sync)


def _storable(data: Any) -> bool:
    import dask.array as da

    return isinstance(data, da.Array) and not any(np.isnan(s) for s in data.shape)


def compute(obj: T, **kwargs: Any) -> T:
    """Compute a dask-backed DataArray or Dataset into memory, each block written in place.

    The same result as ``obj.compute()``, with about half the peak memory and without the
    final copy: the numpy results are allocated first and every block is stored into them as
    soon as it is computed. Every dask-backed variable (data and coordinates) is computed in
    one pass over the graph, so work they share is done once. Use it for results that fit in
    memory; for results that do not, write them to a store (``.to_zarr``) instead.

    On a scheduler that does not run in this process (``dask.distributed``, processes), the
    blocks cannot be written into local memory, and this is ``obj.compute(**kwargs)``.

    Parameters
    ----------
    obj : DataArray or Dataset
        The object to compute; variables that are not dask arrays are kept as they are.
    **kwargs
        Passed to :func:`dask.array.store` (e.g. ``scheduler=``, ``num_workers=``).

    Returns
    -------
    DataArray or Dataset
        Like ``obj``, with numpy data.

    Examples
    --------
    >>> import numpy as np, xarray as xr, fieldgrad
    >>> f = xr.DataArray(np.arange(24.0).reshape(4, 6) ** 2, dims=("x", "y")).chunk(2)
    >>> g = fieldgrad.compute(f.grad.gradient())
    >>> type(g.data).__name__, g.dims
    ('ndarray', ('component', 'x', 'y'))
    >>> bool((g == f.grad.gradient().compute()).all())
    True
    """
    import dask.array as da

    if not isinstance(obj, (xr.DataArray, xr.Dataset)):
        raise TypeError(f"fieldgrad.compute takes an xarray DataArray or Dataset, not {type(obj).__name__}")
    if not _local_scheduler(kwargs.get("scheduler")):
        return obj.compute(**kwargs)
    if isinstance(obj, xr.DataArray):
        data_vars: dict[Hashable, xr.Variable] = {None: obj.variable}
    else:
        data_vars = {name: var.variable for name, var in obj.data_vars.items()}
    variables = {**data_vars, **{name: c.variable for name, c in obj.coords.items()}}
    lazy = {name: var for name, var in variables.items() if _storable(var.data)}
    targets = {name: np.empty(var.shape, dtype=var.dtype) for name, var in lazy.items()}
    if lazy:
        da.store([var.data for var in lazy.values()], list(targets.values()), **{"lock": False, **kwargs})
    if isinstance(obj, xr.DataArray):
        done = obj.copy(data=targets.get(None, obj.data))
    else:
        done = obj.copy(data={name: targets.get(name, var.data) for name, var in data_vars.items()})
    coords = {name: lazy[name].copy(data=targets[name]) for name in obj.coords if name in targets}
    return done.assign_coords(coords).compute()  # what remains: not dask arrays, or unknown sizes
