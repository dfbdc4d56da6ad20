"""Shared fixtures: a live ecsbox server started the way a user starts it."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

READY_RE = re.compile(r"ready on (http://localhost:\d+)")
REPO = Path(__file__).resolve().parents[1]


@dataclass
class LiveServer:
    endpoint: str
    data_dir: Path
    process: subprocess.Popen[str]
    output: list[str]

    def reset(self) -> None:
        request = urllib.request.Request(
            f"{self.endpoint}/_ecsbox/state/reset",
            data=b"{}",
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200

    def server_id(self) -> str | None:
        """The id ecsbox labels its containers with (kept in its database)."""
        database = self.data_dir / "ecsbox.db"
        if not database.exists():
            return None
        with contextlib.closing(sqlite3.connect(database)) as conn:
            row = conn.execute("SELECT value FROM ecsbox_meta WHERE key = 'server_id'").fetchone()
        return str(row[0]) if row else None

    def remove_docker_leftovers(self) -> None:
        """Remove this server's containers and task network from the engine (after it stopped)."""
        server_id = self.server_id()
        if server_id is None or shutil.which("docker") is None:
            return
        listed = subprocess.run(
            ["docker", "ps", "-aq", "--filter", f"label=ecsbox.server={server_id}"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        ids = listed.stdout.split()
        if ids:
            subprocess.run(["docker", "rm", "-f", *ids], capture_output=True, timeout=120)
        subprocess.run(
            ["docker", "network", "rm", f"ecsbox-{server_id[:12]}"], capture_output=True, timeout=30
        )

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        return self.process.returncode


_STARTED: list[LiveServer] = []  # every server the session started, for the final clean-up


@pytest.fixture(scope="session", autouse=True)
def _remove_what_servers_left() -> Iterator[None]:
    """At the end of the session: no container or task network of a test server stays behind
    (Docker has room for only about 30 networks)."""
    yield
    for server in _STARTED:
        if server.process.poll() is None:
            with contextlib.suppress(Exception):
                server.stop()
        with contextlib.suppress(Exception):
            server.remove_docker_leftovers()


def start_server(data_dir: Path, *extra: str, env: dict[str, str] | None = None) -> LiveServer:
    """Start ``ecsbox up`` on a free port and wait for its ready line."""
    command = [sys.executable, "-m", "ecsbox", "up", "--port", "0", "--data-dir", str(data_dir), *extra]
    process_env = {**os.environ, "PYTHONUNBUFFERED": "1", "ECSBOX_FORWARD_PORT": "0", **(env or {})}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=process_env, cwd=REPO
    )
    output: list[str] = []
    found: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            match = READY_RE.search(line)
            if match and not found:
                found.append(match.group(1))
                ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(timeout=30) or not found:
        process.kill()
        raise RuntimeError("ecsbox did not start:\n" + "".join(output))
    server = LiveServer(found[0], data_dir, process, output)
    _STARTED.append(server)
    _wait_healthy(server.endpoint)
    return server


def _wait_healthy(endpoint: str) -> None:
    deadline = time.monotonic() + 15
    while True:
        try:
            with urllib.request.urlopen(f"{endpoint}/_ecsbox/health", timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.fixture(scope="session")
def ecsbox_server() -> Iterator[LiveServer]:
    """One ecsbox for the session, started with reset allowed."""
    with tempfile.TemporaryDirectory(prefix="ecsbox-test-") as tmp:
        server = start_server(Path(tmp) / "data", "--allow-reset")
        try:
            yield server
        finally:
            server.stop()
            server.remove_docker_leftovers()


@pytest.fixture()
def ecsbox_endpoint(ecsbox_server: LiveServer) -> str:
    """The endpoint of a running ecsbox whose state was just wiped."""
    ecsbox_server.reset()
    return ecsbox_server.endpoint


@pytest.fixture()
def aws_env(ecsbox_endpoint: str) -> dict[str, str]:
    """Environment for the AWS CLI pointed at ecsbox."""
    return {
        **os.environ,
        "AWS_ENDPOINT_URL": ecsbox_endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "ap-northeast-1",
        "AWS_PAGER": "",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that restart the Docker engine run after every other test (they stop its containers)."""
    items.sort(key=lambda item: item.get_closest_marker("engine_restart") is not None)
