"""The local twin: run this bundle's jobs on a laptop, from its own YAML, with local Spark,
local Delta tables and a local MLflow store. Never deployed: the wheel holds only
``{{ cookiecutter.package_name }}``."""
