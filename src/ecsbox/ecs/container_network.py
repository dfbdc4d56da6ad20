"""The container-facing listener's plumbing: its sockets and uvicorn servers, the address of
ecsbox's task network, and the 169.254.170.2 route where containers find their credentials."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import uvicorn

from ecsbox.ecs import metadata
from ecsbox.runtime.port import Runtime, RuntimeFailure

log = logging.getLogger("ecsbox.ecs.containers")

LINK_LOCAL_ADDRESS = "169.254.170.2"  # where ECS serves credentials and metadata to containers
LINK_LOCAL_PORT = 80


class QuietServer(uvicorn.Server):
    """A second server in the process: the operator API's server owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def listening_socket(address: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        sock.listen(1024)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


async def serve_app(app: Any, sock: socket.socket) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    config = uvicorn.Config(
        app,
        http="h11" if sys.platform == "win32" else "httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
        server_header=False,
        date_header=False,
    )
    server = QuietServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():
        await asyncio.sleep(0.01)
    if task.done():
        task.result()  # raises why it could not start
    return server, task


async def bridge_network(runtime: Runtime, name: str, labels: dict[str, str]) -> metadata.TaskNetwork | None:
    """The subnet and gateway of ecsbox's bridge network (created when missing); None where the
    runtime is not a Docker engine or the network has no IPv4 gateway."""
    from ecsbox.runtime.docker import DockerRuntime

    if not isinstance(runtime, DockerRuntime):
        return None
    try:
        network_id = await runtime.ensure_network(name, labels)
        document: dict[str, Any] = await runtime.run(lambda c: c.inspect_network(network_id))
    except RuntimeFailure as exc:
        log.warning("event=container_listener_off reason=no_network error=%s", exc)
        return None
    for config in (document.get("IPAM") or {}).get("Config") or []:
        subnet = str(config.get("Subnet") or "")
        gateway = str(config.get("Gateway") or "")
        if ":" in subnet:  # IPv6
            continue
        if not gateway and subnet:
            gateway = first_host(subnet)
        if gateway:
            return metadata.TaskNetwork(subnet, gateway.split("/", 1)[0])
    return None


def first_host(subnet: str) -> str:
    return str(next(ipaddress.ip_network(subnet, strict=False).hosts()))


def route_link_local() -> bool:
    """Put 169.254.170.2 on the loopback interface (root on Linux only; idempotent). True when
    the address is there."""
    if sys.platform != "linux" or not hasattr(os, "geteuid") or os.geteuid() != 0:
        return False
    try:
        shown = subprocess.run(
            ["ip", "-4", "-o", "addr", "show", "dev", "lo"], capture_output=True, text=True, timeout=10
        )
        if f" {LINK_LOCAL_ADDRESS}/" in shown.stdout:
            return True
        added = subprocess.run(
            ["ip", "addr", "add", f"{LINK_LOCAL_ADDRESS}/32", "dev", "lo"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        log.info("event=link_local_unavailable error=%s", exc)
        return False
    if added.returncode != 0 and "File exists" not in added.stderr:
        log.info("event=link_local_unavailable error=%s", added.stderr.strip())
        return False
    return True
