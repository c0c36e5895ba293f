"""What each of TikTok's errors means, for the person signing in and for the developer.

TikTok's error values (the callback's ``?error=``, the token endpoint's ``error``, the v2 API's
``error.code``) are terse, and a few of them always mean one mistake in the app's set-up. Each
known value has a short text that is safe to show in the browser (TikTok's own description on
the callback is attacker-controlled and is never shown) and a line for the log that says what
to change. :func:`developer_fix` reads TikTok's description too, where it tells mistakes apart.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

from ._i18n import N_
from .errors import AuthorizationDenied, SignInCancelled, TikTokAPIError, TikTokAuthError
from .settings import TikTokSettings

__all__ = ["ADVICE", "Advice", "denied", "developer_fix", "for_person", "person_text"]


class Advice(NamedTuple):
    person: str
    developer: str


_TRY_LATER = N_("TikTok could not complete the sign-in right now. Please try again in a moment.")
_START_AGAIN = N_("The sign-in could not be completed. Please start again.")

#: TikTok's error values and codes (login-kit note, sections 3 to 9) → what they mean.
ADVICE: Mapping[str, Advice] = MappingProxyType(
    {
        "access_denied": Advice(
            N_("You cancelled the sign-in with TikTok."),
            "the person pressed Cancel on TikTok's consent page; nothing to fix",
        ),
        "invalid_client": Advice(
            N_("This site's TikTok app is not set up correctly."),
            "TikTok does not accept client_key/client_secret {client_key!r}: copy both from the "
            "TikTok app console (a sandbox app has its own key and secret)",
        ),
        "invalid_grant": Advice(
            _START_AGAIN,
            "the code or refresh token was expired, reused or revoked: codes are exchanged once "
            "and at once (check that nothing replays the callback)",
        ),
        "invalid_request": Advice(
            _START_AGAIN,
            "TikTok refused the request: check that redirect_uri {redirect_uri!r} is registered "
            "exactly (scheme, host, port, path, trailing slash) in the TikTok app console, and "
            "that pkce={pkce!r} fits the app type ('base64url' for web apps, 'hex' for desktop)",
        ),
        "invalid_scope": Advice(
            N_("This site asked TikTok for a permission it may not use."),
            "drop the scope TikTok refused from scopes={scopes!r}: the app lacks it (add the "
            "product, e.g. the Display API, in the app console, or ask for user.info.basic only)",
        ),
        "scope": Advice(
            N_("This site asked TikTok for a permission it may not use."),
            "drop the scopes whose product the app lacks from scopes={scopes!r} (new apps no "
            "longer get the Display API: user.info.profile, user.info.stats, video.list)",
        ),
        "code_challenge": Advice(
            N_("This site's TikTok sign-in is not set up correctly."),
            "enable PKCE: pkce='base64url' for a web app, pkce='hex' for a desktop app",
        ),
        "unauthorized_client": Advice(
            N_("This TikTok account may not sign in to this app yet."),
            "the app may not use Login Kit for this account: add Login Kit to the app in the "
            "console; for a sandbox app add the account as a target user (Sandbox → Target users)",
        ),
        "non_sandbox_target": Advice(
            N_("This TikTok account may not sign in to this app yet."),
            "add the account as a target user of the sandbox app in the TikTok app console "
            "(Sandbox → Target users, at most 10), or sign in with a target user",
        ),
        "unsupported_response_type": Advice(
            _START_AGAIN, "TikTok refused response_type=code: report this as a tiktok-asgi bug"
        ),
        "unsupported_grant_type": Advice(
            _START_AGAIN, "TikTok refused the grant type: report this as a tiktok-asgi bug"
        ),
        "server_error": Advice(_TRY_LATER, "TikTok failed; retry later, quoting the log_id"),
        "internal_error": Advice(_TRY_LATER, "TikTok failed; retry later, quoting the log_id"),
        "temporarily_unavailable": Advice(_TRY_LATER, "TikTok is busy; retry later"),
        "rate_limit_exceeded": Advice(
            _TRY_LATER,
            "TikTok allows 600 requests a minute per endpoint and app: spread the calls out",
        ),
        "access_token_invalid": Advice(
            N_("Your TikTok sign-in has ended. Please sign in again."),
            "the access token was revoked or expired: the person signs in again",
        ),
        "scope_not_authorized": Advice(
            N_("TikTok did not allow this site to read your profile. Please sign in again."),
            "the user did not grant a scope this call needs: ask only for fields of granted "
            "scopes (user info does this for you)",
        ),
        "scope_permission_missed": Advice(
            N_("This site asked TikTok for a permission it may not use."),
            "the app lacks a scope this call needs: add it (and its product) in the app console",
        ),
        "invalid_params": Advice(
            _START_AGAIN, "TikTok refused the call's parameters: check fields and body"
        ),
        "invalid_param": Advice(
            _START_AGAIN, "TikTok refused the call's parameters: check fields and body"
        ),
        "open_id_mismatch": Advice(
            _START_AGAIN,
            "user info named another account than the token response: a proxy or cache between "
            "this app and TikTok mixes answers up",
        ),
        "client_ticket_mismatch": Advice(
            N_("The QR code could not be confirmed. Please get a new code."),
            "a check_qrcode answer named another client_ticket than the QR code was made with: "
            "something between this app and TikTok alters or mixes up answers",
        ),
    }
)

# TikTok's descriptions that tell apart mistakes sharing one error value.
_BY_DESCRIPTION = (
    (
        "redirect_uri",
        "register redirect_uri {redirect_uri!r} in the TikTok app console exactly as written "
        "(it must match the one of the authorize request to the character)",
    ),
    (
        # TikTok documents hex for desktop apps and no encoding for web apps, where both are
        # reported to work: the other one is the likely fix.
        "code verifier",
        "TikTok refused the PKCE challenge as encoded now (pkce={pkce!r}): try "
        "pkce={other_pkce!r} (desktop apps need 'hex'; TikTok does not say which one web apps "
        "need)",
    ),
)


def person_text(code: str, fallback: str) -> str:
    """What the person in the browser reads for TikTok's ``code``."""
    advice = ADVICE.get(code)
    return advice.person if advice is not None else fallback


