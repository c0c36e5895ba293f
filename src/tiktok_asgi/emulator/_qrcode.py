"""Login Kit with QR code, v2: ``POST /v2/oauth/get_qrcode/``, ``POST /v2/oauth/check_qrcode/``
and the phone's side, the page a scan URL opens (``/v2/auth/qrcode/``), where a tester picks an
account and confirms, as the TikTok app does after scanning.

get_qrcode takes ``client_key``, ``scope`` (comma-separated, checked as on the consent page) and
``state``, and no secret; check_qrcode takes ``client_key``, ``client_secret`` and ``token``.
Both answer in the flat OAuth shape, errors included. check_qrcode echoes the client_ticket the
phone scanned and, once confirmed, carries the authorization ``code`` with the ``redirect_uri``
it is bound to (the app's first registered one), to be exchanged without a code verifier.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from html import escape
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tiktok_asgi._i18n import N_, Language, fill, text
from tiktok_asgi.emulator._api import avatar_url
from tiktok_asgi.emulator._authorize import (
    AuthorizeRequest,
    _scopes,
    check_target_user,
    choose_scopes,
)
from tiktok_asgi.emulator._consent import accounts, scope_row
from tiktok_asgi.emulator._core import Core, is_form, parse_pairs, single
from tiktok_asgi.emulator._errors import EmulatorRejected
from tiktok_asgi.emulator._oauth import _authenticate, _form, _require
from tiktok_asgi.emulator._pages import html_page_response, layout, page_language
from tiktok_asgi.emulator._qrstate import PLACEHOLDER, QrCode
from tiktok_asgi.emulator._responses import ENVELOPE_MESSAGES, rejection_response
from tiktok_asgi.emulator._users import EmulatorUser

__all__ = [
    "SCAN_PATH",
    "cancel",
    "check_qrcode",
    "confirm",
    "find",
    "get_qrcode",
    "scan",
    "scan_form",
    "scan_page",
]

SCAN_PATH = "/v2/auth/qrcode/"
_GET_FIELDS = frozenset({"client_key", "scope", "state"})
_CHECK_FIELDS = frozenset({"client_key", "client_secret", "token"})
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

Form = dict[str, list[str]]


def _only(form: Form, allowed: frozenset[str]) -> None:
    unexpected = sorted(set(form) - allowed)
    if unexpected:
        raise EmulatorRejected("invalid_request", f"Unexpected parameter: {', '.join(unexpected)}.")


def _throttle(core: Core, endpoint: str) -> None:
    retry = core.state.throttle(endpoint, core.config.rate_limit)
    if retry is not None:
        raise EmulatorRejected(
            "rate_limit_exceeded",
            ENVELOPE_MESSAGES["rate_limit_exceeded"],
            status=429,
            headers={"Retry-After": str(retry)},
        )


def _flat(core: Core, exc: EmulatorRejected) -> Response:
    return rejection_response(exc, core.config.clock, flat_status=core.config.token_error_status)


def _scan_base(request: Request) -> str:
    """Where phones open scan URLs: TikTok's web host in-process, else this emulator itself."""
    from tiktok_asgi.emulator._endpoints import API_HOST, AUTHORIZE_HOST  # it imports this module

    url = request.url_for("qr_scan")
    if url.hostname == API_HOST:
        url = url.replace(hostname=AUTHORIZE_HOST)
    return str(url)


async def get_qrcode(core: Core, request: Request, body: bytes) -> Response:
    config = core.config
    try:
        form = _form(request, body)
        _throttle(core, "get_qrcode")
        key = single(form, "client_key")
        if key is None:
            hint = " (TikTok does not read client_id)" if "client_id" in form else ""
            raise EmulatorRejected("invalid_client", f"Parameter client_key is missing{hint}.")
        if key != config.client_key:
            raise EmulatorRejected("invalid_client", "Client key is invalid.")
        _only(form, _GET_FIELDS)
        try:
            scopes = _scopes(single(form, "scope"), config)
        except EmulatorRejected as exc:  # the consent page's check, answered flat here
            raise EmulatorRejected(exc.error, exc.description) from None
        state = _require(form, "state")
    except EmulatorRejected as exc:
        return _flat(core, exc)
    code = core.qr.create(scopes, state, config.redirect_uris[0])
    query = urlencode({"qr": code.scan_id})
    scan_url = f"{_scan_base(request)}?{query}&client_ticket={PLACEHOLDER}"
    return JSONResponse({"scan_qrcode_url": scan_url, "token": code.token}, headers=_NO_STORE)


