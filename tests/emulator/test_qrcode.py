"""Login Kit with QR code at the emulator: get_qrcode, check_qrcode, the phone's page and the test
API, with statuses moving new → scanned → confirmed → utilised, or expired, on the clock."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from httpx2 import AsyncClient, Response
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient
from tests.emulator.helpers import REDIRECT, TOKEN, Clock

from tiktok_asgi.emulator import EmulatorRejected, TikTokEmulator

GET_QRCODE = "https://open.tiktokapis.com/v2/oauth/get_qrcode/"
CHECK_QRCODE = "https://open.tiktokapis.com/v2/oauth/check_qrcode/"
SCOPES = "user.info.basic,user.info.profile"
TICKET = "ticket-" + "t" * 40
LOG_ID = re.compile(r"^\d{14}[0-9A-F]{20}$")


@pytest.fixture
async def http(emu: TikTokEmulator) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(transport=emu.transport()) as client:
        yield client


async def get_qrcode(http: AsyncClient, emu: TikTokEmulator, **form: str | None) -> Response:
    fields = {"client_key": emu.client_key, "scope": SCOPES, "state": "st-1", **form}
    return await http.post(GET_QRCODE, data={k: v for k, v in fields.items() if v is not None})


async def check(http: AsyncClient, emu: TikTokEmulator, token: str, **form: str) -> Response:
    fields = {"client_key": emu.client_key, "client_secret": emu.client_secret, "token": token}
    return await http.post(CHECK_QRCODE, data={**fields, **form})


async def new_code(http: AsyncClient, emu: TikTokEmulator) -> tuple[str, str]:
    """A code's token and its scan URL with our ticket filled in."""
    response = await get_qrcode(http, emu)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"scan_qrcode_url", "token"}
    assert "client_ticket=tobefilled" in body["scan_qrcode_url"]
    scan_url = body["scan_qrcode_url"].replace(
        "client_ticket=tobefilled", f"client_ticket={TICKET}"
    )
    return body["token"], scan_url


def refused(response: Response, error: str, status: int = 200) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    assert response.status_code == status, response.text
    assert body["error"] == error, body
    assert body["error_description"]
    assert LOG_ID.match(body["log_id"])
    return body


async def test_a_code_goes_new_scanned_confirmed_utilised(
    http: AsyncClient, emu: TikTokEmulator
) -> None:
    token, scan_url = await new_code(http, emu)
    assert urlsplit(scan_url).netloc == "www.tiktok.com"
    assert (await check(http, emu, token)).json() == {"status": "new"}
    emu.scan_qr(scan_url)
    assert (await check(http, emu, token)).json() == {"status": "scanned", "client_ticket": TICKET}
    emu.confirm_qr(scan_url, user="mayacooks", scopes=["user.info.basic"])
    answer = (await check(http, emu, token)).json()
    assert answer["status"] == "confirmed"
    assert answer["client_ticket"] == TICKET
    assert answer["redirect_uri"] == emu.redirect_uris[0] == REDIRECT
    assert answer["scope"] == "user.info.basic"
    assert answer["state"] == "st-1"
    # Until the code is redeemed, every check says the same.
    assert (await check(http, emu, token)).json() == answer
    exchange = {
        "client_key": emu.client_key,
        "client_secret": emu.client_secret,
        "grant_type": "authorization_code",
        "code": answer["code"],
        "redirect_uri": answer["redirect_uri"],
    }
    granted = await http.post(TOKEN, data=exchange)
    assert granted.status_code == 200, granted.text
    assert granted.json()["open_id"] == emu.user("mayacooks").open_id
    assert granted.json()["scope"] == "user.info.basic"
    assert (await check(http, emu, token)).json() == {"status": "utilised", "client_ticket": TICKET}
    assert emu.qr_status(scan_url) == "utilised"


async def test_the_code_needs_the_redirect_uri_it_came_with(
    http: AsyncClient, emu: TikTokEmulator
) -> None:
    token, scan_url = await new_code(http, emu)
    emu.confirm_qr(scan_url)
    answer = (await check(http, emu, token)).json()
    wrong = {
        "client_key": emu.client_key,
        "client_secret": emu.client_secret,
        "grant_type": "authorization_code",
        "code": answer["code"],
        "redirect_uri": answer["redirect_uri"] + "/",
    }
    body = refused(await http.post(TOKEN, data=wrong), "invalid_request")
    assert "Redirect_uri" in body["error_description"]


async def test_a_code_expires_on_the_clock(
    http: AsyncClient, emu: TikTokEmulator, clock: Clock
) -> None:
    token, scan_url = await new_code(http, emu)
    emu.scan_qr(scan_url)
    clock.advance(299)
    assert (await check(http, emu, token)).json()["status"] == "scanned"
    clock.advance(1)
    assert (await check(http, emu, token)).json() == {"status": "expired", "client_ticket": TICKET}
    with pytest.raises(EmulatorRejected, match="expired"):
        emu.confirm_qr(scan_url)


