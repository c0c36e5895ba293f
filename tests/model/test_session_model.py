"""A model of the login-session lifecycle, driven through real ASGI requests with faults injected.

Two middleware instances share one token store (a MemoryTokenStore, or a real redis-server with
a client per instance), each instance's store wrapped to fail or stall on demand; the emulator
is TikTok. Time is virtual (see :mod:`tests.model.harness`): no step waits for real time.

Rules (two browsers are signed in first): sign in a new browser (login on one instance, the
callback on either); sign in again in a browser; copy a browser's cookie to another browser;
``/me`` from any browser on any instance; ``/token`` (plain, after the stored access token
expired, or renewing a token TikTok "rejected"); start a refresh and hold it in flight (before
TikTok sees it, after TikTok rotated the tokens, or at the store write), then release it (with the
store as it is, down, or back); sign out (no Origin, this site's, another site's); end a user's
sessions (from a script, or a view); the user removes the app at TikTok (it revokes and sends
``authorization.removed``, redelivered until taken); an event already taken is delivered again
(signed with ``sign_webhook``); store outage on or off; one call of one instance's store fails
once; time passes (held ends and rotated tokens are written, webhooks redelivered). At the end
everything settles: the store is back for good, held work is written, every event is taken.

Invariants (after every step, and once everything settled):

- no answer is a 500, nothing raises out of the app or a background task, no traceback is
  logged;
- ended is final: an ended session's record never comes back, and no copy of its cookie is
  signed in on the instance that ended it (or holds its end), nor on any instance once the
  store took the end and the liveness cache aged out (``CACHE_SECONDS``, the documented delay
  before another instance sees an end);
- nothing escapes an end: once a sign-out answered 303, ``end_user_sessions`` returned or
  ``authorization.removed`` answered 200, the store holds no record of the sessions concerned
  (for the last two, every session of that user started before);
- nothing recorded is lost: a session is answered signed out only once it ended (its end is
  held by that instance, or the store no longer holds it) and leaves the store only after an
  end was asked for; a 503 comes only when a store call failed; ends answered 503 and rotated
  tokens held while the store was down reach the store once it is back; an
  ``authorization.removed`` not answered 200 is delivered again and handled; once everything
  settled, every session nobody tried to end is signed in on both instances;
- no refresh token is sent to TikTok twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import os
import time
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from hypothesis import Phase
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests.model.harness import (
    WEBHOOK_PATH,
    WEBHOOK_URL,
    Backend,
    Browser,
    Gate,
    MemoryBackend,
    RedisBackend,
    World,
)
from tests.support.asgi import Answer, asgi_call
from tests.support.signin import identity_value
from tests.tokens.conftest import RedisServer
from tiktok_asgi import TokenStoreUnavailable
from tiktok_asgi._session import CACHE_SECONDS
from tiktok_asgi._session.records import Sealer, record_key
from tiktok_asgi._webhook_marks import _CLAIM_PREFIX as CLAIM_PREFIX
from tiktok_asgi._webhook_marks import _DONE_PREFIX as DONE_PREFIX
from tiktok_asgi.sessions import end_user_sessions_in_store
from tiktok_asgi.webhooks import sign_webhook

USERS = ("mayacooks", "leo.skates")
INSTANCES = st.sampled_from([0, 1])
STORE_CALLS = (
    "get",
    "set",
    "delete",
    "replace",
    "exists",
    "add_once",
    "index_add",
    "index_members",
    "index_remove",
    "lock",
)
HOLD_POINTS = ("before TikTok", "after TikTok", "at the store write")
STEP_SECONDS = 20.0  # real seconds one step may take before it counts as hung
# Real seconds without progress before a step waits for virtual time. Rarely needed (a request
# waiting for a lock kept until held tokens are written); long enough that a worker starved of
# CPU by its neighbours does not pass virtual time where an unloaded run would not.
STUCK_SECONDS = 1.0
CLOSE_ROUNDS, CLOSE_SECONDS = 5, 2.0  # closing a run: cancellations, real seconds for each


class _Tracebacks(logging.Handler):
    """The library's log records that carry an exception."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.seen.append(record.getMessage())


@dataclass(eq=False)
class Session:
    """What the model knows of one login session."""

    sid: str
    user: str
    cookie: str
    ended_on: set[int] = field(default_factory=set)  # instances that ended it (or hold its end)
    end_requested: bool = False  # an end was attempted that may reach it
    doomed: bool = False  # TikTok revoked its grant: a refused refresh may end it
    must_be_gone: bool = False  # an end that covers it was answered as done
    gone_at: float | None = None  # virtual time its record was first seen gone


