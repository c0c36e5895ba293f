"""The request context: what the middleware knows about one request, under one key of the scope.

    from tiktok_asgi import login_url, tiktok_context

    context = tiktok_context(request)      # a Starlette/FastAPI request or WebSocket, or a scope
    context.user                           # the TikTokUser, or None
    token = await context.access_token()   # with a token store: refreshed when due
    ended = await context.end_user_sessions(open_id)   # sign a user out everywhere
    href = login_url(request, next="/me")  # the login address, in any framework

Everything the library hands from the middleware to the code downstream (the adapters,
:func:`~tiktok_asgi.tiktok_api`) goes through this object, and every way a request can end its
sign-in (a refresh TikTok refuses, ``load_user`` returning None) marks it here, so that the
middleware clears the identity cookie on that very response.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlencode

from starlette.authentication import AuthCredentials
from starlette.requests import HTTPConnection
from starlette.types import Scope

from ._deprecation import warn_deprecated
from ._events import client_of
from ._redirects import safe_next
from ._session import TokenManager, TokenRecord
from ._tiktok.provider import TikTokProvider
from .errors import LoginRequired
from .settings import TikTokSettings
from .user import TikTokUser

__all__ = ["NO_CREDENTIALS", "SCOPE_KEY", "TikTokContext", "login_url", "tiktok_context"]

#: The one key the library keeps in the ASGI scope.
SCOPE_KEY = "tiktok_asgi"


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


#: ``scope["auth"]`` of every anonymous request.
NO_CREDENTIALS = _NoCredentials()


class TikTokContext:
    """One request as the middleware sees it; get it with :func:`tiktok_context`.

    ``user`` is the signed-in :class:`TikTokUser` (after ``load_user``), or None. ``settings``
    are the middleware's. ``signed_out`` becomes true when this request ended its sign-in; the
    response then clears the identity cookie.
    """

    __slots__ = (
        "_client",
        "_record",
        "_session_id",
        "_tokens",
        "settings",
        "signed_out",
        "tiktok",
        "user",
    )

    def __init__(
        self,
        settings: TikTokSettings,
        tiktok: TikTokProvider,
        user: TikTokUser | None = None,
        *,
        tokens: TokenManager | None = None,
        session_id: str | None = None,
        client: object = None,
    ) -> None:
        self.settings = settings
        self.tiktok = tiktok
        self.user = user
        self.signed_out = False
        self._tokens = tokens
        self._session_id = session_id
        self._record: TokenRecord | None = None
        # The scope's ``client`` as it came: read only when an audit event needs it.
        self._client = client

    def sign_out(self) -> None:
        """End this request's sign-in: it is anonymous from here on, and the response clears
        the identity cookie. Nothing happens on an anonymous request."""
        if self.user is not None or self._session_id is not None:
            self.user = None
            self.signed_out = True

    async def end_user_sessions(self, open_id: str, *, revoke: bool = False) -> int:
        """End every login session of the TikTok user ``open_id`` and return how many there were.

        Each is gone for every process and instance sharing the token store (a shared store's
        instances see it within a second); the sessions' token records are deleted, so the
        cookies naming them are anonymous from then on. If this request is one of them, its
        response clears the identity cookie. ``revoke=True`` also revokes the user's access at
        TikTok, which disconnects the app from their account ("sign out everywhere" is not
        "disconnect", so it is off by default). Raises ``ValueError`` unless ``open_id`` is a
        non-empty string, :class:`~tiktok_asgi.errors.TokenStoreUnavailable` when the store
        fails, ``RuntimeError`` when the middleware has no ``token_store``. Outside a request:
        :func:`tiktok_asgi.sessions.end_user_sessions_in_store`.
        """
        if not isinstance(open_id, str) or not open_id:
            raise ValueError("open_id must be the TikTok user's open_id, a non-empty string")
        if self._tokens is None:
            raise RuntimeError(
                "ending a user's sessions needs a token store: pass token_store=... to "
                "TikTokAuthMiddleware"
            )
        ended = await self._tokens.end_user(open_id, revoke=revoke)
        await self._tokens.report_ended(
            open_id, len(ended), "end_user_sessions", client_of(self._client)
        )
        if self._session_id in ended:
            self.sign_out()
        return len(ended)

    def require_session(self) -> None:
        """Raise unless a signed-in user with stored tokens makes this request:
        :class:`~tiktok_asgi.errors.LoginRequired` for anonymous requests, ``RuntimeError`` when
        the middleware keeps no tokens (no ``token_store``)."""
        self._session()

    def _session(self) -> tuple[TokenManager, str]:
        if self._tokens is None and self.user is not None:
            raise RuntimeError(
                "no TikTok token is kept for this request: pass token_store=... to "
                "TikTokAuthMiddleware"
            )
        if self._tokens is None or self._session_id is None or self.user is None:
            raise LoginRequired()
        return self._tokens, self._session_id

    async def access_token(self, *, rejected: str | None = None) -> str:
        """A valid TikTok access token for the signed-in user, refreshed first when it expires
        within a minute (once, even under concurrency, across every process sharing the store).

        ``rejected`` is a token TikTok just refused: it is renewed even if not yet due. Raises
        :class:`~tiktok_asgi.errors.LoginRequired` when nobody is signed in or TikTok refused to
        renew the access (the user is then signed out on this response),
        :class:`~tiktok_asgi.errors.TokenStoreUnavailable` when the store is down and
        :class:`~tiktok_asgi.errors.TikTokUnavailable` when TikTok is.
        """
        tokens, session_id = self._session()
        try:
            self._record = await tokens.access_token(
                session_id, known=self._record, rejected=rejected, client=self._client
            )
        except LoginRequired:
            self.sign_out()
            raise
        return self._record.access_token


def tiktok_context(connection: HTTPConnection | Scope) -> TikTokContext:
    """The :class:`TikTokContext` of a request or WebSocket (Starlette, FastAPI) or of an ASGI
    scope (Quart, Litestar and Django: ``request.scope``)."""
    scope = connection.scope if isinstance(connection, HTTPConnection) else connection
    context = scope.get(SCOPE_KEY)
    if not isinstance(context, TikTokContext):
        raise RuntimeError(
            "this request did not pass through TikTokAuthMiddleware: wrap the application with it "
            "(app.add_middleware(TikTokAuthMiddleware, settings=...) in Starlette and FastAPI, "
            "app.asgi_app = TikTokAuthMiddleware(app.asgi_app, settings=...) in Quart, "
            "Litestar(plugins=[TikTokPlugin(settings=...)]) in Litestar)"
        )
    return context


def login_url(connection: HTTPConnection | Scope, next: str | None = None) -> str:
    """The login address of the middleware serving this request (or ASGI scope), under the app's
    ``root_path``, with ``next`` when it is a path on this site (anything else is left out, as
    the login page would ignore it): ``<a href="{login_url(request, next="/me")}">``.

    One function for every framework: a Starlette or FastAPI request or WebSocket, or the scope
    of any other (``request.scope`` in Quart, Litestar and Django).
    """
    scope = connection.scope if isinstance(connection, HTTPConnection) else connection
    settings = tiktok_context(scope).settings
    url = str(scope.get("root_path", "")) + settings.login_path
    if next is not None and safe_next(next, "") == next:
        url += "?" + urlencode({"next": next})
    return url


async def get_access_token(connection: HTTPConnection | Scope) -> str:
    """Deprecated: ``await tiktok_context(request).access_token()`` does the same; this alias is
    removed in tiktok-asgi 0.2.0.

    A valid TikTok access token for the signed-in user of this request (or ASGI scope); see
    :meth:`TikTokContext.access_token`.
    """
    warn_deprecated(
        "tiktok_asgi.context.get_access_token(request)",
        "await tiktok_context(request).access_token()",
    )
    return await tiktok_context(connection).access_token()