async def check_qrcode(core: Core, request: Request, body: bytes) -> Response:
    try:
        form = _form(request, body)
        _throttle(core, "check_qrcode")
        _authenticate(core, request, form)
        _only(form, _CHECK_FIELDS)
        found = core.qr.by_token(_require(form, "token"))
        if found is None:
            raise EmulatorRejected("invalid_request", "Parameter token is invalid.")
    except EmulatorRejected as exc:
        return _flat(core, exc)
    status = core.qr.status(found, core.state.code_redeemed)
    answer: dict[str, str] = {"status": status}
    if found.client_ticket is not None:
        answer["client_ticket"] = found.client_ticket
    if status == "confirmed" and found.code is not None:
        answer.update(
            code=found.code,
            redirect_uri=found.redirect_uri,
            scope=",".join(found.granted),
            state=found.state,
        )
    return JSONResponse(answer, headers=_NO_STORE)


# The phone's side


def _as_authorize(core: Core, code: QrCode) -> AuthorizeRequest:
    """The QR code as the authorize request it stands for (same checks on the person)."""
    return AuthorizeRequest(
        core.config.client_key, code.redirect_uri, code.scopes, code.state, False, None
    )


def _issuer(
    core: Core, user: EmulatorUser, chosen: Iterable[str] | None
) -> Callable[[QrCode], tuple[str, str, tuple[str, ...]]]:
    def issue(code: QrCode) -> tuple[str, str, tuple[str, ...]]:
        request = _as_authorize(core, code)
        try:
            check_target_user(core.config, request, user)
        except EmulatorRejected as exc:  # no "back to the app" link on a phone
            raise EmulatorRejected(exc.error, exc.description, render="page") from None
        scopes = choose_scopes(request, chosen)
        issued = core.state.issue_code(user.open_id, scopes, code.redirect_uri, None)
        return issued, user.open_id, scopes

    return issue


def _scan_params(scan_url: str) -> tuple[str | None, str | None]:
    parts = urlsplit(scan_url)
    if not parts.path.endswith(SCAN_PATH):
        raise EmulatorRejected(
            "not_found", f"{parts.path!r} is not a QR scan URL ({SCAN_PATH!r})", render="page"
        )
    params = parse_pairs(parts.query)
    return _one(params, "qr"), _one(params, "client_ticket")


def _one(params: Form, name: str) -> str | None:
    values = params.get(name, [])
    if len(values) > 1:
        raise EmulatorRejected(
            "invalid_request", f"Parameter {name} is repeated.", render="page", field=name
        )
    return values[0] if values else None


def scan(core: Core, scan_url: str) -> QrCode:
    """The phone opens ``scan_url`` (see :meth:`QrBoard.scan`)."""
    return core.qr.scan(*_scan_params(scan_url))


def confirm(core: Core, scan_url: str, user: EmulatorUser, scopes: Sequence[str] | None) -> QrCode:
    """The person confirms on the phone as ``user``, granting ``scopes`` (None: all)."""
    qr, ticket = _scan_params(scan_url)
    return core.qr.confirm(qr, ticket, _issuer(core, user, scopes))


def find(core: Core, scan_url: str) -> QrCode | None:
    """The QR code ``scan_url`` opens, if the emulator made it."""
    scan_id, _ = _scan_params(scan_url)
    return core.qr.by_scan(scan_id or "")


def cancel(core: Core, scan_url: str) -> QrCode:
    qr, ticket = _scan_params(scan_url)
    return core.qr.cancel(qr, ticket)


_NOT_UTF8_URL = N_("The URL is not UTF-8.")
_NOT_UTF8_FORM = N_("The form is not UTF-8.")
_NOT_A_FORM = N_("The form must be form-encoded.")
_CHOOSE_ACTION = N_("Choose Confirm or Cancel.")
_CHOOSE_ACCOUNT = N_("Choose an account to continue.")


