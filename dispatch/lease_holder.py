"""Who holds the dispatcher's lease, named so that a successor can tell the holder is gone.

A holder is `dispatcher-<process space>-<pid>-<random>`, where the process space is the host
name and the PID namespace. A dispatcher that finds the lease held by a process of its own
space that no longer exists (SIGKILLed, say, and restarted by its supervisor) takes the lease
at once instead of waiting for it to run out. A holder elsewhere is waited for as before.
"""

from __future__ import annotations

import os
import socket
import uuid
from functools import cache

PREFIX = "dispatcher-"


@cache
def process_space() -> str:
    """This host's name and PID namespace: where a process ID means one process."""
    try:
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        namespace = 0
    return f"{socket.gethostname()}.{namespace}"


def new_holder() -> str:
    """A lease holder's name for this process, unique per start."""
    return f"{PREFIX}{process_space()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def gone_from_here(holder: str) -> bool:
    """Whether `holder` was a process of this process space that has ended."""
    named, _, rest = holder.partition(PREFIX)
    space, pid, _ = rest.rsplit("-", 2) if rest.count("-") >= 2 else ("", "", "")
    if named or space != process_space() or not pid.isdigit():
        return False
    return not _exists(int(pid))


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True