async def test_the_lifetime_is_configurable(clock: Clock) -> None:
    emu = TikTokEmulator(clock=clock, qr_code_ttl=30)
    async with AsyncClient(transport=emu.transport()) as client:
        token, _ = await new_code(client, emu)
        clock.advance(30)
        assert (await check(client, emu, token)).json() == {"status": "expired"}
    with pytest.raises(ValueError, match="qr_code_ttl"):
        TikTokEmulator(qr_code_ttl=0)


async def test_cancel_on_the_phone_expires_the_code(http: AsyncClient, emu: TikTokEmulator) -> None:
    token, scan_url = await new_code(http, emu)
    emu.cancel_qr(scan_url)
    assert (await check(http, emu, token)).json()["status"] == "expired"
    with pytest.raises(EmulatorRejected, match="expired"):
        emu.scan_qr(scan_url)


async def test_the_phone_refuses_what_tiktok_would(http: AsyncClient, emu: TikTokEmulator) -> None:
    token, scan_url = await new_code(http, emu)
    unfilled = scan_url.replace(TICKET, "tobefilled")
    with pytest.raises(EmulatorRejected, match="client_ticket") as caught:
        emu.scan_qr(unfilled)
    assert caught.value.field == "client_ticket"
    with pytest.raises(EmulatorRejected, match="URL-safe"):
        emu.scan_qr(scan_url.replace(TICKET, "x" * 512))
    emu.scan_qr(scan_url)
    emu.scan_qr(scan_url)  # a reload
    with pytest.raises(EmulatorRejected, match="another device"):
        emu.scan_qr(scan_url.replace(TICKET, "another-ticket"))
    with pytest.raises(EmulatorRejected, match="not valid"):
        emu.scan_qr(scan_url.replace("qr=", "qr=x"))
    emu.confirm_qr(scan_url)
    with pytest.raises(EmulatorRejected, match="used already"):
        emu.confirm_qr(scan_url)
    assert (await check(http, emu, token)).json()["status"] == "confirmed"


def test_a_sandbox_app_lets_only_target_users_confirm(clock: Clock) -> None:
    emu = TikTokEmulator(clock=clock, sandbox=True, target_users=["leo.skates"])
    client = TestClient(emu, base_url="https://open.tiktokapis.com")
    body = client.post(
        GET_QRCODE, data={"client_key": emu.client_key, "scope": "user.info.basic", "state": "s"}
    ).json()
    scan_url = body["scan_qrcode_url"].replace("tobefilled", TICKET)
    with pytest.raises(EmulatorRejected) as caught:
        emu.confirm_qr(scan_url, user="mayacooks")
    assert caught.value.error == "non_sandbox_target"
    emu.confirm_qr(scan_url, user="leo.skates")
    assert emu.qr_status(scan_url) == "confirmed"


@pytest.mark.parametrize(
    ("form", "error", "words"),
    [
        ({"client_key": None}, "invalid_client", "client_key is missing"),
        ({"client_key": None, "client_id": "emulator-client-key"}, "invalid_client", "client_id"),
        ({"client_key": "someone-else"}, "invalid_client", "Client key"),
        ({"client_secret": "emulator-client-secret"}, "invalid_request", "client_secret"),
        ({"scope": "user.info.basic user.info.profile"}, "invalid_scope", "commas"),
        ({"scope": "user.info.basic,video.publish"}, "invalid_scope", "Content Posting"),
        ({"scope": None}, "invalid_scope", "scope is missing"),
        ({"state": None}, "invalid_request", "state is missing"),
    ],
)
async def test_get_qrcode_refuses_what_tiktok_would(
    http: AsyncClient, emu: TikTokEmulator, form: dict[str, str | None], error: str, words: str
) -> None:
    body = refused(await get_qrcode(http, emu, **form), error)
    assert words in body["error_description"]


async def test_get_qrcode_wants_a_form(http: AsyncClient, emu: TikTokEmulator) -> None:
    response = await http.post(GET_QRCODE, json={"client_key": emu.client_key})
    refused(response, "invalid_request")


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"client_secret": "wrong"}, "invalid_client"),
        ({"client_key": "someone-else"}, "invalid_client"),
        ({"scope": "user.info.basic"}, "invalid_request"),
    ],
)
async def test_check_qrcode_refuses_what_tiktok_would(
    http: AsyncClient, emu: TikTokEmulator, form: dict[str, str], error: str
) -> None:
    token, _ = await new_code(http, emu)
    refused(await check(http, emu, token, **form), error)


async def test_check_qrcode_refuses_an_unknown_token(
    http: AsyncClient, emu: TikTokEmulator
) -> None:
    body = refused(await check(http, emu, "qrt.forged"), "invalid_request")
    assert "token" in body["error_description"]


