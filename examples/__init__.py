"""Runnable example applications; each module's docstring says how to start it."""
