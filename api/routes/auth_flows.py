"""Auth flows: login steps stored in clear, credentials only sealed and never returned."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from sqlmodel import col, select

from api.deps import ProjectDep, ServicesDep, SessionDep
from api.reachability import ensure_reachable
from api.routes.owned import owned
from api.schemas import AuthFlowDefinition, AuthFlowPublic
from core.definition import Step
from store.models import AuthFlow

router = APIRouter(prefix="/api/auth-flows", tags=["auth flows"])


def _public(row: AuthFlow) -> AuthFlowPublic:
    assert row.id is not None
    steps = [Step.model_validate(step) for step in row.steps]
    return AuthFlowPublic(
        id=row.id, name=row.name, login_url=row.login_url, steps=steps, created_at=row.created_at
    )


@router.post("", response_model=AuthFlowPublic, status_code=status.HTTP_201_CREATED)
async def create_auth_flow(
    body: AuthFlowDefinition, project: ProjectDep, session: SessionDep, services: ServicesDep
) -> AuthFlowPublic:
    """Store an auth flow; its credentials are encrypted at rest and never returned."""
    ensure_reachable(body, services.settings.egress_policy)
    assert project.id is not None
    row = AuthFlow(
        project_id=project.id,
        name=body.name,
        login_url=body.login_url,
        steps=[step.model_dump(mode="json", exclude_defaults=True) for step in body.steps],
        sealed_credentials=services.secrets.seal_credentials(body.credentials),
    )
    session.add(row)
    await session.commit()
    return _public(row)


@router.get("", response_model=list[AuthFlowPublic])
async def list_auth_flows(project: ProjectDep, session: SessionDep) -> list[AuthFlowPublic]:
    """The project's auth flows, without credentials."""
    rows = await session.exec(
        select(AuthFlow).where(AuthFlow.project_id == project.id).order_by(col(AuthFlow.id))
    )
    return [_public(row) for row in rows.all()]


@router.get("/{flow_id}", response_model=AuthFlowPublic)
async def get_auth_flow(flow_id: int, project: ProjectDep, session: SessionDep) -> AuthFlowPublic:
    """One auth flow, without credentials."""
    return _public(await owned(session, AuthFlow, flow_id, project, "auth flow"))


@router.delete("/{flow_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def delete_auth_flow(flow_id: int, project: ProjectDep, session: SessionDep) -> Response:
    """Delete an auth flow."""
    row = await owned(session, AuthFlow, flow_id, project, "auth flow")
    await session.delete(row)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
