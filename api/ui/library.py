"""The dashboard's tests, suites and schedules: run them, see each test's recent outcomes and
durations, create or edit a test from JSON (the engine's validation message beside the step it
names), and pause, resume or trigger schedules. Every action goes through the API's routes."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field, ValidationError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from api.deps import ServicesDep, SessionDep, temporal_client
from api.errors import ApiError, ApiProblems
from api.queueing import queue_runs
from api.routes import execution, schedules, suites, tests
from api.routes.owned import owned
from api.routes.variables import list_environments
from api.schedule_schemas import ScheduleCreate, SchedulePublic
from api.schemas import SuiteCreate
from api.services import Services
from api.ui.pages import CsrfField, UiSessionDep, back, checked, page, project_for
from api.ui.sessions import UiSession
from core.definition import TestDefinition, describe_validation_error
from core.run_state import FINAL_STATES
from store.models import Project, Run, Suite, TestCase

router = APIRouter(prefix="/ui/projects/{project_id}", include_in_schema=False)
PriorityField = Annotated[Literal["regular", "live"], Form()]
EnvironmentField = Annotated[str, Form(max_length=64)]
HISTORY = 50
STRIP = 20
STEP_PROBLEM = "steps"


async def history_of(session: AsyncSession, test_id: int | None) -> list[Run]:
    """The test's newest finished runs, oldest first."""
    found = await session.exec(
        select(Run)
        .where(Run.test_id == test_id, col(Run.state).in_(FINAL_STATES))
        .order_by(col(Run.finished_at).desc(), col(Run.id).desc())
        .limit(HISTORY)
    )
    return list(reversed(found.all()))


@router.post("/tests/{test_id}/delete")
async def delete_test(
    project_id: int,
    test_id: int,
    ui: UiSessionDep,
    session: SessionDep,
    services: ServicesDep,
    csrf: CsrfField = None,
) -> Response:
    """Delete a test (and its schedules) through the API's own route; its runs stay."""
    checked(ui, csrf)
    project = await project_for(ui, session, project_id)
    to = f"/ui/projects/{project_id}/tests"
    try:
        answer = await tests.delete_test(test_id, project, session, services)
    except ApiError as error:
        return back(to, error.detail)
    schedules_gone = answer.headers.get("X-Deleted-Schedules")
    also = f" and its schedules {schedules_gone}" if schedules_gone else ""
    return back(to, f"Test {test_id} deleted{also}; its runs stay in the history")


@router.get("/suites/{suite_id}/edit", response_class=HTMLResponse)
async def edit_suite_page(
    request: Request, project_id: int, suite_id: int, ui: UiSessionDep, session: SessionDep
) -> Response:
    """A suite's name and its tests in order, to change."""
    project = await project_for(ui, session, project_id)
    suite = await owned(session, Suite, suite_id, project, "suite")
    found = await session.exec(select(TestCase).where(TestCase.project_id == project_id))
    return page(request, "edit_suite.html", ui, project=project, suite=suite, tests=found.all())


@router.post("/suites/{suite_id}/edit")
async def save_suite(
    project_id: int,
    suite_id: int,
    ui: UiSessionDep,
    session: SessionDep,
    name: Annotated[str, Form(max_length=200)],
    test_ids: Annotated[str, Form(max_length=20_000, description="test IDs, in order")],
    csrf: CsrfField = None,
) -> Response:
    """Rename a suite or change its tests, through the API's own route."""
    checked(ui, csrf)
    project = await project_for(ui, session, project_id)
    to = f"/ui/projects/{project_id}/suites/{suite_id}/edit"
    keys = [part for part in test_ids.replace(",", " ").split() if part]
    if not all(key.isdigit() for key in keys):
        return back(to, "test IDs are numbers, separated by commas or spaces")
    try:
        body = SuiteCreate(name=name, test_ids=[int(key) for key in keys])
        saved = await suites.replace_suite(suite_id, body, project, session)
    except ValidationError as invalid:
        return back(to, describe_validation_error(invalid))
    except ApiError as error:
        return back(to, error.detail)
    return back(f"/ui/projects/{project_id}/tests", f"Suite {saved.name} saved")


