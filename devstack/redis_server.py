"""A local Redis for the service command when none is configured (Debian's redis-server)."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
from functools import partial
from pathlib import Path

from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.config import Settings
from devstack.processes import spawn
from devstack.supervisor import Adopted, Child

log = logging.getLogger(__name__)


async def answers(url: str) -> bool:
    client = Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        return bool(await client.ping())
    except (RedisError, OSError):
        return False
    finally:
        await client.aclose()


async def ensure_redis(settings: Settings) -> Child | Adopted | None:
    """Use REDIS_URL (or REDIS_HOST...), else a Redis on 127.0.0.1:REDIS_PORT (6379), else
    start one there.

    Children find it in REDIS_URL. A Redis that was there already is adopted (watched, not
    restarted); one started here is a supervised child. Without a redis-server binary the
    service runs without live events (the live routes fall back to snapshots)."""
    url = settings.effective_redis_url
    if url is not None:
        log.info("using the configured Redis")
        return Adopted("Redis", partial(answers, url))
    port = settings.redis_port
    local_url = f"redis://127.0.0.1:{port}/0"
    os.environ["REDIS_URL"] = local_url
    if await answers(local_url):
        log.info("using the Redis at %s", local_url)
        return Adopted("Redis", partial(answers, local_url))
    if shutil.which("redis-server") is None:
        log.warning("redis-server is not installed: live progress falls back to snapshots")
        del os.environ["REDIS_URL"]
        return None
    folder = Path(settings.data_dir)
    child = Child("Redis", partial(spawn_redis, port, folder), hint=str(folder / "redis.log"))
    child.launch()
    await until_answers(port, child.process, folder)
    log.info("Redis on %s", local_url)
    return child


def spawn_redis(port: int, folder: Path) -> subprocess.Popen[bytes]:
    """redis-server on 127.0.0.1:`port` without persistence (it may not answer yet)."""
    binary = shutil.which("redis-server") or "redis-server"
    command = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", ""]
    command += ["--appendonly", "no", "--dir", str(folder)]
    return spawn(command, log_file=folder / "redis.log")


async def until_answers(port: int, process: subprocess.Popen[bytes] | None, folder: Path) -> None:
    """Return once the Redis on `port` answers; raise if its process ends first."""
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(100):
        if await answers(url):
            return
        if process is None or process.poll() is not None:
            break
        await asyncio.sleep(0.1)
    raise RuntimeError(f"redis-server did not start on {port}; see {folder / 'redis.log'}")


async def start_redis(port: int, folder: Path) -> subprocess.Popen[bytes]:
    """redis-server on 127.0.0.1:`port` without persistence, once it answers."""
    process = spawn_redis(port, folder)
    await until_answers(port, process, folder)
    return process
