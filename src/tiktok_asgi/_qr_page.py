"""The QR-code sign-in page: the look of the library's other pages, and the one script it runs.

The script is inline with a fresh nonce per page (no file from anywhere else): it asks for a code
(``POST qr_path``), shows it as inline SVG, polls its status, goes on to ``next`` once the phone
confirms and offers a new code when one expires. Its CSP allows that script and requests to this
origin, nothing else.

The script's words come in the page's language, in its ``data-texts``. The answers' JSON stays
English (an API): in another language the script shows its own words for each error code.
"""

from __future__ import annotations

import json
from html import escape

from ._cookies.qr import USED
from ._i18n import DEFAULT, N_, Language, html_attributes, language
from .advice import ADVICE
from .errors import IdentityTooLarge, LoginRejected, OpenIdMismatch, TokenStoreUnavailable
from .pages import STYLE

__all__ = ["POLL_SECONDS", "qr_page", "qr_page_csp"]

#: Seconds between two status polls: each waiting device costs TikTok's check_qrcode, which
#: allows 600 calls a minute per app.
POLL_SECONDS = 3

_STYLE = (
    "[hidden]{display:none!important}"
    ".qr{margin:4px auto 12px;width:min(280px,100%);aspect-ratio:1;background:#fff;"
    "border:1px solid #e3e3e4;border-radius:14px;padding:6px}"
    ".qr svg{display:block;width:100%;height:100%}"
    ".status{font-weight:700;color:#161823;text-align:center;min-height:1.5em}"
    ".scan{text-align:center;font-size:13px}.scan a{color:#c8103e;font-weight:600}"
)

# What the script says, by its own names.
_TEXTS = {
    "getting": N_("Getting a code…"),
    "offline": N_("The code could not be fetched. Check the connection."),
    "unmade": N_("The code could not be made."),
    "label": N_("QR code: scan it with the TikTok app to sign in"),
    "waiting": N_("Waiting for the code to be scanned with the TikTok app."),
    "failed": N_("The sign-in could not be completed."),
    "scanned": N_("Scanned. Confirm the sign-in in the TikTok app."),
    "confirmed": N_("Signed in. Taking you on…"),
    "expired": N_("This code has expired."),
}
# The error codes POST qr_path and its status polls answer with, as the person reads them.
_ERRORS = {
    **{code: advice.person for code, advice in ADVICE.items()},
    "csrf_rejected": N_("QR-code sign-in must start from this site."),
    "qr_unavailable": N_("QR-code sign-in is not installed on this site."),
    "qr_used": USED,
    "qr_unknown": N_(
        "No QR sign-in started in this browser has this code. Cookies may be blocked, or the code "
        "was asked for in another browser."
    ),
    "tiktok_unavailable": N_("TikTok could not be reached. Please try again in a moment."),
    "login_rejected": LoginRejected.default_description,
    "token_store_unavailable": TokenStoreUnavailable.default_description,
    "identity_too_large": IdentityTooLarge.default_description,
    "open_id_mismatch": OpenIdMismatch.default_description,
}

