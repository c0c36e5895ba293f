"""Small parsing helpers for the core tests: Set-Cookie headers, URLs and signed payloads."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import string
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
from itsdangerous import URLSafeTimedSerializer
from starlette.testclient import TestClient

from tiktok_asgi import TikTokSettings
from tiktok_asgi.emulator import EmulatorUser, TikTokEmulator


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def one(url: str, name: str) -> str:
    values = query_of(url)[name]
    assert len(values) == 1, values
    return values[0]


def set_cookies(response: httpx2.Response) -> list[str]:
    return response.headers.get_list("set-cookie")


def parse_set_cookie(header: str) -> tuple[str, str, list[str]]:
    """``(name, value, attributes)`` of one ``Set-Cookie`` header, attributes in order."""
    first, *attributes = header.split("; ")
    name, _, value = first.partition("=")
    return name, value, attributes


def cookie_named(response: httpx2.Response, prefix: str) -> tuple[str, str, list[str]]:
    """The single ``Set-Cookie`` whose name starts with ``prefix`` (is it, if it ends in ``=``)."""
    found = [
        parse_set_cookie(h)
        for h in set_cookies(response)
        if (h.split("=", 1)[0] + "=").startswith(prefix)
    ]
    assert len(found) == 1, set_cookies(response)
    return found[0]


def pending_login(
    client: TestClient, settings: TikTokSettings, consent: Callable[[str], str]
) -> tuple[str, str, str]:
    """Login in ``client``, then ``consent`` (``emulator.approve`` or ``.deny``) to the authorize
    URL: the callback URL TikTok sends back, and the name and value of the flow cookie."""
    login = client.get(settings.login_path, follow_redirects=False)
    name, value, _ = cookie_named(login, f"{settings.cookie_name}_flow_")
    return consent(login.headers["location"]), name, value


def browser_with_cookie(app: Any, name: str, value: str) -> TestClient:
    """Another browser on the same app, holding only the cookie ``name=value``."""
    browser = TestClient(app, base_url="https://testserver")
    browser.headers["cookie"] = f"{name}={value}"
    return browser


def new_users(emulator: TikTokEmulator, count: int, prefix: str) -> tuple[EmulatorUser, ...]:
    """``count`` generated users, added to ``emulator``."""
    users = EmulatorUser.generate(count, prefix=prefix)
    for user in users:
        emulator.add_user(user)
    return users


# The identity cookie's format, written out again here so that the tests read and forge cookies
# without the middleware's code: v3.<fields joined by "|">.<issued>.<base64url(HMAC-SHA256)>, and
# the v2 format before it (a base64url JSON array in place of the fields), still read.
IDENTITY_PURPOSE = "tiktok-asgi.identity"
IDENTITY_LAYOUT = (
    "sid",
    "open_id",
    "display_name",
    "granted_scopes",
    "union_id",
    "avatar_url",
    "avatar_url_100",
    "avatar_large_url",
    "username",
    "bio_description",
    "profile_deep_link",
    "is_verified",
    "follower_count",
    "following_count",
    "likes_count",
    "video_count",
    "extra",
)
# v3: the characters a field keeps as they are; a space is "+", anything else "!" + hex bytes.
IDENTITY_KEPT = frozenset(string.ascii_letters + string.digits + "-._~:/?=&%@")


class BadIdentity(ValueError):
    """The cookie is not one the given keys signed (or not in a known format)."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def v3_text(value: str) -> str:
    """A v3 field's text for ``value``, always in the escaped form (never base64)."""
    if value == "":
        return "!"
    out = []
    for ch in value:
        if ch in IDENTITY_KEPT:
            out.append(ch)
        elif ch == " ":
            out.append("+")
        else:
            out.extend(f"!{b:02X}" for b in ch.encode("utf-8", "surrogatepass"))
    return "".join(out)


def v3_untext(field: str) -> str:
    """The value of a v3 field's text (edits and lists aside)."""
    if field == "!":
        return ""
    if field.startswith("!!"):
        return _b64url_decode(field[2:]).decode("utf-8", "surrogatepass")
    data = bytearray()
    i = 0
    while i < len(field):
        ch = field[i]
        if ch == "!":
            data.append(int(field[i + 1 : i + 3], 16))
            i += 3
        else:
            data.extend((" " if ch == "+" else ch).encode("ascii"))
            i += 1
    return data.decode("utf-8", "surrogatepass")


def _v3_fields(payload: dict[str, Any]) -> list[str]:
    fields = []
    for name in IDENTITY_LAYOUT:
        value = payload.get(name)
        if name == "granted_scopes":
            fields.append("*".join(v3_text(s) for s in value or ()))
        elif name == "extra":
            fields.append(v3_text(json.dumps(value)) if value else "")
        elif name == "is_verified":
            fields.append("" if value is None else "1" if value else "0")
        elif value is None or (name == "display_name" and value == ""):
            fields.append("")
        elif isinstance(value, int):
            fields.append(str(value))
        else:
            fields.append(v3_text(value))
    while len(fields) > 2 and fields[-1] == "":
        fields.pop()
    return fields


