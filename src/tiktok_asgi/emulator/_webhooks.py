"""TikTok's side of webhooks: a user removes the app, TikTok revokes its access and tells it;
a Video Kit upload fails or is published, a Data Portability download is ready.

The event is sent as TikTok documents it: a JSON POST whose ``content`` is a JSON string, with
``TikTok-Signature: t=<unix seconds>,s=<hex HMAC-SHA256 of t + "." + body, keyed with the client
secret>``. This module signs on its own, so a mistake in the library's verification is not
mirrored here.

An event the app does not answer with 2xx (an error status, no connection, no answer within
10 seconds) is delivered again on the schedule of :mod:`._deliveries`: the same body, a fresh
signature each time. :func:`deliver_due` makes the attempts that are due on the emulator's
clock; :func:`run_retries` calls it for as long as the emulator is served.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import string
from collections.abc import Mapping
from html import escape
from typing import NoReturn
from urllib.parse import urlsplit

import anyio
import httpx2
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from tiktok_asgi._i18n import N_, Language, fill, text
from tiktok_asgi.emulator._core import Core, parse_pairs
from tiktok_asgi.emulator._deliveries import Delivery, WebhookAttempt, backoff
from tiktok_asgi.emulator._pages import html_page_response, layout, page_language
from tiktok_asgi.emulator._webhook_target import WebhookTarget

__all__ = [
    "EVENTS",
    "apps_page",
    "apps_remove",
    "deliver_due",
    "remove_app",
    "run_retries",
    "send_event",
    "send_tiktok_event",
]

logger = logging.getLogger("tiktok_asgi.emulator")

AUTHORIZATION_REMOVED = "authorization.removed"
#: Every event TikTok sends to an app's webhook URL (an app receives all of them).
EVENTS = (
    AUTHORIZATION_REMOVED,
    "video.upload.failed",
    "video.publish.completed",
    "portability.download.ready",
)
_DELIVERY_TIMEOUT = 10.0
# The retry loop's longest sleep: an event queued meanwhile waits at most this long past due.
RETRY_POLL = 0.25
INJECTED = "injected"


def event_body(core: Core, event: str, open_id: str, content: dict[str, object]) -> bytes:
    """The JSON body of one event, created now on the emulator's clock."""
    return json.dumps(
        {
            "client_key": core.config.client_key,
            "event": event,
            "create_time": int(core.config.clock()),
            "user_openid": open_id,
            "content": json.dumps(content),
        }
    ).encode()


