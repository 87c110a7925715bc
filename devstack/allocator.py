"""The API process's memory allocator: jemalloc for every Python object, when the system has it.

After a burst of a thousand requests, CPython's own allocator keeps most of the 1 MiB arenas
the burst needed: an arena goes back to the system only when every object in it is gone, and
a few long-lived objects (free lists of asyncio and uvloop, a library's last call) end up in
each. With jemalloc (`PYTHONMALLOC=malloc`, preloaded), freed pages go back within a second,
by a background thread: the API settled 5 MiB above its starting level after the burst
benchmark instead of 16-17 MiB, and answered as fast (docs/benchmarks.md, row J; 2 MiB since
row K, about what a bare ASGI app served the same way keeps, row L).

`scripts/serve` starts its API this way; the Docker image's API runs
`python -m devstack.allocator uvicorn ...`.
"""

from __future__ import annotations

import ctypes.util
import os
import sys

JEMALLOC_CONF = "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0"
"""Give freed pages back after about a second, from jemalloc's own thread."""


def jemalloc_env() -> dict[str, str]:
    """Environment for a Python process to allocate with jemalloc; empty if it is missing."""
    library = ctypes.util.find_library("jemalloc")
    if library is None:
        return {}
    return {"LD_PRELOAD": library, "PYTHONMALLOC": "malloc", "MALLOC_CONF": JEMALLOC_CONF}


def environ_with_jemalloc() -> dict[str, str]:
    """This process's environment with `jemalloc_env()` on top, for a child process."""
    return {**os.environ, **jemalloc_env()}


def main() -> None:
    """`python -m devstack.allocator COMMAND [ARG...]`: replace this process with COMMAND,
    allocating with jemalloc."""
    command = sys.argv[1:]
    if not command:
        sys.exit("usage: python -m devstack.allocator COMMAND [ARG...]")
    os.execvpe(command[0], command, environ_with_jemalloc())


if __name__ == "__main__":
    main()
