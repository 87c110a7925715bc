"""Chrome DevTools Recorder recordings for the import's tests, and the check of them with
`@puppeteer/replay`'s own parse() under the node that Playwright's driver ships."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from playwright._impl._driver import compute_driver_executable

ROOT = Path(__file__).resolve().parents[2]
RECORDINGS = ROOT / "tests" / "recordings"
REPLAY_MODULES = ROOT / ".venv" / "recorder-replay" / "node_modules"
RECORDED_ORIGIN = "http://127.0.0.1:8001/"
"""Where the recordings were made; tests put their own pages' origin in its place."""


def recording(name: str, pages_url: str) -> dict[str, Any]:
    """A recording of tests/recordings, made against `pages_url`."""
    text = (RECORDINGS / f"{name}.json").read_text()
    return json.loads(text.replace(RECORDED_ORIGIN, pages_url))


def replay_parse(paths: list[Path]) -> list[dict[str, Any]]:
    """@puppeteer/replay's verdict on each recording: {"file", "ok", "error"?, "steps"?}."""
    return [json.loads(line) for line in _parse_cjs(*map(str, paths)).splitlines()]


def replay_step_types() -> set[str]:
    """The step types of the package's own schema."""
    return set(json.loads(_parse_cjs("--step-types")))


def _parse_cjs(*args: str) -> str:
    """Run tests/recordings/parse.cjs under the node of Playwright's driver."""
    node, _ = compute_driver_executable()
    done = subprocess.run(
        [node, str(RECORDINGS / "parse.cjs"), *args],
        env={"NODE_PATH": str(REPLAY_MODULES)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout
