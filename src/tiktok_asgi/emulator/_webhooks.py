"""TikTok's side of webhooks: a user removes the app, TikTok revokes its access and tells it.

The event is sent as TikTok documents it: a JSON POST whose ``content`` is a JSON string, with
``TikTok-Signature: t=<unix seconds>,s=<hex HMAC-SHA256 of t + "." + body, keyed with the client
secret>``. This module signs on its own, so a mistake in the library's verification is not
mirrored here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from html import escape
from urllib.parse import urlsplit

import httpx2
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from tiktok_asgi.emulator._core import Core, parse_pairs
from tiktok_asgi.emulator._pages import html_page_response, layout

__all__ = ["apps_page", "apps_remove", "remove_app"]

logger = logging.getLogger("tiktok_asgi.emulator")

AUTHORIZATION_REMOVED = "authorization.removed"
_DELIVERY_TIMEOUT = 10.0


def signed_event(
    core: Core, event: str, open_id: str, content: dict[str, object]
) -> tuple[bytes, str]:
    """The body and ``TikTok-Signature`` of one event, at the emulator's clock."""
    now = int(core.config.clock())
    body = json.dumps(
        {
            "client_key": core.config.client_key,
            "event": event,
            "create_time": now,
            "user_openid": open_id,
            "content": json.dumps(content),
        }
    ).encode()
    key = core.config.client_secret.encode()
    mac = hmac.new(key, str(now).encode() + b"." + body, hashlib.sha256).hexdigest()
    return body, f"t={now},s={mac}"


async def remove_app(core: Core, open_id: str, reason: int = 1) -> int | None:
    """The user removes the app: its grants are revoked, then ``authorization.removed`` goes to
    the registered webhook URL. Returns the app's HTTP status (None without a webhook URL)."""
    core.state.revoke_user(open_id)
    target = core.webhook
    if target is None:
        return None
    body, signature = signed_event(core, AUTHORIZATION_REMOVED, open_id, {"reason": reason})
    async with httpx2.AsyncClient(transport=target.transport, timeout=_DELIVERY_TIMEOUT) as http:
        try:
            answer = await http.post(
                target.url,
                content=body,
                headers={"content-type": "application/json", "TikTok-Signature": signature},
            )
        except httpx2.HTTPError as exc:
            logger.warning("webhook delivery failed: %s", type(exc).__name__)
            return None
    return answer.status_code


def _user_param(core: Core, raw: str | None) -> str | None:
    if not raw:
        return None
    user = core.find_user(raw)
    return None if user is None else user.open_id


async def apps_page(core: Core, request: Request) -> Response:
    """A user's connected apps, with a button to remove this one (``?user=<username>``)."""
    open_id = _user_param(core, request.query_params.get("user"))
    if open_id is None:
        links = "".join(
            f'<li><a href="?user={escape(u.username)}">@{escape(u.username)}</a></li>'
            for u in core.users()
        )
        body = f"<h1>Connected apps</h1><p class=sub>Who is signed in?</p><ul>{links}</ul>"
        return html_page_response(layout("Connected apps", body))
    user = core.find_user(open_id)
    assert user is not None
    name = escape(core.config.app_name)
    status = request.query_params.get("delivered")
    note = (
        f"<p class=sub>{name} was removed; TikTok told the app (HTTP {escape(status)}).</p>"
        if status
        else ""
    )
    if core.state.connected(open_id):
        action = str(request.url_for("apps_remove").path)
        app = (
            f"<li><b>{name}</b> <form method=post action='{escape(action)}'>"
            f"<input type=hidden name=user value='{escape(user.username)}'>"
            "<button type=submit>Remove</button></form></li>"
        )
    else:
        app = "<li>No apps are connected.</li>"
    uris = core.config.redirect_uris
    home = urlsplit(uris[0]) if uris else None
    back = (
        f"<p><a href='{escape(f'{home.scheme}://{home.netloc}/')}'>Back to {name}</a></p>"
        if home is not None
        else ""
    )
    body = (
        f"<h1>Connected apps</h1><p class=sub>@{escape(user.username)}</p>{note}<ul>{app}</ul>"
        f"{back}"
    )
    return html_page_response(layout("Connected apps", body))


async def apps_remove(core: Core, request: Request) -> Response:
    """The Remove button: revoke, deliver ``authorization.removed``, back to the list."""
    form = parse_pairs(await request.body())
    given = form.get("user") or []
    open_id = _user_param(core, given[0] if len(given) == 1 else None)
    if open_id is None:
        return html_page_response(layout("Connected apps", "<h1>No such user</h1>"), 400)
    user = core.find_user(open_id)
    assert user is not None
    status = await remove_app(core, open_id)
    back = request.url_for("apps").include_query_params(
        user=user.username, delivered=str(status) if status is not None else "none"
    )
    return RedirectResponse(str(back.path) + "?" + back.query, status_code=303)
