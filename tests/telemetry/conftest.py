"""Spans and metric points recorded in memory, by providers of each test's own."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tiktok_asgi import TikTokSettings
from tiktok_asgi._telemetry import TELEMETRY
from tiktok_asgi.emulator import TikTokEmulator
from tiktok_asgi.events import AuthEvent
from tiktok_asgi.webhooks import sign_webhook

WEBHOOK = "/auth/tiktok/webhook"


@dataclass
class Recorded:
    """What the library recorded during one test."""

    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    tracer_provider: TracerProvider
    _metrics: Any = None

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def named(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.spans() if s.name == name]

    def one(self, name: str) -> ReadableSpan:
        (span,) = self.named(name)
        return span

    def collect(self) -> dict[str, list[tuple[dict[str, Any], Any]]]:
        """Metric name → [(attributes, value or histogram count)] of every point so far."""
        data = self.reader.get_metrics_data()
        found: dict[str, list[tuple[dict[str, Any], Any]]] = {}
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    for point in metric.data.data_points:
                        value = getattr(point, "value", None)
                        if value is None:
                            value = point.count  # a histogram's
                        found.setdefault(metric.name, []).append((dict(point.attributes), value))
        self._metrics = found
        return found

    def value(self, metric: str, **attributes: Any) -> Any:
        """The value of the point of ``metric`` whose attributes include ``attributes``."""
        points = [v for a, v in self.collect().get(metric, []) if a.items() >= attributes.items()]
        assert len(points) <= 1, points
        return points[0] if points else None


@pytest.fixture
def recorded() -> Iterator[Recorded]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    TELEMETRY.use(tracer_provider, meter_provider)
    try:
        yield Recorded(exporter, reader, tracer_provider)
    finally:
        TELEMETRY.stop()
        meter_provider.shutdown()
        tracer_provider.shutdown()


@dataclass
class Events:
    """An ``on_event`` hook keeping what it is given."""

    seen: list[AuthEvent] = field(default_factory=list)

    async def __call__(self, event: AuthEvent) -> None:
        self.seen.append(event)

    def of(self, kind: type[AuthEvent]) -> list[Any]:
        return [e for e in self.seen if isinstance(e, kind)]


@pytest.fixture
def events() -> Events:
    return Events()


@pytest.fixture
def tiktok_emulator() -> TikTokEmulator:
    return TikTokEmulator(rate_limit=None)


@pytest.fixture
def tiktok_settings(tiktok_emulator: TikTokEmulator) -> TikTokSettings:
    return tiktok_emulator.settings(http_timeout=5.0, webhook_path=WEBHOOK)


def signed_webhook(settings: TikTokSettings, body: bytes) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "TikTok-Signature": sign_webhook(settings.client_secret, body, int(time.time())),
    }
