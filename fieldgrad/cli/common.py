"""What every part of the command shares: its name, its one-line errors."""

from __future__ import annotations

__all__ = ["PROG", "CLIError", "first_line"]

PROG = "fieldgrad"


class CLIError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def first_line(exc: BaseException | str) -> str:
    """The first line of an error's message (its type's name when it has none)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
