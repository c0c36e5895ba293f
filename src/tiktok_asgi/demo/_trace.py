"""``--trace``: the library's spans printed to the console, through the OpenTelemetry SDK."""

from __future__ import annotations

__all__ = ["INSTALL_SDK", "print_spans"]

INSTALL_SDK = (
    "--trace prints spans through the OpenTelemetry SDK, which is not installed: "
    "pip install opentelemetry-sdk"
)


def print_spans() -> None:
    """Every span, printed as it ends (the global tracer provider, set before the app is built).
    Raises ``ImportError`` without the SDK."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    trace.set_tracer_provider(provider)
