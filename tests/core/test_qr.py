"""QR-code sign-in at ``qr_path``: the page, a new code (POST), its status (GET qr_path/<id>) and
every refusal, against the emulator's get_qrcode and check_qrcode."""

from __future__ import annotations

import logging
import re
import sys
import time
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from typing import Any

import pytest
from itsdangerous import TimestampSigner
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from tests.conftest import BASE_URL, make_app
from tests.core.helpers import cookie_named, set_cookies
from tests.core.test_tiktok_dialect import _OtherAccountInUserInfo
from tests.security.support import serializer
from tiktok_asgi import MemoryTokenStore, TikTokSettings, TikTokUser
from tiktok_asgi._cookies.qr import MAX_PENDING_QR
from tiktok_asgi._tiktok.provider import QrStatus
from tiktok_asgi.emulator import Fault, TikTokEmulator

JSON = {"accept": "application/json"}
QR = "/auth/tiktok/qr"
TICKET = re.compile(r"client_ticket=([A-Za-z0-9_-]+)")


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def new_code(client: TestClient, path: str = QR, **headers: str) -> dict[str, Any]:
    response = client.post(path, headers={**JSON, **headers})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def status_of(client: TestClient, qr_id: str, path: str = QR) -> Any:
    return client.get(f"{path}/{qr_id}", headers=JSON)


def ticket_of(scan_url: str) -> str:
    found = TICKET.search(scan_url)
    assert found is not None, scan_url
    return found.group(1)


def qr_cookie(client: TestClient, settings: TikTokSettings) -> dict[str, str]:
    return {k: v for k, v in client.cookies.items() if k.startswith(f"{settings.cookie_name}_qr_")}


@pytest.fixture
def app_client(tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings) -> TestClient:
    return TestClient(make_app(tiktok_settings, tiktok_emulator.transport()), base_url=BASE_URL)


# The page


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def first(self, tag: str) -> dict[str, str | None]:
        return next(attrs for name, attrs in self.tags if name == tag)


