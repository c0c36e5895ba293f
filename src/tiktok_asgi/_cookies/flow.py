"""Flow cookies: bind a pending login's ``state`` to the browser that started it.

Each pending login has its own short-lived cookie, named after a digest of its state, so several
tabs can sign in at once without one breaking another. They are scoped to the parent path of the
login and callback paths (``Path=/`` for a ``__Host-`` name), so that the login sees the
browser's other pending logins and keeps at most :data:`MAX_PENDING_LOGINS` of them: otherwise
every login started and never finished would add a cookie to each request until the ``Cookie``
header outgrew what servers accept. A state is accepted once: its cookie is cleared by the
callback and the state is remembered (in this process) until it would have expired anyway.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from itsdangerous import BadData, SignatureExpired

from tiktok_asgi.errors import StateError
from tiktok_asgi.settings import HOST_PREFIX, TikTokSettings

from .pending import beyond_bounds, started_at
from .signing import CookieSpec, Signer

__all__ = ["MAX_PENDING_LOGINS", "FlowCookies"]

#: Pending logins kept per browser: a new login drops the oldest beyond this many, and beyond
#: ``_MAX_PENDING_BYTES`` of ``Cookie`` header (a long ``next`` makes a flow cookie ~3 KB).
MAX_PENDING_LOGINS = 8
_MAX_PENDING_BYTES = 4096
_MAX_STATE_LENGTH = 256
_CONSUMED_LIMIT = 10_000


class FlowCookies:
    def __init__(self, settings: TikTokSettings) -> None:
        self._prefix = f"{settings.cookie_name}_flow_"
        # A __Host- name needs Path=/ (browsers drop it otherwise); other flow cookies stay
        # below the login and callback paths, where few other requests carry them.
        host_only = settings.cookie_name.startswith(HOST_PREFIX)
        self.spec = CookieSpec(
            name=self._prefix,
            path="/" if host_only else _login_and_callback_parent(settings),
            max_age=settings.flow_max_age,
            secure=settings.secure_cookies,
        )
        # The client key in the salt: another app sharing secret_key cannot mint our flows.
        self._signer = Signer(settings.secret_keys, salt=f"tiktok-asgi.flow:{settings.client_key}")
        self._consumed: dict[str, float] = {}

    def _name(self, state: str) -> str:
        return self._prefix + hashlib.sha256(state.encode("utf-8")).hexdigest()[:16]

    def start(self, state: str, data: Mapping[str, Any]) -> str:
        """The ``Set-Cookie`` value remembering a new pending login."""
        # "at" orders pending logins finer than the signature's one-second timestamp.
        value = self._signer.dumps({"state": state, "data": dict(data), "at": time.time()})
        return self.spec.header(value, name=self._name(state))

    def begin(self, state: str, data: Mapping[str, Any], cookies: Mapping[str, str]) -> list[str]:
        """Every ``Set-Cookie`` value of a new login's answer: its flow cookie, and the clearing
        of this browser's (``cookies``: the request's) older pending logins beyond
        :data:`MAX_PENDING_LOGINS` (or the byte budget) and of flow cookies that can no longer
        finish one."""
        new = self.start(state, data)
        dropped = beyond_bounds(
            new,
            self._prefix,
            cookies,
            self._started_at,
            most=MAX_PENDING_LOGINS,
            max_bytes=_MAX_PENDING_BYTES,
        )
        return [new, *(self.spec.clear(name=name) for name in dropped)]

    def _started_at(self, value: str) -> float | None:
        return started_at(self._signer, value, self.spec.max_age, "state")

    def finish(self, state: str | None, cookies: Mapping[str, str]) -> dict[str, Any]:
        """The pending login's data; :class:`StateError` if ``state`` does not belong to a login
        this browser started in the last ``flow_max_age`` (see :meth:`clear` for its cookie)."""
        if not state:
            raise StateError("state_missing", "The sign-in answer carries no state.")
        if len(state) > _MAX_STATE_LENGTH or not state.isascii():
            raise StateError("state_mismatch", "The sign-in answer carries an unknown state.")
        name = self._name(state)
        value = cookies.get(name)
        if value is None:
            raise StateError(
                "state_mismatch",
                "No sign-in started in this browser matches this answer. Cookies may be blocked, "
                "or the sign-in began on another site address or in another browser.",
            )
        try:
            payload, _ = self._signer.loads(value, max_age=self.spec.max_age)
        except SignatureExpired:
            raise StateError(
                "state_expired", "The sign-in took too long. Please start again."
            ) from None
        except BadData:
            raise StateError("state_invalid", "The sign-in cookie was altered.") from None
        if (
            not isinstance(payload, dict)
            or not isinstance(payload.get("state"), str)
            or not hmac.compare_digest(payload["state"].encode(), state.encode())
            or not isinstance(payload.get("data"), dict)
        ):
            raise StateError("state_mismatch", "The sign-in answer does not match this browser.")
        self._consume(name)
        data: dict[str, Any] = payload["data"]
        return data

    def peek(self, state: str | None, cookies: Mapping[str, str]) -> dict[str, Any] | None:
        """The pending login's data if this browser holds a valid flow cookie for ``state``,
        without using it up (to keep ``next`` on an error page); else None."""
        if not state or len(state) > _MAX_STATE_LENGTH or not state.isascii():
            return None
        value = cookies.get(self._name(state))
        if value is None:
            return None
        try:
            payload, _ = self._signer.loads(value, max_age=self.spec.max_age)
        except BadData:
            return None
        if not isinstance(payload, dict) or payload.get("state") != state:
            return None
        data = payload.get("data")
        return data if isinstance(data, dict) else None

    def consumed_name(self, state: str) -> str:
        """The name under which a finished ``state`` is remembered, in a shared store too."""
        return self._name(state)

    def clear(self, state: str | None, cookies: Mapping[str, str]) -> list[str]:
        """Headers clearing the cookie of ``state`` if this browser has it (used on ``?error=``)."""
        if not state or len(state) > _MAX_STATE_LENGTH or not state.isascii():
            return []
        name = self._name(state)
        return [self.spec.clear(name=name)] if name in cookies else []

    def _consume(self, name: str) -> None:
        now = time.monotonic()
        if self._consumed.get(name, 0.0) > now:
            raise StateError("state_reused", "This sign-in answer was already used.")
        if len(self._consumed) >= _CONSUMED_LIMIT:
            self._consumed = {k: t for k, t in self._consumed.items() if t > now}
            if len(self._consumed) >= _CONSUMED_LIMIT:
                del self._consumed[next(iter(self._consumed))]
        self._consumed[name] = now + self.spec.max_age


def _login_and_callback_parent(settings: TikTokSettings) -> str:
    """The longest path both the login and the callback are below, as the browser sees them:
    ``/auth/tiktok`` for the default paths. The site's root path is the redirect URI's path
    before ``callback_path``."""
    callback = urlsplit(settings.redirect_uri).path
    login = callback[: len(callback) - len(settings.callback_path)] + settings.login_path
    common: list[str] = []
    for a, b in zip(login.split("/"), callback.split("/"), strict=False):
        if a != b:
            break
        common.append(a)
    return "/".join(common) or "/"
