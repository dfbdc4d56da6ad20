"""``ecsbox status`` and ``ecsbox version``."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from importlib import metadata

from ecsbox import __version__
from ecsbox.cli.server import post_operator, settings_from_args

HEALTH_PATH = "/_ecsbox/health"
TIMEOUT_SECONDS = 2.0


def prune(args: argparse.Namespace) -> int:
    """Ask the running server to remove what its stopped tasks left (containers, pause containers)."""
    return _operator_action(args, "tasks/prune", {})


def interrupt(args: argparse.Namespace) -> int:
    """Interrupt a FARGATE_SPOT task the way AWS reclaims Spot capacity."""
    return _operator_action(args, "tasks/interrupt", {"task": args.task})


def ecr_lifecycle(args: argparse.Namespace) -> int:
    """Apply every repository's lifecycle policy now (instead of at its next 24-hour evaluation),
    then collect the blobs no image uses any more."""
    return _operator_action(args, "ecr/lifecycle", {})


def ecr_gc(args: argparse.Namespace) -> int:
    """Remove the registry's blobs that no image uses any more, and abandoned uploads."""
    return _operator_action(args, "ecr/gc", {})


def _operator_action(args: argparse.Namespace, action: str, body: dict[str, str]) -> int:
    port = settings_from_args(args).port
    try:
        answer = post_operator(port, action, body, timeout_s=60)
        print(json.dumps(answer, indent=2, sort_keys=True))
        return 0
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")
        print(f"ecsbox {action} failed: HTTP {exc.code} {detail}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        return _not_running(f"nothing answers on 127.0.0.1:{port} ({reason})")


def _not_running(message: str) -> int:
    print(f"ecsbox is not running: {message}", file=sys.stderr)
    return 1


def status(args: argparse.Namespace) -> int:
    try:
        port = settings_from_args(args).port
    except ValueError as exc:
        print(f"ecsbox: invalid setting: {exc}", file=sys.stderr)
        return 2
    url = f"http://127.0.0.1:{port}{HEALTH_PATH}"
    # No proxy: the health endpoint is on loopback, and an HTTP(S)_PROXY must not intercept it.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            body = response.read()
            healthy = True
    except urllib.error.HTTPError as exc:
        body = exc.read()  # an unhealthy server still says why, in the same JSON document
        healthy = False
        if exc.code == 404:
            return _not_running(f"something answers on 127.0.0.1:{port}, but not ecsbox (404 for {url})")
    except (urllib.error.URLError, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        return _not_running(f"nothing answers on 127.0.0.1:{port} ({reason})")
    try:
        health = json.loads(body)
    except ValueError:
        return _not_running(f"something answers on 127.0.0.1:{port}, but not ecsbox (not JSON at {url})")
    print(json.dumps(health, indent=2, sort_keys=True))
    return 0 if healthy else 1


def pinned_botocore() -> str | None:
    """The botocore version ecsbox's metadata pins (``botocore==X``): the wire's contract."""
    try:
        requirements = metadata.requires("ecsbox") or []
    except metadata.PackageNotFoundError:
        return None
    for requirement in requirements:
        name, sep, version = requirement.partition("==")
        if sep and name.strip().lower() == "botocore":
            return version.split(";")[0].strip()
    return None


def installed_version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def version(args: argparse.Namespace) -> int:
    print(f"ecsbox {__version__}")
    pinned, installed = pinned_botocore(), installed_version("botocore")
    if pinned is None:
        print(f"botocore {installed or 'not installed'} (no pin found: ecsbox is not installed)")
    elif installed != pinned:
        print(f"botocore {pinned} (pinned; installed: {installed or 'none'} - reinstall ecsbox)")
    else:
        print(f"botocore {pinned}")
    return 0
