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
from store.queue import RunQueue
from store.retention import Retention
from store.runs import RunStore
from store.workers import WorkerRegistry


@dataclass
class Services:
    """Built at start-up, closed at shutdown."""

    settings: Settings
    engine: AsyncEngine
    temporal: TemporalLink
    secrets: SecretBox
    runs: RunStore
    queue: RunQueue
    admission: AdmissionStore
    retention: Retention
    dispatcher: Dispatcher

    @classmethod
    def build(cls, settings: Settings) -> Services:
        engine = create_engine(settings.database_url)
        temporal = TemporalLink(settings)
        admission = AdmissionStore(engine)
        return cls(
            settings=settings,
            engine=engine,
            temporal=temporal,
            secrets=load_secret_box(settings),
            runs=RunStore(engine),
            queue=RunQueue(),
            admission=admission,
            retention=Retention(engine, settings.artifacts_dir),
            dispatcher=Dispatcher(admission, WorkerRegistry(engine), temporal),
        )

    def start(self) -> None:
        self.dispatcher.start()

    async def close(self) -> None:
        await self.dispatcher.stop()
        await self.engine.dispose()
