"""TikTokEmulator: an offline, strict TikTok Login Kit v2, usable in-process, mounted or served."""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import urlsplit

import anyio
from starlette.types import Receive, Scope, Send

from tiktok_asgi._public_key import PUBLIC_TEST_KEY
from tiktok_asgi.emulator._api import signed_avatar_query
from tiktok_asgi.emulator._app import build_app
from tiktok_asgi.emulator._authorize import AuthorizeRequest, denied_redirect, validate_authorize
from tiktok_asgi.emulator._config import (
    DEFAULT_PRODUCTS,
    DEFAULT_REDIRECT_URIS,
    WEBHOOK_RETRY_BASE,
    WEBHOOK_RETRY_CAP,
    WEBHOOK_RETRY_HORIZON,
    AppType,
    EmulatorConfig,
    scopes_of,
)
from tiktok_asgi.emulator._core import Core, parse_pairs, record_of
from tiktok_asgi.emulator._deliveries import PendingWebhook, WebhookAttempt
from tiktok_asgi.emulator._endpoints import ENDPOINTS, check_endpoint
from tiktok_asgi.emulator._errors import EmulatorRejected
from tiktok_asgi.emulator._faults import Fault
from tiktok_asgi.emulator._qrcode import cancel, confirm, find, scan
from tiktok_asgi.emulator._qrstate import QR_CODE_TTL, QrBoard, QrStatusName
from tiktok_asgi.emulator._state import REQUEST_LOG_SIZE, EmulatorState, RecordedRequest
from tiktok_asgi.emulator._transport import EmulatorTransport
from tiktok_asgi.emulator._users import EmulatorUser, sample_users
from tiktok_asgi.emulator._web import grant
from tiktok_asgi.emulator._webhook_target import WebhookTarget
from tiktok_asgi.emulator._webhooks import (
    deliver_due,
    remove_app,
    run_retries,
    send_tiktok_event,
)

if TYPE_CHECKING:
    from httpx2 import AsyncBaseTransport

    from tiktok_asgi.settings import TikTokSettings

__all__ = ["TEST_SECRET_KEY", "TikTokEmulator"]

TEST_SECRET_KEY = PUBLIC_TEST_KEY
"""The ``secret_key`` :meth:`TikTokEmulator.settings` uses for a redirect URI on loopback or
``testserver``: public, so tests can forge cookies; ``TikTokSettings`` accepts it only there."""
_TEST_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "testserver"})
_AUTHORIZE = check_endpoint("authorize")