def chart_points(runs: list[Run], width: int = 200, height: int = 40) -> str:
    """An SVG polyline of the runs' durations, scaled to the box."""
    durations = [run.duration_s for run in runs if run.duration_s is not None]
    if len(durations) < 2:
        return ""
    top = max(durations) or 1.0
    step = width / (len(durations) - 1)
    return " ".join(
        f"{i * step:.1f},{height - d / top * height:.1f}" for i, d in enumerate(durations)
    )


@router.get("/tests", response_class=HTMLResponse)
async def tests_page(
    request: Request, project_id: int, ui: UiSessionDep, session: SessionDep
) -> Response:
    project = await project_for(ui, session, project_id)
    found = await session.exec(
        select(TestCase).where(TestCase.project_id == project_id).order_by(col(TestCase.id))
    )
    rows = []
    project_tests = found.all()
    for test in project_tests:
        history = await history_of(session, test.id)
        durations = [run.duration_s for run in history if run.duration_s is not None]
        rows.append(
            {
                "test": test,
                "strip": history[-STRIP:],
                "chart": chart_points(history),
                "runs": len(durations),
                "longest": f"{max(durations, default=0):.1f}",
            }
        )
    suites = (await session.exec(select(Suite).where(Suite.project_id == project_id))).all()
    environments = [row.name for row in await list_environments(project, session)]
    note = request.query_params.get("note")
    return page(
        request,
        "tests.html",
        ui,
        project=project,
        rows=rows,
        suites=suites,
        environments=environments,
        test_names={test.id: test.name for test in project_tests},
        note=note,
    )


@router.post("/tests/{test_id}/run")
async def run_test(
    project_id: int,
    test_id: int,
    ui: UiSessionDep,
    session: SessionDep,
    services: ServicesDep,
    csrf: CsrfField = None,
    priority: PriorityField = "regular",
    environment: EnvironmentField = "",
) -> Response:
    checked(ui, csrf)
    project = await project_for(ui, session, project_id)
    to = f"/ui/projects/{project_id}/tests"
    try:
        test = await owned(session, TestCase, test_id, project, "test")
        [(run, position)] = await queue_runs(
            session, services, project, [test], priority, environment=environment or None
        )
    except ApiError as error:
        return back(to, error.detail)
    return back(to, f"{run.job_id} queued (position {position})")


@router.post("/suites/{suite_id}/run")
async def run_suite(
    project_id: int,
    suite_id: int,
    ui: UiSessionDep,
    session: SessionDep,
    services: ServicesDep,
    csrf: CsrfField = None,
    priority: PriorityField = "regular",
    environment: EnvironmentField = "",
) -> Response:
    checked(ui, csrf)
    project = await project_for(ui, session, project_id)
    to = f"/ui/projects/{project_id}/tests"
    try:
        queued = await execution.run_suite(
            suite_id, project, session, services, priority, environment or None
        )
    except ApiError as error:
        return back(to, error.detail)
    return back(f"/ui/suite-runs/{queued.suiteRunId}", queued.message)


def step_problems(error: ValidationError) -> tuple[dict[int, list[str]], list[str]]:
    """The engine's messages by step index, and those about the test as a whole."""
    by_step: dict[int, list[str]] = {}
    general = []
    for problem in error.errors():
        location = list(problem["loc"])
        message = str(problem["msg"]).removeprefix("Value error, ")
        if len(location) >= 2 and location[0] == STEP_PROBLEM and isinstance(location[1], int):
            field = ".".join(str(part) for part in location[2:])
            by_step.setdefault(location[1], []).append(f"{field}: {message}" if field else message)
        else:
            where = ".".join(str(part) for part in location)
            general.append(f"{where}: {message}" if where else message)
    return by_step, general


