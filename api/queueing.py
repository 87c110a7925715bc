"""Queueing runs: Run rows with their positions; the dispatcher admits and starts them."""

from __future__ import annotations

import uuid

from sqlmodel.ext.asyncio.session import AsyncSession

from api.errors import ApiError
from api.routes.owned import project_auth_flow
from api.services import Services
from live.events import RunEvent
from store.models import Project, Run, TestCase
from workflows.messages import AuthInput, RunInput


async def run_input_for(session: AsyncSession, project: Project, test: TestCase) -> RunInput:
    """The workflow input of a run of `test`, its auth flow's credentials sealed."""
    auth = None
    key = test.definition.get("auth_flow_id")
    if key is not None:
        flow = await project_auth_flow(session, project, key)
        if flow is None:
            raise ApiError(409, "auth_flow_missing", f"auth flow {key} of test {test.id} is gone")
        auth = AuthInput(
            name=flow.name,
            login_url=flow.login_url,
            steps=flow.steps,
            sealed_credentials=flow.sealed_credentials,
        )
    return RunInput(
        test=test.definition,
        test_id=str(test.id),
        project_id=str(project.id),
        auth=auth,
        admission=True,
    )


async def queue_runs(
    session: AsyncSession,
    services: Services,
    project: Project,
    tests: list[TestCase],
    priority: str = "regular",
    suite_id: int | None = None,
    retry_of: str | None = None,
) -> list[tuple[Run, int]]:
    """Queue a run of each test, in order, in one transaction; each with its position.

    The dispatcher admits them and starts their workflows.
    """
    inputs = [await run_input_for(session, project, test) for test in tests]
    assert project.id is not None
    runs = [
        Run(
            job_id=f"run-{uuid.uuid4().hex}",
            project_id=project.id,
            test_id=test.id,
            suite_id=suite_id,
            priority=priority,
            retry_of=retry_of,
            run_input=run_input.model_dump(mode="json"),
        )
        for test, run_input in zip(tests, inputs, strict=True)
    ]
    positions = await services.group_commit.enqueue(runs)
    services.dispatcher.wake()
    await services.cache.forget(queue_counts_key(project.id))
    for run, position in zip(runs, positions, strict=True):
        services.events.publish(
            RunEvent(
                type="queued",
                jobId=run.job_id,
                projectId=str(project.id),
                data={"position": position, "testId": run.test_id, "priority": priority},
            )
        )
    return list(zip(runs, positions, strict=True))


def queue_counts_key(project_id: int) -> str:
    """Cache key of a project's queue counts."""
    return f"cache:queue-counts:{project_id}"


def queued_message(position: int | None) -> str:
    """The message the frontend shows."""
    return f"Test queued successfully (Position {position} in queue)"
