"""The pages the middleware shows people itself: the error page and the sign-out and disconnect
confirmations.

Both look like the demo (a white card on a dark page, TikTok's colours, WCAG 2.1 AA contrast).
The error page can be restyled: give the middleware ``error_page=``, a callable that receives an
:class:`ErrorPage` and returns the HTML document. Every value of an :class:`ErrorPage` is plain
text: escape it (``html.escape``) where you render it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from html import escape

__all__ = ["ErrorPage", "RenderErrorPage", "default_error_page", "disconnect_page", "logout_page"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorPage:
    """What an error page tells the person: plain text, not yet escaped."""

    title: str
    """A short headline, e.g. "Sign-in cancelled"."""
    description: str
    """What happened, in words for the person in the browser."""
    code: str
    """The error code of the troubleshooting table, e.g. ``access_denied``."""
    status_code: int
    """The HTTP status the page is answered with."""
    log_id: str | None
    """TikTok's ``log_id`` when TikTok answered, for support requests."""
    try_again_url: str
    """The login path, with ``next`` kept when it is known."""
    back_url: str
    """Where "Back to the site" goes (``login_redirect``)."""


RenderErrorPage = Callable[[ErrorPage], str]
"""Renders an :class:`ErrorPage` as a whole HTML document."""

# TikTok's red darkened to #e0143f: white text on it has a 4.8:1 contrast (AA needs 4.5:1).
STYLE = (
    "*{box-sizing:border-box}html{color-scheme:dark}"
    "body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;"
    "font:15px/1.5 -apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;"
    "color:#f1f1f2;background:radial-gradient(520px 380px at 12% 8%,#25f4ee2e,transparent 70%),"
    "radial-gradient(560px 420px at 92% 96%,#fe2c5533,transparent 70%),#0f0f14}"
    "main{width:min(460px,calc(100vw - 32px));background:#fff;color:#161823;border-radius:20px;"
    "padding:26px 28px;box-shadow:0 18px 50px #0000008c}"
    "h1{font-size:22px;line-height:1.2;margin:0 0 10px}p{margin:0 0 12px;color:#3a3b41}"
    "code{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f1f1f2;"
    "color:#161823;border-radius:5px;padding:1px 5px}"
    ".actions{display:flex;gap:10px;margin-top:18px;flex-wrap:wrap}"
    ".btn{flex:1;display:inline-flex;justify-content:center;font:inherit;font-weight:700;"
    "text-decoration:none;border-radius:10px;padding:11px 16px;cursor:pointer;"
    "border:1px solid #e3e3e4;background:#fff;color:#161823}"
    ".primary{background:#e0143f;border-color:#e0143f;color:#fff}"
    ".primary:hover{background:#c8103e}.btn:focus-visible{outline:3px solid #161823;"
    "outline-offset:2px}"
)


def _document(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )


def default_error_page(page: ErrorPage) -> str:
    """The built-in error page."""
    log_id = f"<p>TikTok log id: <code>{escape(page.log_id)}</code></p>" if page.log_id else ""
    return _document(
        page.title,
        f"<h1>{escape(page.title)}</h1><p>{escape(page.description)}</p>"
        f"<p>Error code: <code>{escape(page.code)}</code></p>{log_id}"
        f"<div class=actions><a class='btn primary' href='{escape(page.try_again_url)}'>"
        f"Try again</a><a class=btn href='{escape(page.back_url)}'>Back to the site</a></div>",
    )


def logout_page(action_url: str, back_url: str) -> str:
    """The page a GET on the logout path shows: signing out changes state, so it takes a POST
    (a link or a prefetch must not sign anyone out)."""
    return _document(
        "Sign out?",
        "<h1>Sign out?</h1><p>You will be signed out of this site. Your TikTok account stays "
        f"signed in at TikTok.</p><form class=actions method=post action='{escape(action_url)}'>"
        "<button class='btn primary' type=submit>Sign out</button>"
        f"<a class=btn href='{escape(back_url)}'>Stay signed in</a></form>",
    )


def disconnect_page(action_url: str, back_url: str) -> str:
    """The page a GET on the disconnect path shows: its button posts the disconnect."""
    return _document(
        "Disconnect TikTok?",
        "<h1>Disconnect TikTok?</h1><p>This site loses its access to your TikTok account and "
        "you are signed out on every device. Signing in with TikTok again will ask for your "
        "consent again.</p>"
        f"<form class=actions method=post action='{escape(action_url)}'>"
        "<button class='btn primary' type=submit>Disconnect</button>"
        f"<a class=btn href='{escape(back_url)}'>Keep it connected</a></form>",
    )
