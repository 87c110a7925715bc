"""Worker processes for tests, and the Chromium processes they leave behind (or not)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil

from core.config import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]


def name_of_an_ended_process(role: str = "dispatcher") -> str:
    """The name (core.process_names) a process of this machine gave itself, after that
    process ended."""
    code = f"from core.process_names import process_name; print(process_name({role!r}))"
    finished = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return finished.stdout.strip()


def chromium_descendants(pid: int) -> list[psutil.Process]:
    """Chromium processes below `pid`."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    return [p for p in children if _is_chromium(p)]


def renderer_count(pid: int, marker: str = "") -> int:
    """Chromium renderer processes below `pid` (below the Chromium whose command line has
    `marker`, if given): one or more per open page."""
    if marker:
        browsers = [p for p in chromium_descendants(pid) if marker in command_line(p)]
        return sum(renderer_count(browser.pid) for browser in browsers)
    return sum("--type=renderer" in command_line(p) for p in chromium_descendants(pid))


def command_line(process: psutil.Process) -> list[str]:
    """The process's arguments; none if it has exited meanwhile."""
    try:
        return process.cmdline()
    except psutil.Error:
        return []


def _is_chromium(process: psutil.Process) -> bool:
    """A live Chromium process (an exited one not yet reaped does not count)."""
    try:
        return "chrom" in process.name().lower() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def wait_gone(processes: list[psutil.Process], timeout: float = 15) -> list[psutil.Process]:
    """Wait for processes to exit; return those still alive after timeout."""
    _gone, alive = psutil.wait_procs(processes, timeout=timeout)
    return [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def start_worker_process(
    settings: Settings, namespace: str, log_file: Path
) -> subprocess.Popen[bytes]:
    """`python worker.py` with the test session's settings, in its own namespace."""
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": settings.temporal_address,
        "TEMPORAL_NAMESPACE": namespace,
        "DATA_DIR": str(settings.data_dir),
        "ARTIFACTS_DIR": str(settings.artifacts_dir),
        "UPLOADS_DIR": str(settings.uploads_dir),
        "SECRET_KEY": settings.secret_key or "",
        "PAYLOAD_KEYS": settings.payload_keys or "",
        "DATABASE_URL": settings.database_url,
        "WORKER_MAX_SESSIONS": str(settings.worker_max_sessions),
        "DRAIN_TIMEOUT_S": "20",
        "EGRESS_ALLOW": settings.egress_allow,
    }
    with open(log_file, "ab") as output:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "worker.py"], cwd=REPO_ROOT, env=env, stdout=output, stderr=output
        )


def wait_for_log(log_file: Path, text: str, timeout: float = 60) -> None:
    """Wait until `text` appears in the log file."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log_file.exists() and text in log_file.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise TimeoutError(f"{text!r} never appeared in {log_file}:\n{log_file.read_text()[-3000:]}")
