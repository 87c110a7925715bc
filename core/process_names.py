"""Names of service processes that tell, on the same machine, whether the process is gone.

A name is `<role>-<process space>-<pid>-<random>`, where the process space is the host name and
the PID namespace: where a process ID means one process. A dispatcher that finds the lease held
by a process of its own space that no longer exists (SIGKILLed, say, and restarted by its
supervisor) takes the lease at once; a worker of its space that is gone is let go at once
(dispatch.dead_workers). A process elsewhere is judged by its lease or heartbeats alone.
"""

from __future__ import annotations

import os
import socket
import uuid
from functools import cache


@cache
def process_space() -> str:
    """This host's name and PID namespace."""
    try:
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        namespace = 0
    return f"{socket.gethostname()}.{namespace}"


def process_name(role: str) -> str:
    """A name for this process in `role`, unique per start."""
    return f"{role}-{process_space()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def gone_from_here(name: str) -> bool:
    """Whether `name` was given by a process of this process space that has ended."""
    if name.count("-") < 2:
        return False
    head, pid, _ = name.rsplit("-", 2)
    space = process_space()
    if not (head.endswith("-" + space) and pid.isdigit()):
        return False
    return not _exists(int(pid))


def _exists(pid: int) -> bool:
    """Whether process `pid` runs (a zombie, ended but not yet reaped by its parent, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] == "Z"
    except (OSError, IndexError):
        return False
