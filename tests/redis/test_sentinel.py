"""RedisTokenStore behind Sentinel: a failover forced while clients keep signing in, making
signed-in requests, refreshing and signing out loses no session, brings back no ended one, and
answers nothing but 503 ``token_store_unavailable`` while the primary changes.

The store waits for the replica after each write (``replicas=1``, the deployment's one replica):
once Sentinel has promoted it, writes are 503 until the old primary is back as the new one's
replica (Sentinel demotes it about ten seconds later), then everything works again.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx2
import pytest
from redis.asyncio import Redis

from tests.redis.conftest import JSON, Tally, browser, lifespan, session_app, try_sign_in
from tests.support.redis_deployments import RedisProcess, SentinelDeployment
from tiktok_asgi import TikTokAuthMiddleware, TikTokSettings, TokenStoreError
from tiktok_asgi.emulator import EmulatorUser, TikTokEmulator
from tiktok_asgi.redis_store import RedisTokenStore

pytestmark = pytest.mark.redis

WORKERS = 8
BEFORE = 1.5  # seconds of load before the failover: sessions are refreshed from 1 s of age
MOST_STEPS = 1000  # per worker: the loops are bounded in count as well as in time
MOST_SIGN_INS = 20  # per worker (one user each), well under a user's most sessions
REJOIN = 30.0  # seconds at most for Sentinel to demote the old primary and for it to resync
SETTLE = 3.0  # seconds at most, at the end, for 503s to pass and other instances to hear


async def test_replicas_refuse_a_write_no_replica_confirms(redis_process: RedisProcess) -> None:
    store = RedisTokenStore(f"redis://127.0.0.1:{redis_process.port}/0", replicas=1, timeout=1.0)
    try:
        started = time.monotonic()
        with pytest.raises(TokenStoreError, match="0 of 1 replicas"):
            await store.set("k", b"v", ttl=60)
        assert time.monotonic() - started < 1.0  # WAIT gives up at a quarter of the budget
        with pytest.raises(TokenStoreError, match="replicas"):
            async with store.lock("k", timeout=5):
                pass
        assert await store.get("k:lock") is None  # taken unconfirmed: given back, not left
        assert await store.get("k") == b"v"  # it was written, only not confirmed; reads answer
        await store.ping()
    finally:
        await store.aclose()

    client = Redis.from_url(f"redis://127.0.0.1:{redis_process.port}/0")
    try:
        yours = RedisTokenStore(client, replicas=1, timeout=1.0)  # through the client's pool
        with pytest.raises(TokenStoreError, match="0 of 1 replicas"):
            await yours.delete("k")
        await yours.aclose()
        assert await client.get("k") is None  # deleted all the same; the client stays open
    finally:
        await client.aclose()


@dataclass
class Session:
    client: httpx2.AsyncClient
    user: EmulatorUser
    app: int  # the instance it signed in through
    cookie: str
    signed_out: float | None = None  # when a sign-out answered that it was done
    held_out: bool = False  # a sign-out answered 503: ended here, written later


class Load:
    """Workers on two instances: sign in, use sessions (refreshing them), sign out."""

    def __init__(
        self,
        apps: list[TikTokAuthMiddleware],
        settings: TikTokSettings,
        emulator: TikTokEmulator,
    ) -> None:
        self.apps = apps
        self.settings = settings
        self.emulator = emulator
        self.tally = Tally()
        self.sessions: list[Session] = []
        self.stop_at = float("inf")
        self.revived: list[str] = []

    async def worker(self, n: int) -> None:
        rng = random.Random(n)
        user = self.emulator.users[n % len(self.emulator.users)]
        mine: list[Session] = []
        signed_in = 0
        for step in range(MOST_STEPS):
            if time.monotonic() > self.stop_at:
                return
            roll = rng.random()
            if step == 2 and len(mine) == 2:  # a sign-out early on, before the failover
                await self.sign_out(mine.pop(0))
            elif step < 2 or not mine or (roll < 0.25 and signed_in < MOST_SIGN_INS):
                signed_in += 1
                await self.sign_in(n, user, mine)
            elif roll < 0.35:
                await self.sign_out(mine.pop(rng.randrange(len(mine))))
            else:
                await self.use(rng.choice(mine))

    async def sign_in(self, n: int, user: EmulatorUser, mine: list[Session]) -> None:
        which = n % len(self.apps)
        client = browser(self.apps[which])
        if await try_sign_in(client, self.settings, self.emulator, user.username, self.tally):
            cookie = client.cookies[self.settings.cookie_name]
            session = Session(client, user, which, cookie)
            self.sessions.append(session)
            mine.append(session)
        else:
            await client.aclose()

    async def use(self, session: Session) -> None:
        me = await session.client.get("/me", headers=JSON)
        if self.tally.saw(me, expect=(200,)) and me.json()["open_id"] != session.user.open_id:
            self.tally.wrong.append(f"/me answered {me.json()} to {session.user.open_id}")
        token = await session.client.get("/token", headers=JSON)
        if self.tally.saw(token, expect=(200,)) and (
            token.json()["open_id"] != session.user.open_id
        ):
            self.tally.wrong.append(f"/token answered {token.json()} to {session.user.open_id}")

    async def sign_out(self, session: Session) -> None:
        out = await session.client.post(self.settings.logout_path, headers=JSON)
        if self.tally.saw(out, expect=(200, 303)):
            session.signed_out = time.monotonic()
            # At once, on the instance that signed it out: the cookie no longer works.
            if await self.works(session, session.app) is True:
                self.revived.append(f"{session.user.open_id} right after its sign-out")
        else:
            session.held_out = True

    async def works(self, session: Session, app: int) -> bool | None:
        """Whether the session's cookie signs a request in on instance ``app``; None: 503."""
        async with browser(self.apps[app]) as copy:
            copy.cookies.set(self.settings.cookie_name, session.cookie)
            me = await copy.get("/me", headers=JSON)
        if me.status_code == 503:
            return None
        assert me.status_code == 200, me.text
        found = me.json()["open_id"]
        if found not in (None, session.user.open_id):
            self.tally.wrong.append(f"{session.user.open_id}'s cookie signed in {found}")
        return found is not None


