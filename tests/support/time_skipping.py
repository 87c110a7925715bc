"""Temporal's time-skipping test server, with the service's data converter."""

from __future__ import annotations

import sys
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from core.temporal import CLEAR_CONVERTER

TEST_SERVER = Path(sys.executable).parent / "temporal-test-server"


async def start_time_skipping() -> WorkflowEnvironment:
    """A fresh test server (installed with the test extras, beside the interpreter)."""
    return await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(TEST_SERVER), data_converter=CLEAR_CONVERTER
    )
