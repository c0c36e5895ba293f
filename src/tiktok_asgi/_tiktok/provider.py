"""TikTok's dialect of OAuth 2.0, spoken through one long-lived Authlib client.

Nothing else in the package talks OAuth to TikTok. :class:`TikTokProvider` builds the authorize
URL, exchanges a code, reads user info, refreshes and revokes tokens, and carries the bearer
calls of :mod:`tiktok_asgi.api`. TikTok's deviations from standard OAuth, handled here:

- the authorize URL carries ``client_key`` (never ``client_id``), comma-joined scopes, and a PKCE
  challenge in base64url (web apps) or TikTok's hex (desktop apps); its fixed part is built once;
- token, refresh and revoke requests carry ``client_key`` and ``client_secret`` in the form body
  (no HTTP Basic), with no ``scope`` on refresh;
- :class:`TikTokOAuth2Client` (Authlib's) never keeps a user's token, so one client serves every
  user; a compliance hook turns every TikTok error, HTTP 200 with an ``error`` body included, into
  a :class:`~tiktok_asgi.errors.TikTokAPIError` with ``log_id``;
- :meth:`TikTokProvider.user_info` asks only for what the granted scopes unlock, unwraps the v2
  envelope and checks that it names the token's account;
- QR-code sign-in: :meth:`TikTokProvider.get_qrcode` (``client_key``, comma-joined ``scope``,
  ``state``; no secret) and :meth:`TikTokProvider.check_qrcode` (``client_key``,
  ``client_secret``, ``token``) under ``api_base_url``, read in the flat OAuth shape.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode

from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oauth2.rfc6749 import OAuth2Token

from tiktok_asgi._telemetry import TELEMETRY
from tiktok_asgi.errors import OpenIdMismatch, TikTokAPIError, TikTokAuthError
from tiktok_asgi.settings import TikTokSettings
from tiktok_asgi.user import TikTokUser, fields_for_scopes

from .answers import _log_id as log_id_of
from .answers import read_api_envelope, read_oauth_response
from .http import AsyncBaseTransport, Auth, Response, SharedTransport, reaching_tiktok

__all__ = [
    "QR_STATUSES",
    "AuthorizationRequest",
    "QrCode",
    "QrStatus",
    "TikTokOAuth2Client",
    "TikTokProvider",
    "granted_scopes",
]

logger = logging.getLogger("tiktok_asgi")

# RFC 7636 wants 43 to 128 characters of [A-Za-z0-9-._~]: 48 random bytes are 64 of base64url.
_VERIFIER_BYTES = 48
_STATE_BYTES = 24
_AS_IS = Auth()  # the credentials are in the form body already: nothing to add or re-encode
_MAX_SCOPE_SETS = 64  # distinct granted-scope sets whose user-info URL is kept
#: What TikTok's check_qrcode answers as a QR code's ``status``.
QR_STATUSES = frozenset({"new", "scanned", "confirmed", "expired", "utilised"})


class TikTokOAuth2Client(AsyncOAuth2Client):  # type: ignore[misc]
    """Authlib's async client, holding no user's token: one client serves every user."""

    def parse_response_token(self, resp: Response) -> OAuth2Token:
        # Authlib would keep the token on the client.
        return OAuth2Token.from_dict(resp.json())


def _check_token_response(resp: Response) -> Response:
    read_oauth_response(resp, "token endpoint", expect="access_token")
    return resp


def _challenge(verifier: str, encoding: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    if encoding == "hex":  # TikTok's desktop Login Kit wants hex, not RFC 7636 base64url
        return digest.hex()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """A new login: where to send the browser, and what the callback must be checked against."""

    url: str
    state: str
    code_verifier: str | None


@dataclass(frozen=True, slots=True)
class QrCode:
    """A QR code TikTok made for a new sign-in: ``scan_url`` still carries TikTok's
    ``client_ticket=tobefilled``; ``token`` is what its status is polled with."""

    scan_url: str
    token: str


@dataclass(frozen=True, slots=True)
class QrStatus:
    """One check_qrcode answer, every field as TikTok sent it (None when absent)."""

    status: str
    client_ticket: str | None
    code: str | None
    redirect_uri: str | None
    scope: str | None
    log_id: str | None

    def authorization(self, fallback_redirect_uri: str) -> tuple[str, str]:
        """The confirmed code and the redirect URI to exchange it with.

        TikTok's answers carry the code bare, or inside ``redirect_uri`` (``…?code=…``); the
        exchange repeats the redirect URI exactly as it came, its query cut off when it held
        the code, and the app's own only when TikTok named none.
        """
        code, redirect_uri = self.code, self.redirect_uri
        if redirect_uri is not None and "?" in redirect_uri:
            base, _, query = redirect_uri.partition("?")
            inner = parse_qs(query.partition("#")[0]).get("code")
            if inner:
                code, redirect_uri = code or inner[0], base
        if not code:
            raise TikTokAPIError(
                "invalid_response",
                "TikTok confirmed the QR code without a code",
                log_id=self.log_id,
            )
        return code, redirect_uri or fallback_redirect_uri


def _text(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    return value if isinstance(value, str) and value else None


class TikTokProvider:
    """TikTok's OAuth endpoints and v2 API, through one Authlib client on the shared pool.

    The client is rebuilt only when the pool is (after a lifespan shutdown); it is never handed a
    user's token, so concurrent sign-ins of different people cannot mix. What every request to
    TikTok shares (the authorize URL's fixed part, the client credentials of the form bodies, the
    user-info URL of each set of scopes) is built once.
    """

    def __init__(self, settings: TikTokSettings, transport: SharedTransport) -> None:
        self.settings = settings
        self.transport = transport
        self._client: TikTokOAuth2Client | None = None
        self._client_transport: AsyncBaseTransport | None = None
        # TikTok's dialect: client_key (never client_id), comma-joined scopes, S256 only.
        fixed = {
            "client_key": settings.client_key,
            "response_type": "code",
            "scope": ",".join(settings.scopes),
            "redirect_uri": settings.redirect_uri,
        }
        if settings.disable_auto_auth:
            fixed["disable_auto_auth"] = "1"
        if settings.pkce:
            fixed["code_challenge_method"] = "S256"
        self._authorize_prefix = f"{settings.authorize_url}?{urlencode(fixed)}&state="
        # Client credentials go in the form body under TikTok's names (no HTTP Basic).
        self._credentials = {
            "client_key": settings.client_key,
            "client_secret": settings.client_secret,
        }
        self._userinfo_urls: dict[tuple[str, ...], str] = {}
        self._get_qrcode_url = f"{settings.api_base_url}/v2/oauth/get_qrcode/"
        self._check_qrcode_url = f"{settings.api_base_url}/v2/oauth/check_qrcode/"

    def _oauth_client(self) -> TikTokOAuth2Client:
        transport = self.transport.get()
        if self._client is None or self._client_transport is not transport:
            client = TikTokOAuth2Client(timeout=self.settings.http_timeout, transport=transport)
            client.register_compliance_hook("access_token_response", _check_token_response)
            self._client, self._client_transport = client, transport
        return self._client

    def authorization_request(self) -> AuthorizationRequest:
        """A fresh state (and PKCE verifier when enabled) and the authorize URL carrying them."""
        # Both are URL-safe as they are: base64url of one system call's random bytes each.
        state = secrets.token_urlsafe(_STATE_BYTES)
        url = self._authorize_prefix + state
        pkce = self.settings.pkce
        if not pkce:
            return AuthorizationRequest(url, state, None)
        verifier = secrets.token_urlsafe(_VERIFIER_BYTES)
        return AuthorizationRequest(
            f"{url}&code_challenge={_challenge(verifier, pkce)}", state, verifier
        )

    async def exchange_code(
        self, code: str, *, redirect_uri: str | None, code_verifier: str | None
    ) -> dict[str, Any]:
        """The token response for an authorization code (TikTok's flat shape). A Mini's code
        comes without a redirect URI (None: left out, not Authlib's default)."""
        extra = {"code_verifier": code_verifier} if code_verifier else {}
        async with reaching_tiktok("token endpoint"):
            token = await self._oauth_client().fetch_token(
                self.settings.token_url,
                auth=_AS_IS,
                grant_type="authorization_code",
                code=code,
                redirect_uri=redirect_uri,
                **extra,
                **self._credentials,
            )
        return dict(token)

    async def refresh(self, refresh_token: str) -> dict[str, Any]:
        """A new token response; TikTok rotates the refresh token (no ``scope`` is sent)."""
        async with reaching_tiktok("token endpoint"):
            token = await self._oauth_client().fetch_token(
                self.settings.token_url,
                auth=_AS_IS,
                grant_type="refresh_token",
                refresh_token=refresh_token,
                **self._credentials,
            )
        return dict(token)

    async def client_token(self) -> dict[str, Any]:
        """A client access token (``clt.…``, no user): the one call that proves the client key
        and secret are a pair. TikTok answers ``invalid_client`` otherwise."""
        async with reaching_tiktok("token endpoint"):
            token = await self._oauth_client().fetch_token(
                self.settings.token_url,
                auth=_AS_IS,
                grant_type="client_credentials",
                **self._credentials,
            )
        return dict(token)

    async def revoke(self, access_token: str) -> None:
        """Revoke ``access_token`` at TikTok; raises :class:`TikTokAuthError` on failure."""
        outcome = "ok"
        try:
            with TELEMETRY.span("tiktok_asgi.revoke"):
                async with reaching_tiktok("revoke endpoint"):
                    resp = await self._oauth_client().revoke_token(
                        self.settings.revoke_url,
                        token=access_token,
                        body=urlencode(self._credentials),
                        auth=_AS_IS,
                    )
                read_oauth_response(resp, "revoke endpoint", expect=None)
        except TikTokAuthError as exc:
            outcome = exc.code
            raise
        finally:
            TELEMETRY.add("tiktok_asgi.revocations", {"outcome": outcome})

    async def user_info(self, token: Mapping[str, Any], granted: Iterable[str]) -> TikTokUser:
        """The user behind ``token``, asking only for fields the granted scopes unlock.

        The account must be the one the token response named (``open_id``): a cheap guard
        against a token that is not the one this sign-in asked for.
        """
        scopes = tuple(granted)
        resp = await self.call(
            "GET", self._userinfo_url(scopes), str(token["access_token"]), what="user info endpoint"
        )
        info = read_api_envelope(resp, "user info endpoint").get("user")
        try:
            if not isinstance(info, dict):
                raise ValueError("no user object")
            user = TikTokUser.from_userinfo(info, scopes)
        except ValueError as exc:
            raise TikTokAPIError(
                "invalid_response", f"TikTok's user info answer is unusable: {exc}"
            ) from exc
        issued_to = token.get("open_id")
        if isinstance(issued_to, str) and issued_to and issued_to != user.open_id:
            userinfo_log_id = _log_id(resp)
            logger.error(
                "open_id_mismatch token_log_id=%s userinfo_log_id=%s",
                token.get("log_id"),
                userinfo_log_id,
                extra={"event": "login_failed", "code": "open_id_mismatch"},
            )
            raise OpenIdMismatch(log_id=userinfo_log_id)
        return user

    async def get_qrcode(self, state: str) -> QrCode:
        """A QR code for a new sign-in asking for the configured scopes."""
        form = {
            "client_key": self.settings.client_key,
            "scope": ",".join(self.settings.scopes),
            "state": state,
        }
        body = await self._post_form(self._get_qrcode_url, form, "get_qrcode endpoint", "token")
        scan_url = _text(body, "scan_qrcode_url")
        if scan_url is None:
            raise TikTokAPIError(
                "invalid_response",
                "TikTok's get_qrcode answer has no scan_qrcode_url",
                log_id=log_id_of(body.get("log_id")),
            )
        return QrCode(scan_url, str(body["token"]))

    async def check_qrcode(self, token: str) -> QrStatus:
        """Where the QR code polled with ``token`` stands (``status`` one of
        :data:`QR_STATUSES`)."""
        form = {**self._credentials, "token": token}
        body = await self._post_form(
            self._check_qrcode_url, form, "check_qrcode endpoint", "status"
        )
        log_id = log_id_of(body.get("log_id"))
        status = body["status"]
        if status not in QR_STATUSES:
            raise TikTokAPIError(
                "invalid_response",
                "TikTok's check_qrcode answer has an unknown status",
                log_id=log_id,
            )
        return QrStatus(
            status=status,
            client_ticket=_text(body, "client_ticket"),
            code=_text(body, "code"),
            redirect_uri=_text(body, "redirect_uri"),
            scope=_text(body, "scope"),
            log_id=log_id,
        )

    async def _post_form(
        self, url: str, form: Mapping[str, str], what: str, expect: str
    ) -> dict[str, Any]:
        async with reaching_tiktok(what):
            resp: Response = await self._oauth_client().request(
                "POST", url, data=dict(form), withhold_token=True
            )
        return read_oauth_response(resp, what, expect=expect)

    def _userinfo_url(self, scopes: tuple[str, ...]) -> str:
        url = self._userinfo_urls.get(scopes)
        if url is None:
            if len(self._userinfo_urls) >= _MAX_SCOPE_SETS:
                self._userinfo_urls.clear()
            fields = urlencode({"fields": ",".join(fields_for_scopes(scopes))})
            url = self._userinfo_urls[scopes] = f"{self.settings.userinfo_url}?{fields}"
        return url

    async def call(
        self,
        method: str,
        url: str,
        access_token: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        what: str,
    ) -> Response:
        """One bearer call to TikTok's API; the raw answer (the caller reads the envelope)."""
        async with reaching_tiktok(what):
            resp: Response = await self._oauth_client().request(
                method,
                url,
                params=dict(params) if params else None,
                json=json,
                headers={"authorization": f"Bearer {access_token}"},
                withhold_token=True,
            )
        return resp


def _log_id(resp: Response) -> str | None:
    """TikTok's ``log_id`` of an API answer already read successfully."""
    log_id = resp.json().get("error", {}).get("log_id")
    return log_id if isinstance(log_id, str) else None


def granted_scopes(
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