@dataclass
class Held:
    """A ``/token`` request held in flight."""

    task: asyncio.Task[Answer]
    browser: Browser
    session: Session | None
    at: int
    gate: Gate
    failures: int


class SessionModel(RuleBasedStateMachine):
    browsers = Bundle("browsers")

    def __init__(self, backend: Backend) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.loop_errors: list[str] = []
        self.loop.set_exception_handler(self._loop_error)
        self.broken = False
        self.backend = backend
        self.world = World(backend)
        self.sessions: dict[str, Session] = {}
        self.held: Held | None = None
        self.attempts_seen = 0
        self.removed_at: dict[str, int] = {}
        self.browser_count = 0
        self._sealer = Sealer(self.world.settings)
        self.tracebacks = _Tracebacks()
        logging.getLogger("tiktok_asgi").addHandler(self.tracebacks)
        self._run(backend.open())

    # Driving the loop --------------------------------------------------------------------------

    def _run(self, coro: Any) -> Any:
        try:
            return self.loop.run_until_complete(asyncio.wait_for(self._drive(coro), STEP_SECONDS))
        except BaseException:
            self.broken = True
            raise

    async def _drive(self, coro: Any) -> Any:
        """Run one step; while it is stuck, time passes to the next background writer's turn
        (a request may wait for a refresh lock kept until held tokens reach the store)."""
        step = asyncio.ensure_future(coro)
        while not step.done():
            await asyncio.wait([step], timeout=STUCK_SECONDS)
            due = self.w.clock.next_due()
            if not step.done() and due is not None:
                await self.w.advance(due - self.w.clock.now)
        return step.result()

    def _loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        self.loop_errors.append(str(context.get("exception") or context.get("message")))

    def teardown(self) -> None:
        try:
            if not self.broken:
                self._run(self._settle_and_check())
        finally:
            logging.getLogger("tiktok_asgi").removeHandler(self.tracebacks)
            self.loop.run_until_complete(self._close())
            self.loop.close()

    async def _close(self) -> None:
        """Cancel what still runs, close the stores; each part bounded, so that a task that
        outlives its cancellation fails this run with its stack instead of hanging it."""
        if self.held is not None:
            self.held.gate.opened.set()
        me = asyncio.current_task()
        # Cancelled again each round: a cancellation that arrives just as what a task awaited
        # finishes can be lost, and the task would go on to its next (virtual) sleep.
        for _ in range(CLOSE_ROUNDS):
            running = [t for t in asyncio.all_tasks(self.loop) if t is not me and not t.done()]
            if not running:
                break
            for task in running:
                task.cancel()
            await asyncio.wait(running, timeout=CLOSE_SECONDS)
        stuck = [t for t in asyncio.all_tasks(self.loop) if t is not me and not t.done()]
        await asyncio.wait_for(self.backend.close(), STEP_SECONDS)
        await asyncio.wait_for(self.loop.shutdown_asyncgens(), STEP_SECONDS)
        assert not stuck, "tasks outlived their cancellation:\n" + "\n".join(map(_stack, stuck))

    # The model's view ---------------------------------------------------------------------------

    @property
    def w(self) -> World:
        return self.world

    def _new_browser(self, jar: dict[str, str] | None = None) -> Browser:
        self.browser_count += 1
        return Browser(f"browser{self.browser_count}", jar)

    def _session_of(self, browser: Browser) -> Session | None:
        cookie = browser.jar.get(self.w.settings.cookie_name)
        return None if cookie is None else self.sessions[self.w.session_id(cookie)]

    def _of_user(self, open_id: str) -> list[Session]:
        return [s for s in self.sessions.values() if s.user == open_id]

    def _ended_for(self, session: Session, at: int) -> bool:
        """Whether instance ``at`` must answer the session as ended."""
        if at in session.ended_on:
            return True
        return session.gone_at is not None and self.w.clock.now >= session.gone_at + CACHE_SECONDS

    def _may_be_ended(self, session: Session, at: int) -> bool:
        return at in session.ended_on or session.gone_at is not None

    async def _scan(self) -> None:
        """What the store and the instances hold now; an end nobody asked for is a loss."""
        for at, manager in enumerate(self.w.managers):
            for sid in manager.live.unwritten_ends:
                session = self.sessions.get(sid)
                if session is None:
                    continue
                assert session.end_requested or session.doomed, (
                    f"instance {at} ended {sid[:8]} though nobody asked for it (lost)"
                )
                session.ended_on.add(at)
        sessions = list(self.sessions.values())
        stored = await self.backend.present([record_key(s.sid) for s in sessions])
        for session, present in zip(sessions, stored, strict=True):
            name = session.sid[:8]
            if session.gone_at is not None:
                assert not present, f"ended session {name} is back in the store"
            elif not present:
                assert session.end_requested or session.doomed, (
                    f"session {name} left the store though nobody ended it (lost)"
                )
                session.gone_at = self.w.clock.now
            if session.must_be_gone:
                assert not present, f"session {name} escaped an end answered as done"

    async def _judge(
        self, session: Session | None, at: int, answer: Answer, kind: str, failures: int
    ) -> None:
        """One answer of ``/me`` (``kind="me"``) or ``/token`` for a cookie naming ``session``."""
        status = answer.status
        assert status != 500, f"{kind} on instance {at} answered 500: {answer.text}"
        await self._scan()
        if status == 503:
            assert answer.json()["error"] == "token_store_unavailable", answer.text
            assert self.w.failures() > failures, f"{kind}: 503 though the store answered"
            return
        if kind == "me":
            assert status == 200, answer.text
            who = answer.json()["user"]
            signed_in = who is not None
        else:
            assert status in (200, 401), answer.text
            who, signed_in = None, status == 200
        if session is None:
            assert not signed_in, f"{kind}: signed in without an identity cookie"
            return
        name = session.sid[:8]
        if signed_in:
            assert who in (None, session.user), f"{kind}: {who} signed in with {name}'s cookie"
            assert not self._ended_for(session, at), (
                f"{kind} on instance {at}: ended session {name} signed in again "
                f"({self.w.clock.now - (session.gone_at or 0):.1f} s after its end)"
            )
        else:
            assert self._may_be_ended(session, at), (
                f"{kind} on instance {at}: session {name} signed out though nobody ended it"
            )

    def _expect_unavailable(self, answer: Answer, failures: int, what: str) -> None:
        assert answer.status == 503, f"{what} answered {answer.status}: {answer.text}"
        assert answer.json()["error"] == "token_store_unavailable", answer.text
        assert self.w.failures() > failures, f"{what}: 503 though the store answered"

    async def _deliveries(self, at: int) -> None:
        """Judge the webhook attempts made since the last look (to instance ``at``)."""
        attempts = self.w.emulator.webhook_attempts
        for attempt in attempts[self.attempts_seen :]:
            assert attempt.error is None, f"the webhook raised: {attempt.error}"
            assert attempt.status in (200, 503), f"the webhook answered {attempt.status}"
            if attempt.status == 200:
                self._ended_by_user(attempt.user_openid, self._of_user(attempt.user_openid), at)
        self.attempts_seen = len(attempts)
        await self._scan()

    def _ended_by_user(self, open_id: str, started: list[Session], at: int | None) -> None:
        """``end_user`` for ``open_id`` returned on instance ``at`` (None: in a script)."""
        for session in started:
            if at is not None and session.gone_at is None:
                session.ended_on.add(at)  # ended by this instance, which knows it at once
            session.must_be_gone = True

    def _before_deliveries(self) -> None:
        for pending in self.w.emulator.pending_webhooks:
            for session in self._of_user(pending.user_openid):
                session.end_requested = True

    # Signing in ---------------------------------------------------------------------------------

    async def _sign_in(self, browser: Browser, username: str, at: int, back: int) -> bool:
        failures = self.w.failures()
        done = await self.w.sign_in(browser, username, at, back)
        if done.status != 302:
            self._expect_unavailable(done, failures, "the sign-in")
            return False
        cookie = identity_value(done, self.w.settings.cookie_name)
        sid = self.w.session_id(cookie)
        assert sid not in self.sessions, "a session id was reused"
        self.sessions[sid] = Session(sid, self.w.open_id(username), cookie)
        await self._scan()
        return True

    # Two browsers from the start: the rules that race need someone signed in.
    @initialize(target=browsers, username=st.sampled_from(USERS), at=INSTANCES)
    def a_browser_signed_in(self, username: str, at: int) -> Browser:
        return self._signed_in_browser(username, at)

    @initialize(target=browsers, username=st.sampled_from(USERS), at=INSTANCES)
    def another_browser_signed_in(self, username: str, at: int) -> Browser:
        return self._signed_in_browser(username, at)

    def _signed_in_browser(self, username: str, at: int) -> Browser:
        browser = self._new_browser()
        assert self._run(self._sign_in(browser, username, at, at))
        return browser

    @rule(target=browsers, username=st.sampled_from(USERS), at=INSTANCES, back=INSTANCES)
    def sign_in_new_browser(self, username: str, at: int, back: int) -> Any:
        browser = self._new_browser()
        if self._run(self._sign_in(browser, username, at, back)):
            return browser
        return multiple()

    @rule(browser=browsers, at=INSTANCES, back=INSTANCES)
    def sign_in_again(self, browser: Browser, at: int, back: int) -> None:
        session = self._session_of(browser)
        username = USERS[0]
        if session is not None:
            username = next(u for u in USERS if self.w.open_id(u) == session.user)
        self._run(self._sign_in(browser, username, at, back))

    @rule(target=browsers, browser=browsers)
    def copy_cookie(self, browser: Browser) -> Browser:
        return self._new_browser(browser.jar)

    # Requests -----------------------------------------------------------------------------------

    async def _get(self, browser: Browser, at: int, kind: str, url: str) -> None:
        session = self._session_of(browser)
        failures = self.w.failures()
        answer = await browser.request(self.w.apps[at], "GET", url)
        await self._judge(session, at, answer, kind, failures)

    @rule(browser=browsers, at=INSTANCES)
    def me(self, browser: Browser, at: int) -> None:
        self._run(self._get(browser, at, "me", "/me"))

    def _held_session(self, browser: Browser) -> bool:
        session = self._session_of(browser)
        return self.held is not None and session is not None and session is self.held.session

    @rule(browser=browsers, at=INSTANCES, how=st.sampled_from(["plain", "renew", "expired"]))
    def token(self, browser: Browser, at: int, how: str) -> None:
        """``/token``; ``renew``: TikTok refused the token (the view renews it); ``expired``:
        the stored access token expired first."""
        if self._held_session(browser):
            return  # it would queue behind the held refresh of its session
        if how == "expired":
            self._run(self._expire(browser))
        url = "/token?rejected=1" if how == "renew" else "/token"
        self._run(self._get(browser, at, "token", url))

    async def _expire(self, browser: Browser) -> None:
        session = self._session_of(browser)
        if session is None:
            return
        key = record_key(session.sid)
        blob = await self.backend.raw.get(key)
        record = None if blob is None else self._sealer.open(session.sid, blob)
        if record is None:
            return
        expired = replace(record, expires_at=time.time() - 1)
        # Only over a live record: the harness never brings an ended session back.
        await self.backend.raw.replace(key, self._sealer.seal(session.sid, expired), 3600)

    # A refresh held in flight -------------------------------------------------------------------

    @precondition(lambda self: self.held is None)
    @rule(browser=browsers, at=INSTANCES, point=st.sampled_from(HOLD_POINTS))
    def start_held_refresh(self, browser: Browser, at: int, point: str) -> None:
        self._run(self._start_held(browser, at, point))

    async def _start_held(self, browser: Browser, at: int, point: str) -> None:
        session = self._session_of(browser)
        gate = Gate()
        if point == "at the store write":
            if session is not None:
                self.w.stores[at].write_gate = (record_key(session.sid), gate)
        else:
            self.w.tiktok.hold_next_refresh(gate, after=point == "after TikTok")
        failures = self.w.failures()
        app = self.w.apps[at]
        task = asyncio.get_running_loop().create_task(
            browser.request(app, "GET", "/token?rejected=1")
        )
        reached = asyncio.ensure_future(gate.reached.wait())
        await asyncio.wait([task, reached], return_when=asyncio.FIRST_COMPLETED)
        if not task.done():
            self.held = Held(task, browser, session, at, gate, failures)
            return
        reached.cancel()
        self.w.tiktok.disarm()
        self.w.stores[at].write_gate = None
        await self._judge(session, at, task.result(), "token", failures)

    @precondition(lambda self: self.held is not None)
    @rule(store=st.sampled_from(["as it is", "down", "back"]))
    def release_held_refresh(self, store: str) -> None:
        if store != "as it is":
            self._store_down(store == "down")
        self._run(self._release())

    async def _release(self) -> None:
        held = self.held
        assert held is not None
        held.gate.opened.set()
        answer = await held.task
        self.held = None
        await self._judge(held.session, held.at, answer, "token", held.failures)

    # Ending sessions ----------------------------------------------------------------------------

    @rule(browser=browsers, at=INSTANCES, origin=st.sampled_from(["none", "same", "other"]))
    def sign_out(self, browser: Browser, at: int, origin: str) -> None:
        self._run(self._sign_out(browser, at, origin))

    async def _sign_out(self, browser: Browser, at: int, origin: str) -> None:
        session = self._session_of(browser)
        headers = {
            "none": [],
            "same": [(b"origin", b"https://testserver")],
            "other": [(b"origin", b"https://evil.example")],
        }[origin]
        if session is not None and origin != "other":
            session.end_requested = True
        failures = self.w.failures()
        answer = await browser.request(
            self.w.apps[at], "POST", self.w.settings.logout_path, headers
        )
        if origin == "other":
            assert answer.status == 403, f"a cross-site sign-out answered {answer.status}"
        elif answer.status == 303:
            if session is not None:
                session.must_be_gone = True
                session.ended_on.add(at)
        else:
            self._expect_unavailable(answer, failures, "the sign-out")
            assert session is not None
            session.ended_on.add(at)
        await self._scan()

    @rule(
        username=st.sampled_from(USERS),
        browser=browsers,
        at=INSTANCES,
        via=st.sampled_from(["script", "view"]),
    )
    def end_user_sessions(self, username: str, browser: Browser, at: int, via: str) -> None:
        self._run(self._end_user(username, browser, at, via))

    async def _end_user(self, username: str, browser: Browser, at: int, via: str) -> None:
        open_id = self.w.open_id(username)
        started = self._of_user(open_id)
        for session in started:
            session.end_requested = True
        failures = self.w.failures()
        if via == "script":
            try:
                await end_user_sessions_in_store(
                    open_id,
                    settings=self.w.settings,
                    token_store=self.w.script_store,
                    transport=self.w.tiktok,
                )
            except TokenStoreUnavailable:
                assert self.w.failures() > failures, "ending sessions failed; the store answered"
                await self._scan()
                return
        else:
            requester = self._session_of(browser)
            answer = await browser.request(self.w.apps[at], "POST", f"/end/{open_id}")
            if answer.status == 200:
                assert requester is not None
                assert not self._ended_for(requester, at), "an ended session ended others"
            elif answer.status == 401:
                assert requester is None or self._may_be_ended(requester, at), answer.text
            else:
                self._expect_unavailable(answer, failures, "ending a user's sessions")
            if answer.status != 200:
                await self._scan()
                return
        self._ended_by_user(open_id, started, at if via == "view" else None)
        await self._scan()

    @rule(username=st.sampled_from(USERS), at=INSTANCES)
    def remove_app_at_tiktok(self, username: str, at: int) -> None:
        self._run(self._remove_app(username, at))

    async def _remove_app(self, username: str, at: int) -> None:
        open_id = self.w.open_id(username)
        if self.removed_at.get(open_id) == int(self.w.tiktok_time()):
            await self.w.advance(1.0)  # one user's events are a second apart: distinct bodies
        self.removed_at[open_id] = int(self.w.tiktok_time())
        for session in self._of_user(open_id):
            session.doomed = True
            session.end_requested = True
        self._before_deliveries()
        self.w.emulator.register_webhook(WEBHOOK_URL, transport=self.w.hooks[at])
        await self.w.emulator.remove_app(open_id)
        await self._deliveries(at)

    @rule(at=INSTANCES, pick=st.integers(min_value=0))
    def deliver_a_taken_event_again(self, at: int, pick: int) -> None:
        self._run(self._deliver_again(at, pick))

    async def _deliver_again(self, at: int, pick: int) -> None:
        """TikTok delivers at least once: an event already taken may come again."""
        taken = [a for a in self.w.emulator.webhook_attempts if a.status == 200]
        if not taken:
            return
        event = taken[pick % len(taken)]
        done = DONE_PREFIX + hashlib.sha256(event.body).hexdigest()
        if not await self.backend.raw.exists(done):
            # Its handling was not marked done: handling it again is allowed.
            for session in self._of_user(event.user_openid):
                session.end_requested = True
        signature = sign_webhook(self.w.settings.client_secret, event.body, int(time.time()))
        headers = [
            (b"content-type", b"application/json"),
            (b"tiktok-signature", signature.encode()),
        ]
        failures = self.w.failures()
        answer = await asgi_call(
            self.w.apps[at], "POST", WEBHOOK_PATH, headers=headers, body=event.body
        )
        if answer.status == 503 and answer.json()["error"] == "webhook_in_progress":
            # The claim of a handling whose end the store did not take outlives it a while.
            assert not await self.backend.raw.exists(done), "a handled event is in progress"
        elif answer.status != 200:
            self._expect_unavailable(answer, failures, "a redelivered event")
        await self._scan()

    # Faults and time ----------------------------------------------------------------------------

    @rule(down=st.booleans())
    def store_outage(self, down: bool) -> None:
        self._store_down(down)

    def _store_down(self, down: bool) -> None:
        for store in self.w.all_stores:
            store.down = down

    @rule(at=INSTANCES, call=st.sampled_from(STORE_CALLS))
    def store_call_fails_once(self, at: int, call: str) -> None:
        self.w.stores[at].fail_next.append(call)

    @rule(seconds=st.sampled_from([0.3, 1.0, 2.5, 6.0]), at=INSTANCES)
    def time_passes(self, seconds: float, at: int) -> None:
        self._run(self._time_passes(seconds, at))

    async def _time_passes(self, seconds: float, at: int) -> None:
        await self.w.advance(seconds)
        await self._scan()
        self._before_deliveries()
        self.w.emulator.register_webhook(WEBHOOK_URL, transport=self.w.hooks[at])
        await self.w.emulator.deliver_due()
        await self._deliveries(at)

    async def _settle_and_check(self) -> None:
        """The store is back for good: held work is written, webhooks are taken, and every
        session nobody tried to end is signed in on both instances."""
        self._store_down(False)
        for store in self.w.all_stores:
            store.fail_next.clear()
        if self.held is not None:
            await self._release()
        for pending in self.w.emulator.pending_webhooks:
            # No handling is in flight: the claim of one that failed has outlived its lease.
            digest = hashlib.sha256(pending.body).hexdigest()
            await self.backend.raw.delete(CLAIM_PREFIX + digest)
        for _ in range(30):
            if not self.w.held_writes() and not self.w.emulator.pending_webhooks:
                break
            await self._time_passes(6.0, 0)
        assert not self.w.held_writes(), "held ends or tokens never reached the store"
        assert not self.w.emulator.pending_webhooks, "authorization.removed was never taken"
        await self._scan()
        for session in self.sessions.values():
            name = session.sid[:8]
            if session.ended_on:
                assert session.gone_at is not None, f"the held end of {name} was never written"
            if session.doomed:
                assert session.gone_at is not None, f"{name} outlived its user's app removal"
            if session.end_requested or session.doomed:
                continue
            for at in (0, 1):
                for kind, url in (("me", "/me"), ("token", "/token")):
                    cookie = Browser("check", {self.w.settings.cookie_name: session.cookie})
                    await self._get(cookie, at, kind, url)
        await self._check()

    # After every step ---------------------------------------------------------------------------

    @invariant()
    def nothing_broke(self) -> None:
        self._run(self._check())

    async def _check(self) -> None:
        assert not self.loop_errors, self.loop_errors
        assert not self.tracebacks.seen, f"a traceback was logged: {self.tracebacks.seen}"
        for task in self.w.background():
            if task.done() and not task.cancelled():
                assert task.exception() is None, repr(task.exception())
        await self._scan()
        twice = self.w.refresh_tokens_sent_twice()
        assert not twice, f"{twice} refresh token(s) sent to TikTok twice"


def _stack(task: asyncio.Task[Any]) -> str:
    out = io.StringIO()
    task.print_stack(file=out)
    return out.getvalue()


# Runs -----------------------------------------------------------------------------------------

# Developers' runs explore new interleavings; CI replays a fixed set, so a run is reproducible,
# and does not shrink a failure (minutes of replays): CI=true replays the same set locally.
CI = os.environ.get("CI") == "true"
PHASES = (Phase.explicit, Phase.reuse, Phase.generate) if CI else tuple(Phase)


def _settings(examples: int) -> hsettings:
    return hsettings(
        max_examples=examples,
        stateful_step_count=50,
        deadline=None,
        derandomize=CI,
        database=None,
        phases=PHASES,
        report_multiple_bugs=False,  # one failure, shrunk: the others show once it is fixed
    )


def test_session_model_on_the_memory_store() -> None:
    run_state_machine_as_test(lambda: SessionModel(MemoryBackend()), settings=_settings(140))


@pytest.mark.redis
def test_session_model_on_redis(redis_server: RedisServer) -> None:
    run_state_machine_as_test(
        lambda: SessionModel(RedisBackend(redis_server.url)), settings=_settings(50)
    )
