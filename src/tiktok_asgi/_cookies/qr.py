"""QR cookies: bind a QR-code sign-in to the browser that asked for its code.

As with flow cookies, each pending QR code has its own short-lived signed cookie (``flow_max_age``),
named after a digest of its id, scoped to ``qr_path`` (``Path=/`` for a ``__Host-`` name), and a
browser keeps at most :data:`MAX_PENDING_QR` of them. The cookie holds TikTok's polling token and
our ``client_ticket``; only the browser holding it can poll the code, and a code signs in once.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from itsdangerous import BadData, SignatureExpired

from tiktok_asgi.errors import QrSessionError
from tiktok_asgi.settings import HOST_PREFIX, TikTokSettings

from .pending import beyond_bounds, started_at
from .signing import CookieSpec, Signer

__all__ = ["MAX_PENDING_QR", "QR_ID", "PendingQr", "QrCookies"]

#: QR codes a browser may wait on at once; asking for one more drops the oldest.
MAX_PENDING_QR = 4
_MAX_PENDING_BYTES = 4096
_USED_LIMIT = 10_000
#: The shape of a QR code's id (``secrets.token_urlsafe(16)``).
QR_ID = re.compile(r"[A-Za-z0-9_-]{22}")

_UNKNOWN = (
    "No QR sign-in started in this browser has this code. Cookies may be blocked, or the code "
    "was asked for in another browser."
)
USED = "This QR code was used already. Please get a new code."


@dataclass(frozen=True, slots=True)
class PendingQr:
    """What this browser's QR code is polled with: TikTok's token and our ``client_ticket``."""

    token: str
    client_ticket: str


class QrCookies:
    def __init__(self, settings: TikTokSettings, qr_path: str) -> None:
        self._prefix = f"{settings.cookie_name}_qr_"
        host_only = settings.cookie_name.startswith(HOST_PREFIX)
        self.spec = CookieSpec(
            name=self._prefix,
            path="/" if host_only else _site_root(settings) + qr_path,
            max_age=settings.flow_max_age,
            secure=settings.secure_cookies,
        )
        # Its own salt: a flow or identity cookie can never pass for a QR cookie.
        self._signer = Signer(settings.secret_keys, salt=f"tiktok-asgi.qr:{settings.client_key}")
        self._used: dict[str, float] = {}

    def name(self, qr_id: str) -> str:
        return self._prefix + hashlib.sha256(qr_id.encode("ascii")).hexdigest()[:16]

    def begin(self, qr_id: str, pending: PendingQr, cookies: Mapping[str, str]) -> list[str]:
        """The ``Set-Cookie`` values of a new QR code: its cookie, and the clearing of this
        browser's older ones beyond :data:`MAX_PENDING_QR` (or the byte budget) and of those
        that can no longer sign in."""
        payload = {"qr": qr_id, "token": pending.token, "ticket": pending.client_ticket}
        new = self.spec.header(
            self._signer.dumps({**payload, "at": time.time()}), name=self.name(qr_id)
        )
        dropped = beyond_bounds(
            new,
            self._prefix,
            cookies,
            self._started_at,
            most=MAX_PENDING_QR,
            max_bytes=_MAX_PENDING_BYTES,
        )
        return [new, *(self.spec.clear(name=name) for name in dropped)]

    def _started_at(self, value: str) -> float | None:
        return started_at(self._signer, value, self.spec.max_age, "qr")

    def read(self, qr_id: str, cookies: Mapping[str, str]) -> PendingQr | None:
        """This browser's pending QR code ``qr_id``; None once its time is up.

        :class:`QrSessionError` when this browser did not ask for it (or altered its cookie),
        or when it has signed in already.
        """
        name = self.name(qr_id)
        value = cookies.get(name)
        if value is None:
            raise QrSessionError("qr_unknown", _UNKNOWN)
        try:
            payload, _ = self._signer.loads(value, max_age=self.spec.max_age)
        except SignatureExpired:
            return None
        except BadData:
            raise QrSessionError("qr_unknown", "The QR sign-in cookie was altered.") from None
        if (
            not isinstance(payload, dict)
            or not isinstance(payload.get("qr"), str)
            or not hmac.compare_digest(payload["qr"].encode(), qr_id.encode())
            or not isinstance(payload.get("token"), str)
            or not isinstance(payload.get("ticket"), str)
        ):
            raise QrSessionError("qr_unknown", _UNKNOWN)
        if self._used.get(name, 0.0) > time.monotonic():
            raise QrSessionError("qr_used", USED)
        return PendingQr(payload["token"], payload["ticket"])

    def use(self, qr_id: str) -> None:
        """Spend ``qr_id`` in this process; :class:`QrSessionError` if it was spent already."""
        name = self.name(qr_id)
        now = time.monotonic()
        if self._used.get(name, 0.0) > now:
            raise QrSessionError("qr_used", USED)
        if len(self._used) >= _USED_LIMIT:
            self._used = {k: t for k, t in self._used.items() if t > now}
            if len(self._used) >= _USED_LIMIT:
                del self._used[next(iter(self._used))]
        self._used[name] = now + self.spec.max_age

    def clear(self, qr_id: str, cookies: Mapping[str, str]) -> list[str]:
        """The header clearing the cookie of ``qr_id``, if this browser has it."""
        name = self.name(qr_id)
        return [self.spec.clear(name=name)] if name in cookies else []


def _site_root(settings: TikTokSettings) -> str:
    """The path the site is served under, as the browser sees it: the redirect URI's path
    before ``callback_path`` ("" at the root)."""
    callback = urlsplit(settings.redirect_uri).path
    return callback[: len(callback) - len(settings.callback_path)].rstrip("/")
