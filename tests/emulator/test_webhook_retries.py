"""Webhook redelivery: an event the app does not take is sent again with exponential backoff,
the same body and a fresh signature each time, until the horizon; all on the injected clock."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx2
import pytest
from tests.emulator.helpers import Clock
from tests.support.processes import free_port

from tiktok_asgi import TikTokAuthMiddleware, TikTokWebhookEvent
from tiktok_asgi.emulator import TikTokEmulator, WebhookAttempt
from tiktok_asgi.webhooks import sign_webhook

APP = "https://testserver"
WEBHOOK = "/auth/tiktok/webhook"
HOUR = 3600.0
SEND = Callable[[dict[str, Any]], Awaitable[None]]
RECEIVE = Callable[[], Awaitable[dict[str, Any]]]


def documented_offsets(base: float, cap: float, horizon: float) -> list[float]:
    """Seconds after the first attempt at which TikTok tries: +base, doubling, capped."""
    offsets, n = [0.0], 1
    while offsets[-1] + min(cap, base * 2 ** (n - 1)) <= horizon:
        offsets.append(offsets[-1] + min(cap, base * 2 ** (n - 1)))
        n += 1
    return offsets


async def _body(receive: RECEIVE) -> bytes:
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    return body


async def _answer(send: SEND, status: int) -> None:
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b""})


class Receiver:
    """The app's webhook endpoint: answers ``answers`` in turn, then ``then``; keeps each POST."""

    def __init__(self, *answers: int, then: int = 200) -> None:
        self.answers = list(answers)
        self.then = then
        self.received: list[tuple[bytes, str]] = []

    async def __call__(self, scope: dict[str, Any], receive: RECEIVE, send: SEND) -> None:
        body = await _body(receive)
        self.received.append((body, dict(scope["headers"])[b"tiktok-signature"].decode()))
        await _answer(send, self.answers.pop(0) if self.answers else self.then)


class Proxied:
    """The middleware's webhook receiver behind a proxy that answers ``answers`` in turn,
    whatever the middleware said (then the middleware's own status): every attempt is
    verified by the middleware."""

    def __init__(self, app: Any, *answers: int) -> None:
        self.app = app
        self.answers = list(answers)
        self.verdicts: list[int] = []

    async def __call__(self, scope: dict[str, Any], receive: RECEIVE, send: SEND) -> None:
        statuses: list[int] = []

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        await self.app(scope, receive, capture)
        self.verdicts.append(statuses[0])
        await _answer(send, self.answers.pop(0) if self.answers else statuses[0])


class Hook:
    def __init__(self) -> None:
        self.events: list[TikTokWebhookEvent] = []

    async def __call__(self, event: TikTokWebhookEvent) -> None:
        self.events.append(event)


async def _not_found(scope: dict[str, Any], receive: RECEIVE, send: SEND) -> None:
    await _answer(send, 404)


def verifies(secret: str, body: bytes, signature: str) -> bool:
    stamp = int(signature.split(",")[0].removeprefix("t="))
    return sign_webhook(secret, body, stamp) == signature


class Refusing(httpx2.AsyncBaseTransport):
    """An app that cannot be reached: every request fails with ``error``."""

    def __init__(self, error: type[httpx2.TransportError]) -> None:
        self.error = error
        self.calls = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.calls += 1
        raise self.error("emulated", request=request)


async def run_schedule(emu: TikTokEmulator, clock: Clock, limit: int = 500) -> list[WebhookAttempt]:
    """Jump the clock to each due time and deliver, until nothing is pending."""
    made: list[WebhookAttempt] = []
    for _ in range(limit):
        pending = emu.pending_webhooks
        if not pending:
            return made
        clock.now = pending[0].due_at
        made += await emu.deliver_due()
    raise AssertionError(f"still pending after {limit} rounds")


