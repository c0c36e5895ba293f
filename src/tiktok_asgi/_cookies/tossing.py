"""Clearing an identity cookie in every scope a response can reach.

A sibling subdomain can set a cookie for the parent domain, or for a longer path, with the same
name as ours (cookie tossing): the browser then sends both, and the attacker's valid sign-in may
win. Such a request is nobody, and its answer clears the name host-only and on each parent domain,
at the cookie's path and at each parent of the request's path. A ``__Host-`` cookie cannot be
tossed (browsers refuse it with a ``Domain`` or another path), so it has one scope only.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from urllib.parse import quote

from tiktok_asgi.settings import HOST_PREFIX

from .signing import PATH_SAFE, CookieSpec

__all__ = ["clear_everywhere"]

_HOSTNAME = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)+")
_MAX_PARENTS = 4  # domain levels and path levels cleared; keeps the answer's headers small
_MAX_PATH = 1024  # longer paths are not cleared: a few of them would make a huge answer


def clear_everywhere(spec: CookieSpec, host: str | None, path: str) -> list[str]:
    """``Set-Cookie`` values clearing ``spec``'s name in every scope reachable from ``host``
    (the request's ``Host`` header) and ``path`` (the request's path, decoded as in the ASGI
    scope; percent-encoded again here, as the browser sent it)."""
    if spec.name.startswith(HOST_PREFIX):
        return [dataclasses.replace(spec, path="/", domain=None).clear()]
    domains: list[str | None] = [None, spec.domain, *_parent_domains(host)]
    paths = ["/", spec.path, *_parent_paths(path)]
    return [
        dataclasses.replace(spec, domain=domain, path=at).clear()
        for domain in dict.fromkeys(domains)
        for at in dict.fromkeys(paths)
    ]


def _parent_domains(host: str | None) -> list[str]:
    """``a.b.example.com`` → ``b.example.com``, ``example.com``: at least two labels each."""
    if not host:
        return []
    name = host.lower().rsplit(":", 1)[0] if not host.startswith("[") else ""
    if not _HOSTNAME.fullmatch(name) or _is_ip(name):
        return []
    labels = name.split(".")
    return [".".join(labels[i:]) for i in range(1, len(labels) - 1)][:_MAX_PARENTS]


def _parent_paths(path: str) -> list[str]:
    """``/a/b/c`` → ``/a``, ``/a/b``, ``/a/b/c``: the paths whose cookies this request carries.

    Each is percent-encoded ("%" too: the scope's path is decoded), so that a ``;`` in the
    request's path cannot add an attribute and a non-ASCII one still makes an ASCII header.
    """
    parts = [p for p in path.split("/") if p][:_MAX_PARENTS]
    parts = [quote(p, safe=PATH_SAFE, errors="replace") for p in parts]
    paths = ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]
    return [p for p in paths if len(p) <= _MAX_PATH]


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
