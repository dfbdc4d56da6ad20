"""``ecsbox top``: a live terminal view of clusters, services and tasks with their CPU and memory.

It asks the running server (``POST /_ecsbox/metrics/top``, loopback) for the collector's latest
figures every few seconds and redraws. ``--once`` prints one view and exits (for pipes and scripts).

The document the server answers::

    {"clock": 1700000000.0, "resolution": 60, "clusters": [{
        "cluster": "web", "account": "000000000000", "region": "us-east-1",
        "cpu_utilization": 12.5, "memory_utilization": 30.0,
        "services": [{"service": "api", "desired": 2, "running": 2, "pending": 0,
                      "cpu_utilization": 12.5, "memory_utilization": 30.0}],
        "tasks": [{"task": "abc…", "group": "service:api", "family": "api", "revision": 3,
                   "status": "RUNNING", "cpu_used": 64.0, "cpu_reserved": 512,
                   "memory_used": 40.0, "memory_reserved": 128}]}]}

Figures are None until the collector has two samples of a task.
"""

from __future__ import annotations

import argparse
import sys
import time
import urllib.error
from typing import Any

from ecsbox.cli.server import post_operator, settings_from_args

CLEAR = "\x1b[H\x1b[2J"


def percent(value: float | None) -> str:
    """A utilization for the table: one decimal and a % sign, or "-" while unknown.

    >>> percent(200.04), percent(None), percent(0.0)
    ('200.0%', '-', '0.0%')
    """
    return "-" if value is None else f"{value:.1f}%"


def amount(used: float | None, reserved: float | None) -> str:
    """Used of reserved (CPU units or MiB): "64/512", "64/-" without a reservation, "-" unknown.

    >>> amount(64.4, 512), amount(40.0, None), amount(None, 128)
    ('64/512', '40/-', '-/128')
    """
    left = "-" if used is None else f"{used:.0f}"
    right = "-" if reserved is None else f"{reserved:.0f}"
    return f"{left}/{right}"


def render(document: dict[str, Any], width: int = 100) -> str:
    """The whole view as text: per cluster, a line for the cluster, its services and its tasks."""
    clock = document.get("clock")
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(clock)) if clock else "-"
    lines = [f"ecsbox top — {stamp} UTC (ecsbox clock), sampling every {document.get('resolution', '-')} s"]
    clusters = document.get("clusters") or []
    if not clusters:
        lines.append("")
        lines.append("no running tasks")
    for cluster in clusters:
        lines.append("")
        lines.append(
            f"CLUSTER {cluster['cluster']} ({cluster['account']} {cluster['region']})"
            f"  CPU {percent(cluster.get('cpu_utilization'))}"
            f"  MEM {percent(cluster.get('memory_utilization'))}"
        )
        services = cluster.get("services") or []
        if services:
            lines.append(
                f"  {'SERVICE':<32} {'DESIRED':>7} {'RUNNING':>7} {'PENDING':>7} {'CPU':>8} {'MEM':>8}"
            )
            for service in services:
                lines.append(
                    f"  {service['service'][:32]:<32} {service['desired']:>7} {service['running']:>7}"
                    f" {service['pending']:>7} {percent(service.get('cpu_utilization')):>8}"
                    f" {percent(service.get('memory_utilization')):>8}"
                )
        tasks = cluster.get("tasks") or []
        if tasks:
            lines.append(f"  {'TASK':<34} {'GROUP':<24} {'STATUS':<10} {'CPU units':>12} {'MEM MiB':>12}")
            for task in tasks:
                lines.append(
                    f"  {task['task'][:34]:<34} {str(task.get('group') or '')[:24]:<24}"
                    f" {task.get('status', ''):<10}"
                    f" {amount(task.get('cpu_used'), task.get('cpu_reserved')):>12}"
                    f" {amount(task.get('memory_used'), task.get('memory_reserved')):>12}"
                )
    return "\n".join(line[:width] for line in lines) + "\n"


def fetch(port: int) -> dict[str, Any]:
    document: dict[str, Any] = post_operator(port, "metrics/top", {}, timeout_s=10)
    return document


def top(args: argparse.Namespace) -> int:
    port = settings_from_args(args).port
    try:
        while True:
            try:
                document = fetch(port)
            except (urllib.error.URLError, OSError) as exc:
                print(f"ecsbox is not running on 127.0.0.1:{port} ({exc})", file=sys.stderr)
                return 1
            text = render(document)
            if args.once:
                sys.stdout.write(text)
                return 0
            sys.stdout.write(CLEAR + text)
            sys.stdout.flush()
            time.sleep(args.interval)
    except KeyboardInterrupt:
        return 0
