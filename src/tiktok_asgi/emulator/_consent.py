"""The consent page: pick an account, untick optional scopes, authorize or cancel."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from tiktok_asgi.emulator._authorize import BASIC, AuthorizeRequest
from tiktok_asgi.emulator._pages import layout
from tiktok_asgi.emulator._users import EmulatorUser

__all__ = ["SCOPE_TEXT", "consent_page"]

SCOPE_TEXT = {
    "user.info.basic": "Read your profile info (avatar, display name)",
    "user.info.profile": "Read your profile details (bio, profile link, verified, username)",
    "user.info.stats": "Read your statistics (likes, followers, following, video count)",
    "video.list": "Read your public videos on TikTok",
}


def _scope_row(scope: str) -> str:
    text = escape(SCOPE_TEXT.get(scope, scope))
    name = escape(scope)
    if scope == BASIC:
        # A disabled box is not submitted; the hidden field carries the fixed grant.
        box = (
            f'<input type="checkbox" checked disabled aria-label="{name} (required)">'
            f'<input type="hidden" name="granted" value="{name}">'
        )
        note = " <small>Required</small>"
    else:
        box = f'<input type="checkbox" name="granted" value="{name}" checked>'
        note = ""
    label = f"<span>{text}<small><code>{name}</code></small>{note}</span>"
    return f'<label class="row">{box}{label}</label>'


def _user_row(user: EmulatorUser, avatar: str, checked: bool) -> str:
    mark = " checked" if checked else ""
    return (
        f'<label class="row"><input type="radio" name="user" value="{escape(user.open_id)}"'
        f' required{mark}><img src="{escape(avatar)}" alt="">'
        f"<span>{escape(user.display_name)}<small>@{escape(user.username)}</small></span></label>"
    )


def consent_page(
    *,
    app_name: str,
    request: AuthorizeRequest,
    users: Sequence[EmulatorUser],
    avatar_url: Callable[[EmulatorUser], str],
    action: str,
    problem: str | None = None,
    sandbox: bool = False,
) -> str:
    """The page TikTok shows at ``/v2/auth/authorize/``, with the request in hidden fields."""
    hidden = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
        for k, v in request.params().items()
    )
    accounts = (
        "".join(_user_row(user, avatar_url(user), i == 0) for i, user in enumerate(users))
        or "<p>No accounts are set up in this emulator.</p>"
    )
    scopes = "".join(_scope_row(s) for s in request.scopes)
    alert = f'<p class="err">{escape(problem)}</p>' if problem else ""
    if sandbox:
        alert += '<p class="sub">Sandbox app: only its target users can sign in.</p>'
    body = (
        f"<h1>{escape(app_name)} would like to access your TikTok account</h1>"
        '<p class="sub">Choose an account and what to share. You can change this later in '
        "your TikTok settings.</p>"
        f'{alert}<form method="post" action="{escape(action)}">{hidden}'
        f"<fieldset><legend>Continue as</legend>{accounts}</fieldset>"
        f"<fieldset><legend>{escape(app_name)} will be able to</legend>{scopes}</fieldset>"
        '<div class="actions">'
        '<button name="action" value="authorize">Authorize</button>'
        '<button name="action" value="cancel">Cancel</button>'
        "</div></form>"
    )
    return layout(f"Authorize {app_name}", body)
