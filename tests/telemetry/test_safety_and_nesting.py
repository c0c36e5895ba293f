"""No secret in any span or metric point; spans nested under the server's span, TikTok's calls
under the library's; nothing of OpenTelemetry without the extra; native, QR-free paths."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx2
from opentelemetry import trace
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from tests.sessions.test_native import APP_LINK, EXCHANGE, sdk_code
from tests.sessions.test_webhooks import removed_body
from tests.support.signin import async_sign_in
from tests.telemetry.conftest import WEBHOOK, Events, Recorded, signed_webhook
from tests.tokens.conftest import (
    BASE_URL,
    browser,
    expire_access_token,
    make_api_app,
    read_record,
    session_id,
    wrap,
)
from tiktok_asgi import MemoryTokenStore, TikTokAuthMiddleware, TikTokSettings
from tiktok_asgi._tiktok.http import AsyncBaseTransport, Request, Response
from tiktok_asgi.emulator import TikTokEmulator
from tiktok_asgi.events import SignedIn, SignInRefused
from tiktok_asgi.stores import TokenStore

JSON = {"content-type": "application/json"}


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, tuple | list):
        for item in value:
            yield from _texts(item)
    elif value is not None:
        yield str(value)


def _recorded_texts(recorded: Recorded) -> list[str]:
    """Every name, attribute, event and status text of every span and metric point."""
    found: list[str] = []
    for span in recorded.spans():
        found.append(span.name)
        found.extend(_texts(span.status.description))
        for key, value in (span.attributes or {}).items():
            found.extend([key, *_texts(value)])
        for event in span.events:
            found.append(event.name)
            for key, value in (event.attributes or {}).items():
                found.extend([key, *_texts(value)])
    for name, points in recorded.collect().items():
        found.append(name)
        for attributes, _ in points:
            for key, value in attributes.items():
                found.extend([key, *_texts(value)])
    return found


def _flowed(emulator: TikTokEmulator, settings: TikTokSettings) -> set[str]:
    """Every token, code, verifier, state and secret the emulator saw."""
    names = {"code", "code_verifier", "refresh_token", "token", "client_secret", "state"}
    secrets = {settings.client_secret, *settings.secret_keys}
    for request in emulator.requests:
        for name, values in [*request.form.items(), *request.query.items()]:
            if name in names:
                secrets.update(values)
        bearer = request.headers.get("authorization", "")
        if bearer.lower().startswith("bearer "):
            secrets.add(bearer[7:])
    return {s for s in secrets if s}


async def test_no_secret_reaches_a_span_or_a_metric(
    tiktok_emulator: TikTokEmulator,
    tiktok_settings: TikTokSettings,
    recorded: Recorded,
    events: Events,
) -> None:
    store = MemoryTokenStore()
    app = wrap(tiktok_settings, store, tiktok_emulator, on_event=events, revoke_on_logout=True)
    seen: set[str] = set()
    user = tiktok_emulator.users[0]
    async with browser(app) as client:
        for refusal in ("deny", "tamper"):
            login = await client.get(tiktok_settings.login_path)
            seen.update(v for k, v in parse_qsl(urlsplit(login.headers["location"]).query))
            if refusal == "deny":
                callback = tiktok_emulator.deny(login.headers["location"])
            else:
                callback = tiktok_emulator.approve(login.headers["location"])
                seen.update(v for k, v in parse_qsl(urlsplit(callback).query))
                callback = callback.replace("state=", "state=x")
            await client.get(callback)
        await async_sign_in(client, tiktok_settings, tiktok_emulator, user=user)
        sid = session_id(client, tiktok_settings)
        seen.update([sid, *client.cookies.values()])
        record = await read_record(store, tiktok_settings, sid)
        seen.update([record["access_token"], record["refresh_token"]])
        await expire_access_token(store, tiktok_settings, sid)
        assert (await client.get("/token")).status_code == 200
        record = await read_record(store, tiktok_settings, sid)
        seen.update([record["access_token"], record["refresh_token"], *client.cookies.values()])
        body = removed_body(tiktok_settings, "someone-else")
        headers = signed_webhook(tiktok_settings, body)
        seen.add(headers["TikTok-Signature"])
        assert (await client.post(WEBHOOK, content=body, headers=headers)).status_code == 200
        assert (await client.post(tiktok_settings.logout_path)).status_code == 303
    secrets = {s for s in seen | _flowed(tiktok_emulator, tiktok_settings) if len(s) >= 8}
    assert len(secrets) >= 10  # codes, states, verifiers, tokens, cookies, the secrets
    texts = _recorded_texts(recorded)
    assert "tiktok_asgi.callback" in texts
    assert "tiktok_asgi.refresh" in texts
    leaks = [(secret, text) for text in texts for secret in secrets if secret in text]
    assert leaks == []
    assert user.open_id not in texts  # only its digest


class TracedTransport(AsyncBaseTransport):
    """What an HTTP-client instrumentation does: a client span per request, in the current
    context."""

    def __init__(self, inner: AsyncBaseTransport, tracer: trace.Tracer) -> None:
        self._inner, self._tracer = inner, tracer

    async def handle_async_request(self, request: Request) -> Response:
        name = f"{request.method} {request.url.path}"
        with self._tracer.start_as_current_span(name, kind=SpanKind.CLIENT):
            return await self._inner.handle_async_request(request)


def _parent(span: ReadableSpan, spans: list[ReadableSpan]) -> ReadableSpan | None:
    if span.parent is None:
        return None
    (parent,) = [
        s for s in spans if s.context is not None and s.context.span_id == span.parent.span_id
    ]
    return parent


async def test_spans_nest_under_the_server_span_and_over_tiktoks_calls(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings, recorded: Recorded
) -> None:
    tracer = recorded.tracer_provider.get_tracer("http-client")
    transport = TracedTransport(tiktok_emulator.transport(), tracer)
    app = TikTokAuthMiddleware(
        make_api_app(),
        settings=tiktok_settings,
        transport=transport,
        token_store=MemoryTokenStore(),
    )
    served = OpenTelemetryMiddleware(app, tracer_provider=recorded.tracer_provider)
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=served), base_url=BASE_URL
    ) as client:
        await async_sign_in(client, tiktok_settings, tiktok_emulator)
    spans = recorded.spans()
    callback = recorded.one("tiktok_asgi.callback")
    server = _parent(callback, spans)
    assert server is not None
    assert server.kind is SpanKind.SERVER
    exchange = recorded.one("tiktok_asgi.code_exchange")
    info = recorded.one("tiktok_asgi.user_info")
    (token_call,) = [s for s in spans if s.name == "POST /v2/oauth/token/"]
    (info_call,) = [s for s in spans if s.name == "GET /v2/user/info/"]
    assert _parent(token_call, spans) is exchange
    assert _parent(info_call, spans) is info
    assert _parent(exchange, spans) is callback
    login = recorded.one("tiktok_asgi.login")
    login_server = _parent(login, spans)
    assert login_server is not None
    assert login_server.kind is SpanKind.SERVER


class AskingStore:
    """A store with only the four basic methods: liveness is asked of it, through the cache."""

    def __init__(self) -> None:
        self._inner = MemoryTokenStore()
        self.get, self.set, self.delete, self.lock = (
            self._inner.get,
            self._inner.set,
            self._inner.delete,
            self._inner.lock,
        )


async def test_a_session_check_is_traced_only_when_the_store_is_asked(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings, recorded: Recorded
) -> None:
    store: TokenStore = AskingStore()  # type: ignore[assignment]
    app = wrap(tiktok_settings, store, tiktok_emulator)
    async with browser(app) as client:
        await async_sign_in(client, tiktok_settings, tiktok_emulator)
        await client.get("/token")  # answered by the cache: the sign-in vouched for it
        assert recorded.named("tiktok_asgi.session_check") == []
        assert app._tokens is not None
        app._tokens.live.cache_seconds = 0.0  # every request now asks the store
        await client.get("/token")
    (check,) = recorded.named("tiktok_asgi.session_check")
    assert check.attributes is not None
    assert check.attributes["tiktok_asgi.alive"] is True
    assert recorded.value("tiktok_asgi.store.duration", operation="exists") == 1


async def test_the_identity_cache_counts_hits_and_misses(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings, recorded: Recorded
) -> None:
    app = wrap(tiktok_settings, MemoryTokenStore(), tiktok_emulator)
    async with browser(app) as client:
        await async_sign_in(client, tiktok_settings, tiktok_emulator)
        await client.get("/token")  # the new cookie, verified once
        before_hits = recorded.value("tiktok_asgi.identity_cache.hits") or 0
        for _ in range(3):
            assert (await client.get("/token")).status_code == 200
    assert recorded.value("tiktok_asgi.identity_cache.hits") == before_hits + 3
    assert recorded.value("tiktok_asgi.identity_cache.misses") >= 1


async def test_a_native_sign_in_and_its_refusal(
    tiktok_emulator: TikTokEmulator, recorded: Recorded, events: Events
) -> None:
    emulator = TikTokEmulator(
        redirect_uris=["https://testserver/auth/tiktok/callback", APP_LINK], rate_limit=None
    )
    settings = emulator.settings(http_timeout=5.0, native_redirect_uris=[APP_LINK])
    app = wrap(settings, MemoryTokenStore(), emulator, on_event=events)
    async with browser(app) as client:
        ok = await client.post(EXCHANGE, content=json.dumps(sdk_code(emulator)), headers=JSON)
        assert ok.status_code == 200
        bad = await client.post(EXCHANGE, content=json.dumps({"code": "spent"}), headers=JSON)
        assert bad.status_code == 502
    (signed_in,) = events.of(SignedIn)
    assert signed_in.how == "native"
    (refused,) = events.of(SignInRefused)
    assert (refused.how, refused.reason) == ("native", "invalid_grant")
    ok_span, bad_span = recorded.named("tiktok_asgi.native_exchange")
    assert ok_span.status.status_code.name == "UNSET"
    assert bad_span.status.status_code.name == "ERROR"
    assert recorded.value("tiktok_asgi.sign_ins", outcome="ok", how="native") == 1
    assert recorded.value("tiktok_asgi.sign_ins", outcome="invalid_grant", how="native") == 1


_WITHOUT_OTEL = textwrap.dedent(
    """
    import asyncio, sys

    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name == "opentelemetry" or name.startswith("opentelemetry."):
                raise ModuleNotFoundError(f"No module named {name!r}")
            return None

    sys.meta_path.insert(0, Blocker())

    import httpx2
    from tests.support.signin import async_sign_in
    from tiktok_asgi import MemoryTokenStore, TikTokAuthMiddleware
    from tiktok_asgi._telemetry import NO_SPAN, TELEMETRY
    from tiktok_asgi.emulator import TikTokEmulator
    from tests.conftest import make_starlette

    async def main():
        emulator = TikTokEmulator(rate_limit=None)
        settings = emulator.settings()
        app = TikTokAuthMiddleware(
            make_starlette(), settings=settings, transport=emulator.transport(),
            token_store=MemoryTokenStore(),
        )
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="https://testserver") as c:
            await async_sign_in(c, settings, emulator)
            assert (await c.get("/me")).json()["authenticated"] is True
        assert TELEMETRY.span("tiktok_asgi.callback") is NO_SPAN
        assert not TELEMETRY.measuring
        loaded = [m for m, mod in sys.modules.items() if m.startswith("opentelemetry") and mod]
        print("loaded:", loaded)

    asyncio.run(main())
    """
)


def _printed_by(script: str) -> str:
    """What ``script`` prints, run by this interpreter with warnings as errors; it must succeed."""
    done = subprocess.run(  # noqa: S603 (this interpreter, a script of this module)
        [sys.executable, "-W", "error", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_without_the_extra_nothing_of_opentelemetry_is_imported() -> None:
    assert _printed_by(_WITHOUT_OTEL) == "loaded: []"


def test_importing_the_package_imports_nothing_of_opentelemetry() -> None:
    script = (
        "import sys, tiktok_asgi, tiktok_asgi.events, tiktok_asgi.middleware\n"
        "print([m for m in sys.modules if m.startswith('opentelemetry')])"
    )
    assert _printed_by(script) == "[]"
