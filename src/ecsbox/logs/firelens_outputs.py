"""FireLens outputs: where the records :mod:`ecsbox.logs.firelens` routes are written, and the
:class:`Router` a task's Forward records go through.

- ``cloudwatch_logs`` (and the older Go plugin's name, ``cloudwatch``): ``region``,
  ``log_group_name`` or ``log_group_template``, ``log_stream_name`` / ``log_stream_prefix`` + tag or
  ``log_stream_template``, ``log_key``, ``auto_create_group``; events go through the ``deliver``
  callable the caller passes (``LogIngest.deliver`` bound to the task's account). The message is the
  record as JSON, or with ``log_key`` that key's value (a string as it is). A group that does not
  exist without ``auto_create_group`` is what Fluent Bit meets too: the events are dropped, and
  said so once. Any other failure propagates, so the Forward receiver does not acknowledge.
- ``file``: ``Path`` / ``File`` (default: the tag), one line per record in Fluent Bit's ``out_file``
  format ``tag: [seconds.nanoseconds, {json}]``, or ``Format plain`` (the JSON) or
  ``Format template`` (``Template``, default ``{time} {message}``); ``Mkdir`` creates the
  directory. ``host_path`` maps a path in the router container to one ecsbox writes.
- ``http``: ``Host``, ``Port``, ``URI``, ``Format`` json / json_lines / json_stream / msgpack,
  ``Header``, ``header_tag``, ``http_User`` / ``http_Passwd``, ``json_date_key`` /
  ``json_date_format``, ``compress gzip``, ``tls``: one POST per tag of a chunk; ``http_address``
  decides where a Host:Port is reached from ecsbox (or refuses it).
- ``stdout``: each record on ecsbox's log at INFO; ``null``: nothing.

Failures of ``file``, ``http`` and ``stdout`` are logged and the records dropped, as Fluent Bit does
once its retries are spent; cloudwatch outputs are written first, so a storage failure stops a
chunk before anything else has written it.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import logging
import posixpath
import re
import ssl
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import msgpack
import orjson

from ecsbox.logs.firelens import (
    MISSING,
    Emission,
    Entry,
    FireLensConfigError,
    FluentBitConfig,
    OutputSpec,
    Pipeline,
    Record,
    as_text,
    build_pipeline,
    lookup,
    parse_accessor,
    parse_template,
    translate,
)
from ecsbox.logs.model import LogsRuleError

log = logging.getLogger("ecsbox.logs.firelens")

HTTP_TIMEOUT_S = 10.0  # Fluent Bit's net.connect_timeout
GO_DEFAULT_GROUP = "fluentbit-default"
GO_DEFAULT_STREAM = "/fluentbit-default"


class CloudWatchDeliver(Protocol):
    async def __call__(
        self, region: str, group: str, stream: str, events: Sequence[tuple[int, str]], create_group: bool
    ) -> None:
        """Store ``events`` ((timestamp ms, message)) in ``region``'s ``group`` / ``stream``."""


