"""A small app that signs in with TikTok: ``python -m tiktok_asgi.demo`` (needs the ``demo`` extra).

Without configuration it signs in against the TikTok emulator, mounted in the same process at
``/tiktok``. With ``TIKTOK_CLIENT_KEY``, ``TIKTOK_CLIENT_SECRET`` and ``TIKTOK_REDIRECT_URI`` set
it signs in with that real TikTok app instead.

    from tiktok_asgi.demo import create_app

    app, setup = create_app(host="127.0.0.1", port=8000)
"""

from tiktok_asgi.demo._app import build_app, create_app
from tiktok_asgi.demo._setup import DemoSetup, demo_setup

__all__ = ["DemoSetup", "build_app", "create_app", "demo_setup"]
