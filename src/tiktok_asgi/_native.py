"""Codes from TikTok's native SDKs and Minis, exchanged for a session the app carries itself.

An iOS or Android app signs in with TikTok's OpenSDK and gets an authorization ``code`` (and
the hex PKCE verifier it made); a TikTok Mini gets a bare ``code``. The app's server exchanges
it::

    POST {exchange_path}   Content-Type: application/json
         {"code": "…", "code_verifier": "…", "redirect_uri": "https://example.com/tiktok/auth"}
      → 200 {"access_token": "<session token>", "token_type": "Bearer", "expires_in": …,
             "user": {…}}

then sends ``Authorization: Bearer <session token>`` with its requests, which get
``scope["user"]`` exactly as a cookie session does: live and revocable with a token store
(sign-out, disconnect, ``end_user_sessions``, ``authorization.removed``), signed and expiring
after ``cookie_max_age`` without one. The exchange with TikTok proves the code was minted for
this app's ``client_key``; the code then goes through the web callback's checks and hooks (the
token's ``open_id`` against user info, ``on_login``, the token store).

No browser can be made to call it or to carry its session: it takes JSON only (a form cannot
send that without the server's consent), refuses any request with an ``Origin`` (every browser
sends one on a cross-site POST), sets no cookie, and the session token is signed under a key of
its own, so an identity cookie is no bearer token and a bearer token no cookie. A
``redirect_uri`` must be one of ``native_redirect_uris``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from ._bodies import BodyRefused, load_json, read_body
from ._cookies.identity import Identity, IdentityCookie
from ._cookies.signing import DuplicateCookie, Headers
from ._events import EventSink, client_of
from ._responses import secure
from ._telemetry import TELEMETRY
from .advice import developer_fix
from .errors import CrossSiteRequest, ExchangeInvalid, MethodNotAllowed, TikTokAuthError
from .events import SignedIn, SignInRefused, digest
from .settings import TikTokSettings

__all__ = ["BearerSessions", "NativeExchange", "bearer_token", "who_is_asking"]

PURPOSE = b"tiktok-asgi.bearer"
_MAX_BODY = 8 * 1024
_MAX_DEPTH = 4
_CODE = re.compile(r"[\x21-\x7e]{1,1024}")  # printable ASCII: TikTok's codes carry * and !
_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")  # RFC 7636

SignIn = Callable[..., Awaitable[Identity]]


def bearer_token(headers: Headers) -> str | None:
    """The token of an ``Authorization: Bearer`` header, found without a ``Headers`` object."""
    for key, value in headers:
        if key == b"authorization":
            if value[:7].lower() == b"bearer ":
                return value[7:].strip().decode("latin-1")
            return None
    return None


def who_is_asking(
    cookie: IdentityCookie, bearer: BearerSessions | None, headers: Headers
) -> tuple[Identity | None, bool]:
    """The identity a sign-out or a disconnect ends: the identity cookie's, else a native app's
    bearer session; and whether it came as a bearer token (then no cookie is answered)."""
    try:
        identity = cookie.read(headers)
    except DuplicateCookie:
        return None, False  # whose is whose cannot be told: the answer clears all of them
    if identity is None and bearer is not None:
        identity = bearer.read(headers)
        return identity, identity is not None
    return identity, False


class BearerSessions:
    """Session tokens of native apps: the identity cookie's signed format, under its own key."""

    def __init__(self, settings: TikTokSettings) -> None:
        self._codec = IdentityCookie(settings, purpose=PURPOSE)

    def read(self, headers: Headers) -> Identity | None:
        token = bearer_token(headers)
        return self.read_token(token) if token else None

    def read_token(self, token: str) -> Identity | None:
        return self._codec.read_value(token)

    def issue(self, identity: Identity) -> str:
        return self._codec.encode_value(identity)


class NativeExchange:
    """The ASGI endpoint at ``exchange_path``."""

    def __init__(
        self,
        settings: TikTokSettings,
        sessions: BearerSessions,
        sign_in: SignIn,
        events: EventSink | None = None,
    ) -> None:
        self.settings = settings
        self._events = events if events is not None else EventSink()
        self._sessions = sessions
        self._sign_in = sign_in
        self._redirect_uris = frozenset(settings.native_redirect_uris)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with TELEMETRY.span("tiktok_asgi.native_exchange"):
            answer = await self._answer(scope, receive)
        await answer(scope, receive, send)

    async def _answer(self, scope: Scope, receive: Receive) -> Response:
        client = client_of(scope.get("client"))
        try:
            identity = await self._exchange(scope, receive)
        except TikTokAuthError as exc:
            answer = secure(JSONResponse(exc.as_dict(), status_code=exc.status_code), ())
            if isinstance(exc, MethodNotAllowed):
                answer.headers["allow"] = "POST"
                return answer
            fix = developer_fix(exc, self.settings)
            refused = SignInRefused(
                how="native", reason=exc.code, fix=fix, log_id=exc.log_id, client=client
            )
            await self._events.emit(refused)
            return answer
        session = identity.session_id
        signed_in = SignedIn(
            how="native",
            open_id=identity.user.open_id,
            session=digest(session) if session is not None else None,
            client=client,
        )
        await self._events.emit(signed_in)
        return self._issued(identity)

    async def _exchange(self, scope: Scope, receive: Receive) -> Identity:
        if scope["method"] != "POST":
            raise MethodNotAllowed(description="Exchange a native app's code with a POST.")
        headers = dict(scope["headers"])
        if b"origin" in headers or b"sec-fetch-site" in headers:
            raise CrossSiteRequest(description="Native apps exchange their codes; pages cannot.")
        if not headers.get(b"content-type", b"").lower().startswith(b"application/json"):
            raise ExchangeInvalid(description="Send the code as application/json.")
        code, verifier, redirect_uri = self._fields(await _body(receive))
        return await self._sign_in(
            code, redirect_uri=redirect_uri, code_verifier=verifier, claimed_scopes=None
        )

    def _issued(self, identity: Identity) -> Response:
        user = identity.user
        payload = {
            "access_token": self._sessions.issue(identity),
            "token_type": "Bearer",
            "expires_in": self.settings.cookie_max_age,
            "user": user.to_dict(),
        }
        return secure(JSONResponse(payload), ())

    def _fields(self, data: Any) -> tuple[str, str | None, str | None]:
        if not isinstance(data, dict):
            raise ExchangeInvalid(description="The body must be a JSON object.")
        code, verifier, redirect_uri = (
            data.get("code"),
            data.get("code_verifier"),
            data.get("redirect_uri"),
        )
        if not isinstance(code, str) or not _CODE.fullmatch(code):
            raise ExchangeInvalid(description="code must be the code TikTok's SDK handed over.")
        if verifier is not None and (
            not isinstance(verifier, str) or not _VERIFIER.fullmatch(verifier)
        ):
            raise ExchangeInvalid(
                description="code_verifier must be 43 to 128 of A-Z a-z 0-9 - . _ ~ (RFC 7636)."
            )
        if redirect_uri is not None and redirect_uri not in self._redirect_uris:
            raise ExchangeInvalid(
                description="redirect_uri is not one of this app's native_redirect_uris."
            )
        return code, verifier, redirect_uri


async def _body(receive: Receive) -> Any:
    try:
        return load_json(await read_body(receive, _MAX_BODY), _MAX_DEPTH)
    except (BodyRefused, ValueError):
        raise ExchangeInvalid(description="The body must be a JSON object.") from None
