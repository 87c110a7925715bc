"""Schemathesis against the app's own OpenAPI, every operation, with a valid token: no 5xx."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.config import Settings
from tests.conftest import FUZZ_NAMESPACE, free_port
from tests.support.processes import REPO_ROOT

EXAMPLES_PER_OPERATION = 25
ADMIN = "fuzz-admin-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def api_server(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The API as its own process (uvicorn), on a fresh SQLite database."""
    data = tmp_path_factory.mktemp("fuzz")
    port = free_port()
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": settings.temporal_address,
        "TEMPORAL_NAMESPACE": FUZZ_NAMESPACE,
        "DATABASE_URL": f"sqlite:///{data / 'service.db'}",
        "DATA_DIR": str(data),
        "UPLOADS_DIR": str(data / "uploads"),
        "ARTIFACTS_DIR": str(data / "artifacts"),
        "ADMIN_TOKEN": ADMIN,
        "SECRET_KEY": settings.secret_key or "",
        "PAYLOAD_KEYS": settings.payload_keys or "",
    }
    log = open(data / "api.log", "wb")  # noqa: SIM115 (closed below)
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app", "--port", str(port)],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, data / "api.log")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


def _wait_healthy(url: str, log: Path) -> None:
    """Until the API answers (no worker polls the fuzz namespace: /health says down)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health/live").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"the API did not become healthy:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def token(api_server: str) -> str:
    """A project token, with one test and one suite so that some IDs exist."""
    created = httpx.post(
        f"{api_server}/api/projects",
        json={"name": "fuzz"},
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    assert created.status_code == 201, created.text
    project_token = created.json()["token"]
    headers = {"Authorization": f"Bearer {project_token}"}
    test = {
        "name": "t",
        "start_url": "https://shop.example.test/",
        "steps": [{"action": "click", "selector": "#a"}],
    }
    test_id = httpx.post(f"{api_server}/api/tests", json=test, headers=headers).json()["id"]
    httpx.post(
        f"{api_server}/api/suites", json={"name": "s", "test_ids": [test_id]}, headers=headers
    )
    return project_token


def test_no_input_makes_the_api_fail_with_a_server_error(
    api_server: str, token: str, tmp_path: Path
) -> None:
    """Every operation, generated valid and invalid inputs, a bounded number of each."""
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "run",
        f"{api_server}/openapi.json",
        "--checks",
        "not_a_server_error",
        "--header",
        f"Authorization: Bearer {token}",
        # the project's event stream never ends (it is tested in test_live.py)
        "--exclude-path",
        "/api/execution/events",
        # its 503 is its answer here (no worker polls the fuzz namespace); test_health.py
        "--exclude-path",
        "/health",
        "--max-examples",
        str(EXAMPLES_PER_OPERATION),
        "--phases",
        "examples,coverage,fuzzing",
        "--seed",
        "20261128",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=900, env={**os.environ, "NO_COLOR": "1"}
    )
    summary = done.stdout[-12000:]
    print(summary)
    assert done.returncode == 0, summary
    counted = re.search(r"(\d+) generated, (\d+) passed", done.stdout)
    assert counted and counted[1] == counted[2], "every generated case passed"
    assert int(counted[1]) >= 500, "the fuzzing really ran"
