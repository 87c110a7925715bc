"""A worker that stops while it holds runs in its cache: the Temporal SDK keeps each run's
coroutine until the garbage collector closes it, outside any workflow's event loop. A closed
run must schedule nothing (no clean-up activity, no stray coroutine), and it goes on by replay
on the next worker."""

from __future__ import annotations

import asyncio
import gc
import inspect
import uuid
import warnings
from collections.abc import Coroutine
from typing import Any

from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.worker import Worker

from tests.support.runs import poll, stuck_test, until_no_context_is_open, wait_for_progress
from workflows.messages import RunFinished, RunInput
from workflows.test_run import TestRunWorkflow


def run_coroutine_of(name: str) -> Coroutine[Any, Any, Any]:
    """The suspended `run` coroutine of the workflow instance whose test is called `name`."""
    instances = [o for o in gc.get_objects() if isinstance(o, TestRunWorkflow)]
    ours = [i for i in instances if i.run_input.test["name"] == name]
    assert ours, "the stopped worker no longer holds the run"
    coroutines = [
        r
        for r in gc.get_referrers(ours[0])
        if inspect.iscoroutine(r) and r.cr_code.co_name == "run"
    ]
    assert len(coroutines) == 1, coroutines
    return coroutines[0]


def close_as_the_garbage_collector_does(name: str) -> None:
    """Close the run's coroutine from the test's loop; fail if that scheduled anything."""
    coroutine = run_coroutine_of(name)
    tasks_before = asyncio.all_tasks()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        coroutine.close()
        del coroutine
        gc.collect()
    new_tasks = asyncio.all_tasks() - tasks_before
    assert not new_tasks, f"clean-up scheduled on the test's loop: {new_tasks}"
    stray = [str(w.message) for w in caught if "never awaited" in str(w.message)]
    assert not stray, stray


async def start_on_own_worker(
    client: Client, queue: str, test: dict, **extra: Any
) -> tuple[Worker, asyncio.Task[None], WorkflowHandle]:
    """A workflow worker of the test's own on `queue`, and a run started there."""
    worker = Worker(client, task_queue=queue, workflows=[TestRunWorkflow])
    running = asyncio.create_task(worker.run())
    handle = await client.start_workflow(
        TestRunWorkflow.run,
        RunInput(test=test, **extra),
        id=f"dropped-{uuid.uuid4().hex[:12]}",
        task_queue=queue,
    )
    return worker, running, handle


async def test_a_dropped_waiting_run_schedules_no_clean_up(client, pages_url: str) -> None:
    name = f"dropped-{uuid.uuid4().hex}"
    queue = f"dropped-{uuid.uuid4().hex}"
    test = stuck_test(pages_url, name=name)
    worker, running, handle = await start_on_own_worker(client, queue, test, admission=True)
    try:
        await wait_for_progress(handle, lambda p: bool(p.steps) and p.phase == "queued")
        await worker.shutdown()
        await running
        close_as_the_garbage_collector_does(name)
    finally:
        await handle.terminate("test over")


async def test_a_run_dropped_mid_step_tears_down_only_once_replayed_elsewhere(
    client, worker_host, pages_url: str
) -> None:
    name = f"dropped-{uuid.uuid4().hex}"
    queue = f"dropped-{uuid.uuid4().hex}"
    worker, running, handle = await start_on_own_worker(
        client, queue, stuck_test(pages_url, name=name)
    )
    try:
        await wait_for_progress(handle, lambda p: p.current_step == 1)
        await worker.shutdown()
        await running
        close_as_the_garbage_collector_does(name)
        assert handle.id in worker_host.pool.open_runs(), "the dropped run closed its context"

        recorded: list[RunFinished] = []

        @activity.defn
        async def record_finished(finished: RunFinished) -> None:
            recorded.append(finished)

        await handle.cancel()
        successor = Worker(
            client, task_queue=queue, workflows=[TestRunWorkflow], activities=[record_finished]
        )
        async with successor:
            await poll(
                handle.describe,
                lambda described: described.status != WorkflowExecutionStatus.RUNNING,
                lambda described: f"the run did not end: {described.status}",
                timeout=60,
            )
        # the local activity that stores the result runs again when its workflow task is
        # retried (here: the session's activity ended meanwhile); the database stores it once
        assert {r.result.state for r in recorded} == {"cancelled"}
        await until_no_context_is_open(worker_host.pool, timeout=30, job_id=handle.id)
    finally:
        if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
            await handle.terminate("test over")
