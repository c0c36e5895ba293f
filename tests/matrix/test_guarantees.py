"""The columns: each guarantee, checked against every row of ``apps.py`` behind its server."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Origin

from tests.matrix.conftest import Deployed
from tests.matrix.contract import SECRET, WEBHOOK
from tests.matrix.servers import MOUNT, send

API = {"accept": "application/json"}
PAGE = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
# A refusal, a redirect (to login, or to the router's canonical spelling) or not found.
REFUSED = {301, 302, 307, 308, 400, 401, 404}

# Request targets for the protected /admin/x and /admin/, as a client may write them; the server
# percent-decodes the path (``/%2Fadmin`` arrives as ``//admin``).
SPELLINGS = {
    "plain": "/admin/x",
    "double-slash": "//admin/x",
    "encoded-slash": "/%2Fadmin/x",
    "encoded-slash-lower": "/%2fadmin/x",
    "inner-double-slash": "/admin//x",
    "trailing-slash": "/admin/x/",
    "dot-dot": "/a/../admin/x",
    "dot": "/./admin/x",
    "encoded-dot-dot": "/%2e%2e/admin/x",
    "absolute-form": "http://{host}/admin/x",
    "absolute-form-double-slash": "http://{host}//admin/x",
    "absolute-form-params": "http://{host}/admin/x;p",
    "no-leading-slash": "admin/x",
    "entry": "/admin/",
    "entry-without-slash": "/admin",
    "entry-double-slash": "//admin/",
    "mounted": MOUNT + "/admin/x",
    "mounted-double-slash": MOUNT + "//admin/x",
}


@pytest.mark.parametrize("spelling", SPELLINGS.values(), ids=SPELLINGS.keys())
def test_protected_view_is_never_served_anonymously(deployed: Deployed, spelling: str) -> None:
    target = spelling.format(host=deployed.host)
    answer = send(deployed.port, "GET", target, API)
    assert SECRET not in answer.body, f"{target!r} served the protected view ({answer.status})"
    assert answer.status in REFUSED, (target, answer.status, answer.body[:200])


@pytest.mark.parametrize("target", ["/admin/x", "/admin/", MOUNT + "/admin/x"])
def test_signed_in_person_gets_the_protected_view(deployed: Deployed, target: str) -> None:
    answer = send(deployed.port, "GET", target, {"cookie": deployed.identity, **API})
    assert (answer.status, answer.body) == (200, SECRET), target


@pytest.mark.parametrize("prefix", ["", MOUNT])
def test_login_redirects_to_tiktok(deployed: Deployed, prefix: str) -> None:
    login = send(deployed.port, "GET", prefix + deployed.settings.login_path, PAGE)
    assert login.status == 302, login.body
    location = login.headers["location"]
    assert location.startswith(deployed.settings.authorize_url + "?"), location
    callback = deployed.emulator.approve(location)
    assert callback.startswith(deployed.settings.redirect_uri + "?")


def test_callback_signs_the_person_in(deployed: Deployed) -> None:
    assert deployed.identity.startswith(deployed.settings.cookie_name + "=")
    # A callback without its flow cookie is the middleware's error, not the framework's 404.
    stray = send(deployed.port, "GET", deployed.settings.callback_path + "?code=x&state=y", API)
    assert stray.status == 400, stray.body
    assert json.loads(stray.body)["error"].startswith("state_")


@pytest.mark.parametrize("prefix", ["", MOUNT])
def test_logout_signs_out(deployed: Deployed, prefix: str) -> None:
    headers = {"cookie": deployed.identity, "origin": deployed.origin}
    out = send(deployed.port, "POST", prefix + deployed.settings.logout_path, headers)
    assert out.status == 303, out.body
    name = deployed.settings.cookie_name
    cleared = [c for c in out.headers.get_all("set-cookie") or [] if c.startswith(f"{name}=;")]
    assert cleared, out.headers.get_all("set-cookie")


def test_webhook_path_is_the_middlewares(deployed: Deployed) -> None:
    headers = {"content-type": "application/json", "tiktok-signature": "t=1,s=00"}
    answer = send(deployed.port, "POST", WEBHOOK, headers, b'{"event": "authorization.removed"}')
    assert answer.status == 401, (answer.status, answer.body[:200])
    assert json.loads(answer.body)["error"] == "webhook_signature_invalid"


def test_native_exchange_path_is_the_middlewares(deployed: Deployed) -> None:
    headers = {"content-type": "application/json"}
    answer = send(deployed.port, "POST", "/auth/tiktok/exchange", headers, b'{"code": ""}')
    assert answer.status == 400, (answer.status, answer.body[:200])
    assert json.loads(answer.body)["error"] == "invalid_request"


def _socket_answer(deployed: Deployed, path: str) -> str | int:
    """What an anonymous WebSocket at ``path`` gets: a message, or the close code after the
    handshake (a refusal of the handshake itself fails here, naming its HTTP status)."""
    url, origin = f"ws://{deployed.host}{path}", Origin(deployed.origin)
    try:
        with connect(url, origin=origin, open_timeout=10) as ws:
            try:
                return str(ws.recv(timeout=10))
            except ConnectionClosed as closed:
                received = closed.rcvd
    except InvalidStatus as refused:
        status = refused.response.status_code
    else:
        assert received is not None, "closed without a close frame"
        return received.code
    pytest.fail(
        f"{path}: refused before the handshake with HTTP {status} (browsers report 1006, as "
        "for a network failure), not accepted and then closed with 1008"
    )


@pytest.mark.parametrize("which", ["protected-path", "protected-double-slash", "adapter-guard"])
def test_anonymous_websocket_is_closed_with_1008(deployed: Deployed, which: str) -> None:
    path = {
        "protected-path": "/admin/ws",
        "protected-double-slash": "//admin/ws",
        "adapter-guard": deployed.adapter.guarded_socket,
    }[which]
    assert _socket_answer(deployed, path) == 1008


class _Form(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.actions: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "form":
            self.actions.append(dict(attrs).get("action") or "")


def test_sign_out_page_under_a_mount_posts_inside_it(deployed: Deployed) -> None:
    page = send(deployed.port, "GET", MOUNT + deployed.settings.logout_path + "?next=/", PAGE)
    assert page.status == 200, page.body
    form = _Form()
    form.feed(page.body)
    (action,) = form.actions
    assert action.startswith(f"{MOUNT}{deployed.settings.logout_path}?"), action
    posted = send(deployed.port, "POST", action, {"origin": deployed.origin})
    assert posted.status == 303, (action, posted.status)


def test_auth_error_in_a_view_is_401_json(deployed: Deployed) -> None:
    answer = send(deployed.port, "GET", "/token", API)
    assert answer.status == 401, (answer.status, answer.body[:200])
    assert json.loads(answer.body)["error"] == "login_required"


def test_missing_scope_is_403(deployed: Deployed) -> None:
    answer = send(deployed.port, "GET", "/stats", {"cookie": deployed.identity, **API})
    assert answer.status == 403, (answer.status, answer.body[:200])
    assert json.loads(answer.body)["error"] == "insufficient_scope"
