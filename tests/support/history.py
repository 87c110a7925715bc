"""Reading a run's history the way an operator does: the temporal CLI."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import subprocess

from devstack.temporal_server import temporal_binary


def decoded_history(job_id: str, address: str, *extra: str, namespace: str = "default") -> str:
    """`temporal workflow show --output json` (with `extra` flags, such as a codec endpoint),
    with every base64 payload decoded beside it."""
    shown = subprocess.run(
        [
            temporal_binary(),
            "workflow",
            "show",
            "-w",
            job_id,
            "--address",
            address,
            "--namespace",
            namespace,
            "--output",
            "json",
            *extra,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    decoded: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "data" and isinstance(value, str):
                    with contextlib.suppress(binascii.Error, ValueError):
                        decoded.append(
                            base64.b64decode(value, validate=True).decode(errors="replace")
                        )
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(json.loads(shown))
    return shown + "\n".join(decoded)
