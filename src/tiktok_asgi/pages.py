"""The pages the middleware shows people itself: the error page and the sign-out and disconnect
confirmations.

Both look like the demo (a white card on a dark page, TikTok's colours, WCAG 2.1 AA contrast).
The error page can be restyled: give the middleware ``error_page=``, a callable that receives an
:class:`ErrorPage` and returns the HTML document. Every value of an :class:`ErrorPage` is plain
text: escape it (``html.escape``) where you render it.

Each page is in the language of the ``locale`` setting, else the one the browser's
``Accept-Language`` prefers among those shipped (English when none fits): ``lang`` names it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from typing import Literal

from ._i18n import Markup, fill, html_attributes, language

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
    lang: str = "en"
    """The language ``title`` and ``description`` are in, for ``<html lang>``: ``en``, ``es``,
    ``pt``, ``id``, ``ja``, ``ko``, ``de``, ``fr``, ``ar`` or ``vi``."""
    dir: Literal["ltr", "rtl"] = "ltr"
    """The language's direction, for ``<html dir>``: ``rtl`` for Arabic."""


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
    "color:#161823;border-radius:5px;padding:1px 5px;"
    # Codes and ids read left to right in a right-to-left page too.
    "direction:ltr;unicode-bidi:isolate}"
    ".actions{display:flex;gap:10px;margin-top:18px;flex-wrap:wrap}"
    ".btn{flex:1;display:inline-flex;justify-content:center;font:inherit;font-weight:700;"
    "text-decoration:none;border-radius:10px;padding:11px 16px;cursor:pointer;"
    "border:1px solid #e3e3e4;background:#fff;color:#161823}"
    ".primary{background:#e0143f;border-color:#e0143f;color:#fff}"
    ".primary:hover{background:#c8103e}.btn:focus-visible{outline:3px solid #161823;"
    "outline-offset:2px}"
)


def _document(title: str, body: str, lang: str) -> str:
    return (
        f"<!doctype html><html {html_attributes(language(lang))}><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )


def default_error_page(page: ErrorPage) -> str:
    """The built-in error page, in the language of ``page.lang``."""
    _ = language(page.lang).gettext
    error_code = fill(_("Error code: {code}"), code=_code(page.code))
    log_id = ""
    if page.log_id:
        log_id = "<p>" + fill(_("TikTok log id: {log_id}"), log_id=_code(page.log_id)) + "</p>"
    try_again, back = escape(_("Try again")), escape(_("Back to the site"))
    return _document(
        page.title,
        f"<h1>{escape(page.title)}</h1><p>{escape(page.description)}</p>"
        f"<p>{error_code}</p>{log_id}<div class=actions>"
        f"<a class='btn primary' href='{escape(page.try_again_url)}'>{try_again}</a>"
        f"<a class=btn href='{escape(page.back_url)}'>{back}</a></div>",
        page.lang,
    )


def _code(text: str) -> Markup:
    return Markup(f"<code>{escape(text)}</code>")


def logout_page(action_url: str, back_url: str, *, lang: str = "en") -> str:
    """The page a GET on the logout path shows: signing out changes state, so it takes a POST
    (a link or a prefetch must not sign anyone out). ``lang`` is the page's language."""
    _ = language(lang).gettext
    title = _("Sign out?")
    text = _("You will be signed out of this site. Your TikTok account stays signed in at TikTok.")
    sign_out, stay = escape(_("Sign out")), escape(_("Stay signed in"))
    return _document(
        title,
        f"<h1>{escape(title)}</h1><p>{escape(text)}</p>"
        f"<form class=actions method=post action='{escape(action_url)}'>"
        f"<button class='btn primary' type=submit>{sign_out}</button>"
        f"<a class=btn href='{escape(back_url)}'>{stay}</a></form>",
        lang,
    )


def disconnect_page(action_url: str, back_url: str, *, lang: str = "en") -> str:
    """The page a GET on the disconnect path shows: its button posts the disconnect. ``lang`` is
    the page's language."""
    _ = language(lang).gettext
    title = _("Disconnect TikTok?")
    text = _(
        "This site loses its access to your TikTok account and you are signed out on every "
        "device. Signing in with TikTok again will ask for your consent again."
    )
    disconnect, keep = escape(_("Disconnect")), escape(_("Keep it connected"))
    return _document(
        title,
        f"<h1>{escape(title)}</h1><p>{escape(text)}</p>"
        f"<form class=actions method=post action='{escape(action_url)}'>"
        f"<button class='btn primary' type=submit>{disconnect}</button>"
        f"<a class=btn href='{escape(back_url)}'>{keep}</a></form>",
        lang,
    )
