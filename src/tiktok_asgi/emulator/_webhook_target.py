"""Where the emulated TikTok delivers the app's webhook events."""

from __future__ import annotations

from dataclasses import dataclass

from httpx2 import AsyncBaseTransport

__all__ = ["WebhookTarget"]


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """The callback URL registered in the app console; ``transport`` carries the POST when
    given (e.g. in-process to the app under test), real HTTP otherwise."""

    url: str
    transport: AsyncBaseTransport | None = None
