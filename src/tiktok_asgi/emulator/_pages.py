"""Plain HTML pages (no JavaScript): the shared look, error pages and the emulator's index.

Pages are in the language the request's ``Accept-Language`` prefers among the library's (see
:func:`page_language`). A refusal's description is translated when it is for the person; the ones
telling a developer which parameter to fix stay English, as TikTok's name the parameter.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from http import HTTPStatus

from starlette.requests import Request
from starlette.responses import HTMLResponse

from tiktok_asgi._i18n import (
    DEFAULT,
    Language,
    fill,
    for_request,
    html_attributes,
    language,
    text,
)

__all__ = [
    "error_page",
    "gateway_page",
    "html_page_response",
    "index_page",
    "layout",
    "page_language",
]

# Colours meet WCAG 2.1 AA contrast (4.5:1 for text) on the white card.
CSS = """
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;
 background:linear-gradient(135deg,#25f4ee22,#fe2c5522),#f8f8f8;
 font:15px/1.45 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
 color:#161823}
main{width:min(440px,94vw);background:#fff;border-radius:16px;padding:28px 28px 22px;
 box-shadow:0 8px 32px #0000001f;margin:24px 0}
.brand{display:flex;align-items:center;gap:8px;font-weight:700;font-size:13px;color:#c8103e;
 letter-spacing:.04em;text-transform:uppercase}
.brand b{display:inline-block;width:22px;height:22px;border-radius:6px;
 background:#161823;box-shadow:-2px -2px 0 #25f4ee,2px 2px 0 #fe2c55}
h1{font-size:21px;margin:14px 0 4px}
p.sub{margin:0 0 18px;color:#57585f}
fieldset{border:0;padding:0;margin:0 0 18px}
legend{font-weight:600;margin-bottom:8px}
label.row{display:flex;align-items:center;gap:12px;padding:9px 12px;border:1px solid #e3e3e4;
 border-radius:10px;margin-bottom:8px;cursor:pointer}
label.row:has(input:checked){border-color:#fe2c55;background:#fff5f7}
label.row img{width:40px;height:40px;border-radius:50%}
label.row small{display:block;color:#6b6c73}
code{background:#f1f1f2;color:#3a3b41;border-radius:4px;padding:1px 5px;font-size:13px;
 direction:ltr;unicode-bidi:isolate}
.actions{display:flex;flex-direction:row-reverse;gap:10px;margin-top:8px}
button{flex:1;font:inherit;font-weight:600;border-radius:8px;padding:11px;cursor:pointer;
 border:1px solid #e3e3e4;background:#fff}
button[value=authorize]{background:#e0143f;border-color:#e0143f;color:#fff}
.err{color:#c8102e}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 12px;font-size:13px}
dt{color:#6b6c73}
footer{margin-top:16px;font-size:12px;color:#6b6c73}
"""

_HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def html_page_response(
    page: str, status_code: int = 200, *, form_targets: Iterable[str] = ()
) -> HTMLResponse:
    """An HTML page that runs no script, cannot be framed and is never cached.

    ``form_targets`` are origins a form on the page may end up at: browsers apply
    ``form-action`` to the redirect that follows a form post too.
    """
    form_action = " ".join(["'self'", *form_targets])
    csp = (
        "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; "
        f"form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
    )
    return HTMLResponse(
        page, status_code=status_code, headers={**_HEADERS, "Content-Security-Policy": csp}
    )


def page_language(request: Request) -> Language:
    """The language of the page answering ``request``."""
    return for_request(request.scope, None)


def layout(title: str, body: str, lang: str = DEFAULT) -> str:
    """A complete HTML document in the emulator's look, in the language ``lang``."""
    found = language(lang)
    _ = found.gettext
    brand = text(_("TikTok emulator"))
    footer = text(_("An offline emulation of TikTok Login Kit. Not affiliated with TikTok."))
    return (
        f'<!doctype html><html {html_attributes(found)}><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body><main>"
        f'<div class="brand"><b></b>{brand}</div>'
        f"{body}"
        f"<footer>{footer}</footer>"
        "</main></body></html>"
    )


def error_page(
    error: str,
    description: str,
    log_id: str,
    *,
    field: str | None = None,
    back: str | None = None,
    lang: str = DEFAULT,
) -> str:
    """TikTok's refusal page, shown instead of the consent page when a login cannot go on.

    ``field`` is the request parameter a developer must correct; ``back`` is a link back to the
    app, when TikTok offers one (e.g. after a sandbox app's non-target account was chosen).
    """
    found = language(lang)
    _ = found.gettext
    title = _("We couldn't log in with TikTok")
    fix = ""
    if field:
        correct = _("If you're a developer, correct the following: {field}")
        fix = f'<p class="err">{fill(correct, field=field)}</p>'
    link = ""
    if back:
        back_to_app = text(_("Back to the app"))
        link = f'<p><a href="{escape(back)}">{back_to_app}</a></p>'
    said = description if found.code == DEFAULT else found.known(description)
    if said is None:  # a developer's diagnosis, left in English: marked so for screen readers
        why = f'<p class="sub" lang="en" dir="ltr">{escape(description)}</p>'
    else:
        why = f'<p class="sub">{escape(said)}</p>'
    return layout(
        title,
        f"<h1>{text(title)}</h1>{why}{fix}"
        f'<dl><dt>error</dt><dd><code class="err">{escape(error)}</code></dd>'
        f"<dt>log_id</dt><dd><code>{escape(log_id)}</code></dd></dl>{link}",
        lang,
    )


def gateway_page(status: int) -> str:
    """A bare proxy error page, as sent by infrastructure in front of an API."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return (
        f"<html><head><title>{status} {escape(phrase)}</title></head><body>"
        f"<center><h1>{status} {escape(phrase)}</h1></center><hr><center>nginx</center>"
        "</body></html>"
    )


def index_page(
    app_name: str,
    client_key: str,
    endpoints: dict[str, str],
    redirect_uris: Iterable[str],
    lang: str = DEFAULT,
) -> str:
    """The emulator's home page: where everything is, for someone running it by hand."""
    _ = language(lang).gettext
    rows = "".join(
        f"<dt>{escape(name)}</dt><dd><code>{escape(url)}</code></dd>"
        for name, url in endpoints.items()
    )
    uris = "<br>".join(f"<code>{escape(uri)}</code>" for uri in redirect_uris)
    emulated = text(_("TikTok Login Kit v2, emulated offline."))
    registered = text(_("redirect URIs"))
    return layout(
        _("TikTok emulator"),
        f"<h1>{escape(app_name)}</h1>"
        f'<p class="sub">{emulated}</p>'
        f"<dl><dt>client_key</dt><dd><code>{escape(client_key)}</code></dd>{rows}"
        f"<dt>{registered}</dt><dd>{uris}</dd></dl>",
        lang,
    )
