"""A local Redis for the service command when none is configured (Debian's redis-server)."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
from pathlib import Path

from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.config import Settings
from devstack.processes import spawn

log = logging.getLogger(__name__)
LOCAL_URL = "redis://127.0.0.1:6379/0"


async def answers(url: str) -> bool:
    client = Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        return bool(await client.ping())
    except (RedisError, OSError):
        return False
    finally:
        await client.aclose()


async def ensure_redis(settings: Settings) -> subprocess.Popen[bytes] | None:
    """Use REDIS_URL (or REDIS_HOST...), else a Redis on 127.0.0.1:6379, else start one there.

    Children find it in REDIS_URL. Without a redis-server binary the service runs without live
    events (the live routes fall back to snapshots)."""
    url = settings.effective_redis_url
    if url is not None:
        log.info("using the configured Redis")
        return None
    os.environ["REDIS_URL"] = LOCAL_URL
    if await answers(LOCAL_URL):
        log.info("using the Redis at %s", LOCAL_URL)
        return None
    binary = shutil.which("redis-server")
    if binary is None:
        log.warning("redis-server is not installed: live progress falls back to snapshots")
        del os.environ["REDIS_URL"]
        return None
    process = await start_redis(6379, Path(settings.data_dir))
    log.info("Redis on %s", LOCAL_URL)
    return process


async def start_redis(port: int, folder: Path) -> subprocess.Popen[bytes]:
    """redis-server on 127.0.0.1:`port` without persistence, once it answers."""
    binary = shutil.which("redis-server") or "redis-server"
    command = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", ""]
    command += ["--appendonly", "no", "--dir", str(folder)]
    process = spawn(command, log_file=folder / "redis.log")
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(100):
        if await answers(url):
            return process
        if process.poll() is not None:
            break
        await asyncio.sleep(0.1)
    raise RuntimeError(f"redis-server did not start on {port}; see {folder / 'redis.log'}")
