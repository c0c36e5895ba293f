"""The application stacks compared by the benchmarks, and the requests they are fed.

Every stack wraps the same Starlette application, so the differences between them are the cost of
the middleware alone:

- ``bare``: the Starlette application by itself;
- ``noop``: a pure-ASGI middleware that only forwards (the floor for any middleware);
- ``anonymous``: ``TikTokAuthMiddleware``, request without an identity cookie;
- ``signed_in``: ``TikTokAuthMiddleware``, request with a valid identity cookie;
- ``session_auth``: Starlette's ``SessionMiddleware`` + ``AuthenticationMiddleware``, the session
  holding only the user's id and the backend building the user from it, signed in (what an
  application would otherwise write).

The profile is TikTok-sized: real avatar URLs are signed CDN URLs of about 290 characters, three
per user (:func:`avatar_urls`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
from base64 import b64encode
from typing import Any

from starlette.applications import Starlette
from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    BaseUser,
    SimpleUser,
)
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tiktok_asgi import TikTokAuthMiddleware, TikTokSettings, TikTokUser
from tiktok_asgi._cookies.identity import Identity, IdentityCookie

SECRET = "benchmark-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
STACKS = ("bare", "noop", "anonymous", "signed_in", "session_auth")

SETTINGS = TikTokSettings(
    client_key="bench-client-key",
    client_secret="bench-client-secret",
    redirect_uri="http://127.0.0.1:8000/auth/tiktok/callback",
    secret_key=SECRET,
    scopes=("user.info.basic", "user.info.profile"),
)


def avatar_urls(seed: str) -> tuple[str, str, str]:
    """``avatar_url``, ``avatar_url_100`` and ``avatar_large_url`` as TikTok gives them today:
    one picture at three sizes, each URL signed on its own (``dr``, ``refresh_token``,
    ``x-signature`` differ), about 290 characters each; distinct for each ``seed``."""

    def hexes(label: str, n: int) -> str:
        return hashlib.sha256(f"{seed}:{label}".encode()).hexdigest()[:n]

    picture = hexes("picture", 32)
    urls = []
    for size in (168, 100, 1080):
        signature = hashlib.sha256(f"{seed}:{size}".encode()).digest()
        urls.append(
            f"https://p16-common-sign.tiktokcdn-us.com/tos-maliva-avt-0068/{picture}"
            f"~tplv-tiktokx-cropcenter:{size}:{size}.jpeg?dr={9600 + size % 97}"
            f"&refresh_token={hexes(f'refresh{size}', 8)}&x-expires=1786885200"
            f"&x-signature={base64_text(signature)[:28]}%3D&t=4d5b0474&ps=13740610"
            "&shp=a5d48078&shcp=81f88b70&idc=useast5"
        )
    return urls[0], urls[1], urls[2]


def base64_text(data: bytes) -> str:
    return b64encode(data, altchars=b"AB").decode("ascii")


_AVATARS = avatar_urls("maya.cooks")
AVATAR_URL_LENGTH = round(sum(map(len, _AVATARS)) / 3)

# A profile as a real sign-in with user.info.basic and user.info.profile leaves it.
USER = TikTokUser(
    open_id="-000Ld9tNs3cVTqTKnOO9X8cK6zTZ4rVTHnG",
    union_id="c9c60f44-a68e-4f5d-84dd-ce22faeb0ba1",
    display_name="Maya Chen",
    avatar_url=_AVATARS[0],
    avatar_url_100=_AVATARS[1],
    avatar_large_url=_AVATARS[2],
    username="maya.cooks",
    bio_description="Weeknight recipes in 60 seconds",
    profile_deep_link="https://vm.tiktok.com/ZMexample/",
    is_verified=False,
    granted_scopes=("user.info.basic", "user.info.profile"),
)

OTHER_COOKIES = (
    "_ga=GA1.1.1234567890.1700000000; theme=dark; "
    "csrftoken=Qm9vbGVhbkNzcmZUb2tlbkZvckJlbmNobWFya2luZw; lang=en-GB"
)
BASE_HEADERS: list[tuple[bytes, bytes]] = [
    (b"host", b"127.0.0.1:8000"),
    (
        b"user-agent",
        b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        b"Chrome/126.0.0.0 Safari/537.36",
    ),
    (
        b"accept",
        b"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
    ),
    (b"accept-language", b"en-GB,en;q=0.9"),
    (b"accept-encoding", b"gzip, deflate, br"),
    (b"sec-fetch-dest", b"document"),
    (b"sec-fetch-mode", b"navigate"),
    (b"sec-fetch-site", b"same-origin"),
    (b"connection", b"keep-alive"),
]


async def _home(request: Request) -> Response:
    return PlainTextResponse("hello")


async def _session_login(request: Request) -> Response:
    request.session["user_id"] = USER.open_id
    return PlainTextResponse("signed in")


def starlette_app() -> Starlette:
    return Starlette(
        routes=[Route("/", _home), Route("/session-login", _session_login, methods=["POST"])]
    )


class NoopMiddleware:
    """Forwards every call unchanged: what any pure-ASGI middleware costs at least."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


