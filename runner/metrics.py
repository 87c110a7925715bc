"""Prometheus metrics of a worker process, derived from the run events it publishes (so the
live stream and the metrics never disagree) and from its browser pool."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from live.events import RunEvent

STEP_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)
RUN_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800)


class WorkerMetrics:
    """The metrics of one worker process, in a registry of their own."""

    def __init__(self, worker_id: str, capacity: int, open_sessions: Callable[[], int]) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        sessions = Gauge(
            "testrun_worker_sessions_active",
            "Browser contexts open on this worker",
            ["worker"],
            registry=r,
        )
        sessions.labels(worker_id).set_function(open_sessions)
        Gauge(
            "testrun_worker_sessions_capacity",
            "Browser contexts this worker runs at once (WORKER_MAX_SESSIONS)",
            ["worker"],
            registry=r,
        ).labels(worker_id).set(capacity)
        self._steps = Histogram(
            "testrun_step_duration_seconds",
            "Duration of step attempts that passed",
            ["action"],
            buckets=STEP_BUCKETS,
            registry=r,
        )
        self._step_failures = Counter(
            "testrun_step_failures_total",
            "Step attempts that failed",
            ["action", "error_type"],
            registry=r,
        )
        self._retries = Counter(
            "testrun_step_retries_total", "Step attempts scheduled again", ["action"], registry=r
        )
        self._runs = Counter("testrun_runs_total", "Runs that ended", ["outcome"], registry=r)
        self._flaky = Counter(
            "testrun_runs_flaky_total", "Runs that passed after a retry", registry=r
        )
        self._run_seconds = Histogram(
            "testrun_run_duration_seconds",
            "From a run's start in a browser to its end",
            ["outcome"],
            buckets=RUN_BUCKETS,
            registry=r,
        )

        self._late_writes = Counter(
            "testrun_late_writes_refused_total",
            "Writes for a session attempt its run had left behind (this worker cut off), refused",
            registry=r,
        )
        self._deliveries = Counter(
            "testrun_webhook_deliveries_total",
            "Webhook delivery attempts by outcome (delivered, failed, disabled, refused)",
            ["outcome"],
            registry=r,
        )

    def late_write(self) -> None:
        """A write for a session attempt its run had left behind, refused."""
        self._late_writes.inc()

    def delivery(self, outcome: str) -> None:
        """Count one webhook delivery attempt."""
        self._deliveries.labels(outcome).inc()

    def observe(self, event: RunEvent) -> None:
        """Count what a run event says."""
        data = event.data
        action = str(data.get("action", "unknown"))
        if event.type == "step_passed":
            self._steps.labels(action).observe(data.get("durationMs", 0) / 1000)
        elif event.type == "step_failed":
            self._step_failures.labels(action, str(data.get("errorType"))).inc()
            if data.get("retryInS") is not None:
                self._retries.labels(action).inc()
        elif event.is_final:
            self._runs.labels(event.type).inc()
            if data.get("flaky"):
                self._flaky.inc()
            started, finished = data.get("startedAt"), data.get("finishedAt")
            if started and finished:
                seconds = (
                    datetime.fromisoformat(finished) - datetime.fromisoformat(started)
                ).total_seconds()
                self._run_seconds.labels(event.type).observe(max(seconds, 0))

    def serve(self, port: int, host: str = "127.0.0.1") -> None:
        """Serve /metrics on host:port from a background thread."""
        start_http_server(port, addr=host, registry=self.registry)
