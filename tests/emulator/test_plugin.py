"""The pytest plugin: installed fixtures that any project's tests can request."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


def test_fixtures_are_available_without_configuration(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from tiktok_asgi.emulator import EmulatorUser, TikTokEmulator
        from tiktok_asgi.settings import TikTokSettings


        def test_uses_both(tiktok_emulator, tiktok_settings):
            assert isinstance(tiktok_emulator, TikTokEmulator)
            assert isinstance(tiktok_settings, TikTokSettings)
            assert tiktok_settings.client_key == tiktok_emulator.client_key
            assert tiktok_settings.redirect_uri == "https://testserver/auth/tiktok/callback"
            assert tiktok_settings.redirect_uri in tiktok_emulator.redirect_uris


        def test_each_test_gets_a_fresh_emulator(tiktok_emulator):
            tiktok_emulator.add_user(EmulatorUser(username="only_here", display_name="Only"))
            assert tiktok_emulator.requests == []


        def test_and_it_is_really_fresh(tiktok_emulator):
            assert "only_here" not in [u.username for u in tiktok_emulator.users]
        """
    )
    pytester.makeini(
        "[pytest]\nfilterwarnings = error\nasyncio_default_fixture_loop_scope = function\n"
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_plugin_is_registered_as_an_entry_point() -> None:
    from importlib.metadata import entry_points

    names = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert names.get("tiktok_asgi") == "tiktok_asgi.pytest_plugin"
