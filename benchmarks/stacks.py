"""The application stacks compared by the benchmarks, and the requests they are fed.

Every stack wraps the same Starlette application, so the differences between them are the cost of
the middleware alone:

- ``bare``: the Starlette application by itself;
- ``noop``: a pure-ASGI middleware that only forwards (the floor for any middleware);
- ``anonymous``: ``TikTokAuthMiddleware``, request without an identity cookie;
- ``signed_in``: ``TikTokAuthMiddleware``, request with a valid identity cookie;
- ``session_auth``: Starlette's ``SessionMiddleware`` + ``AuthenticationMiddleware`` with a backend
  reading the user from the session, signed in (what an application would otherwise write).
"""

from __future__ import annotations

import asyncio
import dataclasses
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

# A profile as a real sign-in with user.info.basic and user.info.profile leaves it.
USER = TikTokUser(
    open_id="-000Ld9tNs3cVTqTKnOO9X8cK6zTZ4rVTHnG",
    union_id="c9c60f44-a68e-4f5d-84dd-ce22faeb0ba1",
    display_name="Maya Chen",
    avatar_url="https://p16-sign-va.tiktokcdn.com/tos-maliva-avt-0068/7310b7b0~c5_168x168.jpeg"
    "?x-expires=1700000000&x-signature=Zm9vYmFyYmF6cXV4",
    avatar_url_100="https://p16-sign-va.tiktokcdn.com/tos-maliva-avt-0068/7310b7b0~c5_100x100.jpeg"
    "?x-expires=1700000000&x-signature=YmF6cXV4Zm9vYmFy",
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
    request.session["user"] = USER.to_dict()
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
    """The user kept in Starlette's signed session cookie."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        data = conn.session.get("user")
        if not data:
            return None
        user = SimpleUser(data.get("display_name") or data["open_id"])
        return AuthCredentials(["authenticated", *data.get("granted_scopes", ())]), user


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
    """``session=…`` holding :data:`USER`, as Starlette's ``SessionMiddleware`` sets it."""
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
    """The ``i``-th of many distinct users, each a profile like :data:`USER`'s."""
    return dataclasses.replace(USER, open_id=f"-000Ld9tNs3cVTqTKnOO9X8cK6z{i:09d}")


def identity_cookies(count: int) -> list[str]:
    """``name=value`` of valid identity cookies of ``count`` distinct users."""
    cookie = IdentityCookie(SETTINGS)
    return [cookie.encode(Identity(user_number(i))).split(";", 1)[0] for i in range(count)]


def session_cookies(count: int) -> list[str]:
    """``session=…`` of ``count`` distinct users, signed by ``SessionMiddleware``'s own signer
    exactly as it signs a session (the login route would add a request per user)."""
    middleware = SessionMiddleware(starlette_app(), secret_key=SECRET, https_only=False)
    cookies = []
    for i in range(count):
        data = b64encode(json.dumps({"user": user_number(i).to_dict()}).encode("utf-8"))
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