async def _until(check: Callable[[], Awaitable[bool]], deadline: float) -> bool:
    """Poll ``check()`` until true or the ``deadline`` (monotonic) passes."""
    while True:
        if await check():
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.1)


async def test_a_failover_under_load_loses_no_session_and_revives_none(
    sentinel_deployment: SentinelDeployment,
    tiktok_emulator: TikTokEmulator,
    tiktok_settings: TikTokSettings,
) -> None:
    stores = [
        RedisTokenStore.sentinel(
            sentinel_deployment.sentinels, "mymaster", replicas=1, timeout=1.0, pool_size=8
        )
        for _ in range(2)
    ]
    apps = [session_app(tiktok_settings, store, tiktok_emulator) for store in stores]
    load = Load(apps, tiktok_settings, tiktok_emulator)
    try:
        for store in stores:
            await store.start()
        async with lifespan(apps[0]), lifespan(apps[1]):
            workers = [asyncio.create_task(load.worker(n)) for n in range(WORKERS)]
            try:
                await asyncio.sleep(BEFORE)  # the load runs meanwhile

                async def warmed_up() -> bool:  # however slow the machine
                    refreshed = tiktok_emulator.count("token", grant_type="refresh_token")
                    return refreshed > 0 and any(s.signed_out for s in load.sessions)

                await _until(warmed_up, time.monotonic() + 20)
                old = await asyncio.to_thread(sentinel_deployment.failover)
                new = await asyncio.to_thread(sentinel_deployment.wait_for_new_primary, old)
                assert new != old
                await asyncio.to_thread(sentinel_deployment.wait_for_replicas, REJOIN)
                load.stop_at = time.monotonic()
                await asyncio.wait_for(asyncio.gather(*workers), 30)
            finally:
                for worker in workers:
                    worker.cancel()
                await asyncio.gather(*workers, return_exceptions=True)
            for app in apps:  # writes are taken again: a sign-in works on every instance

                async def signs_in(app: TikTokAuthMiddleware = app) -> bool:
                    async with browser(app) as client:
                        user = tiktok_emulator.users[-1].username
                        return await try_sign_in(
                            client, tiktok_settings, tiktok_emulator, user, load.tally
                        )

                assert await _until(signs_in, time.monotonic() + SETTLE)
            await _check_afterwards(load)
    finally:
        for session in load.sessions:
            await session.client.aclose()
        for app in apps:
            await _stop_retrying(app)
        for store in stores:
            await store.aclose()

    assert not load.tally.wrong, load.tally.wrong[:10]
    assert not load.revived, load.revived[:10]
    assert load.tally.unavailable > 0  # the switch was seen, as 503s
    assert tiktok_emulator.count("token", grant_type="refresh_token") > 0
    signed_out = [s for s in load.sessions if s.signed_out is not None]
    assert len(load.sessions) >= 2 * WORKERS
    assert signed_out


async def _stop_retrying(app: TikTokAuthMiddleware) -> None:
    """Stop the instance's retries of held writes before its store closes: one caught opening
    a connection as the store closes would leave that socket open."""
    assert app._tokens is not None
    await app._tokens.aclose()


async def _check_afterwards(load: Load) -> None:
    """Every session signed in and not signed out still works, for its own user, on both
    instances; every signed-out one works on neither. A sign-out that answered 503 is held by
    its instance (ended there at once, written once the store takes writes again): checked
    there."""
    deadline = time.monotonic() + SETTLE
    for session in load.sessions:
        for app in range(len(load.apps)):
            if session.held_out and app != session.app:
                continue
            if session.signed_out is None and not session.held_out:

                async def alive(session: Session = session, app: int = app) -> bool:
                    return await load.works(session, app) is True

                if not await _until(alive, deadline):
                    load.tally.wrong.append(f"lost: {session.user.open_id} on instance {app}")
            else:

                async def ended(session: Session = session, app: int = app) -> bool:
                    return await load.works(session, app) is False

                if not await _until(ended, deadline):
                    load.revived.append(f"{session.user.open_id} on instance {app}")
    # The tokens they hold are theirs at TikTok too.
    for session in load.sessions[:: max(1, len(load.sessions) // 10)]:
        if session.signed_out is None and not session.held_out:
            whose = await session.client.get("/tiktok-user", headers=JSON)
            if load.tally.saw(whose, expect=(200,)) and (
                whose.json()["open_id"] != session.user.open_id
            ):
                load.tally.wrong.append(f"TikTok says {whose.json()} for {session.user.open_id}")
