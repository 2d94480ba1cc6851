"""The ``fieldgrad`` command: derivatives of variables in netCDF and zarr files.

::

    fieldgrad info IN
    fieldgrad methods
    fieldgrad partial     IN --var V [V2 ...] --dims x [--order 2]             --out OUT
    fieldgrad gradient    IN --var V [V2 ...] [--dims x y]                      --out OUT
    fieldgrad laplacian   IN --var V [V2 ...] [--dims x y]                      --out OUT
    fieldgrad hessian     IN --var V [V2 ...] [--dims x y]                      --out OUT
    fieldgrad directional IN --var V [V2 ...] --direction x=1,y=1               --out OUT
    fieldgrad along       IN --var V [V2 ...] --path x=0,1,2 --path y=0,1,1     --out OUT
    fieldgrad advection   IN --var V [V2 ...] --flow x=u,y=v                    --out OUT
    fieldgrad divergence  IN --var u v --dims x y                               --out OUT
    fieldgrad curl        IN --var u v [w] --dims x y [z]                       --out OUT
    fieldgrad jacobian    IN --var u v --dims x y                               --out OUT
    fieldgrad magnitude   IN --var u v --dims x y                               --out OUT

One subcommand per operator of the library (:data:`fieldgrad.table.OPERATORS`), and one flag per
keyword (:data:`fieldgrad.keywords.KEYWORDS`): ``--method``, ``--boundary``, ``--nan-policy``,
``--fill-value``, ``--period``, ``--datetime-unit`` (default ``s``: time derivatives per second),
``--geometry``, ``--latitude``, ``--longitude``, ``--radius``, ``--crs``, ``--frame``, the built-in
method's ``--accuracy`` and ``--edge-order``, other methods' ``--option KEY=VALUE``; and
``--chunks x=128,y=128``, ``--overwrite``, ``--progress``, ``--quiet``. Without ``--dims`` an
operator runs over the library's default dims (the spatial dims), which the summary line names.

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

import contextlib
import os
import signal
import sys
import warnings
from collections.abc import Sequence
from typing import Any, NoReturn

from .commands import cmd_info, cmd_methods, cmd_operation
from .common import PROG, CLIError, first_line
from .files import remove
from .parser import build_parser
from .signals import EXIT_STATUS, PENDING_REMOVALS, SIGNALS, Interrupted

__all__ = ["main", "CLIError", "EXIT_STATUS"]


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
    parser = build_parser()
    debug = os.environ.get("FIELDGRAD_DEBUG", "") not in ("", "0")
    showwarning = warnings.showwarning
    warnings.showwarning = _showwarning
    SIGNALS.mode, SIGNALS.received = "raise", None
    previous = {}
    SIGNALS.previous_unraisablehook, sys.unraisablehook = sys.unraisablehook, SIGNALS.unraisable
    for signum in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(signum) == signal.SIG_IGN:
            continue  # ignored by whoever started us (nohup, a background job): stays ignored
        with contextlib.suppress(ValueError):  # not in the main thread
            previous[signum] = signal.signal(signum, SIGNALS.handler)
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
    except (KeyboardInterrupt, Interrupted) as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        what = "terminated (SIGTERM)" if signum == signal.SIGTERM else "interrupted"
        print(f"{PROG}: {what}; no output written", file=sys.stderr)
        code, interrupted = EXIT_STATUS.get(signum, 130), True
        return code
    except ImportError as exc:
        if debug:
            raise
        print(f"{PROG}: error: a package is missing: {first_line(exc)}", file=sys.stderr)
        code = 2
        return code
    except (ValueError, TypeError, KeyError, OSError) as exc:
        if debug:
            raise
        print(f"{PROG}: error: {first_line(exc)}", file=sys.stderr)
        code = 2
        return code
    except Exception as exc:
        if debug:
            raise
        print(
            f"{PROG}: internal error: {type(exc).__name__}: {first_line(exc)} "
            f"(set FIELDGRAD_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        code = 1
        return code
    finally:
        warnings.showwarning = showwarning
        # interrupted, or an output abandoned midway (its write failed): the process ends now
        if code is not None and from_command_line and (interrupted or PENDING_REMOVALS):
            _exit_now(code)
        if from_command_line:
            SIGNALS.mode = "done"  # the outcome is decided: a late signal does not turn it into a traceback
        else:
            sys.unraisablehook = SIGNALS.previous_unraisablehook
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
    for tmp in PENDING_REMOVALS:
        remove(tmp)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def _showwarning(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
    print(f"{PROG}: warning: {first_line(Exception(str(message)))}", file=sys.stderr)
