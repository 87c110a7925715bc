"""New Run rows for tests of a project: their workflow input (credentials sealed) and IDs.

Shared by the API's run routes and by scheduled fires, which queue the same way."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from store.ids import as_row_id
from store.models import AuthFlow, Project, Run, Suite, TestCase
from workflows.messages import AuthInput, RunInput


class AuthFlowMissing(LookupError):
    """The test names an auth flow that is gone."""

    def __init__(self, test_id: int | None, flow_key: object) -> None:
        super().__init__(f"auth flow {flow_key} of test {test_id} is gone")


class SuiteTestsMissing(LookupError):
    """Tests of the suite were deleted."""

    def __init__(self, suite_id: int | None, missing: list[int]) -> None:
        super().__init__(f"tests {missing} of suite {suite_id} are gone")


async def auth_flow_of(
    session: AsyncSession, project_id: int, row_id: int | None
) -> AuthFlow | None:
    """The auth flow with this ID if it belongs to the project."""
    flow = await session.get(AuthFlow, row_id) if row_id is not None else None
    return flow if flow is not None and flow.project_id == project_id else None


async def suite_tests(session: AsyncSession, suite: Suite) -> list[TestCase]:
    """The suite's tests in the suite's order; SuiteTestsMissing if any is gone."""
    found = await session.exec(
        select(TestCase).where(
            TestCase.project_id == suite.project_id, col(TestCase.id).in_(suite.test_ids)
        )
    )
    tests = {test.id: test for test in found.all()}
    missing = [key for key in suite.test_ids if key not in tests]
    if missing:
        raise SuiteTestsMissing(suite.id, missing)
    return [tests[key] for key in suite.test_ids]


async def run_input_for(session: AsyncSession, project: Project, test: TestCase) -> RunInput:
    """The workflow input of a run of `test`, its auth flow's credentials sealed."""
    assert project.id is not None
    auth = None
    key = test.definition.get("auth_flow_id")
    if key is not None:
        flow = await auth_flow_of(session, project.id, as_row_id(key))
        if flow is None:
            raise AuthFlowMissing(test.id, key)
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


async def new_runs(
    session: AsyncSession,
    project: Project,
    tests: Sequence[TestCase],
    priority: str = "regular",
    suite_id: int | None = None,
    retry_of: str | None = None,
    schedule_id: str | None = None,
    job_ids: Sequence[str] | None = None,
) -> list[Run]:
    """Unsaved runs of `tests`, in order (job IDs fresh unless given)."""
    assert project.id is not None
    inputs = [await run_input_for(session, project, test) for test in tests]
    ids = list(job_ids) if job_ids is not None else [f"run-{uuid.uuid4().hex}" for _ in tests]
    return [
        Run(
            job_id=job_id,
            project_id=project.id,
            test_id=test.id,
            suite_id=suite_id,
            priority=priority,
            retry_of=retry_of,
            schedule_id=schedule_id,
            run_input=run_input.model_dump(mode="json"),
        )
        for test, run_input, job_id in zip(tests, inputs, ids, strict=True)
    ]
