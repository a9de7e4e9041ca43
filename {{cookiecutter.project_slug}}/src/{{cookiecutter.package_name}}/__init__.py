"""The project's ML code and the platform seam it runs through (``platform``): what
``databricks bundle deploy`` builds into the wheel and the jobs run."""
