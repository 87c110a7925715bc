"""The fast tier: no Chromium, no dev server, no Redis. Workflow logic runs on Temporal's
time-skipping test server with stand-in activities; dispatch policy runs against SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.testing import WorkflowEnvironment

from store.db import create_engine, migrate
from store.models import Project
from tests.support.time_skipping import start_time_skipping


@pytest.fixture(scope="session")
async def time_skipping() -> AsyncIterator[WorkflowEnvironment]:
    """One time-skipping test server for the tier (its time is shared: tests run in series)."""
    environment = await start_time_skipping()
    yield environment
    await environment.shutdown()


@pytest.fixture
async def one_project_db(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """A SQLite service database at the newest schema, holding one project (id 1)."""
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    migrate(url)
    engine = create_engine(url)
    async with AsyncSession(engine) as session:
        session.add(Project(name="p", token_hash="h" * 64))
        await session.commit()
    yield engine
    await engine.dispose()
