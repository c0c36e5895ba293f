"""A sign-in against its floor: the middleware's login answer and callback beside the least work
any correct TikTok sign-in must do, in one run, on one thread, against the same emulator.

The floor, written out by hand with no framework:

- login answer: a state and a PKCE pair, the authorize URL, one signed flow cookie;
- callback: the flow cookie verified, the token POST and the user-info GET through one reused
  httpx2 client, one signed identity cookie.

Both sides talk to the emulator through a :class:`callback.TimedTransport`; TikTok's own share
(time inside the transport) is subtracted, so the figures are this side's CPU time alone.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import statistics
import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import callback
import httpx2
import stacks

from tiktok_asgi import TikTokAuthMiddleware, TikTokSettings
from tiktok_asgi.emulator import TikTokEmulator
from tiktok_asgi.user import fields_for_scopes

_KEY = hashlib.sha256(stacks.SECRET.encode()).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _sign(payload: Any) -> str:
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    return f"{body}.{_b64(hmac.new(_KEY, body.encode(), hashlib.sha256).digest())}"


def _verify(value: str) -> Any:
    body, _, mac = value.rpartition(".")
    expected = _b64(hmac.new(_KEY, body.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(mac, expected):
        raise ValueError("bad flow cookie")
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


class Floor:
    """The hand-written sign-in, sharing one httpx2 client for every call to TikTok."""

    def __init__(self, settings: TikTokSettings, transport: httpx2.AsyncBaseTransport) -> None:
        self.settings = settings
        self.client = httpx2.AsyncClient(transport=transport, timeout=settings.http_timeout)

    def login(self) -> tuple[str, str]:
        s = self.settings
        state, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(48)
        query = urlencode(
            {
                "client_key": s.client_key,
                "response_type": "code",
                "scope": ",".join(s.scopes),
                "redirect_uri": s.redirect_uri,
                "state": state,
                "code_challenge": _b64(hashlib.sha256(verifier.encode()).digest()),
                "code_challenge_method": "S256",
            }
        )
        return f"{s.authorize_url}?{query}", _sign({"state": state, "verifier": verifier})

    async def callback(self, callback_url: str, flow_cookie: str) -> str:
        s = self.settings
        query = parse_qs(urlsplit(callback_url).query)
        flow = _verify(flow_cookie)
        if not hmac.compare_digest(flow["state"], query["state"][0]):
            raise ValueError("state mismatch")
        token = (
            await self.client.post(
                s.token_url,
                data={
                    "client_key": s.client_key,
                    "client_secret": s.client_secret,
                    "code": query["code"][0],
                    "grant_type": "authorization_code",
                    "redirect_uri": s.redirect_uri,
                    "code_verifier": flow["verifier"],
                },
            )
        ).json()
        info = (
            await self.client.get(
                s.userinfo_url,
                params={"fields": ",".join(fields_for_scopes(s.scopes))},
                headers={"authorization": f"Bearer {token['access_token']}"},
            )
        ).json()
        return _sign({**info["data"]["user"], "t": int(time.time())})


async def _floor_round(
    floor: Floor, emu: TikTokEmulator, timed: callback.TimedTransport
) -> tuple[float, float]:
    started = time.thread_time()
    url, cookie = floor.login()
    login = time.thread_time() - started
    callback_url = emu.approve(url)
    inside = timed.elapsed
    started = time.thread_time()
    await floor.callback(callback_url, cookie)
    return login, time.thread_time() - started - (timed.elapsed - inside)


def run(rounds: int = 5, sign_ins: int = 100, warmup: int = 20) -> dict[str, float]:
    """Median µs of login + callback (beyond TikTok's share) for the middleware and the floor,
    measured in interleaved rounds."""
    emu = TikTokEmulator(rate_limit=None)
    timed = callback.TimedTransport(emu.transport())
    settings = emu.settings(
        callback.REDIRECT_URI, secret_key=stacks.SECRET, scopes=("user.info.basic",)
    )
    app = TikTokAuthMiddleware(stacks.starlette_app(), settings=settings, transport=timed)
    floor = Floor(settings, timed)
    ours: list[float] = []
    theirs: list[float] = []

    async def main() -> None:
        for _ in range(warmup):
            await callback.sign_in(app, emu, timed)
            await _floor_round(floor, emu, timed)
        for _ in range(rounds):
            for _ in range(sign_ins):
                login, total, tiktok = await callback.sign_in(app, emu, timed)
                ours.append(login + total - tiktok)
            for _ in range(sign_ins):
                login, rest = await _floor_round(floor, emu, timed)
                theirs.append(login + rest)

    asyncio.run(main())
    middleware_us = statistics.median(ours) * 1e6
    floor_us = statistics.median(theirs) * 1e6
    return {"middleware_us": middleware_us, "floor_us": floor_us, "ratio": middleware_us / floor_us}


if __name__ == "__main__":
    print(run())
