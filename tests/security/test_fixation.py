"""Session fixation and login CSRF: a browser never keeps a session someone else planted."""

from __future__ import annotations

from tests.core.helpers import IdentityCodec
from tests.security.flows import finish, start
from tests.security.support import identity_set
from tests.tokens.conftest import wrap
from tiktok_asgi import MemoryTokenStore, TikTokAuthMiddleware, TikTokSettings
from tiktok_asgi.emulator import TikTokEmulator


def _identity(settings: TikTokSettings, value: str) -> dict[str, object]:
    return IdentityCodec(settings.secret_keys).loads(value)


def test_a_planted_identity_is_replaced_by_a_fresh_one_at_sign_in(
    tiktok_emulator: TikTokEmulator,
) -> None:
    tiktok_settings = tiktok_emulator.settings()
    app = wrap(tiktok_settings, MemoryTokenStore(), tiktok_emulator)
    attacker, victim = tiktok_emulator.users[0], tiktok_emulator.users[1]
    planted = identity_set(
        finish(app, tiktok_settings, start(app, tiktok_settings, tiktok_emulator, user=attacker)),
        tiktok_settings,
    )
    assert planted is not None
    # The victim's browser carries the attacker's cookie (e.g. set through a sibling subdomain)
    # and signs in: the answer replaces it with a new cookie naming the victim and a new session.
    jar = {tiktok_settings.cookie_name: planted}
    pending = start(app, tiktok_settings, tiktok_emulator, user=victim, cookies=jar)
    fresh = identity_set(finish(app, tiktok_settings, pending), tiktok_settings)
    assert fresh is not None
    assert fresh != planted
    mine, theirs = _identity(tiktok_settings, fresh), _identity(tiktok_settings, planted)
    assert mine["open_id"] == victim.open_id
    assert mine["sid"] != theirs["sid"]


def test_an_attackers_callback_in_the_victims_browser_signs_nobody_in(
    app: TikTokAuthMiddleware, tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    """Login CSRF: the attacker starts a login, approves it as themselves, and makes the victim's
    browser open the callback. The victim's browser has no flow cookie for that state."""
    attackers = start(app, tiktok_settings, tiktok_emulator, user=tiktok_emulator.users[0])
    victims_pending_login = start(
        app, tiktok_settings, tiktok_emulator, user=tiktok_emulator.users[1]
    )
    answer = finish(app, tiktok_settings, attackers, cookies=victims_pending_login.cookies)
    assert answer.status == 400
    assert identity_set(answer, tiktok_settings) is None
    assert b"state_mismatch" in answer.body