@router.get("/tests/edit", response_class=HTMLResponse)
async def edit_page(
    request: Request,
    project_id: int,
    ui: UiSessionDep,
    session: SessionDep,
    test_id: int | None = None,
) -> Response:
    """A form with the test's JSON (a new test's when `test_id` is not given)."""
    project = await project_for(ui, session, project_id)
    text = ""
    if test_id is not None:
        test = await owned(session, TestCase, test_id, project, "test")
        text = json.dumps(test.definition, indent=2)
    return page(request, "edit_test.html", ui, project=project, test_id=test_id, text=text)


@router.post("/tests/edit")
async def save_test(
    request: Request,
    project_id: int,
    ui: UiSessionDep,
    session: SessionDep,
    services: ServicesDep,
    definition: Annotated[str, Form(max_length=1_000_000)],
    csrf: CsrfField = None,
    test_id: Annotated[int | None, Form()] = None,
) -> Response:
    """Create or replace a test; a definition the engine refuses comes back with its messages."""
    checked(ui, csrf)
    project = await project_for(ui, session, project_id)

    def refused(general: list[str], by_step: dict[int, list[str]] | None = None) -> Response:
        steps = _steps_of(definition)
        response = page(
            request,
            "edit_test.html",
            ui,
            project=project,
            test_id=test_id,
            text=definition,
            general=general,
            by_step=by_step or {},
            steps=steps,
        )
        response.status_code = 422
        return response

    try:
        body = TestDefinition.model_validate(json.loads(definition))
    except json.JSONDecodeError as error:
        return refused([f"not JSON: {error}"])
    except ValidationError as error:
        by_step, general = step_problems(error)
        return refused(general, by_step)
    try:
        if test_id is None:
            saved = await tests.create_test(body, project, session, services)
        else:
            saved = await tests.replace_test(test_id, body, project, session, services)
    except ApiProblems as problems:
        return refused(problems.problems)
    except ApiError as error:
        return refused([error.detail])
    return back(f"/ui/projects/{project_id}/tests", f"Test {saved.id} ({saved.name}) saved")


def _steps_of(definition: str) -> list[Any]:
    """The steps as written, to show each one beside its messages."""
    try:
        steps = json.loads(definition).get("steps")
    except (json.JSONDecodeError, AttributeError):
        return []
    return steps if isinstance(steps, list) else []


@router.get("/schedules", response_class=HTMLResponse)
async def schedules_page(
    request: Request, project_id: int, ui: UiSessionDep, session: SessionDep, services: ServicesDep
) -> Response:
    project = await project_for(ui, session, project_id)
    error = None
    try:
        client = await temporal_client(services)
        found = await schedules.list_schedules(project, session, client)
    except ApiError as unavailable:
        found, error = [], f"Schedules cannot be read now: {unavailable.detail}."
    tests_by_id = {
        row.id: row.name
        for row in (await session.exec(select(TestCase).where(TestCase.project_id == project_id)))
    }
    suites_by_id = {
        row.id: row.name
        for row in (await session.exec(select(Suite).where(Suite.project_id == project_id)))
    }
    environments = [row.name for row in await list_environments(project, session)]
    return page(
        request,
        "schedules.html",
        ui,
        project=project,
        schedules=found,
        error=error,
        note=request.query_params.get("note"),
        tests_by_id=tests_by_id,
        suites_by_id=suites_by_id,
        environments=environments,
        in_zone=in_zone,
    )


def in_zone(moment: datetime, zone: str) -> str:
    """A fire time as its schedule reads it: in the schedule's time zone, named."""
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S ") + zone


