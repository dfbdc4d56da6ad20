"""Control-plane API throughput and latency: ecsbox against peer emulators, measured in the same run.

Operations: DescribeClusters, ListTaskDefinitions (``familyPrefix`` of a family with 1,000 revisions
registered first) and RegisterTaskDefinition, measured in that order so that the revisions the last
one registers do not weigh on the others.

Servers, one at a time, each pinned to CPU 0 with ``taskset`` (the client runs on CPU 1):

- ecsbox     ``python -m ecsbox up --port P --data-dir TMP``
- moto       ``python -m moto.server -H 127.0.0.1 -p P``     (``pip install -e '.[bench]'``)
- ministack  ``GATEWAY_PORT=P BIND_HOST=127.0.0.1 python -m ministack``

Two modes per operation:

- ``sequential``: one boto3 client in one thread, ``--calls`` calls after ``--warmup`` calls;
  per-call latency from ``perf_counter``; retries off, so every failed call counts as an error.
- ``wrk``: server capacity under ``wrk`` (Debian's package) pinned to CPU 1, ``--connections``
  connections for ``--duration`` seconds, replaying one request pre-signed with botocore's SigV4
  (each replayed RegisterTaskDefinition registers a new revision).

Prints one JSON document: per server, operation and mode, calls/s, p50 and p99 (ms) and errors;
``ratios`` = ecsbox calls/s / the peer's; ``vs_faster_peer`` = ecsbox against the faster peer. A
run with errors (non-2xx responses, socket errors, failed calls) is flagged and gets no ratio.

    python benchmarks/api.py                       # everything, about 3 minutes
    python benchmarks/api.py --only ecsbox --duration 5 --out benchmarks/out/api.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness import (
    CLIENT_CPU,
    SERVER_CPU,
    SERVERS,
    Server,
    can_pin,
    make_server,
    missing_dependency,
    percentile,
    rounded,
    sigterm_as_interrupt,
    version_of,
)
from wrk import SignedRequest, ensure_wrk, run_wrk, sign_json_request, wrk_version

PEERS = ("moto", "ministack")
# Measured in this order, each in both modes before the next: RegisterTaskDefinition comes last, so
# the revisions it registers (tens of thousands under wrk) never weigh on the other two.
OPERATIONS = ("DescribeClusters", "ListTaskDefinitions", "RegisterTaskDefinition")
MODES = ("sequential", "wrk")

REGION = "us-east-1"
ACCESS_KEY_ID = "AKIAECSBOXBENCH00001"
SECRET_ACCESS_KEY = "ecsbox-benchmark-secret-access-key-0001"
TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113"
CLUSTER = "bench"
LIST_FAMILY = "bench-list"
REGISTER_FAMILY = "bench-register"

SEQUENTIAL_TIME_LIMIT_SECONDS = 120.0  # per operation: a slow server cannot stall the run
SETUP_TIME_LIMIT_SECONDS = 300.0


def request_params(operation: str) -> dict[str, Any]:
    """The boto3 parameters of each measured call (the wrk mode sends the same, as JSON)."""
    if operation == "DescribeClusters":
        return {"clusters": [CLUSTER]}
    if operation == "RegisterTaskDefinition":
        return task_definition(REGISTER_FAMILY)
    if operation == "ListTaskDefinitions":
        return {"familyPrefix": LIST_FAMILY}
    raise ValueError(operation)


def task_definition(family: str) -> dict[str, Any]:
    return {
        "family": family,
        "containerDefinitions": [
            {
                "name": "app",
                "image": "public.ecr.aws/docker/library/busybox:latest",
                "memory": 128,
                "cpu": 64,
                "essential": True,
                "command": ["sleep", "3600"],
                "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
                "environment": [{"name": "MODE", "value": "bench"}],
            }
        ],
        "requiresCompatibilities": ["EC2"],
    }


def snake(operation: str) -> str:
    """``RegisterTaskDefinition`` -> ``register_task_definition``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()


# --- sequential mode: one boto3 client, one thread ---------------------------------------------


def ecs_client(endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "ecs",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=30),
    )


def prepare(client: Any, revisions: int) -> None:
    """The state the measured calls need: a cluster, and ``revisions`` revisions of one family."""
    client.create_cluster(clusterName=CLUSTER)
    definition = task_definition(LIST_FAMILY)
    deadline = time.monotonic() + SETUP_TIME_LIMIT_SECONDS
    for registered in range(revisions):
        if time.monotonic() > deadline:
            raise RuntimeError(f"registered only {registered} of {revisions} revisions in time")
        client.register_task_definition(**definition)


