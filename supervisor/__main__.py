"""`python -m teamctl_supervisor` is `teamctl`."""

import sys

from .cli import main

sys.exit(main())
