"""The validation gate: metrics against thresholds and the champion, compliance, smoke test."""
