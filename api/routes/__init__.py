"""One router per resource."""

from api.routes import (
    admin,
    auth_flows,
    execution,
    health,
    live,
    projects,
    runs,
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
    admin.router,
]
