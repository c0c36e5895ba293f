"""Webhook deliveries in flight: the redelivery schedule, pending events and every attempt.

TikTok delivers at least once: an event the app did not answer with 2xx is sent again with
exponential backoff, ``base * 2**(n - 1)`` seconds after the n-th attempt (at most ``cap``),
and dropped once the next attempt would come later than ``horizon`` seconds after the first.
With the defaults (1 s, 1 hour, 72 hours) attempts go at +0, +1, +3, +7, +15 … seconds.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

from tiktok_asgi.emulator._state import REQUEST_LOG_SIZE
from tiktok_asgi.emulator._webhook_target import WebhookTarget

__all__ = ["Delivery", "PendingWebhook", "WebhookAttempt", "WebhookQueue", "backoff"]


def backoff(attempts: int, base: float, cap: float) -> float:
    """Seconds from attempt number ``attempts`` (1 for the first) to the next one."""
    # min() before the power would overflow for very long schedules.
    return float(min(cap, base * 2 ** min(attempts - 1, 64)))


@dataclass(frozen=True, slots=True)
class WebhookAttempt:
    """One attempt to deliver one event to the app's webhook URL, and how it went.

    ``status`` is the app's HTTP status, None when no answer came; ``error`` then names why
    (``"ConnectError"``, ``"ReadTimeout"``, ``"injected"`` for
    :meth:`~tiktok_asgi.emulator.TikTokEmulator.fail_webhooks` …).
    ``next_at`` is when the next attempt is due on the emulator's clock: None once the event
    was delivered or dropped. ``body`` is the same on every attempt of one event; ``signature``
    (the ``TikTok-Signature`` header) is made afresh for each.
    """

    delivery_id: int
    attempt: int
    at: float
    url: str
    event: str
    user_openid: str
    body: bytes
    signature: str
    status: int | None
    error: str | None
    next_at: float | None

    @property
    def delivered(self) -> bool:
        """Whether the app took the event (any 2xx)."""
        return self.status is not None and 200 <= self.status < 300

    @property
    def dropped(self) -> bool:
        """Whether this was the last attempt and the app never took the event."""
        return not self.delivered and self.next_at is None


@dataclass(frozen=True, slots=True)
class PendingWebhook:
    """An event the app has not taken yet, waiting for its next attempt at ``due_at``."""

    delivery_id: int
    event: str
    user_openid: str
    body: bytes
    attempts: int
    first_at: float
    due_at: float


@dataclass(slots=True)
class Delivery:
    """One event on its way; mutable, owned by the queue or by the one attempt in flight."""

    delivery_id: int
    target: WebhookTarget
    event: str
    user_openid: str
    body: bytes
    first_at: float
    attempts: int = 0
    due_at: float = 0.0

    def snapshot(self) -> PendingWebhook:
        return PendingWebhook(
            self.delivery_id,
            self.event,
            self.user_openid,
            self.body,
            self.attempts,
            self.first_at,
            self.due_at,
        )


@dataclass(slots=True)
class WebhookQueue:
    """Pending deliveries and the bounded log of attempts; one lock, never held across I/O.

    An event taken for an attempt leaves the queue until it is settled, so two callers of
    ``take_due`` never send it twice at once.
    """

    log_size: int = REQUEST_LOG_SIZE
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _pending: dict[int, Delivery] = field(default_factory=dict)
    _attempts: deque[WebhookAttempt] = field(init=False)
    _next_id: int = 1
    _failures: int = 0

    def __post_init__(self) -> None:
        self._attempts = deque(maxlen=self.log_size)

    def new(
        self, target: WebhookTarget, event: str, user_openid: str, body: bytes, now: float
    ) -> Delivery:
        with self._lock:
            delivery_id = self._next_id
            self._next_id += 1
        return Delivery(delivery_id, target, event, user_openid, body, now, due_at=now)

    def take_due(self, now: float) -> list[Delivery]:
        """Every pending delivery due at ``now``, oldest first, taken out of the queue."""
        with self._lock:
            due = sorted(
                (d for d in self._pending.values() if d.due_at <= now),
                key=lambda d: (d.due_at, d.delivery_id),
            )
            for delivery in due:
                del self._pending[delivery.delivery_id]
            return due

    def settle(self, delivery: Delivery, attempt: WebhookAttempt) -> None:
        """Log ``attempt``; queue the delivery again when another attempt is due."""
        with self._lock:
            self._attempts.append(attempt)
            if attempt.next_at is not None:
                delivery.due_at = attempt.next_at
                self._pending[delivery.delivery_id] = delivery

    def requeue(self, delivery: Delivery) -> None:
        """Put back a delivery whose attempt was cancelled, due as it was."""
        with self._lock:
            self._pending[delivery.delivery_id] = delivery

    def fail_next(self, times: int) -> None:
        if times < 1:
            raise ValueError("times must be a positive count")
        with self._lock:
            self._failures += times

    def take_failure(self) -> bool:
        """Whether this attempt is one of those armed to fail at TikTok's side."""
        with self._lock:
            if self._failures == 0:
                return False
            self._failures -= 1
            return True

    def clear_failures(self) -> None:
        with self._lock:
            self._failures = 0

    def pending(self) -> list[PendingWebhook]:
        with self._lock:
            queued = sorted(self._pending.values(), key=lambda d: (d.due_at, d.delivery_id))
            return [d.snapshot() for d in queued]

    def attempts(self) -> list[WebhookAttempt]:
        with self._lock:
            return list(self._attempts)

    def next_due(self) -> float | None:
        with self._lock:
            return min((d.due_at for d in self._pending.values()), default=None)
