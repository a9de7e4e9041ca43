"""``python -m <package>``: run the bundle's jobs locally (see ``cli.py``)."""

import sys

from .cli import main

sys.exit(main())
