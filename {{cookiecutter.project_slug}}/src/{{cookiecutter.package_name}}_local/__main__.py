"""``python -m {{ cookiecutter.package_name }}_local`` (also ``python -m {{ cookiecutter.package_name }}``)."""

import sys

from .cli import main

sys.exit(main())
