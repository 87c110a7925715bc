"""New runs of a project's tests: each one's workflow input (its auth flow's credentials sealed)
and job ID. API runs, suites, retries and schedule fires build their runs here; a request that
carries only a token and a test ID (`TestRunOrder`) is resolved with the rest of its batch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from core.definition import Step
from core.variables import uses_variables
from dispatch.run_variables import RunVariables, filled_input, variables_for_run
from dispatch.suite_order import longest_first
from store.ids import as_row_id
from store.models import Project, Suite, TestCase
from store.new_runs import (
    AuthFlowMissing,
    NewRun,
    TestMissing,
    TokenUnknown,
    auth_flow_of,
    new_job_id,
    new_suite_run_id,
    project_ids_by_token_hash,
    tests_by_id,
)
from workflows.messages import AuthInput, RunInput


@dataclass(frozen=True, slots=True)
class TestRunOrder:
    """A run of one test asked for with a project's token (as a hash), not yet resolved."""

    __test__ = False

    token_hash: str
    test_id: int
    priority: str


async def run_input_for(
    session: AsyncSession, test: TestCase, variables: RunVariables | None = None
) -> dict[str, Any]:
    """The workflow input (as JSON) of a run of `test`, its auth flow's credentials sealed and
    its variables filled in (the project's own unless `variables` are given)."""
    if variables is None:
        variables = await _variables_needed(session, test.project_id, None, [test])
    auth = None
    key = test.definition.get("auth_flow_id")
    if key is not None:
        flow = await auth_flow_of(session, test.project_id, as_row_id(key))
        if flow is None:
            raise AuthFlowMissing(test.id, key)
        auth = AuthInput(
            name=flow.name,
            login_url=flow.login_url,
            steps=[Step.model_validate(step) for step in flow.steps],
            sealed_credentials=flow.sealed_credentials,
        )
    run_input = RunInput(
        **filled_input(test.definition, variables),
        test_id=str(test.id),
        project_id=test.project_id,
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
    environment: str | None = None,
    suite_run_id: str | None = None,
) -> list[NewRun]:
    """Runs of `tests`, in order (job IDs fresh unless given), with `environment`'s variables
    (EnvironmentMissing if the project has none of that name). A suite's runs make a new
    suite run and queue longest first (`dispatch.suite_order`), unless they join
    `suite_run_id` (retries), which keeps their order."""
    assert project.id is not None
    variables = await _variables_needed(session, project.id, environment, tests)
    suite = await session.get(Suite, suite_id) if suite_id is not None else None
    if suite is not None and suite_run_id is None:
        suite_run_id = new_suite_run_id()
        tests = await longest_first(session, tests)
    inputs = [await run_input_for(session, test, variables) for test in tests]
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
            suite_name=suite.name if suite is not None else None,
            suite_run_id=suite_run_id,
        )
        for test, run_input, job_id in zip(tests, inputs, ids, strict=True)
    ]


async def _variables_needed(
    session: AsyncSession, project_id: int, environment: str | None, tests: Sequence[TestCase]
) -> RunVariables:
    """The variables for runs of `tests`: looked up only if an environment was chosen or a
    test uses variables (most runs skip the lookup)."""
    if environment is None and not any(uses_variables(test.definition) for test in tests):
        return RunVariables()
    return await variables_for_run(session, project_id, environment)


async def runs_for_orders(
    session: AsyncSession, orders: Sequence[TestRunOrder]
) -> list[NewRun | LookupError]:
    """For each order its run, or why it cannot have one (TokenUnknown, TestMissing,
    AuthFlowMissing); the tests' inputs are built once per test."""
    projects = await project_ids_by_token_hash(session, {order.token_hash for order in orders})
    row_ids = {as_row_id(order.test_id) for order in orders}
    found = await tests_by_id(session, {key for key in row_ids if key is not None})
    inputs: dict[int, dict[str, Any] | LookupError] = {}
    resolved: list[NewRun | LookupError] = []
    for order in orders:
        project_id = projects.get(order.token_hash)
        test = found.get(order.test_id)
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
