"""The bundled demo site, served by the service command on a port of its own.

Runs' browsers may reach this port and nothing else of this machine: the demo pages are not
served by the API, so allowlisting them opens neither the API nor Temporal, the Web UI,
Redis or metrics.
"""

from __future__ import annotations

import os
from pathlib import Path

from devstack.static_server import StaticServer

DEMO_SITE = Path(__file__).resolve().parent.parent / "examples" / "site"
DEFAULT_DEMO_PORT = 8001


def demo_port() -> int:
    """DEMO_PORT, or 8001."""
    return int(os.environ.get("DEMO_PORT") or DEFAULT_DEMO_PORT)


def demo_url() -> str:
    """The demo site's base URL, ending in a slash."""
    return f"http://127.0.0.1:{demo_port()}/"


def serve_demo_site() -> StaticServer:
    """The demo pages on 127.0.0.1:DEMO_PORT (use as a context manager)."""
    return StaticServer(DEMO_SITE, port=demo_port())


def allow_demo_site(egress_allow: str) -> str:
    """EGRESS_ALLOW with the demo site's address and port added."""
    entry = f"127.0.0.1:{demo_port()}"
    return ",".join(part for part in (egress_allow, entry) if part)
