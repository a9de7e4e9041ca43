"""Drift and performance monitoring of the inference log against the training baseline."""
