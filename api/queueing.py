"""Queueing runs: a Run row for the read model, then the workflow that executes it."""

from __future__ import annotations

import uuid

from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client
from temporalio.common import Priority

from api.errors import ApiError
from core.queues import WORKFLOW_TASK_QUEUE
from store.models import AuthFlow, Project, Run, TestCase
from store.runs import PRIORITY_KEYS
from workflows.messages import AuthInput, RunInput
from workflows.test_run import TestRunWorkflow


async def run_input_for(session: AsyncSession, project: Project, test: TestCase) -> RunInput:
    """The workflow input of a run of `test`, its auth flow's credentials sealed."""
    auth = None
    key = test.definition.get("auth_flow_id")
    if key is not None:
        flow = await session.get(AuthFlow, int(key)) if str(key).isdigit() else None
        if flow is None or flow.project_id != project.id:
            raise ApiError(409, "auth_flow_missing", f"auth flow {key} of test {test.id} is gone")
        auth = AuthInput(
            name=flow.name,
            login_url=flow.login_url,
            steps=flow.steps,
            sealed_credentials=flow.sealed_credentials,
        )
    return RunInput(
        test=test.definition, test_id=str(test.id), project_id=str(project.id), auth=auth
    )


async def queue_run(
    session: AsyncSession,
    client: Client,
    project: Project,
    test: TestCase,
    priority: str = "regular",
    suite_id: int | None = None,
    retry_of: str | None = None,
) -> Run:
    """Record the run as waiting, then start its workflow; undo the record if Temporal refuses."""
    run_input = await run_input_for(session, project, test)
    assert project.id is not None
    run = Run(
        job_id=f"run-{uuid.uuid4().hex}",
        project_id=project.id,
        test_id=test.id,
        suite_id=suite_id,
        priority=priority,
        retry_of=retry_of,
    )
    session.add(run)
    await session.commit()
    try:
        await client.start_workflow(
            TestRunWorkflow.run,
            run_input,
            id=run.job_id,
            task_queue=WORKFLOW_TASK_QUEUE,
            priority=Priority(priority_key=PRIORITY_KEYS[priority]),
        )
    except Exception:
        await session.delete(run)
        await session.commit()
        raise ApiError(503, "temporal_unavailable", "the run could not be queued") from None
    return run


def queued_message(position: int | None) -> str:
    """The message the frontend shows."""
    return f"Test queued successfully (Position {position} in queue)"