async def test_500_twice_then_200_is_three_deliveries_at_the_documented_offsets() -> None:
    # Near real time: the middleware refuses a signature more than 5 minutes off.
    clock = Clock(float(int(time.time())))
    t0 = clock.now
    emu = TikTokEmulator(clock=clock)
    hook = Hook()
    settings = emu.settings(webhook_path=WEBHOOK)
    app = Proxied(TikTokAuthMiddleware(_not_found, settings=settings, on_webhook=hook), 500, 500)
    emu.register_webhook(APP + WEBHOOK, transport=httpx2.ASGITransport(app=app))

    assert await emu.remove_app("mayacooks", reason=1) == 500
    (pending,) = emu.pending_webhooks
    assert (pending.attempts, pending.first_at, pending.due_at) == (1, t0, t0 + 1)
    assert await emu.deliver_due() == []  # not due yet
    clock.advance(0.5)
    assert await emu.deliver_due() == []
    clock.advance(0.5)
    (second,) = await emu.deliver_due()
    assert (second.attempt, second.status, second.next_at) == (2, 500, t0 + 3)
    clock.advance(1.9)
    assert await emu.deliver_due() == []
    clock.advance(0.1)
    (third,) = await emu.deliver_due()
    assert third.delivered
    assert (third.status, third.next_at) == (200, None)
    assert emu.pending_webhooks == []
    clock.advance(10 * HOUR)
    assert await emu.deliver_due() == []

    attempts = emu.webhook_attempts
    assert [a.at - t0 for a in attempts] == [0, 1, 3]
    assert [a.status for a in attempts] == [500, 500, 200]
    assert [a.attempt for a in attempts] == [1, 2, 3]
    assert len({a.delivery_id for a in attempts}) == 1
    assert len({a.body for a in attempts}) == 1  # the same event every time
    assert [a.signature.split(",")[0] for a in attempts] == [
        f"t={int(t0)}",
        f"t={int(t0) + 1}",
        f"t={int(t0) + 3}",
    ]
    assert all(verifies(emu.client_secret, a.body, a.signature) for a in attempts)
    assert app.verdicts == [200, 200, 200]  # the middleware verified every attempt
    (event,) = hook.events  # and handled the event once
    assert event.event == "authorization.removed"
    assert event.user_openid == emu.user("mayacooks").open_id
    assert dict(event.content) == {"reason": 1}


async def test_an_app_that_never_answers_200_is_dropped_after_72_hours(clock: Clock) -> None:
    emu = TikTokEmulator(clock=clock)
    t0 = clock.now
    receiver = Receiver(then=503)
    emu.register_webhook(APP + WEBHOOK, transport=httpx2.ASGITransport(app=receiver))
    assert await emu.remove_app("mayacooks") == 503
    await run_schedule(emu, clock)

    attempts = emu.webhook_attempts
    offsets = documented_offsets(1.0, HOUR, 72 * HOUR)
    assert offsets[:6] == [0, 1, 3, 7, 15, 31]
    assert len(offsets) == 83  # 13 doubling waits up to 2048 s, then 70 an hour apart
    assert [a.at - t0 for a in attempts] == offsets
    assert attempts[-1].at - t0 <= 72 * HOUR
    assert [a.dropped for a in attempts] == [False] * 82 + [True]
    assert all(a.status == 503 for a in attempts)
    assert len(receiver.received) == 83
    assert len({body for body, _ in receiver.received}) == 1
    assert all(verifies(emu.client_secret, body, sig) for body, sig in receiver.received)

    clock.advance(7 * 24 * HOUR)
    assert await emu.deliver_due() == []
    assert len(receiver.received) == 83


@pytest.mark.parametrize(
    ("horizon", "offsets"),
    [(10.0, [0, 1, 3, 7]), (7.0, [0, 1, 3, 7]), (0.0, [0])],
)
async def test_a_shorter_horizon_drops_the_event_sooner(
    clock: Clock, horizon: float, offsets: list[float]
) -> None:
    emu = TikTokEmulator(clock=clock, webhook_retry_horizon=horizon)
    receiver = Receiver(then=500)
    emu.register_webhook(APP + WEBHOOK, transport=httpx2.ASGITransport(app=receiver))
    await emu.remove_app("mayacooks")
    await run_schedule(emu, clock)
    attempts = emu.webhook_attempts
    assert [a.at - attempts[0].at for a in attempts] == offsets
    assert attempts[-1].dropped


async def test_the_base_and_the_cap_shape_the_schedule(clock: Clock) -> None:
    emu = TikTokEmulator(
        clock=clock, webhook_retry_base=5, webhook_retry_cap=30, webhook_retry_horizon=200
    )
    emu.register_webhook(APP + WEBHOOK, transport=httpx2.ASGITransport(app=Receiver(then=500)))
    await emu.remove_app("mayacooks")
    await run_schedule(emu, clock)
    attempts = emu.webhook_attempts
    assert [a.at - attempts[0].at for a in attempts] == [0, 5, 15, 35, 65, 95, 125, 155, 185]
    assert all(a.status == 500 for a in attempts)


