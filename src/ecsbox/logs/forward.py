"""The Fluent Forward protocol receiver that Docker's ``fluentd`` log driver ships container logs to.

Protocol: Fluent Forward v1 (github.com/fluent/fluentd/wiki/Forward-Protocol-Specification-v1), over
TCP and, optionally, a unix socket. Every event mode is decoded:

- Message ``[tag, time, record, option?]`` (what Docker's driver sends: one log line per message);
- Forward ``[tag, [[time, record], ...], option?]``;
- PackedForward ``[tag, bin-or-str of concatenated [time, record], option?]``;
- CompressedPackedForward, the same with ``option.compressed == "gzip"`` (one or more gzip members).

``time`` is an integer, a float, or the EventTime extension (type 0: big-endian uint32 seconds and
uint32 nanoseconds, which Docker sends with ``fluentd-sub-second-precision=true``); as in Fluentd's
``in_forward``, a time of 0 or nil means "now". The handler gets ``(tag, [(seconds, record), ...])``
per message or chunk (consecutive messages of one tag that arrived together are handed over as one
batch), and records keep their keys: Docker sends ``container_id``, ``container_name`` (with its
leading ``/``), ``source`` (``stdout`` / ``stderr``), ``log``, the labels and environment variables
named by the ``labels`` / ``env`` options, and ``partial_message``, ``partial_id``,
``partial_ordinal`` and ``partial_last`` on the pieces of a line longer than 16 KiB (and on a last
line with no newline). Text that is not valid UTF-8 (a container may print any bytes; Docker puts
them in a msgpack ``str`` as they are) is decoded with U+FFFD in place of the bad bytes, so one
binary line can never poison a connection that the driver would then retry for ever.

Acknowledgements: when a message's option has ``chunk``, ``{"ack": chunk}`` is sent only after the
handler returned, that is after ecsbox committed the events. If the handler raises, the connection
is closed with nothing acknowledged and the sender sends the message again. Every resend carries the
same chunk id, so the receiver remembers the last ``recent_chunks`` (65,536) ids it committed and
acknowledges a chunk sent again without handing it over twice (a chunk whose ack was lost when
ecsbox itself died still arrives twice: the memory dies with it). No shared-key authentication
(the listener is loopback only), no UDP heartbeats. Malformed input (bad msgpack, wrong types,
arrays or maps declared longer than the limits, a message or gzip output over ``max_frame_bytes``)
closes that connection alone, with one log line; a connection buffers at most ``max_frame_bytes``
(16 MiB) of undecoded input, and reading pauses while its handler runs.

Docker's fluentd driver (Docker 20.10.24 as Debian builds it, with fluent-logger-golang 1.9), as
measured against this receiver (``tests/e2e/test_forward_docker_e2e.py``):

- One Message per log line, never a batch: ``[tag, EventTime, record, {"chunk": id}]`` (``{}``
  without acks). With ``fluentd-request-ack=true`` a sender waits for each line's ack before the
  next (about 10,000 lines/s per container here); without acks it streams (about 130,000).
- Synchronous (``fluentd-async`` unset): the driver connects once, when the container starts, and
  ``docker run`` fails ("failed to initialize logging driver: dial tcp ...: connection refused")
  if nothing listens. Once running, a lost connection is retried for ever (``fluentd-max-retries``
  defaults to 2**31-1), waiting ``fluentd-retry-wait`` x int(1.5**(n-1)) (0, 1, 1, 2, 3, 5, 7,
  11 ... times the wait, at most 60 s) between attempts; meanwhile the driver blocks, so in
  ``mode=blocking`` the container blocks once its pipe is full and nothing is lost. When a
  container exits, dockerd waits at most 10 s for the driver to drain ("Logger didn't exit in
  time: logs may be truncated") and drops the rest; and while the driver is still reconnecting,
  dockerd holds that container's lock: ``docker inspect`` / ``rm`` / ``wait`` on it hang until the
  receiver is back. So ecsbox must be listening before it calls Docker at start-up.
- Synchronous *with acks* breaks down when a container writes to stdout and stderr at the same
  time: both copiers share one connection and each reads "the next ack" on its own, so one takes
  the other's ack, closes the connection, and from then on each keeps closing the other's new
  connection (fluent-logger-golang#103). Here a container writing 500 lines/s to each stream got
  529 of about 8,000 lines through in 16 s, over some 5,900 connections, and its output stalled.
  No receiver can prevent it: the ack goes to whichever copier reads first.
- ``fluentd-async=true``: one goroutine sends everything, so acks work with both streams; the
  container starts with nothing listening, ``docker run`` never waits on the receiver, and lines
  wait in a queue of ``fluentd-buffer-limit`` *lines* (the option is parsed as a byte size: the
  default "1m" means 1,048,576 lines) while the receiver is away; a full queue drops lines. But
  when the container exits, what is still queued is thrown away at once ("Discarding queued
  events...": Docker sets ForceStopAsyncSend with async), even with the receiver up: a container
  that printed 20,000 lines and exited got 833 of them through.

So no set of driver options gives "nothing lost while ecsbox restarts" by itself. The closest, and
what the e2e tests hold to: ``fluentd-async=true``, ``fluentd-request-ack=true``,
``fluentd-retry-wait=100ms`` (delivery resumes within about half the outage after it ends),
``fluentd-sub-second-precision=true``, ``fluentd-max-retries`` left at its default: nothing is lost
across a restart of the receiver while the container runs, whichever streams it writes. What it
can lose is the queue of a container that exits before the queue is drained; Docker's local copy
of the output ("dual logging", on by default for drivers that cannot be read back) still has those
lines, and ``GET /containers/{id}/logs?since=...&timestamps=1`` returns them with timestamps equal
to the EventTimes to the nanosecond, so ecsbox can fetch what it lacks when a container stops
(dockerd opens the driver to serve that read: a synchronous one fails while nothing listens).
Synchronous with acks and ``mode=blocking`` loses nothing while the container runs and for 10 s
after it exits, but only for containers that write to one stream at a time. With
``mode=non-blocking`` Docker's ring buffer (``max-buffer-size``) has a single reader, so synchronous
with acks works with both streams too, and the ring holds the lines (dropping its overflow) while
the receiver is away. Synchronous without acks never stalls, but loses what sat in socket buffers
when ecsbox died.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import stat
import struct
import zlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import msgpack

from ecsbox.core.clock import Clock, WallClock

log = logging.getLogger("ecsbox.logs.forward")

Event = tuple[float, dict[str, Any]]
Handler = Callable[[str, list[Event]], Awaitable[None]]

DEFAULT_PORT = 24224
MAX_FRAME_BYTES = 16 * 1024 * 1024
# Declared lengths above these close the connection before anything is allocated for them.
MAX_ARRAY_LENGTH = 1_000_000
MAX_MAP_LENGTH = 65_536
MAX_EXT_LENGTH = 1024
READ_SIZE = 256 * 1024
# Consecutive messages of one tag already received are handed over together, up to this many events.
MAX_BATCH_EVENTS = 10_000
CLOSE_GRACE_SECONDS = 5.0
# Chunk ids remembered to recognise a chunk sent again (about 100 bytes of memory each).
RECENT_CHUNKS = 65_536

_unpack_event_time = struct.Struct(">II").unpack


class MalformedForward(ValueError):
    """The peer sent something that is not the Forward protocol; its connection is closed."""


def event_time_hook(code: int, data: bytes) -> Any:
    """msgpack ext hook: Fluent's EventTime (type 0, 8 bytes) becomes float seconds.

    >>> event_time_hook(0, bytes([0, 0, 0, 10, 0x1D, 0xCD, 0x65, 0]))
    10.5
    """
    if code == 0 and len(data) == 8:
        seconds, nanoseconds = _unpack_event_time(data)
        return seconds + nanoseconds / 1e9
    return msgpack.ExtType(code, data)


def _unpacker(max_frame_bytes: int, unicode_errors: str) -> msgpack.Unpacker:
    return msgpack.Unpacker(
        raw=False,
        unicode_errors=unicode_errors,
        ext_hook=event_time_hook,
        timestamp=1,  # msgpack's own Timestamp (ext -1), should a client send it: float seconds
        max_buffer_size=max_frame_bytes,
        max_str_len=max_frame_bytes,
        max_bin_len=max_frame_bytes,
        max_array_len=MAX_ARRAY_LENGTH,
        max_map_len=MAX_MAP_LENGTH,
        max_ext_len=MAX_EXT_LENGTH,
    )


def frame_unpacker(max_frame_bytes: int = MAX_FRAME_BYTES) -> msgpack.Unpacker:
    """The streaming decoder for a connection.

    Text is decoded with ``surrogateescape`` so that a PackedForward stream sent as a msgpack
    ``str`` (older Fluentd does) can be turned back into its exact bytes; records decoded here go
    through :func:`_clean_text` before anyone sees them.
    """
    return _unpacker(max_frame_bytes, "surrogateescape")


def _event_time(value: Any, now: Callable[[], float]) -> float:
    if type(value) is float:
        return value
    if type(value) is int:
        return float(value) if value else now()
    if value is None:
        return now()
    raise MalformedForward(f"event time is a {type(value).__name__}")


def _is_clean(value: Any) -> bool:
    """Whether ``value`` holds no escaped (invalid UTF-8) bytes; O(1) per ASCII string."""
    kind = type(value)
    if kind is str:
        if value.isascii():
            return True
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if kind is dict:
        for key, item in value.items():
            if type(item) is str and item.isascii() and key.isascii():
                continue  # the common case, a plain text field (keys are str or bytes)
            if not (_is_clean(key) and _is_clean(item)):
                return False
        return True
    if kind is list:
        return all(_is_clean(item) for item in value)
    return True


def _repaired(value: Any) -> Any:
    if type(value) is str:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if type(value) is dict:
        return {_repaired(key): _repaired(item) for key, item in value.items()}
    if type(value) is list:
        return [_repaired(item) for item in value]
    return value


def _clean_text(value: Any) -> Any:
    """``value`` with each run of invalid UTF-8 bytes replaced by U+FFFD, as a strict decoder would."""
    return value if _is_clean(value) else _repaired(value)


def _record(value: Any) -> dict[str, Any]:
    if type(value) is not dict:
        raise MalformedForward(f"record is a {type(value).__name__}, not a map")
    return value


def gunzip(data: bytes, limit: int) -> bytes:
    """Every gzip member of ``data``, decompressed; more than ``limit`` bytes out is refused.

    >>> import gzip
    >>> gunzip(gzip.compress(b"ab") + gzip.compress(b"c"), 10)
    b'abc'
    """
    parts: list[bytes] = []
    total = 0
    while data:
        decompressor = zlib.decompressobj(wbits=31)
        try:
            part = decompressor.decompress(data, limit - total + 1)
        except zlib.error as error:
            raise MalformedForward(f"bad gzip data: {error}") from None
        total += len(part)
        if total > limit or decompressor.unconsumed_tail:
            raise MalformedForward(f"gzip chunk inflates to more than {limit} bytes")
        if not decompressor.eof:
            raise MalformedForward("truncated gzip member")
        parts.append(part)
        data = decompressor.unused_data
        if data and not data.strip(b"\0"):
            break  # trailing zero padding, which gzip tools tolerate too
    return b"".join(parts)


def decode_packed(stream: bytes, now: Callable[[], float], max_frame_bytes: int) -> list[Event]:
    """The events of a PackedForward stream (concatenated msgpack ``[time, record]`` arrays)."""
    unpacker = _unpacker(max_frame_bytes, "replace")
    try:
        unpacker.feed(stream)
    except msgpack.BufferFull:
        raise MalformedForward(f"packed stream larger than {max_frame_bytes} bytes") from None
    events: list[Event] = []
    append = events.append
    for entry in unpacker:
        if type(entry) is not list or len(entry) != 2:
            raise MalformedForward("packed entry is not [time, record]")
        time, record = entry
        if type(time) is not float:
            time = _event_time(time, now)
        if type(record) is not dict:
            raise MalformedForward(f"record is a {type(record).__name__}, not a map")
        append((time, record))
    # The iteration stops quietly inside a truncated entry; a nil fed after a clean end comes
    # back as itself, while after a cut-off entry it is swallowed into that entry.
    unpacker.feed(b"\xc0")
    try:
        ended_cleanly = unpacker.unpack() is None
    except msgpack.OutOfData:
        ended_cleanly = False
    if not ended_cleanly:
        raise MalformedForward("packed stream ends inside an entry")
    return events


def decode_message(
    message: Any, now: Callable[[], float], max_frame_bytes: int = MAX_FRAME_BYTES
) -> tuple[str, list[Event], Any]:
    """``(tag, events, chunk)`` of one top-level Forward protocol array; ``chunk`` is None when no
    ack was asked for. Raises :class:`MalformedForward` for anything else."""
    if type(message) is not list or not 2 <= len(message) <= 4:
        raise MalformedForward("message is not an array of 2 to 4 items")
    tag = message[0]
    if type(tag) is not str:
        raise MalformedForward(f"tag is a {type(tag).__name__}")
    tag = _clean_text(tag)
    body = message[1]
    option: Any
    events: list[Event]
    if type(body) is list:  # Forward
        option = message[2] if len(message) > 2 else None
        if len(message) > 3:
            raise MalformedForward("Forward mode message has more than 3 items")
        events = []
        for entry in body:
            if type(entry) is not list or len(entry) != 2:
                raise MalformedForward("Forward mode entry is not [time, record]")
            events.append((_event_time(entry[0], now), _clean_text(_record(entry[1]))))
    elif type(body) is bytes or type(body) is str:  # PackedForward, maybe compressed
        option = message[2] if len(message) > 2 else None
        if len(message) > 3:
            raise MalformedForward("PackedForward mode message has more than 3 items")
        stream = body.encode("utf-8", "surrogateescape") if isinstance(body, str) else body
        compressed = option.get("compressed") if type(option) is dict else None
        if compressed == "gzip":
            stream = gunzip(stream, max_frame_bytes)
        elif compressed not in (None, "text"):
            raise MalformedForward(f"unknown compression {compressed!r}")
        events = decode_packed(stream, now, max_frame_bytes)
    else:  # Message
        if len(message) < 3:
            raise MalformedForward("Message mode message has no record")
        option = message[3] if len(message) > 3 else None
        events = [(_event_time(body, now), _clean_text(_record(message[2])))]
    if option is None:
        return tag, events, None
    if type(option) is not dict:
        raise MalformedForward(f"option is a {type(option).__name__}, not a map")
    chunk = option.get("chunk")
    if chunk is not None and type(chunk) is not str and type(chunk) is not bytes:
        raise MalformedForward(f"chunk is a {type(chunk).__name__}")
    return tag, events, chunk


def ack_bytes(chunk: Any) -> bytes:
    """The acknowledgement of ``chunk``, byte for byte the id the client sent.

    >>> ack_bytes("abc")
    b'\\x81\\xa3ack\\xa3abc'
    """
    packed: bytes = msgpack.packb({"ack": chunk}, unicode_errors="surrogateescape")
    return packed


class HandlerFailed(Exception):
    """The handler raised: the batch was not acknowledged, and its connection is closed."""


class RecentChunks:
    """The chunk ids committed lately (the oldest forgotten first), so that a chunk the driver
    sends again because its ack went astray is acknowledged without being committed twice.

    >>> recent = RecentChunks(2)
    >>> recent.add(["a", "b", "c"])
    >>> "a" in recent, "c" in recent
    (False, True)
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._ids: OrderedDict[Any, None] = OrderedDict()

    def __contains__(self, chunk: Any) -> bool:
        return chunk in self._ids

    def add(self, chunks: list[Any]) -> None:
        if self.size <= 0:
            return
        for chunk in chunks:
            self._ids[chunk] = None
        while len(self._ids) > self.size:
            self._ids.popitem(last=False)


