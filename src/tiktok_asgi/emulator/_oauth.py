"""``POST /v2/oauth/token/`` and ``POST /v2/oauth/revoke/``, as strict as TikTok."""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tiktok_asgi.emulator._core import Core, is_form, parse_pairs, single
from tiktok_asgi.emulator._errors import EmulatorRejected
from tiktok_asgi.emulator._pkce import verifier_matches
from tiktok_asgi.emulator._responses import rejection_response
from tiktok_asgi.emulator._state import CodeRecord, Grant

__all__ = ["revoke", "token"]

_CLIENT = frozenset({"client_key", "client_secret"})
_ALLOWED = {
    "authorization_code": _CLIENT | {"grant_type", "code", "redirect_uri", "code_verifier"},
    "refresh_token": _CLIENT | {"grant_type", "refresh_token"},
    "client_credentials": _CLIENT | {"grant_type"},
    "revoke": _CLIENT | {"token"},
}

Form = dict[str, list[str]]
CLIENT_TOKEN_TTL = 7200  # TikTok's client access tokens last two hours
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _form(request: Request, body: bytes) -> Form:
    if not is_form(request.headers.get("content-type")):
        raise EmulatorRejected(
            "invalid_request", "Content-Type must be application/x-www-form-urlencoded."
        )
    try:
        return parse_pairs(body)
    except UnicodeDecodeError:
        raise EmulatorRejected("invalid_request", "The request body is not UTF-8.") from None


def _authenticate(core: Core, request: Request, form: Form) -> None:
    """Client credentials travel in the body; TikTok reads neither Basic auth nor client_id."""
    key, secret = single(form, "client_key"), single(form, "client_secret")
    if key is None:
        if request.headers.get("authorization", "").lower().startswith("basic "):
            raise EmulatorRejected(
                "invalid_client",
                "Client credentials must be sent in the request body as client_key and "
                "client_secret; HTTP Basic authentication is not supported.",
            )
        hint = " (TikTok does not read client_id)" if "client_id" in form else ""
        raise EmulatorRejected("invalid_client", f"Parameter client_key is missing{hint}.")
    if key != core.config.client_key:
        raise EmulatorRejected("invalid_client", "Client key is invalid.")
    if secret != core.config.client_secret:
        raise EmulatorRejected("invalid_client", "Client secret is invalid.")


def _only(form: Form, kind: str) -> None:
    unexpected = sorted(set(form) - _ALLOWED[kind])
    if unexpected:
        raise EmulatorRejected("invalid_request", f"Unexpected parameter: {', '.join(unexpected)}.")


def _require(form: Form, name: str) -> str:
    value = single(form, name)
    if value is None:
        raise EmulatorRejected("invalid_request", f"Parameter {name} is missing.")
    return value


def _code_grant(core: Core, form: Form) -> Grant:
    _only(form, "authorization_code")
    code = _require(form, "code")
    # Optional only for codes TikTok's Minis hand over, which carry no redirect URI.
    redirect_uri = single(form, "redirect_uri")
    verifier = single(form, "code_verifier")
    app_type, strict = core.config.app_type, core.config.strict_pkce

    def pkce_ok(record: CodeRecord) -> bool:
        """The verifier's SHA-256 in an encoding the app accepts (the native SDKs': hex); none
        without a challenge."""
        if record.challenge is None:
            return verifier is None
        if verifier is None:
            return False
        if record.native:
            return verifier_matches(verifier, record.challenge, "desktop")
        return verifier_matches(verifier, record.challenge, app_type, strict=strict)

    return core.state.exchange_code(code, redirect_uri, pkce_ok)


def _refresh_grant(core: Core, form: Form) -> Grant:
    _only(form, "refresh_token")
    return core.state.refresh(_require(form, "refresh_token"))


def _client_token(form: Form) -> Response:
    """A client access token (no user): TikTok answers only these three fields."""
    _only(form, "client_credentials")
    access_token = "clt." + secrets.token_hex(16) + secrets.token_urlsafe(24)
    body = {"access_token": access_token, "expires_in": CLIENT_TOKEN_TTL, "token_type": "Bearer"}
    return JSONResponse(body, headers=_NO_STORE)


async def token(core: Core, request: Request, body: bytes) -> Response:
    clock = core.config.clock
    try:
        form = _form(request, body)
        _authenticate(core, request, form)
        grant_type = _require(form, "grant_type")
        if grant_type == "authorization_code":
            grant = _code_grant(core, form)
        elif grant_type == "refresh_token":
            grant = _refresh_grant(core, form)
        elif grant_type == "client_credentials":
            return _client_token(form)
        else:
            raise EmulatorRejected("unsupported_grant_type", f"Grant type {grant_type} is invalid.")
    except EmulatorRejected as exc:
        return rejection_response(exc, clock, flat_status=core.config.token_error_status)
    now = clock()
    return JSONResponse(
        {
            "access_token": grant.access_token,
            "expires_in": round(grant.access_expires_at - now),
            "open_id": grant.open_id,
            "refresh_expires_in": round(grant.refresh_expires_at - now),
            "refresh_token": grant.refresh_token,
            "scope": ",".join(grant.scopes),
            "token_type": "Bearer",
        },
        headers=_NO_STORE,
    )


async def revoke(core: Core, request: Request, body: bytes) -> Response:
    try:
        form = _form(request, body)
        _authenticate(core, request, form)
        _only(form, "revoke")
        core.state.revoke(_require(form, "token"))
    except EmulatorRejected as exc:
        status = core.config.token_error_status
        return rejection_response(exc, core.config.clock, flat_status=status)
    return JSONResponse({})