def developer_fix(error: TikTokAuthError, settings: TikTokSettings) -> str | None:
    """What to change, for the log line of a failed sign-in; None when nothing is known."""
    described = error.description.lower()
    for needle, fix in _BY_DESCRIPTION:
        if needle in described:
            return _fill(fix, settings)
    advice = ADVICE.get(error.code)
    return None if advice is None else _fill(advice.developer, settings)


def _fill(text: str, settings: TikTokSettings) -> str:
    return text.format(
        client_key=settings.client_key,
        redirect_uri=settings.redirect_uri,
        pkce=settings.pkce,
        other_pkce="hex" if settings.pkce == "base64url" else "base64url",
        scopes=",".join(settings.scopes),
    )


# The callback's ``?error=`` value becomes a code only in this shape (it reaches logs and pages).
_ERROR_CODE = re.compile(r"[a-z0-9_.]{1,64}")


def denied(error: str) -> AuthorizationDenied:
    """TikTok's ``?error=``; its description is anyone's text and is never shown."""
    if error == "access_denied":
        return SignInCancelled()
    code = error if _ERROR_CODE.fullmatch(error) else "authorization_error"
    return AuthorizationDenied(code, person_text(code, N_("TikTok did not grant the sign-in.")))


def for_person(error: TikTokAuthError) -> TikTokAuthError:
    """TikTok's error with the words the person in the browser should read."""
    if not isinstance(error, TikTokAPIError):
        return error
    text = person_text(error.code, error.description)
    if text == error.description:
        return error
    return type(error)(
        error.code,
        text,
        log_id=error.log_id,
        status_code=error.status_code,
        retry_after=error.retry_after,
    )
