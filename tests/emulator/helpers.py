"""Helpers for the emulator tests: URLs, a hand-moved clock, an in-process client, a login walk."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from httpx2 import AsyncClient, Response

from tiktok_asgi.emulator import TikTokEmulator

AUTHORIZE = "https://www.tiktok.com/v2/auth/authorize/"
TOKEN = "https://open.tiktokapis.com/v2/oauth/token/"
REVOKE = "https://open.tiktokapis.com/v2/oauth/revoke/"
USERINFO = "https://open.tiktokapis.com/v2/user/info/"
VIDEOS = "https://open.tiktokapis.com/v2/video/list/"
REDIRECT = "https://testserver/auth/tiktok/callback"

VERIFIER = "verifier-" + "x" * 50
B64_CHALLENGE = (
    base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()
)
HEX_CHALLENGE = hashlib.sha256(VERIFIER.encode()).hexdigest()


def challenge_for(emu: TikTokEmulator, verifier: str = VERIFIER) -> str:
    """The PKCE challenge ``emu`` expects: base64url for web apps, hex for desktop apps."""
    digest = hashlib.sha256(verifier.encode()).digest()
    if emu.app_type == "desktop":
        return digest.hex()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class Clock:
    """A clock tests move by hand."""

    def __init__(self, now: float = 1_767_225_600.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def authorize_url(emu: TikTokEmulator, base: str = AUTHORIZE, **params: str | None) -> str:
    """A valid authorize URL (PKCE for ``VERIFIER``); a keyword set to None drops that parameter."""
    query: dict[str, str | None] = {
        "client_key": emu.client_key,
        "scope": "user.info.basic,user.info.profile,user.info.stats,video.list",
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "state": "state-123",
        "code_challenge": challenge_for(emu),
        "code_challenge_method": "S256",
    }
    query.update(params)
    return f"{base}?{urlencode({k: v for k, v in query.items() if v is not None})}"


def callback_params(url: str) -> dict[str, str]:
    """The redirect's query, decoded exactly once (as an ASGI framework does)."""
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@dataclass
class Api:
    """An in-process client for the emulator plus the steps of a login."""

    emu: TikTokEmulator
    client: AsyncClient

    def code(self, **params: str | None) -> str:
        return callback_params(self.emu.approve(authorize_url(self.emu, **params)))["code"]

    async def token(self, **form: str | None) -> Response:
        body = {
            "client_key": self.emu.client_key,
            "client_secret": self.emu.client_secret,
            "grant_type": "authorization_code",
            "redirect_uri": REDIRECT,
            "code_verifier": VERIFIER,
        }
        body.update(form)  # type: ignore[arg-type]
        return await self.client.post(TOKEN, data={k: v for k, v in body.items() if v is not None})

    async def login(self, scopes: list[str] | None = None, **params: str | None) -> dict[str, Any]:
        url = authorize_url(self.emu, **params)
        code = callback_params(self.emu.approve(url, scopes=scopes))["code"]
        response = await self.token(code=code)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    async def refresh(self, refresh_token: str, **extra: str) -> Response:
        form = {
            "client_key": self.emu.client_key,
            "client_secret": self.emu.client_secret,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            **extra,
        }
        return await self.client.post(TOKEN, data=form)

    async def userinfo(self, access_token: str, fields: str = "open_id,display_name") -> Response:
        headers = {"Authorization": f"Bearer {access_token}"}
        return await self.client.get(USERINFO, params={"fields": fields}, headers=headers)
