"""The ``fieldgrad`` command: derivatives of variables in netCDF and zarr files.

::

    fieldgrad info IN
    fieldgrad methods
    fieldgrad partial    IN --var V [V2 ...] --dims x [--order 2]            --out OUT
    fieldgrad gradient   IN --var V [V2 ...] [--dims x y]                     --out OUT
    fieldgrad laplacian  IN --var V [V2 ...] [--dims x y]                     --out OUT
    fieldgrad divergence IN --var u v --dims x y                              --out OUT
    fieldgrad curl       IN --var u v [w] --dims x y [z]                      --out OUT

Common options of the operations: ``--method``, ``--accuracy``, ``--edge-order``,
``--boundary``, ``--nan-policy``, ``--option KEY=VALUE`` (method options such as
``window=21``), ``--datetime-unit`` (default ``s``: time derivatives per second),
``--chunks x=128,y=128``, ``--overwrite``, ``--progress``, ``--quiet``. Without ``--dims``,
gradient and laplacian run over the variable's spatial dims (:func:`default_dims`).

The input is read lazily with dask (zarr: a directory or a ``.zarr`` path; anything else:
netCDF-4/HDF5 through h5netcdf), and the output format follows the extension of ``--out``
(``.zarr`` or ``.nc``). The output is written to a hidden temporary sibling and renamed into
place only once it is complete, so an interrupted run never leaves a partial file under the
output name. An existing output is never replaced without ``--overwrite``, not even one that
another run wrote meanwhile, and the input never (OUT = IN is refused). zarr outputs have
consolidated metadata.

Exit status: 0 on success; 2 for any bad input (missing file, variable or dimension, an
unreadable file, an invalid option) or an output that cannot be written (full disk, read-only
folder), with a one-line message on stderr; 130 when interrupted by SIGINT (Ctrl-C) and 143 when
terminated by SIGTERM, whichever phase the run is in, within about a second and leaving no
temporary; 1 for an unexpected internal error (one line; set ``FIELDGRAD_DEBUG=1`` for the
traceback). The ``fieldgrad`` console script enters through ``_fieldgrad_command.main``, which
handles SIGINT and SIGTERM the same way while this module and its dependencies are imported.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import errno
import os
import shutil
import signal
import sys
import threading
import uuid
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

from .conventions import BOUNDARIES, NAN_POLICIES

__all__ = ["main", "CLIError"]

PROG = "fieldgrad"
OPERATIONS = ("partial", "gradient", "divergence", "curl", "laplacian")
NETCDF_SUFFIXES = (".nc", ".nc4", ".netcdf", ".h5", ".hdf5")
ZARR_SUFFIXES = (".zarr",)


class CLIError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


class _Interrupted(BaseException):
    """Raised in the main thread by the SIGINT/SIGTERM handler so that clean-up code runs."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signum)
        self.signum = signum


#: exit status of a run stopped by a signal: 128 + the signal number, as shells report it
EXIT_STATUS = {signal.SIGINT: 130, signal.SIGTERM: 143}


class _Signals:
    """How SIGINT and SIGTERM are handled during a run (one instance, :data:`_SIGNALS`).

    Before the computation (mode ``"raise"``) the first signal raises :class:`_Interrupted` in the
    main thread. During it (``"poll"``) the handler only notes the signal and the main thread,
    which does nothing but wait for the dask threads, sees it within 50 ms: an exception raised
    by a handler at an arbitrary point can land in a weakref callback or a finalizer, where Python
    prints and drops it (:meth:`unraisable` raises such a one again); :meth:`check` raises a signal
    noted but not acted upon. Any later signal is noted and otherwise ignored: the clean-up is
    already under way and takes at most about a second, so a second Ctrl-C cannot leave a
    half-removed temporary or print a traceback. While the finished output is moved into place
    (``"defer"``) and afterwards (``"done"``) signals are only noted: the run has succeeded by
    then and reports so.
    """

    def __init__(self) -> None:
        self.mode = "raise"
        self.received: int | None = None

    def handler(self, signum: int, frame: Any) -> None:
        if self.received is None:
            self.received = signum
            if self.mode == "raise":
                raise _Interrupted(signum)

    def check(self) -> None:
        """Raise :class:`_Interrupted` if a signal has come (called only on the way to a result: a
        signal whose exception was dropped, or one noted while polling, stops the run here)."""
        if self.received is not None:
            raise _Interrupted(self.received)

    def unraisable(self, unraisable: Any) -> None:
        """``sys.unraisablehook``: an :class:`_Interrupted` raised inside a weakref callback or a
        finalizer was dropped by Python; raise it again in the main thread at the next chance,
        without the "Exception ignored in" traceback. Anything else goes to the previous hook."""
        if isinstance(unraisable.exc_value, _Interrupted) and self.received is not None:
            import _thread

            signum, self.received = self.received, None
            # the handler runs again in the main thread once this hook has returned
            threading.Timer(0.01, _thread.interrupt_main, (signum,)).start()
            return
        self.previous_unraisablehook(unraisable)

    previous_unraisablehook: Any = staticmethod(sys.__unraisablehook__)

    @contextlib.contextmanager
    def deferred(self, mode: str = "defer") -> Iterator[None]:
        """Signals arriving inside the block are noted, not raised."""
        previous, self.mode = self.mode, mode
        try:
            yield
        finally:
            self.mode = previous


