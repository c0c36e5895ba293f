"""Fixtures of the security tests: the real middleware in front of a small app, on the emulator."""

from __future__ import annotations

import pytest

from tests.conftest import make_app
from tiktok_asgi import TikTokAuthMiddleware, TikTokSettings
from tiktok_asgi.emulator import TikTokEmulator


@pytest.fixture(scope="module")
def tiktok_emulator() -> TikTokEmulator:
    # Module-scoped so that Hypothesis examples share it; the rate limit would otherwise
    # refuse the hundreds of sign-ins a property makes.
    return TikTokEmulator(rate_limit=None)


@pytest.fixture(scope="module")
def tiktok_settings(tiktok_emulator: TikTokEmulator) -> TikTokSettings:
    return tiktok_emulator.settings()


@pytest.fixture(scope="module")
def app(tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings) -> TikTokAuthMiddleware:
    return make_app(tiktok_settings, tiktok_emulator.transport())
