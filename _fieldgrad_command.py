"""The ``fieldgrad`` console script: Ctrl-C and SIGTERM handled from the command's first instruction.

The command is :func:`fieldgrad.cli.main`, but importing it takes about half a second (numpy,
xarray, pandas, dask, ...), and a signal in that time met Python's defaults: a KeyboardInterrupt
traceback for SIGINT, a death by the signal (status -15, no message) for SIGTERM. A console
script imports the module of its entry point first, and ``fieldgrad/__init__.py`` makes those
imports, so the entry point is this module, outside the package and importing nothing but the
standard library's ``os``, ``signal`` and ``sys``: :func:`main` installs handlers that end the
process at once with the command's message and exit status (130 for SIGINT, 143 for SIGTERM;
nothing has been written yet), then imports and runs :func:`fieldgrad.cli.main`, which replaces
them with its own for the run.

Only the interpreter's own start-up (a few tens of milliseconds before the script's first line)
is left to Python's defaults.
"""

from __future__ import annotations

import os
import signal
import sys

__all__ = ["main"]

#: what ``fieldgrad.cli`` prints and returns for each signal (tests/test_cli.py checks that they agree)
STOPPED: dict[int, tuple[bytes, int]] = {
    signal.SIGINT: (b"fieldgrad: interrupted; no output written\n", 130),
    signal.SIGTERM: (b"fieldgrad: terminated (SIGTERM); no output written\n", 143),
}


def _stop(signum: int, frame: object) -> None:
    """End the process now: during the imports there is nothing to clean up, and an exception
    raised here could land inside a module being imported, a finalizer or a weakref callback."""
    message, status = STOPPED[signum]
    try:
        sys.stderr.flush()  # a warning printed during the imports, if any, comes first
    except (OSError, ValueError, RuntimeError):  # closed, or interrupted in a write of its own
        pass
    try:
        os.write(2, message)
    except OSError:
        pass
    os._exit(status)


def main() -> int:
    """Install the start-up handlers, then run :func:`fieldgrad.cli.main` (its exit status)."""
    for signum in STOPPED:
        if signal.getsignal(signum) != signal.SIG_IGN:  # ignored by whoever started us (nohup): stays ignored
            signal.signal(signum, _stop)
    from fieldgrad.cli import main as run

    return run()


if __name__ == "__main__":
    sys.exit(main())
