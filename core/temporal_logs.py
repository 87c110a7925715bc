"""The Temporal SDK core's own log lines, sent through Python's logging (so they come out in the
service's format with the rest, not as colored text on stderr), less one warning that the
session workflows make by design."""

from __future__ import annotations

import logging

from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

CORE_LOGGER = logging.getLogger("temporalio.core")
LONG_TASK_WARNING = "TMPRL1104"
"""Core's "workflow task duration exceeded 5 seconds"."""
SESSION_WORKFLOW = "SessionRun"


class LongSessionTasks(logging.Filter):
    """A session workflow's task stays open while its steps run as local activities, so every
    step longer than 5 s made core warn: that line is DEBUG here. Other workflows keep it."""

    def filter(self, record: logging.LogRecord) -> bool:
        entry = getattr(record, "temporal_log", None)
        fields = getattr(entry, "fields", None) or {}
        if LONG_TASK_WARNING not in record.getMessage():
            return True
        if fields.get("workflow_type") != SESSION_WORKFLOW:
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return CORE_LOGGER.isEnabledFor(logging.DEBUG)


def forward_core_logs() -> None:
    """Make the process's default Temporal runtime forward core's warnings and errors to
    CORE_LOGGER; call before the first client is created (clients made before keep theirs)."""
    if any(isinstance(f, LongSessionTasks) for f in CORE_LOGGER.filters):
        return
    CORE_LOGGER.addFilter(LongSessionTasks())
    logging_config = LoggingConfig(
        filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
        forwarding=LogForwardingConfig(logger=CORE_LOGGER),
    )
    runtime = Runtime(telemetry=TelemetryConfig(logging=logging_config))
    Runtime.set_default(runtime, error_if_already_set=False)
