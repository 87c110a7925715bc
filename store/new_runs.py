"""A run about to be queued (`NewRun`, its row) and the lookups that building one needs: the
projects behind token hashes, tests by ID, a project's auth flow, a suite's tests. The
workflow's input is built above the store, in `dispatch.new_runs`."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from store.models import AuthFlow, Project, Suite, TestCase


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
    suite_name: str | None = None
    suite_run_id: str | None = None

    @property
    def test_name(self) -> str | None:
        """The name of the test as queued (its definition's)."""
        test = self.run_input.get("test")
        name = test.get("name") if isinstance(test, dict) else None
        return str(name)[:200] if name is not None else None

    def row(self, priority_key: int, now: datetime) -> dict[str, Any]:
        """The run's row as the queue inserts it (its state: `run_transitions.waiting_row`)."""
        return {
            "job_id": self.job_id,
            "project_id": self.project_id,
            "test_id": self.test_id,
            "suite_id": self.suite_id,
            "test_name": self.test_name,
            "suite_name": self.suite_name,
            "suite_run_id": self.suite_run_id,
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


def new_job_id() -> str:
    return f"run-{uuid.uuid4().hex}"


def new_suite_run_id() -> str:
    return f"suite-run-{uuid.uuid4().hex}"


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


async def project_ids_by_token_hash(
    session: AsyncSession, hashes: Collection[str]
) -> dict[str, int]:
    """The project behind each of these token hashes (unknown hashes are left out)."""
    found = await session.exec(
        select(Project.token_hash, Project.id).where(col(Project.token_hash).in_(hashes))
    )
    return {token_hash: key for token_hash, key in found.all() if key}


async def tests_by_id(session: AsyncSession, ids: Collection[int]) -> dict[int, TestCase]:
    """The tests with these IDs, whichever project they belong to."""
    found = await session.exec(select(TestCase).where(col(TestCase.id).in_(ids)))
    return {test.id: test for test in found.all() if test.id is not None}
