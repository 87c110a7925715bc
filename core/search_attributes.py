"""Custom search attributes of run workflows, so that `temporal workflow list --query` and the
Web UI's filters find runs by project, test, suite, state, priority and trigger."""

from __future__ import annotations

import logging

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

from core.run_state import RunState

log = logging.getLogger(__name__)

PROJECT_ID = SearchAttributeKey.for_keyword("ProjectId")
TEST_ID = SearchAttributeKey.for_keyword("TestId")
SUITE_ID = SearchAttributeKey.for_keyword("SuiteId")
RUN_STATE = SearchAttributeKey.for_keyword("RunState")
RUN_PRIORITY = SearchAttributeKey.for_keyword("RunPriority")
RUN_TRIGGER = SearchAttributeKey.for_keyword("RunTrigger")
ALL = (PROJECT_ID, TEST_ID, SUITE_ID, RUN_STATE, RUN_PRIORITY, RUN_TRIGGER)


def dev_server_flags() -> list[str]:
    """`temporal server start-dev` arguments that register them in every namespace."""
    flags = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}=Keyword"]
    return flags


def trigger_of(suite_id: int | None, retry_of: str | None, priority: str) -> str:
    """What queued the run: a retry, a schedule, a suite run, or a single run request."""
    if retry_of:
        return "retry"
    if priority == "scheduled":
        return "schedule"
    return "suite" if suite_id is not None else "api"


def run_attributes(
    project_id: int,
    test_id: int | None,
    suite_id: int | None,
    priority: str,
    trigger: str,
) -> TypedSearchAttributes:
    """A queued run's attributes at the start of its workflow (RunState: waiting)."""
    pairs: list[SearchAttributePair[str]] = [
        SearchAttributePair(PROJECT_ID, str(project_id)),
        SearchAttributePair(RUN_STATE, RunState.WAITING.value),
        SearchAttributePair(RUN_PRIORITY, priority),
        SearchAttributePair(RUN_TRIGGER, trigger),
    ]
    if test_id is not None:
        pairs.append(SearchAttributePair(TEST_ID, str(test_id)))
    if suite_id is not None:
        pairs.append(SearchAttributePair(SUITE_ID, str(suite_id)))
    return TypedSearchAttributes(pairs)


async def ensure_registered(client: Client) -> None:
    """Register the attributes a namespace lacks (a production server; the dev server gets
    them from `dev_server_flags`). Needs operator rights; a refusal is logged, not raised."""
    namespace = client.namespace
    try:
        known = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        missing = {
            key.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
            for key in ALL
            if key.name not in known.custom_attributes
        }
        if missing:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
            )
            log.info("registered search attributes %s in %s", sorted(missing), namespace)
    except Exception as error:
        log.warning("could not register search attributes in %s: %s", namespace, error)