_SCRIPT = """"use strict";
(() => {
  const main = document.getElementById("qr");
  const box = document.getElementById("qr-code");
  const link = document.getElementById("qr-link");
  const status = document.getElementById("qr-status");
  const fresh = document.getElementById("qr-fresh");
  const start = main.dataset.start;
  const every = Number(main.dataset.poll) * 1000;
  const texts = JSON.parse(main.dataset.texts);
  const json = {accept: "application/json"};
  let round = 0;
  const say = (text) => { status.textContent = text; };
  const wait = (ms) => new Promise((done) => setTimeout(done, ms));
  function reason(answer, fallback) {
    if (!answer) return fallback;
    // The answers' descriptions are English: other languages have their own words per code.
    if (!texts.errors) return answer.error_description || fallback;
    const known = Object.prototype.hasOwnProperty.call(texts.errors, answer.error);
    return known ? texts.errors[answer.error] : fallback;
  }
  async function read(response) {
    try { return await response.json(); } catch { return null; }
  }
  function clear() {
    box.replaceChildren();
    link.hidden = true;
    link.removeAttribute("href");
  }
  function offer(text) {
    round += 1;
    clear();
    say(text);
    fresh.hidden = false;
    fresh.focus();
  }
  async function begin() {
    const mine = ++round;
    fresh.hidden = true;
    clear();
    say(texts.getting);
    let response, answer;
    try {
      response = await fetch(start, {method: "POST", headers: json, credentials: "same-origin"});
      answer = await read(response);
    } catch {
      return offer(texts.offline);
    }
    if (mine !== round) return;
    if (!response.ok || !answer) return offer(reason(answer, texts.unmade));
    const svg = new DOMParser().parseFromString(answer.svg, "image/svg+xml").documentElement;
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", texts.label);
    box.replaceChildren(document.importNode(svg, true));
    link.href = answer.scan_url;
    link.hidden = false;
    say(texts.waiting);
    follow(mine, start + "/" + encodeURIComponent(answer.qr_id));
  }
  async function follow(mine, url) {
    while (mine === round) {
      await wait(every);
      if (mine !== round) return;
      let response, answer;
      try {
        response = await fetch(url, {headers: json, credentials: "same-origin"});
        answer = await read(response);
      } catch {
        continue;  // offline for a moment: the code may still be scanned
      }
      if (mine !== round) return;
      if (response.status === 429 || response.status === 503 || response.status === 504) {
        const later = Number(response.headers.get("retry-after"));
        if (later > 0) await wait(Math.min(later, 30) * 1000);
        continue;
      }
      if (!response.ok || !answer) {
        return offer(reason(answer, texts.failed));
      }
      if (answer.status === "scanned") {
        say(texts.scanned);
      } else if (answer.status === "confirmed") {
        round += 1;
        say(texts.confirmed);
        location.assign(main.dataset.next);
      } else if (answer.status === "expired") {
        return offer(texts.expired);
      }
    }
  }
  fresh.addEventListener("click", begin);
  begin();
})();
"""


def qr_page(*, start_url: str, next_url: str, back_url: str, nonce: str, lang: str = "en") -> str:
    """The page of ``GET qr_path``: ``start_url`` is ``qr_path`` as the browser requests it,
    ``next_url`` where a confirmed sign-in goes (already checked to be on this site), ``lang``
    the page's language."""
    found = language(lang)
    _ = found.gettext
    title = escape(_("Sign in with TikTok"))
    scan = escape(
        _("Scan the code with the TikTok app on your phone, then confirm the sign-in there.")
    )
    link = escape(_("Or open the sign-in link on your phone"))
    noscript = escape(_("This page needs JavaScript to show the code and follow the sign-in."))
    fresh, back = escape(_("Get a new code")), escape(_("Back to the site"))
    getting = escape(_(_TEXTS["getting"]))
    return (
        f"<!doctype html><html {html_attributes(found)}><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>{title}</title><style>{STYLE}{_STYLE}</style></head><body>"
        f"<main id=qr data-start='{escape(start_url)}' data-next='{escape(next_url)}' "
        f"data-poll='{POLL_SECONDS}' data-texts='{escape(_script_texts(found))}'>"
        f"<h1>{title}</h1><p>{scan}</p><div class=qr id=qr-code></div>"
        f"<p class=scan><a id=qr-link hidden>{link}</a></p>"
        f"<p class=status id=qr-status role=status aria-live=polite>{getting}</p>"
        f"<noscript><p>{noscript}</p></noscript>"
        "<div class=actions><button class='btn primary' id=qr-fresh type=button hidden>"
        f"{fresh}</button><a class=btn href='{escape(back_url)}'>{back}</a>"
        f"</div><script nonce='{escape(nonce)}'>{_SCRIPT}</script></main></body></html>"
    )


def _script_texts(lang: Language) -> str:
    texts: dict[str, object] = {key: lang.gettext(text) for key, text in _TEXTS.items()}
    english = lang.code == DEFAULT
    texts["errors"] = None if english else {k: lang.gettext(v) for k, v in _ERRORS.items()}
    return json.dumps(texts, ensure_ascii=False, separators=(",", ":"))


def qr_page_csp(nonce: str) -> str:
    """The strict CSP of the other pages, plus this page's own script and its requests here."""
    return (
        f"default-src 'none'; script-src 'nonce-{nonce}'; connect-src 'self'; "
        "style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    )
