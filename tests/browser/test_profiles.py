"""A kept browser profile starts each test as a new one would: signed out, one blank tab, no
routes; a discarded one is closed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.browser.helpers import VIEWPORT, DemoServer, Profiles

if TYPE_CHECKING:
    from playwright.sync_api import Route

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("browser")]


def test_a_profile_given_back_is_handed_out_wiped(demo: DemoServer, profiles: Profiles) -> None:
    used = profiles.take(viewport=VIEWPORT)
    page = Profiles.page(used)
    used.add_cookies([{"name": "tiktok_session", "value": "someone", "url": demo.url}])
    used.new_page()  # another tab

    def teapot(route: Route) -> None:
        route.fulfill(status=418, body="a teapot")

    page.route(f"{demo.url}teapot", teapot)
    used.route(f"{demo.url}teapot", teapot)
    response = page.goto(f"{demo.url}teapot")
    assert response is not None
    assert response.status == 418
    profiles.give_back(used)

    again = profiles.take(viewport=VIEWPORT)
    assert again is used  # kept, not made anew
    assert again.cookies() == []
    assert [p.url for p in again.pages] == ["about:blank"]
    response = Profiles.page(again).goto(f"{demo.url}teapot")
    assert response is not None
    assert response.status == 404  # the routes went too
    profiles.give_back(again)


def test_a_discarded_profile_is_closed(profiles: Profiles) -> None:
    used = profiles.take(viewport=VIEWPORT)
    Profiles.page(used)
    profiles.discard(used)
    profiles.give_back(used)
    fresh = profiles.take(viewport=VIEWPORT)
    assert fresh is not used
    profiles.give_back(fresh)