async def test_an_app_that_is_down_gets_redeliveries_until_it_is_back(clock: Clock) -> None:
    emu = TikTokEmulator(clock=clock)
    url = f"http://127.0.0.1:{free_port()}{WEBHOOK}"
    emu.register_webhook(url)  # real HTTP to a port nobody listens on
    assert await emu.remove_app("mayacooks") is None
    clock.advance(1)
    (second,) = await emu.deliver_due()
    for attempt in emu.webhook_attempts:
        assert attempt.status is None
        assert attempt.error == "ConnectError"
        assert attempt.url == url
    assert second.next_at == clock.now + 2

    receiver = Receiver()  # the app is back, at the same URL
    emu.register_webhook(url, transport=httpx2.ASGITransport(app=receiver))
    clock.advance(2)
    (third,) = await emu.deliver_due()
    assert third.delivered
    assert third.attempt == 3
    ((body, signature),) = receiver.received
    assert body == second.body
    assert verifies(emu.client_secret, body, signature)
    assert emu.pending_webhooks == []


@pytest.mark.parametrize(
    ("error", "name"),
    [(httpx2.ConnectError, "ConnectError"), (httpx2.ReadTimeout, "ReadTimeout")],
)
async def test_connection_errors_and_timeouts_are_not_deliveries(
    clock: Clock, error: type[httpx2.TransportError], name: str
) -> None:
    emu = TikTokEmulator(clock=clock)
    down = Refusing(error)
    emu.register_webhook(APP + WEBHOOK, transport=down)
    assert await emu.remove_app("mayacooks") is None
    clock.advance(1)
    await emu.deliver_due()
    clock.advance(2)
    await emu.deliver_due()
    assert down.calls == 3
    assert [a.error for a in emu.webhook_attempts] == [name] * 3
    assert emu.pending_webhooks[0].attempts == 3


@pytest.mark.parametrize(("status", "delivered"), [(200, True), (204, True), (301, False),
    (400, False), (401, False), (404, False), (500, False), (503, False)])  # fmt: skip
async def test_only_2xx_counts_as_delivered(clock: Clock, status: int, delivered: bool) -> None:
    emu = TikTokEmulator(clock=clock)
    receiver = Receiver(status)
    emu.register_webhook(APP + WEBHOOK, transport=httpx2.ASGITransport(app=receiver))
    assert await emu.remove_app("mayacooks") == status
    (attempt,) = emu.webhook_attempts
    assert attempt.delivered is delivered
    assert (attempt.next_at is None) is delivered
    assert len(emu.pending_webhooks) == (0 if delivered else 1)


async def test_failures_at_tiktoks_side_send_nothing_and_are_retried(clock: Clock) -> None:
    emu = TikTokEmulator(clock=clock)
    receiver = Receiver()
    emu.register_webhook(APP + WEBHOOK, transport=httpx2.ASGITransport(app=receiver))
    emu.fail_webhooks(2)
    assert await emu.remove_app("mayacooks") is None
    await run_schedule(emu, clock)
    attempts = emu.webhook_attempts
    assert [(a.at - attempts[0].at, a.error, a.status) for a in attempts] == [
        (0, "injected", None),
        (1, "injected", None),
        (3, None, 200),
    ]
    assert len(receiver.received) == 1

    emu.fail_webhooks(3)
    emu.clear_faults()
    assert await emu.remove_app("leo.skates") == 200
    with pytest.raises(ValueError, match="positive"):
        emu.fail_webhooks(0)


async def test_events_are_redelivered_each_on_its_own_schedule(clock: Clock) -> None:
    emu = TikTokEmulator(clock=clock)
    receiver = Receiver(then=500)
    emu.register_webhook(APP + WEBHOOK, transport=httpx2.ASGITransport(app=receiver))
    await emu.remove_app("mayacooks")
    clock.advance(0.5)
    await emu.remove_app("leo.skates")
    first, second = emu.pending_webhooks
    assert first.delivery_id != second.delivery_id
    assert (first.due_at, second.due_at) == (first.first_at + 1, second.first_at + 1)
    clock.advance(1)
    made = await emu.deliver_due()
    assert [a.delivery_id for a in made] == [first.delivery_id, second.delivery_id]
    assert [a.user_openid for a in made] == [
        emu.user("mayacooks").open_id,
        emu.user("leo.skates").open_id,
    ]


async def test_the_attempt_log_is_bounded(clock: Clock) -> None:
    emu = TikTokEmulator(clock=clock, request_log_size=5)
    emu.register_webhook(APP + WEBHOOK, transport=httpx2.ASGITransport(app=Receiver(then=500)))
    await emu.remove_app("mayacooks")
    made = await run_schedule(emu, clock)
    assert len(made) == 82
    assert [a.attempt for a in emu.webhook_attempts] == [79, 80, 81, 82, 83]


