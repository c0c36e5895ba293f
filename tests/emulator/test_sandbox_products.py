"""Sandbox apps (target users only) and products (a scope needs its product)."""

from __future__ import annotations

import pytest
from httpx2 import AsyncClient
from tests.emulator.helpers import (
    REDIRECT,
    Api,
    authorize_url,
    callback_params,
)
from tests.support.consent_page import post_consent

from tiktok_asgi.emulator import EmulatorRejected, EmulatorUser, TikTokEmulator


@pytest.fixture
def sandbox() -> TikTokEmulator:
    return TikTokEmulator(sandbox=True, target_users=["mayacooks"])


def test_sandbox_target_user_signs_in(sandbox: TikTokEmulator) -> None:
    params = callback_params(sandbox.approve(authorize_url(sandbox), user="@mayacooks"))
    assert params["code"]
    maya = sandbox.user("mayacooks")
    by_open_id = TikTokEmulator(sandbox=True, target_users=[maya.open_id])
    assert callback_params(by_open_id.approve(authorize_url(by_open_id), user=maya))["code"]


def test_sandbox_refuses_other_accounts_in_approve(sandbox: TikTokEmulator) -> None:
    with pytest.raises(EmulatorRejected) as caught:
        sandbox.approve(authorize_url(sandbox), user="leo.skates")
    assert caught.value.error == "non_sandbox_target"
    assert "not a target user of this sandbox app" in caught.value.description
    assert caught.value.redirect is not None
    back = callback_params(caught.value.redirect)
    assert caught.value.redirect.startswith(REDIRECT + "?")
    assert back["error"] == "unauthorized_client"
    assert back["error_type"] == "client_key"
    assert back["state"] == "state-123"
    assert "code" not in back


async def test_sandbox_consent_page_says_why(sandbox: TikTokEmulator) -> None:
    leo = sandbox.user("leo.skates")
    async with AsyncClient(transport=sandbox.transport()) as client:
        page = await client.get(authorize_url(sandbox, scope="user.info.basic"))
        assert "Sandbox app: only its target users can sign in." in page.text
        refused = await post_consent(client, sandbox, user=leo.open_id, scope="user.info.basic")
        allowed = await post_consent(
            client, sandbox, user=sandbox.user("mayacooks").open_id, scope="user.info.basic"
        )
    assert refused.status_code == 400
    assert "location" not in refused.headers
    assert "This account (@leo.skates) is not a target user of this sandbox app" in refused.text
    assert "non_sandbox_target" in refused.text
    assert "error=unauthorized_client&amp;error_type=client_key" in refused.text
    assert allowed.status_code == 302
    assert "code=" in allowed.headers["location"]


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"sandbox": True, "target_users": [f"user{i}" for i in range(11)]}, "at most 10"),
        ({"target_users": ["mayacooks"]}, "sandbox=True"),
        ({"sandbox": True, "target_users": ["nobody_here"]}, "nobody_here"),
    ],
)
def test_sandbox_configuration_is_checked(kwargs: dict[str, object], words: str) -> None:
    users = EmulatorUser.generate(12)
    kwargs = {"users": [*users, *TikTokEmulator().users], **kwargs}
    with pytest.raises(ValueError, match=words):
        TikTokEmulator(**kwargs)  # type: ignore[arg-type]


@pytest.fixture
def login_kit_only() -> TikTokEmulator:
    return TikTokEmulator(products=["login_kit"])


def test_without_display_api_only_basic_is_approved(login_kit_only: TikTokEmulator) -> None:
    assert login_kit_only.products == ("login_kit",)
    assert login_kit_only.approved_scopes == ("user.info.basic",)
    assert tuple(login_kit_only.settings().scopes) == ("user.info.basic",)


@pytest.mark.parametrize("scope", ["user.info.profile", "user.info.stats", "video.list"])
def test_scope_of_a_missing_product_is_refused(login_kit_only: TikTokEmulator, scope: str) -> None:
    url = authorize_url(login_kit_only, scope=f"user.info.basic,{scope}")
    with pytest.raises(EmulatorRejected) as caught:
        login_kit_only.approve(url)
    assert caught.value.error == "invalid_scope"
    assert caught.value.field == "scope"
    assert scope in caught.value.description
    assert "Display API" in caught.value.description


async def test_missing_product_page_is_the_bare_scope_error(
    login_kit_only: TikTokEmulator,
) -> None:
    async with AsyncClient(transport=login_kit_only.transport()) as client:
        url = authorize_url(login_kit_only, scope="user.info.basic,user.info.profile")
        response = await client.get(url)
    assert response.status_code == 400
    assert "If you're a developer, correct the following: scope" in response.text
    assert "Authorize</button>" not in response.text


async def test_basic_alone_still_signs_in(login_kit_only: TikTokEmulator) -> None:
    async with AsyncClient(transport=login_kit_only.transport()) as client:
        api = Api(login_kit_only, client)
        token = await api.login(scope="user.info.basic")
        assert token["scope"] == "user.info.basic"
        info = await api.userinfo(token["access_token"], "open_id,display_name,avatar_url")
    assert info.json()["error"]["code"] == "ok"


def test_approved_scopes_are_a_subset_of_the_products() -> None:
    with pytest.raises(ValueError, match=r"video\.list"):
        TikTokEmulator(products=["login_kit"], approved_scopes=["user.info.basic", "video.list"])
    with pytest.raises(ValueError, match="login_kit"):
        TikTokEmulator(products=["display_api"])
    with pytest.raises(ValueError, match="unknown products"):
        TikTokEmulator(products=["login_kit", "ads"])
    # Approval still narrows what the products offer: an unapproved scope is invalid_scope.
    emu = TikTokEmulator(approved_scopes=["user.info.basic", "user.info.profile"])
    with pytest.raises(EmulatorRejected, match="not approved") as caught:
        emu.approve(authorize_url(emu, scope="user.info.basic,video.list"))
    assert caught.value.error == "invalid_scope"
