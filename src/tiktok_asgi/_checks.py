"""The checks behind :class:`~tiktok_asgi.settings.TikTokSettings`: each refuses a wrong value
with a message that names the fix, and returns the value in the form the settings keep."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from ._origins import normalised_origin
from ._public_key import PUBLIC_TEST_KEY
from .user import is_scope_name

__all__ = [
    "allowed_origins",
    "check_endpoint",
    "check_local_target",
    "check_path",
    "check_public_key",
    "check_qr_path",
    "check_redirect_uri",
    "protected_paths",
    "require_text",
    "scopes",
    "secret_keys",
]

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
# Hosts where the public emulator key may sign cookies: nobody else can reach them.
_TEST_HOSTS = LOOPBACK_HOSTS | {"testserver"}
_MIN_SECRET_KEY_LENGTH = 32


def require_text(name: str, value: object, what: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be set to {what}")


def secret_keys(value: str | Sequence[str]) -> tuple[str, ...]:
    keys = (value,) if isinstance(value, str) else tuple(value)
    if not keys:
        raise ValueError("secret_key must be a string or a non-empty sequence of strings")
    for key in keys:
        if not isinstance(key, str) or len(key) < _MIN_SECRET_KEY_LENGTH:
            raise ValueError(
                f"every secret_key must be a string of at least {_MIN_SECRET_KEY_LENGTH} "
                'characters; generate one with: python -c "import secrets; '
                'print(secrets.token_urlsafe(48))"'
            )
    return keys


def check_public_key(keys: tuple[str, ...], redirect_uri: str) -> None:
    """The emulator's published key signs cookies anyone can forge: only for test hosts."""
    if PUBLIC_TEST_KEY in keys and urlsplit(redirect_uri).hostname not in _TEST_HOSTS:
        raise ValueError(
            "secret_key is the emulator's published TEST_SECRET_KEY, with which anyone can forge "
            "a sign-in; it is accepted only for localhost, 127.0.0.1, [::1] and testserver. "
            'Generate a key with: python -c "import secrets; print(secrets.token_urlsafe(48))"'
        )


def allowed_origins(value: Sequence[str] | None, redirect_uri: str) -> tuple[str, ...]:
    """Origins whose pages may use the signed-in user's WebSockets and sign them out, each as
    ``scheme://host[:port]`` in lower case without the scheme's default port, the form in which
    a request's ``Origin`` is compared with them."""
    if value is None:
        parts = urlsplit(redirect_uri)
        origin = normalised_origin(f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}")
        if origin is None:
            raise ValueError(f"redirect_uri {redirect_uri!r} has no usable origin")
        return (origin,)
    if isinstance(value, str):
        raise ValueError(
            "allowed_origins must be a sequence of origins, e.g. ('https://example.com',), "
            "not one string"
        )
    origins = []
    for origin in value:
        parts = urlsplit(origin) if isinstance(origin, str) else None
        normal = normalised_origin(origin) if isinstance(origin, str) else None
        if (
            parts is None
            or normal is None
            or parts.scheme not in ("https", "http")
            or not parts.hostname
            or parts.path
            or parts.query
            or parts.fragment
            or "@" in parts.netloc
        ):
            raise ValueError(
                "allowed_origins entries must be origins like 'https://example.com' or "
                f"'http://localhost:8000' (scheme, host, optional port; no path), got {origin!r}"
            )
        origins.append(normal)
    return tuple(dict.fromkeys(origins))


def scopes(value: Sequence[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        raise ValueError(
            'scopes must be a sequence of scope names, e.g. ("user.info.basic", '
            '"user.info.profile"), not one string'
        )
    scopes = tuple(value)
    if not scopes:
        raise ValueError('scopes must not be empty; TikTok login needs "user.info.basic"')
    for scope in scopes:
        if isinstance(scope, str) and len(scope.split()) > 1:
            names = ", ".join(repr(name) for name in scope.split())
            raise ValueError(
                f"scope {scope!r} holds several scope names: give each one on its own, "
                f"scopes=({names}), or in TIKTOK_SCOPES separated by commas"
            )
        if not is_scope_name(scope):
            raise ValueError(
                f"scope {scope!r} is not a TikTok scope name such as 'user.info.basic'"
            )
    if "user.info.basic" not in scopes:
        raise ValueError('scopes must include "user.info.basic": TikTok login needs it')
    return tuple(dict.fromkeys(scopes))


def protected_paths(value: Sequence[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        # A string is a sequence of characters: "/app" would protect "/", "a", "p", "p".
        raise ValueError(
            f"protected_paths must be a sequence of path prefixes, not one string: write "
            f"protected_paths=({value!r},)"
        )
    return tuple(value)


def check_redirect_uri(uri: str) -> None:
    fix = (
        "redirect_uri must be an absolute https URL without query or fragment, registered in the "
        "TikTok app console (plain http is allowed only for localhost, 127.0.0.1 and [::1])"
    )
    if not isinstance(uri, str):
        raise ValueError(fix)
    parts = urlsplit(uri)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"{fix}; got {uri!r}")
    if parts.query or parts.fragment or "?" in uri or "#" in uri:
        raise ValueError(f"{fix}; {uri!r} has a query or fragment")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        raise ValueError(f"{fix}; {uri!r} is plain http on a non-loopback host")
    if len(uri) >= 512:
        raise ValueError(f"{fix}; TikTok accepts fewer than 512 characters")


def check_path(name: str, path: str) -> None:
    if not isinstance(path, str) or not path.startswith("/") or path.startswith("//"):
        raise ValueError(f"{name} must be a path starting with a single '/', got {path!r}")


def check_qr_path(path: str | None, others: Mapping[str, str]) -> None:
    """QR-code sign-in answers at ``path`` and at ``path/<code id>``; None turns it off."""
    if path is None:
        return
    check_path("qr_path", path)
    if path.endswith("/"):
        raise ValueError(
            f"qr_path must not end with '/' (its codes are polled at qr_path/<id>), got {path!r}"
        )
    taken = [name for name, other in others.items() if other == path]
    if taken:
        raise ValueError(
            f"qr_path {path!r} is also {', '.join(taken)}: give QR-code sign-in a path of its "
            "own, e.g. '/auth/tiktok/qr', or None to turn it off"
        )


def native_redirect_uris(value: Sequence[str]) -> tuple[str, ...]:
    """The redirect URIs registered for the native apps (universal or app links), exactly as
    the apps send them."""
    fix = (
        "native_redirect_uris must be a sequence of the absolute redirect URIs registered for "
        "your iOS and Android apps in the TikTok app console, e.g. "
        "('https://example.com/tiktok/auth',), each without a fragment and under 512 characters"
    )
    if isinstance(value, str):
        raise ValueError(fix + ", not one string")
    uris = tuple(value)
    for uri in uris:
        parts = urlsplit(uri) if isinstance(uri, str) else None
        if parts is None or not parts.scheme or parts.fragment or len(uri) >= 512:
            raise ValueError(f"{fix}; got {uri!r}")
    return uris


def check_local_target(name: str, target: str) -> None:
    if (
        not isinstance(target, str)
        or not target.startswith("/")
        or target.startswith(("//", "/\\"))
    ):
        raise ValueError(f"{name} must be a path on this site starting with '/', got {target!r}")


def check_endpoint(name: str, url: str) -> None:
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"{name} must be an absolute http(s) URL, got {url!r}")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        # Tokens and the client secret travel to these URLs.
        raise ValueError(
            f"{name} must be an https URL (plain http only for localhost, 127.0.0.1 and [::1]), "
            f"got {url!r}"
        )
