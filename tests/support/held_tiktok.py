"""TikTok's answers held in flight: a transport around the emulator's that keeps the matching
requests waiting until released, to interleave a refresh with a sign-out."""

from __future__ import annotations

import asyncio

import httpx2


class HeldTikTok(httpx2.AsyncBaseTransport):
    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self.inner = inner
        self.arrived = asyncio.Event()
        self._gate: asyncio.Event | None = None
        self._needle = b""

    def hold(self, needle: bytes) -> None:
        """Requests whose body contains ``needle`` wait (e.g. ``b"grant_type=refresh_token"``)."""
        self._gate = asyncio.Event()
        self._needle = needle
        self.arrived.clear()

    def release(self) -> None:
        if self._gate is not None:
            self._gate.set()
            self._gate = None

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        body = await request.aread()
        gate = self._gate
        if gate is not None and self._needle in body:
            self.arrived.set()
            await gate.wait()
        return await self.inner.handle_async_request(request)
