"""Calling TikTok's v2 APIs as the signed-in user.

    api = tiktok_api(request)
    data = await api.post("/v2/video/list/", params={"fields": "id,title"}, json={"max_count": 10})

The client uses the middleware's connection pool and the user's access token (refreshed when
due), unwraps TikTok's ``{data, error}`` envelope, and turns every failure into a
:class:`~tiktok_asgi.errors.TikTokAuthError` subclass with a stable code and TikTok's ``log_id``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection
from starlette.types import Scope

from ._http import AsyncClient
from .envelope import read_api_envelope, retry_after
from .errors import TikTokAPIError
from .provider import reaching_tiktok
from .tokens import LoginSession, login_session

__all__ = ["TikTokAPI", "TikTokRateLimited", "tiktok_api"]

logger = logging.getLogger("tiktok_asgi")

_USERINFO_PATH = "/v2/user/info/"
# HTTP statuses a handler should answer with, by TikTok's error code (default 502).
_STATUS = {
    "access_token_invalid": 401,
    "scope_not_authorized": 403,
    "scope_permission_missed": 403,
    "invalid_params": 400,
    "invalid_param": 400,
}
Params = Mapping[str, str | int | float | bool]


class TikTokRateLimited(TikTokAPIError):
    """TikTok kept answering 429 ``rate_limit_exceeded``; ``retry_after`` is its last hint."""

    status_code = 429

    def __init__(self, description: str, *, log_id: str | None, retry_after: float | None) -> None:
        super().__init__(
            "rate_limit_exceeded",
            description,
            log_id=log_id,
            status_code=429,
            retry_after=retry_after,
        )


def api_base_url(userinfo_url: str) -> str:
    """TikTok's API root, from the configured user-info URL (a mount prefix is kept)."""
    if userinfo_url.endswith(_USERINFO_PATH):
        return userinfo_url[: -len(_USERINFO_PATH)]
    parts = urlsplit(userinfo_url)
    return f"{parts.scheme}://{parts.netloc}"


class TikTokAPI:
    """A client for TikTok's v2 APIs acting as one signed-in user; get one with :func:`tiktok_api`.

    A 429 is retried at most ``max_retries`` times, each after TikTok's ``Retry-After`` (1 second
    if absent), unless that is longer than ``max_retry_wait``: then, or when retries run out,
    :class:`TikTokRateLimited` is raised. An access token TikTok calls invalid is refreshed once
    (another instance may have rotated it, or the clocks disagree) and the call retried.
    """

    __slots__ = ("_base", "_session", "max_retries", "max_retry_wait")

    def __init__(
        self, session: LoginSession, *, max_retries: int = 2, max_retry_wait: float = 5.0
    ) -> None:
        if max_retries < 0 or max_retry_wait < 0:
            raise ValueError("max_retries and max_retry_wait must not be negative")
        self._session = session
        self._base = api_base_url(session.manager.settings.userinfo_url)
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait

    @property
    def base_url(self) -> str:
        return self._base

    async def get(self, path: str, *, params: Params | None = None) -> dict[str, Any]:
        """``GET <base><path>``; the envelope's ``data``."""
        return await self.request("GET", path, params=params)

    async def post(
        self, path: str, *, params: Params | None = None, json: Any = None
    ) -> dict[str, Any]:
        """``POST <base><path>`` with a JSON body; the envelope's ``data``."""
        return await self.request("POST", path, params=params, json={} if json is None else json)

    async def request(
        self, method: str, path: str, *, params: Params | None = None, json: Any = None
    ) -> dict[str, Any]:
        url = self._url(path)
        what = f"API {path}"
        manager = self._session.manager
        token = await self._session.access_token()
        retries = 0
        refreshed = False
        async with AsyncClient(
            transport=manager.transport.get(),
            timeout=manager.settings.http_timeout,
            trust_env=False,
        ) as client:
            while True:
                async with reaching_tiktok(what):
                    resp = await client.request(
                        method,
                        url,
                        params=dict(params) if params else None,
                        json=json,
                        headers={"authorization": f"Bearer {token}"},
                    )
                try:
                    return read_api_envelope(resp, what)
                except TikTokAPIError as exc:
                    if exc.code == "rate_limit_exceeded" or resp.status_code == 429:
                        wait = retry_after(resp)
                        if retries >= self.max_retries or (wait or 0) > self.max_retry_wait:
                            raise TikTokRateLimited(
                                f"TikTok's rate limit for {path} was exceeded.",
                                log_id=exc.log_id,
                                retry_after=wait,
                            ) from None
                        retries += 1
                        logger.info(
                            "rate_limited path=%s retry_after=%s",
                            path,
                            wait,
                            extra={"event": "rate_limited"},
                        )
                        await asyncio.sleep(1.0 if wait is None else wait)
                        continue
                    if exc.code == "access_token_invalid" and not refreshed:
                        refreshed = True
                        token = await self._session.access_token(rejected=token)
                        continue
                    exc.status_code = _STATUS.get(exc.code, exc.status_code)
                    raise

    def _url(self, path: str) -> str:
        # The bearer token must only ever travel to TikTok: paths, never URLs.
        if not path.startswith("/") or path.startswith("//") or "://" in path:
            raise ValueError(f"path must be an API path such as '/v2/video/list/', got {path!r}")
        return self._base + path


def tiktok_api(
    connection: HTTPConnection | Scope, *, max_retries: int = 2, max_retry_wait: float = 5.0
) -> TikTokAPI:
    """A :class:`TikTokAPI` for the user signed in on this request (or ASGI scope).

    Needs ``token_store=`` on the middleware. Raises :class:`~tiktok_asgi.TikTokAuthError`
    ``login_required`` (401) when nobody with a stored token is signed in.
    """
    return TikTokAPI(
        login_session(connection), max_retries=max_retries, max_retry_wait=max_retry_wait
    )
