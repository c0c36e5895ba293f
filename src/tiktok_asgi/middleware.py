"""The gate: every request passes here once.

The login conversation's paths are answered by :class:`~tiktok_asgi._conversation.
LoginConversation`; every other ``http`` and ``websocket`` request takes one path — identity
cookie → ``load_user`` → login session → protected paths → the application — and leaves with
``scope["user"]``, ``scope["auth"]`` and its :class:`~tiktok_asgi.context.TikTokContext`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from starlette.authentication import AuthCredentials, UnauthenticatedUser
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._conversation import LoginConversation, OnLogin
from ._cookies.identity import IdentityCookie
from ._cookies.signing import DuplicateCookie
from ._cookies.tossing import clear_everywhere
from ._origins import header, origin_allowed
from ._paths import app_path, site_path
from ._responses import error_response, refuse_anonymous
from ._tiktok.http import AsyncBaseTransport, SharedTransport
from ._tiktok.provider import TikTokProvider
from ._tokens import TokenManager
from .context import SCOPE_KEY, TikTokContext
from .errors import TikTokAuthError
from .settings import TikTokSettings
from .stores import TokenStore
from .user import TikTokUser

__all__ = ["LoadUser", "OnLogin", "TikTokAuthMiddleware"]

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
    ) -> None:
        if not isinstance(settings, TikTokSettings):
            raise TypeError("settings must be a TikTokSettings instance")
        for name, hook in (("on_login", on_login), ("load_user", load_user)):
            if hook is not None and not callable(hook):
                raise TypeError(f"{name} must be an async callable")
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
        )
        self._load_user = load_user
        # Without load_user or a token store nothing can sign a user out while a view runs.
        self._watch_responses = load_user is not None or token_store is not None
        self._anonymous = TikTokContext(settings, self._tiktok)
        self._clear_identity = (b"set-cookie", self._identity.clear().encode("latin-1"))
        self._protected = tuple((p, p.rstrip("/") + "/") for p in settings.protected_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            path = app_path(scope) if scope.get("root_path") else scope["path"]
            endpoint = self.conversation.endpoint(path)
            if endpoint is not None:
                response = await endpoint(scope)
                await response(scope, receive, send)
                return
        elif kind == "websocket":
            path = app_path(scope) if scope.get("root_path") else scope["path"]
        else:
            if kind == "lifespan":
                receive = self._transport.watch_lifespan(receive)
            await self.app(scope, receive, send)
            return

        try:
            identity = self._identity.read(scope["headers"])
        except DuplicateCookie:
            # Cookie tossing: a second identity cookie from another scope. Nobody, and cleared.
            identity = None
            send = _ClearOnResponse(send, self._clear_everywhere(scope, path))
        if identity is not None and kind == "websocket" and not self._origin_allowed(scope):
            identity = None  # a page of another origin must not get the user's socket
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
            if self._load_user is not None:
                loaded = await self._load_user(identity.user)
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
            send = _SignOutOnResponse(context, send, self._clear_identity)
        elif (
            user is None
            and self._tokens is not None
            and kind == "http"
            and type(send) is not _ClearOnResponse
        ):
            # Only with a token store can a view's get_access_token() or tiktok_api() raise on
            # an anonymous request; watching costs about a microsecond, so only then.
            send = _Watched(send)
        if user is None and self._protected and self._is_protected(path):
            await refuse_anonymous(scope, receive, send, self.settings.login_path)
            return
        try:
            await self.app(scope, receive, send)
        except TikTokAuthError as exc:
            # get_access_token() or tiktok_api() failed in a view that did not handle it:
            # answer with the library's error shape instead of letting it become a 500.
            if not isinstance(send, _Watched) or send.started or kind != "http":
                raise
            await error_response(exc, self.settings, Headers(scope=scope))(scope, receive, send)

    def _is_protected(self, path: str) -> bool:
        return any(path == exact or path.startswith(below) for exact, below in self._protected)

    def _origin_allowed(self, scope: Scope) -> bool:
        origin = header(scope["headers"], b"origin")
        # Browsers always send Origin on WebSockets; a client without one is no browser page.
        return origin is None or origin_allowed(
            origin, header(scope["headers"], b"host"), self.settings.allowed_origins
        )

    def _clear_everywhere(self, scope: Scope, path: str) -> list[tuple[bytes, bytes]]:
        host = header(scope["headers"], b"host")
        cookies = clear_everywhere(self._identity.spec, host, site_path(scope, path))
        return [(b"set-cookie", c.encode("latin-1")) for c in cookies]


class _Watched:
    """``send`` that remembers whether the response has started."""

    __slots__ = ("_send", "started")

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)


class _ClearOnResponse(_Watched):
    """``send`` of a request with tossed identity cookies: the response clears all of them."""

    __slots__ = ("_clear",)

    def __init__(self, send: Send, clear: list[tuple[bytes, bytes]]) -> None:
        super().__init__(send)
        self._clear = clear

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            message["headers"] = [*message.get("headers", ()), *self._clear]
        await self._send(message)


class _SignOutOnResponse(_Watched):
    """``send`` of a signed-in request: once its context is signed out, the response clears the
    identity cookie."""

    __slots__ = ("_clear", "_context")

    def __init__(self, context: TikTokContext, send: Send, clear: tuple[bytes, bytes]) -> None:
        self._send = send  # not super().__init__(): this runs on every signed-in request
        self.started = False
        self._context = context
        self._clear = clear

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            if self._context.signed_out:
                message["headers"] = [*message.get("headers", ()), self._clear]
        await self._send(message)
