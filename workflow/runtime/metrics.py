"""Prometheus metrics, shared by the sweep, delivery and the web app (`/metrics`)."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

SWEEPS = Counter("casework_sweeps", "Sweeps run", registry=REGISTRY)
SWEEP_SECONDS = Histogram("casework_sweep_seconds", "How long a sweep took", registry=REGISTRY)
LADDER_STEPS = Counter("casework_ladder_steps", "Ladder steps done", ["step"], registry=REGISTRY)
MESSAGES = Counter(
    "casework_messages",
    "Outbox deliveries by outcome (sent, retrying, dead)",
    ["outcome"],
    registry=REGISTRY,
)
OUTBOX_DEPTH = Gauge("casework_outbox_depth", "Outbox rows by state", ["state"], registry=REGISTRY)
REQUESTS = Counter(
    "casework_http_requests",
    "HTTP requests by route and status",
    ["route", "method", "status"],
    registry=REGISTRY,
)
REQUEST_SECONDS = Histogram(
    "casework_http_request_seconds", "HTTP request latency by route", ["route"], registry=REGISTRY
)
BACKUPS = Counter(
    "casework_backups", "Scheduled backups by outcome (ok, failed)", ["outcome"], registry=REGISTRY
)
LAST_BACKUP = Gauge(
    "casework_last_backup_timestamp_seconds",
    "When the last good scheduled backup was written (Unix time)",
    registry=REGISTRY,
)
