"""Parity of a bit string, many-to-one: "0110" -> even (0) or odd (1).

The sixth task of tests/test_sixth_task.py: a whole task in one package, copied into
src/rnnlab/tasks/parity/ of a temporary repository and run by `dvc repro`, with no shared file
edited. Small enough to read as the template for a new task."""
