"""Logs: an expected step failure or a cancellation is one INFO line per attempt with the jobId,
step and error, and no traceback; tracebacks are for real faults."""

from __future__ import annotations

import logging

import pytest
from temporalio.client import WorkflowExecutionStatus

from core.logs import job_of
from tests.support.runs import outcome, poll, progress, start_run, stuck_test, wait_for_progress


def lines_of(caplog: pytest.LogCaptureFixture, run_id: str) -> list[logging.LogRecord]:
    return [record for record in caplog.records if job_of(record) == run_id]


async def test_a_failing_step_is_one_info_line_per_attempt_without_traceback(
    client, worker_host, pages_url: str, run_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    test = {
        "name": "missing button",
        "start_url": pages_url + "shop.html",
        "step_timeout_ms": 300,
        "retry": {"max_attempts": 2, "initial_interval_s": 0.1},
        "steps": [{"action": "click", "selector": "#nothing"}],
    }
    result = await outcome(await start_run(client, run_id, test))
    assert result.state == "failed"

    records = lines_of(caplog, run_id)
    failures = [r for r in records if "failed: SelectorNotFound" in r.getMessage()]
    assert [(r.levelno, r.getMessage()[:30]) for r in failures] == [
        (logging.INFO, "step 0 (click) attempt 1 faile"),
        (logging.INFO, "step 0 (click) attempt 2 faile"),
    ]
    assert "no element matches '#nothing'" in failures[0].getMessage()
    assert not [r for r in records if r.levelno >= logging.WARNING], "nothing louder than INFO"
    assert not [r for r in records if r.exc_info], "no traceback"


async def test_a_cancelled_run_logs_no_traceback(
    client, worker_host, pages_url: str, run_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    handle = await start_run(client, run_id, stuck_test(pages_url))
    await wait_for_progress(handle, lambda p: p.current_step == 1)
    await handle.cancel()
    await poll(
        handle.describe,
        lambda described: described.status == WorkflowExecutionStatus.CANCELED,
        lambda described: f"the run stayed {described.status}",
        30,
    )
    assert (await progress(handle)).state == "cancelled"

    records = lines_of(caplog, run_id)
    assert records, "the run's lines were captured"
    assert not [r for r in records if r.levelno >= logging.WARNING], [
        r.getMessage() for r in records if r.levelno >= logging.WARNING
    ]
    assert not [r for r in records if r.exc_info], "no traceback"