def record_json(record: Any) -> str:
    """A record as Fluent Bit's JSON: compact, keys in the record's order."""
    try:
        return orjson.dumps(record, default=_json_default, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:  # integers beyond 64 bits
        return json.dumps(record, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, msgpack.ExtType):
        return value.data.hex()
    return str(value)


def split_time(time: float) -> tuple[int, int]:
    """(seconds, nanoseconds), to the microsecond a float of today's epoch still holds.

    >>> split_time(1700000000.25)
    (1700000000, 250000000)
    """
    seconds = int(time // 1)
    micros = round((time - seconds) * 1_000_000)
    if micros >= 1_000_000:
        seconds, micros = seconds + 1, micros - 1_000_000
    return seconds, micros * 1000


def out_file_line(tag: str, time: float, record: Record) -> str:
    """Fluent Bit's default ``out_file`` line.

    >>> out_file_line("app-firelens-t1", 1700000000.5, {"log": "hi"})
    'app-firelens-t1: [1700000000.500000000, {"log":"hi"}]'
    """
    seconds, nanos = split_time(time)
    return f"{tag}: [{seconds}.{nanos:09d}, {record_json(record)}]"


_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def template_line(template: str, time: float, record: Record) -> str:
    """``Format template``: ``{time}`` is the time as ``%f``, ``{key}`` a record value; a
    placeholder with no such key stays as it is.

    >>> template_line("{time} {log}", 1.5, {"log": "hi"})
    '1.500000 hi'
    """

    def fill(placeholder: re.Match[str]) -> str:
        key = placeholder[1]
        if key == "time":
            return f"{time:f}"
        if key not in record:
            return placeholder[0]
        value = record[key]
        return value if isinstance(value, str) else record_json(value)

    return _PLACEHOLDER.sub(fill, template)


def date_value(time: float, date_format: str) -> Any:
    """``json_date_format``: double (default), epoch, epoch_ms, iso8601, java_sql_timestamp.

    >>> date_value(0.25, "iso8601")
    '1970-01-01T00:00:00.250000Z'
    """
    seconds, nanos = split_time(time)
    if date_format == "epoch":
        return seconds
    if date_format == "epoch_ms":
        return seconds * 1000 + nanos // 1_000_000
    if date_format in ("iso8601", "java_sql_timestamp"):
        stamp = datetime.fromtimestamp(seconds, UTC)
        layout = "%Y-%m-%dT%H:%M:%S" if date_format == "iso8601" else "%Y-%m-%d %H:%M:%S"
        return f"{stamp.strftime(layout)}.{nanos // 1000:06d}" + ("Z" if date_format == "iso8601" else "")
    return time


def http_body(
    form: str, entries: Sequence[tuple[float, Record]], date_key: str | None, date_format: str
) -> tuple[bytes, str]:
    """The POST body and its Content-Type for ``Format`` json / json_lines / json_stream / msgpack."""
    if form == "msgpack":
        packer = msgpack.Packer()
        chunks = []
        for time, record in entries:
            seconds, nanos = split_time(time)
            event_time = msgpack.ExtType(0, struct.pack(">II", seconds, nanos))
            chunks.append(packer.pack([event_time, record]))
        return b"".join(chunks), "application/msgpack"
    objects = [
        record_json({date_key: date_value(time, date_format), **record} if date_key else record)
        for time, record in entries
    ]
    if form == "json":
        return ("[" + ",".join(objects) + "]").encode(), "application/json"
    if form == "json_lines":
        return "".join(line + "\n" for line in objects).encode(), "application/x-ndjson"
    return "".join(objects).encode(), "application/stream+json"


# --- Outputs ---------------------------------------------------------------------------------------


class Output:
    """One output instance. ``stores``: its failures must stop the chunk's acknowledgement."""

    stores = False

    def __init__(self, spec: OutputSpec) -> None:
        self.spec = spec

    async def write(self, batch: Sequence[Emission]) -> None:
        return None


class StdoutOutput(Output):
    async def write(self, batch: Sequence[Emission]) -> None:
        for number, emission in enumerate(batch):
            seconds, nanos = split_time(emission.time)
            log.info(
                "event=firelens_stdout line=[%d] %s: [%d.%09d, %s]",
                number,
                emission.tag,
                seconds,
                nanos,
                record_json(emission.record),
            )


class CloudWatchOutput(Output):
    stores = True

    def __init__(self, spec: OutputSpec, deliver: CloudWatchDeliver, metadata: Mapping[str, str]) -> None:
        super().__init__(spec)
        self.deliver = deliver
        self.metadata = metadata
        self.region = spec.option("region") or ""
        self.group = spec.option("log_group_name") or ""
        self.stream_name = spec.option("log_stream_name")
        self.stream_prefix = spec.option("log_stream_prefix") or ""
        self.log_key = parse_accessor(key) if (key := spec.option("log_key")) else None
        self.create_group = spec.flag("auto_create_group")
        self.go_plugin = spec.plugin == "cloudwatch"
        group_template, stream_template = (
            spec.option("log_group_template"),
            spec.option("log_stream_template"),
        )
        self.group_template = parse_template(group_template) if group_template else None
        self.stream_template = parse_template(stream_template) if stream_template else None
        self._warned: set[str] = set()

    def destination(self, tag: str, record: Record) -> tuple[str, str]:
        stream = self.stream_name if self.stream_name is not None else self.stream_prefix + tag
        if self.go_plugin:
            group = go_template(self.group, tag, record, self.metadata)
            return (
                group or self.spec.option("default_log_group_name") or GO_DEFAULT_GROUP,
                go_template(stream, tag, record, self.metadata)
                or self.spec.option("default_log_stream_name")
                or GO_DEFAULT_STREAM,
            )
        group = self.group
        if self.group_template is not None:
            text, found = translate(self.group_template, tag, record)
            group = text if found and text else group
        if self.stream_template is not None:
            text, found = translate(self.stream_template, tag, record)
            stream = text if found and text else stream
        return group, stream

    def message(self, record: Record) -> str | None:
        if self.log_key is None:
            return record_json(record)
        value = lookup(record, self.log_key)
        if isinstance(value, str):
            return value
        if isinstance(value, bytes):
            return value.decode("utf-8", "replace")
        return None if value is MISSING else record_json(value)

    async def write(self, batch: Sequence[Emission]) -> None:
        by_stream: dict[tuple[str, str], list[tuple[int, str]]] = {}
        for emission in batch:
            message = self.message(emission.record)
            if not message:
                continue
            key = self.destination(emission.tag, emission.record)
            by_stream.setdefault(key, []).append((int(emission.time * 1000), message))
        for (group, stream), events in by_stream.items():
            try:
                await self.deliver(self.region, group, stream, events, self.create_group)
            except LogsRuleError as refused:
                if f"{group}/{stream}" not in self._warned:
                    self._warned.add(f"{group}/{stream}")
                    log.warning(
                        "event=firelens_cloudwatch_dropped output=%s group=%s stream=%s reason=%s",
                        self.spec.origin,
                        group,
                        stream,
                        refused.message,
                    )


_GO_VARIABLE = re.compile(r"\$\(([^)]*)\)")


def go_template(text: str, tag: str, record: Record, metadata: Mapping[str, str]) -> str | None:
    """The Go ``cloudwatch`` plugin's ``$(…)`` names: ``tag``, ``tag[n]``, ``ecs_task_id``,
    ``ecs_cluster``, ``ecs_task_arn`` and record keys (``$(kubernetes['pod_name'])``); None when
    one is missing (the plugin then uses its default name).

    >>> go_template("/ecs/$(ecs_cluster)/$(tag[0])", "a.b", {}, {"ecs_cluster": "prod"})
    '/ecs/prod/a'
    """
    task_arn = metadata.get("ecs_task_arn", "")
    known = {
        "tag": tag,
        "ecs_task_arn": task_arn,
        "ecs_task_id": task_arn.rsplit("/", 1)[-1],
        "ecs_cluster": metadata.get("ecs_cluster", ""),
    }
    missing = False

    def fill(variable: re.Match[str]) -> str:
        nonlocal missing
        name = variable[1].strip()
        tag_part = re.fullmatch(r"tag\[(\d+)\]", name)
        if tag_part:
            pieces = tag.split(".")
            index = int(tag_part[1])
            return pieces[index] if index < len(pieces) else ""
        if known.get(name):
            return known[name]
        value = lookup(record, parse_accessor(name))
        if value is MISSING:
            missing = True
            return ""
        return as_text(value)

    filled = _GO_VARIABLE.sub(fill, text)
    return None if missing else filled


class FileOutput(Output):
    def __init__(self, spec: OutputSpec, host_path: Callable[[str], Path]) -> None:
        super().__init__(spec)
        self.host_path = host_path
        self.directory = spec.option("path")
        self.file = spec.option("file")
        self.form = (spec.option("format") or "out_file").lower()
        self.template = spec.option("template") or "{time} {message}"
        self.mkdir = spec.flag("mkdir")
        self._appending = asyncio.Lock()  # chunks of several containers may go to one file

    def target(self, tag: str) -> Path:
        # A rewrite_tag can put record content in a tag: one that is not a plain file name is refused.
        if not self.file and ("/" in tag or tag in ("", ".", "..") or "\0" in tag):
            raise ValueError(f"tag {tag!r} cannot be a file name (set File)")
        name = self.file or tag
        return self.host_path(posixpath.join(self.directory, name) if self.directory else name)

    def line(self, emission: Emission) -> str:
        if self.form == "plain":
            return record_json(emission.record)
        if self.form == "template":
            return template_line(self.template, emission.time, emission.record)
        return out_file_line(emission.tag, emission.time, emission.record)

    async def write(self, batch: Sequence[Emission]) -> None:
        by_file: dict[Path, list[str]] = {}
        refused: list[ValueError] = []
        for emission in batch:
            try:
                path = self.target(emission.tag)
            except ValueError as problem:
                refused.append(problem)
                continue
            by_file.setdefault(path, []).append(self.line(emission) + "\n")
        async with self._appending:
            for path, lines in by_file.items():
                await asyncio.to_thread(self._append, path, "".join(lines))
        if refused:
            raise refused[0]

    def _append(self, path: Path, text: str) -> None:
        if self.mkdir:
            path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as out:
            out.write(text)


class HttpError(Exception):
    """An HTTP output's POST that did not succeed."""


class HttpOutput(Output):
    def __init__(
        self, spec: OutputSpec, address: Callable[[str, int], tuple[str, int]], timeout_s: float
    ) -> None:
        super().__init__(spec)
        self.address = address
        self.timeout_s = timeout_s
        self.host = spec.option("host") or "127.0.0.1"
        self.port = int(spec.option("port") or "80")
        self.uri = spec.option("uri") or "/"
        self.form = (spec.option("format") or "msgpack").lower()
        date_key = spec.option("json_date_key", "date")
        self.date_key = None if (date_key or "").lower() in ("false", "off", "") else date_key
        self.date_format = (spec.option("json_date_format") or "double").lower()
        self.headers = [
            tuple(header.split(None, 1)) for header in spec.options_all("header") if " " in header
        ]
        self.header_tag = spec.option("header_tag")
        user, password = spec.option("http_user"), spec.option("http_passwd") or ""
        self.authorization = (
            "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode() if user else None
        )
        self.gzip = (spec.option("compress") or "").lower() == "gzip"
        self.tls = spec.flag("tls")
        self.verify = spec.flag("tls.verify", default=True)

    async def write(self, batch: Sequence[Emission]) -> None:
        by_tag: dict[str, list[tuple[float, Record]]] = {}
        for emission in batch:
            by_tag.setdefault(emission.tag, []).append((emission.time, emission.record))
        for tag, entries in by_tag.items():
            body, content_type = http_body(self.form, entries, self.date_key, self.date_format)
            await asyncio.wait_for(self._post(tag, body, content_type), self.timeout_s)

    def request(self, tag: str, body: bytes, content_type: str) -> bytes:
        if self.gzip:
            body = gzip.compress(body)
        headers = [
            ("Host", f"{self.host}:{self.port}"),
            ("Content-Length", str(len(body))),
            ("Content-Type", content_type),
            ("User-Agent", "Fluent-Bit"),
            ("Connection", "close"),
        ]
        if self.gzip:
            headers.append(("Content-Encoding", "gzip"))
        if self.authorization:
            headers.append(("Authorization", self.authorization))
        if self.header_tag:
            if any(char in tag for char in "\r\n\0"):
                raise HttpError(f"tag {tag!r} cannot be an HTTP header value")
            headers.append((self.header_tag, tag))
        headers += [(str(name), str(value)) for name, value in self.headers]
        head = f"POST {self.uri} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
        return head.encode("latin-1") + body

    async def _post(self, tag: str, body: bytes, content_type: str) -> None:
        host, port = self.address(self.host, self.port)
        context = None
        if self.tls:
            context = ssl.create_default_context()
            if not self.verify:
                context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        reader, writer = await asyncio.open_connection(host, port, ssl=context)
        try:
            writer.write(self.request(tag, body, content_type))
            await writer.drain()
            status_line = (await reader.readline()).decode("latin-1").split()
        finally:
            writer.close()
        status = int(status_line[1]) if len(status_line) > 1 and status_line[1].isdigit() else 0
        if not 200 <= status < 300:
            raise HttpError(f"POST http://{self.host}:{self.port}{self.uri} answered {status or 'nothing'}")


def _same_address(host: str, port: int) -> tuple[str, int]:
    return host, port


@dataclass
class OutputFactory:
    """How a task's outputs reach the world: ``deliver`` stores CloudWatch Logs events in the task's
    account; ``host_path`` maps a ``file`` output's path in the router container to one ecsbox
    writes; ``http_address`` maps an ``http`` output's Host:Port to where ecsbox connects (raising
    to refuse it)."""

    deliver: CloudWatchDeliver
    host_path: Callable[[str], Path] = Path
    http_address: Callable[[str, int], tuple[str, int]] = _same_address
    http_timeout_s: float = HTTP_TIMEOUT_S

    def create(self, spec: OutputSpec, metadata: Mapping[str, str]) -> Output:
        if spec.plugin in ("cloudwatch_logs", "cloudwatch"):
            return CloudWatchOutput(spec, self.deliver, metadata)
        if spec.plugin == "file":
            return FileOutput(spec, self.host_path)
        if spec.plugin == "http":
            return HttpOutput(spec, self.http_address, self.http_timeout_s)
        if spec.plugin == "stdout":
            return StdoutOutput(spec)
        if spec.plugin == "null":
            return Output(spec)
        raise FireLensConfigError(f"output plugin '{spec.plugin}' is not available in ecsbox yet")


class Router:
    """A task's log router: records in, through the pipeline, out to the outputs."""

    def __init__(self, pipeline: Pipeline, outputs: Sequence[Output]) -> None:
        self.pipeline = pipeline
        self.outputs = tuple(outputs)
        # Storing outputs first: when one fails, the chunk is sent again and nothing duplicated.
        self._order = sorted(range(len(self.outputs)), key=lambda index: not self.outputs[index].stores)
        self._warned: set[str] = set()

    async def handle(self, tag: str, records: list[Entry]) -> None:
        """Route one chunk; raises only when a cloudwatch output could not store its events."""
        batches: dict[int, list[Emission]] = {}
        for emission in self.pipeline.process(tag, records):
            batches.setdefault(emission.output, []).append(emission)
        for index in self._order:
            batch = batches.get(index)
            if not batch:
                continue
            output = self.outputs[index]
            if output.stores:
                await output.write(batch)
                continue
            try:
                await output.write(batch)
            except Exception as problem:  # the records are dropped, as once Fluent Bit's retries are spent
                reason = f"{type(problem).__name__}: {problem}"
                if f"{index}:{reason}" not in self._warned:
                    self._warned.add(f"{index}:{reason}")
                    log.warning(
                        "event=firelens_output_failed output=%s plugin=%s records=%d reason=%s",
                        output.spec.origin,
                        output.spec.plugin,
                        len(batch),
                        reason,
                    )


def build_router(
    options_by_container: dict[str, dict[str, str]],
    firelens_options: dict[str, str],
    extra_config: FluentBitConfig | None,
    metadata: dict[str, str],
    outputs: OutputFactory,
    *,
    env: Mapping[str, str] | None = None,
) -> Router:
    """The router for one task (see :func:`ecsbox.logs.firelens.build_pipeline`); raises
    FireLensConfigError, with the reason for the container status, for what ecsbox cannot run."""
    pipeline = build_pipeline(options_by_container, firelens_options, extra_config, metadata, env=env)
    for warning in pipeline.warnings:
        log.warning("event=firelens_config_warning detail=%s", warning)
    return Router(pipeline, [outputs.create(spec, metadata) for spec in pipeline.outputs])
