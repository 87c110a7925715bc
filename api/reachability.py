"""Refusing, when a test or auth flow is defined, URLs that the egress policy never passes."""

from __future__ import annotations

from api.errors import ApiError
from core.definition import (
    AuthFlowDefinition,
    TestDefinition,
    describe_locations,
    refused_urls,
)
from core.egress import EgressPolicy


def ensure_reachable(definition: TestDefinition | AuthFlowDefinition, policy: EgressPolicy) -> None:
    """422 naming each step whose URL can never load (`steps[2].value: blocked by ...`)."""
    problems = refused_urls(definition, policy)
    if problems:
        raise ApiError(422, "invalid_request", describe_locations(problems))
