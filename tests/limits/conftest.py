"""Fixtures of the request-limit tests: an emulator that knows a native app, and a real
redis-server for the shared counts."""

from __future__ import annotations

import pytest

from tests.limits.helpers import APP_LINK
from tests.tokens.conftest import redis_server, shared_redis_server  # noqa: F401 (fixtures)
from tiktok_asgi.emulator import TikTokEmulator


@pytest.fixture
def emulator() -> TikTokEmulator:
    return TikTokEmulator(redirect_uris=["https://testserver/auth/tiktok/callback", APP_LINK])
