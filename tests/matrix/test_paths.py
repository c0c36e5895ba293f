"""The path rule itself (``tiktok_asgi._paths``), without servers: every spelling a router
would route to a protected view is protected, and ordinary paths cost no extra work."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from litestar.utils import normalize_path

from tiktok_asgi import _paths
from tiktok_asgi._paths import ROUTED_PATH, ProtectedPaths, request_path

ADMIN = ProtectedPaths(["/admin/", "/me"])


@pytest.mark.parametrize(
    "path",
    [
        "/admin",
        "/admin/",
        "/admin/x",
        "//admin/x",
        "/admin//x",
        "///admin",
        "/a/../admin/x",
        "/./admin",
        "/admin/./x",
        "/admin/../admin/x",
        "/a/..//admin",
        "/me",
        "/me/",
        "/me/x",
        "//me",
    ],
)
def test_covered(path: str) -> None:
    assert ADMIN.covers(path)


@pytest.mark.parametrize("path", ["/", "/administrator", "/adminx", "/public", "/a/..", "/mex"])
def test_not_covered(path: str) -> None:
    assert not ADMIN.covers(path)


def test_a_root_entry_covers_everything_and_no_entry_nothing() -> None:
    assert ProtectedPaths(["/"]).covers("/anything/at/all")
    assert not ProtectedPaths([])
    assert not ProtectedPaths([]).covers("/admin")


@pytest.mark.parametrize(
    ("scope", "path"),
    [
        ({"path": "/admin/x"}, "/admin/x"),
        ({"path": "http://127.0.0.1:8000/admin/x"}, "/admin/x"),  # uvicorn h11, Hypercorn
        ({"path": "http://h//admin/x;p"}, "//admin/x"),
        ({"path": "http://h"}, "/"),
        ({"path": "admin/x"}, "/admin/x"),
        ({"path": "/api/admin", "root_path": "/api"}, "/admin"),  # Mount, uvicorn --root-path
        ({"path": "/admin", "root_path": "/api"}, "/admin"),  # Hypercorn --root-path
        ({"path": "/api", "root_path": "/api"}, "/"),
        ({"path": "/apix", "root_path": "/api"}, "/apix"),
        ({"path": "http://h/api/admin", "root_path": "/api"}, "/admin"),
        ({"path": "/x/", "root_path": "/api", ROUTED_PATH: "/api/x"}, "/api/x"),  # Litestar
    ],
)
def test_request_path(scope: dict[str, object], path: str) -> None:
    assert request_path({"type": "http", **scope}) == path


def test_ordinary_paths_take_the_fast_way(monkeypatch: pytest.MonkeyPatch) -> None:
    def slow(path: str) -> list[str]:
        raise AssertionError(f"{path} is canonical: no other spelling to try")

    monkeypatch.setattr(_paths, "_spellings", slow)
    scope = {"type": "http", "path": "/public/page"}
    assert request_path(scope) is scope["path"]
    assert not ADMIN.covers("/public/page")
    assert ADMIN.covers("/admin/x")


SEGMENTS = st.sampled_from(["admin", "x", "a", "", ".", ".."])


@given(st.lists(SEGMENTS, max_size=6).map(lambda parts: "/" + "/".join(parts)))
def test_what_litestar_or_werkzeug_route_to_a_protected_path_is_covered(path: str) -> None:
    # Litestar merges slashes and drops trailing ones; Werkzeug (Quart) merges slashes.
    for routed in (normalize_path(path), re.sub("/+", "/", path)):
        if ADMIN.covers(routed):
            assert ADMIN.covers(path), (path, routed)
