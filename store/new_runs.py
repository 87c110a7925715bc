"""New runs for tests of a project: their workflow input (credentials sealed) and IDs.

Shared by the API's run routes and by scheduled fires, which queue the same way. A run request
that carries only a token and a test ID (`TestRunOrder`) is resolved together with every other
request of its batch: one query for their projects, one for their tests.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from store.ids import as_row_id
from store.models import AuthFlow, Project, Suite, TestCase
from workflows.messages import AuthInput, RunInput


class AuthFlowMissing(LookupError):
    """The test names an auth flow that is gone."""

    def __init__(self, test_id: int | None, flow_key: object) -> None:
        super().__init__(f"auth flow {flow_key} of test {test_id} is gone")


class SuiteTestsMissing(LookupError):
    """Tests of the suite were deleted."""

    def __init__(self, suite_id: int | None, missing: list[int]) -> None:
        super().__init__(f"tests {missing} of suite {suite_id} are gone")


class TokenUnknown(LookupError):
    """No project has this token."""


class TestMissing(LookupError):
    """The test does not exist, or belongs to another project."""

    __test__ = False


@dataclass(slots=True)
class NewRun:
    """A run about to be queued: the columns given at queueing (the rest start at defaults)."""

    job_id: str
    project_id: int
    test_id: int | None
    run_input: dict[str, Any]
    priority: str = "regular"
    suite_id: int | None = None
    retry_of: str | None = None
    schedule_id: str | None = None

    def row(self, priority_key: int, now: datetime) -> dict[str, Any]:
        """The run's row as the queue inserts it (its state: `run_transitions.waiting_row`)."""
        return {
            "job_id": self.job_id,
            "project_id": self.project_id,
            "test_id": self.test_id,
            "suite_id": self.suite_id,
            "priority": self.priority,
            "priority_key": priority_key,
            "progress": 0,
            "flaky": False,
            "retry_of": self.retry_of,
            "schedule_id": self.schedule_id,
            "run_input": self.run_input,
            "admission_sent": False,
            "created_at": now,
        }


@dataclass(frozen=True, slots=True)
class TestRunOrder:
    """A run of one test asked for with a project's token (as a hash), not yet resolved."""

    __test__ = False

    token_hash: str
    test_id: int
    priority: str


def new_job_id() -> str:
    return f"run-{uuid.uuid4().hex}"


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


async def run_input_for(session: AsyncSession, test: TestCase) -> dict[str, Any]:
    """The workflow input (as JSON) of a run of `test`, its auth flow's credentials sealed."""
    auth = None
    key = test.definition.get("auth_flow_id")
    if key is not None:
        flow = await auth_flow_of(session, test.project_id, as_row_id(key))
        if flow is None:
            raise AuthFlowMissing(test.id, key)
        auth = AuthInput(
            name=flow.name,
            login_url=flow.login_url,
            steps=flow.steps,
            sealed_credentials=flow.sealed_credentials,
        )
    run_input = RunInput(
        test=test.definition,
        test_id=str(test.id),
        project_id=str(test.project_id),
        auth=auth,
        admission=True,
    )
    return run_input.model_dump(mode="json")


async def new_runs(
    session: AsyncSession,
    project: Project,
    tests: Sequence[TestCase],
    priority: str = "regular",
    suite_id: int | None = None,
    retry_of: str | None = None,
    schedule_id: str | None = None,
    job_ids: Sequence[str] | None = None,
) -> list[NewRun]:
    """Runs of `tests`, in order (job IDs fresh unless given)."""
    assert project.id is not None
    inputs = [await run_input_for(session, test) for test in tests]
    ids = list(job_ids) if job_ids is not None else [new_job_id() for _ in tests]
    return [
        NewRun(
            job_id=job_id,
            project_id=project.id,
            test_id=test.id,
            run_input=run_input,
            priority=priority,
            suite_id=suite_id,
            retry_of=retry_of,
            schedule_id=schedule_id,
        )
        for test, run_input, job_id in zip(tests, inputs, ids, strict=True)
    ]


async def runs_for_orders(
    session: AsyncSession, orders: Sequence[TestRunOrder]
) -> list[NewRun | LookupError]:
    """For each order its run, or why it cannot have one (TokenUnknown, TestMissing,
    AuthFlowMissing); the tests' inputs are built once per test."""
    hashes = {order.token_hash for order in orders}
    found = await session.exec(
        select(Project.token_hash, Project.id).where(col(Project.token_hash).in_(hashes))
    )
    projects: dict[str, int] = {token_hash: key for token_hash, key in found.all() if key}
    test_ids = {as_row_id(order.test_id) for order in orders} - {None}
    tests = await session.exec(select(TestCase).where(col(TestCase.id).in_(test_ids)))
    tests_by_id = {test.id: test for test in tests.all()}
    inputs: dict[int, dict[str, Any] | LookupError] = {}
    resolved: list[NewRun | LookupError] = []
    for order in orders:
        project_id = projects.get(order.token_hash)
        test = tests_by_id.get(order.test_id)
        if project_id is None:
            resolved.append(TokenUnknown("the token is not valid"))
        elif test is None or test.project_id != project_id:
            resolved.append(TestMissing(order.test_id))
        else:
            if order.test_id not in inputs:
                inputs[order.test_id] = await _input_or_error(session, test)
            run_input = inputs[order.test_id]
            resolved.append(
                run_input
                if isinstance(run_input, LookupError)
                else NewRun(new_job_id(), project_id, test.id, run_input, order.priority)
            )
    return resolved


async def _input_or_error(session: AsyncSession, test: TestCase) -> dict[str, Any] | LookupError:
    try:
        return await run_input_for(session, test)
    except AuthFlowMissing as missing:
        return missing
