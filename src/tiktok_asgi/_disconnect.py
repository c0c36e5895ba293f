"""Disconnect TikTok: revoke the app's access at TikTok and end every login session of the user.

TikTok's revoke "disconnects your app from the user's TikTok account": the app leaves the
user's connected apps and the next sign-in asks for consent again. That is more than signing
out (which ends this browser's login session and leaves TikTok alone), so it has its own path::

    POST disconnect → this session's access token (refreshed if due) revoked at TikTok, once,
                      which ends the whole grant → every login session of the user ended
                      → on_logout → this browser's identity cookie cleared → 303 to ``next``
                      (a GET shows a page with the button that posts it)

It needs a token store: without one no token is kept to revoke. Nothing is claimed that did not
happen: if the token cannot be read or TikTok cannot be reached, nothing changes and the answer
says so (its "Try again" is the disconnect page again); if TikTok revoked the access but the
store fails while the sessions are ended, the answer is the sign-out's 503: this browser's
session is ended here at once and in the store once it is back.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from urllib.parse import urlencode

from starlette.datastructures import Headers, QueryParams
from starlette.responses import Response
from starlette.types import Scope

from ._cookies.identity import IdentityCookie
from ._cookies.tossing import clear_everywhere
from ._events import EventSink, client_of
from ._i18n import N_, for_request
from ._native import BearerSessions, who_is_asking
from ._paths import site_path
from ._redirects import safe_next
from ._responses import error_response, html_page, redirect, secure
from ._session import TokenManager
from ._telemetry import TELEMETRY, traced
from ._tiktok.provider import TikTokProvider
from .errors import (
    CrossSiteRequest,
    LoginRequired,
    TikTokAPIError,
    TikTokAuthError,
    TokenStoreUnavailable,
)
from .events import Disconnected, SessionsEnded, digest
from .pages import RenderErrorPage, disconnect_page
from .settings import TikTokSettings
from .user import TikTokUser

__all__ = ["Disconnect"]

logger = logging.getLogger("tiktok_asgi")

# TikTok's answers to a revoke whose token is dead already: the grant is gone, as wanted.
_ALREADY_REVOKED = frozenset({"access_token_invalid", "invalid_grant", "invalid_request"})
_SIGN_IN_FIRST = N_("Sign in with TikTok again to disconnect it from this site.")
_NOTHING_CHANGED = N_(
    "TikTok could not be disconnected right now; nothing was changed. Please try again in a moment."
)
_ENDS_HELD = N_(
    "TikTok is disconnected and you are signed out in this browser, but your sign-ins on other "
    "devices could not be ended yet. Please try again in a moment."
)
_UNAVAILABLE = N_(
    "Disconnecting TikTok is not available on this site: it keeps no TikTok access to revoke."
)
_CROSS_SITE = N_("Disconnecting must come from this site.")


class Disconnect:
    """The endpoint at ``disconnect_path``; no per-request state."""

    def __init__(
        self,
        settings: TikTokSettings,
        tiktok: TikTokProvider,
        identity: IdentityCookie,
        *,
        tokens: TokenManager | None,
        on_logout: Callable[[TikTokUser], Awaitable[None]] | None,
        from_this_site: Callable[[Scope], bool],
        error_page: RenderErrorPage | None,
        bearer: BearerSessions | None = None,
        events: EventSink | None = None,
    ) -> None:
        assert settings.disconnect_path is not None
        self.settings = settings
        self._path = settings.disconnect_path
        self._tiktok = tiktok
        self._identity = identity
        self._bearer = bearer
        self._tokens = tokens
        self._on_logout = on_logout
        self._from_this_site = from_this_site
        self._error_page = error_page
        self._back = settings.login_redirect
        self._warned_storeless = False
        self._events = events if events is not None else EventSink()

    @traced("tiktok_asgi.disconnect")
    async def answer(self, scope: Scope) -> Response:
        """POST: disconnect the signed-in user."""
        tokens = self._tokens
        if tokens is None:
            return self._unavailable(scope)
        if not self._from_this_site(scope):
            refused = CrossSiteRequest(description=_CROSS_SITE)
            return self._error(refused, scope)
        target = safe_next(QueryParams(scope["query_string"]).get("next"), self._back)
        identity, by_bearer = who_is_asking(self._identity, self._bearer, scope["headers"])
        clears = clear_everywhere(self._identity.spec, Headers(scope=scope).get("host"), "/")
        if identity is None or identity.session_id is None:
            # No login session holds a token to revoke with: a new sign-in makes one.
            return self._error(LoginRequired(description=_SIGN_IN_FIRST), scope, clears, target)
        try:
            async with tokens.budget():
                record = await tokens.access_token(identity.session_id, client=scope.get("client"))
        except LoginRequired:
            # The session ended meanwhile, or TikTok refused to renew its access.
            return self._error(LoginRequired(description=_SIGN_IN_FIRST), scope, clears, target)
        except TikTokAuthError as exc:
            return self._not_disconnected(exc, scope, target)
        try:
            await self._tiktok.revoke(record.access_token)
        except TikTokAPIError as exc:
            if exc.code not in _ALREADY_REVOKED:
                return self._not_disconnected(exc, scope, target)
        except TikTokAuthError as exc:
            return self._not_disconnected(exc, scope, target)
        open_id = record.open_id or identity.user.open_id
        try:
            async with tokens.budget():
                # TikTok's revoke ended the whole grant: every session's token is dead.
                ended = await tokens.end_user(open_id, revoke=False)
                if identity.session_id not in ended:
                    await tokens.end(identity.session_id, revoke=False)
        except TokenStoreUnavailable:
            with suppress(TokenStoreUnavailable):
                # Ended in this process at once, and in the store once it is back.
                async with tokens.budget():
                    await tokens.end(identity.session_id, revoke=False)
            logger.warning("disconnect_held", extra={"event": "disconnect"})
            held = TokenStoreUnavailable(description=_ENDS_HELD)
            return self._error(held, scope, clears, target, try_again=self.settings.logout_path)
        if self._on_logout is not None:
            await self._on_logout(identity.user)
        client = client_of(scope.get("client"))
        session = digest(identity.session_id)
        await self._events.emit(
            SessionsEnded(open_id=open_id, count=len(ended), cause="disconnect", client=client)
        )
        await self._events.emit(
            Disconnected(open_id=open_id, session=session, client=client, sessions_ended=len(ended))
        )
        if by_bearer:
            return secure(Response(status_code=204), ())  # a native app: no page, no cookie
        return redirect(target, clears, status_code=303)

    def confirmation(self, scope: Scope) -> Response:
        """GET: a page whose button posts the disconnect (``next`` kept)."""
        if self._tokens is None:
            return self._unavailable(scope)
        target = safe_next(QueryParams(scope["query_string"]).get("next"), self._back)
        # Under a mount the form must post inside it, where the middleware answers.
        action = f"{site_path(scope, self._path)}?{urlencode({'next': target})}"
        lang = for_request(scope, self.settings.locale).code
        return html_page(disconnect_page(action, target, lang=lang), 200)

    def _not_disconnected(self, exc: TikTokAuthError, scope: Scope, target: str) -> Response:
        """Nothing changed (the cookie stays, so it can be tried again): said, and logged."""
        logger.warning(
            "disconnect_failed code=%s log_id=%s",
            exc.code,
            exc.log_id,
            extra={"event": "disconnect", "code": exc.code, "log_id": exc.log_id},
        )
        error = type(exc)(
            exc.code,
            _NOTHING_CHANGED,
            log_id=exc.log_id,
            status_code=exc.status_code,
            retry_after=exc.retry_after,
        )
        return self._error(error, scope, (), target, try_again=self._path)

    def _unavailable(self, scope: Scope) -> Response:
        if not self._warned_storeless:  # once: anyone can request the path again and again
            self._warned_storeless = True
            logger.warning(
                "disconnect_unavailable: disconnect_path needs a token_store (without one no "
                "TikTok token is kept to revoke); pass token_store=MemoryTokenStore() or a "
                "RedisTokenStore, or set disconnect_path=None",
                extra={"event": "disconnect"},
            )
        error = TikTokAuthError("disconnect_unavailable", _UNAVAILABLE, status_code=501)
        return self._error(error, scope)

    def _error(
        self,
        error: TikTokAuthError,
        scope: Scope,
        clears: Sequence[str] = (),
        target: str | None = None,
        *,
        try_again: str | None = None,
    ) -> Response:
        TELEMETRY.fail_current(error.code, error.log_id)  # this step's span, if one records
        return error_response(
            error,
            self.settings,
            scope,
            clears,
            next=target,
            render=self._error_page,
            try_again=try_again,
        )
