"""Clearing tossed identity cookies on any request path: the ``Set-Cookie`` headers stay ASCII
and nothing in the path can add an attribute to them (or fail the answer with a 500)."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.conftest import make_app, sign_in
from tests.core.helpers import parse_set_cookie
from tests.support.asgi import call
from tiktok_asgi import TikTokAuthMiddleware
from tiktok_asgi.emulator import TikTokEmulator

HOST = "app.shop.example"


@pytest.fixture
def tossed(tiktok_emulator: TikTokEmulator) -> tuple[TikTokAuthMiddleware, str]:
    """The app (a cookie name without ``__Host-``, which can be tossed) and a ``Cookie`` header
    carrying the identity cookie twice."""
    settings = tiktok_emulator.settings(
        f"https://{HOST}/auth/tiktok/callback", cookie_name="shop_session"
    )
    app = make_app(settings, tiktok_emulator.transport())
    browser = TestClient(app, base_url=f"https://{HOST}")
    sign_in(browser, settings, tiktok_emulator, user="mayacooks")
    mine = browser.cookies["shop_session"]
    return app, f"shop_session={mine}; shop_session={mine}"


def _clears(app: TikTokAuthMiddleware, path: str, cookie: str) -> list[bytes]:
    answer = call(
        app, "GET", path, headers=[(b"host", HOST.encode()), (b"cookie", cookie.encode())]
    )
    assert answer.status_code == 404  # the app's own answer, not a 500
    return [v for k, v in answer.raw_headers if k.lower() == b"set-cookie"]


def _paths(headers: list[bytes]) -> set[str]:
    paths = set()
    for raw in headers:
        _, _, attributes = parse_set_cookie(raw.decode("ascii"))
        paths |= {a.removeprefix("Path=") for a in attributes if a.startswith("Path=")}
    return paths


@pytest.mark.parametrize(
    ("path", "encoded"),
    [
        ("/ü/x", ["/%C3%BC", "/%C3%BC/x"]),  # Latin-1: was sent as non-ASCII bytes
        ("/€/x", ["/%E2%82%AC", "/%E2%82%AC/x"]),  # not Latin-1: was a 500
        ("/日本/x", ["/%E6%97%A5%E6%9C%AC", "/%E6%97%A5%E6%9C%AC/x"]),
        ("/a b/c", ["/a%20b", "/a%20b/c"]),
        ("/100%/x", ["/100%25", "/100%25/x"]),  # the scope's path is decoded: % was %25
    ],
)
def test_non_ascii_paths_are_percent_encoded(
    tossed: tuple[TikTokAuthMiddleware, str], path: str, encoded: list[str]
) -> None:
    app, cookie = tossed
    headers = _clears(app, path, cookie)
    assert headers
    for raw in headers:
        assert raw.isascii(), raw
    assert set(encoded) <= _paths(headers)


@pytest.mark.parametrize(
    "path",
    ["/a;Domain=evil.example/b", "/a,Domain=evil.example/b", "/a; Domain=x/b", "/a\r\nX-Evil: 1/b"],
)
def test_separators_in_the_path_add_no_attribute(
    tossed: tuple[TikTokAuthMiddleware, str], path: str
) -> None:
    app, cookie = tossed
    headers = _clears(app, path, cookie)
    assert headers
    for raw in headers:
        text = raw.decode("ascii")
        assert "\r" not in text
        assert "\n" not in text
        name, _, attributes = parse_set_cookie(text)
        assert name == "shop_session"
        assert all(a.split("=")[0] in _ATTRIBUTES for a in attributes), attributes
        domains = [a for a in attributes if a.startswith("Domain=")]
        assert set(domains) <= {"Domain=app.shop.example", "Domain=shop.example"}
    # The path's first level is cleared, its separator encoded.
    assert any(p.startswith("/a%") and p.count("/") == 1 for p in _paths(headers))


_ATTRIBUTES = {"Path", "Max-Age", "Expires", "Domain", "HttpOnly", "Secure", "SameSite"}


def test_through_a_client_too(tossed: tuple[TikTokAuthMiddleware, str]) -> None:
    app, cookie = tossed
    client = TestClient(app, base_url=f"https://{HOST}")
    answer = client.get("/€;Domain=evil.example/x", headers={"cookie": cookie})
    assert answer.status_code == 404
    assert "/%E2%82%AC%3BDomain=evil.example/x" in _paths(
        [h.encode() for h in answer.headers.get_list("set-cookie")]
    )
