"""What the three examples share: this app's own users (a tiny in-memory "database") with the
two login hooks, settings from ``TIKTOK_*`` variables (the TikTok emulator only when
``TIKTOK_EMULATOR=1`` asks for it), and the headers of their HTML pages."""

from __future__ import annotations

import dataclasses
import itertools
import os
from collections.abc import Mapping
from typing import Any

from tiktok_asgi import TikTokSettings, TikTokUser
from tiktok_asgi.emulator import TikTokEmulator

ORIGIN = os.environ.get("EXAMPLE_ORIGIN", "http://127.0.0.1:8000")


class Accounts:
    """This app's users by TikTok ``open_id``, and the hooks that keep them."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}  # TikTok open_id -> this app's user id
        self.banned: set[str] = set()
        self._next_id = itertools.count(1)

    async def on_login(self, user: TikTokUser, token: Mapping[str, Any]) -> TikTokUser | None:
        """At sign-in: refuse banned accounts, find or create the app user, keep its id."""
        if user.open_id in self.banned:
            return None  # 403 login_rejected
        if user.open_id not in self.ids:
            self.ids[user.open_id] = next(self._next_id)
        return dataclasses.replace(user, extra={"app_user_id": self.ids[user.open_id]})

    async def load_user(self, user: TikTokUser) -> TikTokUser | None:
        """On every request: a banned account is signed out at once."""
        return None if user.open_id in self.banned else user


# The pages below are plain HTML with inline nothing: a strict policy costs them nothing.
PAGE_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
}


def configure() -> tuple[TikTokSettings, TikTokEmulator | None]:
    """Real TikTok from ``TIKTOK_*`` variables (``TIKTOK_SECRET_KEY`` included: a missing one
    fails naming it); the emulator, to mount at ``/tiktok``, only with ``TIKTOK_EMULATOR=1``."""
    if os.environ.get("TIKTOK_EMULATOR", "").strip().lower() not in ("1", "true", "yes", "on"):
        return TikTokSettings.from_env(), None
    emulator = TikTokEmulator()
    settings = emulator.settings(
        redirect_uri=f"{ORIGIN}/auth/tiktok/callback",
        base_url=f"{ORIGIN}/tiktok",
        # Without TIKTOK_SECRET_KEY: the public test key on loopback, a random key elsewhere.
        secret_key=os.environ.get("TIKTOK_SECRET_KEY", "").strip() or None,
    )
    return settings, emulator
