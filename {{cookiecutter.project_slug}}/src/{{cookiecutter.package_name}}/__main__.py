"""``python -m {{ cookiecutter.package_name }}``: the local twin's command line.

The local twin (``{{ cookiecutter.package_name }}_local``) comes with the project checkout and is not part
of the deployed wheel; this file only hands over to it.
"""

import sys

try:
    from {{ cookiecutter.package_name }}_local.cli import main
except ModuleNotFoundError as exc:
    if exc.name is None or not exc.name.startswith("{{ cookiecutter.package_name }}_local"):
        raise
    sys.exit(
        'error: the local twin is not installed: run `pip install -e ".[local,dev]"` '
        "in the project checkout"
    )

sys.exit(main())
