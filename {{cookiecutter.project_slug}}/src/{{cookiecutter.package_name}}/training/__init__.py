"""Training: build the training set, split by time, fit, log and register a model version."""