class ScheduleForm(BaseModel):
    """The page's schedule form: a new schedule's, or an edited one's (its pause state kept)."""

    name: str = Field(max_length=200)
    target: str = Field(max_length=40, description="test:ID or suite:ID")
    timing: str = Field(max_length=200, description="a cron expression or seconds")
    time_zone: str = Field(default="UTC", max_length=64)
    environment: str = Field(default="", max_length=64)
    paused: bool = False
    csrf: str | None = None

    def body(self) -> ScheduleCreate:
        """The API's schedule body (ValidationError if it is not one)."""
        kind, _, key = self.target.partition(":")
        timing = self.timing.strip()
        fields: dict[str, Any] = {
            "name": self.name,
            "time_zone": self.time_zone or "UTC",
            "environment": self.environment or None,
            "paused": self.paused,
            ("suite_id" if kind == "suite" else "test_id"): int(key) if key.isdigit() else None,
            ("interval_s" if timing.isdigit() else "cron"): (
                int(timing) if timing.isdigit() else timing
            ),
        }
        return ScheduleCreate.model_validate(fields)


ScheduleFormDep = Annotated[ScheduleForm, Form()]
SaveSchedule = Callable[[ScheduleCreate, Project, Client], Awaitable[SchedulePublic]]


async def _saved_schedule(
    project_id: int,
    form: ScheduleForm,
    ui: UiSession,
    session: AsyncSession,
    services: Services,
    save: SaveSchedule,
    done: str,
) -> Response:
    """Save the form's schedule through the API's own route; back to the schedules page with
    what happened."""
    checked(ui, form.csrf)
    project = await project_for(ui, session, project_id)
    to = f"/ui/projects/{project_id}/schedules"
    try:
        body = form.body()
        saved = await save(body, project, await temporal_client(services))
    except ValidationError as invalid:
        return back(to, describe_validation_error(invalid))
    except ApiError as error:
        return back(to, error.detail)
    return back(to, f"Schedule {saved.name} {done}")


@router.post("/schedules/new")
async def create_schedule(
    project_id: int,
    form: ScheduleFormDep,
    ui: UiSessionDep,
    session: SessionDep,
    services: ServicesDep,
) -> Response:
    """Schedule a test or a suite from the page."""

    async def create(body: ScheduleCreate, project: Project, client: Client) -> SchedulePublic:
        return await schedules.create_schedule(body, project, session, client, services)

    return await _saved_schedule(project_id, form, ui, session, services, create, "created")


@router.post("/schedules/{schedule_id}/edit")
async def edit_schedule(
    project_id: int,
    schedule_id: str,
    form: ScheduleFormDep,
    ui: UiSessionDep,
    session: SessionDep,
    services: ServicesDep,
) -> Response:
    """Edit a schedule from the page (its pause state kept)."""

    async def replace(body: ScheduleCreate, project: Project, client: Client) -> SchedulePublic:
        return await schedules.replace_schedule(
            schedule_id, body, project, session, client, services
        )

    return await _saved_schedule(project_id, form, ui, session, services, replace, "saved")


@router.post("/schedules/{schedule_id}/{action}")
async def schedule_action(
    project_id: int,
    schedule_id: str,
    action: str,
    ui: UiSessionDep,
    session: SessionDep,
    services: ServicesDep,
    csrf: CsrfField = None,
) -> Response:
    checked(ui, csrf)
    project = await project_for(ui, session, project_id)
    to = f"/ui/projects/{project_id}/schedules"
    try:
        client = await temporal_client(services)
        if action == "pause":
            await schedules.pause_schedule(schedule_id, project, session, client)
        elif action == "resume":
            await schedules.resume_schedule(schedule_id, project, session, client)
        elif action == "trigger":
            done = await schedules.trigger_schedule(schedule_id, project, session, client)
            return back(to, done.message)
        else:
            raise ApiError(404, "not_found", f"no schedule action {action}")
    except ApiError as error:
        return back(to, error.detail)
    return back(to, f"Schedule {schedule_id}: {action}d")
