"""`python -m archive`: the same command as the `archive` console script."""

import sys

from web.cli import main

sys.exit(main())
