"""TikTok spoken through Authlib's Starlette client.

Authlib drives the protocol; TikTok's dialect is taught to it the Authlib way:

- :class:`TikTokOAuth2Client` renames ``client_id`` to ``client_key`` in the authorize URL and
  computes TikTok's hex PKCE challenge;
- the ``tiktok_post`` client auth method puts ``client_key`` and ``client_secret`` in the form
  body of token, refresh and revoke requests;
- compliance hooks drop ``scope`` from refresh requests and turn every TikTok error, including
  HTTP 200 with an ``error`` body, into :class:`~tiktok_asgi.errors.TikTokAPIError` with ``log_id``;
- :meth:`TikTokOAuthApp.userinfo` unwraps the v2 envelope.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from authlib.common.urls import add_params_to_qs, url_decode, url_encode
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.integrations.starlette_client import StarletteOAuth2App
from authlib.integrations.starlette_client.integration import StarletteIntegration

from ._http import Response, SharedTransport, TimeoutException, TransportError
from .envelope import read_api_envelope, read_oauth_response
from .errors import TikTokAPIError, TikTokUnavailable
from .settings import TikTokSettings
from .user import TikTokUser, fields_for_scopes

__all__ = ["TikTokOAuth2Client", "TikTokOAuthApp", "reaching_tiktok"]

_CLIENT_ID_PARAM = re.compile(r"(?<=[?&])client_id=")
_AUTH_METHOD = "tiktok_post"


class TikTokOAuth2Client(AsyncOAuth2Client):  # type: ignore[misc]
    """Authlib's async client with TikTok's authorize-URL dialect."""

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


def _drop_refresh_scope(
    url: str, headers: dict[str, str], body: str
) -> tuple[str, dict[str, str], str]:
    params = [(k, v) for k, v in url_decode(body) if k != "scope"]
    return url, headers, url_encode(params)


def _check_token_response(resp: Response) -> Response:
    read_oauth_response(resp, "token endpoint", expect="access_token")
    return resp


def _tiktok_compliance(client: AsyncOAuth2Client) -> None:
    client.register_compliance_hook("refresh_token_request", _drop_refresh_scope)
    client.register_compliance_hook("access_token_response", _check_token_response)
    client.register_compliance_hook("refresh_token_response", _check_token_response)


class TikTokOAuthApp(StarletteOAuth2App):  # type: ignore[misc]
    """One per middleware; every network call builds a fresh client on the shared pool."""

    client_cls = TikTokOAuth2Client

    def __init__(self, settings: TikTokSettings, transport: SharedTransport) -> None:
        super().__init__(
            StarletteIntegration("tiktok"),
            name="tiktok",
            client_id=settings.client_key,
            client_secret=settings.client_secret,
            access_token_url=settings.token_url,
            authorize_url=settings.authorize_url,
            compliance_fix=_tiktok_compliance,
            client_auth_methods=[(_AUTH_METHOD, _tiktok_post)],
            client_kwargs={
                "token_endpoint_auth_method": _AUTH_METHOD,
                "revocation_endpoint_auth_method": _AUTH_METHOD,
                "code_challenge_method": "S256" if settings.pkce else None,
                "tiktok_pkce": settings.pkce,
                "timeout": settings.http_timeout,
            },
        )
        self._settings = settings
        self._transport = transport

    def _get_oauth_client(self, **metadata: Any) -> TikTokOAuth2Client:
        client: TikTokOAuth2Client = super()._get_oauth_client(
            transport=self._transport.get(), **metadata
        )
        return client

    async def authorization_request(
        self, redirect_uri: str, scopes: Iterable[str]
    ) -> dict[str, Any]:
        """``{"url", "state"[, "code_verifier"]}`` for a new login."""
        extra = {"disable_auto_auth": "1"} if self._settings.disable_auto_auth else {}
        rv: dict[str, Any] = await self.create_authorization_url(
            redirect_uri, scope=",".join(scopes), **extra
        )
        return rv

    async def userinfo(self, token: dict[str, Any], granted_scopes: Iterable[str]) -> TikTokUser:
        """The user behind ``token``, asking only for fields the granted scopes unlock."""
        scopes = tuple(granted_scopes)
        resp = await self.get(
            self._settings.userinfo_url,
            token=token,
            params={"fields": ",".join(fields_for_scopes(scopes))},
        )
        data = read_api_envelope(resp, "user info endpoint")
        info = data.get("user")
        try:
            if not isinstance(info, dict):
                raise ValueError("no user object")
            return TikTokUser.from_userinfo(info, scopes)
        except ValueError as exc:
            raise TikTokAPIError(
                "invalid_response", f"TikTok's user info answer is unusable: {exc}"
            ) from exc


@asynccontextmanager
async def reaching_tiktok(what: str) -> AsyncIterator[None]:
    """Network failures become :class:`TikTokUnavailable` (503, or 504 on a timeout)."""
    try:
        yield
    except TimeoutException as exc:
        raise TikTokUnavailable(
            "tiktok_unavailable", f"TikTok's {what} did not answer in time", status_code=504
        ) from exc
    except TransportError as exc:
        raise TikTokUnavailable(
            "tiktok_unavailable", f"TikTok's {what} could not be reached"
        ) from exc
