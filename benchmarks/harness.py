"""What every benchmark here shares: starting and stopping the servers under test, CPU pinning,
percentiles, and turning SIGTERM into the same clean stop as Ctrl-C."""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

SERVER_CPU = "0"  # the server under test
CLIENT_CPU = "1"  # the load generator, and this process
READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 10.0

SERVERS = ("ecsbox", "moto", "ministack")


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of already sorted values.

    >>> percentile([1.0, 2.0, 3.0, 4.0], 0.5), percentile([1.0, 2.0, 3.0, 4.0], 0.99)
    (2.0, 4.0)
    """
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def can_pin() -> bool:
    return shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2


def version_of(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


@dataclass
class Server:
    name: str
    command: list[str]
    health_path: str
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, workdir: Path, pin: bool) -> None:
        self.log_path = workdir / f"{self.name}.log"
        command = (["taskset", "-c", SERVER_CPU] if pin else []) + self.command
        with self.log_path.open("wb") as log:
            # Own session: a Ctrl-C at the terminal reaches only this script, which stops the
            # server itself (and the whole process group, should the server have children).
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**clean_environment(), **self.env},
                start_new_session=True,
            )
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"exited with status {self.process.returncode}: {self.log_tail()}")
            if self.answers():
                return
            time.sleep(0.2)
        raise RuntimeError(f"did not answer {self.health_path} within {READY_TIMEOUT_SECONDS:g} s")

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.endpoint + self.health_path, timeout=2) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def log_tail(self, lines: int = 15) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        text = self.log_path.read_text(errors="replace").strip().splitlines()
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT_SECONDS), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=wait)
                return


def clean_environment() -> dict[str, str]:
    """The servers' environment: no user ECSBOX_* settings (strict keys would reject our requests)."""
    return {name: value for name, value in os.environ.items() if not name.startswith("ECSBOX_")}


def make_server(name: str, workdir: Path) -> Server:
    port = free_port()
    python = sys.executable
    if name == "ecsbox":
        data_dir = workdir / "ecsbox-data"
        command = [python, "-m", "ecsbox", "up", "--port", str(port), "--data-dir", str(data_dir)]
        return Server(name, command, "/_ecsbox/health", port=port)
    if name == "moto":
        command = [python, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
        return Server(name, command, "/moto-api/", port=port)
    if name == "ministack":
        env = {"GATEWAY_PORT": str(port), "BIND_HOST": "127.0.0.1", "LOG_LEVEL": "WARNING"}
        return Server(name, [python, "-m", "ministack"], "/_ministack/health", env=env, port=port)
    raise ValueError(name)


def missing_dependency(name: str) -> str | None:
    distribution = {"ecsbox": "ecsbox", "moto": "moto", "ministack": "ministack"}[name]
    if version_of(distribution) is None:
        return f"{distribution} is not installed: pip install -e '.[bench]'"
    return None


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def host_busy_s() -> float:
    """CPU seconds the whole machine has been busy (every process: other users' included)."""
    with open("/proc/stat") as stat:
        fields = [int(x) for x in stat.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def print_report(document: dict[str, Any], flags: list[str], interrupted: bool, out: Path | None) -> int:
    """The end of every benchmark: the load at the end, the flags, the JSON on stdout (and in
    ``out``); the exit status (130 when interrupted)."""
    document["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    if interrupted:
        flags.append("interrupted: results are partial")
    document["flags"] = flags
    text = json.dumps(document, indent=2)
    print(text)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
    return 130 if interrupted else 0
