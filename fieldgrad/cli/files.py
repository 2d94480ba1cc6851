"""Reading the input and writing the output: lazily with dask, atomically, and stoppable.

The output is written to a hidden temporary sibling and moved into place only once it is
complete (:func:`atomic_output`), never over an output another run wrote meanwhile unless
``--overwrite``; the writing runs on a pool of threads the main thread can stop (:func:`write`).
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import os
import shutil
import sys
import threading
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .common import CLIError, first_line
from .signals import PENDING_REMOVALS, SIGNALS

__all__ = [
    "WRITE_ERRNOS",
    "atomic_output",
    "open_input",
    "output_format",
    "prepare_for_writing",
    "remove",
    "require_io",
    "write",
    "write_failure",
]

NETCDF_SUFFIXES = (".nc", ".nc4", ".netcdf", ".h5", ".hdf5")
ZARR_SUFFIXES = (".zarr",)


def _is_zarr_path(path: Path) -> bool:
    return path.suffix.lower() in ZARR_SUFFIXES or (
        path.is_dir() and ((path / ".zgroup").exists() or (path / "zarr.json").exists() or (path / ".zattrs").exists())
    )


IO_EXTRA = "pip install 'fieldgrad[io]'"


def require_io(what: str, *modules: str) -> None:
    """CLIError naming the ``[io]`` extra when a reader/writer package is not installed.

    Examples
    --------
    >>> require_io("reading netCDF", "no_such_module_xyz")
    Traceback (most recent call last):
    ...
    fieldgrad.cli.common.CLIError: reading netCDF needs the no_such_module_xyz package: pip install 'fieldgrad[io]'
    """
    import importlib

    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError:
            raise CLIError(f"{what} needs the {module} package: {IO_EXTRA}") from None


def open_input(path_text: str, chunks: dict[str, int | str] | None) -> Any:
    """Open a netCDF file or zarr store lazily (dask-backed); CLIError if missing or unreadable."""
    import xarray as xr

    path = Path(path_text)
    if not path.exists():
        raise CLIError(f"input not found: {path_text}")
    open_chunks: Any = {} if chunks is None else chunks
    zarr_input = _is_zarr_path(path) or path.is_dir()
    magic = b""
    if not zarr_input:
        with contextlib.suppress(OSError), open(path, "rb") as fh:
            magic = fh.read(3)
    if zarr_input:
        require_io("reading zarr", "zarr")
    elif magic != b"CDF":  # classic netCDF-3 is read by scipy, a dependency; all else by h5netcdf
        require_io("reading netCDF-4", "h5netcdf", "h5py")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            if zarr_input:
                return xr.open_dataset(path, engine="zarr", chunks=open_chunks)
            if magic == b"CDF":
                return xr.open_dataset(path, engine="scipy", chunks=open_chunks)
            return xr.open_dataset(path, engine="h5netcdf", chunks=open_chunks)
    except CLIError:
        raise
    except Exception as exc:  # noqa: BLE001 - any reader error means: not a file we can read
        kind = "zarr store" if path.is_dir() else "netCDF file"
        raise CLIError(f"cannot read {path_text} as a {kind}: {first_line(exc)}") from None


def output_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in ZARR_SUFFIXES:
        return "zarr"
    if suffix in NETCDF_SUFFIXES:
        return "netcdf"
    raise CLIError(f"cannot tell the output format of {str(path)!r}: use a .nc (netCDF) or .zarr path")


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


@contextlib.contextmanager
def atomic_output(out: Path, overwrite: bool) -> Iterator[Path]:
    """Yield a temporary sibling of ``out`` to write to; move it to ``out`` only on success.

    On any exception (or interruption) the temporary is removed and ``out`` is left as it was.
    An existing ``out`` is replaced only with ``overwrite``; without it, an ``out`` that appeared
    while the output was being written (another run finished first) is a CLIError too.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> with atomic_output(d / "a.txt", overwrite=False) as tmp:
    ...     _ = tmp.write_text("done")
    >>> (d / "a.txt").read_text(), sorted(p.name for p in d.iterdir())
    ('done', ['a.txt'])
    >>> shutil.rmtree(d)
    """
    if out.exists() and not overwrite:
        raise CLIError(f"output exists: {out} (pass --overwrite to replace it)")
    parent = out.parent
    if not parent.is_dir():
        raise CLIError(f"output folder does not exist: {parent}")
    if not os.access(parent, os.W_OK | os.X_OK):  # before any work: a read-only or foreign folder
        read_only = bool(os.statvfs(parent).f_flag & os.ST_RDONLY)
        raise CLIError(
            f"cannot write to the output folder {parent}: "
            + ("read-only file system" if read_only else "permission denied")
        )
    tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp = parent / f".{out.name}.fieldgrad-tmp-{tag}"
    try:
        yield tmp
        SIGNALS.check()  # a signal noted while the last chunks were written: no output
    except BaseException:
        remove(tmp)
        # a dask worker thread may still be finishing a chunk into tmp: remove it again at exit,
        # after the thread pools have been joined
        if tmp not in PENDING_REMOVALS:
            PENDING_REMOVALS.append(tmp)
            atexit.register(remove, tmp)
        raise
    with SIGNALS.deferred():  # the output is complete: moving it into place is not interrupted
        if not tmp.exists():
            raise RuntimeError(f"nothing was written to {tmp}")
        try:
            if not overwrite:
                try:  # another run may have written OUT since the check above: it is not replaced
                    _move_no_replace(tmp, out)
                except FileExistsError:
                    raise CLIError(f"output exists: {out} (pass --overwrite to replace it)") from None
            elif not out.exists():
                os.replace(tmp, out)
            elif out.is_file() and tmp.is_file():
                os.replace(tmp, out)  # atomic
            else:
                old = parent / f".{out.name}.fieldgrad-old-{tag}"
                os.replace(out, old)
                try:
                    os.replace(tmp, out)
                except BaseException:
                    os.replace(old, out)
                    raise
                remove(old)
        except BaseException:
            remove(tmp)
            raise


_AT_FDCWD = -100  # <fcntl.h>: paths relative to the working directory
_RENAME_NOREPLACE = 1  # <linux/fs.h>: fail with EEXIST rather than replace the target


def _renameat2() -> Any:
    """The C library's ``renameat2`` (Linux, glibc 2.28 or later), or None."""
    import ctypes

    try:
        func = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError, TypeError):  # not Linux, or an older C library
        return None
    func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    func.restype = ctypes.c_int
    return func


