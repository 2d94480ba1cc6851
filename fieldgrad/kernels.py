"""Apply :class:`~fieldgrad.stencil.AxisStencil` objects along axes of an N-D array, fused.

:func:`apply_stencils` computes several one-axis stencils (e.g. the three partial derivatives
of a gradient) in one pass over memory. The array is viewed as ``(rows, length)``: the row
length is the product of the dims after the last differentiated axis (or that axis itself when
it is the last one); every other differentiated axis moves between rows with a fixed row stride.
For each row, every output is computed while the input rows it needs are in cache:

* an axis across rows: the output row is a short weighted sum of input rows, vectorised along
  the row (the common 2- and 3-point bands are written out, so each output element is stored
  once and the sum stays in registers);
* the contiguous last axis: the band is vectorised along the row, with per-point weight
  vectors on non-uniform axes; the few boundary rows are compressed sparse rows.

Terms are summed in stencil order, without fused multiply-adds or reassociation, so the results
do not depend on threads, blocking or which code path ran. Exactly-zero band weights of uniform
axes were dropped when the stencil was built, so a NaN spoils exactly the points whose stencil
touches it.

There is one compiled (numba, ``nogil``, cached on disk) kernel, which processes a range of
tasks (a task is a piece of one row, for every output). Large arrays are shared between threads
by Python threads pulling chunks of tasks (dynamic scheduling: a core that another process
occupies does less of the work, instead of holding up the call), small arrays and dask blocks
run in the calling thread. numba is imported on first use, not with ``import fieldgrad``.

Large outputs of in-memory calls (not dask blocks) are allocated in buffers that outputs freed
during the last few seconds gave back (see ``REUSE_BUFFERS``): fresh memory costs a page fault
and a kernel-side zeroing per page, which on virtual machines takes as long as the whole
computation, and a gradient in a loop allocates the same outputs over and over. At most
``REUSE_MAX_IDLE_BYTES`` (1 GiB, or 1/8 of the RAM) is kept, and for ``REUSE_IDLE_SECONDS`` (5 s).

Environment: ``FIELDGRAD_SERIAL=1`` runs every kernel in the calling thread;
``FIELDGRAD_NUM_THREADS`` caps the threads (default: ``NUMBA_NUM_THREADS``, the usable CPUs);
``FIELDGRAD_REUSE_BUFFERS=0`` allocates every output afresh.
"""

from __future__ import annotations

import itertools
import os
import threading
from functools import cache
from typing import Any

import numpy as np

from .stencil import AxisStencil

__all__ = ["apply_stencil", "apply_stencils", "release_buffers", "result_dtype", "serial_kernels", "serial_requested"]

# Below this many elements, threads cost more than they save.
PARALLEL_THRESHOLD = 1 << 18
# Longest piece of a row handled at once: all outputs of a piece are computed while its input
# rows are in cache (4096 float64 = 32 KiB per row).
_BLOCK = 4096
# Output elements per chunk of tasks that a thread takes at a time (dynamic scheduling).
_CHUNK_ELEMENTS = 1 << 19

_local = threading.local()


