"""A throwaway PostgreSQL server from Debian's packages, for the test suite."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from devstack.postgres_server import pg_ctl, start_postgres


@contextmanager
def postgres_server(port: int) -> Iterator[str]:
    """Start a server on 127.0.0.1:port with a database `service`; yield its URL."""
    base = Path(tempfile.mkdtemp(prefix="pg-test-"))
    try:
        yield start_postgres(base, "127.0.0.1", port)
    finally:
        subprocess.run(pg_ctl(base, "-m", "immediate", "stop"), capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