def _move_no_replace(src: Path, dst: Path) -> None:
    """Rename ``src`` (a file or a folder) to ``dst``; FileExistsError if ``dst`` exists, even when it
    appears at the last moment (two runs writing the same output).

    ``renameat2(RENAME_NOREPLACE)`` does that in one step. Where the system or the file system lacks
    it, ``dst`` is first claimed with a call that fails if it exists: a hard link to the file (then
    the temporary name is dropped), or else an empty placeholder (an empty folder, replaced by the
    folder, or an empty file, replaced by the file); another run claiming ``dst`` meanwhile fails.
    """
    import ctypes

    renameat2 = _renameat2()
    if renameat2 is not None:
        if renameat2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), _RENAME_NOREPLACE) == 0:
            return
        code = ctypes.get_errno()
        if code not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):  # not a lack of support
            raise OSError(code, os.strerror(code), str(src), None, str(dst))  # FileExistsError for EEXIST
    if src.is_dir():
        os.mkdir(dst)
        try:
            os.rename(src, dst)  # an empty folder is replaced
        except BaseException:
            with contextlib.suppress(OSError):
                os.rmdir(dst)
            raise
        return
    try:
        os.link(src, dst)
    except FileExistsError:
        raise
    except OSError:  # no hard links here (some network and FAT file systems)
        os.close(os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL))
        try:
            os.replace(src, dst)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(dst)
            raise
        return
    os.unlink(src)


