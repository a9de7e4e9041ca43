"""Input data: reading, checking and cleaning the raw trips."""
