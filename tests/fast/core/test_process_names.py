"""Process names tell, on the same machine, whether their process is gone."""

from __future__ import annotations

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
