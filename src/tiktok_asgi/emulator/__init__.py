"""An offline TikTok Login Kit v2 that enforces TikTok's rules, for development and tests.

    from tiktok_asgi.emulator import TikTokEmulator

    emu = TikTokEmulator()
    settings = emu.settings()              # middleware settings for this emulator
    transport = emu.transport()            # in-process HTTP answering for TikTok's hosts
    redirect = emu.approve(authorize_url)  # the person on the consent page says yes

Or mount it (``Mount("/tiktok", app=emu)``) or serve it: ``python -m tiktok_asgi.emulator``.
"""

from tiktok_asgi.emulator._emulator import TEST_SECRET_KEY, TikTokEmulator
from tiktok_asgi.emulator._errors import EmulatorRejected
from tiktok_asgi.emulator._faults import Fault, FaultKind
from tiktok_asgi.emulator._state import RecordedRequest
from tiktok_asgi.emulator._users import EmulatorUser

__all__ = [
    "TEST_SECRET_KEY",
    "EmulatorRejected",
    "EmulatorUser",
    "Fault",
    "FaultKind",
    "RecordedRequest",
    "TikTokEmulator",
]
