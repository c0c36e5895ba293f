"""QR-code sign-in, for TVs, kiosks, desktop and command-line apps (TikTok's Login Kit with QR
code, v2)::

    GET  qr_path       → a page showing the code (inline SVG), its status live, then ``next``
    POST qr_path       → {"qr_id", "scan_url", "svg", "expires_in"}: TikTok's get_qrcode, our own
                         random client_ticket in place of its ``tobefilled``, a QR cookie binding
                         the code to this browser
    GET  qr_path/<id>  → {"status": "new" | "scanned" | "confirmed" | "expired"}: TikTok's
                         check_qrcode; an answer naming another client_ticket ends the code (502
                         ``client_ticket_mismatch``); ``confirmed`` signs this browser in through
                         the callback's own steps (code exchange, user info, ``on_login``, token
                         store, identity cookie)

Every answer is JSON but the page's. A code signs in once, and only the browser holding its cookie
may poll it. The SVG comes from ``segno`` (the ``qr`` extra); without it ``POST qr_path`` answers
501 ``qr_unavailable`` naming the install command.
"""

from __future__ import annotations

import hmac
import io
import logging
import math
import re
import secrets
from collections.abc import Awaitable, Callable
from contextlib import suppress
from types import ModuleType
from typing import Protocol

from starlette.datastructures import QueryParams
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import Scope

from ._cookies.identity import Identity
from ._cookies.qr import QR_ID, USED, PendingQr, QrCookies
from ._cookies.signing import read_cookies
from ._events import EventSink, client_of
from ._extras import install_hint
from ._i18n import N_, for_request
from ._paths import request_path, site_path
from ._qr_page import qr_page, qr_page_csp
from ._redirects import safe_next
from ._responses import error_response, secure
from ._session import TokenManager
from ._telemetry import TELEMETRY, traced
from ._tiktok.provider import QrStatus, TikTokProvider
from .advice import developer_fix, for_person
from .errors import (
    ClientTicketMismatch,
    CrossSiteRequest,
    MethodNotAllowed,
    QrSessionError,
    QrUnavailable,
    TikTokAPIError,
    TikTokAuthError,
)
from .events import SignedIn, SignInRefused, digest
from .pages import RenderErrorPage
from .settings import TikTokSettings

__all__ = ["FinishSignIn", "QrSignIn", "qr_svg", "with_client_ticket"]

logger = logging.getLogger("tiktok_asgi")

Endpoint = Callable[[Scope], Awaitable[Response]]


class FinishSignIn(Protocol):
    """The callback's last steps (:meth:`LoginConversation.finish_sign_in`): the identity and
    the identity cookie that signs the browser in."""

    def __call__(
        self,
        code: str,
        *,
        redirect_uri: str,
        code_verifier: str | None,
        claimed_scopes: str | None,
    ) -> Awaitable[tuple[Identity, str]]: ...


INSTALL = install_hint("qr")
_TICKET_BYTES = 32  # 43 URL-safe characters: nothing to encode, far below TikTok's 512
_PLACEHOLDER = re.compile(r"([?&]client_ticket=)tobefilled(?=[&#]|$)")
_SVG_TITLE = N_("Scan with the TikTok app to sign in")
_CROSS_SITE = N_("QR-code sign-in must start from this site.")


def load_segno() -> ModuleType | None:
    """``segno`` when the ``qr`` extra is installed."""
    try:
        import segno
    except ImportError:
        return None
    return segno


def qr_svg(segno: ModuleType, text: str, title: str = _SVG_TITLE) -> str:
    """``text`` as a standalone SVG QR code (with its namespace, sized by its viewBox)."""
    out = io.BytesIO()
    segno.make_qr(text, error="m").save(
        out,
        kind="svg",
        xmldecl=False,
        nl=False,
        border=4,
        dark="#161823",
        light="#ffffff",
        omitsize=True,
        title=title,
    )
    return out.getvalue().decode("utf-8")


def with_client_ticket(scan_url: str, client_ticket: str) -> str:
    """TikTok's scan URL with ``client_ticket`` in place of its ``tobefilled`` placeholder."""
    filled, found = _PLACEHOLDER.subn(lambda m: m.group(1) + client_ticket, scan_url, count=1)
    if not found:
        raise TikTokAPIError(
            "invalid_response",
            "TikTok's scan_qrcode_url has no client_ticket=tobefilled to fill in",
        )
    return filled


def _status(status: str, set_cookies: list[str]) -> Response:
    return secure(JSONResponse({"status": status}), set_cookies)


