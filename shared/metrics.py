"""Prometheus metrics shared by every service (one process = one service, labels say which)."""
from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter("vux_http_requests_total", "HTTP requests", ["service", "method", "route", "status"])
HTTP_LATENCY = Histogram(
    "vux_http_request_seconds", "HTTP request latency", ["service", "method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
MESSAGES = Counter("vux_messages_total", "Messages consumed, by outcome (ok, duplicate, retried, parked)",
                   ["service", "queue", "outcome"])
PUBLISHED = Counter("vux_messages_published_total", "Messages published with a broker confirm", ["service"])
OUTBOX_BACKLOG = Gauge("vux_outbox_backlog", "Outbox rows not yet published", ["service"])
