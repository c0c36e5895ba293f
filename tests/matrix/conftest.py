"""Each row served once (module scope) on a free port of 127.0.0.1, with the TikTok emulator
answering for TikTok, and a sign-in made through that server when a column needs one."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

import httpx2
import pytest

from tests.matrix.apps import ADAPTERS
from tests.matrix.contract import PROTECTED, WEBHOOK, Adapter
from tests.matrix.servers import mounted
from tests.support.processes import free_port
from tests.support.signin import sign_in
from tiktok_asgi import TikTokSettings
from tiktok_asgi.emulator import TikTokEmulator


@dataclass
class Deployed:
    adapter: Adapter
    port: int
    settings: TikTokSettings
    emulator: TikTokEmulator

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def origin(self) -> str:
        return f"http://{self.host}"

    @cached_property
    def identity(self) -> str:
        """``name=value`` of the identity cookie of a sign-in granting ``user.info.basic`` only
        (no token store: it stays valid whatever the columns do)."""
        name = self.settings.cookie_name
        with httpx2.Client(base_url=self.origin, timeout=10) as browser:
            sign_in(browser, self.settings, self.emulator, scopes=["user.info.basic"])
            value = browser.cookies.get(name)
        assert value, "the sign-in set no identity cookie"
        return f"{name}={value}"


@pytest.fixture(scope="module", params=ADAPTERS, ids=[a.name for a in ADAPTERS])
def deployed(request: pytest.FixtureRequest) -> Iterator[Deployed]:
    adapter: Adapter = request.param
    emulator = TikTokEmulator()
    port = free_port()
    settings = emulator.settings(
        f"http://127.0.0.1:{port}/auth/tiktok/callback",
        protected_paths=PROTECTED,
        webhook_path=WEBHOOK,
    )
    app = mounted(adapter.build(settings, emulator.transport()))
    with adapter.around(), adapter.server(app, port):
        yield Deployed(adapter, port, settings, emulator)
