"""An ``Origin`` is this site's only with the same scheme, host and port: the plain-http twin of
an https site is same-site (its form posts carry the Lax identity cookie) but not this site.
Default ports are the same origin written twice (``https://h`` is ``https://h:443``)."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import BASE_URL, make_app, sign_in
from tests.frameworks.helpers import ws_headers
from tiktok_asgi import TikTokSettings
from tiktok_asgi._origins import normalised_origin, origin_allowed, socket_origin_allowed
from tiktok_asgi.emulator import TikTokEmulator


@pytest.fixture
def signed_in(tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings) -> TestClient:
    client = TestClient(make_app(tiktok_settings, tiktok_emulator.transport()), base_url=BASE_URL)
    sign_in(client, tiktok_settings, tiktok_emulator)
    return client


def _logout(client: TestClient, settings: TikTokSettings, **headers: str) -> int:
    answer = client.post(settings.logout_path, headers=headers, follow_redirects=False)
    return answer.status_code


def test_logout_from_the_http_twin_of_an_https_site_is_refused(
    signed_in: TestClient, tiktok_settings: TikTokSettings
) -> None:
    assert _logout(signed_in, tiktok_settings, origin="http://testserver") == 403
    assert signed_in.get("/me").json()["authenticated"] is True
    assert _logout(signed_in, tiktok_settings, origin="https://testserver:443") == 303
    assert signed_in.get("/me").json()["authenticated"] is False


def test_logout_compares_with_the_requests_own_scheme(
    tiktok_emulator: TikTokEmulator,
) -> None:
    # allowed_origins names another front end, so only the request's own origin is left.
    settings = tiktok_emulator.settings(allowed_origins=("https://front.example",))
    app = make_app(settings, tiktok_emulator.transport())
    https = TestClient(app, base_url="https://testserver")
    http = TestClient(app, base_url="http://testserver")
    assert _logout(https, settings, origin="http://testserver") == 403
    assert _logout(http, settings, origin="https://testserver") == 403
    assert _logout(http, settings, origin="http://testserver") == 303
    assert _logout(http, settings, origin="http://testserver:80") == 303
    assert _logout(https, settings, origin="https://testserver") == 303
    assert _logout(https, settings, origin="https://front.example:443") == 303


@pytest.mark.parametrize(
    ("origin", "expected"),
    [
        ("https://App.Example.com", "https://app.example.com"),
        ("https://app.example.com:443", "https://app.example.com"),
        ("http://app.example.com:80", "http://app.example.com"),
        ("http://app.example.com:443", "http://app.example.com:443"),
        ("https://app.example.com:8443", "https://app.example.com:8443"),
        ("http://[::1]:80", "http://[::1]"),
        ("http://[::1]:8000", "http://[::1]:8000"),
        ("http://[::1]", "http://[::1]"),
        ("null", None),
        ("ftp://app.example.com", None),
        ("https://app.example.com/", None),
        ("https://user@app.example.com", None),
        ("https://app.example.com:x", None),
        ("https://", None),
    ],
)
def test_normalised_origin(origin: str, expected: str | None) -> None:
    assert normalised_origin(origin) == expected


def test_allowed_origins_are_kept_without_default_ports(tiktok_emulator: TikTokEmulator) -> None:
    settings = tiktok_emulator.settings(
        allowed_origins=("https://A.example:443", "http://b.example:80", "https://c.example:8443")
    )
    assert settings.allowed_origins == (
        "https://a.example",
        "http://b.example",
        "https://c.example:8443",
    )
    explicit = tiktok_emulator.settings("https://testserver:443/auth/tiktok/callback")
    assert explicit.allowed_origins == ("https://testserver",)


def _scope(kind: str, scheme: str, host: str, origin: str | None) -> dict[str, Any]:
    headers = [(b"host", host.encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    return {"type": kind, "scheme": scheme, "headers": headers}


@pytest.mark.parametrize(
    ("kind", "scheme", "host", "origin", "allowed"),
    [
        ("http", "https", "site.example", "https://site.example", True),
        ("http", "https", "site.example", "http://site.example", False),
        ("http", "http", "site.example", "https://site.example", False),
        ("http", "https", "site.example:443", "https://site.example", True),
        ("http", "https", "site.example", "https://site.example:443", True),
        ("http", "http", "site.example:8000", "http://site.example:8000", True),
        ("http", "http", "site.example:8000", "http://site.example", False),
        ("websocket", "wss", "site.example", "https://site.example", True),
        ("websocket", "wss", "site.example", "http://site.example", False),
        ("websocket", "ws", "site.example", "http://site.example", True),
        ("websocket", "ws", "site.example", "https://site.example", False),
    ],
)
def test_the_requests_own_origin(
    kind: str, scheme: str, host: str, origin: str, allowed: bool
) -> None:
    scope = _scope(kind, scheme, host, origin)
    assert origin_allowed(origin, scope, ()) is allowed
    if kind == "websocket":
        assert socket_origin_allowed(scope, ()) is allowed


def test_a_socket_without_origin_and_the_allowed_list() -> None:
    assert socket_origin_allowed(_scope("websocket", "wss", "site.example", None), ())
    scope = _scope("websocket", "wss", "site.example", "https://front.example")
    assert not socket_origin_allowed(scope, ())
    assert socket_origin_allowed(scope, ("https://front.example",))


def test_a_websocket_from_the_http_twin_is_not_the_user(
    signed_in: TestClient, tiktok_settings: TikTokSettings
) -> None:
    headers = ws_headers(signed_in, tiktok_settings)
    for origin, expected in (("http://testserver", False), ("https://testserver", True)):
        with signed_in.websocket_connect(
            "wss://testserver/ws", headers={**headers, "origin": origin}
        ) as ws:
            assert ws.receive_json()["authenticated"] is expected, origin
