"""One sign-in, whatever drives the app: login → consent at TikTok → callback.

:func:`sign_in_steps` is the sign-in itself, as a generator: it yields each :class:`Step` (one
HTTP request to make), receives the answer, checks it, and returns where the callback redirects.
The drivers only make the requests:

- :func:`sign_in`: Starlette's ``TestClient`` (or an ``httpx2.Client``);
- :func:`async_sign_in`: an ``httpx2.AsyncClient``, over ``httpx2.ASGITransport`` or to a
  server's URL (``origin``);
- :func:`run_steps` / :func:`run_steps_async` with a function making one request: the bare ASGI
  app with :func:`asgi_performer` (a :class:`tests.support.asgi.AsgiBrowser`), or anything else.

Consent happens at the in-process emulator (:func:`approving`, ``emulator.approve``), or on the
emulator's consent page served by the app under test (:func:`consent_form`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from tests.support.asgi import Answer, AsgiBrowser

if TYPE_CHECKING:
    import httpx2
    from starlette.testclient import TestClient

    from tiktok_asgi import TikTokSettings
    from tiktok_asgi.emulator import EmulatorUser, TikTokEmulator

__all__ = [
    "Answer",
    "Step",
    "approving",
    "asgi_performer",
    "async_sign_in",
    "authorization_url",
    "consent_form",
    "login_url",
    "run_steps",
    "run_steps_async",
    "sign_in",
    "sign_in_steps",
]

COOKIE_NAME = "tiktok_session"  # the default name on plain http (on https: "__Host-" before it)
JSON = {"accept": "application/json"}


@dataclass(frozen=True)
class Step:
    """One request of a sign-in: ``name`` is ``login``, ``consent`` or ``callback``."""

    name: str
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    form: tuple[tuple[str, str], ...] = ()

    @property
    def body(self) -> bytes:
        return urlencode(self.form).encode("ascii")

    def all_headers(self) -> dict[str, str]:
        """``headers``, with the content type of the form if there is one."""
        if not self.form:
            return self.headers
        return {"content-type": "application/x-www-form-urlencoded", **self.headers}

    def httpx_options(self) -> dict[str, Any]:
        """The keyword arguments of ``client.request(method, url, ...)`` in httpx2 (and
        Starlette's ``TestClient``): never following a redirect."""
        content = self.body if self.form else None
        return {"headers": self.all_headers(), "content": content, "follow_redirects": False}


class Response(Protocol):
    """What a sign-in reads of an answer (an httpx2 response or an ASGI :class:`Answer`)."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Any: ...

    @property
    def text(self) -> str: ...

    def json(self) -> Any: ...


Consent = Callable[[str], "str | Step"]
"""Authorize URL → the callback URL TikTok redirects to, or the request that consents."""
Steps = Generator[Step, Response, str]


def approving(
    emulator: TikTokEmulator,
    *,
    user: EmulatorUser | str | None = None,
    scopes: Sequence[str] | None = None,
) -> Consent:
    """Consent at the in-process emulator, as ``user`` (its first if None) to ``scopes``."""
    return lambda url: emulator.approve(url, user=user, scopes=scopes)


def consent_form(user: str, granted: Sequence[str] = (), *, mount: str = "/tiktok") -> Consent:
    """Consent on the emulator's page mounted at ``mount`` of the app under test (the emulator
    then lives in the server's process): POST the form as ``user`` (an open_id)."""

    def consent(authorize_url: str) -> Step:
        authorize = urlsplit(authorize_url)
        form = [*parse_qsl(authorize.query), ("action", "authorize"), ("user", user)]
        form += [("granted", scope) for scope in granted]
        return Step("consent", "POST", mount + authorize.path, form=tuple(form))

    return consent


def login_url(login_path: str, next: str | None = None) -> str:
    """The login path (or URL) with ``next`` in its query, every reserved character escaped."""
    if next is None:
        return login_path
    return f"{login_path}?{urlencode({'next': next}, quote_via=quote)}"


def authorization_url(login: Response, *, spa: bool = False) -> str:
    """TikTok's authorize URL from the login's answer: a 302 to it, or with ``spa`` JSON."""
    if spa:
        assert login.status_code == 200, login.text
        url: str = login.json()["authorization_url"]
    else:
        assert login.status_code == 302, login.text
        url = login.headers["location"]
    return url


def identity_value(response: Response, cookie_name: str) -> str:
    """The identity cookie ``response`` sets ("" if it sets none or clears it)."""
    found = ""
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        if name == cookie_name:
            found = rest.split(";", 1)[0]
    return found


def sign_in_steps(
    login_path: str,
    consent: Consent,
    *,
    next: str | None = None,
    spa: bool = False,
    cookie_name: str = COOKIE_NAME,
) -> Steps:
    """Login (a 302 to TikTok, or with ``spa`` the JSON ``authorization_url``), consent, then the
    callback, which must redirect (302) and set the identity cookie; returns its ``Location``."""
    login = yield Step("login", "GET", login_url(login_path, next), dict(JSON) if spa else {})
    callback_url = consent(authorization_url(login, spa=spa))
    if isinstance(callback_url, Step):
        consented = yield callback_url
        assert consented.status_code == 302, consented.text
        callback_url = consented.headers["location"]
    done = yield Step("callback", "GET", callback_url)
    assert done.status_code == 302, done.text
    assert identity_value(done, cookie_name), done.headers.get_list("set-cookie")
    location: str = done.headers["location"]
    return location


def run_steps(steps: Steps, perform: Callable[[Step], Response]) -> str:
    """Drive ``steps`` to the end, making each request with ``perform``."""
    step = next(steps)
    while True:
        try:
            step = steps.send(perform(step))
        except StopIteration as done:
            result: str = done.value
            return result


async def run_steps_async(steps: Steps, perform: Callable[[Step], Awaitable[Response]]) -> str:
    """:func:`run_steps` with a coroutine making the requests."""
    step = next(steps)
    while True:
        try:
            step = steps.send(await perform(step))
        except StopIteration as done:
            result: str = done.value
            return result


def _steps(
    settings: TikTokSettings,
    emulator: TikTokEmulator,
    user: EmulatorUser | str | None,
    scopes: Sequence[str] | None,
    next: str | None,
    origin: str = "",
) -> Steps:
    return sign_in_steps(
        origin + settings.login_path,
        approving(emulator, user=user, scopes=scopes),
        next=next,
        cookie_name=settings.cookie_name,
    )


def sign_in(
    client: TestClient | httpx2.Client,
    settings: TikTokSettings,
    emulator: TikTokEmulator,
    *,
    user: EmulatorUser | str | None = None,
    scopes: Sequence[str] | None = None,
    next: str | None = None,
) -> str:
    """A full sign-in through a synchronous client; the callback's redirect target."""

    steps = _steps(settings, emulator, user, scopes, next)
    return run_steps(
        steps, lambda step: client.request(step.method, step.url, **step.httpx_options())
    )


async def async_sign_in(
    client: httpx2.AsyncClient,
    settings: TikTokSettings,
    emulator: TikTokEmulator,
    *,
    user: EmulatorUser | str | None = None,
    scopes: Sequence[str] | None = None,
    next: str | None = None,
    origin: str = "",
) -> str:
    """A full sign-in through an async client (``origin`` prefixes the login path, for a client
    without a base URL); the callback's redirect target."""

    steps = _steps(settings, emulator, user, scopes, next, origin)
    return await run_steps_async(
        steps, lambda step: client.request(step.method, step.url, **step.httpx_options())
    )


def asgi_performer(browser: AsgiBrowser) -> Callable[[Step], Awaitable[Answer]]:
    """Makes each step's request through ``browser``."""

    async def perform(step: Step) -> Answer:
        body = step.body if step.form else b""
        return await browser.request(step.method, step.url, headers=step.all_headers(), body=body)

    return perform
