"""Lets ``pytest examples/custom_method`` run before the example is installed (src layout)."""

import sys
from pathlib import Path

try:
    import fieldgrad_spectral  # noqa: F401  (installed: use it)
except ImportError:
    sys.path.insert(0, str(Path(__file__).parent / "src"))
