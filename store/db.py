"""The database engine (async) and migrations (Alembic), for SQLite and PostgreSQL alike."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def driver_url(url: str, asynchronous: bool) -> str:
    """DATABASE_URL with the driver this service uses: aiosqlite, or psycopg 3."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        driver = "aiosqlite" if asynchronous else "pysqlite"
    elif backend == "postgresql":
        driver = "psycopg"
    else:
        raise ValueError(f"DATABASE_URL: unsupported database {backend!r} (sqlite or postgresql)")
    return parsed.set(drivername=f"{backend}+{driver}").render_as_string(hide_password=False)


def _prepare_sqlite_file(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def create_engine(url: str, pool_size: int = 20, max_overflow: int = 20) -> AsyncEngine:
    """An async engine; SQLite gets WAL, foreign keys and a busy timeout, PostgreSQL a
    liveness check of each pooled connection before use."""
    if make_url(url).get_backend_name() == "sqlite":
        _prepare_sqlite_file(url)
        engine = create_async_engine(
            driver_url(url, True),
            connect_args={"timeout": 30},
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_timeout=60,
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(connection, _record):  # type: ignore[no-untyped-def]
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    # A pooled connection is tried before use: after a PostgreSQL restart or failover the
    # pool's connections are dead, and the first request on each would fail.
    return create_async_engine(
        driver_url(url, True),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=60,
        pool_pre_ping=True,
    )


async def release_cache(engine: AsyncEngine) -> None:
    """Give back the page cache of an idle SQLite connection of the engine (up to 2 MiB each,
    kept for its lifetime otherwise); the next transaction reads its pages from the file again.
    PostgreSQL connections cache nothing in this process."""
    if engine.dialect.name != "sqlite":
        return
    async with engine.connect() as connection:
        await connection.exec_driver_sql("PRAGMA shrink_memory")


def migrate(url: str) -> None:
    """Bring the database schema to the newest migration."""
    if make_url(url).get_backend_name() == "sqlite":
        _prepare_sqlite_file(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", driver_url(url, False).replace("%", "%%"))
    command.upgrade(config, "head")