def parsed(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def test_the_page_runs_only_its_own_script_and_keeps_a_safe_next(app_client: TestClient) -> None:
    response = app_client.get(QR, params={"next": "/me?tab=1"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    page = parsed(response.text)
    assert page.first("html")["lang"] == "en"
    main = page.first("main")
    assert (main["data-start"], main["data-next"]) == (QR, "/me?tab=1")
    nonce = page.first("script")["nonce"]
    assert len(nonce or "") >= 16
    csp = dict(
        [*d.split(" ", 1), ""][:2]
        for d in (part.strip() for part in response.headers["content-security-policy"].split(";"))
    )
    assert csp["default-src"] == "'none'"
    assert csp["script-src"] == f"'nonce-{nonce}'"  # no 'unsafe-inline', no other origin
    assert csp["connect-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'"
    assert "<script src" not in response.text
    # A fresh nonce per page.
    assert parsed(app_client.get(QR).text).first("script")["nonce"] != nonce
    assert next(a for n, a in page.tags if n == "button")["type"] == "button"


@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example/", "/\\evil.example"])
def test_the_page_refuses_a_next_on_another_site(app_client: TestClient, target: str) -> None:
    response = app_client.get(QR, params={"next": target})
    assert parsed(response.text).first("main")["data-next"] == "/"


def test_under_a_mount_the_page_asks_for_codes_inside_it(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    settings = tiktok_settings.replace(redirect_uri="https://testserver/site/auth/tiktok/callback")
    tiktok_emulator.register_redirect_uri(settings.redirect_uri)
    inner = make_app(settings, tiktok_emulator.transport())
    client = TestClient(Starlette(routes=[Mount("/site", app=inner)]), base_url=BASE_URL)
    page = parsed(client.get(f"/site{QR}").text)
    assert page.first("main")["data-start"] == f"/site{QR}"
    body = new_code(client, f"/site{QR}")
    assert status_of(client, body["qr_id"], f"/site{QR}").json() == {"status": "new"}


# A new code


def test_a_new_code_is_tiktoks_with_our_own_client_ticket(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings, app_client: TestClient
) -> None:
    response = app_client.post(QR, headers=JSON)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"qr_id", "scan_url", "svg", "expires_in"}
    assert body["expires_in"] == tiktok_settings.flow_max_age
    assert "tobefilled" not in body["scan_url"]
    ticket = ticket_of(body["scan_url"])
    assert len(ticket) >= 32
    # TikTok's form: client_key, comma-joined scopes, a state; never the secret.
    (call,) = [r for r in tiktok_emulator.requests if r.endpoint == "get_qrcode"]
    assert call.method == "POST"
    assert set(call.form) == {"client_key", "scope", "state"}
    assert call.form["client_key"] == [tiktok_settings.client_key]
    assert call.form["scope"] == [",".join(tiktok_settings.scopes)]
    # The SVG stands alone, is sized by its viewBox and names what it is for.
    svg = ET.fromstring(body["svg"])  # noqa: S314 - our own answer
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert "viewBox" in svg.attrib
    assert "width" not in svg.attrib
    assert svg.find("{http://www.w3.org/2000/svg}title") is not None
    # Bound to this browser by a short-lived cookie that scripts cannot read.
    _, value, attributes = cookie_named(response, f"{tiktok_settings.cookie_name}_qr_")
    assert value
    assert f"Max-Age={tiktok_settings.flow_max_age}" in attributes
    assert {"HttpOnly", "Secure", "SameSite=Lax", "Path=/"} <= set(attributes)
    assert ticket not in value


def test_on_plain_http_the_cookie_stays_below_qr_path(tiktok_emulator: TikTokEmulator) -> None:
    settings = tiktok_emulator.settings("http://127.0.0.1:8000/auth/tiktok/callback")
    client = TestClient(
        make_app(settings, tiktok_emulator.transport()), base_url="http://127.0.0.1:8000"
    )
    response = client.post(QR, headers=JSON)
    _, _, attributes = cookie_named(response, "tiktok_session_qr_")
    assert f"Path={QR}" in attributes
    assert "Secure" not in attributes
    assert status_of(client, response.json()["qr_id"]).json() == {"status": "new"}


@pytest.mark.parametrize(
    "headers",
    [
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site"},
        {"origin": "https://evil.example"},
        {"origin": "http://testserver"},  # the http twin of the site
    ],
)
def test_a_new_code_from_another_site_is_refused(
    tiktok_emulator: TikTokEmulator, app_client: TestClient, headers: dict[str, str]
) -> None:
    response = app_client.post(QR, headers={**JSON, **headers})
    assert response.status_code == 403
    assert response.json()["error"] == "csrf_rejected"
    assert not set_cookies(response)
    assert tiktok_emulator.count("get_qrcode") == 0


def test_a_new_code_from_this_site_is_made(app_client: TestClient) -> None:
    body = new_code(app_client, origin=BASE_URL, **{"sec-fetch-site": "same-origin"})
    assert body["qr_id"]


def test_a_browser_keeps_a_bounded_number_of_codes(
    tiktok_settings: TikTokSettings, app_client: TestClient
) -> None:
    first = new_code(app_client)
    for _ in range(MAX_PENDING_QR - 1):
        new_code(app_client)
    assert len(qr_cookie(app_client, tiktok_settings)) == MAX_PENDING_QR
    new_code(app_client)
    assert len(qr_cookie(app_client, tiktok_settings)) == MAX_PENDING_QR
    # The oldest went: it can no longer be followed.
    assert status_of(app_client, first["qr_id"]).json()["error"] == "qr_unknown"


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        (Fault.error_body("invalid_client"), "invalid_client"),
        (Fault.status(200, body={"scan_qrcode_url": "https://t.example/s?x=1", "token": "t"}),
         "invalid_response"),
        (Fault.status(200, body={"token": "t"}), "invalid_response"),
        (Fault.html_error_page(502), "server_error"),
    ],
)  # fmt: skip
def test_tiktok_refusing_a_code_is_a_json_error(
    tiktok_emulator: TikTokEmulator,
    tiktok_settings: TikTokSettings,
    app_client: TestClient,
    fault: Fault,
    code: str,
) -> None:
    tiktok_emulator.inject("get_qrcode", fault)
    response = app_client.post(QR, headers={"accept": "text/html"})
    assert response.status_code == 502
    assert response.json()["error"] == code
    assert not qr_cookie(app_client, tiktok_settings)


def test_without_the_qr_extra_a_code_is_refused_by_name(
    tiktok_emulator: TikTokEmulator,
    tiktok_settings: TikTokSettings,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setitem(sys.modules, "segno", None)  # import segno now raises ImportError
    with caplog.at_level(logging.INFO, logger="tiktok_asgi"):
        app = make_app(tiktok_settings, tiktok_emulator.transport())
    install = 'pip install ".[qr]" from a checkout of tiktok-asgi'
    assert any(install in r.getMessage() and QR in r.getMessage() for r in caplog.records)
    client = TestClient(app, base_url=BASE_URL)
    response = client.post(QR, headers=JSON)
    assert response.status_code == 501
    assert response.json()["error"] == "qr_unavailable"
    assert install in response.json()["error_description"]
    assert tiktok_emulator.count("get_qrcode") == 0
    assert client.get(QR).status_code == 200  # the page shows that answer


def test_with_the_extra_start_up_says_nothing_about_it(
    tiktok_emulator: TikTokEmulator,
    tiktok_settings: TikTokSettings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="tiktok_asgi"):
        make_app(tiktok_settings, tiktok_emulator.transport())
    assert not [r for r in caplog.records if "qr" in r.getMessage().lower()]


# Its status, and the sign-in


def test_a_code_moves_from_new_to_signed_in(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings, app_client: TestClient
) -> None:
    body = new_code(app_client)
    assert status_of(app_client, body["qr_id"]).json() == {"status": "new"}
    tiktok_emulator.scan_qr(body["scan_url"])
    assert status_of(app_client, body["qr_id"]).json() == {"status": "scanned"}
    assert app_client.get("/me").json()["authenticated"] is False
    tiktok_emulator.confirm_qr(body["scan_url"], user="leo.skates")
    response = status_of(app_client, body["qr_id"])
    assert response.status_code == 200
    assert response.json() == {"status": "confirmed"}
    assert response.headers["cache-control"] == "no-store"
    me = app_client.get("/me").json()
    assert me["authenticated"] is True
    assert me["user"]["username"] == "leo.skates"
    # The code is used up: its cookie is cleared on the answer that signs in.
    _, value, attributes = cookie_named(response, f"{tiktok_settings.cookie_name}_qr_")
    assert value == ""
    assert "Max-Age=0" in attributes
    # check_qrcode's form, then the exchange: no verifier, TikTok's redirect URI.
    checks = [r for r in tiktok_emulator.requests if r.endpoint == "check_qrcode"]
    assert {tuple(sorted(r.form)) for r in checks} == {("client_key", "client_secret", "token")}
    (exchange,) = [r for r in tiktok_emulator.requests if r.endpoint == "token"]
    assert "code_verifier" not in exchange.form
    assert tiktok_emulator.qr_status(body["scan_url"]) == "utilised"


def test_the_code_is_exchanged_with_the_redirect_uri_tiktok_named() -> None:
    emulator = TikTokEmulator(redirect_uris=["https://testserver/tv/done/"])
    settings = emulator.settings()  # registers /auth/tiktok/callback second
    client = TestClient(make_app(settings, emulator.transport()), base_url=BASE_URL)
    body = new_code(client)
    emulator.confirm_qr(body["scan_url"])
    assert status_of(client, body["qr_id"]).json() == {"status": "confirmed"}
    (exchange,) = [r for r in emulator.requests if r.endpoint == "token"]
    assert exchange.form["redirect_uri"] == ["https://testserver/tv/done/"]


def test_partial_consent_on_the_phone_narrows_the_user(
    tiktok_emulator: TikTokEmulator, app_client: TestClient
) -> None:
    body = new_code(app_client)
    tiktok_emulator.confirm_qr(body["scan_url"], user="mayacooks", scopes=["user.info.basic"])
    assert status_of(app_client, body["qr_id"]).json() == {"status": "confirmed"}
    user = app_client.get("/me").json()["user"]
    assert user["granted_scopes"] == ["user.info.basic"]
    assert user.get("username") is None


def test_on_login_and_the_token_store_run_as_for_the_callback(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    seen: list[tuple[str, str]] = []

    async def on_login(user: TikTokUser, token: Any) -> TikTokUser:
        seen.append((user.open_id, token["open_id"]))
        return user

    store = MemoryTokenStore()
    app = make_app(
        tiktok_settings, tiktok_emulator.transport(), on_login=on_login, token_store=store
    )
    client = TestClient(app, base_url=BASE_URL)
    body = new_code(client)
    tiktok_emulator.confirm_qr(body["scan_url"], user="amara_dances")
    assert status_of(client, body["qr_id"]).json() == {"status": "confirmed"}
    amara = tiktok_emulator.user("amara_dances").open_id
    assert seen == [(amara, amara)]
    assert client.get("/me").json()["user"]["open_id"] == amara
    # A login session was stored: signing out ends it.
    client.post("/auth/tiktok/logout", headers=JSON)
    assert client.get("/me").json()["authenticated"] is False


def test_on_login_refusing_signs_nobody_in(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    async def on_login(user: TikTokUser, token: Any) -> None:
        return None

    client = TestClient(
        make_app(tiktok_settings, tiktok_emulator.transport(), on_login=on_login),
        base_url=BASE_URL,
    )
    body = new_code(client)
    tiktok_emulator.confirm_qr(body["scan_url"])
    response = status_of(client, body["qr_id"])
    assert response.status_code == 403
    assert response.json()["error"] == "login_rejected"
    assert not [c for c in set_cookies(response) if c.startswith(f"{tiktok_settings.cookie_name}=")]
    assert client.get("/me").json()["authenticated"] is False


def test_user_info_for_another_account_signs_nobody_in(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    transport = _OtherAccountInUserInfo(tiktok_emulator.transport(), "someone-else")
    client = TestClient(make_app(tiktok_settings, transport), base_url=BASE_URL)
    body = new_code(client)
    tiktok_emulator.confirm_qr(body["scan_url"])
    response = status_of(client, body["qr_id"])
    assert response.status_code == 502
    assert response.json()["error"] == "open_id_mismatch"
    assert client.get("/me").json()["authenticated"] is False


# Refusals


def test_an_answer_with_another_client_ticket_ends_the_code(
    tiktok_emulator: TikTokEmulator,
    tiktok_settings: TikTokSettings,
    app_client: TestClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = new_code(app_client)
    kept = qr_cookie(app_client, tiktok_settings)
    log_id = "20261201120000ABCDEF0123456789ABCD"
    tampered = {"status": "scanned", "client_ticket": "someone-elses", "log_id": log_id}
    tiktok_emulator.inject("check_qrcode", Fault.status(200, body=tampered))
    with caplog.at_level(logging.INFO, logger="tiktok_asgi"):
        response = status_of(app_client, body["qr_id"])
    assert response.status_code == 502
    assert response.json()["error"] == "client_ticket_mismatch"
    assert response.json()["log_id"] == log_id
    (record,) = [r for r in caplog.records if "client_ticket_mismatch" in r.getMessage()]
    assert record.levelno == logging.ERROR
    assert ticket_of(body["scan_url"]) not in record.getMessage()
    # The QR session is over: its cookie is cleared, and a copy of it is refused.
    _, value, _ = cookie_named(response, f"{tiktok_settings.cookie_name}_qr_")
    assert value == ""
    app_client.cookies.update(kept)
    tiktok_emulator.confirm_qr(body["scan_url"])
    again = status_of(app_client, body["qr_id"])
    assert again.status_code == 403
    assert again.json()["error"] == "qr_used"
    assert app_client.get("/me").json()["authenticated"] is False


def test_a_confirmed_answer_without_our_client_ticket_is_refused(
    tiktok_emulator: TikTokEmulator, app_client: TestClient
) -> None:
    body = new_code(app_client)
    forged = {"status": "confirmed", "code": "abc", "redirect_uri": "https://testserver/cb"}
    tiktok_emulator.inject("check_qrcode", Fault.status(200, body=forged))
    response = status_of(app_client, body["qr_id"])
    assert response.status_code == 502
    assert response.json()["error"] == "client_ticket_mismatch"
    assert tiktok_emulator.count("token") == 0


def test_another_browser_cannot_follow_the_code(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings, app_client: TestClient
) -> None:
    body = new_code(app_client)
    tiktok_emulator.confirm_qr(body["scan_url"])
    other = TestClient(app_client.app, base_url=BASE_URL)
    response = status_of(other, body["qr_id"])
    assert response.status_code == 403
    assert response.json()["error"] == "qr_unknown"
    assert other.get("/me").json()["authenticated"] is False
    assert tiktok_emulator.count("check_qrcode") == 0
    # Nor with its own cookie for another code.
    new_code(other)
    assert status_of(other, body["qr_id"]).json()["error"] == "qr_unknown"
    # The browser that asked for it still signs in.
    assert status_of(app_client, body["qr_id"]).json() == {"status": "confirmed"}


def test_an_altered_cookie_is_refused(
    tiktok_settings: TikTokSettings, app_client: TestClient
) -> None:
    body = new_code(app_client)
    ((name, value),) = qr_cookie(app_client, tiktok_settings).items()
    altered = {name: value[:-2] + ("AA" if value[-2:] != "AA" else "BB")}
    response = status_of(
        TestClient(app_client.app, base_url=BASE_URL, cookies=altered), body["qr_id"]
    )
    assert response.status_code == 403
    assert response.json()["error"] == "qr_unknown"


def test_a_code_signs_in_once(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings, app_client: TestClient
) -> None:
    body = new_code(app_client)
    kept = qr_cookie(app_client, tiktok_settings)
    tiktok_emulator.confirm_qr(body["scan_url"])
    assert status_of(app_client, body["qr_id"]).json() == {"status": "confirmed"}
    # The cleared cookie is gone; a copy of it is refused all the same.
    assert status_of(app_client, body["qr_id"]).json()["error"] == "qr_unknown"
    app_client.cookies.update(kept)
    replay = status_of(app_client, body["qr_id"])
    assert replay.status_code == 403
    assert replay.json()["error"] == "qr_used"
    assert tiktok_emulator.count("token") == 1


def test_a_code_utilised_elsewhere_is_used(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    """Two instances sharing a token store; the second sees TikTok's ``utilised``."""
    store = MemoryTokenStore()
    first = TestClient(
        make_app(tiktok_settings, tiktok_emulator.transport(), token_store=store),
        base_url=BASE_URL,
    )
    second = make_app(tiktok_settings, tiktok_emulator.transport(), token_store=store)
    body = new_code(first)
    kept = qr_cookie(first, tiktok_settings)
    tiktok_emulator.confirm_qr(body["scan_url"])
    assert status_of(first, body["qr_id"]).json() == {"status": "confirmed"}
    replay = TestClient(second, base_url=BASE_URL, cookies=kept)
    response = status_of(replay, body["qr_id"])
    assert response.status_code == 403
    assert response.json()["error"] == "qr_used"
    _, value, _ = cookie_named(response, f"{tiktok_settings.cookie_name}_qr_")
    assert value == ""
    assert replay.get("/me").json()["authenticated"] is False
    assert tiktok_emulator.count("token") == 1


def test_a_confirmed_code_replayed_on_another_instance_is_refused_by_the_store(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    """The store says once even while TikTok still answers ``confirmed``."""
    store = MemoryTokenStore()
    apps = [
        make_app(tiktok_settings, tiktok_emulator.transport(), token_store=store) for _ in range(2)
    ]
    first = TestClient(apps[0], base_url=BASE_URL)
    body = new_code(first)
    kept = qr_cookie(first, tiktok_settings)
    tiktok_emulator.confirm_qr(body["scan_url"])
    # TikTok answers "confirmed" to both: the first exchange fails, the code stays unredeemed.
    tiktok_emulator.inject("token", Fault.error_body("server_error"))
    assert status_of(first, body["qr_id"]).json()["error"] == "server_error"
    replay = TestClient(apps[1], base_url=BASE_URL, cookies=kept)
    response = status_of(replay, body["qr_id"])
    assert response.json()["error"] == "qr_used"
    assert tiktok_emulator.count("token") == 1


def test_an_expired_code_says_so_and_a_fresh_one_is_offered(
    tiktok_settings: TikTokSettings,
) -> None:
    clock = Clock()
    emulator = TikTokEmulator(clock=clock, qr_code_ttl=120)
    client = TestClient(make_app(emulator.settings(), emulator.transport()), base_url=BASE_URL)
    body = new_code(client)
    emulator.scan_qr(body["scan_url"])
    clock.now += 121
    response = status_of(client, body["qr_id"])
    assert response.json() == {"status": "expired"}
    _, value, _ = cookie_named(response, f"{tiktok_settings.cookie_name}_qr_")
    assert value == ""
    fresh = new_code(client)
    assert fresh["qr_id"] != body["qr_id"]
    assert ticket_of(fresh["scan_url"]) != ticket_of(body["scan_url"])
    emulator.confirm_qr(fresh["scan_url"])
    assert status_of(client, fresh["qr_id"]).json() == {"status": "confirmed"}


class _HourAgo(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - 3600


def test_a_code_older_than_flow_max_age_is_expired_whatever_tiktok_says(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings, app_client: TestClient
) -> None:
    body = new_code(app_client)
    ((name, value),) = qr_cookie(app_client, tiktok_settings).items()
    salt = f"tiktok-asgi.qr:{tiktok_settings.client_key}"
    payload = serializer(tiktok_settings.secret_keys, salt).loads(value)
    old = serializer(tiktok_settings.secret_keys, salt)
    old.signer = _HourAgo  # type: ignore[assignment]
    stale = TestClient(app_client.app, base_url=BASE_URL, cookies={name: old.dumps(payload)})
    tiktok_emulator.confirm_qr(body["scan_url"])
    response = status_of(stale, body["qr_id"])
    assert response.json() == {"status": "expired"}
    _, cleared, _ = cookie_named(response, f"{tiktok_settings.cookie_name}_qr_")
    assert cleared == ""
    assert tiktok_emulator.count("check_qrcode") == 0


def test_a_code_cancelled_on_the_phone_expires(
    tiktok_emulator: TikTokEmulator, app_client: TestClient
) -> None:
    body = new_code(app_client)
    tiktok_emulator.cancel_qr(body["scan_url"])
    assert status_of(app_client, body["qr_id"]).json() == {"status": "expired"}


def test_tiktok_rate_limiting_the_polls_keeps_the_code(
    tiktok_emulator: TikTokEmulator, app_client: TestClient
) -> None:
    body = new_code(app_client)
    tiktok_emulator.inject("check_qrcode", Fault.rate_limited(retry_after=7))
    limited = status_of(app_client, body["qr_id"])
    assert limited.status_code == 503
    assert limited.headers["retry-after"] == "7"
    assert not set_cookies(limited)
    tiktok_emulator.confirm_qr(body["scan_url"])
    assert status_of(app_client, body["qr_id"]).json() == {"status": "confirmed"}


# Paths, methods and settings


def test_other_methods_are_refused(app_client: TestClient) -> None:
    put = app_client.put(QR, headers=JSON)
    assert (put.status_code, put.headers["allow"]) == (405, "GET, POST")
    body = new_code(app_client)
    post = app_client.post(f"{QR}/{body['qr_id']}", headers=JSON)
    assert (post.status_code, post.headers["allow"]) == (405, "GET")


@pytest.mark.parametrize("path", [f"{QR}/not-an-id", f"{QR}/{'a' * 22}/x", f"{QR}x"])
def test_other_paths_below_qr_path_are_the_applications(app_client: TestClient, path: str) -> None:
    assert app_client.get(path, headers=JSON).status_code == 404


def test_qr_path_none_leaves_every_path_to_the_application(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    settings = tiktok_settings.replace(qr_path=None)
    client = TestClient(make_app(settings, tiktok_emulator.transport()), base_url=BASE_URL)
    assert client.get(QR).status_code == 404
    assert client.post(QR, headers=JSON).status_code == 404
    assert client.get(f"{QR}/{'a' * 22}").status_code == 404


def test_another_qr_path(tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings) -> None:
    settings = tiktok_settings.replace(qr_path="/tv")
    client = TestClient(make_app(settings, tiktok_emulator.transport()), base_url=BASE_URL)
    assert client.get(QR).status_code == 404
    body = new_code(client, "/tv")
    tiktok_emulator.confirm_qr(body["scan_url"])
    assert status_of(client, body["qr_id"], "/tv").json() == {"status": "confirmed"}


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("auth/qr", "qr_path must be a path"),
        ("//qr", "qr_path must be a path"),
        ("/auth/qr/", "must not end with '/'"),
        ("/auth/tiktok/login", "qr_path '/auth/tiktok/login' is also login_path"),
        ("/auth/tiktok/callback", "callback_path"),
        ("/auth/tiktok/disconnect", "disconnect_path"),  # every other *_path setting
    ],
)
def test_qr_path_is_checked(tiktok_settings: TikTokSettings, value: str, words: str) -> None:
    with pytest.raises(ValueError, match=re.escape(words)):
        tiktok_settings.replace(qr_path=value)


@pytest.mark.parametrize(("raw", "expected"), [("/tv", "/tv"), ("off", None), ("none", None)])
def test_qr_path_from_the_environment(raw: str, expected: str | None) -> None:
    environ = {
        "TIKTOK_CLIENT_KEY": "ck",
        "TIKTOK_CLIENT_SECRET": "cs",
        "TIKTOK_REDIRECT_URI": "https://app.example.com/auth/tiktok/callback",
        "TIKTOK_SECRET_KEY": "k" * 40,
        "TIKTOK_QR_PATH": raw,
    }
    assert TikTokSettings.from_env(environ=environ).qr_path == expected


def test_qr_path_defaults_on(tiktok_settings: TikTokSettings) -> None:
    assert tiktok_settings.qr_path == QR


# Where the code comes with


@pytest.mark.parametrize(
    ("code", "redirect_uri", "expected"),
    [
        ("c*1!2.va", "https://app.example/cb/", ("c*1!2.va", "https://app.example/cb/")),
        (None, "https://app.example/cb?code=c%2A1%212.va&state=s", ("c*1!2.va", "https://app.example/cb")),
        ("bare", "https://app.example/cb?code=inner", ("bare", "https://app.example/cb")),
        ("c", None, ("c", "https://fallback.example/cb")),
    ],
)  # fmt: skip
def test_the_code_and_the_exact_redirect_uri_it_came_with(
    code: str | None, redirect_uri: str | None, expected: tuple[str, str]
) -> None:
    status = QrStatus("confirmed", "t", code, redirect_uri, None, None)
    assert status.authorization("https://fallback.example/cb") == expected


def test_a_confirmed_answer_without_a_code_is_invalid() -> None:
    status = QrStatus("confirmed", "t", None, "https://app.example/cb", None, "LOG1")
    with pytest.raises(Exception, match="without a code") as caught:
        status.authorization("https://fallback.example/cb")
    assert getattr(caught.value, "code", None) == "invalid_response"
    assert getattr(caught.value, "log_id", None) == "LOG1"
