"""Core's long-task warning is DEBUG for session workflows (their steps hold the task open by
design) and stays a warning for every other workflow."""

from __future__ import annotations

import logging
from types import SimpleNamespace

from core.temporal_logs import CORE_LOGGER, LongSessionTasks

LONG_TASK = "[TMPRL1104] 01a2:4:1 Workflow task duration exceeded 5 seconds."


def core_record(message: str, workflow_type: str) -> logging.LogRecord:
    entry = SimpleNamespace(fields={"workflow_type": workflow_type})
    return CORE_LOGGER.makeRecord(
        CORE_LOGGER.name,
        logging.WARNING,
        "(sdk-core)",
        0,
        message,
        (),
        None,
        extra={"temporal_log": entry},
    )


def test_a_session_workflow_s_long_task_is_debug() -> None:
    CORE_LOGGER.setLevel(logging.INFO)
    try:
        record = core_record(LONG_TASK, "SessionRun")
        assert LongSessionTasks().filter(record) is False, "not shown at INFO"
        assert record.levelno == logging.DEBUG
        CORE_LOGGER.setLevel(logging.DEBUG)
        assert LongSessionTasks().filter(core_record(LONG_TASK, "SessionRun")), "shown at DEBUG"
    finally:
        CORE_LOGGER.setLevel(logging.NOTSET)


def test_another_workflow_s_long_task_stays_a_warning() -> None:
    record = core_record(LONG_TASK, "TestRun")
    assert LongSessionTasks().filter(record) is True
    assert record.levelno == logging.WARNING


def test_other_core_warnings_of_a_session_workflow_stay() -> None:
    record = core_record("Tried to complete untracked local activity", "SessionRun")
    assert LongSessionTasks().filter(record) is True
    assert record.levelno == logging.WARNING
