"""`python -m archive`: the core's commands (the `archive` console script adds `serve` from the web layer)."""

import sys

from .cli import main

sys.exit(main())