def check_answers(client: Any, revisions: int) -> dict[str, str]:
    """What the measured calls answer, where it differs from AWS (a different answer is different work).

    Raises when the answer is plainly wrong; returns {operation: how it differs} otherwise.
    """
    clusters = client.describe_clusters(**request_params("DescribeClusters"))["clusters"]
    if [cluster.get("clusterName") for cluster in clusters] != [CLUSTER]:
        raise RuntimeError(f"DescribeClusters did not return cluster {CLUSTER!r}: {clusters}")
    divergences: dict[str, str] = {}
    page = client.list_task_definitions(**request_params("ListTaskDefinitions"))
    arns = page["taskDefinitionArns"]
    if not arns or not all(f"/{LIST_FAMILY}:" in arn for arn in arns):
        raise RuntimeError(f"ListTaskDefinitions did not list {LIST_FAMILY}: {arns[:3]}")
    expected = min(revisions, 100)  # AWS: up to 100 per page without maxResults, then nextToken
    if len(arns) != expected or bool(page.get("nextToken")) != (revisions > 100):
        divergences["ListTaskDefinitions"] = (
            f"returned {len(arns)} ARNs{' and a nextToken' if page.get('nextToken') else ', no nextToken'}; "
            f"AWS returns the first page of {expected}{' and a nextToken' if revisions > 100 else ''}"
        )
    return divergences


def run_sequential(client: Any, operation: str, calls: int, warmup: int) -> dict[str, Any]:
    call: Callable[..., Any] = getattr(client, snake(operation))
    params = request_params(operation)
    for _ in range(warmup):
        with contextlib.suppress(Exception):
            call(**params)
    latencies_ms: list[float] = []
    errors: dict[str, int] = {}
    started = time.perf_counter()
    deadline = started + SEQUENTIAL_TIME_LIMIT_SECONDS
    attempted = 0
    while attempted < calls and time.perf_counter() < deadline:
        attempted += 1
        before = time.perf_counter()
        try:
            call(**params)
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code") or type(exc).__name__
            errors[code] = errors.get(code, 0) + 1
        else:
            latencies_ms.append((time.perf_counter() - before) * 1000)
    elapsed = time.perf_counter() - started
    latencies_ms.sort()
    result: dict[str, Any] = {
        "calls_per_s": rounded(len(latencies_ms) / elapsed, 1),
        "p50_ms": rounded(percentile(latencies_ms, 0.50)),
        "p99_ms": rounded(percentile(latencies_ms, 0.99)),
        "errors": sum(errors.values()),
        "calls": attempted,
        "seconds": rounded(elapsed, 2),
    }
    if errors:
        result["error_codes"] = errors
    if attempted < calls:
        result["note"] = f"stopped after {SEQUENTIAL_TIME_LIMIT_SECONDS:g} s"
    return result


# --- wrk mode: a pre-signed request, replayed (see wrk.py) -------------------------------------


def signed_request(endpoint: str, operation: str) -> SignedRequest:
    body = json.dumps(request_params(operation), separators=(",", ":"))
    target = f"{TARGET_PREFIX}.{operation}"
    return sign_json_request(endpoint, "ecs", target, body, REGION, ACCESS_KEY_ID, SECRET_ACCESS_KEY)


# --- the run -----------------------------------------------------------------------------------


def flagged_reason(result: dict[str, Any] | None) -> str | None:
    if result is None:
        return "not measured"
    if result.get("calls_per_s") in (None, 0):
        return "no successful calls"
    if result.get("errors"):
        return f"{result['errors']} errors"
    return None


