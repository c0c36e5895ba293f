"""The authorize request: validated once, the same way for the page, the form and ``approve()``.

Every invalid request is answered with TikTok's refusal page ("We couldn't log in with TikTok …
If you're a developer, correct the following: <parameter>", HTTP 400) and never with a redirect,
even when the redirect URI is already known to be good (e.g. ``invalid_scope``): a client can
never mistake a misconfiguration for a person's decision.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from tiktok_asgi._i18n import N_
from tiktok_asgi.emulator._config import PRODUCT_NAMES, EmulatorConfig
from tiktok_asgi.emulator._errors import EmulatorRejected
from tiktok_asgi.emulator._pkce import challenge_is_wellformed
from tiktok_asgi.emulator._users import EmulatorUser

__all__ = [
    "AUTHORIZE_PARAMS",
    "AuthorizeRequest",
    "check_target_user",
    "choose_scopes",
    "denied_redirect",
    "granted_redirect",
    "validate_authorize",
]

AUTHORIZE_PARAMS = (
    "client_key",
    "response_type",
    "scope",
    "redirect_uri",
    "state",
    "disable_auto_auth",
    "code_challenge",
    "code_challenge_method",
)
BASIC = "user.info.basic"


@dataclass(frozen=True, slots=True)
class AuthorizeRequest:
    client_key: str
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str
    disable_auto_auth: bool
    code_challenge: str | None

    def params(self) -> dict[str, str]:
        """The request's parameters again, for the consent form's hidden fields."""
        out = {
            "client_key": self.client_key,
            "response_type": "code",
            "scope": ",".join(self.scopes),
            "redirect_uri": self.redirect_uri,
            "state": self.state,
        }
        if self.disable_auto_auth:
            out["disable_auto_auth"] = "1"
        if self.code_challenge is not None:
            out["code_challenge"] = self.code_challenge
            out["code_challenge_method"] = "S256"
        return out


def _refuse(error: str, description: str, field: str | None) -> EmulatorRejected:
    return EmulatorRejected(error, description, render="page", field=field)


def _single(params: Mapping[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise _refuse("invalid_request", f"Parameter {name} is repeated.", name)
    return values[0]


def validate_authorize(params: Mapping[str, list[str]], config: EmulatorConfig) -> AuthorizeRequest:
    """Check an authorize request as TikTok does; raise :class:`EmulatorRejected` if unusable."""
    if _single(params, "client_secret") is not None:
        raise _refuse(
            "invalid_request",
            "client_secret must never be sent to the authorize URL: it is now leaked to the "
            "browser. Rotate it in the app console.",
            "client_secret",
        )
    client_key = _single(params, "client_key")
    if not client_key:
        hint = " (TikTok does not read client_id)" if _single(params, "client_id") else ""
        raise _refuse("invalid_request", f"Parameter client_key is missing{hint}.", "client_key")
    if client_key != config.client_key:
        raise _refuse("invalid_client", "Client key is not recognised.", "client_key")
    redirect_uri = _single(params, "redirect_uri")
    if not redirect_uri:
        raise _refuse("invalid_request", "Parameter redirect_uri is missing.", "redirect_uri")
    if not config.redirect_allowed(redirect_uri):
        raise _refuse("invalid_request", _unregistered(redirect_uri, config), "redirect_uri")
    if _single(params, "response_type") != "code":
        raise _refuse("unsupported_response_type", "response_type must be code.", "response_type")
    scopes = _scopes(_single(params, "scope"), config)
    state = _single(params, "state")
    if not state:
        raise _refuse("invalid_request", "Parameter state is missing.", "state")
    auto = _single(params, "disable_auto_auth")
    if auto not in (None, "0", "1"):
        raise _refuse("invalid_request", "disable_auto_auth must be 0 or 1.", "disable_auto_auth")
    challenge = _challenge(params, config)
    return AuthorizeRequest(client_key, redirect_uri, scopes, state, auto == "1", challenge)


def _unregistered(redirect_uri: str, config: EmulatorConfig) -> str:
    text = (
        f"redirect_uri {redirect_uri!r} is not registered for this app; it must match a "
        "registered URI exactly, including any trailing slash. "
        f"Registered: {', '.join(config.redirect_uris) or '(none)'}. "
        "To register it, start the emulator with --redirect-uri URI (repeat for several), pass "
        "redirect_uris=[...] to TikTokEmulator, or add it in the TikTok app console for a real app."
    )
    if config.app_type == "desktop":
        text += " Desktop apps may use any port on a registered http loopback URI."
    else:
        text += (
            " A desktop app (--app-type desktop) may use any port on a registered "
            "http://127.0.0.1 or http://localhost URI."
        )
    return text


def _challenge(params: Mapping[str, list[str]], config: EmulatorConfig) -> str:
    """PKCE is required: web and desktop apps alike must send an S256 challenge."""
    challenge = _single(params, "code_challenge")
    method = _single(params, "code_challenge_method")
    if not challenge:
        encoding = "hex" if config.app_type == "desktop" else "base64url"
        raise _refuse(
            "invalid_request",
            f"code_challenge is required: this {config.app_type} app must send PKCE "
            f"(code_challenge = {encoding} SHA-256 of the code_verifier, "
            "code_challenge_method=S256).",
            "code_challenge",
        )
    if method != "S256":
        raise _refuse(
            "invalid_request",
            "code_challenge requires code_challenge_method=S256 (TikTok supports only S256).",
            "code_challenge_method",
        )
    if not challenge_is_wellformed(challenge):
        raise _refuse(
            "invalid_request", "Code verifier or code challenge is invalid.", "code_challenge"
        )
    return challenge


def _scopes(raw: str | None, config: EmulatorConfig) -> tuple[str, ...]:
    """Each scope needs a product the app has (else TikTok's bare scope error), then approval."""
    if not raw:
        raise _refuse("invalid_scope", "Parameter scope is missing.", "scope")
    if any(ch.isspace() for ch in raw):
        raise _refuse(
            "invalid_scope", f"Scopes must be separated by commas, not spaces: {raw!r}.", "scope"
        )
    scopes = tuple(dict.fromkeys(raw.split(",")))
    for scope in scopes:
        product = config.missing_product(scope)
        if product is not None:
            note = " (TikTok no longer offers it to new apps)" if product == "display_api" else ""
            raise _refuse(
                "invalid_scope",
                f"Scope {scope!r} needs the {PRODUCT_NAMES[product]} product, which this app "
                f"does not have{note}: drop {scope} from the request, or add the product.",
                "scope",
            )
    unapproved = [s for s in scopes if s not in config.approved_scopes]
    if "" in scopes or unapproved:
        raise _refuse(
            "invalid_scope",
            f"Scope {','.join(unapproved) or raw!r} is not approved for this app.",
            "scope",
        )
    return scopes


def check_target_user(
    config: EmulatorConfig, request: AuthorizeRequest, user: EmulatorUser
) -> None:
    """A sandbox app lets only its target users (at most 10) sign in."""
    if not config.sandbox or {user.open_id, user.username} & set(config.target_users):
        return
    pairs = [
        ("error", "unauthorized_client"),
        ("error_type", "client_key"),
        ("error_description", "This account is not a target user of this sandbox app."),
        ("state", request.state),
    ]
    not_a_target = N_(
        "This account (@{username}) is not a target user of this sandbox app. Sign in with a "
        "target user, or add this account as a target user in the app's sandbox settings (at "
        "most 10)."
    )
    raise EmulatorRejected(
        "non_sandbox_target",
        not_a_target.format(username=user.username),
        render="page",
        redirect=_with_query(request.redirect_uri, pairs),
    )


def choose_scopes(request: AuthorizeRequest, chosen: Iterable[str] | None) -> tuple[str, ...]:
    """The scopes a person grants: a subset of the requested ones, always with basic info."""
    if chosen is None:
        return request.scopes
    chosen_set = set(chosen)
    extra = chosen_set.difference(request.scopes)
    if extra:
        raise ValueError(f"scopes {sorted(extra)} were not requested by the authorize URL")
    if BASIC in request.scopes:
        chosen_set.add(BASIC)  # the consent page does not let anyone untick it
    return tuple(s for s in request.scopes if s in chosen_set)


def _with_query(uri: str, pairs: list[tuple[str, str]]) -> str:
    return f"{uri}?{urlencode(pairs, quote_via=quote, safe='')}"


def granted_redirect(request: AuthorizeRequest, code: str, scopes: tuple[str, ...]) -> str:
    """``redirect_uri?code=…&scopes=a,b&state=…`` with every value percent-encoded."""
    pairs = [("code", code), ("scopes", ",".join(scopes)), ("state", request.state)]
    return _with_query(request.redirect_uri, pairs)


def denied_redirect(request: AuthorizeRequest) -> str:
    """Where the cancel button sends the browser."""
    pairs = [
        ("error", "access_denied"),
        ("error_description", "The user denied the authorization request."),
        ("state", request.state),
    ]
    return _with_query(request.redirect_uri, pairs)
