"""Whether TikTok's redirect to ``redirect_uri`` can reach the callback, under the root path the
requests arrive with.

The middleware answers its callback at ``callback_path`` below the ASGI ``root_path``: mounted at
``/api`` (Starlette's ``Mount``, ``--root-path``), the browser must come back to
``/api/auth/tiktok/callback``. A ``redirect_uri`` without that prefix sends it elsewhere, where
nothing answers but a 404 the middleware never sees; so the first of the library's own requests
under each root path compares the two, and a mismatch is logged once with the fix.

With no root path nothing is compared: ``redirect_uri`` ends with ``callback_path`` (the settings
check it), and a prefix in front of it may be a proxy's that the application never sees.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from starlette.types import Scope

from ._paths import site_path
from .settings import TikTokSettings

__all__ = ["MountCheck"]

logger = logging.getLogger("tiktok_asgi")

_MAX_ROOTS = 64  # a mount with a path parameter makes any number of root paths: checked no more


class MountCheck:
    """Compares ``redirect_uri`` with where the callback answers, once per root path seen."""

    __slots__ = ("_callback_path", "_origin", "_redirect_path", "_seen")

    def __init__(self, settings: TikTokSettings) -> None:
        parts = urlsplit(settings.redirect_uri)
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._redirect_path = parts.path
        self._callback_path = settings.callback_path
        self._seen: set[str] = set()

    def check(self, scope: Scope) -> None:
        """Log once per root path when TikTok's redirect cannot reach this callback."""
        root: str = scope.get("root_path", "")
        if not root or root in self._seen or len(self._seen) >= _MAX_ROOTS:
            return
        self._seen.add(root)
        answered_at = site_path(scope, self._callback_path)
        if self._redirect_path.endswith(answered_at):
            return  # a proxy's prefix in front is fine
        below = root.rstrip("/")
        rest = self._redirect_path[len(below) :]
        if self._redirect_path.startswith(below + "/") and rest != self._callback_path:
            # redirect_uri is right; callback_path repeats the root path.
            fix = f"set callback_path to {rest!r}, its path below the root path"
        else:
            uri = self._origin + answered_at
            fix = (
                f"register {uri} as the redirect URI in the TikTok app console and set "
                "redirect_uri to it"
            )
        logger.warning(
            "the middleware is served below root path %r, where its callback answers at %s; "
            "redirect_uri %s sends the browser elsewhere after sign-in (a 404): %s",
            root,
            answered_at,
            self._origin + self._redirect_path,
            fix,
            extra={"event": "callback_unreachable"},
        )
