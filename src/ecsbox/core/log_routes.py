"""Where a container's log lines go, carried in the Fluent tag Docker's fluentd log driver sends
with every record. The ECS agent writes it when it starts a container whose task definition says
``awslogs`` (or ``awsfirelens``); the log receiver reads it back. Self-describing, so the receiver
needs no lookup and a record that arrives after a restart still knows its destination.

Shared by the ECS and logs capabilities, which do not import each other; pure.

>>> route = LogRoute("awslogs", "000000000000", "us-east-1", "/ecs/web", "ecs/web/abc", "web", "abc")
>>> decode_route(encode_route(route)) == route
True
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import asdict, dataclass, field

PREFIX = "ecsbox."


@dataclass(frozen=True)
class LogRoute:
    kind: str  # "awslogs" | "firelens"
    account_id: str
    region: str
    group: str  # awslogs-group ("" for FireLens: its outputs say where)
    stream: str  # "" → the container's id, as the awslogs driver names a stream without a prefix
    container: str  # the container's name in the task definition
    task_id: str
    options: dict[str, str] = field(default_factory=dict)  # create-group, multiline, datetime-format


def encode_route(route: LogRoute) -> str:
    """The tag for ``route``: ``ecsbox.`` and URL-safe base64 of its JSON."""
    raw = json.dumps(asdict(route), separators=(",", ":"), sort_keys=True).encode()
    return PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_route(tag: str) -> LogRoute | None:
    """The route a tag carries; None for a tag that is not one of ours (or is damaged)."""
    if not tag.startswith(PREFIX):
        return None
    body = tag[len(PREFIX) :]
    try:
        document = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        options = document.get("options") or {}
        return LogRoute(
            kind=str(document["kind"]),
            account_id=str(document["account_id"]),
            region=str(document["region"]),
            group=str(document["group"]),
            stream=str(document["stream"]),
            container=str(document["container"]),
            task_id=str(document["task_id"]),
            options={str(k): str(v) for k, v in options.items()},
        )
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error, UnicodeError):
        return None
