"""Request and response models, so that table rows never leak into responses."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.definition import AuthFlowDefinition, Step, TestDefinition
from core.limits import LimitOverrides, ProjectLimits
from core.run_result import RunProgress


class ProjectCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    max_parallel: int = Field(default=2, ge=1, le=1000)
    keep_completed: int | None = Field(default=None, ge=0, le=1_000_000)
    keep_failed: int | None = Field(default=None, ge=0, le=1_000_000)
    limits: LimitOverrides | None = Field(
        default=None, description="Overrides of the service's default limits for this project"
    )


class ProjectAdminChange(BaseModel):
    """What only the admin may change of a project; omitted fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    max_parallel: int | None = Field(default=None, ge=1, le=1000)
    limits: LimitOverrides | None = Field(
        default=None, description="Limits to override; a null value restores the default"
    )


class ProjectToken(BaseModel):
    token: str = Field(description="The project's new token; the old one no longer works")


class ProjectPublic(BaseModel):
    id: int
    name: str
    max_parallel: int
    paused: bool
    keep_completed: int = Field(description="Completed runs kept; older ones are deleted")
    keep_failed: int = Field(description="Failed, timed-out or cancelled runs kept")
    limits: ProjectLimits = Field(description="The limits that apply (set by the admin)")


class ProjectSettings(BaseModel):
    """Project settings that can change at any time; omitted fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    max_parallel: int | None = Field(default=None, ge=1, le=1000)
    keep_completed: int | None = Field(default=None, ge=0, le=1_000_000)
    keep_failed: int | None = Field(default=None, ge=0, le=1_000_000)


class ProjectCreated(ProjectPublic):
    token: str = Field(description="The project token; shown this once, stored only as a hash")


class TestPublic(BaseModel):
    __test__ = False

    id: int
    name: str
    definition: TestDefinition
    created_at: datetime
    updated_at: datetime


class UnmappedStep(BaseModel):
    """A recording's step that the imported test does not do, and why."""

    index: int = Field(description="its index in the recording's steps")
    type: str
    reason: str


class ImportedTest(BaseModel):
    test: TestPublic
    unmapped: list[UnmappedStep]


RowId = Annotated[int, Field(ge=1, le=2**62)]


class SuiteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    test_ids: list[RowId] = Field(min_length=1, max_length=1000)

    @field_validator("test_ids")
    @classmethod
    def _no_repeats(cls, test_ids: list[int]) -> list[int]:
        if len(set(test_ids)) != len(test_ids):
            raise ValueError("a test appears more than once")
        return test_ids


class SuitePublic(BaseModel):
    id: int
    name: str
    test_ids: list[int]
    created_at: datetime


class AuthFlowPublic(BaseModel):
    """An auth flow without its credentials."""

    id: int
    name: str
    login_url: str
    steps: list[Step]
    created_at: datetime


class UploadPublic(BaseModel):
    name: str
    size: int


class RunSummary(BaseModel):
    jobId: str  # noqa: N815 (the frontend's field names)
    testId: int | None  # noqa: N815
    testName: str | None = Field(  # noqa: N815
        default=None, description="the test's name when the run was queued"
    )
    suiteId: int | None  # noqa: N815
    suiteName: str | None = None  # noqa: N815
    scheduleId: str | None = None  # noqa: N815
    environment: str | None = None
    state: str
    priority: str
    progress: int
    flaky: bool
    error: str | None
    reason: str | None = Field(
        default=None, description="why it did not pass, in one line (the error's first)"
    )
    createdAt: datetime  # noqa: N815
    startedAt: datetime | None  # noqa: N815
    finishedOn: datetime | None  # noqa: N815


class RunDetail(RunSummary):
    result: RunProgress | None
    artifacts: list[str] = Field(description="Links to the run's screenshots and traces")


class Queued(BaseModel):
    success: bool = True
    jobId: str  # noqa: N815
    position: int | None
    message: str


class QueuedJob(BaseModel):
    jobId: str  # noqa: N815
    testId: int  # noqa: N815
    position: int | None


class SuiteQueued(BaseModel):
    success: bool = True
    suiteRunId: str | None = Field(  # noqa: N815
        default=None, description="GET /api/suite-runs/{id}: the suite run as one thing"
    )
    jobs: list[QueuedJob] = Field(description="in the order they queued: the longest first")
    message: str


class Job(BaseModel):
    jobId: str  # noqa: N815
    testId: int | None  # noqa: N815
    testName: str | None = None  # noqa: N815
    suiteName: str | None = None  # noqa: N815
    state: str
    position: int | None
    progress: int
    attempts: int
    createdAt: datetime  # noqa: N815
    startedAt: datetime | None  # noqa: N815
    finishedOn: datetime | None  # noqa: N815
    result: RunProgress | None
    environment: str | None = Field(default=None, description="the environment it ran in")
    variables: dict[str, str] = Field(
        default_factory=dict, description="the variables it used; secrets shown as ***"
    )


class JobStatus(BaseModel):
    success: bool = True
    job: Job


class QueueCounts(BaseModel):
    waiting: int
    active: int
    completed: int
    failed: int
    cancelled: int = 0
    timed_out: int = 0
    delayed: int
    paused: int = Field(description="Waiting runs held back because the queue is paused")
    isPaused: bool  # noqa: N815


class WaitingRun(BaseModel):
    position: int
    jobId: str  # noqa: N815
    testId: int | None  # noqa: N815
    testName: str | None = None  # noqa: N815
    priority: str
    createdAt: datetime  # noqa: N815


class WaitingRuns(BaseModel):
    total: int = Field(description="every queued run of the project")
    runs: list[WaitingRun]


class QueueStatus(BaseModel):
    success: bool = True
    queue: QueueCounts


class Done(BaseModel):
    success: bool = True
    message: str


class DashboardSessionPublic(BaseModel):
    """A live dashboard session (its cookie is never shown)."""

    id: str = Field(description="the first characters of the session's stored hash")
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    user_agent: str


class CleanRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: Literal["completed", "failed"] = Field(
        description="completed runs, or failed ones (failed, timed out, cancelled)"
    )
    keep: int = Field(default=0, ge=0, le=1_000_000, description="the newest runs to keep")


class Cleaned(BaseModel):
    success: bool = True
    removed: int
    message: str


__all__ = ["AuthFlowDefinition", "TestDefinition"]
