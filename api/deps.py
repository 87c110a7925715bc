"""Dependencies of the routes: database session, the caller's project, admin, Temporal."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from api.errors import ApiError
from api.services import Services
from store.models import Project

bearer = HTTPBearer(auto_error=False, description="A project token, or the admin token")


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison of any two strings (compare_digest refuses non-ASCII str)."""
    return hmac.compare_digest(given.encode(), expected.encode())


def hash_token(token: str) -> str:
    """Tokens are stored only as their SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


async def get_services(request: Request) -> Services:
    """The app's services (dependencies are async: FastAPI runs plain functions in a thread
    pool, a thread hop per request)."""
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_session(services: ServicesDep) -> AsyncIterator[AsyncSession]:
    async with AsyncSession(services.engine, expire_on_commit=False) as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def _unauthorized(detail: str) -> ApiError:
    return ApiError(401, "unauthorized", detail)


async def project_for_token(session: AsyncSession, token: str | None) -> Project | None:
    """The project this token belongs to, if any."""
    if not token:
        return None
    found = await session.exec(select(Project).where(Project.token_hash == hash_token(token)))
    return found.first()


def token_of(credentials: HTTPAuthorizationCredentials | None) -> str:
    """The bearer token the request carries; 401 without one."""
    if credentials is None or not credentials.credentials:
        raise _unauthorized("a bearer token is required")
    return credentials.credentials


def invalid_token() -> ApiError:
    return _unauthorized("the token is not valid")


async def current_project(credentials: Credentials, session: SessionDep) -> Project:
    """The project whose token the request carries; 401 without a valid one."""
    project = await project_for_token(session, token_of(credentials))
    if project is None:
        raise invalid_token()
    return project


async def require_admin(credentials: Credentials, services: ServicesDep) -> None:
    """The admin token (ADMIN_TOKEN) or 401."""
    expected = services.settings.admin_token
    token = token_of(credentials)
    if not expected or not same_secret(token, expected):
        raise _unauthorized("this route needs the admin token")


async def temporal_client(services: ServicesDep) -> Client:
    """The Temporal client, or 503 while Temporal cannot be reached."""
    try:
        return await services.temporal.client()
    except Exception:
        raise ApiError(503, "temporal_unavailable", "Temporal cannot be reached") from None


async def current_project_briefly(credentials: Credentials, services: ServicesDep) -> Project:
    """As current_project, on a connection given back at once: for responses that stream for
    minutes and must not hold a database connection meanwhile."""
    async with AsyncSession(services.engine, expire_on_commit=False) as session:
        return await current_project(credentials, session)


ProjectDep = Annotated[Project, Depends(current_project)]
StreamingProjectDep = Annotated[Project, Depends(current_project_briefly)]
AdminDep = Annotated[None, Depends(require_admin)]
TemporalDep = Annotated[Client, Depends(temporal_client)]
