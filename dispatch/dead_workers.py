"""Workers of this machine whose process is gone are let go of at once.

A worker SIGKILLed (or crashed) cannot say so; its runs find out when its heartbeats stop
(`session_lost_timeout_s`, 5 s by default, then the run opens a session elsewhere). A worker
of the dispatcher's own process space (core.process_names) can be judged at once: its process
no longer exists. Then it is marked lost (its slots leave the capacity; /health reports it
until a worker of the same machine joins in its place, runner.host), the runs holding slots
are taken out of its workflow cache, and each session it ran is ended for its run: the run's
pending activities on that worker fail ("worker ... is gone"), which the run takes as a lost
session, and the orphaned session workflow is terminated. Workers elsewhere are judged by
their heartbeats alone.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import ResetStickyTaskQueueRequest
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from core import errors
from core.queues import worker_session_queue
from core.run_ids import job_id_of
from store.workers import WorkerRegistry, gone_here

log = logging.getLogger(__name__)


async def gone_workers(registry: WorkerRegistry) -> list[str]:
    """Live-counted workers of this process space whose process has ended."""
    return [worker.worker_id for worker in gone_here((await registry.census()).live)]


async def let_go(
    registry: WorkerRegistry,
    client: Client,
    worker_id: str,
    occupants: list[str],
    successors: Sequence[str] = (),
) -> int:
    """Mark a gone worker lost (its slots leave the capacity) and end its sessions for their
    runs; how many sessions were ended. `occupants`: the runs holding slots, any of which the
    gone worker may have had in its workflow cache; `successors`: runs that were waiting on it
    for a slot (they go back in line at once)."""
    await registry.mark_lost(worker_id)
    await _uncache(client, occupants)
    reason = f"worker {worker_id} is gone: its process exited"
    for job_id in successors:
        try:
            await _fail_pending_activities(client, job_id, worker_id, reason)
        except RPCError as error:  # it ended meanwhile; else the heartbeat timeout will do
            log.info("successor %s on a gone worker: %s", job_id, error)
    ended = 0
    query = f"TaskQueue = '{worker_session_queue(worker_id)}' AND ExecutionStatus = 'Running'"
    async for session in client.list_workflows(query):
        try:
            await _fail_pending_activities(client, job_id_of(session.id), worker_id, reason)
            await client.get_workflow_handle(session.id).terminate(reason)
        except RPCError as error:  # it ended meanwhile; else the heartbeat timeout will do
            log.info("session %s of a gone worker: %s", session.id, error)
            continue
        ended += 1
    log.warning("%s; %d of its sessions start again on a live worker", reason, ended)
    return ended


async def _fail_pending_activities(
    client: Client, job_id: str, worker_id: str, reason: str
) -> None:
    """Fail the run's activities that the gone worker had started: the run sees its session
    lost, as it would after the heartbeat timeout, and opens another one."""
    described = await client.get_workflow_handle(job_id).describe()
    for pending in described.raw_description.pending_activities:
        if pending.last_worker_identity != worker_id:
            continue
        handle = client.get_async_activity_handle(
            workflow_id=job_id, run_id=described.run_id, activity_id=pending.activity_id
        )
        await handle.fail(ApplicationError(reason, type=errors.SESSION_LOST))


async def _uncache(client: Client, job_ids: list[str]) -> None:
    """Send the runs' next workflow tasks to any worker: a task for a run cached on the gone
    worker would otherwise wait for that worker's sticky queue to time out first."""
    for job_id in job_ids:
        request = ResetStickyTaskQueueRequest(
            namespace=client.namespace, execution=WorkflowExecution(workflow_id=job_id)
        )
        try:
            await client.workflow_service.reset_sticky_task_queue(request)
        except RPCError as error:  # it ended meanwhile
            log.debug("run %s: %s", job_id, error)
