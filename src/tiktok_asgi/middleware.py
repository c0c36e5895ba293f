"""The gate: every request passes here once.

The login conversation's paths are answered by :class:`~tiktok_asgi._conversation.
LoginConversation`; every other ``http`` and ``websocket`` request takes one path — identity
cookie → login session (still alive, with a token store) → ``load_user`` → protected paths → the
application — and leaves with ``scope["user"]``, ``scope["auth"]`` and its
:class:`~tiktok_asgi.context.TikTokContext`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from starlette.authentication import AuthCredentials, UnauthenticatedUser
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._conversation import LoginConversation, OnLogin, OnLogout
from ._cookies.identity import IdentityCookie
from ._profiles import ProfileRefresher, SignedOut
from ._responses import error_response, refuse_anonymous
from ._tiktok.http import AsyncBaseTransport, SharedTransport
from ._tiktok.provider import TikTokProvider
from ._tokens import TokenManager
from .context import SCOPE_KEY, TikTokContext
from .errors import TikTokAuthError, TokenStoreUnavailable
from .pages import RenderErrorPage
from .settings import TikTokSettings
from .stores import TokenStore, TokenStoreError
from .user import TikTokUser
from .webhooks import OnWebhook, WebhookReceiver

__all__ = ["LoadUser", "OnLogin", "OnLogout", "OnWebhook", "TikTokAuthMiddleware"]

LoadUser = Callable[[TikTokUser], Awaitable[TikTokUser | None]]


class _NoCredentials(AuthCredentials):
    """``scope["auth"]`` of anonymous requests: one shared instance, so nothing can change it.

    ``scopes`` is a new empty list at every read (a scope appended to it never reaches another
    request); no attribute can be set. Sharing it saves an allocation per anonymous request.
    """

    def __init__(self) -> None:
        """No per-instance state."""

    @property
    def scopes(self) -> list[str]:
        return []

    @scopes.setter
    def scopes(self, value: Sequence[str]) -> None:
        self.__setattr__("scopes", value)  # refused below; the setter only satisfies the type

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("the credentials of anonymous requests are shared and read-only")


_NO_CREDENTIALS = _NoCredentials()


class TikTokAuthMiddleware:
    """Sign in with TikTok for the wrapped ASGI app.

    ``scope["user"]`` becomes a :class:`TikTokUser` or Starlette's ``UnauthenticatedUser`` and
    ``scope["auth"]`` the matching ``AuthCredentials`` for every ``http`` and ``websocket`` scope.
    ``transport`` (an httpx2 transport) carries every call to TikTok when given; it stays the
    caller's to close. Otherwise a pooled transport opens on first use and closes at shutdown.
    ``on_logout`` is awaited with the user who signs out; ``error_page`` renders the error page
    (see :mod:`tiktok_asgi.pages`).
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
        revoke_on_logout: bool | None = None,
        on_logout: OnLogout | None = None,
        error_page: RenderErrorPage | None = None,
        on_webhook: OnWebhook | None = None,
    ) -> None:
        if not isinstance(settings, TikTokSettings):
            raise TypeError("settings must be a TikTokSettings instance")
        hooks: dict[str, object] = {"on_login": on_login, "load_user": load_user}
        hooks |= {"on_logout": on_logout, "error_page": error_page, "on_webhook": on_webhook}
        for name, hook in hooks.items():
            if hook is not None and not callable(hook):
                kind = "a callable returning HTML" if name == "error_page" else "an async callable"
                raise TypeError(f"{name} must be {kind}")
        if revoke_on_logout and token_store is None:
            raise ValueError("revoke_on_logout needs a token_store: without one no token is kept")
        self.app = app
        self.settings = settings
        self._transport = SharedTransport(transport)
        self._tiktok = TikTokProvider(settings, self._transport)
        self._identity = IdentityCookie(settings)
        self._tokens = (
            TokenManager(settings, token_store, self._tiktok) if token_store is not None else None
        )
        self.conversation = LoginConversation(
            settings,
            self._tiktok,
            self._identity,
            tokens=self._tokens,
            on_login=on_login,
            revoke_on_logout=token_store is not None and revoke_on_logout is not False,
            on_logout=on_logout,
            error_page=error_page,
        )
        self._error_page = error_page
        if on_webhook is not None and settings.webhook_path is None:
            raise ValueError(
                'on_webhook needs webhook_path, e.g. webhook_path="/auth/tiktok/webhook" '
                "registered as the webhook callback URL in the TikTok app console"
            )
        self._webhook_path = settings.webhook_path
        self._webhooks = WebhookReceiver(settings, tokens=self._tokens, on_webhook=on_webhook)
        self._load_user = load_user
        self._profiles = (
            ProfileRefresher(settings, self._tokens, self._tiktok, self._identity)
            if self._tokens is not None
            else None
        )
        # Without load_user or a token store nothing can sign a user out while a view runs.
        self._watch_responses = load_user is not None or token_store is not None
        self._anonymous = TikTokContext(settings, self._tiktok)
        self._clear_identity = (b"set-cookie", self._identity.clear().encode("latin-1"))
        self._protected = tuple((p, p.rstrip("/") + "/") for p in settings.protected_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            if scope["path"] == self._webhook_path:
                await self._webhooks(scope, receive, send)
                return
            endpoint = self.conversation.endpoint(scope["path"])
            if endpoint is not None:
                response = await endpoint(scope)
                await response(scope, receive, send)
                return
        elif kind != "websocket":
            if kind == "lifespan":
                receive = self._transport.watch_lifespan(receive)
            await self.app(scope, receive, send)
            return

        identity = self._identity.read(scope["headers"])
        renewed: tuple[bytes, bytes] | None = None
        if identity is None:
            context = self._anonymous
        else:
            context = TikTokContext(
                self.settings,
                self._tiktok,
                identity.user,
                tokens=self._tokens,
                session_id=identity.session_id,
            )
            if self._tokens is not None and identity.session_id is not None:
                alive = self._tokens.live.known(identity.session_id)
                if alive is None:
                    try:
                        alive = await self._tokens.live.check(identity.session_id)
                    except TokenStoreError:
                        await _store_unavailable(scope, receive, send, self.settings)
                        return
                if not alive:  # signed out elsewhere, or its sessions were ended
                    context.sign_out()
                elif self._profiles is not None and self._profiles.due(identity):
                    try:
                        fresh = await self._profiles.refresh(identity)
                    except SignedOut:
                        context.sign_out()
                    else:
                        if fresh is not None:
                            context.user = fresh[0].user
                            renewed = (b"set-cookie", fresh[1].encode("latin-1"))
            if self._load_user is not None and context.user is not None:
                loaded = await self._load_user(context.user)
                if loaded is None:
                    context.sign_out()
                context.user = loaded
        scope[SCOPE_KEY] = context
        user = context.user
        if user is None:
            scope["user"] = UnauthenticatedUser()
            scope["auth"] = _NO_CREDENTIALS
        else:
            scope["user"] = user
            scope["auth"] = AuthCredentials(("authenticated", *user.granted_scopes))
        if identity is not None and self._watch_responses:
            send = _SignOutOnResponse(context, send, self._clear_identity, renewed)
        if user is None and self._protected and self._is_protected(scope["path"]):
            await refuse_anonymous(scope, receive, send, self.settings.login_path)
            return
        try:
            await self.app(scope, receive, send)
        except TikTokAuthError as exc:
            # get_access_token() or tiktok_api() failed in a view that did not handle it:
            # answer with the library's error shape instead of letting it become a 500.
            if not isinstance(send, _SignOutOnResponse) or send.started or kind != "http":
                raise
            headers = Headers(scope=scope)
            answer = error_response(exc, self.settings, headers, render=self._error_page)
            await answer(scope, receive, send)

    def _is_protected(self, path: str) -> bool:
        return any(path == exact or path.startswith(below) for exact, below in self._protected)


async def _store_unavailable(
    scope: Scope, receive: Receive, send: Send, settings: TikTokSettings
) -> None:
    """The login session cannot be checked: 503, and the cookie stays (nothing is lost)."""
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1011, "reason": "token_store_unavailable"})
        return
    response = error_response(TokenStoreUnavailable(), settings, Headers(scope=scope))
    await response(scope, receive, send)


class _SignOutOnResponse:
    """``send`` of a signed-in request: once its context is signed out, the response clears the
    identity cookie."""

    __slots__ = ("_clear", "_context", "_renewed", "_send", "started")

    def __init__(
        self,
        context: TikTokContext,
        send: Send,
        clear: tuple[bytes, bytes],
        renewed: tuple[bytes, bytes] | None = None,
    ) -> None:
        self._context = context
        self._send = send
        self._clear = clear
        self._renewed = renewed  # the identity cookie re-issued with a fresh profile
        self.started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            if self._context.signed_out:
                message["headers"] = [*message.get("headers", ()), self._clear]
            elif self._renewed is not None:
                message["headers"] = [*message.get("headers", ()), self._renewed]
        await self._send(message)
