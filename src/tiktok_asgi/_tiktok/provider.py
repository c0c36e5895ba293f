"""TikTok's dialect of OAuth 2.0, spoken through one long-lived Authlib client.

Nothing else in the package talks OAuth to TikTok. :class:`TikTokProvider` builds the authorize
URL, exchanges a code, reads user info, refreshes and revokes tokens, and carries the bearer
calls of :mod:`tiktok_asgi.api`. TikTok's deviations are taught to Authlib the Authlib way:

- :class:`TikTokOAuth2Client` renames ``client_id`` to ``client_key`` in the authorize URL,
  computes TikTok's hex PKCE challenge for desktop apps, and never keeps a user's token (one client
  serves every user, so it holds no per-user state);
- the ``tiktok_post`` client auth method puts ``client_key`` and ``client_secret`` in the form
  body of token, refresh and revoke requests;
- a compliance hook turns every TikTok error, HTTP 200 with an ``error`` body included, into a
  :class:`~tiktok_asgi.errors.TikTokAPIError` with ``log_id``;
- :meth:`TikTokProvider.user_info` unwraps the v2 envelope.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from authlib.common.urls import add_params_to_qs
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oauth2.rfc6749 import OAuth2Token

from tiktok_asgi.errors import OpenIdMismatch, TikTokAPIError
from tiktok_asgi.settings import TikTokSettings
from tiktok_asgi.user import TikTokUser, fields_for_scopes

from .answers import read_api_envelope, read_oauth_response
from .http import AsyncBaseTransport, Response, SharedTransport, reaching_tiktok

__all__ = ["AuthorizationRequest", "TikTokOAuth2Client", "TikTokProvider"]

logger = logging.getLogger("tiktok_asgi")

_CLIENT_ID_PARAM = re.compile(r"(?<=[?&])client_id=")
_AUTH_METHOD = "tiktok_post"
# RFC 7636 wants 43 to 128 characters of [A-Za-z0-9-._~]: 48 random bytes are 64 of base64url.
_VERIFIER_BYTES = 48
_STATE_BYTES = 24


class TikTokOAuth2Client(AsyncOAuth2Client):  # type: ignore[misc]
    """Authlib's async client with TikTok's authorize-URL dialect, holding no user's token."""

    def create_authorization_url(
        self, url: str, state: str | None = None, code_verifier: str | None = None, **kwargs: Any
    ) -> tuple[str, str]:
        if code_verifier and self.metadata.get("tiktok_pkce") == "hex":
            # TikTok's desktop Login Kit wants hex(SHA-256(verifier)), not RFC 7636 base64url.
            kwargs["code_challenge"] = hashlib.sha256(code_verifier.encode("ascii")).hexdigest()
            kwargs["code_challenge_method"] = "S256"
            code_verifier = None
        uri, state = super().create_authorization_url(url, state, code_verifier, **kwargs)
        return _CLIENT_ID_PARAM.sub("client_key=", uri, count=1), state

    def parse_response_token(self, resp: Response) -> OAuth2Token:
        # Authlib would keep the token on the client; this client is shared by every user.
        return OAuth2Token.from_dict(resp.json())


def _tiktok_post(
    auth: Any, method: str, uri: str, headers: dict[str, str], body: str | bytes
) -> tuple[str, dict[str, str], str]:
    """Client credentials in the form body, under TikTok's names (no HTTP Basic)."""
    text = body.decode("utf-8") if isinstance(body, bytes) else (body or "")
    text = add_params_to_qs(
        text, [("client_key", auth.client_id), ("client_secret", auth.client_secret)]
    )
    if "Content-Length" in headers:
        headers["Content-Length"] = str(len(text.encode("utf-8")))
    return uri, headers, text


def _check_token_response(resp: Response) -> Response:
    read_oauth_response(resp, "token endpoint", expect="access_token")
    return resp


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """A new login: where to send the browser, and what the callback must be checked against."""

    url: str
    state: str
    code_verifier: str | None


