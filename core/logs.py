"""Logging set-up shared by the processes of the service."""

from __future__ import annotations

import logging
import os


def configure_logging() -> None:
    """Plain timestamped lines on stderr, at LOG_LEVEL (default INFO)."""
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
