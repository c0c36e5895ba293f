"""In-memory state: codes, token pairs, faults, recorded requests and rate-limit windows.

Every method takes one lock and never awaits while holding it, so the state is safe both for
concurrent requests on one event loop and for a test thread driving a server thread.
"""

from __future__ import annotations

import math
import secrets
import string
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from tiktok_asgi.emulator._errors import EmulatorRejected
from tiktok_asgi.emulator._faults import Fault, FaultKind

__all__ = ["REQUEST_LOG_SIZE", "CodeRecord", "EmulatorState", "Grant", "RecordedRequest"]

REQUEST_LOG_SIZE = 10_000
_ALNUM = string.ascii_letters + string.digits
RATE_WINDOW = 60.0


def _rand(n: int, alphabet: str = _ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def _suffix() -> str:
    return f"!{secrets.randbelow(9000) + 1000}.va"


def new_code() -> str:
    """Shaped like TikTok's codes, whose ``*`` and ``!`` must survive URL encoding."""
    return _rand(48, _ALNUM + "-_") + "*1" + _suffix()


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request that reached an emulator endpoint (names of headers are lower case).

    ``fault`` names the injected fault that answered it, if any.
    """

    endpoint: str
    method: str
    path: str
    query: dict[str, list[str]]
    form: dict[str, list[str]]
    headers: dict[str, str]
    fault: FaultKind | None = None


@dataclass(slots=True)
class Grant:
    """One live token pair: what a user granted to the app."""

    open_id: str
    scopes: tuple[str, ...]
    access_token: str = ""
    access_expires_at: float = 0.0
    refresh_token: str = ""
    refresh_expires_at: float = 0.0
    revoked: bool = False


@dataclass(slots=True)
class CodeRecord:
    open_id: str
    scopes: tuple[str, ...]
    redirect_uri: str
    challenge: str | None
    expires_at: float
    used: bool = False
    grant: Grant | None = None
    native: bool = False  # minted by a native SDK: its challenge is hex, whatever the app type


@dataclass(slots=True)
class _Armed:
    fault: Fault
    remaining: int | None


@dataclass(slots=True)
class EmulatorState:
    clock: Callable[[], float]
    access_ttl: int
    refresh_ttl: int
    code_ttl: int
    request_log_size: int = REQUEST_LOG_SIZE
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _codes: dict[str, CodeRecord] = field(default_factory=dict)
    _access: dict[str, Grant] = field(default_factory=dict)
    _refresh: dict[str, Grant] = field(default_factory=dict)
    _faults: dict[str, deque[_Armed]] = field(default_factory=dict)
    _requests: deque[RecordedRequest] = field(init=False)
    _windows: dict[str, deque[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.request_log_size < 1:
            raise ValueError("request_log_size must be a positive number of requests")
        self._requests = deque(maxlen=self.request_log_size)

    # Codes and tokens

    def issue_code(
        self,
        open_id: str,
        scopes: tuple[str, ...],
        redirect_uri: str,
        challenge: str | None,
        *,
        native: bool = False,
    ) -> str:
        code = new_code()
        now = self.clock()
        with self._lock:
            # Used codes are kept until expiry so a replay is recognised; then forgotten.
            for stale in [c for c, r in self._codes.items() if r.expires_at < now]:
                del self._codes[stale]
            self._codes[code] = CodeRecord(
                open_id, scopes, redirect_uri, challenge, now + self.code_ttl, native=native
            )
        return code

    def exchange_code(
        self, code: str, redirect_uri: str | None, pkce_ok: Callable[[CodeRecord], bool]
    ) -> Grant:
        """Redeem ``code`` once; replaying it revokes the tokens it produced."""
        now = self.clock()
        with self._lock:
            record = self._codes.get(code)
            if record is None:
                raise EmulatorRejected("invalid_grant", "Authorization code is invalid.")
            if record.used:
                if record.grant is not None:
                    self._drop(record.grant)
                raise EmulatorRejected(
                    "invalid_grant",
                    "Authorization code has been used; the tokens issued from it are revoked.",
                )
            if record.expires_at <= now:
                raise EmulatorRejected("invalid_grant", "Authorization code is expired.")
            if redirect_uri is None and record.redirect_uri:
                raise EmulatorRejected("invalid_request", "Parameter redirect_uri is missing.")
            if record.redirect_uri != (redirect_uri or ""):
                raise EmulatorRejected(
                    "invalid_request",
                    "Redirect_uri is not matched with the uri when requesting code.",
                )
            if not pkce_ok(record):
                raise EmulatorRejected(
                    "invalid_request", "Code verifier or code challenge is invalid."
                )
            record.used = True
            record.grant = Grant(record.open_id, record.scopes)
            self._rotate(record.grant, now)
            return record.grant

    def code_redeemed(self, code: str) -> bool:
        """Whether ``code`` was exchanged at the token endpoint (QR codes turn ``utilised``)."""
        with self._lock:
            record = self._codes.get(code)
            return record is not None and record.used

    def refresh(self, refresh_token: str) -> Grant:
        """Rotate: a new access and refresh token; the old pair stops working."""
        now = self.clock()
        with self._lock:
            grant = self._refresh.get(refresh_token)
            if grant is None:
                raise EmulatorRejected("invalid_grant", "Refresh token is invalid or expired.")
            if grant.refresh_expires_at <= now:
                self._drop(grant)
                raise EmulatorRejected("invalid_grant", "Refresh token is invalid or expired.")
            self._access.pop(grant.access_token, None)
            self._refresh.pop(grant.refresh_token, None)
            self._rotate(grant, now)
            return grant

    def revoke(self, access_token: str) -> None:
        """Revoking disconnects the app from the user's account, as at TikTok: every grant of
        that user ends, not only the one behind this token."""
        with self._lock:
            grant = self._access.get(access_token)
            if grant is None:
                raise EmulatorRejected("invalid_request", "Access token is invalid or expired.")
            self._drop_user(grant.open_id)

    def revoke_user(self, open_id: str) -> int:
        """The user removes the app: every grant of theirs ends; returns how many there were."""
        with self._lock:
            return self._drop_user(open_id)

    def _drop_user(self, open_id: str) -> int:
        grants = {id(g): g for g in self._access.values() if g.open_id == open_id}
        grants.update({id(g): g for g in self._refresh.values() if g.open_id == open_id})
        for grant in grants.values():
            self._drop(grant)
        return len(grants)

    def connected(self, open_id: str) -> bool:
        """Whether the user has a live grant (the app shows in their connected apps)."""
        with self._lock:
            now = self.clock()
            return any(
                g.open_id == open_id and g.refresh_expires_at > now for g in self._refresh.values()
            )

    def grant_for(self, access_token: str) -> Grant | None:
        """The live grant behind an access token, or None if unknown, expired or revoked."""
        with self._lock:
            grant = self._access.get(access_token)
            if grant is None or grant.access_expires_at <= self.clock():
                return None
            return grant

    def _rotate(self, grant: Grant, now: float) -> None:
        grant.access_token = "act." + secrets.token_hex(16) + _rand(28) + _suffix()
        grant.refresh_token = "rft." + secrets.token_hex(16) + _rand(28) + _suffix()
        grant.access_expires_at = now + self.access_ttl
        grant.refresh_expires_at = now + self.refresh_ttl
        self._access[grant.access_token] = grant
        self._refresh[grant.refresh_token] = grant

    def _drop(self, grant: Grant) -> None:
        grant.revoked = True
        self._access.pop(grant.access_token, None)
        self._refresh.pop(grant.refresh_token, None)

    # Faults

    def inject(self, endpoint: str, fault: Fault, times: int | None) -> None:
        if times is not None and times < 1:
            raise ValueError("times must be a positive count, or None for until cleared")
        with self._lock:
            self._faults.setdefault(endpoint, deque()).append(_Armed(fault, times))

    def take_fault(self, endpoint: str, only: frozenset[str] | None = None) -> Fault | None:
        """The next armed fault for ``endpoint`` (if its kind is in ``only``), counted down."""
        with self._lock:
            queue = self._faults.get(endpoint)
            if not queue or (only is not None and queue[0].fault.kind not in only):
                return None
            armed = queue[0]
            if armed.remaining is not None:
                armed.remaining -= 1
                if armed.remaining == 0:
                    queue.popleft()
            return armed.fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    # Recording and rate limits

    def record(self, request: RecordedRequest) -> None:
        """Keep ``request``; the oldest record goes once ``request_log_size`` are kept."""
        with self._lock:
            self._requests.append(request)

    def recorded(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def throttle(self, key: str, limit: int | None) -> int | None:
        """Count one request; the ``Retry-After`` seconds if it is over the sliding window."""
        if limit is None:
            return None
        now = self.clock()
        with self._lock:
            window = self._windows.setdefault(key, deque())
            while window and window[0] <= now - RATE_WINDOW:
                window.popleft()
            if len(window) >= limit:
                return max(1, math.ceil(window[0] + RATE_WINDOW - now))
            window.append(now)
            return None
