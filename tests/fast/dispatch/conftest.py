"""A fresh SQLite service database with its dispatcher, for the admission tests."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.config import Settings
from core.temporal_link import TemporalLink
from dispatch.dispatcher import Dispatcher
from dispatch.group_commit import GroupCommit
from live.publisher import EventPublisher
from store.db import create_engine, migrate
from store.queue import RunQueue
from store.workers import WorkerRegistry
from tests.support.admission_queue import Queue


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database file at the newest schema, copied for each test (migrating takes a second)."""
    path = tmp_path_factory.mktemp("schema") / "service.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture
async def queue(migrated: Path, tmp_path: Path) -> AsyncIterator[Queue]:
    url = f"sqlite:///{shutil.copy(migrated, tmp_path / 'service.db')}"
    engine = create_engine(url)
    dispatcher = Dispatcher.build(engine, TemporalLink(Settings(database_url=url)))
    intake = GroupCommit(engine, RunQueue(), EventPublisher(None), dispatcher.wake)
    yield Queue(engine, dispatcher, intake, WorkerRegistry(engine))
    await intake.idle()
    await engine.dispose()
