"""Batch inference with the champion model."""