class QrSignIn:
    """The endpoints at ``qr_path`` and below it; one per middleware, no per-request state."""

    def __init__(
        self,
        settings: TikTokSettings,
        tiktok: TikTokProvider,
        *,
        finish: FinishSignIn,
        tokens: TokenManager | None,
        from_this_site: Callable[[Scope], bool],
        error_page: RenderErrorPage | None = None,
        events: EventSink | None = None,
    ) -> None:
        assert settings.qr_path is not None
        self.settings = settings
        self.path = settings.qr_path
        self.below = self.path + "/"
        self._tiktok = tiktok
        self._finish = finish
        self._tokens = tokens
        self._from_this_site = from_this_site
        self._error_page = error_page
        self._events = events if events is not None else EventSink()
        self._cookies = QrCookies(settings, self.path)
        self._segno = load_segno()
        if self._segno is None:
            logger.info(
                "QR-code sign-in at %s is unavailable: it needs the qr extra (%s); set "
                "qr_path=None to turn it off",
                self.path,
                INSTALL,
                extra={"event": "qr_unavailable"},
            )

    def endpoint_below(self, path: str) -> Endpoint | None:
        """The status endpoint when ``path`` is ``qr_path/<a QR id>``."""
        if path.startswith(self.below) and QR_ID.fullmatch(path[len(self.below) :]):
            return self._status_checked
        return None

    async def answer(self, scope: Scope) -> Response:
        """``qr_path`` itself: the page (GET, HEAD) or a new code (POST)."""
        method = scope["method"]
        if method in ("GET", "HEAD"):
            return self.page(scope)
        if method == "POST":
            return await self.start(scope)
        return self._wrong_method(scope, "GET, POST")

    async def _status_checked(self, scope: Scope) -> Response:
        if scope["method"] != "GET":
            return self._wrong_method(scope, "GET")
        return await self.status(scope)

    def _wrong_method(self, scope: Scope, allow: str) -> Response:
        methods = allow.split(", ")
        if len(methods) == 1:
            use = N_("Use {method} here.").format(method=methods[0])
        else:
            use = N_("Use {method} or {other} here.").format(method=methods[0], other=methods[1])
        error = MethodNotAllowed(description=use)
        response = error_response(error, self.settings, scope, render=self._error_page)
        response.headers["allow"] = allow
        return response

    def page(self, scope: Scope) -> Response:
        query = QueryParams(scope["query_string"])
        target = safe_next(query.get("next"), self.settings.login_redirect)
        nonce = secrets.token_urlsafe(18)
        document = qr_page(
            start_url=site_path(scope, self.path),
            next_url=target,
            back_url=self.settings.login_redirect,
            nonce=nonce,
            lang=for_request(scope, self.settings.locale).code,
        )
        response = HTMLResponse(document)
        response.headers["content-security-policy"] = qr_page_csp(nonce)
        return secure(response, ())

    @traced("tiktok_asgi.qr_start")
    async def start(self, scope: Scope) -> Response:
        if not self._from_this_site(scope):
            refused = CrossSiteRequest(description=_CROSS_SITE)
            return self._failed(refused, [])
        if self._segno is None:
            return self._failed(QrUnavailable(), [])
        try:
            code = await self._tiktok.get_qrcode(secrets.token_urlsafe(24))
            ticket = secrets.token_urlsafe(_TICKET_BYTES)
            scan_url = with_client_ticket(code.scan_url, ticket)
        except TikTokAuthError as exc:
            return self._failed(exc, [])
        qr_id = secrets.token_urlsafe(16)
        cookies = read_cookies(scope["headers"])
        set_cookies = self._cookies.begin(qr_id, PendingQr(code.token, ticket), cookies)
        body = {
            "qr_id": qr_id,
            "scan_url": scan_url,
            "svg": qr_svg(self._segno, scan_url, self._svg_title(scope)),
            "expires_in": self._cookies.spec.max_age,
        }
        logger.info("qr_started", extra={"event": "qr_started"})
        return secure(JSONResponse(body), set_cookies)

    def _svg_title(self, scope: Scope) -> str:
        """The code's title (a tooltip), in the page's language: the page asks for its code."""
        return for_request(scope, self.settings.locale).gettext(_SVG_TITLE)

    @traced("tiktok_asgi.qr_poll")
    async def status(self, scope: Scope) -> Response:
        qr_id = request_path(scope)[len(self.below) :]
        cookies = read_cookies(scope["headers"])
        ended = self._cookies.clear(qr_id, cookies)
        try:
            pending = self._cookies.read(qr_id, cookies)
        except QrSessionError as exc:
            return self._failed(exc, ended if exc.code == "qr_used" else [])
        if pending is None:  # older than flow_max_age: over, whatever TikTok would say
            return _status("expired", ended)
        try:
            answer = await self._tiktok.check_qrcode(pending.token)
            _check_ticket(answer, pending)
        except ClientTicketMismatch as exc:
            self._end(qr_id)
            return await self._refused(exc, ended, scope)
        except TikTokAuthError as exc:
            return self._failed(exc, [])  # TikTok failing for now: the code may still be scanned
        if answer.status in ("new", "scanned"):
            return _status(answer.status, [])
        if answer.status == "expired":
            return _status("expired", ended)
        if answer.status == "utilised":
            self._end(qr_id)
            return self._failed(QrSessionError("qr_used", USED), ended)
        return await self._confirmed(qr_id, answer, ended, scope)

    async def _confirmed(
        self, qr_id: str, answer: QrStatus, ended: list[str], scope: Scope
    ) -> Response:
        try:
            self._cookies.use(qr_id)
            if self._tokens is not None:
                # Once across every instance sharing the token store, too.
                async with self._tokens.budget():
                    once = await self._tokens.accept_once(
                        self._cookies.name(qr_id), self.settings.flow_max_age
                    )
                if not once:
                    raise QrSessionError("qr_used", USED)
            code, redirect_uri = answer.authorization(self.settings.redirect_uri)
            identity, cookie = await self._finish(
                code, redirect_uri=redirect_uri, code_verifier=None, claimed_scopes=answer.scope
            )
        except TikTokAuthError as exc:
            return await self._refused(exc, ended, scope)
        session = identity.session_id
        signed_in = SignedIn(
            how="qr",
            open_id=identity.user.open_id,
            session=digest(session) if session is not None else None,
            client=client_of(scope.get("client")),
        )
        await self._events.emit(signed_in)
        return _status("confirmed", [*ended, cookie])

    def _end(self, qr_id: str) -> None:
        """This QR code can sign nobody in any more (in this process; its cookie is cleared)."""
        with suppress(QrSessionError):  # spent already
            self._cookies.use(qr_id)

    async def _refused(
        self, exc: TikTokAuthError, set_cookies: list[str], scope: Scope
    ) -> Response:
        """A confirmed code that signs nobody in: its audit event (which logs it with the fix),
        and the answer."""
        refused = SignInRefused(
            how="qr",
            reason=exc.code,
            fix=developer_fix(exc, self.settings),
            log_id=exc.log_id,
            client=client_of(scope.get("client")),
        )
        await self._events.emit(refused)
        return _answer_failure(exc, set_cookies)

    def _failed(self, exc: TikTokAuthError, set_cookies: list[str]) -> Response:
        """Logged with the fix, answered as JSON (the page's script reads it)."""
        TELEMETRY.fail_current(exc.code, exc.log_id)
        fix = developer_fix(exc, self.settings)
        # A tampered answer is an attack or a broken proxy; TikTok failing is worth a look;
        # another browser's poll or a used code is nobody's fault.
        level = logging.INFO
        if isinstance(exc, ClientTicketMismatch):
            level = logging.ERROR
        elif isinstance(exc, TikTokAPIError):
            level = logging.WARNING
        logger.log(
            level,
            "qr_failed code=%s log_id=%s fix=%s",
            exc.code,
            exc.log_id,
            fix,
            extra={"event": "qr_failed", "code": exc.code, "log_id": exc.log_id, "fix": fix},
        )
        return _answer_failure(exc, set_cookies)


def _answer_failure(exc: TikTokAuthError, set_cookies: list[str]) -> Response:
    """The JSON error the page's script reads."""
    shown = for_person(exc)
    response = secure(JSONResponse(shown.as_dict(), status_code=shown.status_code), set_cookies)
    if exc.retry_after is not None:
        response.headers["retry-after"] = str(math.ceil(exc.retry_after))
    return response


def _check_ticket(answer: QrStatus, pending: PendingQr) -> None:
    """TikTok echoes the client_ticket the phone scanned: any other one, or none on the answer
    carrying the code, means the answer was not made for this QR code."""
    ticket = answer.client_ticket
    if ticket is None and answer.status != "confirmed":
        return  # not scanned yet: TikTok has not seen the ticket
    if ticket is None or not hmac.compare_digest(
        ticket.encode("utf-8"), pending.client_ticket.encode("utf-8")
    ):
        raise ClientTicketMismatch(log_id=answer.log_id)