def _phone_page(
    core: Core, request: Request, code: QrCode, ticket: str, problem: str | None
) -> Response:
    lang = page_language(request)
    _ = lang.gettext
    app_name = core.config.app_name
    hidden = (
        f'<input type="hidden" name="qr" value="{escape(code.scan_id)}">'
        f'<input type="hidden" name="client_ticket" value="{escape(ticket)}">'
    )
    users = accounts(core.users(), lambda u: avatar_url(core, request, u, 100), lang)
    scopes = "".join(scope_row(s, lang) for s in code.scopes)
    alert = f'<p class="err">{text(_(problem))}</p>' if problem else ""
    heading = fill(_("Sign in to {app} on your other device?"), app=app_name)
    scanned = text(
        _(
            "You scanned a QR code. Confirm only if you asked for it yourself, on a TV, computer "
            "or app in front of you."
        )
    )
    continue_as, able = text(_("Continue as")), fill(_("{app} will be able to"), app=app_name)
    confirm, cancel = text(_("Confirm")), text(_("Cancel"))
    body = (
        f"<h1>{heading}</h1>"
        f'<p class="sub">{scanned}</p>'
        f'{alert}<form method="post" action="{escape(request.url_for("qr_scan").path)}">{hidden}'
        f"<fieldset><legend>{continue_as}</legend>{users}</fieldset>"
        f"<fieldset><legend>{able}</legend>{scopes}</fieldset>"
        '<div class="actions">'
        f'<button name="action" value="authorize">{confirm}</button>'
        f'<button name="action" value="cancel">{cancel}</button>'
        "</div></form>"
    )
    title = _("Sign in to {app}").format(app=app_name)
    return html_page_response(layout(title, body, lang.code), 400 if problem else 200)


def _done(lang: Language, title: str, said: str) -> Response:
    page = layout(title, f'<h1>{text(title)}</h1><p class="sub">{text(said)}</p>', lang.code)
    return html_page_response(page)


def _refused(request: Request, core: Core, exc: EmulatorRejected) -> Response:
    return rejection_response(exc, core.config.clock, lang=page_language(request).code)


async def scan_page(core: Core, request: Request, body: bytes) -> Response:
    """``GET`` of a scan URL: the code is now ``scanned``; the page asks to confirm."""
    try:
        params = parse_pairs(request.scope.get("query_string", b""))
        qr, ticket = _one(params, "qr"), _one(params, "client_ticket")
        code = core.qr.scan(qr, ticket)
    except UnicodeDecodeError:
        refused = EmulatorRejected("invalid_request", _NOT_UTF8_URL, render="page")
        return _refused(request, core, refused)
    except EmulatorRejected as exc:
        return _refused(request, core, exc)
    assert ticket is not None
    return _phone_page(core, request, code, ticket, None)


async def scan_form(core: Core, request: Request, body: bytes) -> Response:
    """The phone page's form: confirm as the chosen account, or cancel."""
    try:
        if not is_form(request.headers.get("content-type")):
            raise EmulatorRejected("invalid_request", _NOT_A_FORM, render="page")
        form = parse_pairs(body)
        qr, ticket = _one(form, "qr"), _one(form, "client_ticket")
        code = core.qr.scan(qr, ticket)
    except UnicodeDecodeError:
        refused = EmulatorRejected("invalid_request", _NOT_UTF8_FORM, render="page")
        return _refused(request, core, refused)
    except EmulatorRejected as exc:
        return _refused(request, core, exc)
    assert ticket is not None
    action = form.get("action", [""])
    lang = page_language(request)
    _ = lang.gettext
    try:
        if action == ["cancel"]:
            core.qr.cancel(qr, ticket)
            cancelled = _("Sign-in cancelled")
            return _done(lang, cancelled, _("Nobody was signed in. You can close this page."))
        if action != ["authorize"]:
            return _phone_page(core, request, code, ticket, _CHOOSE_ACTION)
        users = form.get("user", [])
        user = core.find_user(users[0]) if len(users) == 1 else None
        if user is None:
            return _phone_page(core, request, code, ticket, _CHOOSE_ACCOUNT)
        core.qr.confirm(qr, ticket, _issuer(core, user, form.get("granted", [])))
    except EmulatorRejected as exc:
        return _refused(request, core, exc)
    except ValueError as exc:
        refused = EmulatorRejected("invalid_scope", str(exc), render="page", field="scope")
        return _refused(request, core, refused)
    signed_in = _("Signed in to {app}").format(app=core.config.app_name)
    return _done(
        lang, signed_in, _("You are signed in on your other device. You can close this page.")
    )
