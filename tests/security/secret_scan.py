"""A scan of every ``tiktok_asgi`` log record and every span of the whole test run for secrets.

``tests/conftest.py`` imports :func:`secret_scan`, a session-wide autouse fixture: it lowers the
``tiktok_asgi`` logger to DEBUG for the run (so INFO events are produced and scanned too),
inspects each record as it is emitted — message, arguments, ``extra`` fields, exception text —
and each span as it ends (the run's global tracer provider records every one: name, attributes,
events, status), and fails the run at its end if any carried a client secret, a secret key, an
access or refresh token, an authorization code, a signed cookie value or an encrypted token
record.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tiktok_asgi.emulator import TEST_SECRET_KEY, TikTokEmulator

__all__ = ["SecretScanner", "SpanCount", "findings_in", "secret_scan"]

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

_DEFAULT_SECRET = TikTokEmulator().client_secret
PATTERNS: dict[str, re.Pattern[str]] = {
    "access token": re.compile(r"act\.[0-9A-Za-z]{8}"),
    "refresh token": re.compile(r"rft\.[0-9A-Za-z]{8}"),
    "authorization code": re.compile(r"[0-9A-Za-z_-]{16}\*1![0-9]{4}\.va"),
    "token suffix": re.compile(r"[0-9A-Za-z]{16}![0-9]{4}\.va"),
    "signed cookie": re.compile(
        r"\.?e[yJ][A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{20,}"
    ),
    "encrypted token record": re.compile(r"gAAAAA[A-Za-z0-9_-]{20,}"),
    "bearer header": re.compile(r"Bearer\s+\S{8,}", re.IGNORECASE),
    "client secret": re.compile(re.escape(_DEFAULT_SECRET) + r"|client_secret=[^&\s*]"),
    "secret key": re.compile(re.escape(TEST_SECRET_KEY)),
}
_STANDARD = frozenset(vars(logging.LogRecord("n", 0, "p", 0, "m", None, None))) | {"message"}


def _texts(record: logging.LogRecord) -> Iterator[str]:
    try:
        yield record.getMessage()
    except Exception:  # a malformed record still gets its raw parts scanned
        yield str(record.msg)
    yield repr(record.args)
    for key, value in vars(record).items():
        if key not in _STANDARD:
            yield f"{key}={value!r}"
    if record.exc_info and record.exc_info[1] is not None:
        yield "".join(traceback.format_exception(record.exc_info[1]))
    if record.exc_text:
        yield record.exc_text
    if record.stack_info:
        yield record.stack_info


def _span_texts(span: ReadableSpan) -> Iterator[str]:
    yield span.name
    yield repr(dict(span.attributes or {}))
    for event in span.events:
        yield event.name
        yield repr(dict(event.attributes or {}))
    yield span.status.description or ""


def _kinds(texts: Iterator[str]) -> list[str]:
    found = []
    for text in texts:
        found.extend(kind for kind, pattern in PATTERNS.items() if pattern.search(text))
    return sorted(set(found))


def findings_in(record: logging.LogRecord) -> list[str]:
    """What kinds of secret ``record`` carries (empty if none)."""
    return _kinds(_texts(record))


class SecretScanner(logging.Handler):
    """Counts records and remembers those that carry secrets (their text is never kept)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records = 0
        self.events: dict[str, int] = {}
        self.leaks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records += 1
        event = getattr(record, "event", None)
        if isinstance(event, str):
            self.events[event] = self.events.get(event, 0) + 1
        kinds = findings_in(record)
        if kinds:
            where = f"{record.pathname}:{record.lineno}"
            self.leaks.append(f"{where} ({record.levelname} {record.msg!r}): {', '.join(kinds)}")


class SpanCount:
    """How many spans the run's tracer provider ended (each scanned by :func:`_span_scanner`)."""

    spans = 0


def _span_scanner(scanner: SecretScanner, count: type[SpanCount]) -> Any:
    """A span processor scanning each span as it ends; what it finds goes to the log
    scanner's ``leaks``. Built here: a subprocess may import this module without the SDK."""
    from opentelemetry.sdk.trace import SpanProcessor

    class SpanScanner(SpanProcessor):
        def on_end(self, span: ReadableSpan) -> None:
            count.spans += 1
            kinds = _kinds(_span_texts(span))
            if kinds:
                scanner.leaks.append(f"span {span.name}: {', '.join(kinds)}")

    return SpanScanner()


SCANNER = SecretScanner()
SPANS = SpanCount


@pytest.fixture(scope="session", autouse=True)
def secret_scan() -> Iterator[SecretScanner]:
    logger = logging.getLogger("tiktok_asgi")
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(SCANNER)
    # Every middleware of the run traces through the global provider (tests that record their
    # own spans set theirs for a while): every span is recorded, and scanned as it ends.
    from opentelemetry import trace  # here: a subprocess may import this module without it
    from opentelemetry.sdk.trace import TracerProvider

    provider = TracerProvider()
    provider.add_span_processor(_span_scanner(SCANNER, SPANS))
    trace.set_tracer_provider(provider)
    try:
        yield SCANNER
    finally:
        logger.removeHandler(SCANNER)
        logger.setLevel(level)
    assert not SCANNER.leaks, "secrets in tiktok_asgi log records and spans:\n" + "\n".join(
        SCANNER.leaks
    )
