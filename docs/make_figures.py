"""Regenerate the example figures shown in the documentation (docs/_static/figures/).

Run from the repository root: ``uv run python docs/make_figures.py`` (a few minutes). The docs
build itself never runs the examples; it shows these committed figures.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ROOT / "docs" / "_static" / "figures"
RUNS = {
    "image_edges.py": [],
    "electric_field.py": [],
    "noisy_derivatives.py": [],
    "gaps_and_masks.py": [],
    "streaming_zarr.py": ["--workers", "0"],
    "geoscience_grids.py": [],
}


def main() -> int:
    FIGURES.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "FIELDGRAD_EXAMPLE_OUT": str(FIGURES), "FIELDGRAD_EXAMPLE_QUIET": "1", "MPLBACKEND": "Agg"}
    env.pop("FIELDGRAD_EXAMPLE_SMALL", None)
    for script, args in RUNS.items():
        print(f"--- {script}", flush=True)
        out = subprocess.run(
            [sys.executable, str(ROOT / "examples" / script), *args],
            env=env,
            cwd=FIGURES,
            capture_output=True,
            text=True,
        )
        print(out.stdout, end="")
        if out.returncode:
            print(out.stderr, file=sys.stderr)
            return out.returncode
        (FIGURES / (Path(script).stem + ".txt")).write_text(out.stdout.replace(str(FIGURES) + "/", ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
