"""Property-based tests over every input surface of the middleware.

Each property asserts what must hold whatever arrives: never a 500, never a signed-in state that
TikTok did not grant, never a redirect off the site, no CR/LF in response headers.
"""

from __future__ import annotations

import os
import time
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from itsdangerous import TimestampSigner

from tests.core.helpers import IdentityCodec
from tests.security.flows import Pending, finish, start
from tests.security.support import assert_sound, identity_set, is_same_site_path, serializer
from tests.support.asgi import call, cookie_header
from tiktok_asgi import TikTokAuthMiddleware, TikTokSettings
from tiktok_asgi.emulator import TikTokEmulator

EXAMPLES = 150
# Developers' runs explore new inputs; CI replays a fixed set, so that a run is reproducible.
PROPERTY = hsettings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("CI") == "true",
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
CALLBACK_KEYS = ["code", "state", "scopes", "error", "error_description", "next", "scope"]

# Text as hostile as a query can carry: any unicode, control characters, separators.
hostile_text = st.one_of(
    st.text(max_size=80),
    st.text(alphabet=st.sampled_from("/\\%:.@?#&=;\t\r\n\x00 ~!*'ａ／＼∕⁄"), max_size=40),
    st.sampled_from(["//evil.example", "javascript:alert(1)", "/%2F%2Fevil", "\r\nX: 1"]),
    st.integers(min_value=3000, max_value=20000).map(lambda n: "A" * n),
)
raw_bytes = st.binary(max_size=200)


def _oversize(query: bytes, settings: TikTokSettings) -> bool:
    """Longer than the limits let the middleware read: refused with 414 before anything else."""
    return settings.limits is not None and len(query) > settings.limits.max_query_bytes


def _user_of(value: str, settings: TikTokSettings) -> dict[str, Any]:
    return IdentityCodec(settings.secret_keys).loads(value)


def _me(app: TikTokAuthMiddleware, cookie: str | None, settings: TikTokSettings) -> Any:
    headers = [cookie_header({settings.cookie_name: cookie})] if cookie is not None else []
    answer = call(app, "GET", "/me", headers=headers)
    assert answer.status == 200
    return answer.json()


# The login query ---------------------------------------------------------------------------------


@PROPERTY
@given(next_=hostile_text)
def test_login_next_always_lands_on_this_site(
    app: TikTokAuthMiddleware,
    tiktok_settings: TikTokSettings,
    tiktok_emulator: TikTokEmulator,
    next_: str,
) -> None:
    query = urlencode({"next": next_}, quote_via=quote).encode()  # as the login's link has it
    if _oversize(query, tiktok_settings):
        login = call(app, "GET", tiktok_settings.login_path, query)
        assert login.status == 414  # refused unread: no pending login, no cookie
        assert_sound(login)
        assert not login.all("set-cookie")
        return
    pending = start(app, tiktok_settings, tiktok_emulator, next=next_)
    assert_sound(pending.login, authorize_allowed=True)
    answer = finish(app, tiktok_settings, pending)
    assert answer.status == 302
    assert_sound(answer)
    assert answer.headers["location"] in (next_, tiktok_settings.login_redirect)
    assert identity_set(answer, tiktok_settings)


@PROPERTY
@given(query=raw_bytes, accept=st.sampled_from([b"text/html", b"application/json", b"*/*"]))
def test_login_with_any_raw_query(
    app: TikTokAuthMiddleware, tiktok_settings: TikTokSettings, query: bytes, accept: bytes
) -> None:
    answer = call(app, "GET", tiktok_settings.login_path, query, [(b"accept", accept)])
    assert answer.status in (200, 302)
    assert_sound(answer, authorize_allowed=True)
    location = answer.headers.get("location") or answer.json()["authorization_url"]
    # The redirect_uri TikTok is told is always the configured one.
    sent = dict(parse_qsl(urlsplit(location).query))
    assert sent["redirect_uri"] == tiktok_settings.redirect_uri


# The callback query ------------------------------------------------------------------------------


@PROPERTY
@given(
    pairs=st.lists(
        st.tuples(st.sampled_from(CALLBACK_KEYS) | st.text(max_size=8), hostile_text), max_size=8
    ),
    encode=st.booleans(),
    accept=st.sampled_from([b"text/html", b"application/json"]),
)
def test_callback_without_a_pending_login_never_signs_in(
    app: TikTokAuthMiddleware,
    tiktok_settings: TikTokSettings,
    pairs: list[tuple[str, str]],
    encode: bool,
    accept: bytes,
) -> None:
    if encode:
        query = urlencode(pairs).encode("ascii")
    else:
        query = "&".join(f"{k}={v}" for k, v in pairs).encode("utf-8", "surrogatepass")
    answer = call(app, "GET", tiktok_settings.callback_path, query, [(b"accept", accept)])
    assert_sound(answer)
    assert 400 <= answer.status < 500
    assert identity_set(answer, tiktok_settings) is None


