"""The one table of TikTok's endpoints that the app, the transport, faults and settings read.

Each endpoint has a name (used by ``inject()``, ``count()`` and :class:`RecordedRequest`), a
path, the host TikTok serves it on, a handler per HTTP method, how its errors look, and the
``TikTokSettings`` field that holds its URL.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from tiktok_asgi.emulator import _api, _oauth, _qrcode, _web
from tiktok_asgi.emulator._core import Core
from tiktok_asgi.emulator._errors import Rendering

__all__ = [
    "API_HOST",
    "AUTHORIZE_HOST",
    "ENDPOINTS",
    "ENDPOINT_NAMES",
    "HOSTS",
    "Endpoint",
    "Handler",
    "check_endpoint",
    "endpoint_at",
]

AUTHORIZE_HOST = "www.tiktok.com"
API_HOST = "open.tiktokapis.com"
HOSTS = (AUTHORIZE_HOST, API_HOST)

Handler = Callable[[Core, Request, bytes], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class Endpoint:
    name: str
    path: str
    host: str
    handlers: Mapping[str, Handler]
    render: Rendering
    setting: str | None  # the TikTokSettings field holding its URL, if the middleware calls it

    @property
    def methods(self) -> tuple[str, ...]:
        return tuple(self.handlers)

    @property
    def url(self) -> str:
        """Where TikTok serves it."""
        return f"https://{self.host}{self.path}"


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "authorize",
        "/v2/auth/authorize/",
        AUTHORIZE_HOST,
        {"GET": _web.authorize_page, "POST": _web.authorize_form},
        "page",
        "authorize_url",
    ),
    Endpoint("token", "/v2/oauth/token/", API_HOST, {"POST": _oauth.token}, "flat", "token_url"),
    Endpoint(
        "revoke", "/v2/oauth/revoke/", API_HOST, {"POST": _oauth.revoke}, "flat", "revoke_url"
    ),
    Endpoint(
        "userinfo", "/v2/user/info/", API_HOST, {"GET": _api.userinfo}, "envelope", "userinfo_url"
    ),
    Endpoint(
        "video_list", "/v2/video/list/", API_HOST, {"POST": _api.video_list}, "envelope", None
    ),
    # Login Kit with QR code: the middleware reaches both under api_base_url.
    Endpoint(
        "get_qrcode", "/v2/oauth/get_qrcode/", API_HOST, {"POST": _qrcode.get_qrcode}, "flat", None
    ),
    Endpoint(
        "check_qrcode",
        "/v2/oauth/check_qrcode/",
        API_HOST,
        {"POST": _qrcode.check_qrcode},
        "flat",
        None,
    ),
    # The page a scan URL opens on the phone.
    Endpoint(
        "qr_scan",
        _qrcode.SCAN_PATH,
        AUTHORIZE_HOST,
        {"GET": _qrcode.scan_page, "POST": _qrcode.scan_form},
        "page",
        None,
    ),
)
ENDPOINT_NAMES = tuple(e.name for e in ENDPOINTS)
_BY_NAME = {e.name: e for e in ENDPOINTS}
_BY_PATH = {e.path: e for e in ENDPOINTS}


def endpoint_at(path: str) -> Endpoint | None:
    """The endpoint served at ``path`` (without a mount prefix)."""
    return _BY_PATH.get(path)


def check_endpoint(name: str) -> Endpoint:
    """The endpoint called ``name``; ``ValueError`` naming the valid ones otherwise."""
    endpoint = _BY_NAME.get(name)
    if endpoint is None:
        raise ValueError(f"endpoint must be one of {', '.join(ENDPOINT_NAMES)}; got {name!r}")
    return endpoint