def _v3_values(payload: str) -> dict[str, Any]:
    fields = payload.split("|")
    fields += [""] * (len(IDENTITY_LAYOUT) - len(fields))
    data: dict[str, Any] = {}
    head = tail = None
    for name, field in zip(IDENTITY_LAYOUT, fields, strict=True):
        if name == "granted_scopes":
            data[name] = [v3_untext(s) for s in field.split("*")] if field else []
        elif name == "extra":
            data[name] = json.loads(v3_untext(field)) if field else {}
        elif not field:
            continue
        elif name == "is_verified":
            data[name] = field == "1"
        elif name.endswith("_count"):
            data[name] = int(field)
        elif name == "avatar_url" and "*" in field:  # <start>*<middle>*<end>
            head, middle, tail = (v3_untext(p) for p in field.split("*"))
            data[name] = head + middle + tail
        elif name in ("avatar_url_100", "avatar_large_url") and head is not None:
            data[name] = f"{head}{v3_untext(field)}{tail}"  # a middle of the same picture
        else:
            data[name] = v3_untext(field)
    return data


# The emulator's default client key: the app identity cookies are bound to unless told otherwise.
CLIENT_KEY = "emulator-client-key"


def identity_mac(
    key: str, signed: str, purpose: str = IDENTITY_PURPOSE, client_key: str = CLIENT_KEY
) -> str:
    """The ``mac`` part for the text ``signed`` (``v3.<payload>.<issued>``): the HMAC key is
    derived from the secret key and ``<purpose>:<client_key>``."""
    label = f"{purpose}:{client_key}".encode()
    derived = hmac.new(key.encode("utf-8"), label, hashlib.sha256).digest()
    return b64url(hmac.new(derived, signed.encode("ascii"), hashlib.sha256).digest())


class IdentityCodec:
    """Reads and writes identity cookies independently of the middleware.

    ``loads`` answers the payload as a dict like ``TikTokUser.to_dict()`` (plus ``sid`` when
    there is one); ``dumps`` takes such a dict, or with ``raw=True`` the payload itself (any JSON
    value for ``v2``, the text between the dots for ``v3``), and signs with the last key.
    """

    def __init__(
        self, keys: Sequence[str], purpose: str = IDENTITY_PURPOSE, client_key: str = CLIENT_KEY
    ) -> None:
        self.keys = list(keys)
        self.purpose = purpose
        self.client_key = client_key

    def dumps(
        self,
        payload: Any,
        *,
        issued: int | None = None,
        raw: bool = False,
        version: str = "v3",
    ) -> str:
        if version == "v3":
            body = payload if raw else "|".join(_v3_fields(payload))
        else:
            if not raw:
                payload = [payload.get(name) for name in IDENTITY_LAYOUT]
                payload[2] = payload[2] or ""
                payload[3] = list(payload[3] or [])
                payload[-1] = payload[-1] or {}
            body = b64url(json.dumps(payload, separators=(",", ":")).encode("utf-8"))
        when = int(time.time()) if issued is None else issued
        signed = f"{version}.{body}.{when}"
        mac = identity_mac(self.keys[-1], signed, self.purpose, self.client_key)
        return f"{signed}.{mac}"

    def loads(self, value: str, max_age: int | None = None) -> dict[str, Any]:
        signed, _, mac = value.rpartition(".")
        version, _, rest = signed.partition(".")
        payload, _, issued = rest.rpartition(".")
        if version not in ("v2", "v3") or not any(
            hmac.compare_digest(identity_mac(k, signed, self.purpose, self.client_key), mac)
            for k in self.keys
        ):
            raise BadIdentity(value)
        if max_age is not None and time.time() - int(issued) > max_age:
            raise BadIdentity("expired")
        if version == "v3":
            data = _v3_values(payload)
        else:
            values = json.loads(_b64url_decode(payload))
            data = dict(zip(IDENTITY_LAYOUT, values, strict=False))
        out = {
            k: v for k, v in data.items() if v is not None and k not in ("granted_scopes", "extra")
        }
        out.setdefault("display_name", "")
        out["granted_scopes"] = data.get("granted_scopes", [])
        if data.get("extra"):
            out["extra"] = data["extra"]
        return out

    @staticmethod
    def issued(value: str) -> int:
        return int(value.rpartition(".")[0].rpartition(".")[2])


def identity_serializer(settings: TikTokSettings, keys: list[str] | None = None) -> IdentityCodec:
    """Reads (and forges) identity cookies independently of the middleware."""
    return IdentityCodec(keys or list(settings.secret_keys), client_key=settings.client_key)


def v1_identity_serializer(settings: TikTokSettings, keys: list[str] | None = None) -> Any:
    """The format before v2 (itsdangerous), as cookies issued by earlier versions carry it."""
    return URLSafeTimedSerializer(
        keys or list(settings.secret_keys),
        salt=IDENTITY_PURPOSE,
        signer_kwargs={"digest_method": hashlib.sha256},
    )


def flow_serializer(settings: TikTokSettings) -> Any:
    return URLSafeTimedSerializer(
        list(settings.secret_keys),
        salt=f"tiktok-asgi.flow:{settings.client_key}",
        signer_kwargs={"digest_method": hashlib.sha256},
    )