@PROPERTY
@given(
    edits=st.lists(
        st.tuples(
            st.sampled_from(["replace", "add", "drop"]),
            st.sampled_from(CALLBACK_KEYS),
            hostile_text,
        ),
        min_size=1,
        max_size=4,
    ),
    user_index=st.integers(min_value=0, max_value=5),
)
def test_a_tampered_callback_grants_nothing_tiktok_did_not(
    app: TikTokAuthMiddleware,
    tiktok_settings: TikTokSettings,
    tiktok_emulator: TikTokEmulator,
    edits: list[tuple[str, str, str]],
    user_index: int,
) -> None:
    user = tiktok_emulator.users[user_index]
    pending = start(app, tiktok_settings, tiktok_emulator, user=user)
    pairs = parse_qsl(pending.callback_query.decode("ascii"), keep_blank_values=True)
    granted = set(dict(pairs)["scopes"].split(","))
    for action, key, value in edits:
        if action == "replace":
            pairs = [(k, value if k == key else v) for k, v in pairs]
        elif action == "add":
            pairs.append((key, value))
        else:
            pairs = [(k, v) for k, v in pairs if k != key]
    query = urlencode(pairs).encode("ascii")
    answer = finish(app, tiktok_settings, pending, query=query)
    assert_sound(answer)
    cookie = identity_set(answer, tiktok_settings)
    if cookie is not None:
        payload = _user_of(cookie, tiktok_settings)
        assert payload["open_id"] == user.open_id
        assert set(payload["granted_scopes"]) <= granted
    else:
        assert answer.status in ((414,) if _oversize(query, tiktok_settings) else (400, 403, 502))


# The cookies -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def identities(
    app: TikTokAuthMiddleware, tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> list[str]:
    """Valid identity cookies of two different users."""
    values = []
    for user in tiktok_emulator.users[:2]:
        cookie = identity_set(
            finish(app, tiktok_settings, start(app, tiktok_settings, tiktok_emulator, user=user)),
            tiktok_settings,
        )
        assert cookie is not None
        values.append(cookie)
    return values


class _OldSigner(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - 15 * 24 * 3600  # past cookie_max_age (14 days)


def _mutate(kind: str, value: str, position: int, junk: str, settings: TikTokSettings) -> str:
    at = position % max(1, len(value))
    if kind == "truncate":
        return value[:at]
    if kind == "flip":
        swapped = "A" if value[at] != "A" else "B"
        return value[:at] + swapped + value[at + 1 :]
    if kind == "append":
        return value + junk
    if kind == "oversize":
        return value + "A" * (5000 + position % 5000)
    payload = IdentityCodec(settings.secret_keys).loads(value)
    if kind == "other_key":
        payload["open_id"] = "attacker"
        return IdentityCodec(["another-key-" + "x" * 40]).dumps(payload)
    if kind == "other_salt":
        return IdentityCodec(settings.secret_keys, "tiktok-asgi.flow").dumps(payload)
    if kind == "flow_format":
        return str(
            serializer(settings.secret_keys, f"tiktok-asgi.flow:{settings.client_key}").dumps(
                payload
            )
        )
    if kind == "expired":
        issued = int(time.time()) - settings.cookie_max_age - 1 - position % 10_000
        return IdentityCodec(settings.secret_keys).dumps(payload, issued=issued)
    assert kind == "expired_v1"  # the format before v2, still read until its cookies expire
    old = serializer(settings.secret_keys, "tiktok-asgi.identity")
    old.signer = _OldSigner  # type: ignore[assignment]
    return str(old.dumps(payload))


@PROPERTY
@given(
    kind=st.sampled_from(
        [
            "truncate",
            "flip",
            "append",
            "oversize",
            "other_key",
            "other_salt",
            "flow_format",
            "expired",
            "expired_v1",
        ]
    ),
    position=st.integers(min_value=0, max_value=10_000),
    junk=st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1),
    which=st.integers(min_value=0, max_value=1),
)
def test_an_altered_identity_cookie_is_nobody(
    app: TikTokAuthMiddleware,
    tiktok_settings: TikTokSettings,
    identities: list[str],
    kind: str,
    position: int,
    junk: str,
    which: int,
) -> None:
    original = identities[which]
    forged = _mutate(kind, original, position, junk.replace(";", ""), tiktok_settings)
    me = _me(app, forged, tiktok_settings)
    if forged == original:  # e.g. truncating nothing away cannot happen; flips can hit nothing
        return
    assert me["authenticated"] is False, (kind, forged[:80])
    # The genuine cookie still works: nothing was poisoned by the forgery.
    assert _me(app, original, tiktok_settings)["authenticated"] is True


