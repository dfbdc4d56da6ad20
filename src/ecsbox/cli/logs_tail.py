"""``ecsbox logs tail GROUP [--follow] [--filter PATTERN] [--since 10m]``: a log group's events,
oldest first, each line prefixed by its stream in a colour of its own, through FilterLogEvents
against the running server (as ``aws logs tail`` does).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any, TextIO

import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ecsbox.cli.server import settings_from_args

COLOURS = (31, 32, 33, 34, 35, 36, 91, 92, 93, 94, 95, 96)
_SINCE = re.compile(r"^(\d+)([smhdw])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
POLL_S = 1.0
SEEN_LIMIT = 50_000


def since_seconds(text: str) -> int:
    """``--since`` as seconds: ``since_seconds("10m")`` → 600; ``"2h"`` → 7200; ``"1w"`` → 604800."""
    match = _SINCE.match(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(
            f"--since takes a number and s, m, h, d or w (like 10m), not {text!r}"
        )
    return int(match.group(1)) * _UNIT_S[match.group(2)]


def stream_colour(stream: str) -> int:
    """A stable ANSI colour per stream name (the same stream keeps its colour across runs)."""
    return COLOURS[sum(stream.encode()) % len(COLOURS)]


def format_event(event: dict[str, Any], colour: bool) -> str:
    """``<ISO time> <stream> <message>``, the stream coloured when writing to a terminal."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(event["timestamp"] / 1000))
    stamp += f".{event['timestamp'] % 1000:03d}Z"
    stream = event.get("logStreamName", "")
    shown = f"\033[{stream_colour(stream)}m{stream}\033[0m" if colour else stream
    return f"{stamp} {shown} {event.get('message', '').rstrip(chr(10))}"


def _client(port: int, region: str) -> Any:
    session = botocore.session.get_session()
    return session.create_client(
        "logs",
        region_name=region,
        endpoint_url=f"http://localhost:{port}",
        aws_access_key_id="ecsbox",
        aws_secret_access_key="ecsbox",
        config=Config(retries={"max_attempts": 2}),
    )


def fetch(client: Any, group: str, start_ms: int, pattern: str | None) -> Iterable[dict[str, Any]]:
    """Every event of the group from ``start_ms`` on (all pages)."""
    params: dict[str, Any] = {"logGroupName": group, "startTime": start_ms}
    if pattern:
        params["filterPattern"] = pattern
    while True:
        page = client.filter_log_events(**params)
        yield from page.get("events") or []
        token = page.get("nextToken")
        if not token:
            return
        params["nextToken"] = token


def tail(
    client: Any,
    group: str,
    *,
    since_s: int,
    pattern: str | None,
    follow: bool,
    out: TextIO,
    colour: bool,
    now: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Print the events since ``since_s`` ago; with ``follow``, then new ones as they come, each
    once (events seen are remembered by id, as ``aws logs tail --follow`` does)."""
    start_ms = int((now() - since_s) * 1000)
    seen: dict[str, None] = {}
    while True:
        newest = start_ms
        for event in sorted(
            fetch(client, group, start_ms, pattern), key=lambda e: (e["timestamp"], e.get("eventId", ""))
        ):
            event_id = (
                event.get("eventId")
                or f"{event['timestamp']}:{event.get('logStreamName')}:{event.get('message')}"
            )
            if event_id in seen:
                continue
            seen[event_id] = None
            newest = max(newest, event["timestamp"])
            print(format_event(event, colour), file=out, flush=True)
        if not follow:
            return
        while len(seen) > SEEN_LIMIT:
            seen.pop(next(iter(seen)))
        start_ms = newest  # events of that same millisecond may still come: ids keep them single
        sleep(POLL_S)


def logs_tail(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    port = settings.port
    region = args.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    client = _client(port, region or settings.default_region)
    try:
        tail(
            client,
            args.group,
            since_s=args.since,
            pattern=args.filter,
            follow=args.follow,
            out=sys.stdout,
            colour=sys.stdout.isatty(),
        )
    except KeyboardInterrupt:
        return 0
    except ClientError as exc:
        error = exc.response.get("Error", {})
        print(f"ecsbox logs tail: {error.get('Code')}: {error.get('Message')}", file=sys.stderr)
        return 1
    except BotoCoreError as exc:
        print(f"ecsbox logs tail: nothing answers on localhost:{port} ({exc})", file=sys.stderr)
        return 1
    return 0
