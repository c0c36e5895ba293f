"""Sign in with TikTok in a Django project served over ASGI; see ``asgi.py``."""
