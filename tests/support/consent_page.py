"""The emulator's consent page, answered by hand: the form its Authorize and Cancel buttons post."""

from __future__ import annotations

from urllib.parse import urlencode

from httpx2 import AsyncClient, Response

from tests.emulator.helpers import AUTHORIZE, B64_CHALLENGE, REDIRECT
from tiktok_asgi.emulator import TikTokEmulator

FORM_TYPE = {"Content-Type": "application/x-www-form-urlencoded"}


def consent_page_form(
    emu: TikTokEmulator,
    *,
    user: str | None = None,
    granted: list[str] | None = None,
    action: str = "authorize",
    **change: str,
) -> str:
    """The consent form for a valid authorize request (all four scopes asked, hidden fields
    replaced by ``change``), posted as ``user`` (an open_id; the first user by default) granting
    ``granted`` (basic info by default)."""
    fields: list[tuple[str, str]] = [
        ("client_key", emu.client_key),
        ("response_type", "code"),
        ("scope", "user.info.basic,user.info.profile,user.info.stats,video.list"),
        ("redirect_uri", REDIRECT),
        ("state", "state-123"),
        ("code_challenge", B64_CHALLENGE),
        ("code_challenge_method", "S256"),
    ]
    fields = [(k, change.get(k, v)) for k, v in fields]
    fields.append(("user", emu.users[0].open_id if user is None else user))
    fields += [("granted", g) for g in (granted or ["user.info.basic"])]
    fields.append(("action", action))
    return urlencode(fields)


async def post_consent(
    client: AsyncClient,
    emu: TikTokEmulator,
    *,
    user: str | None = None,
    granted: list[str] | None = None,
    action: str = "authorize",
    **change: str,
) -> Response:
    """POST :func:`consent_page_form` to the authorize endpoint, as the page's buttons do."""
    form = consent_page_form(emu, user=user, granted=granted, action=action, **change)
    return await client.post(AUTHORIZE, content=form, headers=FORM_TYPE)
