"""``python -m {{ cookiecutter.package_name }}_local``: the local twin's command line."""

import sys

from .cli import main

sys.exit(main())
