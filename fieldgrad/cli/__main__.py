"""``python -m fieldgrad.cli``: the ``fieldgrad`` command."""

import sys

from . import main

sys.exit(main())