@PROPERTY
@given(
    kind=st.sampled_from(["truncate", "flip", "append", "expired", "swap", "other_state"]),
    position=st.integers(min_value=0, max_value=10_000),
)
def test_an_altered_or_swapped_flow_cookie_signs_nobody_in(
    app: TikTokAuthMiddleware,
    tiktok_settings: TikTokSettings,
    tiktok_emulator: TikTokEmulator,
    kind: str,
    position: int,
) -> None:
    mine = start(app, tiktok_settings, tiktok_emulator, user=tiktok_emulator.users[0])
    theirs = start(app, tiktok_settings, tiktok_emulator, user=tiktok_emulator.users[1])
    name, value = next((k, v) for k, v in mine.cookies.items() if "_flow_" in k)
    cookies: dict[str, str]
    if kind == "swap":  # their callback, my cookie: the attacker's code in the victim's browser
        answer = finish(app, tiktok_settings, theirs, cookies=mine.cookies)
    elif kind == "other_state":  # their cookie's value under my cookie's name
        their_value = next(v for k, v in theirs.cookies.items() if "_flow_" in k)
        answer = finish(app, tiktok_settings, mine, cookies={name: their_value})
    else:
        if kind == "expired":
            flow = serializer(
                tiktok_settings.secret_keys, f"tiktok-asgi.flow:{tiktok_settings.client_key}"
            )
            payload = flow.loads(value)
            flow.signer = _OldSigner  # type: ignore[assignment]
            cookies = {name: str(flow.dumps(payload))}
        else:
            cookies = {name: _mutate(kind, value, position, "x", tiktok_settings)}
        if cookies[name] == value:
            return
        answer = finish(app, tiktok_settings, mine, cookies=cookies)
    assert_sound(answer)
    assert answer.status == 400
    assert identity_set(answer, tiktok_settings) is None


# The logout request ------------------------------------------------------------------------------


@PROPERTY
@given(
    method=st.sampled_from(["POST", "GET", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH"]),
    next_=hostile_text,
    fetch_site=st.sampled_from([None, b"same-origin", b"same-site", b"cross-site", b"none", b""]),
    signed_in=st.booleans(),
)
def test_logout_with_anything(
    app: TikTokAuthMiddleware,
    tiktok_settings: TikTokSettings,
    identities: list[str],
    method: str,
    next_: str,
    fetch_site: bytes | None,
    signed_in: bool,
) -> None:
    headers = [cookie_header({tiktok_settings.cookie_name: identities[0]})] if signed_in else []
    if fetch_site is not None:
        headers.append((b"sec-fetch-site", fetch_site))
    query = b"next=" + quote(next_, safe="").encode("ascii")
    answer = call(app, method, tiktok_settings.logout_path, query, headers)
    assert_sound(answer)
    if _oversize(query, tiktok_settings):
        assert answer.status == 414  # refused unread: nobody signed out
        assert not answer.all("set-cookie")
    elif method in ("GET", "HEAD"):
        assert answer.status == 200  # the page with the button that posts; nothing changes
        assert not answer.all("set-cookie")
    elif method != "POST":
        assert answer.status == 405
    elif fetch_site not in (None, b"same-origin", b"none"):  # same-site: a sibling subdomain
        assert answer.status == 403
    else:
        assert answer.status == 303
        cleared = [
            h for h in answer.all("set-cookie") if h.startswith(tiktok_settings.cookie_name + "=;")
        ]
        assert cleared
        assert "Max-Age=0" in cleared[0]


# Headers -----------------------------------------------------------------------------------------

header_value = st.one_of(
    st.binary(max_size=120),
    st.sampled_from(
        [b"evil.example", b"evil.example\r\nX-Injected: 1", b"testserver:443@evil", b"", b"*/*"]
    ),
)


@PROPERTY
@given(
    path=st.sampled_from(["login", "callback", "logout", "/me", "/"]),
    method=st.sampled_from(["GET", "POST", "HEAD"]),
    host=header_value,
    accept=header_value,
    cookie=header_value,
    with_identity=st.booleans(),
)
def test_hostile_host_accept_and_cookie_headers(
    app: TikTokAuthMiddleware,
    tiktok_settings: TikTokSettings,
    identities: list[str],
    path: str,
    method: str,
    host: bytes,
    accept: bytes,
    cookie: bytes,
    with_identity: bool,
) -> None:
    target = getattr(tiktok_settings, f"{path}_path", path)
    headers = [(b"host", host), (b"accept", accept), (b"cookie", cookie)]
    if with_identity:
        headers.append(cookie_header({tiktok_settings.cookie_name: identities[1]}))
    answer = call(app, method, target, b"", headers)
    assert_sound(answer, authorize_allowed=path == "login")
    if path == "login" and answer.status == 302:
        sent = dict(parse_qsl(urlsplit(answer.headers["location"]).query))
        assert sent["redirect_uri"] == tiktok_settings.redirect_uri  # never derived from Host
    if path == "/me" and method == "GET" and not with_identity:
        assert answer.json()["authenticated"] is False
    if path == "callback":
        assert identity_set(answer, tiktok_settings) is None


def test_the_same_site_check_can_fail() -> None:
    for off_site in ("//evil.example", "/\t/evil.example", "/%2F%2Fevil", "https://evil"):
        assert not is_same_site_path(off_site)
    assert is_same_site_path("/me?tab=1")


def test_properties_keep_the_pending_type_simple() -> None:
    # ``Pending`` carries only what a browser would: cookies and the callback query.
    assert set(Pending.__dataclass_fields__) == {"cookies", "callback_query", "login"}
