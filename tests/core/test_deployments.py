"""Real deployments, in process: mounts, WebSocket origins, __Host- cookies, cookie tossing,
the public test key, app-bound cookies and records, and no 500 where a 4xx belongs."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tests.conftest import BASE_URL, make_app, make_starlette, sign_in
from tests.core.helpers import one, parse_set_cookie
from tests.frameworks.helpers import ws_headers
from tests.support.asgi import call, cookie_header
from tests.support.calls import get_access_token
from tiktok_asgi import TikTokAuthMiddleware, TikTokSettings
from tiktok_asgi.emulator import TEST_SECRET_KEY, TikTokEmulator

JSON = {"accept": "application/json"}


# Mounts and root_path ----------------------------------------------------------------------------


def _mounted(emulator: TikTokEmulator) -> tuple[TestClient, TikTokSettings]:
    settings = emulator.settings(
        "https://testserver/api/auth/tiktok/callback",
        callback_path="/auth/tiktok/callback",
        protected_paths=("/me",),
    )
    inner = TikTokAuthMiddleware(
        make_starlette(), settings=settings, transport=emulator.transport()
    )
    outer = Starlette(routes=[Mount("/api", app=inner)])
    return TestClient(outer, base_url="https://testserver/api"), settings


def test_under_a_mount_sign_in_works_and_protected_paths_refuse_anonymous(
    tiktok_emulator: TikTokEmulator,
) -> None:
    client, settings = _mounted(tiktok_emulator)
    # Anonymous: refused (before the fix the path under the mount matched nothing: 200).
    assert client.get("/me", headers=JSON).status_code == 401
    page = client.get("/me", headers={"accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 302
    assert page.headers["location"] == "/api/auth/tiktok/login?next=%2Fapi%2Fme"
    # The login path answers under the mount, and the flow cookie is on the browser's path.
    login = client.get("/auth/tiktok/login", follow_redirects=False)
    assert login.status_code == 302
    sign_in(client, settings, tiktok_emulator)
    me = client.get("/me", headers=JSON)
    assert me.status_code == 200
    assert me.json()["authenticated"] is True


def test_under_a_mount_the_error_pages_try_again_keeps_the_root_path(
    tiktok_emulator: TikTokEmulator,
) -> None:
    client, _ = _mounted(tiktok_emulator)
    page = client.get("/auth/tiktok/callback?state=nothing-started", follow_redirects=False)
    assert page.status_code == 400
    assert "href='/api/auth/tiktok/login'>Try again" in page.text


def test_a_path_that_only_starts_like_the_root_path_is_not_under_it(
    tiktok_emulator: TikTokEmulator,
) -> None:
    settings = tiktok_emulator.settings(protected_paths=("/me",))
    app = make_app(settings, tiktok_emulator.transport())
    # root_path "/api" and path "/apiary/me": not below the mount, so not "/me".
    answer = call(app, "GET", "/apiary/me", root_path="/api", headers=[(b"accept", b"*/*")])
    assert answer.status_code == 404


def test_hypercorn_style_scope_without_the_root_path_in_path(
    tiktok_emulator: TikTokEmulator,
) -> None:
    settings = tiktok_emulator.settings(protected_paths=("/me",))
    app = make_app(settings, tiktok_emulator.transport())
    answer = call(app, "GET", "/me", root_path="/api", headers=[(b"accept", b"text/html")])
    assert answer.status_code == 302
    assert answer.headers["location"] == "/api/auth/tiktok/login?next=%2Fapi%2Fme"


# WebSocket origins -------------------------------------------------------------------------------


@pytest.fixture
def signed_in(tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings) -> TestClient:
    client = TestClient(make_app(tiktok_settings, tiktok_emulator.transport()), base_url=BASE_URL)
    sign_in(client, tiktok_settings, tiktok_emulator)
    return client


def _socket_user(client: TestClient, settings: TikTokSettings, **headers: str) -> Any:
    with client.websocket_connect("/ws", headers={**ws_headers(client, settings), **headers}) as ws:
        return ws.receive_json()


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",  # another host
        "https://testserver:8443",  # another port
        "http://testserver.evil.example",
        "https://sub.testserver",  # a sibling subdomain
        "null",  # a sandboxed frame or a file: page
    ],
)
def test_a_websocket_from_another_origin_is_not_the_user(
    signed_in: TestClient, tiktok_settings: TikTokSettings, origin: str
) -> None:
    seen = _socket_user(signed_in, tiktok_settings, origin=origin)
    assert seen["authenticated"] is False


@pytest.mark.parametrize("origin", ["https://testserver", "HTTPS://TESTSERVER", None])
def test_a_websocket_from_the_sites_own_origin_is_the_user(
    signed_in: TestClient, tiktok_settings: TikTokSettings, origin: str | None
) -> None:
    # No Origin at all: no browser page (browsers always send one on WebSockets).
    seen = _socket_user(signed_in, tiktok_settings, **({"origin": origin} if origin else {}))
    assert seen["authenticated"] is True


def test_allowed_origins_admits_a_front_end_on_another_origin(
    tiktok_emulator: TikTokEmulator,
) -> None:
    settings = tiktok_emulator.settings(allowed_origins=("https://app.example.com",))
    client = TestClient(make_app(settings, tiktok_emulator.transport()), base_url=BASE_URL)
    sign_in(client, settings, tiktok_emulator)
    assert _socket_user(client, settings, origin="https://app.example.com")["authenticated"]
    assert not _socket_user(client, settings, origin="https://other.example.com")["authenticated"]


def test_a_refused_websocket_on_a_protected_path_is_closed_with_1008_after_the_handshake(
    signed_in: TestClient, tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    settings = tiktok_settings.replace(protected_paths=("/ws",))
    client = TestClient(make_app(settings, tiktok_emulator.transport()), base_url=BASE_URL)
    headers = {**ws_headers(signed_in, settings), "origin": "https://evil.example"}
    # The handshake succeeds, then the close comes.
    with (
        client.websocket_connect("/ws", headers=headers) as ws,
        pytest.raises(WebSocketDisconnect) as closed,
    ):
        ws.receive_json()
    assert (closed.value.code, closed.value.reason) == (1008, "login_required")


@pytest.mark.parametrize(
    "origins",
    ["https://a.example", ("https://a.example/path",), ("ftp://a.example",), ("a.example",)],
)
def test_allowed_origins_must_be_origins(tiktok_emulator: TikTokEmulator, origins: Any) -> None:
    with pytest.raises(ValueError, match="allowed_origins"):
        tiktok_emulator.settings(allowed_origins=origins)


# __Host- cookies ---------------------------------------------------------------------------------


def test_host_prefixed_names_work_for_every_cookie_the_library_sets(
    tiktok_emulator: TikTokEmulator,
) -> None:
    settings = tiktok_emulator.settings(cookie_name="__Host-tiktok_session")
    client = TestClient(make_app(settings, tiktok_emulator.transport()), base_url=BASE_URL)
    seen: list[str] = []
    login = client.get(settings.login_path, follow_redirects=False)
    seen += login.headers.get_list("set-cookie")
    callback = client.get(
        tiktok_emulator.approve(login.headers["location"]), follow_redirects=False
    )
    seen += callback.headers.get_list("set-cookie")
    assert client.get("/me").json()["authenticated"] is True
    logout = client.post(settings.logout_path, follow_redirects=False)
    seen += logout.headers.get_list("set-cookie")
    assert client.get("/me").json()["authenticated"] is False
    assert len(seen) >= 4  # flow set, flow cleared, identity set, identity cleared
    for header in seen:
        name, _, attributes = parse_set_cookie(header)
        assert name.startswith("__Host-"), header
        assert "Path=/" in attributes, header
        assert "Secure" in attributes, header
        assert not [a for a in attributes if a.startswith("Domain=")], header


def test_host_prefix_is_the_default_on_https_without_a_cookie_domain(
    tiktok_emulator: TikTokEmulator,
) -> None:
    assert tiktok_emulator.settings().cookie_name == "__Host-tiktok_session"
    shared = tiktok_emulator.settings(cookie_domain="testserver")
    assert shared.cookie_name == "tiktok_session"
    assert (
        tiktok_emulator.settings().replace(cookie_domain="x.test").cookie_name == "tiktok_session"
    )
    local = tiktok_emulator.settings("http://127.0.0.1:8000/auth/tiktok/callback")
    assert local.cookie_name == "tiktok_session"


@pytest.mark.parametrize(
    "changes",
    [
        {"cookie_domain": "testserver"},
        {"cookie_path": "/app"},
        {"redirect_uri": "http://127.0.0.1:8000/auth/tiktok/callback"},
    ],
)
def test_a_host_prefixed_name_browsers_would_drop_fails_at_start_up(
    tiktok_emulator: TikTokEmulator, changes: dict[str, str]
) -> None:
    with pytest.raises(ValueError, match="__Host-"):
        tiktok_emulator.settings(cookie_name="__Host-s", **changes)


# Cookie tossing ----------------------------------------------------------------------------------


def test_a_used_callback_with_tossed_cookies_is_a_4xx(tiktok_emulator: TikTokEmulator) -> None:
    settings = tiktok_emulator.settings(
        "https://app.shop.example/auth/tiktok/callback", cookie_name="shop_session"
    )
    app = make_app(settings, tiktok_emulator.transport())
    victim = TestClient(app, base_url="https://app.shop.example")
    sign_in(victim, settings, tiktok_emulator, user="mayacooks")
    mine = victim.cookies["shop_session"]
    cookie = f"shop_session={mine}; shop_session={mine}"
    # A used answer with two identity cookies: nobody is signed in, so the error page (no 500).
    answer = victim.get("/auth/tiktok/callback?state=used&code=c", headers={"cookie": cookie})
    assert answer.status_code == 400
    assert "state_mismatch" in answer.text


def test_two_valid_identity_cookies_are_nobody_and_both_scopes_are_cleared(
    tiktok_emulator: TikTokEmulator,
) -> None:
    # Without the __Host- prefix, a sibling subdomain can plant its own valid cookie.
    settings = tiktok_emulator.settings(
        "https://app.shop.example/auth/tiktok/callback", cookie_name="shop_session"
    )
    app = make_app(settings, tiktok_emulator.transport())
    victim = TestClient(app, base_url="https://app.shop.example")
    sign_in(victim, settings, tiktok_emulator, user="mayacooks")
    attacker = TestClient(app, base_url="https://app.shop.example")
    sign_in(attacker, settings, tiktok_emulator, user=tiktok_emulator.users[1].open_id)
    mine, theirs = victim.cookies["shop_session"], attacker.cookies["shop_session"]
    cookie = f"shop_session={theirs}; shop_session={mine}"
    response = victim.get("/me", headers={"cookie": cookie})
    assert response.json()["authenticated"] is False
    cleared = {
        tuple(a for a in parse_set_cookie(h)[2] if a.startswith(("Domain=", "Path=")))
        for h in response.headers.get_list("set-cookie")
    }
    assert ("Path=/",) in cleared
    assert ("Path=/", "Domain=shop.example") in cleared
    assert ("Path=/me",) in cleared
    # In two Cookie headers, too.
    answer = call(
        app,
        "GET",
        "/me",
        headers=[
            cookie_header({"shop_session": theirs}),
            cookie_header({"shop_session": mine}),
            (b"host", b"app.shop.example"),
        ],
    )
    assert answer.json()["authenticated"] is False


def test_one_identity_cookie_among_similar_names_still_signs_in(
    signed_in: TestClient, tiktok_settings: TikTokSettings
) -> None:
    value = signed_in.cookies[tiktok_settings.cookie_name]
    name = tiktok_settings.cookie_name
    cookie = f"x{name}=1; a={name}=2; {name}={value}; {name}_flow_abc=3"
    assert signed_in.get("/me", headers={"cookie": cookie}).json()["authenticated"] is True


# The public emulator key -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "uri", ["https://app.example.com/auth/tiktok/callback", "https://10.0.0.5/auth/tiktok/callback"]
)
def test_the_public_test_key_is_refused_outside_test_hosts(uri: str) -> None:
    with pytest.raises(ValueError, match="TEST_SECRET_KEY"):
        TikTokSettings(
            client_key="ck", client_secret="cs", redirect_uri=uri, secret_key=TEST_SECRET_KEY
        )
    with pytest.raises(ValueError, match="TEST_SECRET_KEY"):
        TikTokSettings(
            client_key="ck",
            client_secret="cs",
            redirect_uri=uri,
            secret_key=["a-real-key-" + "r" * 40, TEST_SECRET_KEY],
        )


@pytest.mark.parametrize(
    "uri",
    [
        "https://testserver/auth/tiktok/callback",
        "http://127.0.0.1:8000/auth/tiktok/callback",
        "http://localhost/auth/tiktok/callback",
        "http://[::1]:9000/auth/tiktok/callback",
    ],
)
def test_the_public_test_key_is_accepted_on_test_hosts(uri: str) -> None:
    TikTokSettings(
        client_key="ck", client_secret="cs", redirect_uri=uri, secret_key=TEST_SECRET_KEY
    )


def test_emulator_settings_use_a_random_key_outside_test_hosts(
    tiktok_emulator: TikTokEmulator,
) -> None:
    assert tiktok_emulator.settings().secret_keys == (TEST_SECRET_KEY,)
    public = tiktok_emulator.settings("https://app.example.com/auth/tiktok/callback")
    assert TEST_SECRET_KEY not in public.secret_keys


@pytest.mark.parametrize("name", ["token_url", "userinfo_url", "revoke_url", "api_base_url"])
def test_endpoint_urls_on_plain_http_only_for_loopback(
    tiktok_emulator: TikTokEmulator, name: str
) -> None:
    with pytest.raises(ValueError, match=name):
        tiktok_emulator.settings(**{name: "http://tiktok.internal.example/v2/x/"})
    tiktok_emulator.settings(base_url="http://127.0.0.1:8790")


# No 500 where a 4xx belongs ----------------------------------------------------------------------


def test_head_on_the_callback_answers_without_spending_the_state(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    client = TestClient(make_app(tiktok_settings, tiktok_emulator.transport()), base_url=BASE_URL)
    login = client.get(tiktok_settings.login_path, follow_redirects=False)
    callback = tiktok_emulator.approve(login.headers["location"])
    head = client.head(callback)
    assert head.status_code == 204
    assert not head.headers.get_list("set-cookie")
    assert not [r for r in tiktok_emulator.requests if r.endpoint == "token"]
    # The sign-in still completes: the state and code were not spent.
    done = client.get(callback, follow_redirects=False)
    assert done.status_code == 302
    assert client.get("/me").json()["authenticated"] is True
    # And a HEAD with garbage is no 500 either.
    assert client.head(tiktok_settings.callback_path + "?state=x&code=y").status_code == 204


async def _token_view(request: Request) -> JSONResponse:
    return JSONResponse({"token": await get_access_token(request)})


def _token_apps(settings: TikTokSettings, emulator: TikTokEmulator) -> dict[str, Any]:
    """A view calling get_access_token without a try, in each documented installation."""
    from fastapi import FastAPI
    from quart import Quart

    from tiktok_asgi import MemoryTokenStore
    from tiktok_asgi import fastapi as tiktok_fastapi
    from tiktok_asgi import quart as tiktok_quart

    options: dict[str, Any] = {
        "settings": settings,
        "transport": emulator.transport(),
        "token_store": MemoryTokenStore(),
    }
    added = Starlette(routes=[Route("/token", _token_view)])
    added.add_middleware(TikTokAuthMiddleware, **options)

    api = FastAPI()
    api.add_api_route("/token", _token_view)
    tiktok_fastapi.install(api)  # the one line for an app wrapped from outside

    quart_app = Quart(__name__)

    @quart_app.get("/token")
    async def token() -> dict[str, str]:
        from quart import request

        return {"token": await get_access_token(request.scope)}

    tiktok_quart.install(quart_app)  # the one line for Quart
    quart_app.asgi_app = TikTokAuthMiddleware(quart_app.asgi_app, **options)  # type: ignore[method-assign]
    return {
        "starlette add_middleware": added,
        "fastapi wrapped from outside": TikTokAuthMiddleware(api, **options),
        "quart": quart_app,
    }


@pytest.mark.parametrize(
    "kind", ["starlette add_middleware", "fastapi wrapped from outside", "quart"]
)
def test_an_anonymous_request_to_a_view_calling_get_access_token_gets_401(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings, kind: str
) -> None:
    app = _token_apps(tiktok_settings, tiktok_emulator)[kind]
    with TestClient(app, base_url=BASE_URL) as client:
        response = client.get("/token", headers=JSON)
    assert response.status_code == 401
    assert response.json()["error"] == "login_required"


# TikTok's error codes before they reach logs -----------------------------------------------------


@pytest.mark.parametrize(
    ("code", "log_id"),
    [("bad\ncode login_succeeded open_id=victim", "x\ny"), ("<b>x</b>", "<i>"), ("c" * 5000, "")],
)
def test_tiktoks_error_codes_are_sanitised_before_logs_and_answers(
    tiktok_settings: TikTokSettings,
    caplog: pytest.LogCaptureFixture,
    code: str,
    log_id: str,
) -> None:
    from tiktok_asgi._tiktok.http import MockTransport
    from tiktok_asgi._tiktok.http import Request as HTTPRequest
    from tiktok_asgi._tiktok.http import Response as HTTPResponse

    def tiktok(request: HTTPRequest) -> HTTPResponse:
        return HTTPResponse(400, json={"error": code, "error_description": "d", "log_id": log_id})

    client = TestClient(make_app(tiktok_settings, MockTransport(tiktok)), base_url=BASE_URL)
    login = client.get(tiktok_settings.login_path, follow_redirects=False)
    state = one(login.headers["location"], "state")
    answer = client.get(f"{tiktok_settings.callback_path}?code=c&state={state}", headers=JSON)
    assert answer.status_code == 502
    assert answer.json()["error"] == "invalid_response"
    assert answer.json()["log_id"] is None
    for record in caplog.records:
        text = record.getMessage()
        assert "\n" not in text
        assert code not in text