_SIGNALS = _Signals()
#: temporaries removed at exit (a dask thread may still be finishing a chunk into one)
_PENDING_REMOVALS: list[Path] = []


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``fieldgrad: error: ...``) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        raise CLIError(f"{message} (see '{self.prog} --help')")


# ----------------------------------------------------------------------------- argument parsing


def _parse_value(text: str) -> Any:
    """``"21"`` -> 21, ``"0.5"`` -> 0.5, ``"none"`` -> None, ``"true"`` -> True, else the string."""
    low = text.strip().lower()
    if low in ("none", "null"):
        return None
    if low in ("true", "false"):
        return low == "true"
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text


def _parse_options(items: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CLIError(f"--option expects KEY=VALUE, got {item!r}")
        out[key.strip()] = _parse_value(value)
    return out


def parse_chunks(items: Sequence[str] | None) -> dict[str, int | str] | None:
    """``["x=128,y=64"]`` -> ``{"x": 128, "y": 64}``; ``["auto"]`` -> ``{}`` meaning dask's choice.

    Examples
    --------
    >>> parse_chunks(["x=128,y=64"])
    {'x': 128, 'y': 64}
    >>> parse_chunks(["x=-1", "t=auto"])
    {'x': -1, 't': 'auto'}
    """
    if not items:
        return None
    out: dict[str, int | str] = {}
    for item in items:
        for part in item.split(","):
            part = part.strip()
            if not part:
                continue
            if part == "auto":
                continue
            dim, sep, size = part.partition("=")
            if not sep or not dim:
                raise CLIError(f"--chunks expects DIM=SIZE[,DIM=SIZE...], got {part!r}")
            if size == "auto":
                out[dim] = "auto"
                continue
            try:
                n = int(size)
            except ValueError:
                raise CLIError(
                    f"--chunks: the size for {dim!r} must be an integer, -1 or 'auto', got {size!r}"
                ) from None
            if n == 0 or n < -1:
                raise CLIError(f"--chunks: the size for {dim!r} must be positive (or -1 for the whole dim), got {n}")
            out[dim] = n
    return out


def _build_parser() -> _Parser:
    from . import __version__

    parser = _Parser(
        prog=PROG,
        description="Coordinate-aware derivatives of variables in netCDF and zarr files.",
        epilog="Run 'fieldgrad COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser(
        "info",
        help="show the variables, dims and coordinates of a file (uniform or not)",
        description="show the variables, dims and coordinates of a file (uniform or not)",
        epilog="example:\n  fieldgrad info era5.nc",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", metavar="IN", help="netCDF file or zarr store")

    sub.add_parser(
        "methods",
        help="list the derivative methods and their capabilities",
        description="list the derivative methods and their capabilities",
        epilog="example:\n  fieldgrad methods",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )

    helps = {
        "partial": "partial derivative of each --var along --dims (repeat a dim or use --order for higher orders)",
        "gradient": "gradient (vector of first derivatives) of each --var over --dims",
        "laplacian": "Laplacian (sum of second derivatives) of each --var over --dims",
        "divergence": "divergence of the vector field whose components are the --var, along the --dims in order",
        "curl": "curl of the vector field whose components are the --var, along the --dims in order",
    }
    examples = {
        "partial": [
            "fieldgrad partial era5.nc --var t --dims level --out dt_dp.nc",
            "fieldgrad partial era5.nc --var t u --dims time --datetime-unit h --out tendency.zarr",
            "fieldgrad partial in.zarr --var V --dims x --order 2 --accuracy 4 --out d2V.zarr",
        ],
        "gradient": [
            "fieldgrad gradient era5.nc --var t --out grad_t.nc",
            "fieldgrad gradient in.zarr --var V --dims x y --chunks x=256,y=256 --out grad.zarr",
        ],
        "laplacian": [
            "fieldgrad laplacian era5.nc --var z --geometry sphere --out lap_z.nc",
            "fieldgrad laplacian in.nc --var V --dims x y --boundary periodic --out lap.nc",
        ],
        "divergence": [
            "fieldgrad divergence era5.nc --var u v --dims longitude latitude --geometry sphere --out div.nc",
            "fieldgrad divergence in.zarr --var Ex Ey --dims x y --out divE.zarr",
        ],
        "curl": [
            "fieldgrad curl era5.nc --var u v --dims longitude latitude --geometry sphere --out vorticity.nc",
            "fieldgrad curl in.zarr --var u v w --dims x y z --out curl.zarr",
        ],
    }
    default_dims = (
        " (default: the variable's spatial dims: coordinates with a CF axis X/Y/Z, latitude/longitude "
        "units, or length units; never time)"
    )
    for op in OPERATIONS:
        epilog = "examples:\n" + "\n".join(f"  {line}" for line in examples[op])
        p = sub.add_parser(
            op,
            help=helps[op],
            description=helps[op],
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.add_argument("input", metavar="IN", help="netCDF file or zarr store")
        p.add_argument(
            "--var",
            "-v",
            nargs="+",
            required=True,
            metavar="VAR",
            help="variable(s); for divergence/curl the components, one per --dims entry",
        )
        p.add_argument(
            "--dims",
            "-d",
            nargs="+",
            required=op in ("partial", "divergence", "curl"),
            metavar="DIM",
            help="dimensions (or 1-D coordinates) to differentiate along"
            + ("" if op in ("partial", "divergence", "curl") else default_dims),
        )
        if op == "partial":
            p.add_argument("--order", type=int, default=1, help="derivative order along each dim (default 1)")
        p.add_argument(
            "--out", "-o", required=True, metavar="OUT", help="output path: .nc (netCDF) or .zarr; not the input itself"
        )
        p.add_argument(
            "--datetime-unit",
            metavar="UNIT",
            help="unit of time for a datetime coordinate: s, h, D, ms, ... or hours, seconds, days "
            "(default: s, so time derivatives are per second, the SI unit)",
        )
        p.add_argument("--method", "-m", default="fd", help="derivative method (see 'fieldgrad methods'; default fd)")
        p.add_argument("--accuracy", type=int, help="fd: order of accuracy in the interior (2, 4, 6, 8)")
        p.add_argument("--edge-order", type=int, help="fd: order of accuracy of the boundary stencils")
        p.add_argument(
            "--boundary",
            metavar="KIND|DIM=KIND[,...]",
            help="boundary treatment, one-sided, periodic or fill; for all dims or per dim, e.g. lon=periodic",
        )
        p.add_argument(
            "--period", metavar="P|DIM=P[,...]", help="period of a periodic non-uniform coordinate, e.g. lon=360"
        )
        p.add_argument("--nan-policy", choices=NAN_POLICIES, help="how NaNs in the field are treated")
        p.add_argument(
            "--option",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="a method option, e.g. window=21 or smoothing=auto (repeatable)",
        )
        if op != "partial":
            p.add_argument(
                "--geometry",
                choices=("cartesian", "sphere", "projected"),
                help="sphere: latitude/longitude (1-D or 2-D, found from their CF attributes), "
                "derivatives per metre on a sphere of --radius, polar caps at the poles; projected: "
                "projection x/y coordinates with a CF grid_mapping, corrected by the map factors",
            )
            p.add_argument("--radius", type=float, help="sphere radius in metres (default: the Earth's, 6.371e6)")
        p.add_argument(
            "--chunks",
            nargs="+",
            metavar="DIM=SIZE",
            help="dask chunks to read with, e.g. x=128,y=128 (default: the file's own chunks)",
        )
        p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
        p.add_argument(
            "--progress", action="store_true", help="show a progress bar (default: only when stderr is a terminal)"
        )
        p.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no summary line")
    return parser


# ----------------------------------------------------------------------------- files


def _first_line(exc: BaseException | str) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


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
    fieldgrad.cli.CLIError: reading netCDF needs the no_such_module_xyz package: pip install 'fieldgrad[io]'
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
        raise CLIError(f"cannot read {path_text} as a {kind}: {_first_line(exc)}") from None


def _output_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in ZARR_SUFFIXES:
        return "zarr"
    if suffix in NETCDF_SUFFIXES:
        return "netcdf"
    raise CLIError(f"cannot tell the output format of {str(path)!r}: use a .nc (netCDF) or .zarr path")


def _remove(path: Path) -> None:
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
        _SIGNALS.check()  # a signal noted while the last chunks were written: no output
    except BaseException:
        _remove(tmp)
        # a dask worker thread may still be finishing a chunk into tmp: remove it again at exit,
        # after the thread pools have been joined
        if tmp not in _PENDING_REMOVALS:
            _PENDING_REMOVALS.append(tmp)
            atexit.register(_remove, tmp)
        raise
    with _SIGNALS.deferred():  # the output is complete: moving it into place is not interrupted
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
                _remove(old)
        except BaseException:
            _remove(tmp)
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


# ----------------------------------------------------------------------------- commands


def _check_vars(ds: Any, names: Sequence[str]) -> None:
    for name in names:
        if name not in ds.data_vars:
            raise CLIError(
                f"no variable {name!r} in the input; variables: {', '.join(map(str, ds.data_vars)) or 'none'}"
            )


def _check_dims(ds: Any, names: Sequence[str], dims: Sequence[str] | None) -> None:
    if dims is None:
        return
    for name in names:
        var = ds[name]
        for dim in dims:
            # a dim, or a coordinate along the variable's dims (1-D, or the 2-D lat/lon of a curvilinear grid)
            ok = dim in var.dims or (
                dim in ds.coords and ds.coords[dim].ndim in (1, 2) and set(ds.coords[dim].dims) <= set(var.dims)
            )
            if not ok:
                raise CLIError(f"variable {name!r} has no dimension {dim!r}; its dims: {', '.join(map(str, var.dims))}")


def _boundary_kind(text: str) -> str:
    if text not in BOUNDARIES:
        raise CLIError(f"--boundary: unknown kind {text!r}; valid kinds: {', '.join(BOUNDARIES)}")
    return text


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise CLIError(f"--period: expected a number, got {text!r}") from None
    return value


def _per_dim_value(text: str, flag: str, convert: Any) -> Any:
    """``"periodic"`` -> "periodic"; ``"lon=periodic,lat=fill"`` -> {"lon": "periodic", "lat": "fill"}.

    Examples
    --------
    >>> _per_dim_value("lon=360", "--period", _float)
    {'lon': 360.0}
    >>> _per_dim_value("periodic", "--boundary", _boundary_kind)
    'periodic'
    """
    if "=" not in text:
        return convert(text.strip())
    out = {}
    for part in text.split(","):
        dim, sep, value = part.partition("=")
        if not sep or not dim.strip():
            raise CLIError(f"{flag} expects VALUE or DIM=VALUE[,DIM=VALUE...], got {text!r}")
        out[dim.strip()] = convert(value.strip())
    return out


def _method_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    kw: dict[str, Any] = {"method": args.method}
    if args.accuracy is not None:
        kw["accuracy"] = args.accuracy
    if args.edge_order is not None:
        kw["edge_order"] = args.edge_order
    if args.boundary is not None:
        kw["boundary"] = _per_dim_value(args.boundary, "--boundary", _boundary_kind)
    if args.period is not None:
        kw["period"] = _per_dim_value(args.period, "--period", _float)
    if args.nan_policy is not None:
        kw["nan_policy"] = args.nan_policy
    if getattr(args, "geometry", None) is not None and args.geometry != "cartesian":
        kw["geometry"] = args.geometry
    if getattr(args, "radius", None) is not None:
        kw["radius"] = args.radius
    options = _parse_options(args.option)
    clash = set(options) & set(kw)
    if clash:
        raise CLIError(f"--option {sorted(clash)[0]}= duplicates a dedicated flag; use the flag")
    kw.update(options)
    return kw


def _need(accessor: Any, op: str) -> Any:
    func = getattr(accessor, op, None)
    if func is None:
        raise CLIError(f"'{op}' is not available in this version of fieldgrad (the .grad accessor has no {op}())")
    return func


# ----------------------------------------------------------------------------- which dims


def _coord_of(ds: Any, key: str) -> Any:
    """The 1-D coordinate that positions along ``key`` come from, or None (unit spacing)."""
    if key in ds.coords and ds.coords[key].ndim == 1:
        return ds.coords[key]
    return None


def cf_role(coord: Any) -> str | None:
    """``"T"``, ``"X"`` (east), ``"Y"`` (north), ``"Z"`` or None: a coordinate's CF role, from its
    ``axis`` attr, its dtype (datetimes), latitude/longitude units or standard names."""
    from .calculus import is_time_coord
    from .geometry import cf_kind

    if coord is None:
        return None
    axis = str(coord.attrs.get("axis", "")).upper()
    if axis in ("T", "X", "Y", "Z"):
        return axis
    if is_time_coord(coord):
        return "T"
    kind = cf_kind(coord)  # latitude/longitude: the geometry layer's reading of CF attributes
    std = str(coord.attrs.get("standard_name", "")).lower()
    if kind == "longitude" or std == "projection_x_coordinate":
        return "X"
    if kind == "latitude" or std == "projection_y_coordinate":
        return "Y"
    return None


def _is_length(units: str) -> bool:
    from .units import cf_registry, same_dimension

    if cf_registry() is None:
        return units in ("m", "km", "cm", "mm", "meter", "meters", "metre", "metres")
    return same_dimension(units, "m")


def _is_spatial(coord: Any) -> bool:
    if coord is None:
        return False
    role = cf_role(coord)
    if role is not None:
        return role in ("X", "Y", "Z")
    units = coord.attrs.get("units")
    return isinstance(units, str) and _is_length(units.strip())


def _unit_kind(coord: Any) -> str | None:
    """What a dim's positions are measured in, for comparing dims: latitude/longitude are degrees."""
    from .geometry.axes import EAST_UNITS, NORTH_UNITS

    if coord is None:
        return None
    if cf_role(coord) == "T":
        return "s"
    cf_units = str(coord.attrs.get("units", "")).strip().lower().replace(" ", "_")
    if cf_role(coord) in ("X", "Y") and cf_units in NORTH_UNITS | EAST_UNITS:
        return "degree"
    units = coord.attrs.get("units")
    return units.strip() if isinstance(units, str) else None


def default_dims(ds: Any, name: str) -> list[str]:
    """The dims of a variable that a gradient or Laplacian runs over when --dims is not given.

    The spatial dims (CF axis X/Y/Z, latitude/longitude units or standard names, length units);
    where none is marked, every dim that is not time; a time dim alone only when it is the only dim.
    Dims measured in incompatible units (metres and degrees, degrees and pressure) are a CLIError.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> t = np.datetime64("2000-01-01", "ns") + np.arange(3) * np.timedelta64(6, "h")
    >>> ds = xr.Dataset({"T": (("time", "lat", "lon"), np.zeros((3, 4, 5)))},
    ...                 coords={"time": t, "lat": ("lat", np.arange(4.0), {"units": "degrees_north"}),
    ...                         "lon": ("lon", np.arange(5.0), {"units": "degrees_east"})})
    >>> default_dims(ds, "T")
    ['lat', 'lon']
    """
    dims = [str(d) for d in ds[name].dims]
    chosen = [d for d in dims if _is_spatial(_coord_of(ds, d))]
    how = "spatial dims"
    if not chosen:
        chosen = [d for d in dims if cf_role(_coord_of(ds, d)) != "T"] or dims
        how = "dims"
    kinds = {d: _unit_kind(_coord_of(ds, d)) for d in chosen}
    if len(chosen) > 1 and not _compatible(list(kinds.values())):
        listed = ", ".join(f"{d} ({k or 'no units'})" for d, k in kinds.items())
        raise CLIError(f"the {how} of {name!r} are measured in different units: {listed}; choose the dims with --dims")
    return chosen


def _compatible(kinds: list[str | None]) -> bool:
    from .units import same_dimension

    if any(k is None for k in kinds):
        return all(k is None for k in kinds)  # unit spacing everywhere, or units everywhere
    return all(same_dimension(kinds[0], k) for k in kinds[1:])  # type: ignore[arg-type]


def _time_dims(ds: Any, dims: Sequence[str]) -> list[str]:
    """The dims among ``dims`` that are times (CF axis T, datetimes or cftime dates)."""
    return [d for d in dims if cf_role(_coord_of(ds, d)) == "T"]


def _datetime_dims(ds: Any, dims: Sequence[str]) -> list[str]:
    """The dims among ``dims`` whose coordinate is counted in a ``datetime_unit``."""
    from .calculus import is_time_coord

    return [d for d in dims if _coord_of(ds, d) is not None and is_time_coord(_coord_of(ds, d))]


def _vector_standard_name(
    ds: Any, op: str, dims: Sequence[str], names: Sequence[str], kw: dict[str, Any], units: str | None
) -> str | None:
    """The CF standard name of a divergence/curl of variables with standard names (fieldgrad.cf)."""
    from .cf import vector_standard_name

    comps = dict(zip(dims, (ds[n].attrs.get("standard_name") for n in names), strict=True))
    if kw.get("geometry") == "sphere":  # the sphere's curl is the upward component whatever the order
        roles = {cf_role(_coord_of(ds, d)): d for d in dims}
        if set(roles) != {"X", "Y"}:
            return None
        comps = {roles["X"]: comps[roles["X"]], roles["Y"]: comps[roles["Y"]]}
    return vector_standard_name(op, list(comps.values()), units)


def _no_time_with_space(ds: Any, op: str, dims: Sequence[str]) -> None:
    """A Laplacian, divergence or curl sums terms per time and per length: refused."""
    times = _time_dims(ds, dims)
    if times and len(times) != len(dims):
        raise CLIError(
            f"{op} over {', '.join(dims)} would add terms per unit of time ({', '.join(times)}) to "
            f"terms per unit of the other dims; differentiate in time with 'fieldgrad partial'"
        )


def compute_result(ds: Any, args: argparse.Namespace) -> Any:
    """The output Dataset of an operation: one variable per result, with the input's coords.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({"V": ("x", np.arange(5.0) ** 2)}, coords={"x": np.arange(5.0)})
    >>> ns = argparse.Namespace(command="partial", var=["V"], dims=["x"], order=1, method="fd", accuracy=None,
    ...                         edge_order=2, boundary=None, period=None, nan_policy=None, option=[])
    >>> compute_result(ds, ns)["dV_dx"].values
    array([0., 2., 4., 6., 8.])
    """
    import xarray as xr

    import fieldgrad  # noqa: F401  (registers .grad)

    op = args.command
    names = list(dict.fromkeys(args.var))
    _check_vars(ds, names)
    _check_dims(ds, names, args.dims)
    kw = _method_kwargs(args)
    datetime_unit = getattr(args, "datetime_unit", None)
    notes: list[str] = []  # the dims chosen for the user, reported with the result
    args.notes = notes

    def time_kw(dims: Sequence[str]) -> dict[str, Any]:
        """datetime_unit: the user's (the library checks it applies), else seconds where a dim is a time."""
        if datetime_unit is not None:
            return {"datetime_unit": datetime_unit}
        return {"datetime_unit": "s"} if _datetime_dims(ds, dims) else {}

    results: dict[str, xr.DataArray] = {}
    if op in ("divergence", "curl"):
        dims = list(args.dims)
        if len(args.var) != len(dims):
            raise CLIError(
                f"{op}: give one --var per --dims entry (components in the order of the dims); "
                f"got {len(args.var)} variable(s) for {len(dims)} dim(s)"
            )
        if len(set(dims)) != len(dims):
            raise CLIError(f"{op}: --dims names a dimension twice: {' '.join(dims)}")
        if op == "curl" and len(dims) not in (2, 3):
            raise CLIError(f"curl needs 2 or 3 components, got {len(dims)}")
        _no_time_with_space(ds, op, dims)
        func = _need(ds.grad, op)
        res = func(dict(zip(dims, args.var, strict=True)), **kw, **time_kw(dims))
        standard_name = _vector_standard_name(ds, op, dims, list(args.var), kw, res.attrs.get("units"))
        if standard_name is not None:
            res.attrs["standard_name"] = standard_name
        results[str(res.name) if res.name is not None else op] = res
    else:
        for name in names:
            da = ds[name]
            dims = args.dims
            if dims is None and op in ("gradient", "laplacian") and kw.get("geometry", "cartesian") == "cartesian":
                dims = default_dims(ds, name)
                notes.append(f"{op} of {name} over {', '.join(dims)}")
            if op == "partial":
                res = da.grad.partial(list(dims), args.order, **kw, **time_kw(dims))
            elif op == "gradient":
                res = da.grad.gradient(dims, **kw, **time_kw(dims or []))
            else:
                if dims is not None:
                    _no_time_with_space(ds, op, dims)
                res = _need(da.grad, "laplacian")(dims, **kw, **time_kw(dims or []))
            key = str(res.name) if res.name is not None else f"{op}_{name}"
            if key in results:
                key = f"{key}_{name}"
            results[key] = res
    out = xr.Dataset({k: v.rename(None) if v.name != k else v for k, v in results.items()})
    out.attrs = dict(ds.attrs)
    history = " ".join([PROG, *map(str, getattr(args, "argv", []))])
    out.attrs["history"] = (str(ds.attrs["history"]) + "\n" if "history" in ds.attrs else "") + history
    return _prepare_for_writing(out)


def _regular_chunks(chunks: tuple[int, ...]) -> bool:
    return len(chunks) <= 1 or (len(set(chunks[:-1])) == 1 and chunks[-1] <= chunks[0])


def _prepare_for_writing(ds: Any) -> Any:
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


def _write(ds: Any, tmp: Path, fmt: str, quiet: bool) -> None:
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

    _SIGNALS.check()
    try:
        with bar, _SIGNALS.deferred("poll"):
            threading.Thread(target=compute, name="fieldgrad-scheduler", daemon=True).start()
            while not finished.wait(0.05):
                _SIGNALS.check()
        if failure:
            raise failure[0]
    except BaseException:
        with _SIGNALS.deferred():  # a second Ctrl-C does not cut the clean-up short
            pool.stop(STOP_TIMEOUT)
        raise
    pool.executor.shutdown(wait=True)


#: errors of a disk or folder that refuses the output (full, read-only, over quota, not allowed)
WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG)


def _write_failure(exc: OSError) -> str | None:
    """The reason of a failed write (``"No space left on device"``), or None for other OSErrors.
    h5py reports the C library's errno inside its message only, so that is searched as well."""
    if exc.errno in WRITE_ERRNOS:
        return os.strerror(exc.errno)
    text = str(exc)
    for code in WRITE_ERRNOS:
        if f"errno = {code}," in text or os.strerror(code) in text:
            return os.strerror(code)
    return None


def cmd_operation(args: argparse.Namespace) -> int:
    out = Path(args.out)
    fmt = _output_format(out)
    if out.resolve() == Path(args.input).resolve():
        raise CLIError(f"--out is the input itself ({args.input}); write the result to another path")
    if out.exists() and not args.overwrite:
        raise CLIError(f"output exists: {out} (pass --overwrite to replace it)")
    chunks = parse_chunks(args.chunks)
    ds = open_input(args.input, chunks)
    try:
        if chunks:
            unknown = [d for d in chunks if d not in ds.dims]
            if unknown:
                raise CLIError(
                    f"--chunks names {unknown[0]!r}, which is not a dimension of the input; "
                    f"dims: {', '.join(map(str, ds.dims))}"
                )
        result = compute_result(ds, args)
        show_progress = not args.quiet and (args.progress or sys.stderr.isatty())
        try:
            with atomic_output(out, args.overwrite) as tmp:
                _write(result, tmp, fmt, not show_progress)
        except OSError as exc:
            reason = _write_failure(exc)
            if reason is None:
                raise
            raise CLIError(f"cannot write {out}: {reason}") from None
        _SIGNALS.mode = "done"  # OUT is complete and in place: a signal now changes nothing
    finally:
        ds.close()
    if not args.quiet:
        names = ", ".join(f"{k}{tuple(map(str, v.dims))}" for k, v in result.data_vars.items())
        chosen = f" ({'; '.join(args.notes)}; choose with --dims)" if getattr(args, "notes", None) else ""
        print(f"wrote {names} to {out}{chosen}")
    return 0


_DURATIONS = (("day", 86400.0), ("h", 3600.0), ("min", 60.0), ("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9))


def readable_duration(seconds: float) -> str:
    """A time step in the largest unit that counts it whole: ``21600`` -> ``"6 h"``.

    Examples
    --------
    >>> readable_duration(21600.0), readable_duration(90.0), readable_duration(86400 * 7), readable_duration(1.5)
    ('6 h', '90 s', '7 day', '1500 ms')
    """
    for symbol, size in _DURATIONS:
        count = seconds / size
        if count >= 1 and abs(count - round(count)) <= 1e-9 * count:
            return f"{round(count)} {symbol}"
    return f"{seconds:g} s"


def _readable_time(value: Any) -> str:
    """A datetime64 as ISO 8601 without trailing zeros; cftime dates as they print."""
    import numpy as np

    if isinstance(value, np.datetime64):
        import pandas as pd

        return pd.Timestamp(value).isoformat()
    return str(value)


def _describe_coord(ds: Any, dim: Any) -> str:
    from .coords import axis_coord

    n = ds.sizes[dim]
    if dim not in ds.coords:
        return f"{dim}: {n} points, no coordinate (unit spacing)"
    c = ds.coords[dim]
    if c.dtype.kind in "USb" or (c.dtype.kind == "O" and c.size and isinstance(c.values[0], str)):
        return f"{dim}: {n} points, labels {', '.join(map(str, c.values[:8]))}{' ...' if n > 8 else ''}"
    units = c.attrs.get("units")
    u = f" {units}" if units else ""
    try:
        ac = axis_coord(c.values, str(dim))
    except (ValueError, TypeError) as exc:
        return f"{dim}: {n} points, invalid for derivatives: {_first_line(exc)}"
    vals = c.values
    first, last = vals[0], vals[-1]
    direction = "" if n < 2 or ac.values[-1] > ac.values[0] else ", decreasing"
    if c.dtype.kind in "mMO":
        span = f"{_readable_time(first)} .. {_readable_time(last)}"
        seconds = axis_coord(c.values, str(dim), datetime_unit="s")
        if seconds.spacing is not None:  # uniform
            return f"{dim}: {n} points, {span}, uniform (step {readable_duration(abs(seconds.spacing))}){direction}"
        steps = abs(seconds.values[1:] - seconds.values[:-1])
        return (
            f"{dim}: {n} points, {span}, non-uniform (steps {readable_duration(steps.min())} .. "
            f"{readable_duration(steps.max())}){direction}"
        )
    if ac.uniform:
        return f"{dim}: {n} points, {first:g} .. {last:g}{u}, uniform (step {ac.spacing:g}{u}){direction}"
    steps = abs(ac.values[1:] - ac.values[:-1])
    return (
        f"{dim}: {n} points, {first:g} .. {last:g}{u}, non-uniform (steps {steps.min():g} .. {steps.max():g}{u})"
        f"{direction}"
    )


def cmd_info(args: argparse.Namespace) -> int:
    ds = open_input(args.input, None)
    try:
        print(f"{args.input}")
        print("dimensions:")
        for dim in ds.dims:
            print(f"  {_describe_coord(ds, dim)}")
        print("variables:")
        if not ds.data_vars:
            print("  (none)")
        for name, var in ds.data_vars.items():
            units = var.attrs.get("units")
            extra = f" [{units}]" if units else ""
            long_name = var.attrs.get("long_name")
            extra += f" {long_name}" if long_name else ""
            shape = "x".join(str(s) for s in var.shape) or "scalar"
            print(f"  {name}({', '.join(map(str, var.dims))}): {var.dtype}, {shape}{extra}")
        others = [k for k in ds.coords if k not in ds.dims]
        if others:
            print("other coordinates:")
            for name in others:
                c = ds.coords[name]
                print(f"  {name}({', '.join(map(str, c.dims))}): {c.dtype}")
    finally:
        ds.close()
    return 0


def cmd_methods(args: argparse.Namespace) -> int:
    from . import registry
    from .plan import usable_boundaries

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        methods = registry.available_methods()
        rows: list[tuple[str, str, dict[str, str] | None]] = []
        for name, description in methods.items():
            try:
                m = registry.get_method(name)
            except Exception as exc:  # noqa: BLE001 - a plugin may fail any way; listed as unavailable
                rows.append((name, f"unavailable: {_first_line(exc)}", None))
                continue
            caps = {
                "max order": "any" if m.max_order is None else str(m.max_order),
                "non-uniform": "yes" if m.supports_nonuniform else "no",
                "boundaries": ", ".join(usable_boundaries(m)),
                "options": ", ".join(f"{k}={v!r}" for k, v in m.options.items()) or "none",
            }
            rows.append((name, m.description or description, caps))
    for name, description, details in rows:
        print(f"{name}: {description}")
        if details:
            for key, value in details.items():
                print(f"    {key}: {value}")
    for w in caught:
        print(f"{PROG}: warning: {_first_line(w.message)}", file=sys.stderr)
    return 0


# ----------------------------------------------------------------------------- entry point


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``fieldgrad`` command line; returns the exit status.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default ``sys.argv[1:]``). Without ``argv`` (the ``fieldgrad`` command), an
        interrupted run ends the process as soon as its temporary output is removed, without
        waiting for the interpreter to wind down threads and open files.

    Returns
    -------
    int
        0 on success, 2 for bad input or an output that cannot be written, 130 when interrupted
        (SIGINT, Ctrl-C), 143 when terminated (SIGTERM), 1 for an internal error.

    Examples
    --------
    >>> main(["partial", "missing.nc", "--var", "V", "--dims", "x", "--out", "d.nc"])
    2
    """
    from_command_line = argv is None
    parser = _build_parser()
    debug = os.environ.get("FIELDGRAD_DEBUG", "") not in ("", "0")
    showwarning = warnings.showwarning
    warnings.showwarning = _showwarning
    _SIGNALS.mode, _SIGNALS.received = "raise", None
    previous = {}
    _SIGNALS.previous_unraisablehook, sys.unraisablehook = sys.unraisablehook, _SIGNALS.unraisable
    for signum in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(signum) == signal.SIG_IGN:
            continue  # ignored by whoever started us (nohup, a background job): stays ignored
        with contextlib.suppress(ValueError):  # not in the main thread
            previous[signum] = signal.signal(signum, _SIGNALS.handler)
    code: int | None = None  # the status of a failed run (not with FIELDGRAD_DEBUG's tracebacks)
    interrupted = False
    try:
        argv = list(sys.argv[1:] if argv is None else argv)
        args = parser.parse_args(argv)
        args.argv = argv
        if args.command is None:
            parser.print_help(sys.stderr)
            return 2
        handler = {"info": cmd_info, "methods": cmd_methods}.get(args.command, cmd_operation)
        return handler(args)
    except CLIError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        code = 2
        return code
    except (KeyboardInterrupt, _Interrupted) as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        what = "terminated (SIGTERM)" if signum == signal.SIGTERM else "interrupted"
        print(f"{PROG}: {what}; no output written", file=sys.stderr)
        code, interrupted = EXIT_STATUS.get(signum, 130), True
        return code
    except ImportError as exc:
        if debug:
            raise
        print(f"{PROG}: error: a package is missing: {_first_line(exc)}", file=sys.stderr)
        code = 2
        return code
    except (ValueError, TypeError, KeyError, OSError) as exc:
        if debug:
            raise
        print(f"{PROG}: error: {_first_line(exc)}", file=sys.stderr)
        code = 2
        return code
    except Exception as exc:
        if debug:
            raise
        print(
            f"{PROG}: internal error: {type(exc).__name__}: {_first_line(exc)} "
            f"(set FIELDGRAD_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        code = 1
        return code
    finally:
        warnings.showwarning = showwarning
        # interrupted, or an output abandoned midway (its write failed): the process ends now
        if code is not None and from_command_line and (interrupted or _PENDING_REMOVALS):
            _exit_now(code)
        if from_command_line:
            _SIGNALS.mode = "done"  # the outcome is decided: a late signal does not turn it into a traceback
        else:
            sys.unraisablehook = _SIGNALS.previous_unraisablehook
            for signum, old in previous.items():
                with contextlib.suppress(ValueError, TypeError):
                    signal.signal(signum, old)


def _exit_now(code: int) -> NoReturn:
    """End a command-line run that was interrupted or whose output was abandoned: remove the
    temporary (which dask threads may have rewritten), flush, exit.

    There is nothing left to save, and the interpreter's normal shutdown would do harm: it waits
    for dask threads still finishing a chunk, and it closes the output's HDF5 file from finalizers
    (xarray's file manager, h5py's object ids) and from HDF5's own exit handler. That can block for
    long or print "Exception ignored" tracebacks when a second signal arrives. After a write that
    failed (a full disk), HDF5 cannot flush that file any more: every attempt to close it fails
    again ("Can't decrement id ref count ... No space left on device"), and the library, left with
    half-closed datasets, can crash the process when it closes them at exit (SIGSEGV in H5D_close),
    after the one-line error. So the file is never touched again.
    """
    for tmp in _PENDING_REMOVALS:
        _remove(tmp)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def _showwarning(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
    print(f"{PROG}: warning: {_first_line(Exception(str(message)))}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
