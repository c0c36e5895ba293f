"""The public names, pinned: adding or removing one is a deliberate change."""

from __future__ import annotations

import importlib

import pytest

import tiktok_asgi

PUBLIC = {
    "tiktok_asgi": [
        "ErrorPage",
        "InsufficientScope",
        "LoadUser",
        "LoginRequired",
        "MemoryTokenStore",
        "OnLogin",
        "OnLogout",
        "OnWebhook",
        "TikTokAPI",
        "TikTokAPIError",
        "TikTokAuthError",
        "TikTokAuthMiddleware",
        "TikTokContext",
        "TikTokRateLimited",
        "TikTokSettings",
        "TikTokUnavailable",
        "TikTokUser",
        "TikTokWebhookEvent",
        "TokenStore",
        "TokenStoreError",
        "TokenStoreUnavailable",
        "login_url",
        "tiktok_api",
        "tiktok_context",
    ],
    "tiktok_asgi.fastapi": [
        "CurrentUser",
        "OptionalUser",
        "TikTokHTTPException",
        "install",
        "optional_user",
        "require_scopes",
        "require_user",
        "tiktok_exception_handler",
    ],
    "tiktok_asgi.quart": ["current_user", "install", "login_required", "require_scopes"],
    "tiktok_asgi.starlette": ["install", "login_required", "require_scopes", "tiktok_routes"],
    "tiktok_asgi.litestar": ["TikTokPlugin", "login_required", "require_scopes"],
    "tiktok_asgi.django": ["TikTokUserMiddleware", "login_required", "require_scopes"],
    "tiktok_asgi.sessions": ["end_user_sessions_in_store"],
    "tiktok_asgi.webhooks": [
        "AuthorizationRemoved",
        "OnWebhook",
        "PortabilityDownloadReady",
        "TikTokWebhookEvent",
        "VideoPublishCompleted",
        "VideoUploadFailed",
        "WebhookContent",
        "sign_webhook",
    ],
    "tiktok_asgi.stores": ["MemoryTokenStore", "OnceStore", "TokenStore", "TokenStoreError"],
}


@pytest.mark.parametrize("module_name", sorted(PUBLIC))
def test_all_is_pinned(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert sorted(module.__all__) == sorted(PUBLIC[module_name])
    assert len(set(module.__all__)) == len(module.__all__)
    for name in module.__all__:
        assert getattr(module, name) is not None, name


def test_version() -> None:
    assert isinstance(tiktok_asgi.__version__, str)
