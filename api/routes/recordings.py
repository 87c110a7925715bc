"""Chrome DevTools Recorder recordings brought in as tests (`core.chrome_recording`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, status
from pydantic import ValidationError

from api.deps import ProjectDep, ServicesDep, SessionDep
from api.errors import ApiError
from api.routes.tests import store_test
from api.schemas import ImportedTest, UnmappedStep
from core.chrome_recording import RecordingInvalid, import_recording
from core.definition import TestDefinition, describe_validation_error

router = APIRouter(prefix="/api/tests", tags=["tests"])


@router.post("/import", response_model=ImportedTest, status_code=status.HTTP_201_CREATED)
async def import_test(
    recording: Annotated[Any, Body(description="a Chrome DevTools Recorder recording (JSON)")],
    project: ProjectDep,
    session: SessionDep,
    services: ServicesDep,
    name: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
) -> ImportedTest:
    """Store a test made of a Recorder recording: its first navigation is the start URL, each
    later step becomes ours, and every step that could not be mapped is listed by its index
    and type (422, storing nothing, for something that is no recording)."""
    try:
        imported = import_recording(recording, name)
    except RecordingInvalid as invalid:
        raise ApiError(422, "invalid_recording", str(invalid)) from None
    try:
        definition = TestDefinition.model_validate(imported.definition)
    except ValidationError as error:
        problems = describe_validation_error(error)
        raise ApiError(422, "invalid_recording", f"the test made of it: {problems}") from None
    test = await store_test(definition, project, session, services)
    unmapped = [
        UnmappedStep(index=u.index, type=u.type, reason=u.reason) for u in imported.unmapped
    ]
    return ImportedTest(test=test, unmapped=unmapped)
