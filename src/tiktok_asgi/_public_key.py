"""The emulator's published secret key, known here so that the settings can refuse it."""

from __future__ import annotations

__all__ = ["PUBLIC_TEST_KEY"]

# Printed in the docs and the source: anyone can sign cookies with it.
PUBLIC_TEST_KEY = "emulator-test-secret-key-never-use-in-production"  # 48 characters
