"""What every route needs: the app's configuration, the accounts, the state and request parsing."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from tiktok_asgi.emulator._config import EmulatorConfig
from tiktok_asgi.emulator._deliveries import WebhookQueue
from tiktok_asgi.emulator._errors import EmulatorRejected
from tiktok_asgi.emulator._faults import FaultKind
from tiktok_asgi.emulator._qrstate import QrBoard
from tiktok_asgi.emulator._state import EmulatorState, RecordedRequest
from tiktok_asgi.emulator._users import EmulatorUser
from tiktok_asgi.emulator._webhook_target import WebhookTarget

__all__ = ["Core", "is_form", "parse_pairs", "record_of", "single"]

FORM_TYPE = "application/x-www-form-urlencoded"


@dataclass(slots=True)
class Core:
    config: EmulatorConfig
    state: EmulatorState
    # Signs avatar URLs, so the image host can refuse expired or edited ones.
    avatar_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    _users: dict[str, EmulatorUser] = field(default_factory=dict)
    # The app's webhook callback URL, as registered in the app console (and how to reach it).
    webhook: WebhookTarget | None = None
    # Events the app has not taken yet, and every delivery attempt.
    deliveries: WebhookQueue = field(init=False)
    # QR codes of Login Kit with QR code (their lifetime is set by TikTokEmulator).
    qr: QrBoard = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.deliveries = WebhookQueue(self.state.request_log_size)
        self.qr = QrBoard(self.config.clock)

    def add_users(self, users: Iterable[EmulatorUser]) -> None:
        with self._lock:
            known = {u.username for u in self._users.values()}
            for user in users:
                if user.open_id in self._users or user.username in known:
                    raise ValueError(
                        f"a user with open_id {user.open_id!r} or username "
                        f"{user.username!r} already exists"
                    )
                self._users[user.open_id] = user
                known.add(user.username)

    def change_user(self, user: EmulatorUser) -> None:
        """The profile of an existing user changes (same open_id and username)."""
        with self._lock:
            old = self._users.get(user.open_id)
            if old is None or old.username != user.username:
                raise ValueError(f"no user with open_id {user.open_id!r} and that username")
            self._users[user.open_id] = user

    def users(self) -> tuple[EmulatorUser, ...]:
        with self._lock:
            return tuple(self._users.values())

    def find_user(self, key: str) -> EmulatorUser | None:
        """By open_id, or by username with or without the leading ``@``."""
        with self._lock:
            if key in self._users:
                return self._users[key]
            name = key.removeprefix("@")
            return next((u for u in self._users.values() if u.username == name), None)


def parse_pairs(raw: bytes | str) -> dict[str, list[str]]:
    """A query string or form body, keeping blanks and repeats so both can be refused."""
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    return parse_qs(text, keep_blank_values=True)


def is_form(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == FORM_TYPE


def single(pairs: dict[str, list[str]], name: str) -> str | None:
    """One value of ``name``: None when absent or blank; a repeat is an invalid request."""
    values = pairs.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise EmulatorRejected("invalid_request", f"Parameter {name} is repeated.")
    return values[0] or None


def record_of(
    endpoint: str,
    method: str,
    path: str,
    query_string: bytes | str,
    header_pairs: Iterable[tuple[str, str]],
    body: bytes,
    fault: FaultKind | None,
) -> RecordedRequest:
    """A :class:`RecordedRequest` from the parts both the app and the transport have."""
    headers: dict[str, str] = {}
    for name, value in header_pairs:
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    try:
        query = parse_pairs(query_string)
        form = parse_pairs(body) if is_form(headers.get("content-type")) else {}
    except UnicodeDecodeError:
        query, form = {}, {}
    return RecordedRequest(endpoint, method, path, query, form, headers, fault)
