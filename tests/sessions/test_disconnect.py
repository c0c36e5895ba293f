"""Disconnect TikTok: revoked at TikTok once, every session of the user ended, this browser signed
out; nothing claimed that did not happen. Signing out leaves TikTok alone."""

from __future__ import annotations

import logging
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette

from tests.sessions.conftest import browser, session_app, signed_in_browser, who
from tests.support.faulty_store import FaultyStore
from tests.tokens.conftest import cleared, expire_access_token, read_record, session_id
from tiktok_asgi import MemoryTokenStore, TikTokAuthMiddleware, TikTokSettings, TikTokUser
from tiktok_asgi.emulator import Fault, TikTokEmulator

JSON = {"accept": "application/json"}
BROWSER = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
DISCONNECT = "/auth/tiktok/disconnect"


class LoggedOut:
    def __init__(self) -> None:
        self.users: list[str] = []

    async def __call__(self, user: TikTokUser) -> None:
        self.users.append(user.open_id)


def revoked_tokens(emulator: TikTokEmulator) -> list[str]:
    return [r.form["token"][0] for r in emulator.requests if r.endpoint == "revoke"]


async def test_disconnect_revokes_once_and_ends_every_session_of_the_user(
    tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    store = MemoryTokenStore()
    logged_out = LoggedOut()
    app = session_app(tiktok_settings, store, tiktok_emulator, on_logout=logged_out)
    maya = tiktok_emulator.user("mayacooks")
    async with (
        signed_in_browser(app, tiktok_settings, tiktok_emulator) as phone,
        signed_in_browser(app, tiktok_settings, tiktok_emulator) as laptop,
        signed_in_browser(app, tiktok_settings, tiktok_emulator, "leo.skates") as leo,
    ):
        access = (await read_record(store, tiktok_settings, session_id(phone, tiktok_settings)))[
            "access_token"
        ]
        answer = await phone.post(DISCONNECT, params={"next": "/goodbye"})
        assert answer.status_code == 303
        assert answer.headers["location"] == "/goodbye"
        assert cleared(answer, tiktok_settings)
        assert tiktok_settings.cookie_name not in phone.cookies
        # TikTok's revoke ended the whole grant: one call, the laptop is signed out too.
        assert revoked_tokens(tiktok_emulator) == [access]
        assert not tiktok_emulator.is_connected(maya)
        assert await who(laptop) is None
        assert await who(leo) == "Leo Martins"
        assert tiktok_emulator.is_connected("leo.skates")
    assert logged_out.users == [maya.open_id]


async def test_signing_out_leaves_the_app_connected(
    tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    app = session_app(tiktok_settings, MemoryTokenStore(), tiktok_emulator)
    async with (
        signed_in_browser(app, tiktok_settings, tiktok_emulator) as phone,
        signed_in_browser(app, tiktok_settings, tiktok_emulator) as laptop,
    ):
        assert (await phone.post(tiktok_settings.logout_path)).status_code == 303
        assert await who(phone) is None
        assert await who(laptop) == "Maya Chen"
    assert revoked_tokens(tiktok_emulator) == []
    assert tiktok_emulator.is_connected("mayacooks")


async def test_an_expiring_access_token_is_renewed_before_it_is_revoked(
    tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    store = MemoryTokenStore()
    app = session_app(tiktok_settings, store, tiktok_emulator)
    async with signed_in_browser(app, tiktok_settings, tiktok_emulator) as phone:
        sid = session_id(phone, tiktok_settings)
        expired = await expire_access_token(store, tiktok_settings, sid)
        assert (await phone.post(DISCONNECT)).status_code == 303
    assert tiktok_emulator.count("token", grant_type="refresh_token") == 1
    (revoked,) = revoked_tokens(tiktok_emulator)
    assert revoked != expired  # the renewed one: revoking a dead token would prove nothing
    assert not tiktok_emulator.is_connected("mayacooks")


async def test_a_grant_already_gone_at_tiktok_still_disconnects(
    tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    app = session_app(tiktok_settings, MemoryTokenStore(), tiktok_emulator)
    async with (
        signed_in_browser(app, tiktok_settings, tiktok_emulator) as phone,
        signed_in_browser(app, tiktok_settings, tiktok_emulator) as laptop,
    ):
        await tiktok_emulator.remove_app("mayacooks")  # no webhook told the app
        answer = await phone.post(DISCONNECT, headers=JSON)
        assert answer.status_code == 303
        assert await who(laptop) is None
    assert len(revoked_tokens(tiktok_emulator)) == 1  # TikTok said: invalid already


@pytest.mark.parametrize(
    "fault",
    [Fault.error_body("internal_error"), Fault.status(503), Fault.connection_refused()],
    ids=["error-body", "503", "unreachable"],
)
async def test_when_tiktok_fails_nothing_changes_and_it_can_be_tried_again(
    tiktok_emulator: TikTokEmulator,
    tiktok_settings: TikTokSettings,
    caplog: pytest.LogCaptureFixture,
    fault: Fault,
) -> None:
    logged_out = LoggedOut()
    app = session_app(tiktok_settings, MemoryTokenStore(), tiktok_emulator, on_logout=logged_out)
    async with (
        signed_in_browser(app, tiktok_settings, tiktok_emulator) as phone,
        signed_in_browser(app, tiktok_settings, tiktok_emulator) as laptop,
    ):
        tiktok_emulator.inject("revoke", fault)
        with caplog.at_level(logging.WARNING, logger="tiktok_asgi"):
            failed = await phone.post(DISCONNECT, headers=JSON)
        assert failed.status_code >= 500
        assert "nothing was changed" in failed.json()["error_description"]
        assert not failed.headers.get_list("set-cookie")
        assert (await who(phone), await who(laptop)) == ("Maya Chen", "Maya Chen")
        assert tiktok_emulator.is_connected("mayacooks")
        assert logged_out.users == []
        assert any(r.getMessage().startswith("disconnect_failed") for r in caplog.records)
        page = await phone.post(DISCONNECT, headers=BROWSER)  # fault used up: it works now
        assert page.status_code == 303
        assert (await who(phone), await who(laptop)) == (None, None)
    assert not tiktok_emulator.is_connected("mayacooks")
    assert len(logged_out.users) == 1


async def test_the_failure_page_offers_the_disconnect_page_again(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    app = session_app(tiktok_settings, MemoryTokenStore(), tiktok_emulator)
    async with signed_in_browser(app, tiktok_settings, tiktok_emulator) as phone:
        tiktok_emulator.inject("revoke", Fault.status(502))
        page = await phone.post(DISCONNECT, params={"next": "/settings"}, headers=BROWSER)
        assert page.status_code == 502
        assert "nothing was changed" in page.text
        assert f"href='{DISCONNECT}?next=%2Fsettings'" in page.text


async def test_a_store_down_before_revoking_changes_nothing(
    tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    store = FaultyStore(MemoryTokenStore())
    app = session_app(tiktok_settings, store, tiktok_emulator)
    async with signed_in_browser(app, tiktok_settings, tiktok_emulator) as phone:
        store.down = True
        refused = await phone.post(DISCONNECT, headers=JSON)
        assert refused.status_code == 503
        assert refused.json()["error"] == "token_store_unavailable"
        assert not refused.headers.get_list("set-cookie")
        assert revoked_tokens(tiktok_emulator) == []
        store.down = False
        assert await who(phone) == "Maya Chen"
        assert (await phone.post(DISCONNECT)).status_code == 303
    assert not tiktok_emulator.is_connected("mayacooks")


async def test_a_store_failing_after_the_revoke_signs_this_browser_out_as_sign_out_does(
    tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    store = FaultyStore(MemoryTokenStore())
    app = session_app(tiktok_settings, store, tiktok_emulator)
    async with signed_in_browser(app, tiktok_settings, tiktok_emulator) as phone:
        copy = browser(app)
        copy.cookies.set(tiktok_settings.cookie_name, phone.cookies[tiktok_settings.cookie_name])
        store.fail_next = ["index_members"]  # the user's sessions cannot be listed
        held = await phone.post(DISCONNECT, headers=JSON)
        assert held.status_code == 503
        assert held.json()["error"] == "token_store_unavailable"
        assert "TikTok is disconnected" in held.json()["error_description"]
        assert cleared(held, tiktok_settings)
        assert len(revoked_tokens(tiktok_emulator)) == 1
        # This browser's session ended here at once, whatever the copy of its cookie says.
        async with copy:
            assert await who(copy) is None


async def test_get_shows_the_page_whose_button_posts_it(
    tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    app = session_app(tiktok_settings, MemoryTokenStore(), tiktok_emulator)
    async with signed_in_browser(app, tiktok_settings, tiktok_emulator) as phone:
        page = await phone.get(DISCONNECT, params={"next": "/account"}, headers=BROWSER)
        assert page.status_code == 200
        assert page.headers["cache-control"] == "no-store"
        assert "Disconnect TikTok?" in page.text
        assert f"method=post action='{DISCONNECT}?next=%2Faccount'" in page.text
        assert "href='/account'" in page.text
        head = await phone.head(DISCONNECT, headers=BROWSER)
        assert head.status_code == 200
        api = await phone.get(DISCONNECT, headers=JSON)
        assert (api.status_code, api.headers["allow"]) == (405, "POST")
        assert await who(phone) == "Maya Chen"
    assert revoked_tokens(tiktok_emulator) == []


async def test_the_page_posts_inside_a_mount(
    tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    app = session_app(tiktok_settings, MemoryTokenStore(), tiktok_emulator)
    transport = httpx2.ASGITransport(app=app, root_path="/shop")
    async with httpx2.AsyncClient(transport=transport, base_url="https://testserver") as client:
        page = await client.get(f"/shop{DISCONNECT}", headers=BROWSER)
    assert f"action='/shop{DISCONNECT}?next=%2F'" in page.text


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site"},
    ],
)
async def test_a_disconnect_from_another_site_is_refused(
    tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator, headers: dict[str, str]
) -> None:
    app = session_app(tiktok_settings, MemoryTokenStore(), tiktok_emulator)
    async with signed_in_browser(app, tiktok_settings, tiktok_emulator) as phone:
        refused = await phone.post(DISCONNECT, headers={**JSON, **headers})
        assert refused.status_code == 403
        assert refused.json()["error"] == "csrf_rejected"
        assert await who(phone) == "Maya Chen"
    assert revoked_tokens(tiktok_emulator) == []
    assert tiktok_emulator.is_connected("mayacooks")


async def test_nobody_signed_in_is_asked_to_sign_in(
    tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    app = session_app(tiktok_settings, MemoryTokenStore(), tiktok_emulator)
    async with browser(app) as nobody:
        answer = await nobody.post(DISCONNECT, headers=JSON)
    assert answer.status_code == 401
    assert answer.json()["error"] == "login_required"
    assert revoked_tokens(tiktok_emulator) == []


async def test_a_session_ended_elsewhere_is_asked_to_sign_in_again(
    tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    app = session_app(tiktok_settings, MemoryTokenStore(), tiktok_emulator)
    async with signed_in_browser(app, tiktok_settings, tiktok_emulator) as phone:
        copy = browser(app)
        copy.cookies.set(tiktok_settings.cookie_name, phone.cookies[tiktok_settings.cookie_name])
        assert (await phone.post(tiktok_settings.logout_path)).status_code == 303
        async with copy:
            answer = await copy.post(DISCONNECT, headers=JSON)
            assert answer.status_code == 401
            assert "Sign in with TikTok again" in answer.json()["error_description"]
            assert cleared(answer, tiktok_settings)
    assert revoked_tokens(tiktok_emulator) == []


def plain_app(settings: TikTokSettings, emulator: TikTokEmulator, **kwargs: Any) -> Any:
    return TikTokAuthMiddleware(
        Starlette(), settings=settings, transport=emulator.transport(), **kwargs
    )


async def test_without_a_token_store_the_default_path_says_what_it_needs(
    tiktok_settings: TikTokSettings,
    tiktok_emulator: TikTokEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = plain_app(tiktok_settings, tiktok_emulator)
    async with browser(app) as client:
        with caplog.at_level(logging.WARNING, logger="tiktok_asgi"):
            answer = await client.post(DISCONNECT, headers=JSON)
            page = await client.get(DISCONNECT, headers=BROWSER)
    assert answer.status_code == 501
    assert answer.json()["error"] == "disconnect_unavailable"
    assert page.status_code == 501
    assert "<h1>Disconnecting TikTok is not available</h1>" in page.text
    assert "not available on this site" in page.text
    (warning,) = [r for r in caplog.records if r.getMessage().startswith("disconnect_unavailable")]
    assert "pass token_store=MemoryTokenStore()" in warning.getMessage()  # once, with the fix


def test_an_explicit_path_without_a_token_store_fails_at_start_up(
    tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    settings = tiktok_settings.replace(disconnect_path="/account/disconnect")
    with pytest.raises(ValueError, match="needs a token_store") as caught:
        plain_app(settings, tiktok_emulator)
    assert "disconnect_path=None" in str(caught.value)
    plain_app(settings, tiktok_emulator, token_store=MemoryTokenStore())  # with one: fine


async def test_none_turns_it_off(
    tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    settings = tiktok_settings.replace(disconnect_path=None)
    app = session_app(settings, MemoryTokenStore(), tiktok_emulator)
    async with signed_in_browser(app, settings, tiktok_emulator) as phone:
        assert (await phone.post(DISCONNECT)).status_code == 404  # the application's path
        assert await who(phone) == "Maya Chen"


async def test_a_path_of_its_own(
    tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    settings = tiktok_settings.replace(disconnect_path="/account/disconnect")
    app = session_app(settings, MemoryTokenStore(), tiktok_emulator)
    async with signed_in_browser(app, settings, tiktok_emulator) as phone:
        assert (await phone.post("/account/disconnect")).status_code == 303
    assert not tiktok_emulator.is_connected("mayacooks")


@pytest.mark.parametrize(
    ("changes", "fix"),
    [
        ({"disconnect_path": "disconnect"}, "disconnect_path must be a path"),
        ({"disconnect_path": "//evil.example"}, "disconnect_path must be a path"),
        ({"disconnect_path": "/auth/tiktok/logout"}, "disconnect_path must differ"),
        ({"disconnect_path": "/auth/tiktok/login"}, "disconnect_path must differ"),
        ({"webhook_path": DISCONNECT}, "disconnect_path must differ"),
    ],
)
def test_wrong_disconnect_settings_fail_at_start_up(
    tiktok_emulator: TikTokEmulator, changes: dict[str, Any], fix: str
) -> None:
    with pytest.raises(ValueError, match=fix):
        tiktok_emulator.settings(**changes)


def test_revoke_on_logout_still_needs_a_token_store(
    tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    with pytest.raises(ValueError, match="revoke_on_logout needs a token_store"):
        plain_app(tiktok_settings, tiktok_emulator, revoke_on_logout=True)
