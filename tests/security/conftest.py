"""Fixtures of the security tests: the real middleware in front of a small app, on the emulator."""

from __future__ import annotations

import pytest

from tests.conftest import make_app
from tiktok_asgi import TikTokAuthMiddleware, TikTokSettings
from tiktok_asgi.emulator import TikTokEmulator


@pytest.fixture(scope="module")
def emu() -> TikTokEmulator:
    # Module-scoped so that Hypothesis examples share it; the rate limit would otherwise
    # refuse the hundreds of sign-ins a property makes.
    return TikTokEmulator(rate_limit=None)


@pytest.fixture(scope="module")
def settings(emu: TikTokEmulator) -> TikTokSettings:
    return emu.settings()


@pytest.fixture(scope="module")
def app(emu: TikTokEmulator, settings: TikTokSettings) -> TikTokAuthMiddleware:
    return make_app(settings, emu.transport())
