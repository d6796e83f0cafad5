"""Runnable walkthroughs: ``python -m demos.NAME`` from the repository root."""
