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
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.requests import HTTPConnection
from starlette.types import Scope

from ._tiktok.answers import read_api_envelope
from .context import TikTokContext, tiktok_context
from .errors import API_CALL_STATUS, TikTokAPIError, TikTokRateLimited

__all__ = ["TikTokAPI", "TikTokRateLimited", "tiktok_api"]

logger = logging.getLogger("tiktok_asgi")

Params = Mapping[str, str | int | float | bool]

# How a rate-limited call waits out TikTok's Retry-After (tests record the waits instead).
_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep


class TikTokAPI:
    """A client for TikTok's v2 APIs acting as one signed-in user; get one with :func:`tiktok_api`.

    Calls go to ``api_base_url`` (a setting; TikTok's is ``https://open.tiktokapis.com``).
    A 429 is retried at most ``max_retries`` times, each after TikTok's ``Retry-After`` (1 second
    if absent), unless that is longer than ``max_retry_wait``: then, or when retries run out,
    :class:`TikTokRateLimited` is raised. An access token TikTok calls invalid is refreshed once
    (another instance may have rotated it, or the clocks disagree) and the call retried.
    """

    __slots__ = ("_context", "max_retries", "max_retry_wait")

    def __init__(
        self, context: TikTokContext, *, max_retries: int = 2, max_retry_wait: float = 5.0
    ) -> None:
        if max_retries < 0 or max_retry_wait < 0:
            raise ValueError("max_retries and max_retry_wait must not be negative")
        self._context = context
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait

    @property
    def base_url(self) -> str:
        return self._context.settings.api_base_url

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
        context = self._context
        token = await context.access_token()
        retries = 0
        refreshed = False
        while True:
            resp = await context.tiktok.call(
                method, url, token, params=params, json=json, what=what
            )
            try:
                return read_api_envelope(resp, what)
            except TikTokRateLimited as exc:
                wait = exc.retry_after
                if retries >= self.max_retries or (wait or 0) > self.max_retry_wait:
                    raise TikTokRateLimited(
                        description=f"TikTok's rate limit for {path} was exceeded.",
                        log_id=exc.log_id,
                        retry_after=wait,
                        status_code=API_CALL_STATUS[exc.code],
                    ) from None
                retries += 1
                logger.info(
                    "rate_limited path=%s retry_after=%s",
                    path,
                    wait,
                    extra={"event": "rate_limited"},
                )
                await _sleep(1.0 if wait is None else wait)
            except TikTokAPIError as exc:
                if exc.code == "access_token_invalid" and not refreshed:
                    refreshed = True
                    token = await context.access_token(rejected=token)
                    continue
                status = API_CALL_STATUS.get(exc.code)
                if status is None:
                    raise
                raise TikTokAPIError(
                    exc.code, exc.description, log_id=exc.log_id, status_code=status
                ) from None

    def _url(self, path: str) -> str:
        # The bearer token must only ever travel to TikTok: paths, never URLs.
        if not path.startswith("/") or path.startswith("//") or "://" in path:
            raise ValueError(f"path must be an API path such as '/v2/video/list/', got {path!r}")
        return self.base_url + path


def tiktok_api(
    connection: HTTPConnection | Scope, *, max_retries: int = 2, max_retry_wait: float = 5.0
) -> TikTokAPI:
    """A :class:`TikTokAPI` for the user signed in on this request (or ASGI scope).

    Needs ``token_store=`` on the middleware. Its calls raise
    :class:`~tiktok_asgi.errors.LoginRequired` (401) when nobody with a stored token is signed in.
    """
    context = tiktok_context(connection)
    context.require_session()
    return TikTokAPI(context, max_retries=max_retries, max_retry_wait=max_retry_wait)
