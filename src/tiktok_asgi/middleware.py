"""The gate: every request passes here once.

The login conversation's paths are answered by :class:`~tiktok_asgi._conversation.
LoginConversation`; every other ``http`` and ``websocket`` request takes one path — identity
cookie → login session (still alive, with a token store) → ``load_user`` → protected paths → the
application — and leaves with ``scope["user"]``, ``scope["auth"]`` and its
:class:`~tiktok_asgi.context.TikTokContext`.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Awaitable, Callable

from starlette.authentication import AuthCredentials, UnauthenticatedUser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._conversation import LoginConversation, OnLogin, OnLogout
from ._cookies.identity import Identity, IdentityCookie
from ._cookies.signing import DuplicateCookie
from ._cookies.tossing import clear_everywhere
from ._events import EventSink
from ._limits import RequestLimiter
from ._mount_check import MountCheck
from ._native import BearerSessions, NativeExchange, bearer_token
from ._origins import header, socket_origin_allowed
from ._paths import ProtectedPaths, request_path, site_path
from ._responses import error_response, refuse_anonymous, store_unavailable
from ._sends import ClearOnResponse, Header, SignOutOnResponse, Watched
from ._session import ProfileRefresher, SessionStep, SocketFollower, TokenManager
from ._telemetry import TELEMETRY
from ._tiktok.http import AsyncBaseTransport, SharedTransport
from ._tiktok.provider import TikTokProvider
from .context import NO_CREDENTIALS, SCOPE_KEY, TikTokContext
from .errors import TikTokAuthError, TokenStoreUnavailable
from .events import OnEvent
from .pages import RenderErrorPage
from .settings import DEFAULT_DISCONNECT_PATH, TikTokSettings
from .stores import TokenStore
from .user import TikTokUser
from .webhooks import OnWebhook, WebhookReceiver

__all__ = ["LoadUser", "OnEvent", "OnLogin", "OnLogout", "OnWebhook", "TikTokAuthMiddleware"]

logger = logging.getLogger("tiktok_asgi")

LoadUser = Callable[[TikTokUser], Awaitable[TikTokUser | None]]
"""The middleware's ``load_user`` hook: awaited on every signed-in request and WebSocket with the
user of its cookie; ``None`` makes the request anonymous and clears the cookie."""


def _watch_django() -> None:
    """Django is loaded, so it may be the app, wrapped or not: the adapter checks its set-up at
    the first request it serves."""
    try:
        from .django import _watch_middleware
    except ImportError:
        return
    _watch_middleware()


class TikTokAuthMiddleware:
    """Sign in with TikTok for the wrapped ASGI app.

    ``scope["user"]`` becomes a :class:`TikTokUser` or Starlette's ``UnauthenticatedUser`` and
    ``scope["auth"]`` the matching ``AuthCredentials`` for every ``http`` and ``websocket`` scope.
    ``transport`` (an httpx2 transport) carries every call to TikTok when given; it stays the
    caller's to close. Otherwise a pooled transport opens on first use and closes at shutdown.
    ``on_event`` is awaited with each audit event (:mod:`tiktok_asgi.events`).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: TikTokSettings,
        transport: AsyncBaseTransport | None = None,
        on_login: OnLogin | None = None,
        load_user: LoadUser | None = None,
        token_store: TokenStore | None = None,
        revoke_on_logout: bool = False,
        on_logout: OnLogout | None = None,
        error_page: RenderErrorPage | None = None,
        on_webhook: OnWebhook | None = None,
        on_event: OnEvent | None = None,
    ) -> None:
        if not isinstance(settings, TikTokSettings):
            raise TypeError("settings must be a TikTokSettings instance")
        hooks: dict[str, object] = {"on_login": on_login, "load_user": load_user}
        hooks |= {"on_logout": on_logout, "error_page": error_page, "on_webhook": on_webhook}
        hooks["on_event"] = on_event
        for name, hook in hooks.items():
            if hook is not None and not callable(hook):
                kind = "a callable returning HTML" if name == "error_page" else "an async callable"
                raise TypeError(f"{name} must be {kind}")
        if revoke_on_logout and token_store is None:
            raise ValueError("revoke_on_logout needs a token_store: without one no token is kept")
        if settings.disconnect_path not in (None, DEFAULT_DISCONNECT_PATH) and token_store is None:
            raise ValueError(
                f"disconnect_path {settings.disconnect_path!r} needs a token_store: disconnecting "
                "revokes the user's TikTok access, and without a store no token is kept; pass "
                "token_store=MemoryTokenStore() (or a RedisTokenStore), or set disconnect_path=None"
            )
        if on_webhook is not None and settings.webhook_path is None:
            raise ValueError(
                'on_webhook needs webhook_path, e.g. webhook_path="/auth/tiktok/webhook" '
                "registered as the webhook callback URL in the TikTok app console"
            )
        self.app = app
        self.settings = settings
        TELEMETRY.load()
        events = EventSink(on_event)
        self._transport = SharedTransport(transport)
        self._tiktok = tiktok = TikTokProvider(settings, self._transport)
        self._identity = identity = IdentityCookie(settings)
        TELEMETRY.watch_cache(identity)
        self._tokens = tokens = (
            TokenManager(settings, token_store, tiktok, events=events)
            if token_store is not None
            else None
        )
        self._bearer = bearer = (
            BearerSessions(settings) if settings.exchange_path is not None else None
        )
        self.conversation = LoginConversation(
            settings,
            tiktok,
            identity,
            bearer=bearer,
            tokens=tokens,
            on_login=on_login,
            # Revoking disconnects the app at TikTok: a sign-out does it only when asked to.
            revoke_on_logout=bool(revoke_on_logout),
            on_logout=on_logout,
            error_page=error_page,
            events=events,
        )
        # The library's own paths that read a body: answered as ASGI apps.
        self._own_apps: dict[str, ASGIApp] = {}
        if settings.webhook_path is not None:
            receiver = WebhookReceiver(
                settings, tokens=tokens, on_webhook=on_webhook, events=events
            )
            self._own_apps[settings.webhook_path] = receiver
        if settings.exchange_path is not None and bearer is not None:
            exchange = NativeExchange(settings, bearer, self.conversation.sign_in, events)
            self._own_apps[settings.exchange_path] = exchange
        # Looked up on every request: bound once.
        self._endpoint = self.conversation.endpoint
        self._own_paths = frozenset(self._own_apps) | self.conversation.paths()
        # Paths the library answers below one of its own (each QR code's status).
        self._below_own = self.conversation.below() or "\0"  # "\0": no path starts with it
        self._sessions = (
            SessionStep(tokens, ProfileRefresher(settings, tokens, tiktok, identity))
            if tokens is not None
            else None
        )
        self._sockets = SocketFollower(tokens.live) if tokens is not None else None
        self._load_user = load_user
        self._error_page = error_page
        # Without load_user or a token store nothing can sign a user out while a view runs.
        self._watch_responses = load_user is not None or token_store is not None
        self._anonymous = TikTokContext(settings, tiktok)
        self._clear_identity = (b"set-cookie", identity.clear().encode("latin-1"))
        self._protected = (
            ProtectedPaths(settings.protected_paths) if settings.protected_paths else None
        )
        self._mount_check = MountCheck(settings)
        self._limits = RequestLimiter.build(settings, token_store, error_page)
        self._warned_storeless = False
        # No store to ask and no load_user: a valid cookie is the whole answer, no await needed.
        self._cookie_says_all = token_store is None and load_user is None
        if "django" in sys.modules:
            _watch_django()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Steps stay inline on the way to the app: each coroutine more costs every request.
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self._pass_through(scope, receive, send)
            return
        path = request_path(scope)
        if (
            kind == "http"
            and (path in self._own_paths or path.startswith(self._below_own))
            and await self._answered_here(path, scope, receive, send)
        ):
            return
        try:
            identity = self._identity.read(scope["headers"])
        except DuplicateCookie:
            # Cookie tossing: a second identity cookie from another scope. Nobody, and cleared.
            identity, send = None, self._clear_tossed(scope, path, send)
        by_bearer = False
        if identity is None and self._bearer is not None:
            token = bearer_token(scope["headers"])  # a native app's session
            if token:
                identity = self._bearer.read_token(token)
                by_bearer = identity is not None
        elif identity is not None and kind == "websocket" and not self._socket_origin_ok(scope):
            identity = None  # a page of another origin must not get the user's socket
        if identity is None:
            context, renewed = self._anonymous, None
        elif self._cookie_says_all:
            context, renewed = self._cookie_context(identity), None
        else:
            try:
                context, renewed = await self._signed_in(identity, scope.get("client"))
            except TokenStoreUnavailable:
                await store_unavailable(scope, receive, send, self.settings, self._error_page)
                return
        user = context.user
        scope[SCOPE_KEY] = context
        if user is None:
            scope["user"] = UnauthenticatedUser()
            scope["auth"] = NO_CREDENTIALS
        else:
            scope["user"] = user
            scope["auth"] = AuthCredentials(("authenticated", *user.granted_scopes))
        if identity is not None and not by_bearer and (self._watch_responses or context.signed_out):
            send = SignOutOnResponse(context, send, self._clear_identity, renewed)
        elif (user is None or by_bearer) and kind == "http" and type(send) is not ClearOnResponse:
            send = Watched(send)  # a view's unhandled TikTokAuthError is answered, not a 500
        if user is None and self._protected is not None and self._protected.covers(path):
            await refuse_anonymous(scope, receive, send, self.settings.login_path)
            return
        if kind == "websocket" and user is not None and self._sockets is not None:
            await self._follow_socket(scope, receive, send, identity)
            return
        try:
            await self.app(scope, receive, send)
        except TikTokAuthError as exc:
            # get_access_token() or tiktok_api() failed in a view that did not handle it:
            # answer with the library's error shape instead of letting it become a 500.
            if not isinstance(send, Watched) or send.started or kind != "http":
                raise
            answer = error_response(exc, self.settings, scope, render=self._error_page)
            await answer(scope, receive, send)

    async def _pass_through(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Lifespan (watched for the connection pool) and scope types this library ignores."""
        if scope["type"] == "lifespan":
            receive = self._transport.watch_lifespan(receive)
            if self._tokens is not None:
                receive = _store_lifespan(receive, self._tokens)
        await self.app(scope, receive, send)

    async def _answered_here(self, path: str, scope: Scope, receive: Receive, send: Send) -> bool:
        """The webhook, the native code exchange and the login conversation's paths are the
        library's own: answered here (False for a path below them that is not)."""
        own = self._own_apps.get(path)
        endpoint = self._endpoint(path) if own is None else None
        if own is None and endpoint is None:
            return False
        self._mount_check.check(scope)  # here, not on the way to the app
        if self._limits is not None:
            refused = await self._limits.refusal(path, scope)
            if refused is not None:
                await refused(scope, receive, send)
                return True
        if own is not None:
            await own(scope, receive, send)
        else:
            assert endpoint is not None
            response = await endpoint(scope)
            await response(scope, receive, send)
        return True

    def _cookie_context(self, identity: Identity) -> TikTokContext:
        """Without a token store or ``load_user`` the identity cookie alone says who it is."""
        context = TikTokContext(self.settings, self._tiktok, identity.user)
        if identity.session_id is not None:
            self._refuse_storeless()
            context.sign_out()
        return context

    async def _signed_in(
        self, identity: Identity, client: object
    ) -> tuple[TikTokContext, Header | None]:
        """The context of a request with a valid identity cookie (``client``: the scope's),
        and the re-issued cookie if its profile was re-read. Raises
        :class:`TokenStoreUnavailable` when the store cannot tell whether its login session
        lives."""
        context = TikTokContext(
            self.settings,
            self._tiktok,
            identity.user,
            tokens=self._tokens,
            session_id=identity.session_id,
            client=client,
        )
        renewed = None
        if identity.session_id is not None:
            if self._sessions is None:
                self._refuse_storeless()
                context.sign_out()
            else:
                verdict = await self._sessions.follow(identity)
                if not verdict.alive:
                    context.sign_out()
                elif verdict.user is not None:
                    context.user, renewed = verdict.user, verdict.cookie
        if self._load_user is not None and context.user is not None:
            loaded = await self._load_user(context.user)
            if loaded is None:
                context.sign_out()
            context.user = loaded
        return context, renewed

    async def _follow_socket(
        self, scope: Scope, receive: Receive, send: Send, identity: Identity | None
    ) -> None:
        """A signed-in WebSocket stays open only while its login session lives."""
        if self._sockets is None or identity is None or identity.session_id is None:
            await self.app(scope, receive, send)
            return
        await self._sockets.run(
            self.app, scope, receive, send, identity.session_id, identity.issued
        )

    def _clear_tossed(self, scope: Scope, path: str, send: Send) -> Send:
        host = header(scope["headers"], b"host")
        cleared = clear_everywhere(self._identity.spec, host, site_path(scope, path))
        return ClearOnResponse(send, [(b"set-cookie", c.encode("latin-1")) for c in cleared])

    def _socket_origin_ok(self, scope: Scope) -> bool:
        return socket_origin_allowed(scope, self.settings.allowed_origins)

    def _refuse_storeless(self) -> None:
        """A cookie naming a login session, and no token store to ask whether it lives: it may
        have been signed out, so it signs nobody in."""
        if not self._warned_storeless:
            self._warned_storeless = True
            logger.warning(
                "identity cookies name login sessions but the middleware has no token_store: "
                "they sign nobody in; pass the token_store those sessions were kept in",
                extra={"event": "session_without_store"},
            )


def _store_lifespan(receive: Receive, tokens: TokenManager) -> Receive:
    """``receive`` of a lifespan scope: the token store opened and its feed of ends followed
    at start-up, no longer followed at shutdown."""

    async def watched() -> Message:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await tokens.start()
        elif message["type"] == "lifespan.shutdown":
            await tokens.aclose()
        return message

    return watched
