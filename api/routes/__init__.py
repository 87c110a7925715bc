"""One router per resource."""

from api.routes import (
    admin,
    auth_flows,
    codec,
    execution,
    health,
    live,
    metrics,
    projects,
    runs,
    schedules,
    suites,
    tests,
    uploads,
)

ROUTERS = [
    health.router,
    projects.router,
    tests.router,
    suites.router,
    auth_flows.router,
    uploads.router,
    execution.router,
    live.router,
    runs.router,
    schedules.router,
    admin.router,
    metrics.router,
    codec.router,
]