class _Connection:
    """One client: decode, hand each batch to the handler, then acknowledge it."""

    def __init__(
        self,
        server: ForwardServer,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.unpacker = frame_unpacker(server.max_frame_bytes)
        self.lookahead: tuple[str, list[Event], Any] | None = None
        self.in_handler = False
        self.task = asyncio.current_task()

    def next_batch(self) -> tuple[str, list[Event], list[Any]] | None:
        """The next message already received, with the messages of the same tag right after it,
        less the events of chunks committed before; None when no complete message is buffered."""
        first = self.lookahead
        self.lookahead = None
        if first is None:
            first = self.decode_next()
            if first is None:
                return None
        tag, events, chunk = first
        recent = self.server.recent_chunks
        deduplicate = recent.size > 0
        chunks: list[Any] = []
        if chunk is not None:
            chunks.append(chunk)
            if deduplicate and chunk in recent:
                events = []
        while len(events) < MAX_BATCH_EVENTS:
            following = self.decode_next()
            if following is None:
                break
            if following[0] != tag:
                self.lookahead = following
                break
            chunk = following[2]
            if chunk is not None:
                seen = deduplicate and (chunk in recent or chunk in chunks)
                chunks.append(chunk)
                if seen:
                    continue
            events.extend(following[1])  # lists decode_message made for us alone
        return tag, events, chunks

    def decode_next(self) -> tuple[str, list[Event], Any] | None:
        try:
            message = next(self.unpacker)
            return decode_message(message, self.server.now, self.server.max_frame_bytes)
        except StopIteration:
            return None
        except (ValueError, TypeError, msgpack.UnpackException, RecursionError) as error:
            if isinstance(error, MalformedForward):
                raise
            raise MalformedForward(_short(error)) from None

    async def serve(self) -> None:
        server = self.server
        handler = server.handler
        read = self.reader.read
        feed = self.unpacker.feed
        while not server.closing:
            batch = self.next_batch()
            if batch is None:
                data = await read(READ_SIZE)
                if not data:
                    return
                try:
                    feed(data)
                except msgpack.BufferFull:
                    raise MalformedForward(f"message larger than {server.max_frame_bytes} bytes") from None
                continue
            tag, events, chunks = batch
            self.in_handler = True
            try:
                if events:
                    try:
                        await handler(tag, events)
                    except Exception as error:
                        raise HandlerFailed(_short(error)) from error
                if chunks:
                    server.recent_chunks.add(chunks)
                    self.writer.write(b"".join(map(ack_bytes, chunks)))
                    await self.writer.drain()
            finally:
                self.in_handler = False


class ForwardServer:
    """Listens for Fluent Forward clients on ``host:port`` (port 0: any free port) and, when
    ``unix_path`` is given, on that unix socket too.

    >>> async def handler(tag, events): ...
    >>> server = ForwardServer(handler, port=0)   # then: await server.start(); server.port

    ``accepted_connections`` counts connections since it was made: Docker's driver keeps one per
    container, so a number that grows says some sender keeps failing and reconnecting.
    """

    def __init__(
        self,
        handler: Handler,
        host: str | None = "127.0.0.1",
        port: int = 0,
        unix_path: str | os.PathLike[str] | None = None,
        *,
        clock: Clock | None = None,
        max_frame_bytes: int = MAX_FRAME_BYTES,
        close_grace_seconds: float = CLOSE_GRACE_SECONDS,
        recent_chunks: int = RECENT_CHUNKS,
    ) -> None:
        self.handler = handler
        self.host = host
        self.requested_port = port
        self.unix_path = Path(unix_path) if unix_path is not None else None
        self.clock: Clock = clock or WallClock()
        self.now = self.clock.now
        self.max_frame_bytes = max_frame_bytes
        self.close_grace_seconds = close_grace_seconds
        self.recent_chunks = RecentChunks(recent_chunks)
        self.closing = False
        self._servers: list[asyncio.Server] = []
        self._connections: set[_Connection] = set()
        self._port: int | None = None
        self.accepted_connections = 0  # since start; a sender that reconnects a lot shows here

    @property
    def port(self) -> int:
        """The TCP port listened on (known once started)."""
        if self._port is None:
            raise RuntimeError("the Forward receiver has no TCP listener (not started, or no host)")
        return self._port

    async def start(self) -> None:
        self.closing = False
        limit = 4 * READ_SIZE  # the stream pauses the socket once twice this much is unread
        if self.host is not None:
            tcp = await asyncio.start_server(self._accept, self.host, self.requested_port, limit=limit)
            self._servers.append(tcp)
            self._port = int(tcp.sockets[0].getsockname()[1])
        if self.unix_path is not None:
            with contextlib.suppress(FileNotFoundError):
                if stat.S_ISSOCK(self.unix_path.stat().st_mode):
                    self.unix_path.unlink()  # left behind by an earlier run that was killed
            unix = await asyncio.start_unix_server(self._accept, str(self.unix_path), limit=limit)
            self._servers.append(unix)
            self.unix_path.chmod(0o600)
        log.info("event=forward_listening port=%s unix_path=%s", self._port, self.unix_path or "-")

    async def close(self) -> None:
        """Stop accepting, let each handler call under way finish and be acknowledged (for up to
        ``close_grace_seconds``), and close every connection."""
        self.closing = True
        for listener in self._servers:
            listener.close()
        tasks = set()
        for connection in list(self._connections):
            if connection.task is None:
                continue
            tasks.add(connection.task)
            if not connection.in_handler:
                connection.task.cancel()  # waiting for input: nothing in flight to finish
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=self.close_grace_seconds)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for listener in self._servers:
            await listener.wait_closed()
        self._servers.clear()
        if self.unix_path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.unix_path.unlink()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.closing:
            writer.close()
            return
        self.accepted_connections += 1
        connection = _Connection(self, reader, writer)
        self._connections.add(connection)
        peer = writer.get_extra_info("peername") or "unix"
        try:
            await connection.serve()
        except MalformedForward as error:
            log.warning("event=forward_rejected peer=%s reason=%s", peer, error)
        except HandlerFailed as error:
            log.warning("event=forward_handler_failed peer=%s error=%s acknowledged=false", peer, error)
        except (ConnectionError, TimeoutError):
            pass  # the client went away; it sends again whatever was not acknowledged
        except asyncio.CancelledError:
            if not self.closing:
                raise
        finally:
            self._connections.discard(connection)
            writer.close()


def _short(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= 200 else text[:197] + "..."