def result_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype of a derivative of a field of ``dtype``.

    Integers and booleans give float64 (never wrap around); float16 and float32 give float32;
    float64 stays; complex is kept.

    Examples
    --------
    >>> result_dtype(np.dtype("uint8")), result_dtype(np.dtype("float16"))
    (dtype('float64'), dtype('float32'))
    """
    dtype = np.dtype(dtype)
    if dtype.kind in "biu":
        return np.dtype(np.float64)
    if dtype.kind == "f":
        return np.dtype(np.float32) if dtype.itemsize <= 4 else np.dtype(np.float64)
    if dtype.kind == "c":
        return np.dtype(np.complex64) if dtype.itemsize <= 8 else np.dtype(np.complex128)
    raise TypeError(f"the field must be numeric (integer, boolean, float or complex), got dtype {dtype}")


# ---------------------------------------------------------------------------------------------
# compiled code (plain Python functions here; compiled by numba on first use, see _kernel())
# ---------------------------------------------------------------------------------------------

# Segments of the integer table (see _pack); their bounds head the table.
_INT_SEGMENTS = (
    "kind",
    "stride",
    "nax",
    "lo",
    "hi",
    "off_ptr",
    "offsets",
    "w_ptr",
    "uniform",
    "rm_ptr",
    "row_map",
    "er_ptr",
    "edge_rows",
    "edge_ptr",
    "edge_idx",
)
_FLOAT_SEGMENTS = ("weights", "edge_w", "edge_const")
_NI, _NF = len(_INT_SEGMENTS), len(_FLOAT_SEGMENTS)
_u = np.uint64  # an unsigned index: numba emits no negative-index wrap-around (which blocks SIMD)
_HEADER = _NI + 1 + _NF + 1


def _run(
    f: Any, out: Any, itab: Any, ftab: Any, block: int, task0: int, task1: int
) -> None:  # pragma: no cover - compiled
    """Tasks ``task0 <= task < task1``: task ``t * nblk + b`` is columns ``[b*block, (b+1)*block)``
    of row ``t`` of every output. ``f`` is (rows, length), ``out`` (K, rows, length).

    Written without array views or calls in the per-task code: each would cost reference-count
    updates per task. The inner loops index the 2-D/3-D arrays directly and are vectorised.
    """
    length = f.shape[1]
    nblk = (length + block - 1) // block
    h = _NI + 1
    kind, stride, nax = itab[itab[0] : itab[1]], itab[itab[1] : itab[2]], itab[itab[2] : itab[3]]
    lo, hi, off_ptr = itab[itab[3] : itab[4]], itab[itab[4] : itab[5]], itab[itab[5] : itab[6]]
    offsets, w_ptr, uniform = itab[itab[6] : itab[7]], itab[itab[7] : itab[8]], itab[itab[8] : itab[9]]
    rm_ptr, row_map, er_ptr = itab[itab[9] : itab[10]], itab[itab[10] : itab[11]], itab[itab[11] : itab[12]]
    edge_rows, edge_ptr, edge_idx = itab[itab[12] : itab[13]], itab[itab[13] : itab[14]], itab[itab[14] : itab[15]]
    weights, edge_w, edge_const = (
        ftab[itab[h] : itab[h + 1]],
        ftab[itab[h + 1] : itab[h + 2]],
        ftab[itab[h + 2] : itab[h + 3]],
    )
    nk = out.shape[0]
    for task in range(task0, task1):
        t = task // nblk
        q0 = (task - t * nblk) * block
        q1 = min(q0 + block, length)
        for e in range(nk):
            m0 = off_ptr[e]
            m = off_ptr[e + 1] - m0
            n = nax[e]
            if kind[e] == 0:  # an axis across rows: output row t from rows t + offset * stride
                s = stride[e]
                i = (t // s) % n
                r = row_map[rm_ptr[e] + i]
                if r < 0:  # the band
                    wb = w_ptr[e] + (0 if uniform[e] else i)
                    ws = 1 if uniform[e] else n
                    if m == 2:
                        c0, c1 = weights[wb], weights[wb + ws]
                        r0, r1 = t + offsets[m0] * s, t + offsets[m0 + 1] * s
                        for q in range(q0, q1):
                            out[e, t, _u(q)] = c0 * f[r0, _u(q)] + c1 * f[r1, _u(q)]
                    elif m == 3:
                        c0, c1, c2 = weights[wb], weights[wb + ws], weights[wb + 2 * ws]
                        r0, r1, r2 = t + offsets[m0] * s, t + offsets[m0 + 1] * s, t + offsets[m0 + 2] * s
                        for q in range(q0, q1):
                            out[e, t, _u(q)] = c0 * f[r0, _u(q)] + c1 * f[r1, _u(q)] + c2 * f[r2, _u(q)]
                    else:
                        for k in range(m):
                            c = weights[wb + k * ws]
                            rk = t + offsets[m0 + k] * s
                            if k == 0:
                                for q in range(q0, q1):
                                    out[e, t, _u(q)] = c * f[rk, _u(q)]
                            else:
                                for q in range(q0, q1):
                                    out[e, t, _u(q)] += c * f[rk, _u(q)]
                else:  # a boundary row: a constant plus compressed terms
                    rr = er_ptr[e] + r
                    c = edge_const[rr]
                    for q in range(q0, q1):
                        out[e, t, _u(q)] = c
                    for p in range(edge_ptr[rr], edge_ptr[rr + 1]):
                        c = edge_w[p]
                        rk = t + (edge_idx[p] - i) * s
                        for q in range(q0, q1):
                            out[e, t, _u(q)] += c * f[rk, _u(q)]
            else:  # the contiguous axis: vectorised along the row
                a = max(lo[e], q0)
                b = min(hi[e], q1)
                wb = w_ptr[e]
                if uniform[e] and m == 2:
                    c0, c1 = weights[wb], weights[wb + 1]
                    o0, o1 = offsets[m0], offsets[m0 + 1]
                    for q in range(a, b):
                        out[e, t, _u(q)] = c0 * f[t, _u(q + o0)] + c1 * f[t, _u(q + o1)]
                elif uniform[e] and m == 3:
                    c0, c1, c2 = weights[wb], weights[wb + 1], weights[wb + 2]
                    o0, o1, o2 = offsets[m0], offsets[m0 + 1], offsets[m0 + 2]
                    for q in range(a, b):
                        out[e, t, _u(q)] = c0 * f[t, _u(q + o0)] + c1 * f[t, _u(q + o1)] + c2 * f[t, _u(q + o2)]
                elif m == 3:
                    o0, o1, o2 = offsets[m0], offsets[m0 + 1], offsets[m0 + 2]
                    for q in range(a, b):
                        out[e, t, _u(q)] = (
                            weights[_u(wb + q)] * f[t, _u(q + o0)]
                            + weights[_u(wb + n + q)] * f[t, _u(q + o1)]
                            + weights[_u(wb + 2 * n + q)] * f[t, _u(q + o2)]
                        )
                else:
                    ws = 0 if uniform[e] else 1
                    for k in range(m):
                        ok = offsets[m0 + k]
                        wk = wb + (k if uniform[e] else k * n)
                        if k == 0:
                            for q in range(a, b):
                                out[e, t, _u(q)] = weights[_u(wk + ws * q)] * f[t, _u(q + ok)]
                        else:
                            for q in range(a, b):
                                out[e, t, _u(q)] += weights[_u(wk + ws * q)] * f[t, _u(q + ok)]
                for rr in range(er_ptr[e], er_ptr[e + 1]):
                    j = edge_rows[rr]
                    if q0 <= j < q1:
                        acc = edge_const[rr]
                        for p in range(edge_ptr[rr], edge_ptr[rr + 1]):
                            acc = acc + edge_w[p] * f[t, edge_idx[p]]
                        out[e, t, j] = acc


@cache
def _kernel() -> Any:
    """The compiled kernel (compiled once per input/output dtype pair; cached on disk)."""
    import numba

    return numba.njit(nogil=True, cache=True, fastmath=False, error_model="numpy", boundscheck=False)(_run)


# ---------------------------------------------------------------------------------------------
# threads
# ---------------------------------------------------------------------------------------------


def serial_requested() -> bool:
    """Whether code in this thread should stay single-threaded (inside dask tasks, or FIELDGRAD_SERIAL).

    Methods with compiled kernels of their own call this before starting threads.

    Examples
    --------
    >>> with serial_kernels():
    ...     serial_requested()
    True
    """
    return bool(getattr(_local, "serial", False) or os.environ.get("FIELDGRAD_SERIAL"))


def serial_kernels() -> _SerialContext:
    """Context manager: kernels called in this thread run in it alone (used inside dask tasks)."""
    return _SerialContext()


class _SerialContext:
    def __enter__(self) -> None:
        self._prev = getattr(_local, "serial", False)
        _local.serial = True

    def __exit__(self, *exc: object) -> None:
        _local.serial = self._prev


def _num_threads() -> int:
    """Threads for one large call: FIELDGRAD_NUM_THREADS, else numba's default (NUMBA_NUM_THREADS,
    the CPUs), at most the CPUs this process may run on."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    env = os.environ.get("FIELDGRAD_NUM_THREADS") or os.environ.get("NUMBA_NUM_THREADS")
    try:
        wanted = int(env) if env else cpus
    except ValueError:
        wanted = cpus
    return max(1, min(wanted, cpus))


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


