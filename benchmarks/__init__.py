"""Benchmarks of the template and of the project it generates (see docs/benchmarks.md)."""
