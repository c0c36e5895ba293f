"""The login conversation: the login, callback and logout endpoints.

A sign-in is one conversation between the browser, this application and TikTok::

    GET login     → a fresh state (and PKCE verifier) in a flow cookie; 302 to TikTok's consent
    GET callback  → flow state → code → token exchange → user info (same open_id as the token)
                    → on_login → identity cookie
    POST logout   → the login session ended (its token revoked only with revoke_on_logout),
                    the identity cookie cleared (a GET shows a page with the button that posts it)
    POST disconnect → revoked at TikTok, every session of the user ended (:mod:`._disconnect`)

QR-code sign-in (:mod:`tiktok_asgi._qr`) answers at ``qr_path`` and ends in the same
:meth:`LoginConversation.finish_sign_in` as the callback.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import Headers, QueryParams
from starlette.responses import JSONResponse, Response
from starlette.types import Scope

from ._cookies.flow import FlowCookies
from ._cookies.identity import Identity, IdentityCookie
from ._cookies.signing import DuplicateCookie, read_cookies
from ._cookies.tossing import clear_everywhere
from ._disconnect import Disconnect
from ._events import EventSink, client_of
from ._i18n import N_, for_request
from ._native import BearerSessions, who_is_asking
from ._origins import origin_allowed
from ._qr import QrSignIn
from ._redirects import safe_next
from ._responses import error_response, html_page, redirect, secure, wants_json
from ._session import TokenManager
from ._telemetry import TELEMETRY, traced
from ._tiktok.provider import TikTokProvider, granted_scopes
from .advice import denied, developer_fix, for_person
from .errors import (
    CallbackError,
    CrossSiteRequest,
    IdentityTooLarge,
    LoginRejected,
    MethodNotAllowed,
    StateError,
    TikTokAuthError,
    TokenStoreUnavailable,
)
from .events import SignedIn, SignedOut, SignInRefused, SignInWay, digest
from .pages import RenderErrorPage, logout_page
from .settings import TikTokSettings
from .user import TikTokUser

__all__ = ["LoginConversation", "OnLogin", "OnLogout"]

logger = logging.getLogger("tiktok_asgi")

OnLogin = Callable[[TikTokUser, Mapping[str, Any]], Awaitable[TikTokUser | None]]
"""The middleware's ``on_login`` hook: awaited once per sign-in with the fresh user and TikTok's
token response; what it returns is the user from then on, ``None`` refuses the sign-in (403
``login_rejected``)."""
OnLogout = Callable[[TikTokUser], Awaitable[None]]
"""The middleware's ``on_logout`` hook: awaited with the user who signs out or disconnects, before
the cookie is cleared."""
Endpoint = Callable[[Scope], Awaitable[Response]]

_SIGN_OUT_HELD = N_(
    "You are signed out in this browser, but the sign-out could not be recorded everywhere "
    "yet. Please try again in a moment."
)


class LoginConversation:
    """Answers the login, callback and logout paths; one per middleware, no per-request state."""

    def __init__(
        self,
        settings: TikTokSettings,
        tiktok: TikTokProvider,
        identity: IdentityCookie,
        *,
        tokens: TokenManager | None,
        on_login: OnLogin | None,
        revoke_on_logout: bool,
        on_logout: OnLogout | None = None,
        error_page: RenderErrorPage | None = None,
        bearer: BearerSessions | None = None,
        events: EventSink | None = None,
    ) -> None:
        self.settings = settings
        self.events = events = events if events is not None else EventSink()
        self._tiktok = tiktok
        self._identity = identity
        self._bearer = bearer
        self._flows = FlowCookies(settings)
        self._tokens = tokens
        self._on_login = on_login
        self._revoke_on_logout = revoke_on_logout
        self._on_logout = on_logout
        self._error_page = error_page
        self._endpoints: dict[str, Endpoint] = {
            settings.login_path: self._method_checked("GET", self.login),
            settings.callback_path: self._method_checked("GET", self.callback),
            settings.logout_path: self._method_checked("POST", self.logout),
        }
        # GET on a POST-only path shows the page whose button posts it.
        self._confirmations: dict[Endpoint, Callable[[Scope], Response]] = {
            self.logout: self.logout_confirmation
        }
        if settings.disconnect_path is not None:
            disconnect = Disconnect(
                settings,
                tiktok,
                identity,
                tokens=tokens,
                on_logout=on_logout,
                from_this_site=self._from_this_site,
                error_page=error_page,
                bearer=bearer,
                events=events,
            )
            self._confirmations[disconnect.answer] = disconnect.confirmation
            self._endpoints[settings.disconnect_path] = self._method_checked(
                "POST", disconnect.answer
            )
        self._qr: QrSignIn | None = None
        if settings.qr_path is not None:
            self._qr = QrSignIn(
                settings,
                tiktok,
                finish=self.finish_sign_in,
                tokens=tokens,
                from_this_site=self._from_this_site,
                error_page=error_page,
                events=events,
            )
            self._endpoints[settings.qr_path] = self._qr.answer

    def paths(self) -> frozenset[str]:
        """The paths answered here exactly."""
        return frozenset(self._endpoints)

    def below(self) -> str | None:
        """The prefix of the paths answered below one of these (each QR code's status)."""
        return self._qr.below if self._qr is not None else None

    def endpoint(self, path: str) -> Endpoint | None:
        """The endpoint answering ``path``, or None when the path is the application's."""
        found = self._endpoints.get(path)
        if found is None and self._qr is not None:
            return self._qr.endpoint_below(path)  # a QR code's status, at qr_path/<id>
        return found

    def _method_checked(self, method: str, endpoint: Endpoint) -> Endpoint:
        async def answer(scope: Scope) -> Response:
            if scope["method"] == method:
                return await endpoint(scope)
            if method == "GET" and scope["method"] == "HEAD":
                if endpoint == self.callback:
                    # A link checker or preview fetcher: answered without finishing the sign-in
                    # or spending its one-time state.
                    return secure(Response(status_code=204), ())
                return await endpoint(scope)
            headers = Headers(scope=scope)
            # A link or a prefetch must not sign anyone out: GET shows the button that posts.
            page = self._confirmations.get(endpoint)
            if page is not None and scope["method"] in ("GET", "HEAD") and not wants_json(headers):
                return page(scope)
            use = N_("Use {method} for this address.").format(method=method)
            error = MethodNotAllowed(description=use)
            response = error_response(error, self.settings, scope, render=self._error_page)
            response.headers["allow"] = method
            return response

        return answer

    @traced("tiktok_asgi.login")
    async def login(self, scope: Scope) -> Response:
        headers = Headers(scope=scope)
        query = QueryParams(scope["query_string"])
        target = safe_next(query.get("next"), self.settings.login_redirect)
        start = self._tiktok.authorization_request()
        flow = {"redirect_uri": self.settings.redirect_uri, "next": target}
        if start.code_verifier is not None:
            flow["code_verifier"] = start.code_verifier
        # The browser's older pending logins beyond a few are cleared on the same answer.
        cookies = self._flows.begin(start.state, flow, read_cookies(scope["headers"]))
        logger.info("login_started", extra={"event": "login_started"})
        if wants_json(headers):
            # Single-page apps navigate themselves; the flow cookie is set all the same.
            return secure(JSONResponse({"authorization_url": start.url}), cookies)
        return redirect(start.url, cookies)

    @traced("tiktok_asgi.callback")
    async def callback(self, scope: Scope) -> Response:
        headers = Headers(scope=scope)
        query = QueryParams(scope["query_string"])
        state = query.get("state")
        cookies = read_cookies(scope["headers"])
        clears = self._flows.clear(state, cookies)
        try:
            error = query.get("error")
            if error is not None:
                raise denied(error)
            flow = self._flows.finish(state, cookies)
            if self._tokens is not None and state is not None:
                await self._accept_once(state)
            code = query.get("code")
            if not code:
                raise CallbackError(description=N_("The sign-in answer carries no code."))
            identity, cookie = await self.finish_sign_in(
                code,
                redirect_uri=flow["redirect_uri"],
                code_verifier=flow.get("code_verifier"),
                claimed_scopes=query.get("scopes"),
            )
        except StateError as exc:
            next_target = self._pending_next(state, cookies)
            if wants_json(headers) or not self._signed_in(scope):
                return await self._failed(exc, scope, clears, next_target)
            # Back to an answer already used (Back after signing in, a reload): the browser is
            # signed in, so it goes on to where it was going; nothing of this answer is used.
            logger.info(
                "callback_revisited code=%s", exc.code, extra={"event": "callback_revisited"}
            )
            return redirect(next_target or self.settings.login_redirect, clears)
        except TikTokAuthError as exc:
            return await self._failed(exc, scope, clears, self._pending_next(state, cookies))
        await self.signed_in(identity, "web", scope)
        return redirect(flow.get("next") or self.settings.login_redirect, [*clears, cookie])

    async def finish_sign_in(
        self,
        code: str,
        *,
        redirect_uri: str,
        code_verifier: str | None,
        claimed_scopes: str | None,
    ) -> tuple[Identity, str]:
        """:meth:`sign_in`, and the identity cookie that signs the browser in."""
        identity = await self.sign_in(
            code,
            redirect_uri=redirect_uri,
            code_verifier=code_verifier,
            claimed_scopes=claimed_scopes,
        )
        return identity, self._identity_cookie(identity)

    async def sign_in(
        self,
        code: str,
        *,
        redirect_uri: str | None,
        code_verifier: str | None,
        claimed_scopes: str | None,
    ) -> Identity:
        """The steps every sign-in ends with, whether its code came to the callback, with a
        confirmed QR code or from a native app: token exchange → user info (the token's
        open_id) → ``on_login`` → token store. ``claimed_scopes`` (TikTok's granted list, as
        the answer carrying the code said) may only narrow the requested scopes when the token
        names none."""
        with TELEMETRY.span("tiktok_asgi.code_exchange") as span:
            token = await self._tiktok.exchange_code(
                code, redirect_uri=redirect_uri, code_verifier=code_verifier
            )
            span.set("tiktok.log_id", _text(token.get("log_id")))
        granted = granted_scopes(token.get("scope"), self.settings.scopes, claimed_scopes)
        with TELEMETRY.span("tiktok_asgi.user_info", open_id=_text(token.get("open_id"))):
            user = await self._tiktok.user_info(token, granted)
        user = await self._accepted(user, token)
        session_id = None
        if self._tokens is not None:
            with TELEMETRY.span("tiktok_asgi.store_save"):
                async with self._tokens.budget():
                    session_id = await self._tokens.save(token)
        return Identity(user, session_id)

    async def signed_in(self, identity: Identity, how: SignInWay, scope: Scope) -> None:
        """The audit event of a sign-in that succeeded."""
        session = identity.session_id
        await self.events.emit(
            SignedIn(
                how=how,
                open_id=identity.user.open_id,
                session=digest(session) if session is not None else None,
                client=client_of(scope.get("client")),
            )
        )

    async def refused(
        self, exc: TikTokAuthError, how: SignInWay, scope: Scope, fix: str | None
    ) -> None:
        """The audit event of a sign-in that failed."""
        await self.events.emit(
            SignInRefused(
                how=how,
                reason=exc.code,
                fix=fix,
                log_id=exc.log_id,
                client=client_of(scope.get("client")),
            )
        )

    def _pending_next(self, state: str | None, cookies: Mapping[str, str]) -> str | None:
        """Where the failed sign-in was going, for "Try again" (read only when it failed)."""
        pending = self._flows.peek(state, cookies) or {}
        target = pending.get("next")
        return target if isinstance(target, str) else None

    def _signed_in(self, scope: Scope) -> bool:
        try:
            return self._identity.read(scope["headers"]) is not None
        except DuplicateCookie:  # tossed cookies: nobody
            return False

    async def _failed(
        self, exc: TikTokAuthError, scope: Scope, clears: list[str], next_target: str | None
    ) -> Response:
        """The sign-in failed: reported with the fix, and an error answer keeping ``next``."""
        await self.refused(exc, "web", scope, developer_fix(exc, self.settings))
        return error_response(
            for_person(exc),
            self.settings,
            scope,
            clears,
            next=next_target,
            render=self._error_page,
        )

    @traced("tiktok_asgi.logout")
    async def logout(self, scope: Scope) -> Response:
        headers = Headers(scope=scope)
        if not self._from_this_site(scope):
            TELEMETRY.fail_current(CrossSiteRequest.default_code)
            return error_response(CrossSiteRequest(), self.settings, scope, render=self._error_page)
        query = QueryParams(scope["query_string"])
        target = safe_next(query.get("next"), self.settings.login_redirect)
        identity, by_bearer = who_is_asking(self._identity, self._bearer, scope["headers"])
        # Copies a sibling subdomain set on a parent domain go too.
        clears = clear_everywhere(self._identity.spec, headers.get("host"), "/")
        if self._tokens is not None and identity is not None and identity.session_id is not None:
            try:
                async with self._tokens.budget():
                    await self._tokens.end(identity.session_id, revoke=self._revoke_on_logout)
            except TokenStoreUnavailable:
                # Ended in this process and written to the store once it is back; until then
                # a copy of the cookie may still work elsewhere: say so instead of "signed out".
                await self._signed_out(identity, scope, held=True)
                TELEMETRY.fail_current(TokenStoreUnavailable.default_code)
                return error_response(
                    TokenStoreUnavailable(description=_SIGN_OUT_HELD),
                    self.settings,
                    scope,
                    clears,
                    next=target,
                    render=self._error_page,
                    try_again=self.settings.logout_path,
                )
        if self._on_logout is not None and identity is not None:
            await self._on_logout(identity.user)
        await self._signed_out(identity, scope, held=False)
        if by_bearer:
            return secure(Response(status_code=204), ())  # a native app: no page, no cookie
        return redirect(target, clears, status_code=303)

    async def _signed_out(self, identity: Identity | None, scope: Scope, *, held: bool) -> None:
        session = identity.session_id if identity is not None else None
        await self.events.emit(
            SignedOut(
                open_id=identity.user.open_id if identity is not None else None,
                session=digest(session) if session is not None else None,
                client=client_of(scope.get("client")),
                revoked=self._revoke_on_logout and session is not None and not held,
                held=held,
            )
        )

    def _from_this_site(self, scope: Scope) -> bool:
        """A sign-out must come from this site's own pages: SameSite=Lax lets a sibling
        subdomain's, another port's or the http twin's form POST here with the cookie."""
        headers = Headers(scope=scope)
        fetch_site = headers.get("sec-fetch-site")
        if fetch_site is not None and fetch_site not in ("same-origin", "none"):
            return False
        origin = headers.get("origin")
        return origin is None or origin_allowed(origin, scope, self.settings.allowed_origins)

    async def _accept_once(self, state: str) -> None:
        """Once across every instance sharing the token store (``finish`` saw to this process)."""
        assert self._tokens is not None
        name = self._flows.consumed_name(state)
        async with self._tokens.budget():
            accepted = await self._tokens.accept_once(name, self.settings.flow_max_age)
        if not accepted:
            raise StateError("state_reused", N_("This sign-in answer was already used."))

    def logout_confirmation(self, scope: Scope) -> Response:
        """GET on the logout path: a page whose button posts the sign-out (``next`` kept)."""
        from ._paths import site_path

        query = QueryParams(scope["query_string"])
        target = safe_next(query.get("next"), self.settings.login_redirect)
        # Under a mount the form must post inside it, where the middleware answers.
        action = f"{site_path(scope, self.settings.logout_path)}?{urlencode({'next': target})}"
        lang = for_request(scope, self.settings.locale).code
        return html_page(logout_page(action, target, lang=lang), 200)

    async def _accepted(self, user: TikTokUser, token: Mapping[str, Any]) -> TikTokUser:
        """``on_login`` may persist, enrich or refuse the user."""
        if self._on_login is None:
            return user
        accepted = await self._on_login(user, token)
        if accepted is None:
            raise LoginRejected()
        if not isinstance(accepted, TikTokUser):
            raise TypeError("on_login must return a TikTokUser or None")
        return accepted

    def _identity_cookie(self, identity: Identity) -> str:
        try:
            return self._identity.encode(identity)
        except ValueError:
            # Only an oversized ``extra`` from on_login can do this: a bug of the host app.
            raise IdentityTooLarge() from None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
