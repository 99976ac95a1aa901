"""Data sources: readers for real corpora and seeded generators for the built-in data."""
