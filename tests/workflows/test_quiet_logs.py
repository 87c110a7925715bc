"""Logs: an expected step failure or a cancellation is one INFO line per attempt with the jobId,
step and error, and no traceback; tracebacks are for real faults."""

from __future__ import annotations

import asyncio
import logging

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError

from core.logs import job_of
from core.run_ids import session_workflow_id
from tests.support.runs import (
    outcome,
    pause_test,
    poll,
    progress,
    start_admitted,
    start_run,
    stuck_test,
    wait_for_progress,
)
from workflows.messages import SlotHandover


def lines_of(caplog: pytest.LogCaptureFixture, job_id: str) -> list[logging.LogRecord]:
    return [record for record in caplog.records if job_of(record) == job_id]


async def test_a_failing_step_is_one_info_line_per_attempt_without_traceback(
    client, worker_host, pages_url: str, job_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    test = {
        "name": "missing button",
        "start_url": pages_url + "shop.html",
        "step_timeout_ms": 300,
        "retry": {"max_attempts": 2, "initial_interval_s": 0.1},
        "steps": [{"action": "click", "selector": "#nothing"}],
    }
    result = await outcome(await start_run(client, job_id, test))
    assert result.state == "failed"

    records = lines_of(caplog, job_id)
    failures = [r for r in records if "failed: SelectorNotFound" in r.getMessage()]
    assert [(r.levelno, r.getMessage()[:30]) for r in failures] == [
        (logging.INFO, "step 0 (click) attempt 1 faile"),
        (logging.INFO, "step 0 (click) attempt 2 faile"),
    ]
    assert "no element matches '#nothing'" in failures[0].getMessage()
    assert not [r for r in records if r.levelno >= logging.WARNING], "nothing louder than INFO"
    assert not [r for r in records if r.exc_info], "no traceback"


async def test_a_cancelled_run_logs_no_traceback(
    client, worker_host, pages_url: str, job_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    handle = await start_run(client, job_id, stuck_test(pages_url))
    await wait_for_progress(handle, lambda p: p.current_step == 1)
    await handle.cancel()
    await poll(
        handle.describe,
        lambda described: described.status == WorkflowExecutionStatus.CANCELED,
        lambda described: f"the run stayed {described.status}",
        30,
    )
    assert (await progress(handle)).state == "cancelled"

    records = lines_of(caplog, job_id)
    assert records, "the run's lines were captured"
    assert not [r for r in records if r.levelno >= logging.WARNING], [
        r.getMessage() for r in records if r.levelno >= logging.WARNING
    ]
    assert not [r for r in records if r.exc_info], "no traceback"


async def test_a_run_cancelled_in_a_long_pause_ends_its_session_at_once_and_quietly(
    client, worker_host, pages_url: str, job_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The cancel's teardown closes the context, which ends the pause: the session workflow
    does not wait the pause out, and nothing about it is logged above INFO."""
    caplog.set_level(logging.INFO)
    handle = await start_run(client, job_id, pause_test(pages_url, 120_000))
    await wait_for_progress(handle, lambda p: p.current_step == 0)
    await handle.cancel()
    session = client.get_workflow_handle(session_workflow_id(job_id, 1))
    await poll(
        session.describe,
        lambda described: described.status != WorkflowExecutionStatus.RUNNING,
        lambda _: "the session workflow waited the pause out after its run's cancel",
        30,  # far below the pause's two minutes
    )
    assert (await progress(handle)).state == "cancelled"
    await asyncio.sleep(3)  # the session's watch heartbeats once a second: let it end
    records = lines_of(caplog, job_id)
    assert not [r for r in records if r.levelno >= logging.WARNING], [
        r.getMessage() for r in records if r.levelno >= logging.WARNING
    ]
    assert not [r for r in records if r.exc_info and r.levelno >= logging.INFO], "no traceback"


async def test_a_step_longer_than_five_seconds_logs_no_warning(
    client, worker_host, pages_url: str, job_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The session workflow's task stays open while a step runs (a local activity): core's
    "workflow task duration exceeded 5 seconds" is expected there, so it is DEBUG, in the
    service's log format like all of core's lines."""
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="temporalio.core")
    result = await outcome(await start_run(client, job_id, pause_test(pages_url, 6000)))
    assert result.state == "completed"

    async def long_task_lines() -> list[logging.LogRecord]:
        return [r for r in caplog.records if "TMPRL1104" in r.getMessage()]

    # core's lines reach Python's logging a few milliseconds late
    lines = await poll(long_task_lines, bool, lambda _: "core's line never came through", 5)
    assert {r.levelno for r in lines} == {logging.DEBUG}, [r.getMessage() for r in lines]


async def test_a_successor_cancelled_while_it_waits_for_its_slot_stops_quietly(
    client, worker_host, pages_url: str, job_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Its run ends at once; its worker hears of the cancel with its next heartbeat, when the
    run is gone already: one INFO line, no warning from the SDK about an activity nobody
    waits for."""
    caplog.set_level(logging.INFO)
    first = await start_admitted(client, f"{job_id}-first", pause_test(pages_url, 8000))

    async def open_runs() -> list[str]:
        return worker_host.pool.open_runs()

    await poll(open_runs, lambda runs: first.id in runs, str, timeout=30)
    handover = SlotHandover(after_run=first.id, worker_id=worker_host.worker_id)
    successor = await start_admitted(client, job_id, pause_test(pages_url, 100), handover)
    await wait_for_progress(successor, lambda p: p.phase == "starting")
    await successor.cancel()
    with pytest.raises(WorkflowFailureError):
        await successor.result()
    assert (await progress(successor)).state == "cancelled"

    def stopped(records: list[logging.LogRecord]) -> bool:
        return any("its wait for a slot stops" in r.getMessage() for r in records)

    async def lines() -> list[logging.LogRecord]:
        return lines_of(caplog, job_id)

    await poll(lines, stopped, lambda r: str([x.getMessage() for x in r]), timeout=15)
    await first.cancel()
    records = lines_of(caplog, job_id)
    assert not [r for r in records if r.levelno >= logging.WARNING], [
        r.getMessage() for r in records if r.levelno >= logging.WARNING
    ]
    assert not [r for r in records if r.exc_info], "no traceback"
    assert first.id not in worker_host.handovers._waiting, "its wait is over"


async def test_a_tenant_s_flood_of_blocked_requests_and_console_messages_is_logged_in_bounds(
    client, worker_host, pages_url: str, job_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    """1000 blocked fetches and 20,000 console messages: a handful of egress lines and one
    console line, each naming this run (its context was the worker's warm spare)."""
    caplog.set_level(logging.INFO)
    blocked = "http://127.0.0.1:3/x"  # a port of this machine no run may reach
    test = {
        "name": "noisy page",
        "start_url": f"{pages_url}noisy?to={blocked}&fetches=1000&logs=20000",
        "step_timeout_ms": 20_000,
        "retry": {"max_attempts": 1},
        "steps": [{"action": "wait", "selector": "#done"}],
    }
    result = await outcome(await start_run(client, job_id, test))
    assert result.state == "failed" and result.error_type == "EgressBlocked", result.error
    assert "(and 999 more)" in result.steps[0].error

    everyone = [r for r in caplog.records if ": egress: " in r.getMessage()]
    assert all(job_of(r) == job_id for r in everyone), [r.getMessage() for r in everyone]
    egress = [r.getMessage() for r in lines_of(caplog, job_id) if ": egress: " in r.getMessage()]
    assert len(egress) == 6, egress
    assert egress[-1].endswith("egress: 995 more blocked requests were not logged")
    console = [r for r in caplog.records if "console capture" in r.getMessage()]
    assert [job_of(r) for r in console] == [job_id], [r.getMessage() for r in console]


async def test_a_web_worker_flooding_the_console_stops_its_run_at_once(
    client, worker_host, pages_url: str, job_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    """No init script limits a worker's console: more messages from one worker than any
    document may send fails the step, not retried, and the run ends."""
    caplog.set_level(logging.INFO)
    test = {
        "name": "worker flood",
        "start_url": f"{pages_url}noisy?to={pages_url}shop.html&worker_logs=1000000",
        "step_timeout_ms": 60_000,
        "retry": {"max_attempts": 3},
        "steps": [{"action": "wait", "selector": "#never-there"}],
    }
    result = await outcome(await start_run(client, job_id, test))
    assert result.state == "failed" and result.error_type == "ConsoleFlood", result.error
    step = result.steps[0]
    assert step.attempts == 1
    assert step.error == (
        "the page flooded its console (a Web Worker sent more than 500 messages); "
        "the run was stopped"
    )
    console = [r.getMessage() for r in lines_of(caplog, job_id) if "console" in r.getMessage()]
    assert len([m for m in console if "console capture stopped" in m]) == 1, console
