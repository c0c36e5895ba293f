"""What counts as a browser: its identity cookie, else its lowest-named pending-login or QR-code
cookie; other cookies, and none, make no browser."""

from __future__ import annotations

from tiktok_asgi._limits import browser_cookie

IDENTITY = b"__Host-tiktok_session"
PENDING = (IDENTITY + b"_flow_", IDENTITY + b"_qr_")


def _browser(*cookie_headers: bytes) -> bytes | None:
    return browser_cookie([(b"cookie", h) for h in cookie_headers], IDENTITY, PENDING)


def test_the_identity_cookie_wins() -> None:
    header = b"__Host-tiktok_session_flow_aa=f1; __Host-tiktok_session=id1; theme=dark"
    assert _browser(header) == b"id1"


def test_else_the_lowest_named_pending_cookie() -> None:
    assert _browser(b"__Host-tiktok_session_flow_bb=f2; __Host-tiktok_session_flow_aa=f1") == b"f1"
    assert _browser(b"__Host-tiktok_session_qr_cc=q1", b"other=1") == b"q1"


def test_other_or_empty_cookies_are_no_browser() -> None:
    assert _browser(b"theme=dark; tiktok_session=not-ours-on-https") is None
    assert _browser(b"__Host-tiktok_session=; junk") is None
    assert browser_cookie([(b"accept", b"*/*")], IDENTITY, PENDING) is None
