"""Logging shared by the processes of the service: JSON lines (LOG_FORMAT=json, the default) or
plain text, with the jobId on every line about a run."""

from __future__ import annotations

import json
import logging
import re
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from temporalio import activity
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from core.config import get_settings
from core.run_ids import job_id_of

current_job: ContextVar[str | None] = ContextVar("current_job", default=None)
"""The run the current task works for (set for every activity of a worker)."""


def job_of(record: logging.LogRecord) -> str | None:
    """The run a log record is about: given explicitly (`extra={"job_id": ...}`), from the
    running activity, or from the Temporal SDK's workflow and activity loggers."""
    explicit = getattr(record, "job_id", None)
    if explicit:
        return str(explicit)
    if job := current_job.get():
        return job
    for attribute in ("temporal_workflow", "temporal_activity"):
        info = getattr(record, attribute, None)
        if isinstance(info, dict) and info.get("workflow_id"):
            return job_id_of(str(info["workflow_id"]))
    return None


class JsonLines(logging.Formatter):
    """One JSON object per line: time, level, logger, message, jobId (when about a run)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if job := job_of(record):
            line["jobId"] = job
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class TextWithJob(logging.Formatter):
    """Plain timestamped lines, with [jobId] when about a run."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        job = job_of(record)
        return f"{text} [{job}]" if job else text


def configure_logging() -> None:
    """Log to stderr at LOG_LEVEL in LOG_FORMAT (settings: the environment or .env)."""
    settings = get_settings()
    handler = logging.StreamHandler()
    handler.setFormatter(TextWithJob() if settings.log_format == "text" else JsonLines())
    logging.basicConfig(level=settings.log_level.upper(), handlers=[handler], force=True)


QUERY_TOKEN = re.compile(r"([?&](?:token|access_token)=)[^&\s]*", re.IGNORECASE)


class QueryTokenFilter(logging.Filter):
    """Masks `?token=...` in access log lines (browsers' WebSockets and EventSources pass
    their token in the query string)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                QUERY_TOKEN.sub(r"\1***", arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        if isinstance(record.msg, str):
            record.msg = QUERY_TOKEN.sub(r"\1***", record.msg)
        return True


def hide_query_tokens(logger: logging.Logger) -> None:
    """Install the filter on an access logger (uvicorn's is `uvicorn.access`)."""
    if not any(isinstance(f, QueryTokenFilter) for f in logger.filters):
        logger.addFilter(QueryTokenFilter())


class JobLogContext(Interceptor):
    """Worker interceptor: every activity's log lines carry its run's jobId (the workflow ID)."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ActivityJob(next)


class _ActivityJob(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        workflow_id = activity.info().workflow_id
        current_job.set(job_id_of(workflow_id) if workflow_id else None)
        return await self.next.execute_activity(input)
