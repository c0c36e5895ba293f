"""The QR-code sign-in page: the look of the library's other pages, and the one script it runs.

The script is inline with a fresh nonce per page (no file from anywhere else): it asks for a code
(``POST qr_path``), shows it as inline SVG, polls its status, goes on to ``next`` once the phone
confirms and offers a new code when one expires. Its CSP allows that script and requests to this
origin, nothing else.
"""

from __future__ import annotations

from html import escape

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

_SCRIPT = """"use strict";
(() => {
  const main = document.getElementById("qr");
  const box = document.getElementById("qr-code");
  const link = document.getElementById("qr-link");
  const status = document.getElementById("qr-status");
  const fresh = document.getElementById("qr-fresh");
  const start = main.dataset.start;
  const every = Number(main.dataset.poll) * 1000;
  const json = {accept: "application/json"};
  let round = 0;
  const say = (text) => { status.textContent = text; };
  const wait = (ms) => new Promise((done) => setTimeout(done, ms));
  const reason = (answer, fallback) => (answer && answer.error_description) || fallback;
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
    say("Getting a code\\u2026");
    let response, answer;
    try {
      response = await fetch(start, {method: "POST", headers: json, credentials: "same-origin"});
      answer = await read(response);
    } catch {
      return offer("The code could not be fetched. Check the connection.");
    }
    if (mine !== round) return;
    if (!response.ok || !answer) return offer(reason(answer, "The code could not be made."));
    const svg = new DOMParser().parseFromString(answer.svg, "image/svg+xml").documentElement;
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", "QR code: scan it with the TikTok app to sign in");
    box.replaceChildren(document.importNode(svg, true));
    link.href = answer.scan_url;
    link.hidden = false;
    say("Waiting for the code to be scanned with the TikTok app.");
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
      if (response.status === 503 || response.status === 504) {
        const later = Number(response.headers.get("retry-after"));
        if (later > 0) await wait(Math.min(later, 30) * 1000);
        continue;
      }
      if (!response.ok || !answer) {
        return offer(reason(answer, "The sign-in could not be completed."));
      }
      if (answer.status === "scanned") {
        say("Scanned. Confirm the sign-in in the TikTok app.");
      } else if (answer.status === "confirmed") {
        round += 1;
        say("Signed in. Taking you on\\u2026");
        location.assign(main.dataset.next);
      } else if (answer.status === "expired") {
        return offer("This code has expired.");
      }
    }
  }
  fresh.addEventListener("click", begin);
  begin();
})();
"""


def qr_page(*, start_url: str, next_url: str, back_url: str, nonce: str) -> str:
    """The page of ``GET qr_path``: ``start_url`` is ``qr_path`` as the browser requests it,
    ``next_url`` where a confirmed sign-in goes (already checked to be on this site)."""
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>Sign in with TikTok</title><style>{STYLE}{_STYLE}</style></head><body>"
        f"<main id=qr data-start='{escape(start_url)}' data-next='{escape(next_url)}' "
        f"data-poll='{POLL_SECONDS}'>"
        "<h1>Sign in with TikTok</h1>"
        "<p>Scan the code with the TikTok app on your phone, then confirm the sign-in there.</p>"
        "<div class=qr id=qr-code></div>"
        "<p class=scan><a id=qr-link hidden>Or open the sign-in link on your phone</a></p>"
        "<p class=status id=qr-status role=status aria-live=polite>Getting a code\u2026</p>"
        "<noscript><p>This page needs JavaScript to show the code and follow the sign-in."
        "</p></noscript>"
        "<div class=actions><button class='btn primary' id=qr-fresh type=button hidden>"
        f"Get a new code</button><a class=btn href='{escape(back_url)}'>Back to the site</a>"
        f"</div><script nonce='{escape(nonce)}'>{_SCRIPT}</script></main></body></html>"
    )


def qr_page_csp(nonce: str) -> str:
    """The strict CSP of the other pages, plus this page's own script and its requests here."""
    return (
        f"default-src 'none'; script-src 'nonce-{nonce}'; connect-src 'self'; "
        "style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    )
