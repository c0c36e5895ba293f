"""The consent page: pick an account, untick optional scopes, authorize or cancel."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from tiktok_asgi._i18n import DEFAULT, N_, Language, fill, language, text
from tiktok_asgi.emulator._authorize import BASIC, AuthorizeRequest
from tiktok_asgi.emulator._pages import layout
from tiktok_asgi.emulator._users import EmulatorUser

__all__ = ["SCOPE_TEXT", "accounts", "consent_page", "scope_row", "user_row"]

SCOPE_TEXT = {
    "user.info.basic": N_("Read your profile info (avatar, display name)"),
    "user.info.profile": N_("Read your profile details (bio, profile link, verified, username)"),
    "user.info.stats": N_("Read your statistics (likes, followers, following, video count)"),
    "video.list": N_("Read your public videos on TikTok"),
}
_NO_ACCOUNTS = N_("No accounts are set up in this emulator.")


def scope_row(scope: str, lang: Language) -> str:
    """One scope of the request, with its checkbox (``user.info.basic``'s cannot be unticked)."""
    _ = lang.gettext
    described = escape(_(SCOPE_TEXT[scope]) if scope in SCOPE_TEXT else scope)
    name = escape(scope)
    if scope == BASIC:
        # A disabled box is not submitted; the hidden field carries the fixed grant.
        required = escape(_("{scope} (required)").format(scope=scope))
        box = (
            f'<input type="checkbox" checked disabled aria-label="{required}">'
            f'<input type="hidden" name="granted" value="{name}">'
        )
        required_note = text(_("Required"))
        note = f" <small>{required_note}</small>"
    else:
        box = f'<input type="checkbox" name="granted" value="{name}" checked>'
        note = ""
    label = f"<span>{described}<small><code>{name}</code></small>{note}</span>"
    return f'<label class="row">{box}{label}</label>'


def user_row(user: EmulatorUser, avatar: str, checked: bool) -> str:
    """One account to continue as; names are isolated, as they may be in any script."""
    mark = " checked" if checked else ""
    return (
        f'<label class="row"><input type="radio" name="user" value="{escape(user.open_id)}"'
        f' required{mark}><img src="{escape(avatar)}" alt="">'
        f"<span><bdi>{escape(user.display_name)}</bdi>"
        f"<small><bdi>@{escape(user.username)}</bdi></small></span></label>"
    )


def accounts(
    users: Sequence[EmulatorUser], avatar_url: Callable[[EmulatorUser], str], lang: Language
) -> str:
    """The accounts to continue as, the first one chosen."""
    rows = "".join(user_row(user, avatar_url(user), i == 0) for i, user in enumerate(users))
    none = text(lang.gettext(_NO_ACCOUNTS))
    return rows or f"<p>{none}</p>"


def consent_page(
    *,
    app_name: str,
    request: AuthorizeRequest,
    users: Sequence[EmulatorUser],
    avatar_url: Callable[[EmulatorUser], str],
    action: str,
    problem: str | None = None,
    sandbox: bool = False,
    lang: str = DEFAULT,
) -> str:
    """The page TikTok shows at ``/v2/auth/authorize/``, with the request in hidden fields, in
    the language ``lang`` (``problem`` is translated, when the catalogs have it)."""
    found = language(lang)
    _ = found.gettext
    hidden = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
        for k, v in request.params().items()
    )
    scopes = "".join(scope_row(s, found) for s in request.scopes)
    alert = f'<p class="err">{text(_(problem))}</p>' if problem else ""
    if sandbox:
        only_targets = text(_("Sandbox app: only its target users can sign in."))
        alert += f'<p class="sub">{only_targets}</p>'
    heading = fill(_("{app} would like to access your TikTok account"), app=app_name)
    choose = text(
        _("Choose an account and what to share. You can change this later in your TikTok settings.")
    )
    continue_as = text(_("Continue as"))
    able = fill(_("{app} will be able to"), app=app_name)
    authorize, cancel = text(_("Authorize")), text(_("Cancel"))
    body = (
        f"<h1>{heading}</h1>"
        f'<p class="sub">{choose}</p>'
        f'{alert}<form method="post" action="{escape(action)}">{hidden}'
        f"<fieldset><legend>{continue_as}</legend>{accounts(users, avatar_url, found)}</fieldset>"
        f"<fieldset><legend>{able}</legend>{scopes}</fieldset>"
        '<div class="actions">'
        f'<button name="action" value="authorize">{authorize}</button>'
        f'<button name="action" value="cancel">{cancel}</button>'
        "</div></form>"
    )
    return layout(_("Authorize {app}").format(app=app_name), body, found.code)
