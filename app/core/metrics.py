"""Prometheus metrics: request count, latency and errors per route template.

Each app owns a registry, so apps (and tests) never share counters. With several worker
processes, prometheus_client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR, which
`invoicer serve --workers N` sets up) keeps each worker's values in files that a scrape of
any one worker adds up.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess

MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# Seconds: from a cache hit to a request that hits the timeout (REQUEST_TIMEOUT_SECONDS).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class HttpMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests",
            "Requests answered, by method, route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "http_request_duration_seconds",
            "Time from the request's arrival to the end of its response, by route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_progress = Gauge(
            "http_requests_in_progress",
            "Requests being handled now.",
            ["method"],
            multiprocess_mode="livesum",
            registry=self.registry,
        )

    def observe(self, *, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.duration.labels(method, route).observe(seconds)

    def exposition(self) -> bytes:
        """The text format for a scrape: this process's values, or every worker's."""
        if os.environ.get(MULTIPROCESS_DIR_VARIABLE):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)


def forget_this_process() -> None:
    """At shutdown in multiprocess mode: this worker's live gauges stop counting."""
    if os.environ.get(MULTIPROCESS_DIR_VARIABLE):
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


# Seconds: from an email handed to SMTP to a webhook that waits out its timeout.
JOB_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class JobMetrics:
    """Durable work: attempts and their outcomes, durations, backlogs, webhook latency.

    In the embedded mode they join the API's registry (one scrape of /metrics); a worker
    serves its own at /metrics on WORKER_HEALTH_PORT.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.attempts = Counter(
            "job_attempts",
            "Attempts of durable jobs, by task and the status each left its job in.",
            ["task", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "job_attempt_duration_seconds",
            "Time an attempt took, from its lease to its outcome, by task.",
            ["task"],
            buckets=JOB_BUCKETS,
            registry=self.registry,
        )
        self.backlog = Gauge(
            "job_backlog",
            "Jobs waiting for an attempt (pending, due or not), by table.",
            ["table"],
            multiprocess_mode="max",
            registry=self.registry,
        )
        self.oldest_due_age = Gauge(
            "job_oldest_due_age_seconds",
            "How long the longest-waiting due job has been due, by table (0 when none is).",
            ["table"],
            multiprocess_mode="max",
            registry=self.registry,
        )
        self.outbox_backlog = Gauge(
            "outbox_unrelayed_events",
            "Committed events the relay has not passed on yet.",
            multiprocess_mode="max",
            registry=self.registry,
        )
        self.outbox_age = Gauge(
            "outbox_oldest_unrelayed_age_seconds",
            "Age of the oldest event not relayed yet (0 when none is).",
            multiprocess_mode="max",
            registry=self.registry,
        )
        self.webhook_latency = Histogram(
            "webhook_delivery_latency_seconds",
            "From an event's commit to its webhook's successful delivery.",
            buckets=JOB_BUCKETS,
            registry=self.registry,
        )
        self.webhook_failures = Counter(
            "webhook_delivery_failures",
            "Failed webhook attempts, by reason (status class, timeout, refused, ...).",
            ["reason"],
            registry=self.registry,
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
