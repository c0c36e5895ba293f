"""The client-credentials grant: a client access token for a right key and secret pair."""

from __future__ import annotations

from tests.emulator.helpers import TOKEN, USERINFO, Api


def form(api: Api, **changes: str) -> dict[str, str]:
    return {
        "client_key": api.emu.client_key,
        "client_secret": api.emu.client_secret,
        "grant_type": "client_credentials",
        **changes,
    }


async def test_a_right_pair_gets_a_client_access_token(api: Api) -> None:
    response = await api.client.post(TOKEN, data=form(api))
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "expires_in", "token_type"}
    assert body["access_token"].startswith("clt.")
    assert body["expires_in"] == 7200
    assert body["token_type"] == "Bearer"
    assert api.emu.count("token", grant_type="client_credentials") == 1
    # It stands for no user: user info refuses it.
    info = await api.client.get(
        USERINFO,
        params={"fields": "open_id"},
        headers={"Authorization": f"Bearer {body['access_token']}"},
    )
    assert info.json()["error"]["code"] == "access_token_invalid"


async def test_a_wrong_pair_is_invalid_client(api: Api) -> None:
    for changes in ({"client_secret": "production-secret"}, {"client_key": "sandbox-key"}):
        response = await api.client.post(TOKEN, data=form(api, **changes))
        body = response.json()
        assert body["error"] == "invalid_client"
        assert body["log_id"]
        assert "access_token" not in body


async def test_user_parameters_are_refused(api: Api) -> None:
    response = await api.client.post(TOKEN, data=form(api, scope="user.info.basic"))
    assert response.json()["error"] == "invalid_request"
    assert "scope" in response.json()["error_description"]