def signature_for(core: Core, body: bytes) -> str:
    """The ``TikTok-Signature`` of ``body``, timestamped now: TikTok signs every attempt."""
    now = int(core.config.clock())
    key = core.config.client_secret.encode()
    mac = hmac.new(key, str(now).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={now},s={mac}"


async def send_event(
    core: Core, event: str, open_id: str, content: dict[str, object]
) -> WebhookAttempt | None:
    """Deliver an event to the registered webhook URL now (None without one); if the app does
    not take it, it stays queued for redelivery."""
    target = core.webhook
    if target is None:
        return None
    body = event_body(core, event, open_id, content)
    delivery = core.deliveries.new(target, event, open_id, body, core.config.clock())
    return await _attempt(core, delivery)


async def deliver_due(core: Core) -> list[WebhookAttempt]:
    """Attempt every queued event that is due on the emulator's clock, oldest first."""
    due = core.deliveries.take_due(core.config.clock())
    attempts: list[WebhookAttempt] = []
    try:
        for delivery in due:
            attempts.append(await _attempt(core, delivery))
    finally:
        # Cancelled part way: the rest stay queued, as they were.
        for delivery in due[len(attempts) + 1 :]:
            core.deliveries.requeue(delivery)
    return attempts


async def run_retries(core: Core) -> NoReturn:
    """Redeliver on the emulator's clock and ``sleep`` until cancelled."""
    config = core.config
    while True:
        await deliver_due(core)
        due = core.deliveries.next_due()
        wait = RETRY_POLL if due is None else min(RETRY_POLL, max(0.0, due - config.clock()))
        await config.sleep(wait)


async def _attempt(core: Core, delivery: Delivery) -> WebhookAttempt:
    config = core.config
    # Redeliveries go to the URL registered now, as the console holds it.
    target = core.webhook or delivery.target
    at = config.clock()
    signature = signature_for(core, delivery.body)
    status: int | None = None
    error: str | None = None
    if core.deliveries.take_failure():
        error = INJECTED
    else:
        try:
            status = await _post(target, delivery.body, signature)
        except anyio.get_cancelled_exc_class():
            core.deliveries.requeue(delivery)
            raise
        except Exception as exc:  # whatever keeps the answer from TikTok
            error = type(exc).__name__
    delivery.attempts += 1
    delivered = status is not None and 200 <= status < 300
    next_at: float | None = None
    if not delivered:
        following = at + backoff(
            delivery.attempts, config.webhook_retry_base, config.webhook_retry_cap
        )
        if following <= delivery.first_at + config.webhook_retry_horizon:
            next_at = following
    attempt = WebhookAttempt(
        delivery.delivery_id,
        delivery.attempts,
        at,
        target.url,
        delivery.event,
        delivery.user_openid,
        delivery.body,
        signature,
        status,
        error,
        next_at,
    )
    core.deliveries.settle(delivery, attempt)
    _log(attempt)
    return attempt


async def _post(target: WebhookTarget, body: bytes, signature: str) -> int:
    headers = {"content-type": "application/json", "TikTok-Signature": signature}
    # Also bounds in-process transports, which have no socket to time out.
    with anyio.fail_after(_DELIVERY_TIMEOUT):
        async with httpx2.AsyncClient(
            transport=target.transport, timeout=_DELIVERY_TIMEOUT
        ) as http:
            answer = await http.post(target.url, content=body, headers=headers)
    return answer.status_code


def _log(attempt: WebhookAttempt) -> None:
    if attempt.delivered:
        if attempt.attempt > 1:
            logger.info("webhook %s delivered on attempt %d", attempt.event, attempt.attempt)
        return
    result = f"HTTP {attempt.status}" if attempt.status is not None else attempt.error
    if attempt.next_at is None:
        logger.warning(
            "webhook %s not delivered (%s): dropped after %d attempts",
            attempt.event,
            result,
            attempt.attempt,
        )
    else:
        logger.warning(
            "webhook %s not delivered (%s): attempt %d, next in %g s",
            attempt.event,
            result,
            attempt.attempt,
            attempt.next_at - attempt.at,
        )


async def remove_app(core: Core, open_id: str, reason: int = 1) -> int | None:
    """The user removes the app: its grants are revoked, then ``authorization.removed`` goes to
    the registered webhook URL. Returns the app's HTTP status (None without a webhook URL or
    without an answer); an event the app did not take is delivered again later."""
    attempt = await _remove(core, open_id, reason)
    return None if attempt is None else attempt.status


async def _remove(core: Core, open_id: str, reason: int) -> WebhookAttempt | None:
    core.state.revoke_user(open_id)
    return await send_event(core, AUTHORIZATION_REMOVED, open_id, {"reason": reason})


async def send_tiktok_event(
    core: Core, event: str, open_id: str, content: Mapping[str, object] | None
) -> int | None:
    """One of TikTok's :data:`EVENTS` about ``open_id``, with ``content`` (default: a typical
    one); ``authorization.removed`` revokes the user's grants first, as at TikTok. The app's
    HTTP status, as :func:`remove_app`."""
    if event not in EVENTS:
        raise ValueError(f"TikTok sends no {event!r} event; its events are {', '.join(EVENTS)}")
    body = dict(content) if content is not None else _typical_content(event)
    if event == AUTHORIZATION_REMOVED:
        core.state.revoke_user(open_id)
    attempt = await send_event(core, event, open_id, body)
    return None if attempt is None else attempt.status


def _typical_content(event: str) -> dict[str, object]:
    if event == AUTHORIZATION_REMOVED:
        return {"reason": 1}
    if event == "portability.download.ready":
        return {"request_id": 7_000_000_000_000_000_000 + secrets.randbelow(10**18)}
    # Shaped like TikTok's example, "video.6974245311675353080.VDCxrcMJ".
    tail = "".join(secrets.choice(string.ascii_letters) for _ in range(8))
    return {"share_id": f"video.{6_900_000_000_000_000_000 + secrets.randbelow(10**17)}.{tail}"}


def _user_param(core: Core, raw: str | None) -> str | None:
    if not raw:
        return None
    user = core.find_user(raw)
    return None if user is None else user.open_id


# Whole sentences, one per outcome: translations cannot be put together from parts.
_REMOVED_UNTOLD = N_("{app} was removed; no webhook URL is registered, so the app was not told.")
_REMOVED_TOLD = N_("{app} was removed; TikTok told the app (HTTP {status}).")
_REMOVED_REFUSED = N_("{app} was removed; the app answered HTTP {status}.")
_REMOVED_REFUSED_AGAIN = N_(
    "{app} was removed; the app answered HTTP {status}; TikTok delivers the event again, with "
    "backoff."
)
_REMOVED_UNREACHED = N_("{app} was removed; TikTok could not reach the app.")
_REMOVED_UNREACHED_AGAIN = N_(
    "{app} was removed; TikTok could not reach the app; TikTok delivers the event again, with "
    "backoff."
)
_CONNECTED_APPS = N_("Connected apps")


def _removal_note(core: Core, lang: Language, delivered: str | None) -> str:
    """What became of the ``authorization.removed`` sent when the app was removed."""
    if not delivered:
        return ""
    again = core.config.webhook_retry_horizon > 0
    if delivered == "none":
        note = _REMOVED_UNTOLD
    elif delivered.isdigit() and 200 <= int(delivered) < 300:
        note = _REMOVED_TOLD
    elif delivered.isdigit():
        note = _REMOVED_REFUSED_AGAIN if again else _REMOVED_REFUSED
    else:
        note = _REMOVED_UNREACHED_AGAIN if again else _REMOVED_UNREACHED
    said = fill(lang.gettext(note), app=core.config.app_name, status=delivered)
    return f"<p class=sub>{said}</p>"


async def apps_page(core: Core, request: Request) -> Response:
    """A user's connected apps, with a button to remove this one (``?user=<username>``)."""
    lang = page_language(request)
    _ = lang.gettext
    title = _(_CONNECTED_APPS)
    open_id = _user_param(core, request.query_params.get("user"))
    if open_id is None:
        links = "".join(
            f'<li><a href="?user={escape(u.username)}"><bdi>@{escape(u.username)}</bdi></a></li>'
            for u in core.users()
        )
        who = text(_("Who is signed in?"))
        body = f"<h1>{text(title)}</h1><p class=sub>{who}</p><ul>{links}</ul>"
        return html_page_response(layout(title, body, lang.code))
    user = core.find_user(open_id)
    assert user is not None
    name = escape(core.config.app_name)
    note = _removal_note(core, lang, request.query_params.get("delivered"))
    if core.state.connected(open_id):
        action = str(request.url_for("apps_remove").path)
        remove = text(_("Remove"))
        app = (
            f"<li><b>{name}</b> <form method=post action='{escape(action)}'>"
            f"<input type=hidden name=user value='{escape(user.username)}'>"
            f"<button type=submit>{remove}</button></form></li>"
        )
    else:
        none = text(_("No apps are connected."))
        app = f"<li>{none}</li>"
    uris = core.config.redirect_uris
    home = urlsplit(uris[0]) if uris else None
    back = ""
    if home is not None:
        back_to = fill(_("Back to {app}"), app=core.config.app_name)
        back = f"<p><a href='{escape(f'{home.scheme}://{home.netloc}/')}'>{back_to}</a></p>"
    body = (
        f"<h1>{text(title)}</h1><p class=sub><bdi>@{escape(user.username)}</bdi></p>{note}"
        f"<ul>{app}</ul>{back}"
    )
    return html_page_response(layout(title, body, lang.code))


async def apps_remove(core: Core, request: Request) -> Response:
    """The Remove button: revoke, deliver ``authorization.removed``, back to the list."""
    form = parse_pairs(await request.body())
    given = form.get("user") or []
    open_id = _user_param(core, given[0] if len(given) == 1 else None)
    if open_id is None:
        lang = page_language(request)
        title, unknown = lang.gettext(_CONNECTED_APPS), text(lang.gettext(N_("No such user")))
        return html_page_response(layout(title, f"<h1>{unknown}</h1>", lang.code), 400)
    user = core.find_user(open_id)
    assert user is not None
    attempt = await _remove(core, open_id, 1)
    if attempt is None:
        delivered = "none"
    elif attempt.status is None:
        delivered = "failed"
    else:
        delivered = str(attempt.status)
    back = request.url_for("apps").include_query_params(user=user.username, delivered=delivered)
    return RedirectResponse(str(back.path) + "?" + back.query, status_code=303)
