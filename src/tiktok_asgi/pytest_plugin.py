"""pytest fixtures for apps that sign in with TikTok (loaded automatically once installed).

    def test_login(tiktok_emulator, tiktok_settings): ...

``tiktok_emulator`` is a fresh :class:`~tiktok_asgi.emulator.TikTokEmulator` per test;
``tiktok_settings`` are middleware settings wired to it (redirect URI
``https://testserver/auth/tiktok/callback``, matching ``TestClient(app, base_url="https://testserver")``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tiktok_asgi.emulator import TikTokEmulator
    from tiktok_asgi.settings import TikTokSettings

__all__ = ["tiktok_emulator", "tiktok_settings"]


@pytest.fixture
def tiktok_emulator() -> TikTokEmulator:
    """A fresh offline TikTok per test: ``tiktok_emulator.transport()`` answers for TikTok."""
    # Imported here so that merely having the plugin installed costs nothing.
    from tiktok_asgi.emulator import TikTokEmulator

    return TikTokEmulator()


@pytest.fixture
def tiktok_settings(tiktok_emulator: TikTokEmulator) -> TikTokSettings:
    """``TikTokSettings`` for ``tiktok_emulator``, redirecting to ``https://testserver``."""
    return tiktok_emulator.settings()