async def test_polling_counts_against_the_rate_limit(clock: Clock) -> None:
    emu = TikTokEmulator(clock=clock, rate_limit=2)
    async with AsyncClient(transport=emu.transport()) as client:
        token, _ = await new_code(client, emu)
        for _ in range(2):
            assert (await check(client, emu, token)).status_code == 200
        limited = await check(client, emu, token)
        refused(limited, "rate_limit_exceeded", 429)
        assert int(limited.headers["retry-after"]) >= 1
        clock.advance(60)
        assert (await check(client, emu, token)).json() == {"status": "new"}


# The phone's page


def phone_client(emu: TikTokEmulator) -> TestClient:
    return TestClient(emu, base_url="https://www.tiktok.com")


def test_the_phone_page_scans_and_confirms(emu: TikTokEmulator) -> None:
    api = TestClient(emu, base_url="https://open.tiktokapis.com")
    body = api.post(
        GET_QRCODE, data={"client_key": emu.client_key, "scope": SCOPES, "state": "s"}
    ).json()
    scan_url = body["scan_qrcode_url"].replace("tobefilled", TICKET)
    phone = phone_client(emu)
    page = phone.get(scan_url)
    assert page.status_code == 200
    assert "Sign in to Emulated App on your other device?" in page.text
    assert '<html lang="en">' in page.text
    assert "@leo.skates" in page.text
    assert "script" not in page.headers["content-security-policy"]
    assert emu.qr_status(scan_url) == "scanned"
    query = parse_qs(urlsplit(scan_url).query)
    form = {
        "qr": query["qr"][0],
        "client_ticket": TICKET,
        "action": "authorize",
        "user": emu.user("leo.skates").open_id,
        "granted": ["user.info.basic"],
    }
    done = phone.post(urlsplit(scan_url).path, data=form)
    assert done.status_code == 200
    assert "You are signed in on your other device" in done.text
    answer = api.post(
        CHECK_QRCODE,
        data={
            "client_key": emu.client_key,
            "client_secret": emu.client_secret,
            "token": body["token"],
        },
    ).json()
    assert answer["status"] == "confirmed"
    assert answer["scope"] == "user.info.basic"
    assert emu.count("qr_scan") == 2


def test_the_phone_page_asks_again_without_an_account_and_cancels(emu: TikTokEmulator) -> None:
    api = TestClient(emu, base_url="https://open.tiktokapis.com")
    body = api.post(
        GET_QRCODE, data={"client_key": emu.client_key, "scope": SCOPES, "state": "s"}
    ).json()
    scan_url = body["scan_qrcode_url"].replace("tobefilled", TICKET)
    phone = phone_client(emu)
    qr = parse_qs(urlsplit(scan_url).query)["qr"][0]
    path = urlsplit(scan_url).path
    again = phone.post(path, data={"qr": qr, "client_ticket": TICKET, "action": "authorize"})
    assert again.status_code == 400
    assert "Choose an account to continue." in again.text
    cancelled = phone.post(path, data={"qr": qr, "client_ticket": TICKET, "action": "cancel"})
    assert "Sign-in cancelled" in cancelled.text
    assert emu.qr_status(scan_url) == "expired"
    gone = phone.get(scan_url)
    assert gone.status_code == 400
    assert "expired" in gone.text


def test_an_unfilled_scan_url_shows_the_refusal_page(emu: TikTokEmulator) -> None:
    api = TestClient(emu, base_url="https://open.tiktokapis.com")
    body = api.post(
        GET_QRCODE, data={"client_key": emu.client_key, "scope": SCOPES, "state": "s"}
    ).json()
    page = phone_client(emu).get(body["scan_qrcode_url"])
    assert page.status_code == 400
    assert "correct the following: client_ticket" in page.text


def test_mounted_the_scan_url_points_at_the_mount(emu: TikTokEmulator) -> None:
    client = TestClient(
        Starlette(routes=[Mount("/tiktok", app=emu)]), base_url="https://testserver"
    )
    body = client.post(
        "/tiktok/v2/oauth/get_qrcode/",
        data={"client_key": emu.client_key, "scope": SCOPES, "state": "s"},
    ).json()
    assert body["scan_qrcode_url"].startswith("https://testserver/tiktok/v2/auth/qrcode/?qr=")
    scan_url = body["scan_qrcode_url"].replace("tobefilled", TICKET)
    page = client.get(scan_url)
    assert page.status_code == 200
    assert 'action="/tiktok/v2/auth/qrcode/"' in page.text


def test_the_phone_page_is_served_on_tiktoks_web_host_only(emu: TikTokEmulator) -> None:
    api = TestClient(emu, base_url="https://open.tiktokapis.com")
    assert api.get("/v2/auth/qrcode/?qr=x&client_ticket=y").status_code == 404
    web = TestClient(emu, base_url="https://www.tiktok.com")
    assert web.post(GET_QRCODE.replace("open.tiktokapis.com", "www.tiktok.com")).status_code == 404