async def test_run_webhook_retries_redelivers_on_the_injected_sleep(clock: Clock) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)
        await anyio.lowlevel.checkpoint()

    emu = TikTokEmulator(clock=clock, sleep=sleep)
    t0 = clock.now
    receiver = Receiver(500, 500)
    emu.register_webhook(APP + WEBHOOK, transport=httpx2.ASGITransport(app=receiver))
    assert await emu.remove_app("mayacooks") == 500
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(emu.run_webhook_retries)
        for _ in range(1000):
            if len(receiver.received) == 3:
                break
            await anyio.lowlevel.checkpoint()
        tasks.cancel_scope.cancel()
    assert [a.at - t0 for a in emu.webhook_attempts] == [0, 1, 3]
    assert emu.webhook_attempts[-1].delivered
    assert max(slept) <= 0.25  # never asleep long enough to miss a newly queued event


def _lifespan(emu: TikTokEmulator) -> tuple[Callable[[], Awaitable[None]], list[str], Any]:
    """Drive the emulator's ASGI lifespan by hand: (run, messages sent, shutdown event)."""
    sent: list[str] = []
    shutdown = anyio.Event()
    started = False

    async def receive() -> dict[str, Any]:
        nonlocal started
        if not started:
            started = True
            return {"type": "lifespan.startup"}
        await shutdown.wait()
        return {"type": "lifespan.shutdown"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])

    async def run() -> None:
        await emu({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)

    return run, sent, shutdown


async def test_served_with_a_lifespan_it_redelivers_until_shutdown(clock: Clock) -> None:
    async def sleep(seconds: float) -> None:
        clock.advance(seconds)
        await anyio.lowlevel.checkpoint()

    emu = TikTokEmulator(clock=clock, sleep=sleep)
    receiver = Receiver(500)
    emu.register_webhook(APP + WEBHOOK, transport=httpx2.ASGITransport(app=receiver))
    run, sent, shutdown = _lifespan(emu)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(run)
        for _ in range(100):
            if sent:
                break
            await anyio.lowlevel.checkpoint()
        assert sent == ["lifespan.startup.complete"]
        assert await emu.remove_app("mayacooks") == 500
        for _ in range(1000):
            if len(receiver.received) == 2:
                break
            await anyio.lowlevel.checkpoint()
        assert emu.webhook_attempts[-1].delivered
        shutdown.set()
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]

    # Shut down: nothing redelivers any more, however long it waits.
    receiver.answers = [500]
    assert await emu.remove_app("leo.skates") == 500
    clock.advance(HOUR)
    for _ in range(100):
        await anyio.lowlevel.checkpoint()
    assert len(receiver.received) == 3
    assert len(emu.pending_webhooks) == 1


async def test_the_connected_apps_page_says_tiktok_will_retry(clock: Clock) -> None:
    emu = TikTokEmulator(clock=clock)
    receiver = Receiver(500)
    emu.register_webhook(APP + WEBHOOK, transport=httpx2.ASGITransport(app=receiver))
    async with httpx2.AsyncClient(
        transport=emu.transport(), base_url="https://www.tiktok.com"
    ) as tiktok:
        removed = await tiktok.post("/apps/remove", data={"user": "mayacooks"})
        page = await tiktok.get(removed.headers["location"])
        assert "the app answered HTTP 500; TikTok delivers the event again" in page.text
        emu.fail_webhooks()
        removed = await tiktok.post("/apps/remove", data={"user": "leo.skates"})
        page = await tiktok.get(removed.headers["location"])
        assert "TikTok could not reach the app; TikTok delivers the event again" in page.text
        page = await tiktok.get("/apps", params={"user": "mayacooks", "delivered": "none"})
        assert "no webhook URL is registered" in page.text


def test_the_schedule_is_checked() -> None:
    with pytest.raises(ValueError, match="webhook_retry_base"):
        TikTokEmulator(webhook_retry_base=0)
    with pytest.raises(ValueError, match="webhook_retry_cap"):
        TikTokEmulator(webhook_retry_base=10, webhook_retry_cap=5)
    with pytest.raises(ValueError, match="webhook_retry_horizon"):
        TikTokEmulator(webhook_retry_horizon=-1)
    with pytest.raises(ValueError, match="webhook_retry_horizon"):
        TikTokEmulator(webhook_retry_horizon=float("inf"))