def _regular_chunks(chunks: tuple[int, ...]) -> bool:
    return len(chunks) <= 1 or (len(set(chunks[:-1])) == 1 and chunks[-1] <= chunks[0])


def prepare_for_writing(ds: Any) -> Any:
    """Drop encodings copied from the input (dtype, packing, on-disk chunks) and make chunks regular."""
    for var in ds.variables.values():
        var.encoding = {}
    for name, var in list(ds.data_vars.items()):
        if var.chunks is None:
            continue
        fix = {d: max(c) for d, c in zip(var.dims, var.chunks, strict=True) if not _regular_chunks(tuple(c))}
        if fix:
            ds[name] = var.chunk(fix)
    return ds


class _Pool:
    """The threads dask computes the output with, kept so that an interruption can wait for them.

    On an interruption the main thread stops handing out tasks; :meth:`stop` cancels the queued
    ones and waits (at most ``timeout`` seconds) for the chunks being read, computed or written
    to finish, so that the temporary output is removed after the last write into it.
    """

    def __init__(self, workers: int) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.executor = ThreadPoolExecutor(workers, thread_name_prefix="fieldgrad")
        self._max_workers = workers  # read by dask's threaded scheduler
        self.futures: set[Any] = set()

    def submit(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        future = self.executor.submit(fn, *args, **kwargs)
        self.futures.add(future)
        future.add_done_callback(self.futures.discard)
        return future

    def stop(self, timeout: float) -> None:
        from concurrent.futures import wait

        self.executor.shutdown(wait=False, cancel_futures=True)
        wait(list(self.futures), timeout=timeout)


#: how long an interrupted run waits for the chunks in flight before removing its temporary output
STOP_TIMEOUT = 1.0


def write(ds: Any, tmp: Path, fmt: str, quiet: bool) -> None:
    """Write ``ds`` to ``tmp``; a progress bar on stderr unless ``quiet``. zarr stores get consolidated
    metadata, so that ``xr.open_zarr`` reads them without a warning and in one request."""
    from dask.diagnostics import ProgressBar

    if fmt == "zarr":
        require_io("writing zarr", "zarr")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # zarr's notes about string dtypes and consolidated metadata in v3
            delayed = ds.to_zarr(tmp, mode="w-", compute=False, consolidated=True)
    else:
        require_io("writing netCDF", "h5netcdf", "h5py")
        delayed = ds.to_netcdf(tmp, engine="h5netcdf", compute=False)
    if delayed is None:
        return
    bar = contextlib.nullcontext() if quiet else ProgressBar(minimum=1.0, out=sys.stderr)
    pool = _Pool(os.cpu_count() or 1)
    finished = threading.Event()
    failure: list[BaseException] = []

    def compute() -> None:  # dask's scheduler loop, in a thread: the main thread watches for signals
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", category=RuntimeWarning)  # all-NaN slices and the like
                delayed.compute(scheduler="threads", pool=pool)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which re-raises it
            failure.append(exc)
        finally:
            finished.set()

    SIGNALS.check()
    try:
        with bar, SIGNALS.deferred("poll"):
            threading.Thread(target=compute, name="fieldgrad-scheduler", daemon=True).start()
            while not finished.wait(0.05):
                SIGNALS.check()
        if failure:
            raise failure[0]
    except BaseException:
        with SIGNALS.deferred():  # a second Ctrl-C does not cut the clean-up short
            pool.stop(STOP_TIMEOUT)
        raise
    pool.executor.shutdown(wait=True)


#: errors of a disk or folder that refuses the output (full, read-only, over quota, not allowed)
WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG)


def write_failure(exc: OSError) -> str | None:
    """The reason of a failed write (``"No space left on device"``), or None for other OSErrors.
    h5py reports the C library's errno inside its message only, so that is searched as well."""
    if exc.errno in WRITE_ERRNOS:
        return os.strerror(exc.errno)
    text = str(exc)
    for code in WRITE_ERRNOS:
        if f"errno = {code}," in text or os.strerror(code) in text:
            return os.strerror(code)
    return None
