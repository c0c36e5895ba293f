"""The middleware: answers the login, callback and logout paths; tells every request who it is."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from starlette.authentication import AuthCredentials, UnauthenticatedUser
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._http import AsyncBaseTransport, SharedTransport
from .cookies import read_cookies
from .errors import AuthorizationDenied, CallbackError, TikTokAuthError
from .flow import FlowCookies
from .identity import Identity, IdentityCookie
from .provider import TikTokOAuthApp, reaching_tiktok
from .redirects import safe_next
from .responses import error_response, redirect, refuse_anonymous, secure, wants_json
from .settings import TikTokSettings
from .tokens import LoginSession, TokenManager, TokenStore
from .user import TikTokUser

__all__ = ["LoadUser", "OnLogin", "TikTokAuthMiddleware"]

logger = logging.getLogger("tiktok_asgi")

_Handler = Callable[[Scope], Awaitable[Response]]
OnLogin = Callable[[TikTokUser, Mapping[str, Any]], Awaitable[TikTokUser | None]]
LoadUser = Callable[[TikTokUser], Awaitable[TikTokUser | None]]
# The login path, in every http and websocket scope, for adapters that send browsers to it.
LOGIN_PATH_SCOPE_KEY = "tiktok_asgi.login_path"
_ERROR_CODE = re.compile(r"[a-z0-9_.]{1,64}")
_MAX_DESCRIPTION = 300


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
        self._oauth = TikTokOAuthApp(settings, self._transport)
        self._identity = IdentityCookie(settings)
        self._flows = FlowCookies(settings)
        self._on_login = on_login
        self._load_user = load_user
        self._tokens = (
            TokenManager(settings, token_store, self._oauth, self._transport)
            if token_store is not None
            else None
        )
        self._revoke_on_logout = token_store is not None and revoke_on_logout is not False
        self._per_request_hooks = load_user is not None or token_store is not None
        self._protected = tuple((p, p.rstrip("/") + "/") for p in settings.protected_paths)
        self._routes: dict[str, tuple[str, _Handler]] = {
            settings.login_path: ("GET", self._login),
            settings.callback_path: ("GET", self._callback),
            settings.logout_path: ("POST", self._logout),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            route = self._routes.get(scope["path"])
            if route is not None:
                response = await self._answer(scope, *route)
                await response(scope, receive, send)
                return
        elif kind != "websocket":
            if kind == "lifespan":
                receive = self._watch_lifespan(receive)
            await self.app(scope, receive, send)
            return
        scope[LOGIN_PATH_SCOPE_KEY] = self.settings.login_path
        identity = self._identity.read(scope["headers"])
        if identity is not None and self._per_request_hooks:
            await self._call_with_hooks(identity, scope, receive, send)
            return
        if identity is None:
            scope["user"] = UnauthenticatedUser()
            scope["auth"] = _NO_CREDENTIALS
            if self._protected and self._is_protected(scope["path"]):
                await refuse_anonymous(scope, receive, send, self.settings.login_path)
                return
        else:
            user = identity.user
            scope["user"] = user
            scope["auth"] = AuthCredentials(("authenticated", *user.granted_scopes))
        await self.app(scope, receive, send)

    def _is_protected(self, path: str) -> bool:
        return any(path == exact or path.startswith(below) for exact, below in self._protected)

    async def _call_with_hooks(
        self, identity: Identity, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Signed-in requests when ``load_user`` or a token store is configured."""
        user: TikTokUser | None = identity.user
        if self._load_user is not None:
            user = await self._load_user(identity.user)
        session: LoginSession | None = None
        if user is None:
            scope["user"] = UnauthenticatedUser()
            scope["auth"] = _NO_CREDENTIALS
        else:
            scope["user"] = user
            scope["auth"] = AuthCredentials(("authenticated", *user.granted_scopes))
            if self._tokens is not None and identity.session_id is not None:
                session = LoginSession(self._tokens, identity.session_id)
                scope[LoginSession.SCOPE_KEY] = session
        clear = self._identity.clear().encode("latin-1")
        started = False

        async def send_signing_out(message: Message) -> None:
            nonlocal started
            # A user that load_user refused, or whose refresh TikTok rejected, is signed out.
            if message["type"] == "http.response.start":
                started = True
                if user is None or (session is not None and session.signed_out):
                    message["headers"] = [*message.get("headers", ()), (b"set-cookie", clear)]
            await send(message)

        if user is None and self._protected and self._is_protected(scope["path"]):
            await refuse_anonymous(scope, receive, send_signing_out, self.settings.login_path)
            return
        try:
            await self.app(scope, receive, send_signing_out)
        except TikTokAuthError as exc:
            # get_access_token() or tiktok_api() failed in a view that did not handle it:
            # answer with the middleware's error shape instead of letting it become a 500.
            if started or scope["type"] != "http":
                raise
            response = error_response(exc, self.settings, Headers(scope=scope))
            await response(scope, receive, send_signing_out)

    def _watch_lifespan(self, receive: Receive) -> Receive:
        async def watched() -> Any:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._transport.get()
            elif message["type"] == "lifespan.shutdown":
                await self._transport.aclose()
            return message

        return watched

    async def _answer(self, scope: Scope, method: str, handler: _Handler) -> Response:
        if scope["method"] == method or (method == "GET" and scope["method"] == "HEAD"):
            return await handler(scope)
        error = TikTokAuthError(
            "method_not_allowed", f"Use {method} for this address.", status_code=405
        )
        response = error_response(error, self.settings, Headers(scope=scope))
        response.headers["allow"] = method
        return response

    async def _login(self, scope: Scope) -> Response:
        request = Request(scope)
        target = safe_next(request.query_params.get("next"), self.settings.login_redirect)
        rv = await self._oauth.authorization_request(
            self.settings.redirect_uri, self.settings.scopes
        )
        flow = {"redirect_uri": self.settings.redirect_uri, "next": target}
        if rv.get("code_verifier"):
            flow["code_verifier"] = rv["code_verifier"]
        logger.info("login_started", extra={"event": "login_started"})
        cookie = self._flows.start(rv["state"], flow)
        if wants_json(request.headers):
            # Single-page apps navigate themselves; the flow cookie is set all the same.
            return secure(JSONResponse({"authorization_url": rv["url"]}), [cookie])
        return redirect(rv["url"], [cookie])

    async def _callback(self, scope: Scope) -> Response:
        request = Request(scope)
        query = request.query_params
        state = query.get("state")
        cookies = read_cookies(scope["headers"])
        clears = self._flows.clear(state, cookies)
        try:
            error = query.get("error")
            if error is not None:
                raise _denied(error, query.get("error_description"))
            flow = self._flows.finish(state, cookies)
            if not query.get("code"):
                raise CallbackError("invalid_request", "The sign-in answer carries no code.")
            user, token = await self._complete(scope, state or "", flow, query.get("scopes"))
            identity = await self._accept(user, token)
            cookie = self._identity_cookie(identity)
        except TikTokAuthError as exc:
            logger.warning(
                "login_failed code=%s log_id=%s",
                exc.code,
                exc.log_id,
                extra={"event": "login_failed", "code": exc.code, "log_id": exc.log_id},
            )
            return error_response(exc, self.settings, request.headers, clears)
        logger.info(
            "login_succeeded open_id=%s",
            identity.user.open_id,
            extra={"event": "login_succeeded", "open_id": identity.user.open_id},
        )
        target = flow.get("next") or self.settings.login_redirect
        return redirect(target, [*clears, cookie])

    def _identity_cookie(self, identity: Identity) -> str:
        try:
            return self._identity.encode(identity)
        except ValueError:
            # Only an oversized ``extra`` from on_login can do this: a bug of the host app.
            raise TikTokAuthError(
                "identity_too_large",
                "The signed-in profile does not fit in a cookie; keep on_login's extra small.",
                status_code=500,
            ) from None

    async def _complete(
        self, scope: Scope, state: str, flow: dict[str, Any], callback_scopes: str | None
    ) -> tuple[TikTokUser, dict[str, Any]]:
        # Authlib reads the pending login from request.session: hand it a private dict, over a
        # copy of the scope, so the host application's own session is never touched.
        session: dict[str, Any] = {}
        pending = {
            "redirect_uri": flow.get("redirect_uri"),
            "code_verifier": flow.get("code_verifier"),
        }
        await self._oauth.framework.set_state_data(session, state, pending)
        async with reaching_tiktok("token endpoint"):
            token = await self._oauth.authorize_access_token(Request({**scope, "session": session}))
        granted = _granted_scopes(token.get("scope"), self.settings.scopes, callback_scopes)
        async with reaching_tiktok("user info endpoint"):
            return await self._oauth.userinfo(token, granted), dict(token)

    async def _accept(self, user: TikTokUser, token: dict[str, Any]) -> Identity:
        """``on_login`` may persist, enrich or refuse the user; a token store keeps the tokens."""
        if self._on_login is not None:
            accepted = await self._on_login(user, token)
            if accepted is None:
                raise TikTokAuthError(
                    "login_rejected", "This TikTok account may not sign in here.", status_code=403
                )
            if not isinstance(accepted, TikTokUser):
                raise TypeError("on_login must return a TikTokUser or None")
            user = accepted
        session_id = await self._tokens.save(token) if self._tokens is not None else None
        return Identity(user, session_id)

    async def _logout(self, scope: Scope) -> Response:
        request = Request(scope)
        if request.headers.get("sec-fetch-site") == "cross-site":
            error = TikTokAuthError(
                "csrf_rejected", "Sign-out must come from this site.", status_code=403
            )
            return error_response(error, self.settings, request.headers)
        target = safe_next(request.query_params.get("next"), self.settings.login_redirect)
        identity = self._identity.read(scope["headers"])
        if self._tokens is not None and identity is not None and identity.session_id is not None:
            await self._tokens.end(identity.session_id, revoke=self._revoke_on_logout)
        logger.info("logout", extra={"event": "logout"})
        return redirect(target, [self._identity.clear()], status_code=303)


def _denied(error: str, description: str | None) -> AuthorizationDenied:
    code = error if _ERROR_CODE.fullmatch(error) else "authorization_error"
    text = (description or "TikTok did not grant the sign-in.")[:_MAX_DESCRIPTION]
    if code == "access_denied":
        return AuthorizationDenied(code, "You cancelled the sign-in with TikTok.", status_code=403)
    return AuthorizationDenied(code, text)


def _granted_scopes(
    token_scope: object, requested: Sequence[str], callback_scopes: str | None
) -> tuple[str, ...]:
    """The token response's ``scope`` is the truth. Without it, the callback's ``scopes`` (which
    anyone can edit) may only narrow what was requested, never widen it."""
    if isinstance(token_scope, str) and token_scope.strip():
        return tuple(dict.fromkeys(s for s in re.split(r"[,\s]+", token_scope) if s))
    if callback_scopes:
        claimed = set(callback_scopes.split(","))
        return tuple(s for s in requested if s in claimed) or ("user.info.basic",)
    return tuple(requested)
