"""The browser pool: contexts that no run claims are closed, so none is left behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from browser.pool import BrowserPool
from tests.support.processes import chromium_descendants
from tests.support.runs import poll


async def test_a_context_no_run_claims_is_closed() -> None:
    """A run cancelled while its context opened never claims it: the reaper closes it."""
    pool = BrowserPool(None, claim_timeout_s=0.5, reap_interval_s=0.1)
    await pool.start()
    try:
        orphan = await pool.open("cancelled-run", "off", lifetime_s=300)
        claimed = await pool.open("live-run", "off", lifetime_s=300)
        async with pool.using(claimed.session_id):
            pass

        async def open_sessions() -> set[str]:
            return {s.session_id for s in pool._sessions.values()}

        await poll(open_sessions, lambda open_: orphan.session_id not in open_, str, timeout=10)
        assert pool.get(claimed.session_id) is claimed
    finally:
        await pool.stop()


SERVICE_SECRETS = {
    "ADMIN_TOKEN": "admin-secret-4f1c",
    "SECRET_KEY": "secret-key-9a7e",
    "PAYLOAD_KEYS": "k1:payload-key-77d2",
    "DATABASE_URL": "postgresql://svc:db-password-31b9@db/service",
    "REDIS_URL": "redis://:redis-password-c0de@redis:6379/0",
    "REDIS_PASSWORD": "redis-password-c0de",
}


async def test_chromium_inherits_none_of_the_service_s_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in SERVICE_SECRETS.items():
        monkeypatch.setenv(name, value)
    pool = BrowserPool(None, owner="environ-check")
    await pool.start()
    try:
        await pool.open("environ-run", "off", lifetime_s=60)
        browsers = chromium_descendants(os.getpid())
        assert browsers, "no Chromium process found"
        environs = [Path(f"/proc/{p.pid}/environ").read_bytes() for p in browsers if p.is_running()]
        assert any(b"PATH=" in environ for environ in environs), "environments were read"
        for environ in environs:
            for name, value in SERVICE_SECRETS.items():
                assert name.encode() + b"=" not in environ
                assert value.encode() not in environ
    finally:
        await pool.stop()
