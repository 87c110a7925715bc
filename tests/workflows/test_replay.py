"""The run workflow is deterministic: real histories replay without a mismatch.

The workflow runs without Temporal's sandbox, so this replay is what guards determinism: a
history with retries (timers), a failure and an admission grant must replay to the same
commands.
"""

from __future__ import annotations

import uuid

from temporalio.common import WorkflowIDReusePolicy
from temporalio.worker import Replayer

from core.queues import WORKFLOW_TASK_QUEUE
from tests.support.runs import outcome, start_run
from workflows.messages import RunInput
from workflows.test_run import TestRunWorkflow


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

    replayer = Replayer(workflows=[TestRunWorkflow], data_converter=client.data_converter)
    for handle in (failed, admitted):
        history = await handle.fetch_history()
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        assert result.replay_failure is None, result.replay_failure
