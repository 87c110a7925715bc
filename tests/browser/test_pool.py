"""The browser pool: contexts that no run claims are closed, so none is left behind; the
browser inherits no secret and loads nothing beside the runs' pages."""

from __future__ import annotations

import os
import re
from pathlib import Path

import playwright
import pytest

from browser.driver_memory import driver_pids
from browser.pool import BrowserPool
from core.chromium import LAUNCH_ARGS
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


async def test_a_run_s_context_loads_no_browser_ui_page() -> None:
    """Each new context of Chromium 156 would load the omnibox popup's WebUI (hundreds of script
    modules in a renderer of its own, about 0.5 s of CPU per run): the launch flags turn it off."""
    pool = BrowserPool(None)
    await pool.start()
    try:
        await pool.open("ui-check", "off", lifetime_s=60)
        browser = await pool._ensure_browser()
        devtools = await browser.new_browser_cdp_session()
        targets = (await devtools.send("Target.getTargets"))["targetInfos"]
        assert [t["url"] for t in targets if t["type"] == "browser_ui"] == []
        assert any(t["type"] == "page" for t in targets), targets
    finally:
        await pool.stop()


def playwright_s_disabled_features() -> set[str]:
    """The features Playwright's launcher disables, read from the installed driver."""
    bundle = Path(playwright.__file__).parent / "driver" / "package" / "lib" / "coreBundle.js"
    listed = re.search(r"disabledFeatures = \[(.*?)\]", bundle.read_text(), re.DOTALL)
    assert listed, f"Playwright's disabled features not found in {bundle}: check core.chromium"
    return set(re.findall(r'^\s*"([^"]+)"', listed.group(1), re.MULTILINE))


def test_our_disabled_features_keep_playwright_s_own() -> None:
    """Chromium keeps only the last --disable-features switch, so ours must repeat Playwright's."""
    switches = [arg for arg in LAUNCH_ARGS if arg.startswith("--disable-features=")]
    assert len(switches) == 1
    ours = set(switches[0].removeprefix("--disable-features=").split(","))
    theirs = playwright_s_disabled_features()
    assert theirs, "no feature read from Playwright's launcher"
    assert theirs <= ours, f"missing from core.chromium: {sorted(theirs - ours)}"


async def test_a_grown_driver_is_replaced_without_failing_the_run_in_flight() -> None:
    """With a limit every driver exceeds, the first close starts a fresh driver and browser:
    a run still open on the old ones keeps working and the old driver stops after it closes;
    new runs open on the new ones."""
    pool = BrowserPool(None, driver_limit_mib=1.0)
    await pool.start()
    try:
        first_driver = pool.driver_pid
        assert first_driver in driver_pids()
        finished = await pool.open("finished-run", "off", lifetime_s=300)
        in_flight = await pool.open("in-flight-run", "off", lifetime_s=300)
        await pool.close(finished.session_id)

        async def recycled() -> int:
            return pool.recycled

        await poll(recycled, lambda n: n == 1, str, timeout=30)
        pool.driver_limit_mib = 100_000  # the new driver stays
        assert first_driver in driver_pids(), "the old driver serves the run in flight"

        assert await in_flight.page.evaluate("1 + 1") == 2, "the run in flight still works"
        newcomer = await pool.open("new-run", "off", lifetime_s=300)
        assert newcomer.context.browser is not in_flight.context.browser
        assert await newcomer.page.evaluate("2 + 2") == 4

        await pool.close(in_flight.session_id)
        assert first_driver not in driver_pids(), "the old driver stopped with its last run"
        assert pool.driver_pid in driver_pids() and pool.driver_pid != first_driver
    finally:
        await pool.stop()
