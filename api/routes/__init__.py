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
    recordings,
    runs,
    schedules,
    suite_runs,
    suites,
    tests,
    uploads,
    variables,
    webhooks,
)

ROUTERS = [
    execution.router,  # first: the run requests of a burst are matched against it first
    health.router,
    projects.router,
    variables.router,
    recordings.router,  # before tests: /api/tests/import is no test ID
    tests.router,
    suites.router,
    auth_flows.router,
    uploads.router,
    live.router,
    runs.router,
    suite_runs.router,
    schedules.router,
    webhooks.router,
    admin.router,
    projects.admin_router,
    metrics.router,
    codec.router,
]
