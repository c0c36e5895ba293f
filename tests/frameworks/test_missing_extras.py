"""An adapter imported without its extra names the extra and how to install it, not just the
module that failed to import."""

from __future__ import annotations

import subprocess
import sys

import pytest

CASES = [
    ("tiktok_asgi.django", "asgiref", "django"),
    ("tiktok_asgi.django", "django", "django"),
    ("tiktok_asgi.fastapi", "fastapi", "fastapi"),
    ("tiktok_asgi.quart", "quart", "quart"),
    ("tiktok_asgi.litestar", "litestar", "litestar"),
    ("tiktok_asgi.redis_store", "redis", "redis"),
]

# A fresh interpreter, where nothing has imported the dependency yet: a finder ahead of the others
# makes it not found, as if it were not installed.
PROBE = """
import importlib, sys

class NotInstalled:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.partition(".")[0] == {missing!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, NotInstalled)
try:
    importlib.import_module({module!r})
except ImportError as exc:
    print(type(exc).__name__, exc.name, str(exc), sep="\\n")
else:
    print("imported")
"""


@pytest.mark.parametrize(("module", "missing", "extra"), CASES, ids=[c[1] for c in CASES])
def test_an_adapter_without_its_extra_names_the_extra(
    module: str, missing: str, extra: str
) -> None:
    probe = PROBE.format(module=module, missing=missing)
    result = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    kind, name, message = result.stdout.strip().split("\n", 2)
    assert (kind, name) == ("ModuleNotFoundError", missing)
    assert message == (
        f"{module} needs the {extra!r} extra (No module named {missing!r}): "
        f'pip install ".[{extra}]" from a checkout of tiktok-asgi'
    )
