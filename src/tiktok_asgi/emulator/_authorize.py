"""The authorize request: validated once, the same way for the page, the form and ``approve()``.

Every invalid request is answered with an error page (HTTP 400) and never with a redirect, even
when the redirect URI is already known to be good (e.g. ``invalid_scope``): a client can never
mistake a misconfiguration for a person's decision.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from tiktok_asgi.emulator._config import EmulatorConfig
from tiktok_asgi.emulator._pkce import challenge_is_wellformed

__all__ = [
    "AUTHORIZE_PARAMS",
    "AuthorizeRequest",
    "EmulatorRejected",
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


class EmulatorRejected(Exception):
    """The emulator refused an authorize request, as TikTok's error page would."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description


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


def _single(params: Mapping[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise EmulatorRejected("invalid_request", f"Parameter {name} is repeated.")
    return values[0]


def validate_authorize(params: Mapping[str, list[str]], config: EmulatorConfig) -> AuthorizeRequest:
    """Check an authorize request as TikTok does; raise :class:`EmulatorRejected` if unusable."""
    if _single(params, "client_secret") is not None:
        raise EmulatorRejected(
            "invalid_request",
            "client_secret must never be sent to the authorize URL: it is now leaked to the "
            "browser. Rotate it in the app console.",
        )
    client_key = _single(params, "client_key")
    if not client_key:
        hint = " (TikTok does not read client_id)" if _single(params, "client_id") else ""
        raise EmulatorRejected("invalid_request", f"Parameter client_key is missing{hint}.")
    if client_key != config.client_key:
        raise EmulatorRejected("invalid_client", "Client key is not recognised.")
    redirect_uri = _single(params, "redirect_uri")
    if not redirect_uri:
        raise EmulatorRejected("invalid_request", "Parameter redirect_uri is missing.")
    if redirect_uri not in config.redirect_uris:
        raise EmulatorRejected(
            "invalid_request",
            f"redirect_uri {redirect_uri!r} is not registered for this app; it must match a "
            "registered URI exactly, including any trailing slash.",
        )
    if _single(params, "response_type") != "code":
        raise EmulatorRejected("unsupported_response_type", "response_type must be code.")
    scopes = _scopes(_single(params, "scope"), config)
    state = _single(params, "state")
    if not state:
        raise EmulatorRejected("invalid_request", "Parameter state is missing.")
    auto = _single(params, "disable_auto_auth")
    if auto not in (None, "0", "1"):
        raise EmulatorRejected("invalid_request", "disable_auto_auth must be 0 or 1.")
    challenge = _single(params, "code_challenge")
    method = _single(params, "code_challenge_method")
    if challenge is not None or method is not None:
        if method != "S256" or not challenge:
            raise EmulatorRejected(
                "invalid_request", "code_challenge requires code_challenge_method=S256."
            )
        if not challenge_is_wellformed(challenge, config.pkce):
            raise EmulatorRejected("invalid_request", "Code verifier or code challenge is invalid.")
    return AuthorizeRequest(client_key, redirect_uri, scopes, state, auto == "1", challenge)


def _scopes(raw: str | None, config: EmulatorConfig) -> tuple[str, ...]:
    if not raw:
        raise EmulatorRejected("invalid_scope", "Parameter scope is missing.")
    if any(ch.isspace() for ch in raw):
        raise EmulatorRejected(
            "invalid_scope", f"Scopes must be separated by commas, not spaces: {raw!r}."
        )
    scopes = tuple(dict.fromkeys(raw.split(",")))
    unapproved = [s for s in scopes if s not in config.approved_scopes]
    if "" in scopes or unapproved:
        raise EmulatorRejected(
            "invalid_scope",
            f"Scope {','.join(unapproved) or raw!r} is not approved for this app.",
        )
    return scopes


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
