"""Prometheus metrics of the service as a whole, read from the database at each scrape:
queue depth per project and priority, runs holding sessions, session capacity."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest
from sqlalchemy import func
from sqlmodel import col, select

from api.deps import AdminDep, ServicesDep, SessionDep
from store.admission import holding_room
from store.models import Project, Run
from store.queue import is_queued
from store.workers import WorkerRegistry

router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text"}},
)
async def metrics(_: AdminDep, session: SessionDep, services: ServicesDep) -> Response:
    """Queue and capacity metrics for Prometheus (admin token as the scrape's bearer token).
    Each worker serves its own (sessions, step and run durations, retries, outcomes) on
    WORKER_METRICS_PORT."""
    registry = CollectorRegistry()
    depth = Gauge(
        "testrun_queue_depth",
        "Runs waiting for a session",
        ["project", "priority"],
        registry=registry,
    )
    for project, priority, count in (
        await session.exec(
            select(Run.project_id, Run.priority, func.count())
            .where(is_queued())
            .group_by(col(Run.project_id), col(Run.priority))
        )
    ).all():
        depth.labels(str(project), priority).set(count)
    holding = Gauge(
        "testrun_runs_holding_sessions",
        "Runs admitted to or running in a session",
        ["project"],
        registry=registry,
    )
    for project, count in (
        await session.exec(
            select(Run.project_id, func.count()).where(holding_room()).group_by(col(Run.project_id))
        )
    ).all():
        holding.labels(str(project)).set(count)
    paused = Gauge(
        "testrun_project_paused",
        "1 while a project's queue is paused",
        ["project"],
        registry=registry,
    )
    for project_id, is_paused in (await session.exec(select(Project.id, Project.paused))).all():
        paused.labels(str(project_id)).set(int(is_paused))
    Gauge(
        "testrun_session_capacity",
        "Sessions the live workers run at once",
        registry=registry,
    ).set(await WorkerRegistry(services.engine).capacity())
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