def compare(servers: dict[str, Any], peers: list[str]) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """ecsbox's calls/s divided by each peer's; None where either run was flagged."""
    ratios: dict[str, Any] = {}
    vs_faster: dict[str, Any] = {}
    flags: list[str] = []

    def result(server: str, operation: str, mode: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = servers.get(server, {}).get("results", {}).get(operation, {}).get(mode)
        return found

    for server, report in servers.items():
        for operation in OPERATIONS:
            for mode in MODES:
                measured = result(server, operation, mode)
                reason = flagged_reason(measured)
                if reason is None and operation in report.get("divergences", {}):
                    reason = f"answers unlike AWS ({report['divergences'][operation]})"
                if measured is not None and reason is not None:
                    measured["flagged"] = reason
                    flags.append(f"{server} {operation} {mode}: {reason}")
    for peer in peers:
        ratios[peer] = {}
        for operation in OPERATIONS:
            ratios[peer][operation] = {}
            for mode in MODES:
                ours, theirs = result("ecsbox", operation, mode), result(peer, operation, mode)
                usable = ours and theirs and not ours.get("flagged") and not theirs.get("flagged")
                ratios[peer][operation][mode] = (
                    round(ours["calls_per_s"] / theirs["calls_per_s"], 3) if usable else None  # type: ignore[index]
                )
    for operation in OPERATIONS:
        vs_faster[operation] = {}
        for mode in MODES:
            candidates = [
                (theirs["calls_per_s"], peer)
                for peer in peers
                if (theirs := result(peer, operation, mode)) and not theirs.get("flagged")
            ]
            ours = result("ecsbox", operation, mode)
            if not candidates or not ours or ours.get("flagged"):
                vs_faster[operation][mode] = None
                continue
            fastest, peer = max(candidates)
            vs_faster[operation][mode] = {"peer": peer, "ratio": round(ours["calls_per_s"] / fastest, 3)}
    return ratios, vs_faster, flags


def measure_server(
    name: str,
    report: dict[str, Any],
    args: argparse.Namespace,
    workdir: Path,
    pin: bool,
    wrk_missing: str | None,
    started: list[Server],
) -> None:
    """Fills ``report`` as it goes, so an interrupted run keeps what was measured."""
    report["version"] = version_of(name)
    if missing := missing_dependency(name):
        report["error"] = missing
        return
    server = make_server(name, workdir)
    started.append(server)
    report["command"] = server.command
    print(f"[{name}] starting on port {server.port}", file=sys.stderr)
    try:
        server.start(workdir, pin)
        client = ecs_client(server.endpoint)
        print(f"[{name}] registering {args.revisions} revisions of {LIST_FAMILY}", file=sys.stderr)
        prepare(client, args.revisions)
        if divergences := check_answers(client, args.revisions):
            report["divergences"] = divergences
        results: dict[str, Any] = {}
        report["results"] = results
        for operation in OPERATIONS:
            print(f"[{name}] {operation}: sequential", file=sys.stderr)
            results[operation] = {"sequential": run_sequential(client, operation, args.calls, args.warmup)}
            if wrk_missing:
                continue
            print(f"[{name}] {operation}: wrk {args.duration} s", file=sys.stderr)
            request = signed_request(server.endpoint, operation)
            results[operation]["wrk"] = run_wrk(
                request, operation, args.duration, args.connections, workdir, pin
            )
            if name == "ecsbox":  # ecsbox reports how late its event loop ran during the load
                results[operation]["wrk"]["event_loop_lag"] = event_loop_lag(server.endpoint)
    except Exception as exc:  # one server failing must not lose the others' numbers
        report["error"] = f"{type(exc).__name__}: {exc}"
        if tail := server.log_tail():
            report["log_tail"] = tail
    finally:
        server.stop()


def event_loop_lag(endpoint: str) -> dict[str, Any] | None:
    """ecsbox's own event-loop lag summary (its last ~10 s), from ``/_ecsbox/health``."""
    try:
        with urllib.request.urlopen(f"{endpoint}/_ecsbox/health", timeout=5) as response:
            lag: dict[str, Any] | None = json.load(response).get("event_loop_lag")
            return lag
    except OSError:
        return None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds of wrk per operation (10)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    parser.add_argument("--calls", type=int, default=500, help="sequential calls per operation (500)")
    parser.add_argument("--warmup", type=int, default=50, help="sequential warm-up calls (50)")
    parser.add_argument("--revisions", type=int, default=1000, help="revisions registered first (1000)")
    parser.add_argument(
        "--only", default=",".join(SERVERS), help="comma-separated servers to run (default: all)"
    )
    parser.add_argument("--out", type=Path, help="also write the JSON document to this file")
    args = parser.parse_args(argv)
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    if unknown := set(args.only) - set(SERVERS):
        parser.error(f"unknown server(s) {sorted(unknown)}; choose from {', '.join(SERVERS)}")
    for option in ("duration", "connections", "calls", "revisions"):
        if getattr(args, option) < 1:
            parser.error(f"--{option} must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Loopback only: a proxy from the environment must not carry our requests anywhere.
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
    pin = can_pin()
    if pin:
        os.sched_setaffinity(0, {int(CLIENT_CPU)})  # the boto3 client stays off the server's CPU
    wrk_missing = ensure_wrk()
    document: dict[str, Any] = {
        "benchmark": "api",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "pinned": {"server_cpu": SERVER_CPU, "client_cpu": CLIENT_CPU} if pin else None,
            "wrk": None if wrk_missing else wrk_version(),
        },
        "settings": {
            "region": REGION,
            "sequential_calls": args.calls,
            "warmup_calls": args.warmup,
            "wrk_duration_s": args.duration,
            "wrk_connections": args.connections,
            "list_family_revisions": args.revisions,
        },
        "servers": {},
    }
    started: list[Server] = []
    interrupted = False
    with sigterm_as_interrupt(), tempfile.TemporaryDirectory(prefix="ecsbox-bench-") as tmp:
        try:
            for name in args.only:
                document["servers"][name] = {}
                measure_server(name, document["servers"][name], args, Path(tmp), pin, wrk_missing, started)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            for server in started:
                server.stop()
    peers = [name for name in args.only if name in PEERS]
    ratios, vs_faster, flags = compare(document["servers"], peers)
    if "ecsbox" not in args.only:
        flags.append("ecsbox not measured: no ratios")
    if wrk_missing:
        flags.append(f"wrk mode skipped: {wrk_missing}")
    if not pin:
        flags.append("not pinned: taskset or a second CPU is missing; server and client share CPUs")
    if interrupted:
        flags.append("interrupted: results are partial")
    for name, report in document["servers"].items():
        if report.get("error"):
            flags.append(f"{name}: {report['error']}")
    document.update(ratios=ratios, vs_faster_peer=vs_faster, flags=flags)
    text = json.dumps(document, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
