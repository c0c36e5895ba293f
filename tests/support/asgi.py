"""A raw ASGI driver: one HTTP request handed to an app exactly as given, the answer collected.

:func:`asgi_call` sends one request (no client-side re-encoding of the path or query) and
collects status, headers and body as an :class:`Answer`; :func:`call` does it from synchronous
code. :class:`AsgiBrowser` adds a cookie jar, for flows of several requests.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx2
from starlette.types import ASGIApp, Message

ORIGIN = "https://testserver"


@dataclass
class Answer:
    """One HTTP answer from the app: status, raw headers, body (shaped like an httpx2 response:
    ``status_code``, ``headers["location"]``, ``headers.get_list("set-cookie")``, ``json()``)."""

    status: int
    raw_headers: list[tuple[bytes, bytes]]
    body: bytes
    headers: httpx2.Headers = field(init=False)

    def __post_init__(self) -> None:
        self.headers = httpx2.Headers(self.raw_headers)

    @property
    def status_code(self) -> int:
        return self.status

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def all(self, name: str) -> list[str]:
        """Every value of header ``name``, in order."""
        return self.headers.get_list(name)

    def json(self) -> Any:
        return json.loads(self.body)

    def cookies(self) -> dict[str, str]:
        """``name -> value`` of every ``Set-Cookie`` that sets a value (clearing ones left out)."""
        out = {}
        for header in self.all("set-cookie"):
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if value:
                out[name] = value
        return out


async def asgi_call(
    app: ASGIApp,
    method: str,
    path: str,
    query_string: bytes = b"",
    headers: Sequence[tuple[bytes, bytes]] = (),
    body: bytes = b"",
    *,
    origin: str = ORIGIN,
    root_path: str = "",
) -> Answer:
    """One HTTP request handed to ``app`` exactly as given (no client-side re-encoding); the
    ``Host`` header follows ``origin`` unless ``headers`` carry one. ``path`` goes into the scope
    as given, beside ``root_path``: whether it includes the root path is the caller's choice."""
    site = urlsplit(origin)
    port = site.port or (443 if site.scheme == "https" else 80)
    raw_headers = list(headers)
    if not any(k == b"host" for k, _ in raw_headers):
        raw_headers.insert(0, (b"host", site.netloc.encode("latin-1")))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": site.scheme,
        "path": path,
        "raw_path": path.encode("utf-8", "surrogateescape"),
        "root_path": root_path,
        "query_string": query_string,
        "headers": raw_headers,
        "client": ("127.0.0.1", 50000),
        "server": (site.hostname, port),
    }
    sent = False
    messages: list[Message] = []

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        messages.append(message)

    await app(scope, receive, send)
    start = next(m for m in messages if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return Answer(start["status"], list(start.get("headers", [])), content)


def call(app: ASGIApp, *args: Any, **kwargs: Any) -> Answer:
    """:func:`asgi_call` from synchronous code (Hypothesis tests are synchronous)."""
    return asyncio.run(asgi_call(app, *args, **kwargs))


def cookie_header(cookies: Mapping[str, str]) -> tuple[bytes, bytes]:
    return (b"cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()).encode("latin-1"))


def keep_cookies(jar: dict[str, str], set_cookies: Iterable[str]) -> None:
    """Update ``jar`` (name → value) from ``Set-Cookie`` headers, as a browser would (by name
    only: no paths, no expiry); a cookie set empty or with ``Max-Age=0`` is removed."""
    for header in set_cookies:
        name, _, rest = header.partition("=")
        value = rest.split(";", 1)[0]
        if value and "Max-Age=0" not in header:
            jar[name] = value
        else:
            jar.pop(name, None)


class AsgiBrowser:
    """A browser over a raw ASGI app: sends ``headers`` with every request, keeps the cookies
    the app sets (by name only: no paths, no expiry) and sends them back."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        origin: str = ORIGIN,
        headers: Iterable[tuple[bytes, bytes]] = (),
        cookies: Mapping[str, str] | None = None,
    ) -> None:
        self.app = app
        self.origin = origin
        self.headers = list(headers)
        self.cookies: dict[str, str] = dict(cookies or {})

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> Answer:
        """``url`` is a path with its query, or an absolute URL (whose origin is ignored)."""
        parts = urlsplit(url)
        sent = [
            *self.headers,
            *((k.encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()),
        ]
        if self.cookies:
            sent.append(cookie_header(self.cookies))
        answer = await asgi_call(
            self.app,
            method,
            unquote(parts.path),
            parts.query.encode("latin-1"),
            sent,
            body,
            origin=self.origin,
        )
        keep_cookies(self.cookies, answer.all("set-cookie"))
        return answer