class TikTokEmulator:
    """A fake TikTok that enforces what TikTok enforces. The object is itself an ASGI app.

    Use :meth:`transport` for in-process HTTP, mount it (``Mount("/tiktok", app=emu)``) or serve
    it (``python -m tiktok_asgi.emulator``). :meth:`approve` and :meth:`deny` play the person on
    the consent page; :attr:`requests`, :meth:`inject` and the ``clock`` let tests look inside.

    ``app_type`` is the TikTok app's type. Both require PKCE (``code_challenge_method=S256``):
    a ``"desktop"`` app's challenge is the hex SHA-256 of the verifier, as TikTok documents; a
    ``"web"`` app's may be RFC 7636's base64url SHA-256 or the hex one, since TikTok documents
    no encoding for web and both are reported to work (``strict_pkce=True``: base64url only).
    Desktop apps may also use any port on a registered ``http://localhost`` /
    ``http://127.0.0.1`` redirect URI (or register ``:*``).

    ``products`` are the products added to the app (``"login_kit"``, ``"display_api"``,
    ``"content_posting_api"``); a scope whose product is missing is refused with TikTok's bare
    ``scope`` error. ``approved_scopes`` are the scopes approved for the app among those the
    products bring (default: all of them); a requested scope that is not approved is refused
    with ``invalid_scope`` too. ``sandbox=True`` lets only ``target_users`` (open_ids or
    usernames, at most 10) consent; anyone else gets ``non_sandbox_target``.

    ``access_token_ttl`` and ``refresh_token_ttl`` default to today's 2 hours and 180 days;
    refresh tokens rotate. ``token_error_status`` is the HTTP status of token and revoke errors
    (TikTok's is 200); ``rate_limit`` counts requests per endpoint for the whole app over a
    sliding minute (None turns it off, e.g. for load tests); ``request_log_size`` bounds
    :attr:`requests` (the oldest records go first); ``clock`` replaces ``time.time`` for every
    expiry.

    Webhooks (:meth:`register_webhook`): TikTok delivers at least once. An event the app does not
    answer with 2xx (another status, a failed connection, no answer within 10 seconds) is
    delivered again: the same body, a ``TikTok-Signature`` made afresh on the ``clock``. The
    n-th attempt is followed by the next one ``webhook_retry_base * 2**(n - 1)`` seconds later,
    at most ``webhook_retry_cap`` apart, until the next one would come later than
    ``webhook_retry_horizon`` seconds after the first: then the event is dropped. The defaults,
    1 s, 1 hour and 72 hours, give attempts at +0, +1, +3, +7, +15 … seconds; a horizon of 0
    never redelivers. Nothing is sent on its own: :meth:`deliver_due` makes the attempts due on
    the ``clock`` (tests move the clock and call it), and :meth:`run_webhook_retries` calls it
    as time goes by, sleeping with ``sleep`` (default ``anyio.sleep``). Served with an ASGI
    lifespan (``python -m tiktok_asgi.emulator``, uvicorn) the emulator runs that loop from
    startup to shutdown; mounted in another app, run it from that app's lifespan.
    :attr:`pending_webhooks` and :attr:`webhook_attempts` show the queue and every attempt.

    QR-code sign-in (Login Kit with QR code, v2): ``get_qrcode`` and ``check_qrcode`` answer at
    TikTok's URLs, and the scan URL opens the phone's page, where a tester picks an account and
    confirms; :meth:`scan_qr`, :meth:`confirm_qr` and :meth:`cancel_qr` do the same from a test.
    A code goes ``new`` → ``scanned`` → ``confirmed`` → ``utilised`` (its authorization code
    redeemed), or ``expired`` when ``qr_code_ttl`` seconds (default 300; TikTok does not
    document its lifetime) pass on the ``clock`` before it is confirmed, or it is cancelled.
    """

    def __init__(
        self,
        *,
        client_key: str = "emulator-client-key",
        client_secret: str = "emulator-client-secret",  # noqa: S107 - a public test value
        redirect_uris: Sequence[str] = DEFAULT_REDIRECT_URIS,
        approved_scopes: Sequence[str] | None = None,
        users: Sequence[EmulatorUser] | None = None,
        app_type: AppType = "web",
        strict_pkce: bool = False,
        products: Sequence[str] = DEFAULT_PRODUCTS,
        sandbox: bool = False,
        target_users: Sequence[str] = (),
        access_token_ttl: int = 7200,
        refresh_token_ttl: int = 15_552_000,
        code_ttl: int = 600,
        qr_code_ttl: int = QR_CODE_TTL,
        token_error_status: int = 200,
        rate_limit: int | None = 600,
        request_log_size: int = REQUEST_LOG_SIZE,
        app_name: str = "Emulated App",
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        webhook_retry_base: float = WEBHOOK_RETRY_BASE,
        webhook_retry_cap: float = WEBHOOK_RETRY_CAP,
        webhook_retry_horizon: float = WEBHOOK_RETRY_HORIZON,
    ) -> None:
        named = (
            ("redirect_uris", redirect_uris),
            ("approved_scopes", approved_scopes),
            ("products", products),
            ("target_users", target_users),
        )
        for name, value in named:
            if isinstance(value, str):
                raise ValueError(f"{name} must be a sequence of strings, not one string")
        config = EmulatorConfig(
            client_key=client_key,
            client_secret=client_secret,
            redirect_uris=list(redirect_uris),
            approved_scopes=tuple(
                scopes_of(tuple(products)) if approved_scopes is None else approved_scopes
            ),
            products=tuple(products),
            app_type=app_type,
            strict_pkce=strict_pkce,
            sandbox=sandbox,
            target_users=tuple(target_users),
            access_token_ttl=access_token_ttl,
            refresh_token_ttl=refresh_token_ttl,
            code_ttl=code_ttl,
            token_error_status=token_error_status,
            rate_limit=rate_limit,
            app_name=app_name,
            clock=clock or time.time,
            webhook_retry_base=webhook_retry_base,
            webhook_retry_cap=webhook_retry_cap,
            webhook_retry_horizon=webhook_retry_horizon,
            sleep=sleep or anyio.sleep,
        )
        state = EmulatorState(
            config.clock, access_token_ttl, refresh_token_ttl, code_ttl, request_log_size
        )
        self._core = Core(config, state)
        self._core.qr = QrBoard(config.clock, qr_code_ttl)
        self._core.add_users(sample_users() if users is None else users)
        for target in config.target_users:
            if self._core.find_user(target) is None:
                raise ValueError(f"target user {target!r} is not a user of this emulator")
        self._app = build_app(self._core)
        self._transport = EmulatorTransport(self._core, self._app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)

    def __repr__(self) -> str:
        return f"TikTokEmulator(client_key={self.client_key!r}, users={len(self.users)})"

    # Configuration

    @property
    def client_key(self) -> str:
        return self._core.config.client_key

    @property
    def client_secret(self) -> str:
        return self._core.config.client_secret

    @property
    def redirect_uris(self) -> tuple[str, ...]:
        return tuple(self._core.config.redirect_uris)

    @property
    def approved_scopes(self) -> tuple[str, ...]:
        return self._core.config.approved_scopes

    @property
    def app_type(self) -> AppType:
        return self._core.config.app_type

    @property
    def strict_pkce(self) -> bool:
        """Whether a web app's PKCE challenge must be base64url (else hex is accepted too)."""
        return self._core.config.strict_pkce

    @property
    def products(self) -> tuple[str, ...]:
        return self._core.config.products

    @property
    def sandbox(self) -> bool:
        return self._core.config.sandbox

    @property
    def target_users(self) -> tuple[str, ...]:
        """The sandbox's target users, as given (open_ids or usernames)."""
        return self._core.config.target_users

    def register_redirect_uri(self, uri: str) -> None:
        """Add a redirect URI, as in the app console (at most 10; no-op if already allowed)."""
        self._core.config.register_redirect_uri(uri)

    @property
    def users(self) -> tuple[EmulatorUser, ...]:
        return self._core.users()

    def add_user(self, user: EmulatorUser) -> None:
        """Another account that can sign in (open_id and username must be new)."""
        self._core.add_users([user])

    def change_profile(self, key: str, **changes: Any) -> EmulatorUser:
        """The user changes their profile at TikTok (e.g. ``display_name=...``); user info
        answers with it from now on. ``open_id``, ``union_id`` and ``username`` stay."""
        fixed = {"open_id", "union_id", "username"} & changes.keys()
        if fixed:
            raise ValueError(f"{', '.join(sorted(fixed))} cannot change")
        changed = dataclasses.replace(self.user(key), **changes)
        self._core.change_user(changed)
        return changed

    def register_webhook(self, url: str, *, transport: AsyncBaseTransport | None = None) -> None:
        """The app's webhook callback URL, as registered in the app console. ``transport`` (an
        httpx2 transport, e.g. ``httpx2.ASGITransport`` around the app under test) carries the
        events; real HTTP otherwise (the emulator served on its own). Redeliveries go to the
        URL registered when they are made."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"the webhook URL must be an absolute http(s) URL, got {url!r}")
        self._core.webhook = WebhookTarget(url, transport)

    async def remove_app(self, user: str | EmulatorUser, *, reason: int = 1) -> int | None:
        """``user`` removes the app in TikTok's connected apps: every grant of theirs is revoked
        and a signed ``authorization.removed`` (``reason`` as TikTok numbers them) is POSTed to
        the registered webhook URL. Returns the app's HTTP status, None without a webhook URL
        or when the app could not be reached. Unless the app answered 2xx, the event stays in
        :attr:`pending_webhooks` for redelivery."""
        person = self.user(user.open_id if isinstance(user, EmulatorUser) else user)
        return await remove_app(self._core, person.open_id, reason)

    async def send_webhook(
        self,
        event: str,
        user: str | EmulatorUser,
        content: Mapping[str, object] | None = None,
    ) -> int | None:
        """TikTok sends ``event``, one of its four (``authorization.removed``,
        ``video.upload.failed``, ``video.publish.completed``, ``portability.download.ready``),
        about ``user`` to the registered webhook URL, signed and delivered as
        :meth:`remove_app` delivers. ``content`` is the event's content before TikTok encodes it
        as JSON, e.g. ``{"share_id": "video.6974245311675353080.VDCxrcMJ"}``; by default a
        typical one (``{"reason": 1}``, a fresh ``share_id`` or a numeric ``request_id``). For
        ``authorization.removed`` the user's grants are revoked first, as at TikTok. Returns
        the app's HTTP status, None without a webhook URL or when the app could not be
        reached (the event then stays in :attr:`pending_webhooks`)."""
        person = self.user(user.open_id if isinstance(user, EmulatorUser) else user)
        return await send_tiktok_event(self._core, event, person.open_id, content)

    async def deliver_due(self) -> list[WebhookAttempt]:
        """Redeliver every pending webhook event that is due on the ``clock``, oldest first;
        the attempts made (none when nothing is due)."""
        return await deliver_due(self._core)

    async def run_webhook_retries(self) -> NoReturn:
        """Call :meth:`deliver_due` as the ``clock`` reaches each due time, sleeping with
        ``sleep`` in between (at most a quarter second at a time), until cancelled."""
        await run_retries(self._core)

    @property
    def pending_webhooks(self) -> list[PendingWebhook]:
        """Events the app has not taken yet, the next due first (a copy)."""
        return self._core.deliveries.pending()

    @property
    def webhook_attempts(self) -> list[WebhookAttempt]:
        """Every webhook delivery attempt and its result, oldest first (a copy; bounded like
        :attr:`requests`)."""
        return self._core.deliveries.attempts()

    def fail_webhooks(self, times: int = 1) -> None:
        """The next ``times`` delivery attempts fail at TikTok's side: nothing is sent, the
        attempt is logged with ``error="injected"`` and retried on schedule.
        :meth:`clear_faults` disarms them."""
        self._core.deliveries.fail_next(times)

    def is_connected(self, user: str | EmulatorUser) -> bool:
        """Whether ``user`` has a live grant of the app (it shows in their connected apps)."""
        person = self.user(user.open_id if isinstance(user, EmulatorUser) else user)
        return self._core.state.connected(person.open_id)

    def user(self, key: str) -> EmulatorUser:
        """A user by open_id or username (``@`` optional)."""
        found = self._core.find_user(key)
        if found is None:
            raise LookupError(f"the emulator has no user {key!r}")
        return found

    def avatar_url(self, user: str | EmulatorUser, size: int = 168, *, base_url: str = "") -> str:
        """A signed avatar URL of ``user``, as user info would give it (valid about 48 hours).

        ``base_url`` is where the emulator is served or mounted (e.g. ``"/tiktok"`` or
        ``"http://127.0.0.1:8790"``); without it the URL is a path from the emulator's root.
        """
        if not 16 <= size <= 1080:
            raise ValueError("size must be between 16 and 1080 pixels")
        person = self.user(user.open_id if isinstance(user, EmulatorUser) else user)
        query = signed_avatar_query(self._core, person.open_id, size)
        return f"{base_url.rstrip('/')}/avatars/{person.open_id}.svg?{query}"

    # Three ways in

    def transport(self) -> AsyncBaseTransport:
        """An HTTP transport answering for TikTok's hosts in-process; share it freely."""
        return self._transport

    def settings(
        self,
        redirect_uri: str = DEFAULT_REDIRECT_URIS[0],
        *,
        secret_key: str | None = None,
        base_url: str | None = None,
        **overrides: Any,
    ) -> TikTokSettings:
        """Middleware settings wired to this emulator.

        ``base_url`` (e.g. ``"http://127.0.0.1:8790"`` or a mount such as
        ``"https://testserver/tiktok"``) points the endpoint URLs at it; without it the real
        TikTok URLs stay, for use with :meth:`transport`. ``redirect_uri`` is registered here
        if needed, and ``callback_path`` follows its path unless overridden. ``pkce`` matches
        the app type: ``"base64url"`` for web apps, ``"hex"`` for desktop apps.
        ``secret_key`` defaults to :data:`TEST_SECRET_KEY` for a loopback or ``testserver``
        redirect URI, and to a fresh random key elsewhere (the public key would let anyone forge
        a sign-in there).
        """
        from tiktok_asgi.settings import TikTokSettings

        if secret_key is None:
            on_test_host = urlsplit(redirect_uri).hostname in _TEST_HOSTS
            secret_key = TEST_SECRET_KEY if on_test_host else secrets.token_urlsafe(48)

        self.register_redirect_uri(redirect_uri)
        values: dict[str, Any] = {
            "client_key": self.client_key,
            "client_secret": self.client_secret,
            "redirect_uri": redirect_uri,
            "secret_key": secret_key,
            "scopes": self.approved_scopes,
            "callback_path": urlsplit(redirect_uri).path,
            "pkce": "hex" if self.app_type == "desktop" else "base64url",
        }
        if base_url is not None:
            base = base_url.rstrip("/")
            values.update({e.setting: f"{base}{e.path}" for e in ENDPOINTS if e.setting})
            values["api_base_url"] = base  # the root of every API path (tiktok_api)
        values.update(overrides)
        return TikTokSettings(**values)

    # The consent step, for tests

    def _authorize_request(self, authorize_url: str) -> AuthorizeRequest:
        parts = urlsplit(authorize_url)
        path = _AUTHORIZE.path
        if not parts.path.endswith(path):
            raise EmulatorRejected(
                "not_found", f"{parts.path!r} is not {path!r} (trailing slash included)"
            )
        headers = [("host", parts.netloc)] if parts.netloc else []
        self._core.state.record(
            record_of(_AUTHORIZE.name, "GET", parts.path, parts.query, headers, b"", None)
        )
        try:
            return validate_authorize(parse_pairs(parts.query), self._core.config)
        except UnicodeDecodeError:
            raise EmulatorRejected(
                "invalid_request", "The URL is not UTF-8.", render="page"
            ) from None

    def approve(
        self,
        authorize_url: str,
        user: str | EmulatorUser | None = None,
        scopes: Sequence[str] | None = None,
    ) -> str:
        """Consent as ``user`` (first user if None) to ``scopes`` (None: all requested).

        Validates ``authorize_url`` as ``GET /v2/auth/authorize/`` would (raising
        :class:`EmulatorRejected`) and returns the redirect TikTok would send:
        ``<redirect_uri>?code=…&scopes=a,b&state=…``. ``user.info.basic`` is always granted when
        requested (the page cannot untick it). Injected faults do not apply here. A sandbox
        app's non-target ``user`` raises ``non_sandbox_target``; its ``redirect`` is the page's
        link back to the app (``error=unauthorized_client&error_type=client_key``).
        """
        request = self._authorize_request(authorize_url)
        person = self._person(user)
        return grant(self._core, request, person, scopes)

    def _person(self, user: str | EmulatorUser | None) -> EmulatorUser:
        """One of the emulator's users: by open_id or username, as given, or the first."""
        if isinstance(user, EmulatorUser):
            return self.user(user.open_id)
        if user is None:
            if not self.users:
                raise LookupError("the emulator has no users")
            return self.users[0]
        return self.user(user)

    def deny(self, authorize_url: str) -> str:
        """Press Cancel: ``<redirect_uri>?error=access_denied&error_description=…&state=…``."""
        return denied_redirect(self._authorize_request(authorize_url))

    # Codes TikTok's native SDKs and Minis hand to an app, for tests

    def native_code(
        self,
        user: str | EmulatorUser | None = None,
        *,
        redirect_uri: str | None = None,
        code_verifier: str | None = None,
        scopes: Sequence[str] = ("user.info.basic",),
    ) -> str:
        """The ``code`` TikTok's iOS or Android SDK hands the app after the user consents in
        the TikTok app: bound to the app's registered ``redirect_uri`` (a universal or app link)
        and to ``code_verifier`` the way the SDKs send it (a hex S256 challenge). A Mini's code
        (``TTMinis.login``) has neither. The app's server exchanges it at the token endpoint."""
        if redirect_uri is not None and redirect_uri not in self._core.config.redirect_uris:
            raise EmulatorRejected(
                "invalid_request", f"redirect_uri {redirect_uri!r} is not registered for this app"
            )
        person = self._person(user)
        challenge = None
        if code_verifier is not None:
            challenge = hashlib.sha256(code_verifier.encode("ascii")).hexdigest()
        return self._core.state.issue_code(
            person.open_id, tuple(scopes), redirect_uri or "", challenge, native=True
        )

    # The phone's side of QR-code sign-in, for tests

    def scan_qr(self, scan_url: str) -> None:
        """A phone opens ``scan_url`` (the app's, with its client_ticket filled in): the code
        turns ``scanned``. Raises :class:`EmulatorRejected` as the phone page would refuse:
        an unknown, expired or used code, ``client_ticket=tobefilled`` left in, or a second
        scan with another client_ticket."""
        parts = urlsplit(scan_url)
        headers = [("host", parts.netloc)] if parts.netloc else []
        self._core.state.record(
            record_of("qr_scan", "GET", parts.path, parts.query, headers, b"", None)
        )
        scan(self._core, scan_url)

    def confirm_qr(
        self,
        scan_url: str,
        user: str | EmulatorUser | None = None,
        scopes: Sequence[str] | None = None,
    ) -> None:
        """The person confirms on the phone as ``user`` (first user if None), granting
        ``scopes`` (None: all requested; ``user.info.basic`` always); scans first if needed.
        A sandbox app's non-target ``user`` raises ``non_sandbox_target``."""
        person = self._person(user)
        confirm(self._core, scan_url, person, scopes)

    def cancel_qr(self, scan_url: str) -> None:
        """The person presses Cancel on the phone: the code turns ``expired``."""
        cancel(self._core, scan_url)

    def qr_status(self, scan_url: str) -> QrStatusName:
        """Where the QR code of ``scan_url`` stands, as check_qrcode would answer."""
        qr = find(self._core, scan_url)
        if qr is None:
            raise LookupError(f"the emulator made no QR code for {scan_url!r}")
        return self._core.qr.status(qr, self._core.state.code_redeemed)

    # Looking inside

    @property
    def requests(self) -> list[RecordedRequest]:
        """The requests that reached an endpoint, oldest first (a copy).

        Bounded: only the last ``request_log_size`` (default 10,000) are kept, so a long-running
        emulator does not grow without limit.
        """
        return self._core.state.recorded()

    def count(self, endpoint: str, grant_type: str | None = None) -> int:
        """How many kept requests reached ``endpoint`` (optionally of one ``grant_type``)."""
        check_endpoint(endpoint)
        return sum(
            1
            for r in self.requests
            if r.endpoint == endpoint
            and (grant_type is None or r.form.get("grant_type") == [grant_type])
        )

    def inject(self, endpoint: str, fault: Fault, times: int | None = 1) -> None:
        """Answer the next ``times`` requests to ``endpoint`` with ``fault`` (None: until cleared).

        Several injections queue up in order.
        """
        check_endpoint(endpoint)
        self._core.state.inject(endpoint, fault, times)

    def clear_faults(self) -> None:
        """Disarm every injected fault, webhook failures included."""
        self._core.state.clear_faults()
        self._core.deliveries.clear_failures()
