"""What the example scripts share: their command-line options, and where their figures go.

Every example takes ``--size`` and ``--out``; ``FIELDGRAD_EXAMPLE_SMALL=1`` picks the quick
sizes the tests use, and ``FIELDGRAD_EXAMPLE_OUT`` the folder when ``--out`` is not given
(else ``examples/out/``, ignored by git: running an example never litters the clone).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: where the figures go without ``--out`` or ``FIELDGRAD_EXAMPLE_OUT``
DEFAULT_OUT = Path(__file__).resolve().parent / "out"


def small_run() -> bool:
    """Whether ``FIELDGRAD_EXAMPLE_SMALL`` asks for the quick sizes."""
    return os.environ.get("FIELDGRAD_EXAMPLE_SMALL", "") not in ("", "0")


def settings(
    doc: str,
    default: int,
    small: int,
    size_help: str,
    *,
    out_help: str = "folder for the figure",
    more: Callable[[argparse.ArgumentParser], None] | None = None,
) -> argparse.Namespace:
    """Parse ``--size`` and ``--out`` (and what ``more`` adds); the size defaults to ``default``, or
    ``small`` in a small run; the output folder exists."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--size", type=int, help=f"{size_help} (default {default}; {small} when small)")
    parser.add_argument("--out", type=Path, help=f"{out_help} (default: FIELDGRAD_EXAMPLE_OUT or examples/out)")
    if more is not None:
        more(parser)
    args = parser.parse_args()
    args.size = args.size or (small if small_run() else default)
    args.out = args.out or Path(os.environ.get("FIELDGRAD_EXAMPLE_OUT", DEFAULT_OUT))
    args.out.mkdir(parents=True, exist_ok=True)
    return args


def save_figure(fig: Any, folder: Path, name: str) -> Path:
    """Save ``fig`` as ``folder/name.png`` and say where."""
    out = folder / f"{name}.png"
    fig.savefig(out, dpi=90)
    print(f"figure saved to {out}")
    return out
