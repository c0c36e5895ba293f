"""The browser-facing routes: the consent page and its form, avatars, covers, the index."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from tiktok_asgi._i18n import N_
from tiktok_asgi.emulator._api import avatar_url
from tiktok_asgi.emulator._authorize import (
    AUTHORIZE_PARAMS,
    AuthorizeRequest,
    check_target_user,
    choose_scopes,
    denied_redirect,
    granted_redirect,
    validate_authorize,
)
from tiktok_asgi.emulator._avatars import avatar_svg, avatar_url_valid, cover_svg
from tiktok_asgi.emulator._consent import consent_page
from tiktok_asgi.emulator._core import Core, is_form, parse_pairs
from tiktok_asgi.emulator._errors import EmulatorRejected
from tiktok_asgi.emulator._pages import html_page_response, page_language
from tiktok_asgi.emulator._responses import rejection_response
from tiktok_asgi.emulator._users import EmulatorUser

__all__ = ["authorize_form", "authorize_page", "avatar", "cover", "grant"]

_IMAGE_HEADERS = {
    "Cache-Control": "public, max-age=3600",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
}


def grant(
    core: Core, request: AuthorizeRequest, user: EmulatorUser, chosen: Iterable[str] | None
) -> str:
    """The person's yes: issue a code, return the URL TikTok sends the browser to.

    A sandbox app's non-target account is refused (:class:`EmulatorRejected`,
    ``non_sandbox_target``); scopes that were not requested raise ``ValueError``.
    """
    check_target_user(core.config, request, user)
    scopes = choose_scopes(request, chosen)
    code = core.state.issue_code(user.open_id, scopes, request.redirect_uri, request.code_challenge)
    return granted_redirect(request, code, scopes)


_NOT_UTF8_URL = N_("The URL is not UTF-8.")
_NOT_UTF8_FORM = N_("The form is not UTF-8.")
_NOT_A_FORM = N_("The consent form must be form-encoded.")
_CHOOSE_ACTION = N_("Choose Authorize or Cancel.")
_CHOOSE_ACCOUNT = N_("Choose an account to continue.")


def _rejected(core: Core, request: Request, exc: EmulatorRejected) -> Response:
    return rejection_response(exc, core.config.clock, lang=page_language(request).code)


def _origin(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}"


def _consent(core: Core, request: Request, auth: AuthorizeRequest, problem: str | None) -> Response:
    page = consent_page(
        app_name=core.config.app_name,
        request=auth,
        users=core.users(),
        avatar_url=lambda user: avatar_url(core, request, user, 100),
        action=request.url_for("authorize").path,
        problem=problem,
        sandbox=core.config.sandbox,
        lang=page_language(request).code,
    )
    status = 400 if problem else 200
    return html_page_response(page, status, form_targets=[_origin(auth.redirect_uri)])


async def authorize_page(core: Core, request: Request, body: bytes) -> Response:
    try:
        params = parse_pairs(request.scope.get("query_string", b""))
        auth = validate_authorize(params, core.config)
    except UnicodeDecodeError:
        refused = EmulatorRejected("invalid_request", _NOT_UTF8_URL, render="page")
        return _rejected(core, request, refused)
    except EmulatorRejected as exc:
        return _rejected(core, request, exc)
    return _consent(core, request, auth, None)


async def authorize_form(core: Core, request: Request, body: bytes) -> Response:
    """The consent form, re-validated in full: the hidden fields are as untrusted as a URL."""
    try:
        if not is_form(request.headers.get("content-type")):
            raise EmulatorRejected("invalid_request", _NOT_A_FORM, render="page")
        form = parse_pairs(body)
        carried = (*AUTHORIZE_PARAMS, "client_secret", "client_id")
        auth = validate_authorize({k: form[k] for k in carried if k in form}, core.config)
    except UnicodeDecodeError:
        refused = EmulatorRejected("invalid_request", _NOT_UTF8_FORM, render="page")
        return _rejected(core, request, refused)
    except EmulatorRejected as exc:
        return _rejected(core, request, exc)
    no_store = {"Cache-Control": "no-store"}
    action = form.get("action", [""])
    if action == ["cancel"]:
        return RedirectResponse(denied_redirect(auth), status_code=302, headers=no_store)
    if action != ["authorize"]:
        return _consent(core, request, auth, _CHOOSE_ACTION)
    users = form.get("user", [])
    user = core.find_user(users[0]) if len(users) == 1 else None
    if user is None:
        return _consent(core, request, auth, _CHOOSE_ACCOUNT)
    try:
        target = grant(core, auth, user, form.get("granted", []))
    except EmulatorRejected as exc:
        return _rejected(core, request, exc)
    except ValueError as exc:
        refused = EmulatorRejected("invalid_scope", str(exc), render="page", field="scope")
        return _rejected(core, request, refused)
    return RedirectResponse(target, status_code=302, headers=no_store)


async def avatar(core: Core, request: Request) -> Response:
    """The image host: a signed avatar URL is served until its ``x-expires``, then 403."""
    user = core.find_user(request.path_params["open_id"])
    query = request.query_params
    size_raw = query.get("size", "168")
    size = int(size_raw) if size_raw.isdigit() else 0
    if user is None or not 16 <= size <= 1080:
        return Response("Not Found", status_code=404, media_type="text/plain")
    expires, signature = query.get("x-expires"), query.get("x-signature")
    now = core.config.clock()
    if not avatar_url_valid(core.avatar_key, user.open_id, size, expires, signature, now):
        return Response("Access Denied", status_code=403, media_type="text/plain")
    svg = avatar_svg(user.open_id, user.initials, size)
    return Response(svg, media_type="image/svg+xml", headers=_IMAGE_HEADERS)


async def cover(core: Core, request: Request) -> Response:
    video_id = request.path_params["video_id"]
    if not video_id.isdigit():
        return Response("Not Found", status_code=404, media_type="text/plain")
    svg = cover_svg(video_id, f"Video {video_id[-6:]}")
    return Response(svg, media_type="image/svg+xml", headers=_IMAGE_HEADERS)
