"""Load and soak runs against a real uvicorn server on 127.0.0.1 (``nox -s stress``)."""