class TikTokProvider:
    """TikTok's OAuth endpoints and v2 API, through one Authlib client on the shared pool.

    The client is rebuilt only when the pool is (after a lifespan shutdown); it is never handed a
    user's token, so concurrent sign-ins of different people cannot mix.
    """

    def __init__(self, settings: TikTokSettings, transport: SharedTransport) -> None:
        self.settings = settings
        self.transport = transport
        self._client: TikTokOAuth2Client | None = None
        self._client_transport: AsyncBaseTransport | None = None
        self._extra_authorize = {"disable_auto_auth": "1"} if settings.disable_auto_auth else {}

    def _oauth_client(self) -> TikTokOAuth2Client:
        transport = self.transport.get()
        if self._client is None or self._client_transport is not transport:
            settings = self.settings
            client = TikTokOAuth2Client(
                client_id=settings.client_key,
                client_secret=settings.client_secret,
                token_endpoint_auth_method=_AUTH_METHOD,
                revocation_endpoint_auth_method=_AUTH_METHOD,
                code_challenge_method="S256" if settings.pkce else None,
                tiktok_pkce=settings.pkce,
                timeout=settings.http_timeout,
                transport=transport,
            )
            client.register_client_auth_method((_AUTH_METHOD, _tiktok_post))
            client.register_compliance_hook("access_token_response", _check_token_response)
            self._client, self._client_transport = client, transport
        return self._client

    def authorization_request(self) -> AuthorizationRequest:
        """A fresh state (and PKCE verifier when enabled) and the authorize URL carrying them."""
        # One system call each (Authlib's generator draws every character separately).
        verifier = secrets.token_urlsafe(_VERIFIER_BYTES) if self.settings.pkce else None
        url, state = self._oauth_client().create_authorization_url(
            self.settings.authorize_url,
            state=secrets.token_urlsafe(_STATE_BYTES),
            code_verifier=verifier,
            redirect_uri=self.settings.redirect_uri,
            scope=",".join(self.settings.scopes),
            **self._extra_authorize,
        )
        return AuthorizationRequest(url, state, verifier)

    async def exchange_code(
        self, code: str, *, redirect_uri: str, code_verifier: str | None
    ) -> dict[str, Any]:
        """The token response for an authorization code (TikTok's flat shape)."""
        extra = {"code_verifier": code_verifier} if code_verifier else {}
        async with reaching_tiktok("token endpoint"):
            token = await self._oauth_client().fetch_token(
                self.settings.token_url,
                grant_type="authorization_code",
                code=code,
                redirect_uri=redirect_uri,
                **extra,
            )
        return dict(token)

    async def refresh(self, refresh_token: str) -> dict[str, Any]:
        """A new token response; TikTok rotates the refresh token (no ``scope`` is sent)."""
        async with reaching_tiktok("token endpoint"):
            token = await self._oauth_client().fetch_token(
                self.settings.token_url, grant_type="refresh_token", refresh_token=refresh_token
            )
        return dict(token)

    async def revoke(self, access_token: str) -> None:
        """Revoke ``access_token`` at TikTok; raises :class:`TikTokAuthError` on failure."""
        async with reaching_tiktok("revoke endpoint"):
            resp = await self._oauth_client().revoke_token(
                self.settings.revoke_url, token=access_token
            )
        read_oauth_response(resp, "revoke endpoint", expect=None)

    async def user_info(self, token: Mapping[str, Any], granted: Iterable[str]) -> TikTokUser:
        """The user behind ``token``, asking only for fields the granted scopes unlock.

        The account must be the one the token response named (``open_id``): a cheap guard
        against a token that is not the one this sign-in asked for.
        """
        scopes = tuple(granted)
        resp = await self.call(
            "GET",
            self.settings.userinfo_url,
            str(token["access_token"]),
            params={"fields": ",".join(fields_for_scopes(scopes))},
            what="user info endpoint",
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
