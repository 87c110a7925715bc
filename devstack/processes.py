"""Child processes of the local stack: own process group, ended when their parent dies."""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

from core.parent_death import die_with_parent


def spawn(
    command: list[str],
    cwd: Path | None = None,
    log_file: Path | None = None,
    niceness: int = 0,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start a child in its own session, so that a terminal's Ctrl-C reaches only the parent,
    which then stops the children in order. A positive niceness lets other processes of the
    machine go first when the CPU is contended."""

    def prepare() -> None:
        die_with_parent()
        if niceness:
            os.nice(niceness)

    # The child gets its own copy of the log's descriptor; this process closes its copy.
    with open(log_file, "ab") if log_file else contextlib.nullcontext() as output:
        return subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT if output else None,
            start_new_session=True,
            preexec_fn=prepare,
        )
