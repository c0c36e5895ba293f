"""An offline TikTok Login Kit v2 that enforces TikTok's rules, for development and tests.

    from tiktok_asgi.emulator import TikTokEmulator

    emu = TikTokEmulator()
    settings = emu.settings()              # middleware settings for this emulator
    transport = emu.transport()            # in-process HTTP answering for TikTok's hosts
    redirect = emu.approve(authorize_url)  # the person on the consent page says yes
    emu.confirm_qr(scan_url)               # ... or confirms a QR-code sign-in on the phone

Or mount it (``Mount("/tiktok", app=emu)``) or serve it: ``python -m tiktok_asgi.emulator``.

Webhooks (``emu.register_webhook(url)``) are delivered at least once, as TikTok does: an event
the app does not answer with 2xx (another status, no connection, no answer in 10 s) is sent
again, the same body with a fresh ``TikTok-Signature``, ``webhook_retry_base`` seconds after
the first attempt (default 1), doubling each time up to ``webhook_retry_cap`` (1 hour), and
dropped when the next attempt would come after ``webhook_retry_horizon`` (72 hours): attempts
at +0, +1, +3, +7, +15 … seconds. It all runs on the emulator's ``clock``:

    emu = TikTokEmulator(clock=clock)      # a clock the test moves
    await emu.remove_app("mayacooks")      # first attempt; the app answers 500
    clock.advance(1)
    await emu.deliver_due()                # the attempts now due: the second one
    emu.pending_webhooks, emu.webhook_attempts  # the queue, every attempt and its result
    emu.fail_webhooks(2)                   # the next 2 attempts fail at TikTok's side
    await emu.send_webhook("video.publish.completed", "mayacooks")  # any of TikTok's 4 events

``await emu.run_webhook_retries()`` redelivers as time goes by (sleeping with the ``sleep``
given to the emulator); served with an ASGI lifespan, as by ``python -m tiktok_asgi.emulator``,
the emulator runs it from startup to shutdown.
"""

from tiktok_asgi.emulator._deliveries import PendingWebhook, WebhookAttempt
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
    "PendingWebhook",
    "RecordedRequest",
    "TikTokEmulator",
    "WebhookAttempt",
]
