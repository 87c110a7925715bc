"""What the API holds for its lifetime: settings, database engine, Temporal link, secrets."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from api.dispatcher import Dispatcher
from api.temporal_link import TemporalLink
from core.config import Settings
from core.secrets import SecretBox, load_secret_box
from store.admission import AdmissionStore
from store.db import create_engine
from store.group_commit import GroupCommit
from store.queue import RunQueue
from store.retention import Retention
from store.runs import RunStore
from store.workers import WorkerRegistry


@dataclass
class Services:
    """Built at start-up, closed at shutdown."""

    settings: Settings
    engine: AsyncEngine
    writer_engine: AsyncEngine
    temporal: TemporalLink
    secrets: SecretBox
    runs: RunStore
    queue: RunQueue
    group_commit: GroupCommit
    admission: AdmissionStore
    retention: Retention
    dispatcher: Dispatcher

    @classmethod
    def build(cls, settings: Settings) -> Services:
        engine = create_engine(settings.database_url)
        writer_engine = create_engine(settings.database_url, pool_size=1, max_overflow=0)
        temporal = TemporalLink(settings)
        admission = AdmissionStore(engine)
        queue = RunQueue()
        return cls(
            settings=settings,
            engine=engine,
            writer_engine=writer_engine,
            temporal=temporal,
            secrets=load_secret_box(settings),
            runs=RunStore(engine),
            queue=queue,
            group_commit=GroupCommit(writer_engine, queue),
            admission=admission,
            retention=Retention(engine, settings.artifacts_dir),
            dispatcher=Dispatcher(admission, WorkerRegistry(engine), temporal),
        )

    def start(self) -> None:
        if self.settings.dispatch_in_api:
            self.dispatcher.start()

    async def close(self) -> None:
        await self.dispatcher.stop()
        await self.engine.dispose()
        await self.writer_engine.dispose()
