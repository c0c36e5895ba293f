"""The emulator's QR codes (Login Kit with QR code, v2) and how their status moves.

A code is ``new`` when get_qrcode makes it, ``scanned`` once a phone opens its scan URL (the
client_ticket in that URL is then echoed by check_qrcode), ``confirmed`` once the person confirms
(check_qrcode then carries the authorization code), ``utilised`` once that code was redeemed at
the token endpoint, and ``expired`` when its lifetime ends before it was confirmed or the person
cancels on the phone. TikTok does not document the lifetime: :data:`QR_CODE_TTL` is this
emulator's choice, on the emulator's clock.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from tiktok_asgi._i18n import N_
from tiktok_asgi.emulator._errors import EmulatorRejected

__all__ = ["PLACEHOLDER", "QR_CODE_TTL", "QrBoard", "QrCode", "QrStatusName"]

QrStatusName = Literal["new", "scanned", "confirmed", "expired", "utilised"]
#: Seconds a QR code can be scanned and confirmed (five minutes).
QR_CODE_TTL = 300
#: What TikTok puts in the scan URL for the app to replace with its own client_ticket.
PLACEHOLDER = "tobefilled"
_KEEP_AFTER_EXPIRY = 3600.0  # a stale code is still recognised (as expired) for an hour
_MAX_TICKET = 511  # TikTok: URL-safe, under 512 characters URL-encoded
_TICKET_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


@dataclass(slots=True)
class QrCode:
    """One QR code: ``token`` is the app's to poll with, ``scan_id`` is in the scan URL."""

    token: str
    scan_id: str
    scopes: tuple[str, ...]
    state: str
    redirect_uri: str
    expires_at: float
    client_ticket: str | None = None
    cancelled: bool = False
    open_id: str | None = None
    granted: tuple[str, ...] = ()
    code: str | None = None
    utilised: bool = False


@dataclass(slots=True)
class QrBoard:
    """Every QR code of the emulator, behind one lock (never held while awaiting)."""

    clock: Callable[[], float]
    ttl: int = QR_CODE_TTL
    _by_token: dict[str, QrCode] = field(default_factory=dict)
    _by_scan: dict[str, QrCode] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.ttl <= 0:
            raise ValueError("qr_code_ttl must be a positive number of seconds")

    def create(self, scopes: tuple[str, ...], state: str, redirect_uri: str) -> QrCode:
        now = self.clock()
        code = QrCode(
            token="qrt." + secrets.token_urlsafe(32),
            scan_id=secrets.token_urlsafe(18),
            scopes=scopes,
            state=state,
            redirect_uri=redirect_uri,
            expires_at=now + self.ttl,
        )
        with self._lock:
            for stale in [
                c for c in self._by_token.values() if c.expires_at + _KEEP_AFTER_EXPIRY < now
            ]:
                del self._by_token[stale.token]
                del self._by_scan[stale.scan_id]
            self._by_token[code.token] = code
            self._by_scan[code.scan_id] = code
        return code

    def by_token(self, token: str) -> QrCode | None:
        with self._lock:
            return self._by_token.get(token)

    def by_scan(self, scan_id: str) -> QrCode | None:
        with self._lock:
            return self._by_scan.get(scan_id)

    def status(self, code: QrCode, redeemed: Callable[[str], bool]) -> QrStatusName:
        """Where ``code`` stands now; ``redeemed`` tells whether an authorization code was
        exchanged already."""
        if code.code is not None:
            with self._lock:
                # Sticky: the token endpoint forgets redeemed codes once they expire.
                code.utilised = code.utilised or redeemed(code.code)
                return "utilised" if code.utilised else "confirmed"
        if code.cancelled or self.clock() >= code.expires_at:
            return "expired"
        return "scanned" if code.client_ticket is not None else "new"

    def scan(self, scan_id: str | None, client_ticket: str | None) -> QrCode:
        """A phone opens the scan URL: the code becomes ``scanned`` with that ticket.

        Opening it again with the same ticket is fine (a reload); :class:`EmulatorRejected`
        (rendered as TikTok's refusal page) for an unknown, expired or used code, a ticket the
        app never filled in, or another ticket than the first scan's.
        """
        with self._lock:
            code = self._by_scan.get(scan_id or "")
            self._check_open(code)
            assert code is not None
            if not client_ticket or client_ticket == PLACEHOLDER:
                raise _refused(
                    "invalid_request",
                    "This QR code has no client_ticket: the app must replace "
                    f"client_ticket={PLACEHOLDER} in scan_qrcode_url with its own.",
                    "client_ticket",
                )
            if len(client_ticket) > _MAX_TICKET or not _TICKET_CHARS.issuperset(client_ticket):
                raise _refused(
                    "invalid_request",
                    "client_ticket must be URL-safe and shorter than 512 characters.",
                    "client_ticket",
                )
            if code.client_ticket is not None and code.client_ticket != client_ticket:
                raise _refused("invalid_request", N_("This QR code was scanned on another device."))
            code.client_ticket = client_ticket
            return code

    def confirm(
        self,
        scan_id: str | None,
        client_ticket: str | None,
        issue: Callable[[QrCode], tuple[str, str, tuple[str, ...]]],
    ) -> QrCode:
        """The person confirms on the phone: ``issue`` makes the authorization code and returns
        it with the open_id and the granted scopes."""
        code = self.scan(scan_id, client_ticket)
        with self._lock:
            self._check_open(code)
            issued, open_id, granted = issue(code)
            code.code, code.open_id, code.granted = issued, open_id, granted
            return code

    def cancel(self, scan_id: str | None, client_ticket: str | None) -> QrCode:
        """The person cancels on the phone: the code can sign nobody in (``expired``)."""
        code = self.scan(scan_id, client_ticket)
        with self._lock:
            self._check_open(code)
            code.cancelled = True
            return code

    def _check_open(self, code: QrCode | None) -> None:
        if code is None:
            raise _refused("invalid_request", N_("This QR code is not valid."))
        if code.code is not None:
            raise _refused("invalid_request", N_("This QR code was used already."))
        if code.cancelled or self.clock() >= code.expires_at:
            raise _refused(
                "expired", N_("This QR code has expired. Get a new code on the other device.")
            )


def _refused(error: str, description: str, field: str | None = None) -> EmulatorRejected:
    return EmulatorRejected(error, description, render="page", field=field)
