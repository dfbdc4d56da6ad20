"""``ecsbox up`` and ``ecsbox down``: run the server in the foreground, stop a running one.

The server writes ``<data_dir>/ecsbox.pid``; ``down`` reads it, checks that the process is still an
ecsbox server (a stale file can name a pid the system has since given to something else), sends
SIGTERM and waits, then SIGKILL.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from ecsbox.config import Settings, from_env

STOP_TIMEOUT_SECONDS = 15.0
KILL_TIMEOUT_SECONDS = 5.0
POLL_SECONDS = 0.1


def _error(message: str) -> None:
    print(f"ecsbox: {message}", file=sys.stderr)


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Environment first, then only the flags that were given on the command line."""
    flags: dict[str, Any] = {
        "port": getattr(args, "port", None),
        "data_dir": Path(args.data_dir) if getattr(args, "data_dir", None) else None,
        "time_scale": getattr(args, "time_scale", None),
        "allow_reset": getattr(args, "allow_reset", None),
        "default_account_id": getattr(args, "account_id", None),
        "default_region": getattr(args, "region", None),
        "log_level": getattr(args, "log_level", None),
    }
    return from_env(**{name: value for name, value in flags.items() if value is not None})


def read_pid(pid_file: Path) -> int | None:
    """The pid on the file's first line (the server writes ``<pid>\\n<port>\\n``)."""
    try:
        lines = pid_file.read_text().split()
    except (FileNotFoundError, NotADirectoryError, PermissionError, UnicodeDecodeError):
        return None
    first = lines[0] if lines else ""
    return int(first) if first.isdigit() and int(first) > 0 else None


def read_port(pid_file: Path) -> int | None:
    """The port on the file's second line (the one the server really got, even for ``--port 0``)."""
    try:
        lines = pid_file.read_text().split()
    except (FileNotFoundError, NotADirectoryError, PermissionError, UnicodeDecodeError):
        return None
    return int(lines[1]) if len(lines) > 1 and lines[1].isdigit() else None


def post_operator(port: int, action: str, body: dict[str, Any], timeout_s: float) -> Any:
    """POST ``body`` as JSON to the running server's operator endpoint ``/_ecsbox/<action>`` on
    loopback and return the JSON it answers. No proxy: an HTTP(S)_PROXY must not intercept a
    loopback call. Raises what ``urllib`` raises (``HTTPError``, ``URLError``, ``OSError``) and
    ``ValueError`` for an answer that is not JSON."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/_ecsbox/{action}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with opener.open(request, timeout=timeout_s) as response:
        return json.load(response)


def _stop_tasks_first(port: int) -> None:
    """Ask the server to stop every task (and start none) before it is signalled to exit."""
    try:
        result = post_operator(port, "tasks/stop-all", {}, timeout_s=200)
        print(
            f"stopped {result.get('tasks_stopped', 0)} tasks"
            + (
                f"; {result['tasks_still_stopping']} still stopping"
                if result.get("tasks_still_stopping")
                else ""
            )
        )
    except (urllib.error.URLError, OSError, ValueError) as exc:
        _error(f"could not ask the server to stop its tasks ({exc}); stopping it anyway")


def is_running(pid: int) -> bool:
    """True while ``pid`` is a live process (a zombie waiting to be reaped counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, it belongs to someone else
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no procfs (macOS): the signal probe is all we have
    # "pid (comm) state ...": comm may contain spaces and parentheses, the state follows the last ")".
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def command_line(pid: int) -> str | None:
    """The process's command line, or None where the platform does not say (no procfs)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def looks_like_ecsbox(pid: int) -> bool:
    cmdline = command_line(pid)
    return cmdline is None or "ecsbox" in cmdline


def _remove_if_names(pid_file: Path, pid: int) -> None:
    if read_pid(pid_file) == pid:
        pid_file.unlink(missing_ok=True)


def _wait_for_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_running(pid):
            return True
        time.sleep(POLL_SECONDS)
    return not is_running(pid)


def up(args: argparse.Namespace) -> int:
    try:
        settings = settings_from_args(args)
    except ValueError as exc:
        _error(f"invalid setting: {exc}")
        return 2
    pid = read_pid(settings.pid_file)
    if pid is not None and pid != os.getpid() and is_running(pid) and looks_like_ecsbox(pid):
        _error(
            f"already running on {settings.data_dir} (pid {pid}); "
            f"stop it with `ecsbox down --data-dir {settings.data_dir}`"
        )
        return 1
    try:
        from ecsbox import app  # the server's dependencies load only for `up`
    except ImportError as exc:
        _error(f"cannot load the server: {exc}")
        return 1
    app.serve(settings)
    return 0


def down(args: argparse.Namespace) -> int:
    try:
        settings = settings_from_args(args)
    except ValueError as exc:
        _error(f"invalid setting: {exc}")
        return 2
    pid_file = settings.pid_file
    pid = read_pid(pid_file)
    if pid is None:
        if pid_file.exists():
            print(f"ecsbox is not running ({pid_file} holds no pid; removed it)")
            pid_file.unlink(missing_ok=True)
        else:
            print(f"ecsbox is not running (no {pid_file})")
        return 0
    if not is_running(pid):
        print(f"ecsbox is not running (pid {pid} from {pid_file} is gone; removed the stale file)")
        _remove_if_names(pid_file, pid)
        return 0
    if not looks_like_ecsbox(pid):
        print(
            f"ecsbox is not running: {pid_file} names pid {pid}, which is now another program "
            f"({command_line(pid)!r}); left it alone and removed the stale file"
        )
        _remove_if_names(pid_file, pid)
        return 0

    if getattr(args, "stop_tasks", False):
        port = read_port(pid_file)
        if port is not None:
            _stop_tasks_first(port)
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        print(f"ecsbox (pid {pid}) had already stopped")
        return 0
    except PermissionError:
        _error(f"not allowed to stop pid {pid} (it belongs to another user)")
        return 1
    started = time.monotonic()
    if _wait_for_exit(pid, args.timeout):
        _remove_if_names(pid_file, pid)  # normally the server removed it already
        print(f"ecsbox (pid {pid}) stopped in {time.monotonic() - started:.1f} s")
        return 0

    print(f"ecsbox (pid {pid}) did not stop within {args.timeout:g} s of SIGTERM; sending SIGKILL")
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if _wait_for_exit(pid, KILL_TIMEOUT_SECONDS):
        _remove_if_names(pid_file, pid)  # a killed server cannot remove its own pid file
        print(f"ecsbox (pid {pid}) killed")
        return 0
    _error(f"pid {pid} is still running after SIGKILL")
    return 1