class SessionUserBackend(AuthenticationBackend):
    """The user whose id Starlette's signed session cookie keeps, built from that id."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        user_id = conn.session.get("user_id")
        if not user_id:
            return None
        return AuthCredentials(["authenticated"]), SimpleUser(user_id)


def session_auth_app(inner: ASGIApp) -> ASGIApp:
    app = AuthenticationMiddleware(inner, backend=SessionUserBackend())
    return SessionMiddleware(app, secret_key=SECRET, https_only=False)


def build(stack: str, inner: ASGIApp | None = None) -> ASGIApp:
    """The ASGI application for ``stack`` around ``inner`` (a fresh Starlette app by default)."""
    app: ASGIApp = inner if inner is not None else starlette_app()
    if stack == "bare":
        return app
    if stack == "noop":
        return NoopMiddleware(app)
    if stack in ("anonymous", "signed_in"):
        return TikTokAuthMiddleware(app, settings=SETTINGS)
    if stack == "session_auth":
        return session_auth_app(app)
    raise ValueError(f"unknown stack {stack!r}")


def identity_cookie(user: TikTokUser = USER) -> str:
    """``name=value`` of a valid identity cookie for ``user``, as the middleware sets it."""
    return IdentityCookie(SETTINGS).encode(Identity(user)).split(";", 1)[0]


def session_cookie() -> str:
    """``session=…`` holding :data:`USER`'s id, as Starlette's ``SessionMiddleware`` sets it."""
    app = session_auth_app(starlette_app())
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    async def login() -> None:
        await app(http_scope("/session-login", BASE_HEADERS, method="POST"), receive, send)

    asyncio.run(login())
    for key, value in sent[0]["headers"]:
        if key == b"set-cookie":
            return str(value.decode("latin-1").split(";", 1)[0])
    raise RuntimeError("SessionMiddleware set no cookie")


def user_number(i: int) -> TikTokUser:
    """The ``i``-th of many distinct users, each a profile like :data:`USER`'s, with avatar URLs
    of its own."""
    small, medium, large = avatar_urls(f"user-{i}")
    return dataclasses.replace(
        USER,
        open_id=f"-000Ld9tNs3cVTqTKnOO9X8cK6z{i:09d}",
        avatar_url=small,
        avatar_url_100=medium,
        avatar_large_url=large,
    )


def identity_cookies(count: int) -> list[str]:
    """``name=value`` of valid identity cookies of ``count`` distinct users."""
    cookie = IdentityCookie(SETTINGS)
    return [cookie.encode(Identity(user_number(i))).split(";", 1)[0] for i in range(count)]


def session_cookies(count: int) -> list[str]:
    """``session=…`` of ``count`` distinct users' ids, signed by ``SessionMiddleware``'s own
    signer exactly as it signs a session (the login route would add a request per user)."""
    middleware = SessionMiddleware(starlette_app(), secret_key=SECRET, https_only=False)
    cookies = []
    for i in range(count):
        user_id = f"-000Ld9tNs3cVTqTKnOO9X8cK6z{i:09d}"  # user_number(i)'s
        data = b64encode(json.dumps({"user_id": user_id}).encode("utf-8"))
        cookies.append(f"session={middleware.signer.sign(data).decode('utf-8')}")
    return cookies


def cookie_header(*extra: str) -> tuple[bytes, bytes]:
    return (b"cookie", "; ".join((OTHER_COOKIES, *extra)).encode("latin-1"))


def headers_for(stack: str) -> list[tuple[bytes, bytes]]:
    """The request headers each stack is measured with (signed-in stacks carry their cookie)."""
    if stack == "signed_in":
        return [*BASE_HEADERS, cookie_header(identity_cookie())]
    if stack == "session_auth":
        return [*BASE_HEADERS, cookie_header(session_cookie())]
    return [*BASE_HEADERS, cookie_header()]


def http_scope(
    path: str, headers: list[tuple[bytes, bytes]], *, method: str = "GET"
) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("ascii"),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
