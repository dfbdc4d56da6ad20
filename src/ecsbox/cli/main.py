"""Argument parsing and dispatch for the ``ecsbox`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from ecsbox import __version__
from ecsbox.cli import logs_tail, server, status, top

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"not a TCP port: {text}")
    return value


def _port_or_any(text: str) -> int:
    """``up`` also takes 0: any free port (tests); the server prints and records the one it got."""
    return 0 if text.strip() == "0" else _port(text)


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir", metavar="DIR", help="state directory (default: $ECSBOX_DATA_DIR or ./.ecsbox)"
    )


def _add_port(parser: argparse.ArgumentParser, any_free: bool = False) -> None:
    parser.add_argument(
        "--port",
        type=_port_or_any if any_free else _port,
        metavar="PORT",
        help="API port (default: $ECSBOX_PORT or 4566" + ("; 0: any free port)" if any_free else ")"),
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ecsbox",
        description="The AWS container-operations stack (ECS, ECR, CloudWatch, ...) on your own machine.",
        epilog="Settings also come from ECSBOX_* environment variables; flags win over them.",
    )
    parser.add_argument("-V", "--version", action="version", version=f"ecsbox {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    up = commands.add_parser("up", help="run the server in the foreground (Ctrl-C stops it)")
    _add_port(up, any_free=True)
    _add_data_dir(up)
    up.add_argument(
        "--time-scale",
        type=_positive_float,
        metavar="N",
        help="run ecsbox's clock N times faster than the wall clock (default: 1)",
    )
    up.add_argument(
        "--allow-reset",
        action="store_true",
        default=None,
        help="enable POST /_ecsbox/state/reset (for tests)",
    )
    up.add_argument("--account-id", metavar="ID", help="default account id (default: 000000000000)")
    up.add_argument("--region", metavar="REGION", help="default region (default: us-east-1)")
    up.add_argument("--log-level", choices=LOG_LEVELS, type=str.lower, help="default: info")
    up.set_defaults(handler=server.up)

    down = commands.add_parser("down", help="stop the server running on a data directory")
    _add_data_dir(down)
    down.add_argument(
        "--timeout",
        type=_positive_float,
        default=server.STOP_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help=f"how long to wait after SIGTERM before SIGKILL (default: {server.STOP_TIMEOUT_SECONDS:g})",
    )
    down.add_argument(
        "--stop-tasks",
        action="store_true",
        help="stop every task first (by default tasks keep running and the next `up` adopts them)",
    )
    down.set_defaults(handler=server.down)

    status_parser = commands.add_parser("status", help="ask a running server for its health")
    _add_port(status_parser)
    status_parser.set_defaults(handler=status.status)

    prune_parser = commands.add_parser("prune", help="remove the containers stopped tasks left behind")
    _add_port(prune_parser)
    prune_parser.set_defaults(handler=status.prune)

    interrupt_parser = commands.add_parser(
        "interrupt", help="interrupt a FARGATE_SPOT task as AWS reclaims Spot"
    )
    interrupt_parser.add_argument("task", metavar="TASK_ARN")
    _add_port(interrupt_parser)
    interrupt_parser.set_defaults(handler=status.interrupt)

    ecr_parser = commands.add_parser("ecr", help="the registry's housekeeping, now")
    ecr_commands = ecr_parser.add_subparsers(dest="ecr_command", required=True)
    lifecycle_parser = ecr_commands.add_parser(
        "lifecycle", help="apply every repository's lifecycle policy now, then collect garbage"
    )
    _add_port(lifecycle_parser)
    lifecycle_parser.set_defaults(handler=status.ecr_lifecycle)
    gc_parser = ecr_commands.add_parser("gc", help="remove blobs no image uses and abandoned uploads")
    _add_port(gc_parser)
    gc_parser.set_defaults(handler=status.ecr_gc)

    logs_parser = commands.add_parser("logs", help="read CloudWatch Logs")
    logs_commands = logs_parser.add_subparsers(dest="logs_command", required=True)
    tail_parser = logs_commands.add_parser(
        "tail", help="a log group's events, a colour per stream (--follow: and new ones as they come)"
    )
    tail_parser.add_argument("group", metavar="GROUP")
    tail_parser.add_argument("-f", "--follow", action="store_true", help="keep printing new events")
    tail_parser.add_argument("--filter", metavar="PATTERN", help="a CloudWatch Logs filter pattern")
    tail_parser.add_argument(
        "--since",
        type=logs_tail.since_seconds,
        default=600,
        metavar="AGE",
        help="how far back: 30s, 10m (default), 2h, 1d",
    )
    tail_parser.add_argument(
        "--region", help="the group's region (default: $AWS_REGION, $AWS_DEFAULT_REGION, us-east-1)"
    )
    _add_port(tail_parser)
    tail_parser.set_defaults(handler=logs_tail.logs_tail)

    top_parser = commands.add_parser("top", help="live CPU and memory of clusters, services and tasks")
    top_parser.add_argument(
        "--interval", type=_positive_float, default=2.0, metavar="SECONDS", help="refresh every (default 2)"
    )
    top_parser.add_argument("--once", action="store_true", help="print one view and exit")
    _add_port(top_parser)
    top_parser.set_defaults(handler=top.top)

    version = commands.add_parser("version", help="print the ecsbox and pinned botocore versions")
    version.set_defaults(handler=status.version)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `ecsbox status | head -1`: the reader went away; nothing left to say.
        sys.stderr.close()
        return 1
