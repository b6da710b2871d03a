"""`python -m supervisor` is `teamctl`."""

import sys

from .entry import main

sys.exit(main())
