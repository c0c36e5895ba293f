"""Request limits: how often a client may ask the middleware's own paths for work.

Every login start, callback, QR code, QR status poll, native code exchange and webhook delivery
costs work (a signature, a parse, a call to TikTok). :class:`RequestLimits`, the settings'
``limits``, caps each kind per window: per client address (``scope["client"]``, as the server
reports it) and, where the request carries one of the library's cookies, per browser. Past a cap
the answer is 429 ``rate_limited`` with ``Retry-After``, and the request does nothing else. The
defaults are far above what honest use makes, even of many people behind one address; the
application's own paths are never counted.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Rate", "RequestLimits"]

_MIN_QUERY_BYTES = 1024  # TikTok's callback query (code, state, scopes) needs a few hundred
_MIN_TRACKED = 1000


def _whole(name: str, value: object, example: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a whole number, 1 or more ({example}); got {value!r}")


@dataclass(frozen=True, kw_only=True, slots=True)
class Rate:
    """At most ``per_client`` requests of one kind per ``window`` seconds from one client
    address, and at most ``per_browser`` from one browser (``None``: no per-browser count)."""

    per_client: int
    per_browser: int | None = None
    window: int = 60

    def __post_init__(self) -> None:
        _whole("per_client", self.per_client, "e.g. Rate(per_client=600)")
        if self.per_browser is not None:
            _whole("per_browser", self.per_browser, "or None to count per client only")
            if self.per_browser > self.per_client:
                raise ValueError(
                    f"per_browser ({self.per_browser}) must not exceed per_client "
                    f"({self.per_client}): every browser is also a client; lower per_browser "
                    "or raise per_client"
                )
        _whole("window", self.window, "seconds, e.g. 60")
        if self.window > 3600:
            raise ValueError(
                f"window must be at most 3600 seconds, got {self.window}: a refused client "
                "would wait that long; use a shorter window and a smaller count"
            )


@dataclass(frozen=True, kw_only=True, slots=True)
class RequestLimits:
    """The ``limits`` of :class:`~tiktok_asgi.TikTokSettings`; ``limits=None`` there turns every
    limit off, and a field set to ``None`` here turns that kind's off.

    Each :class:`Rate` counts one kind of request: ``login`` starts, ``callback`` requests,
    ``qr_start`` (a new QR code), ``qr_status`` (a QR page's poll), ``exchange`` (a native
    app's code) and ``webhook`` deliveries. ``max_query_bytes`` refuses a longer query string on
    any of the middleware's paths with 414, before it is parsed. ``max_tracked`` bounds the
    counts kept in this process (about 220 bytes each): beyond it the oldest are forgotten.
    """

    # An office or a campus behind one address signing in at once: hundreds a minute.
    login: Rate | None = Rate(per_client=1200, per_browser=30)
    callback: Rate | None = Rate(per_client=1200, per_browser=30)
    # Each is a call to TikTok; a page asks for one when it opens and when its code expires.
    qr_start: Rate | None = Rate(per_client=300, per_browser=20)
    # The QR page polls every 3 seconds (20 a minute); a kiosk hall shares one address.
    qr_status: Rate | None = Rate(per_client=6000, per_browser=120)
    # Native apps come through carrier NAT: many phones share an address.
    exchange: Rate | None = Rate(per_client=600)
    # TikTok delivers in bursts from a few addresses; a refused one is delivered again.
    webhook: Rate | None = Rate(per_client=12000)
    max_query_bytes: int = 8192
    max_tracked: int = 100_000

    def __post_init__(self) -> None:
        for name in ("login", "callback", "qr_start", "qr_status", "exchange", "webhook"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Rate):
                raise ValueError(
                    f"{name} must be a Rate, e.g. Rate(per_client=600, per_browser=30), or None "
                    f"to leave {name} requests uncounted; got {value!r}"
                )
        _whole("max_query_bytes", self.max_query_bytes, "e.g. 8192")
        if self.max_query_bytes < _MIN_QUERY_BYTES:
            raise ValueError(
                f"max_query_bytes must be at least {_MIN_QUERY_BYTES}: TikTok's callback query "
                f"and a login's next= need room; got {self.max_query_bytes}"
            )
        _whole("max_tracked", self.max_tracked, "e.g. 100000")
        if self.max_tracked < _MIN_TRACKED:
            raise ValueError(
                f"max_tracked must be at least {_MIN_TRACKED}: fewer counts kept would forget "
                f"a busy client's; got {self.max_tracked}"
            )
