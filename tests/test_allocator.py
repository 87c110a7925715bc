"""The API process of `scripts/serve` allocates with jemalloc, which scripts/bootstrap.sh
installs: a Python started with jemalloc_env() has jemalloc mapped and no pymalloc blocks."""

from __future__ import annotations

import os
import subprocess
import sys

from devstack.allocator import jemalloc_env

REPORT = (
    "import sys; maps = open('/proc/self/maps').read(); "
    "print('jemalloc' in maps, sys.getallocatedblocks())"
)


def allocator_of_child(env: dict[str, str], launcher: tuple[str, ...] = ()) -> tuple[bool, int]:
    done = subprocess.run(
        [*launcher, sys.executable, "-c", REPORT],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    mapped, blocks = done.stdout.split()
    return mapped == "True", int(blocks)


def test_the_api_process_environment_makes_python_allocate_with_jemalloc() -> None:
    env = jemalloc_env()
    assert env, "jemalloc is not installed (scripts/bootstrap.sh installs libjemalloc2)"
    mapped, pymalloc_blocks = allocator_of_child(env)
    assert mapped and pymalloc_blocks == 0
    plain_mapped, plain_blocks = allocator_of_child({})
    assert not plain_mapped and plain_blocks > 0  # without it: CPython's own allocator


def test_the_launcher_of_the_docker_image_s_api_starts_its_command_with_jemalloc() -> None:
    launcher = (sys.executable, "-m", "devstack.allocator")
    assert allocator_of_child({}, launcher) == (True, 0)
