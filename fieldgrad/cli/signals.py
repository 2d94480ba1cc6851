"""How the command handles SIGINT and SIGTERM: one handler object for a run, and the temporaries
it removes when a run ends early."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["EXIT_STATUS", "PENDING_REMOVALS", "SIGNALS", "Interrupted", "Signals"]


class Interrupted(BaseException):
    """Raised in the main thread by the SIGINT/SIGTERM handler so that clean-up code runs."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signum)
        self.signum = signum


#: exit status of a run stopped by a signal: 128 + the signal number, as shells report it
EXIT_STATUS = {signal.SIGINT: 130, signal.SIGTERM: 143}


class Signals:
    """How SIGINT and SIGTERM are handled during a run (one instance, :data:`SIGNALS`).

    Before the computation (mode ``"raise"``) the first signal raises :class:`Interrupted` in the
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
                raise Interrupted(signum)

    def check(self) -> None:
        """Raise :class:`Interrupted` if a signal has come (called only on the way to a result: a
        signal whose exception was dropped, or one noted while polling, stops the run here)."""
        if self.received is not None:
            raise Interrupted(self.received)

    def unraisable(self, unraisable: Any) -> None:
        """``sys.unraisablehook``: an :class:`Interrupted` raised inside a weakref callback or a
        finalizer was dropped by Python; raise it again in the main thread at the next chance,
        without the "Exception ignored in" traceback. Anything else goes to the previous hook."""
        if isinstance(unraisable.exc_value, Interrupted) and self.received is not None:
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


SIGNALS = Signals()
#: temporaries removed at exit (a dask thread may still be finishing a chunk into one)
PENDING_REMOVALS: list[Path] = []
