"""Hosts on one machine: Linux network namespaces joined by a bridge, with links that can be cut.

Each host is a network namespace with one cable (a veth pair) into a switch namespace that
holds the bridge; this machine's own namespace gets a cable too, so the process that built the
hosts reaches them at their addresses. The hosts have no route beyond their subnet: what runs
in them reaches each other and nothing else. Needs root (`ip netns`, from iproute2).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

SUBNET_PREFIX = "10.251"
"""The hosts' subnet is 10.251.<n>.0/24, n chosen per topology (a private range this project
uses for its test hosts only; the machine's own namespace routes only that /24 to them)."""


def ip(*args: str, namespace: str | None = None) -> None:
    """Run `ip ARGS` (in `namespace`), failing loudly."""
    command = ["ip", *args] if namespace is None else ["ip", "-n", namespace, *args]
    subprocess.run(command, check=True, capture_output=True)


@dataclass
class Host:
    """One namespace: its name, its address, and the switch end of its cable."""

    name: str
    namespace: str
    address: str
    switch_port: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def command(self, *argv: str) -> list[str]:
        """`argv` run inside this host: its network, and a host name of its own (a UTS
        namespace), so that its processes' names say they run elsewhere (core.process_names)."""
        named = ["unshare", "--uts", "--", "sh", "-c", 'hostname "$0" && exec "$@"', self.namespace]
        return ["ip", "netns", "exec", self.namespace, *named, *argv]

    def start(
        self, argv: list[str], env: dict[str, str], log: Path, cwd: Path | None = None
    ) -> subprocess.Popen[bytes]:
        """Start a process in this host, its output in `log`, in a session of its own."""
        with log.open("ab") as out:
            process = subprocess.Popen(
                self.command(*argv),
                env=env,
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append(process)
        return process

    def pids(self) -> list[int]:
        """Every process living in this host's namespace (its daemons too)."""
        listed = subprocess.run(
            ["ip", "netns", "pids", self.namespace], capture_output=True, text=True
        )
        return [int(pid) for pid in listed.stdout.split()]

    def kill(self) -> list[int]:
        """SIGKILL every process of the host at once, as a power cut does; their pids."""
        killed = self.pids()
        for pid in killed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)
        self.processes.clear()
        return killed


class Topology:
    """Hosts on a private bridge; `with Topology() as net: net.add("api") ...`.

    Everything is removed on exit, when a test fails too: processes killed, namespaces and
    cables deleted.
    """

    def __init__(self, subnet: int | None = None) -> None:
        self.id = uuid.uuid4().hex[:4]
        self.subnet = subnet if subnet is not None else 100 + int(self.id, 16) % 150
        self.switch = f"trs-{self.id}"
        self.hosts: dict[str, Host] = {}
        self._root_port = f"vr{self.id}"

    @property
    def gateway(self) -> str:
        """This machine's own address on the hosts' subnet."""
        return f"{SUBNET_PREFIX}.{self.subnet}.1"

    def __enter__(self) -> Topology:
        ip("netns", "add", self.switch)
        try:
            ip("link", "add", "br0", "type", "bridge", namespace=self.switch)
            ip("link", "set", "br0", "up", namespace=self.switch)
            ip("link", "set", "lo", "up", namespace=self.switch)
            self._cable(None, self._root_port, self.gateway)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, name: str) -> Host:
        """A new host on the bridge, with the next address."""
        index = len(self.hosts) + 2
        namespace = f"trh-{self.id}-{name}"
        address = f"{SUBNET_PREFIX}.{self.subnet}.{index}"
        ip("netns", "add", namespace)
        host = Host(name, namespace, address, f"vs{self.id}{index}")
        self.hosts[name] = host
        ip("link", "set", "lo", "up", namespace=namespace)
        self._cable(namespace, f"vh{self.id}{index}", address, host.switch_port)
        return host

    def _cable(
        self, namespace: str | None, end: str, address: str, switch_end: str | None = None
    ) -> None:
        """A veth pair from `namespace` (None: this machine's) to the bridge."""
        switch_end = switch_end or f"vs{self.id}1"
        ip("link", "add", end, "type", "veth", "peer", "name", switch_end)
        ip("link", "set", switch_end, "netns", self.switch)
        ip("link", "set", switch_end, "master", "br0", namespace=self.switch)
        ip("link", "set", switch_end, "up", namespace=self.switch)
        if namespace is not None:
            ip("link", "set", end, "netns", namespace)
        ip("addr", "add", f"{address}/24", "dev", end, namespace=namespace)
        ip("link", "set", end, "up", namespace=namespace)

    def cut(self, host: Host) -> None:
        """Unplug the host's cable at the switch: its packets go nowhere, nothing answers."""
        ip("link", "set", host.switch_port, "down", namespace=self.switch)

    def mend(self, host: Host) -> None:
        """Plug the cable back in."""
        ip("link", "set", host.switch_port, "up", namespace=self.switch)

    def close(self) -> None:
        """Kill every host's processes, delete the namespaces (and with them the cables)."""
        for host in self.hosts.values():
            host.kill()
        for host in self.hosts.values():
            with contextlib.suppress(subprocess.CalledProcessError):
                ip("netns", "del", host.namespace)
        with contextlib.suppress(subprocess.CalledProcessError):
            ip("link", "del", self._root_port)
        with contextlib.suppress(subprocess.CalledProcessError):
            ip("netns", "del", self.switch)
        self.hosts.clear()


def wait_for_port(address: str, port: int, timeout_s: float = 60.0) -> None:
    """Until something accepts TCP connections at address:port."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((address, port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing answers at {address}:{port}") from None
            time.sleep(0.2)
