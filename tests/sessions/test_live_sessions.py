"""Live login sessions over the in-process store: a sign-out ends every copy of the cookie."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from tests.sessions.conftest import copy_of, session_app, signed_in_browser, who
from tests.support.signin import sign_in
from tests.tokens.conftest import cleared
from tiktok_asgi import MemoryTokenStore, TikTokAuthMiddleware, TikTokSettings
from tiktok_asgi.emulator import TikTokEmulator
from tiktok_asgi.sessions import end_user_sessions_in_store


async def test_a_copy_of_a_signed_out_cookie_is_anonymous(
    tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    app = session_app(tiktok_settings, MemoryTokenStore(), tiktok_emulator)
    async with (
        signed_in_browser(app, tiktok_settings, tiktok_emulator) as first,
        copy_of(first, app, tiktok_settings) as copy,
    ):
        assert await who(copy) == "Maya Chen"
        out = await first.post(tiktok_settings.logout_path)
        assert out.status_code == 303
        response = await copy.get("/me")
        assert response.json() == {"user": None}
        assert cleared(response, tiktok_settings)


async def test_a_dead_session_is_refused_on_protected_paths_and_websockets(
    tiktok_emulator: TikTokEmulator,
) -> None:
    settings = tiktok_emulator.settings(protected_paths=("/me",))
    app = session_app(settings, MemoryTokenStore(), tiktok_emulator)
    async with (
        signed_in_browser(app, settings, tiktok_emulator) as first,
        copy_of(first, app, settings) as copy,
    ):
        await first.post(settings.logout_path)
        refused = await copy.get("/me", headers={"accept": "application/json"})
        assert refused.status_code == 401
        assert cleared(refused, settings)
    with TestClient(app, base_url="https://testserver") as client:
        sign_in(client, settings, tiktok_emulator)
        cookie = client.cookies[settings.cookie_name]
        client.post(settings.logout_path)
        client.cookies.set(settings.cookie_name, cookie)
        with client.websocket_connect("/ws") as socket:
            assert socket.receive_json() == {"user": None}  # /ws is not protected: anonymous


async def test_end_user_sessions_ends_every_browser_of_one_user_only(
    tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    app = session_app(tiktok_settings, MemoryTokenStore(), tiktok_emulator)
    maya = tiktok_emulator.user("mayacooks")
    async with (
        signed_in_browser(app, tiktok_settings, tiktok_emulator) as phone,
        signed_in_browser(app, tiktok_settings, tiktok_emulator) as laptop,
        signed_in_browser(app, tiktok_settings, tiktok_emulator, "leo.skates") as leo,
    ):
        assert await who(laptop) == "Maya Chen"
        ended = await phone.post(f"/end/{maya.open_id}")
        assert ended.json() == {"ended": 2}
        assert cleared(ended, tiktok_settings)  # the request's own session was one of them
        assert await who(phone) is None
        assert await who(laptop) is None
        assert await who(leo) == "Leo Martins"
        assert (await leo.post(f"/end/{maya.open_id}")).json() == {"ended": 0}


async def test_end_user_sessions_outside_a_request_revokes_once_when_asked(
    tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    store = MemoryTokenStore()
    app = session_app(tiktok_settings, store, tiktok_emulator)
    maya = tiktok_emulator.user("mayacooks")
    async with (
        signed_in_browser(app, tiktok_settings, tiktok_emulator) as phone,
        signed_in_browser(app, tiktok_settings, tiktok_emulator) as laptop,
    ):
        revokes = tiktok_emulator.count("revoke")
        ended = await end_user_sessions_in_store(
            maya.open_id,
            settings=tiktok_settings,
            token_store=store,
            revoke=True,
            transport=tiktok_emulator.transport(),
        )
        assert ended == 2
        # One revoke disconnects the app from the account: every token goes with it.
        assert tiktok_emulator.count("revoke") == revokes + 1
        assert await who(phone) is None
        assert await who(laptop) is None


async def test_end_user_sessions_leaves_the_app_connected_by_default(
    tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    store = MemoryTokenStore()
    app = session_app(tiktok_settings, store, tiktok_emulator)
    maya = tiktok_emulator.user("mayacooks")
    async with signed_in_browser(app, tiktok_settings, tiktok_emulator):
        revokes = tiktok_emulator.count("revoke")
        ended = await end_user_sessions_in_store(
            maya.open_id, settings=tiktok_settings, token_store=store
        )
        assert ended == 1
        assert tiktok_emulator.count("revoke") == revokes


async def test_without_a_store_a_signed_out_cookie_copy_still_works(
    tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    """Documented: without a token store a sign-out only clears that browser's cookie."""
    app = TikTokAuthMiddleware(
        session_app(tiktok_settings, MemoryTokenStore(), tiktok_emulator).app,
        settings=tiktok_settings,
        transport=tiktok_emulator.transport(),
    )
    assert isinstance(app.app, Starlette)
    async with (
        signed_in_browser(app, tiktok_settings, tiktok_emulator) as first,
        copy_of(first, app, tiktok_settings) as copy,
    ):
        await first.post(tiktok_settings.logout_path)
        assert await who(copy) == "Maya Chen"


@pytest.mark.parametrize("open_id", ["", None])
async def test_end_user_sessions_needs_an_open_id(
    tiktok_settings: TikTokSettings, open_id: object
) -> None:
    with pytest.raises(ValueError, match="open_id"):
        await end_user_sessions_in_store(
            open_id,  # type: ignore[arg-type]
            settings=tiktok_settings,
            token_store=MemoryTokenStore(),
        )
