"""Fixtures of the emulator tests: a clock, an emulator on it, an in-process client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from httpx2 import AsyncClient
from tests.emulator.helpers import Api, Clock

from tiktok_asgi.emulator import TikTokEmulator


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def emu(clock: Clock) -> TikTokEmulator:
    return TikTokEmulator(clock=clock)


@pytest.fixture
async def api(emu: TikTokEmulator) -> AsyncIterator[Api]:
    async with AsyncClient(transport=emu.transport()) as client:
        yield Api(emu, client)