def _run_threads(kernel: Any, args: tuple, ntasks: int, chunk: int, nthreads: int) -> None:
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


# ---------------------------------------------------------------------------------------------
# output buffers
# ---------------------------------------------------------------------------------------------

# Reuse the memory of large outputs once every view of them is gone, for this long: on virtual
# machines fresh memory is expensive (every page is zeroed by the kernel, and pages handed back
# to the host are faulted in again through the hypervisor), and a gradient in a loop allocates
# the same outputs over and over. Set FIELDGRAD_REUSE_BUFFERS=0 (or REUSE_BUFFERS = False) to
# allocate every output afresh.
REUSE_BUFFERS = os.environ.get("FIELDGRAD_REUSE_BUFFERS", "1").strip().lower() not in ("0", "false", "no", "off")
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


def release_buffers() -> None:
    """Release the memory of outputs kept for reuse (see ``REUSE_BUFFERS``)."""
    _buffers.release()


# ---------------------------------------------------------------------------------------------
# packing and the public functions
# ---------------------------------------------------------------------------------------------


def _pack(shape: tuple[int, ...], terms: list[tuple[int, AxisStencil]]) -> tuple[int, int, np.ndarray, np.ndarray]:
    """View ``shape`` as (rows, length) and flatten the stencils into one int64 and one float64 table.

    Returns ``rows, length, itab, ftab``; ``itab`` starts with the bounds of its segments
    (:data:`_INT_SEGMENTS`) and of those of ``ftab`` (:data:`_FLOAT_SEGMENTS`).
    """
    last = max(a for a, _ in terms)
    after = int(np.prod(shape[last + 1 :], dtype=np.int64))
    if after == 1:
        length = shape[last]
        rows = int(np.prod(shape[:last], dtype=np.int64))
    else:
        length = after
        rows = int(np.prod(shape[: last + 1], dtype=np.int64))
    kind, stride, nax, lo, hi, uniform = [], [], [], [], [], []
    off_ptr, w_ptr, rm_ptr, er_ptr, edge_ptr = [0], [0], [0], [0], []
    offsets, row_map, edge_rows, edge_idx, weights, edge_w, edge_const = [], [], [], [], [], [], []
    nnz = 0
    for axis, st in terms:
        is_last = after == 1 and axis == last
        kind.append(1 if is_last else 0)
        stride.append(1 if is_last else int(np.prod(shape[axis + 1 :], dtype=np.int64)) // length)
        nax.append(st.n)
        lo.append(st.lo)
        hi.append(st.hi)
        uniform.append(1 if st.uniform else 0)
        offsets.append(st.offsets)
        off_ptr.append(off_ptr[-1] + st.offsets.shape[0])
        weights.append(st.weights.reshape(-1))  # (m, n) row-major, or (m,) when uniform
        w_ptr.append(w_ptr[-1] + weights[-1].shape[0])
        rmap = np.full(st.n, -1, dtype=np.int64)
        rmap[st.edge_rows] = np.arange(st.edge_rows.shape[0])
        row_map.append(rmap)
        rm_ptr.append(rm_ptr[-1] + st.n)
        edge_rows.append(st.edge_rows)
        edge_ptr.append(st.edge_ptr[:-1] + nnz)
        er_ptr.append(er_ptr[-1] + st.edge_rows.shape[0])
        edge_idx.append(st.edge_idx)
        edge_w.append(st.edge_w)
        edge_const.append(st.edge_const)
        nnz += st.edge_idx.shape[0]
    edge_ptr.append(np.array([nnz]))
    cat = np.concatenate
    ints: list[Any] = [
        kind,
        stride,
        nax,
        lo,
        hi,
        off_ptr,
        cat(offsets),
        w_ptr,
        uniform,
        rm_ptr,
        cat(row_map),
        er_ptr,
        cat(edge_rows),
        cat(edge_ptr),
        cat(edge_idx),
    ]
    floats = [cat(weights), cat(edge_w), cat(edge_const)]
    sizes = [len(x) for x in ints]
    bounds = [_HEADER]
    for size in sizes:
        bounds.append(bounds[-1] + size)
    fb = [0]
    for x in floats:
        fb.append(fb[-1] + x.shape[0])
    itab = cat([np.array(bounds + fb, dtype=np.int64)] + [np.asarray(x, dtype=np.int64) for x in ints])
    ftab = cat(floats).astype(np.float64, copy=False)
    return rows, length, itab, ftab


def _block(rows: int, length: int, nthreads: int) -> int:
    """Columns per task: whole rows, or pieces of at most ``_BLOCK``; more pieces when there are
    too few rows to share between threads."""
    block = min(length, _BLOCK)
    if nthreads > 1 and rows < 16 * nthreads:
        block = min(block, max(1024, -(-length * rows // (16 * nthreads))))
    return max(block, 1)


def _kernel_input(values: np.ndarray) -> np.ndarray:
    """The array as the kernel reads it: C-contiguous, float16 widened, bool as uint8."""
    values = np.asarray(values)
    if values.dtype == np.float16:
        values = values.astype(np.float32)
    elif values.dtype == np.bool_:
        values = values.view(np.uint8)
    return np.ascontiguousarray(values)


def apply_stencils(
    values: np.ndarray,
    terms: list[tuple[int, AxisStencil]],
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Apply several one-axis stencils to ``values`` in one pass over memory.

    Parameters
    ----------
    values : ndarray
        Numeric array; integer and boolean input is read as is and computed in float64.
    terms : list of (axis, AxisStencil)
        Each gives one output: the stencil applied along that axis.
    out : ndarray, optional
        Where to write, shape ``(len(terms), *values.shape)``, C-contiguous, dtype
        :func:`result_dtype`; allocated when not given.

    Returns
    -------
    ndarray, shape ``(len(terms), *values.shape)``

    Examples
    --------
    >>> from fieldgrad.coords import axis_coord
    >>> from fieldgrad.stencil import build_stencil
    >>> s = build_stencil(axis_coord(np.arange(3.0)), 1, 2, 1, "one-sided")
    >>> f = np.array([[0.0, 1.0, 4.0], [1.0, 2.0, 5.0], [4.0, 5.0, 8.0]])
    >>> apply_stencils(f, [(0, s), (1, s)])[1]
    array([[1., 2., 3.],
           [1., 2., 3.],
           [1., 2., 3.]])
    """
    values = _kernel_input(values)
    dtype = result_dtype(values.dtype)
    shape = (len(terms),) + values.shape
    nthreads = 1
    if (
        values.size >= PARALLEL_THRESHOLD
        and not getattr(_local, "serial", False)
        and not os.environ.get("FIELDGRAD_SERIAL")
    ):
        nthreads = _num_threads()
    if out is None:
        # large outputs reuse freed buffers: in memory, and dask blocks, which are freed as soon
        # as they are reduced or stored, so the next block's output costs no fresh pages
        reuse = REUSE_BUFFERS and values.size * len(terms) * dtype.itemsize >= REUSE_MIN_BYTES
        out = _buffers.empty(shape, dtype) if reuse else np.empty(shape, dtype=dtype)
    elif out.shape != shape or out.dtype != dtype or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous {dtype} array of shape {shape}")
    terms = [(axis % values.ndim, st) for axis, st in terms]
    for axis, st in terms:
        if values.shape[axis] != st.n:
            raise ValueError(f"stencil is for {st.n} points but axis {axis} has {values.shape[axis]}")
    if values.size == 0 or not terms:
        return out
    rows, length, itab, ftab = _pack(values.shape, terms)
    block = _block(rows, length, nthreads)
    ntasks = rows * (-(-length // block))
    args = (values.reshape(rows, length), out.reshape(len(terms), rows, length), itab, ftab, block)
    kernel = _kernel()
    if nthreads == 1:
        kernel(*args, 0, ntasks)
    else:
        per_task = block * len(terms)
        chunk = max(1, min(_CHUNK_ELEMENTS // per_task, -(-ntasks // (4 * nthreads))))
        _run_threads(kernel, args, ntasks, chunk, nthreads)
    return out


def apply_stencil(values: np.ndarray, stencil: AxisStencil, axis: int) -> np.ndarray:
    """Apply ``stencil`` along ``axis`` of ``values``; the one-output form of :func:`apply_stencils`.

    Examples
    --------
    >>> from fieldgrad.coords import axis_coord
    >>> from fieldgrad.stencil import build_stencil
    >>> s = build_stencil(axis_coord(np.arange(5.0)), 1, 2, 1, "one-sided")
    >>> apply_stencil(np.arange(5.0) ** 2, s, axis=0)
    array([1., 2., 4., 6., 7.])
    """
    return apply_stencils(values, [(axis, stencil)])[0]
