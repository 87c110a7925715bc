"""Process names tell, on the same machine, whether their process is gone."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from core.process_names import gone_from_here, process_name, process_space
from tests.support.processes import name_of_an_ended_process


def test_only_an_ended_process_of_this_machine_counts_as_gone() -> None:
    assert gone_from_here(name_of_an_ended_process("dispatcher"))
    assert gone_from_here(name_of_an_ended_process("worker"))
    assert not gone_from_here(process_name("worker")), "this process is alive"
    elsewhere = "worker-another-host.4026531836-1-abcdef"
    assert not gone_from_here(elsewhere), "a process of another machine is not ours to judge"
    assert not gone_from_here("api-12345-abcdef"), "a name without a process space"
    assert not gone_from_here("worker"), "not a process name at all"
    assert process_space() in process_name("worker")


def test_a_process_that_ended_but_is_not_reaped_yet_counts_as_gone() -> None:
    code = "from core.process_names import process_name; print(process_name('worker'))"
    child = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[3],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    name = child.stdout.readline().strip()
    stat = Path(f"/proc/{child.pid}/stat")
    deadline = time.monotonic() + 30
    while stat.read_text().rpartition(")")[2].split()[0] != "Z":  # ended, not reaped
        assert time.monotonic() < deadline, "the child never ended"
        time.sleep(0.01)
    try:
        assert gone_from_here(name), "a zombie is a process that has ended"
    finally:
        child.wait()
        child.stdout.close()
