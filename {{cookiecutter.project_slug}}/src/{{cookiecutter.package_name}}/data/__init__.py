"""Input data: the seeded sample generator."""
