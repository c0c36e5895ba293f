"""Traces and metrics through the OpenTelemetry API, when the ``otel`` extra is installed.

Without it nothing of OpenTelemetry is imported: :data:`TELEMETRY` stays a shared no-op whose
spans are one shared object. With it, spans go to the global tracer provider and instruments to
the global meter provider (whatever the application configures, even later), or to the
providers given to :meth:`Telemetry.use`.

A span is current while its step runs, so it nests under the server's span (ASGI
instrumentation) and the HTTP calls to TikTok made inside it become its children. Attributes
never carry a token, a code, a verifier, a state, a cookie or a secret; an ``open_id`` only as
its digest.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from typing import Any, ParamSpec, Protocol, TypeVar

from .errors import TikTokAuthError
from .events import digest

__all__ = ["NO_SPAN", "TELEMETRY", "AttributeValue", "Span", "Telemetry", "traced"]

_P = ParamSpec("_P")
_T = TypeVar("_T")

AttributeValue = str | int | float | bool
Attributes = Mapping[str, AttributeValue]

SCOPE_NAME = "tiktok_asgi"
ERROR_CODE = "error.type"  # OpenTelemetry's name for the kind of failure
LOG_ID = "tiktok.log_id"
OPEN_ID = "tiktok_asgi.open_id.digest"

#: Counters: name → (unit, description).
COUNTERS = {
    "tiktok_asgi.sign_ins": ("{sign_in}", "Sign-ins, by outcome (ok or the error code) and how"),
    "tiktok_asgi.refreshes": ("{refresh}", "Access-token refreshes at TikTok, by outcome"),
    "tiktok_asgi.revocations": ("{revocation}", "Revocations at TikTok, by outcome"),
    "tiktok_asgi.sessions_ended": ("{session}", "Login sessions ended together, by cause"),
    "tiktok_asgi.webhooks": ("{delivery}", "Webhook deliveries, by event and result"),
    "tiktok_asgi.store.errors": ("{error}", "Token-store calls that failed, by operation"),
    "tiktok_asgi.rate_limited": ("{request}", "Requests refused by the limits, by kind and scope"),
}
#: Histograms: name → (unit, description).
HISTOGRAMS = {
    "tiktok_asgi.tiktok.duration": ("s", "Calls to TikTok, by endpoint and outcome"),
    "tiktok_asgi.store.duration": ("s", "Token-store calls, by operation"),
}


class CacheCounts(Protocol):
    """What the identity cookie's cache counts (read by the observable counters)."""

    hits: int
    misses: int


class Span(Protocol):
    def __enter__(self) -> Span: ...
    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None: ...
    def set(self, key: str, value: AttributeValue | None) -> None: ...
    def fail(self, code: str, log_id: str | None = None) -> None: ...


class _NoSpan:
    """The span of every step while nothing records them: shared, and it does nothing."""

    __slots__ = ()

    def __enter__(self) -> _NoSpan:
        return self

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        return None

    def set(self, key: str, value: AttributeValue | None) -> None:
        return None

    def fail(self, code: str, log_id: str | None = None) -> None:
        return None


NO_SPAN = _NoSpan()


class _Span:
    """One step's span, current while the step runs; a :class:`TikTokAuthError` leaving it
    marks it failed with its code and TikTok's log id (the exception's text is left out: it
    may quote TikTok's answer)."""

    __slots__ = ("_api", "_span", "_token")

    def __init__(self, api: _Api, name: str, attributes: Attributes | None) -> None:
        self._api = api
        self._span = api.tracer.start_span(name, attributes=attributes)
        self._token: object = None

    def __enter__(self) -> _Span:
        api = self._api
        self._token = api.attach(api.set_span_in_context(self._span))
        return self

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, Exception) and not self._failed():
            if isinstance(exc, TikTokAuthError):
                self.fail(exc.code, exc.log_id)
            else:
                self.fail(type(exc).__name__)
        self._api.detach(self._token)
        self._span.end()

    def set(self, key: str, value: AttributeValue | None) -> None:
        if value is not None:
            self._span.set_attribute(key, value)

    def _failed(self) -> bool:
        """Already marked failed by its step (with the cause, which beats what it raises)."""
        status = getattr(self._span, "status", None)  # the SDK's spans show it
        return status is not None and status.status_code is self._api.error_code

    def fail(self, code: str, log_id: str | None = None) -> None:
        span = self._span
        span.set_attribute(ERROR_CODE, code)
        if log_id:
            span.set_attribute(LOG_ID, log_id)
        span.set_status(self._api.error_status(code))


