"""Service processes keep their files private, refuse example secrets, and keep tokens out of
access logs."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from core.config import Settings
from core.hardening import weak_secrets
from core.logs import QueryTokenFilter

REPO = Path(__file__).resolve().parents[3]
STRONG = "a" * 32


def settings(**values: object) -> Settings:
    return Settings.model_validate(values)


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"admin_token": "change-me"}, "ADMIN_TOKEN is the example value"),
        ({"admin_token": "short-token"}, "ADMIN_TOKEN is shorter than 32 characters"),
        ({"secret_key": "change-me"}, "SECRET_KEY holds the example value 'change-me'"),
        ({"payload_keys": "change-me"}, "PAYLOAD_KEYS holds the example value 'change-me'"),
        (
            {"database_url": "postgresql://u:change-me@db/service"},
            "DATABASE_URL holds the example value 'change-me'",
        ),
        ({"redis_host": "r", "redis_password": "CHANGE-ME"}, "REDIS_URL holds the example"),
    ],
)
def test_example_and_short_secrets_are_named(values: dict, problem: str) -> None:
    found = weak_secrets(settings(**values), admin_token_used=True)
    assert any(line.startswith(problem) for line in found), found


def test_strong_secrets_pass_and_the_worker_ignores_the_admin_token() -> None:
    assert weak_secrets(settings(admin_token=STRONG), admin_token_used=True) == []
    assert weak_secrets(settings(admin_token="x"), admin_token_used=False) == []


def environment(tmp_path: Path, **values: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ADMIN_", "SECRET_"))}
    return {**base, "DATA_DIR": str(tmp_path / "data"), "TEMPORAL_ADDRESS": "127.0.0.1:1", **values}


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "worker.py"],
        [sys.executable, "dispatcher.py"],
        [sys.executable, "-c", "from api.app import create_service_app; create_service_app()"],
    ],
)
def test_service_processes_refuse_to_start_with_the_example_secrets(
    tmp_path: Path, command: list[str]
) -> None:
    if command[1] != "-c":
        command = [command[0], str(REPO / command[1])]
    done = subprocess.run(
        command,
        cwd=tmp_path,
        env={**environment(tmp_path, SECRET_KEY="change-me"), "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "refusing to start: SECRET_KEY holds the example value" in done.stderr


def test_the_data_folder_and_every_file_the_service_writes_are_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    script = (
        "from core.config import Settings; from core.hardening import prepare_service_process;"
        f"prepare_service_process(Settings(_env_file=None, data_dir={str(data)!r}));"
        f"open({str(data / 'made.db')!r}, 'w').close();"
        f"__import__('os').mkdir({str(data / 'artifacts')!r})"
    )
    subprocess.run([sys.executable, "-c", script], cwd=REPO, check=True, timeout=60)
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "made.db").stat().st_mode) == 0o600
    assert stat.S_IMODE((data / "artifacts").stat().st_mode) == 0o700


def test_tokens_in_query_strings_never_reach_the_access_log() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        "",
        0,
        '%s - "%s %s HTTP/%s" %d',
        (
            "127.0.0.1:5000",
            "GET",
            "/api/execution/ws?lastEventId=1-0&token=secret-project-token",
            "1.1",
            101,
        ),
        None,
    )
    assert QueryTokenFilter().filter(record)
    line = record.getMessage()
    assert "secret-project-token" not in line
    assert "/api/execution/ws?lastEventId=1-0&token=***" in line
