"""A user's token store with only get/set/delete/lock: live sessions, the index and webhook
de-duplication are built on those four."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tests.sessions.conftest import copy_of, let_time_pass, session_app, signed_in_browser, who
from tiktok_asgi import TikTokSettings
from tiktok_asgi._session.storage import StoreOps
from tiktok_asgi.emulator import TikTokEmulator
from tiktok_asgi.sessions import end_user_sessions_in_store


class BasicStore:
    """Only what the TokenStore protocol requires, on a dict (TTLs ignored)."""

    def __init__(self) -> None:
        self.items: dict[str, bytes] = {}
        self._lock = asyncio.Lock()

    async def get(self, key: str) -> bytes | None:
        return self.items.get(key)

    async def set(self, key: str, value: bytes, ttl: int) -> None:
        self.items[key] = value

    async def delete(self, key: str) -> None:
        self.items.pop(key, None)

    @asynccontextmanager
    async def lock(self, key: str, timeout: float) -> AsyncIterator[None]:  # noqa: ASYNC109
        async with self._lock:
            yield


async def test_the_capabilities_are_built_from_the_basic_four() -> None:
    ops = StoreOps(BasicStore())
    assert ops.peek is None
    assert not await ops.exists("k")
    assert await ops.add_once("k", 60)
    assert not await ops.add_once("k", 60)
    assert await ops.exists("k")
    await ops.index_add("idx", "a", 60)
    await ops.index_add("idx", "b", 60)
    await ops.index_add("idx", "gone", -5)  # already expired
    assert sorted(await ops.index_members("idx")) == ["a", "b"]
    await ops.index_remove("idx", "a")
    assert await ops.index_members("idx") == ["b"]
    await ops.index_remove("idx", "b")
    assert await ops.index_members("idx") == []
    assert await ops.replace("k", b"2", 60)  # "k" is there: written
    assert not await ops.replace("absent", b"2", 60)  # never created by a replace
    assert await ops.get("absent") is None
    await ops.end("k", 60)
    assert not await ops.replace("k", b"3", 60)  # ended is final
    assert not await ops.exists("k")


async def test_a_basic_store_gives_live_sessions_and_ends_a_user_s_sessions(
    tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    store = BasicStore()
    app = session_app(tiktok_settings, store, tiktok_emulator)
    maya = tiktok_emulator.user("mayacooks")
    async with (
        signed_in_browser(app, tiktok_settings, tiktok_emulator) as first,
        copy_of(first, app, tiktok_settings) as copy,
        signed_in_browser(app, tiktok_settings, tiktok_emulator) as second,
    ):
        await first.post(tiktok_settings.logout_path)
        assert await who(copy) is None  # this process ended it: seen at once
        ended = await end_user_sessions_in_store(
            maya.open_id, settings=tiktok_settings, token_store=store, revoke=False
        )
        assert ended == 1
        let_time_pass(app, 1.0)  # another "process" ended it: seen within a second
        assert await who(second) is None
