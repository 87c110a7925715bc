"""The run workflows are deterministic: real histories replay without a mismatch.

The workflows run without Temporal's sandbox, so this replay is what guards determinism: a
history with retries (timers), a failure and an admission grant must replay to the same
commands, for the run and for the session workflow that ran its steps; this test records them
afresh from the code under test on every run, so a change that breaks replay fails CI.
The histories of the released version (tests/workflows/histories, recorded by
`tests/workflows/record_histories.py`) must replay too: runs in flight when a new version is
deployed finish on it. `v5_*`: one generation of the run, with no patch. The versioning policy
is in docs/architecture.md ("Changing a workflow").
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.common import WorkflowIDReusePolicy
from temporalio.worker import Replayer

from core.queues import WORKFLOW_TASK_QUEUE
from core.run_ids import session_workflow_id
from core.temporal import CLEAR_CONVERTER
from tests.support.runs import outcome, poll, start_admitted, start_run
from workflows.messages import RunInput, SlotHandover
from workflows.session_run import SessionRunWorkflow
from workflows.test_run import TestRunWorkflow

EARLIER_HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))
"""Recorded with payloads in clear (no codec; the failure converter as in service), and the
worker's host name and file paths in stack traces replaced; a history's run and
session ids are its file's name."""


async def test_histories_with_retries_failures_and_admission_replay(
    client, worker_host, pages_url: str
) -> None:
    key = uuid.uuid4().hex
    flaky = {
        "name": "flaky then failing",
        "start_url": pages_url,
        "retry": {"max_attempts": 3, "initial_interval_s": 0.2},
        "steps": [
            {"action": "navigate", "value": f"/flaky/{key}/1"},
            {"action": "assert", "selector": "#missing", "timeout_ms": 300},
        ],
    }
    failed = await start_run(client, f"replay-{key}", flaky)
    assert (await outcome(failed)).state == "failed"

    admitted_id = f"replay-admitted-{key}"
    shop = {
        "name": "shop",
        "start_url": pages_url + "shop.html",
        "steps": [{"action": "click", "selector": "#buy"}],
    }
    admitted = await client.start_workflow(
        TestRunWorkflow.run,
        RunInput(test=shop, admission=True),
        id=admitted_id,
        task_queue=WORKFLOW_TASK_QUEUE,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        start_signal="admit",
    )
    assert (await outcome(admitted)).state == "completed"

    replayer = Replayer(
        workflows=[TestRunWorkflow, SessionRunWorkflow], data_converter=client.data_converter
    )
    sessions = [
        client.get_workflow_handle(session_workflow_id(h.id, 1)) for h in (failed, admitted)
    ]
    for handle in (failed, admitted, *sessions):
        history = await handle.fetch_history()
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        assert result.replay_failure is None, result.replay_failure
    for session in sessions:
        events = (await session.fetch_history()).events
        assert any(e.HasField("marker_recorded_event_attributes") for e in events), (
            "the session's steps ran as local activities"
        )


async def test_a_successor_takes_over_its_predecessor_s_slot_and_its_history_replays(
    client, worker_host, pages_url: str
) -> None:
    """A run granted the slot of a running run (dispatch.successors): one activity on that
    run's worker opens its context as that run's closes and runs its steps; no open_session."""
    key = uuid.uuid4().hex
    hold = {
        "name": "hold",
        "start_url": pages_url + "shop.html",
        "steps": [{"action": "wait", "value": 1500}],
    }
    first = await start_admitted(client, f"replay-first-{key}", hold)

    async def open_runs() -> list[str]:
        return worker_host.pool.open_runs()

    await poll(open_runs, lambda runs: first.id in runs, str, timeout=30)
    shop = {
        "name": "shop",
        "start_url": pages_url + "shop.html",
        "steps": [{"action": "click", "selector": "#buy"}],
    }
    handover = SlotHandover(after_run=first.id, worker_id=worker_host.worker_id)
    successor = await start_admitted(client, f"replay-successor-{key}", shop, handover)
    before, after = await outcome(first), await outcome(successor)
    assert before.state == after.state == "completed"
    assert before.finished_at is not None and after.started_at is not None
    assert after.started_at >= before.finished_at, "it opened once the first had closed"
    history = await successor.fetch_history()
    events = history.events
    signals = [e.workflow_execution_signaled_event_attributes.signal_name for e in events]
    activities = [e.activity_task_scheduled_event_attributes.activity_type.name for e in events]
    assert "session_opened" in signals
    assert "open_session" not in activities and "run_session" in activities
    replayer = Replayer(
        workflows=[TestRunWorkflow, SessionRunWorkflow], data_converter=client.data_converter
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure


@pytest.mark.parametrize("path", EARLIER_HISTORIES, ids=lambda p: p.stem)
async def test_runs_started_by_the_earlier_version_replay(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    assert history.events[0].workflow_execution_started_event_attributes.workflow_type.name == (
        "TestRun"
    )
    replayer = Replayer(
        workflows=[TestRunWorkflow, SessionRunWorkflow], data_converter=CLEAR_CONVERTER
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure


def test_earlier_histories_are_present() -> None:
    assert len(EARLIER_HISTORIES) >= 3, "the recorded histories of the released version"
