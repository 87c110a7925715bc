"""The fast tier: no Chromium, no dev server, no Redis. Workflow logic runs on Temporal's
time-skipping test server with stand-in activities; dispatch policy runs against SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.support.time_skipping import start_time_skipping


@pytest.fixture(scope="session")
async def time_skipping() -> AsyncIterator[WorkflowEnvironment]:
    """One time-skipping test server for the tier (its time is shared: tests run in series)."""
    environment = await start_time_skipping()
    yield environment
    await environment.shutdown()
