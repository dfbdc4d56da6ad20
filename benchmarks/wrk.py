"""Server capacity under ``wrk``: one pre-signed AWS request replayed over many connections.

wrk (Debian's package) runs pinned to CLIENT_CPU with one thread; its text report is parsed into
calls/s, p50/p99 and errors (non-2xx responses plus socket errors).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import CLIENT_CPU, rounded


@dataclass(frozen=True)
class SignedRequest:
    url: str
    body: str
    headers: dict[str, str]


def sign_json_request(
    endpoint: str, service: str, target: str, body: str, region: str, access_key_id: str, secret: str
) -> SignedRequest:
    """One AWS JSON 1.1 request, signed once by botocore (valid for AWS's 15 minutes of clock skew)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(
        method="POST",
        url=endpoint + "/",
        data=body.encode(),
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target},
    )
    SigV4Auth(Credentials(access_key_id, secret), service, region).add_auth(request)
    headers = {name: str(value) for name, value in request.headers.items()}
    return SignedRequest(endpoint + "/", body, headers)


def lua_string(text: str) -> str:
    """A Lua long-bracket literal that holds ``text`` unchanged.

    >>> lua_string('a"]]b')
    '[=[a"]]b]=]'
    """
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    return f"[{'=' * level}[{text}]{'=' * level}]"


def wrk_script(request: SignedRequest) -> str:
    lines = ['wrk.method = "POST"', f"wrk.body = {lua_string(request.body)}"]
    for name, value in request.headers.items():
        if name.lower() not in {"host", "content-length"}:  # wrk writes these itself
            # Spaces matter: `[[[` would open a long string, not index with one.
            lines.append(f"wrk.headers[ {lua_string(name)} ] = {lua_string(value)}")
    return "\n".join(lines) + "\n"


def probe(request: SignedRequest) -> tuple[int, str]:
    """Send the pre-signed request once, so a rejected signature shows up before wrk runs."""
    http_request = urllib.request.Request(
        request.url, data=request.body.encode(), headers=request.headers, method="POST"
    )
    try:
        with urllib.request.urlopen(http_request, timeout=30) as response:
            return response.status, ""
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()[:300].decode(errors="replace")


_DURATION = re.compile(r"^([\d.]+)(us|ms|s|m|h)$")
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def wrk_milliseconds(text: str) -> float | None:
    """wrk's latency notation in milliseconds.

    >>> wrk_milliseconds("812.00us"), wrk_milliseconds("4.20ms"), wrk_milliseconds("1.50s")
    (0.812, 4.2, 1500.0)
    """
    match = _DURATION.match(text.strip())
    return float(match.group(1)) * _UNIT_MS[match.group(2)] if match else None


def parse_wrk(output: str) -> dict[str, Any]:
    def number(pattern: str) -> float | None:
        match = re.search(pattern, output, re.MULTILINE)
        return float(match.group(1)) if match else None

    percentiles = dict(re.findall(r"^\s+(50|99)(?:\.0+)?%\s+(\S+)\s*$", output, re.MULTILINE))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    sockets = (
        dict(zip(("connect", "read", "write", "timeout"), map(int, socket_errors.groups()), strict=True))
        if socket_errors
        else {}
    )
    non_2xx = int(number(r"Non-2xx or 3xx responses:\s+(\d+)") or 0)
    result: dict[str, Any] = {
        "calls_per_s": number(r"^Requests/sec:\s+([\d.]+)"),
        "p50_ms": rounded(wrk_milliseconds(percentiles.get("50", ""))),
        "p99_ms": rounded(wrk_milliseconds(percentiles.get("99", ""))),
        "errors": non_2xx + sum(sockets.values()),
        "non_2xx": non_2xx,
        "requests": int(number(r"^\s+(\d+) requests in") or 0),
    }
    if sockets and any(sockets.values()):
        result["socket_errors"] = sockets
    return result


def failed_run(**why: Any) -> dict[str, Any]:
    return {"calls_per_s": None, "p50_ms": None, "p99_ms": None, "errors": 1, **why}


def run_wrk(
    request: SignedRequest, name: str, duration: int, connections: int, workdir: Path, pin: bool
) -> dict[str, Any]:
    """``connections`` connections for ``duration`` seconds replaying ``request``; wrk on CLIENT_CPU."""
    status, body = probe(request)
    if status != 200:
        return failed_run(probe={"status": status, "body": body})
    script = workdir / f"{name}.lua"
    script.write_text(wrk_script(request))
    command = ["taskset", "-c", CLIENT_CPU] if pin else []
    command += ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "10s"]
    command += ["-s", str(script), request.url]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60)
    # wrk reports a broken script on stderr and then carries on with plain GETs: never a result.
    if completed.returncode != 0 or completed.stderr.strip():
        return failed_run(wrk_error=completed.stderr.strip()[-300:] or f"exit status {completed.returncode}")
    return parse_wrk(completed.stdout)


def wrk_version() -> str:
    completed = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    return (completed.stdout or completed.stderr).strip().splitlines()[0]


def ensure_wrk() -> str | None:
    """None when wrk is there (installing Debian's package as root when it is not), else why not."""
    if shutil.which("wrk"):
        return None
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing wrk (apt-get install -y wrk)", file=sys.stderr)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "wrk"]):
            subprocess.run(command, env=env, stdout=subprocess.DEVNULL, check=False, timeout=600)
        if shutil.which("wrk"):
            return None
    return "wrk is not installed (Debian/Ubuntu: apt-get install -y wrk; macOS: brew install wrk)"
