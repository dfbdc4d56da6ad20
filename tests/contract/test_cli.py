"""The ``ecsbox`` command as a user runs it: the installed console script, in a subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import sysconfig
import threading
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest

import ecsbox

SUBCOMMANDS = ("up", "down", "status", "version", "prune", "interrupt", "ecr", "logs", "top")


def _ecsbox_script() -> Path:
    script = Path(sysconfig.get_path("scripts")) / ("ecsbox.exe" if os.name == "nt" else "ecsbox")
    assert script.exists(), f"the ecsbox console script is not installed at {script}"
    return script


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    # The user's own ECSBOX_* settings must not leak into what the test sees.
    env = {name: value for name, value in os.environ.items() if not name.startswith("ECSBOX_")}
    return subprocess.run(
        [str(_ecsbox_script()), *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        cwd=cwd,
    )


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port that refuses connections: bound (so nobody else takes it) but not listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def test_version_prints_ecsbox_and_botocore_versions() -> None:
    result = run("version")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"ecsbox {ecsbox.__version__}"
    assert lines[1] == f"botocore {metadata.version('botocore')}"


def test_status_without_a_server_exits_1_and_says_so(closed_port: int) -> None:
    result = run("status", "--port", str(closed_port))

    assert result.returncode == 1
    assert result.stdout == ""
    assert f"ecsbox is not running: nothing answers on 127.0.0.1:{closed_port}" in result.stderr


def test_status_reads_the_port_from_the_environment(closed_port: int) -> None:
    env = {**os.environ, "ECSBOX_PORT": str(closed_port)}
    result = subprocess.run(
        [str(_ecsbox_script()), "status"], capture_output=True, text=True, timeout=30, env=env
    )

    assert result.returncode == 1
    assert f"127.0.0.1:{closed_port}" in result.stderr


def test_help_lists_the_subcommands() -> None:
    result = run("--help")

    assert result.returncode == 0, result.stderr
    listed = {line.split()[0] for line in result.stdout.splitlines() if line.startswith("    ")}
    assert listed == set(SUBCOMMANDS)


def test_python_dash_m_ecsbox_is_the_same_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ecsbox", "version"], capture_output=True, text=True, timeout=30
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"ecsbox {ecsbox.__version__}"


def test_down_with_nothing_running_exits_0_and_says_so(tmp_path: Path) -> None:
    result = run("down", "--data-dir", str(tmp_path))

    assert result.returncode == 0, result.stderr
    assert "ecsbox is not running" in result.stdout


def test_down_removes_a_stale_pid_file_without_signalling_anyone(tmp_path: Path) -> None:
    # A pid that cannot belong to a live process (above Linux's pid_max limit of 2**22).
    pid_file = tmp_path / "ecsbox.pid"
    pid_file.write_text(f"{2**22 + 1}\n4566\n")  # the server writes its pid, then its port

    result = run("down", "--data-dir", str(tmp_path))

    assert result.returncode == 0, result.stderr
    assert "not running" in result.stdout
    assert not pid_file.exists()


def test_unknown_subcommand_is_a_usage_error() -> None:
    result = run("frobnicate")

    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_down_stops_the_process_the_pid_file_names(tmp_path: Path) -> None:
    # Stands in for a server: its command line names ecsbox, and it exits on SIGTERM.
    server = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "ecsbox-up-stand-in"])
    reaper = threading.Thread(target=server.wait)  # reaped at once, as a real server's parent would
    reaper.start()
    (tmp_path / "ecsbox.pid").write_text(f"{server.pid}\n4566\n")
    try:
        result = run("down", "--data-dir", str(tmp_path))
    finally:
        server.kill()
        reaper.join(timeout=10)

    assert result.returncode == 0, result.stderr
    assert f"ecsbox (pid {server.pid}) stopped" in result.stdout
    assert server.returncode == -15  # SIGTERM, not the SIGKILL in the finally block
    assert not (tmp_path / "ecsbox.pid").exists()