class _Api:
    """The parts of the OpenTelemetry API in use, imported once."""

    def __init__(self, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        from opentelemetry import context, metrics, trace
        from opentelemetry.trace import Status, StatusCode

        from . import __version__

        self.tracer = (tracer_provider or trace.get_tracer_provider()).get_tracer(
            SCOPE_NAME, __version__
        )
        self.meter = (meter_provider or metrics.get_meter_provider()).get_meter(
            SCOPE_NAME, __version__
        )
        self.attach: Callable[[Any], object] = context.attach
        self.detach: Callable[[Any], None] = context.detach
        self.set_span_in_context: Callable[[Any], Any] = trace.set_span_in_context
        self.current_span: Callable[[], Any] = trace.get_current_span
        self.error_status: Callable[[str], Any] = lambda code: Status(StatusCode.ERROR, code)
        self.error_code = StatusCode.ERROR
        self.observation: Callable[..., Any] = metrics.Observation
        self.counters = {
            name: self.meter.create_counter(name, unit=unit, description=text)
            for name, (unit, text) in COUNTERS.items()
        }
        self.histograms = {
            name: self.meter.create_histogram(name, unit=unit, description=text)
            for name, (unit, text) in HISTOGRAMS.items()
        }


class Telemetry:
    """Spans and instruments of the library; one shared instance, :data:`TELEMETRY`."""

    __slots__ = ("_api", "_caches", "_loaded", "measuring")

    def __init__(self) -> None:
        self._api: _Api | None = None
        self._loaded = False
        self._caches: weakref.WeakSet[Any] = weakref.WeakSet()
        #: Whether durations are worth timing (instruments exist).
        self.measuring = False

    def load(self) -> None:
        """Use the global providers if the OpenTelemetry API can be imported (once)."""
        if self._loaded:
            return
        self._loaded = True
        try:
            api = _Api()
        except ImportError:
            return
        self._start(api)

    def use(self, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        """Record with these providers from now on (None: the global one)."""
        self._loaded = True
        self._start(_Api(tracer_provider, meter_provider))

    def stop(self) -> None:
        """Record nothing from now on (until :meth:`load` or :meth:`use`)."""
        self._api, self._loaded, self.measuring = None, False, False

    def _start(self, api: _Api) -> None:
        self._api = api
        self.measuring = True
        caches = self._caches

        def hits(options: object) -> Iterable[Any]:
            return [api.observation(sum(c.hits for c in caches))]

        def misses(options: object) -> Iterable[Any]:
            return [api.observation(sum(c.misses for c in caches))]

        unit = "{lookup}"
        api.meter.create_observable_counter(
            "tiktok_asgi.identity_cache.hits", [hits], unit, "Identity cookies found verified"
        )
        api.meter.create_observable_counter(
            "tiktok_asgi.identity_cache.misses", [misses], unit, "Identity cookies verified anew"
        )

    def watch_cache(self, cache: CacheCounts) -> None:
        """Report the hits and misses ``cache`` counts (for as long as it exists)."""
        self._caches.add(cache)

    def span(
        self, name: str, attributes: Attributes | None = None, *, open_id: str | None = None
    ) -> Span:
        """The span of one step, to be entered with ``with`` (``open_id``: recorded as its
        digest)."""
        api = self._api
        if api is None:
            return NO_SPAN
        if open_id:
            attributes = {**(attributes or {}), OPEN_ID: digest(open_id)}
        return _Span(api, name, attributes)

    def add(self, counter: str, attributes: Attributes, amount: int = 1) -> None:
        api = self._api
        if api is not None:
            api.counters[counter].add(amount, attributes)

    def record(self, histogram: str, value: float, attributes: Attributes) -> None:
        api = self._api
        if api is not None:
            api.histograms[histogram].record(value, attributes)

    def fail_current(self, code: str, log_id: str | None = None) -> None:
        """Mark the current span failed (a step that answers its failure instead of raising)."""
        api = self._api
        if api is not None:
            span = api.current_span()
            if span.is_recording():
                span.set_attribute(ERROR_CODE, code)
                if log_id:
                    span.set_attribute(LOG_ID, log_id)
                span.set_status(api.error_status(code))

    def span_event(self, name: str, attributes: Attributes) -> None:
        """An event on the current span (if one is recording)."""
        api = self._api
        if api is not None:
            span = api.current_span()
            if span.is_recording():
                span.add_event(name, attributes)


#: The library's telemetry: a no-op until :meth:`Telemetry.load` finds the API.
TELEMETRY = Telemetry()


def traced(
    name: str,
) -> Callable[[Callable[_P, Awaitable[_T]]], Callable[_P, Coroutine[Any, Any, _T]]]:
    """Run the decorated coroutine function inside a span ``name``."""

    def decorate(step: Callable[_P, Awaitable[_T]]) -> Callable[_P, Coroutine[Any, Any, _T]]:
        @functools.wraps(step)
        async def run(*args: _P.args, **kwargs: _P.kwargs) -> _T:
            with TELEMETRY.span(name):
                return await step(*args, **kwargs)

        return run

    return decorate
