"""The Fluent Forward receiver, driven by a raw socket client that writes msgpack by hand."""

from __future__ import annotations

import asyncio
import gzip
import itertools
import logging
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecsbox.core.clock import FakeClock
from ecsbox.logs.forward import (
    ForwardServer,
    MalformedForward,
    ack_bytes,
    decode_message,
    frame_unpacker,
    gunzip,
)

Event = tuple[float, dict[str, Any]]
RECORD = {"container_id": "c" * 64, "container_name": "/app", "source": "stdout", "log": "hello"}


def event_time(seconds: int, nanoseconds: int) -> msgpack.ExtType:
    return msgpack.ExtType(0, struct.pack(">II", seconds, nanoseconds))


def pack(value: Any) -> bytes:
    packed: bytes = msgpack.packb(value, use_bin_type=True)
    return packed


def packed_stream(entries: list[tuple[Any, dict[str, Any]]]) -> bytes:
    return b"".join(pack([time, record]) for time, record in entries)


class Recorder:
    """A handler that keeps what it was given; ``gate`` holds it until set, ``fail`` makes it raise."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[Event]]] = []
        self.gate: asyncio.Event | None = None
        self.entered = asyncio.Event()
        self.fail: Exception | None = None

    async def __call__(self, tag: str, events: list[Event]) -> None:
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        self.calls.append((tag, events))

    @property
    def events(self) -> list[tuple[str, float, dict[str, Any]]]:
        return [(tag, time, record) for tag, events in self.calls for time, record in events]


@asynccontextmanager
async def receiver(handler: Any, **options: Any) -> AsyncIterator[ForwardServer]:
    server = ForwardServer(handler, **options)
    await server.start()
    try:
        yield server
    finally:
        await server.close()


class Client:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, server: ForwardServer) -> Client:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def ack(self, timeout: float = 5.0) -> Any:
        """The next ack's chunk id."""
        unpacker = msgpack.Unpacker(raw=False)
        while True:
            for answer in unpacker:
                return answer["ack"]
            data = await asyncio.wait_for(self.reader.read(4096), timeout)
            if not data:
                raise ConnectionError("closed before an ack")
            unpacker.feed(data)

    async def acks(self, count: int, timeout: float = 5.0) -> list[Any]:
        unpacker = msgpack.Unpacker(raw=False)
        answers: list[Any] = []
        while len(answers) < count:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
            if not data:
                raise ConnectionError(f"closed after {len(answers)} acks")
            unpacker.feed(data)
            answers.extend(answer["ack"] for answer in unpacker)
        return answers

    async def closed_by_server(self, timeout: float = 5.0) -> bytes:
        """Everything the server sent until it closed the connection (fails if it does not)."""
        received = b""
        while True:
            try:
                data = await asyncio.wait_for(self.reader.read(65536), timeout)
            except ConnectionResetError:  # closed with our input unread: a reset, not a FIN
                return received
            if not data:
                return received
            received += data

    async def close(self) -> None:
        self.writer.close()


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), 30))


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


# --- every event mode, through a socket ------------------------------------------------------


def test_message_mode_with_integer_time_and_no_option() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        async with receiver(recorder) as server:
            client = await Client.connect(server)
            await client.send(pack(["app.stdout", 1_700_000_000, RECORD]))
            await client.send(pack(["app.stdout", 1_700_000_001, RECORD, None]))
            await client.send(pack(["app.stdout", 1_700_000_002, RECORD, {}]))
            await until(lambda: len(recorder.events) == 3)
            await client.close()
        assert recorder.events == [
            ("app.stdout", 1_700_000_000.0, RECORD),
            ("app.stdout", 1_700_000_001.0, RECORD),
            ("app.stdout", 1_700_000_002.0, RECORD),
        ]
        assert all(type(time) is float for _, time, _ in recorder.events)

    run(scenario)


def test_message_mode_with_event_time_is_acknowledged_with_its_chunk() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        async with receiver(recorder) as server:
            client = await Client.connect(server)
            await client.send(
                pack(["mytag", event_time(1_700_000_000, 123_456_789), RECORD, {"chunk": "id-1"}])
            )
            assert await client.ack() == "id-1"
            await client.close()
        [(tag, time, record)] = recorder.events
        assert (tag, record) == ("mytag", RECORD)
        assert time == pytest.approx(1_700_000_000.123456789, abs=1e-6)

    run(scenario)


def test_forward_mode() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        async with receiver(recorder) as server:
            client = await Client.connect(server)
            entries = [[event_time(10, 500_000_000), {"log": "a"}], [11, {"log": "b"}], [12.25, {"log": "c"}]]
            await client.send(pack(["fwd", entries, {"chunk": "c1", "size": 3}]))
            assert await client.ack() == "c1"
            await client.send(pack(["fwd", [[13, {"log": "d"}]]]))  # no option at all
            await until(lambda: len(recorder.events) == 4)
            await client.close()
        assert recorder.events == [
            ("fwd", 10.5, {"log": "a"}),
            ("fwd", 11.0, {"log": "b"}),
            ("fwd", 12.25, {"log": "c"}),
            ("fwd", 13.0, {"log": "d"}),
        ]

    run(scenario)


def test_packed_forward_mode_as_bin_and_as_str() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        stream = packed_stream([(event_time(20, 0), {"log": "x"}), (21, {"log": "y", "n": [1, {"k": None}]})])
        # Older Fluentd sends the stream as a msgpack str (raw): it holds bytes that are not UTF-8.
        as_str = msgpack.packb(["packed", stream, {"chunk": "s"}], use_bin_type=False)
        async with receiver(recorder) as server:
            client = await Client.connect(server)
            await client.send(pack(["packed", stream, {"chunk": "b"}]))
            assert await client.ack() == "b"
            await client.send(as_str)
            assert await client.ack() == "s"
            await client.close()
        expected = [("packed", 20.0, {"log": "x"}), ("packed", 21.0, {"log": "y", "n": [1, {"k": None}]})]
        assert recorder.events == expected + expected

    run(scenario)


def test_compressed_packed_forward_with_several_gzip_members() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        first = packed_stream([(30 + n, {"log": f"line {n}"}) for n in range(100)])
        second = packed_stream([(130, {"log": "last"})])
        compressed = gzip.compress(first) + gzip.compress(second)
        async with receiver(recorder) as server:
            client = await Client.connect(server)
            await client.send(pack(["gz", compressed, {"chunk": "z", "compressed": "gzip", "size": 101}]))
            assert await client.ack() == "z"
            await client.close()
        assert [record["log"] for _, _, record in recorder.events] == [f"line {n}" for n in range(100)] + [
            "last"
        ]
        assert recorder.events[-1][:2] == ("gz", 130.0)

    run(scenario)


def test_unix_socket(tmp_path: Path) -> None:
    path = tmp_path / "fluent.sock"
    stale = socket.socket(socket.AF_UNIX)  # left behind by a run that was killed
    stale.bind(str(path))
    stale.close()

    async def scenario() -> None:
        recorder = Recorder()
        async with receiver(recorder, host=None, unix_path=path):
            assert path.is_socket()
            reader, writer = await asyncio.open_unix_connection(str(path))
            client = Client(reader, writer)
            await client.send(pack(["unix", 1, {"log": "via unix"}, {"chunk": "u"}]))
            assert await client.ack() == "u"
            await client.close()
        assert recorder.events == [("unix", 1.0, {"log": "via unix"})]
        assert not path.exists()

    run(scenario)


# --- acknowledgements ------------------------------------------------------------------------


def test_no_ack_until_the_handler_has_returned() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        recorder.gate = asyncio.Event()
        async with receiver(recorder) as server:
            client = await Client.connect(server)
            await client.send(pack(["t", 1, {"log": "held"}, {"chunk": "held"}]))
            await asyncio.wait_for(recorder.entered.wait(), 5)
            with pytest.raises(TimeoutError):
                await client.ack(timeout=0.3)
            assert recorder.events == []
            recorder.gate.set()
            assert await client.ack() == "held"
            assert recorder.events == [("t", 1.0, {"log": "held"})]
            await client.close()

    run(scenario)


def test_a_failing_handler_closes_the_connection_without_ack_and_the_server_stays_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> None:
        recorder = Recorder()
        recorder.fail = RuntimeError("database is locked")
        async with receiver(recorder) as server:
            client = await Client.connect(server)
            await client.send(pack(["t", 1, {"log": "lost?"}, {"chunk": "no"}]))
            assert await client.closed_by_server() == b""  # closed, and no ack on the way
            recorder.fail = None
            retry = await Client.connect(server)  # the driver's retry
            await retry.send(pack(["t", 1, {"log": "lost?"}, {"chunk": "no"}]))
            assert await retry.ack() == "no"
            await retry.close()
        assert recorder.events == [("t", 1.0, {"log": "lost?"})]

    with caplog.at_level(logging.WARNING, logger="ecsbox.logs.forward"):
        run(scenario)
    failures = [r.getMessage() for r in caplog.records if "forward_handler_failed" in r.getMessage()]
    assert len(failures) == 1 and "database is locked" in failures[0]


def test_pipelined_messages_of_one_tag_are_batched_and_every_chunk_acknowledged_in_order() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        async with receiver(recorder) as server:
            client = await Client.connect(server)
            burst = b"".join(pack(["same", n, {"log": str(n)}, {"chunk": f"k{n}"}]) for n in range(500))
            await client.send(burst + pack(["other", 1, {"log": "o"}, {"chunk": "other"}]))
            assert await client.acks(501) == [f"k{n}" for n in range(500)] + ["other"]
            await client.close()
        assert [record["log"] for tag, _, record in recorder.events if tag == "same"] == [
            str(n) for n in range(500)
        ]
        assert recorder.events[-1] == ("other", 1.0, {"log": "o"})
        assert len(recorder.calls) < 501  # batched, not one handler call per line

    run(scenario)


def test_a_chunk_sent_again_is_acknowledged_without_being_committed_twice() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        async with receiver(recorder) as server:
            first = await Client.connect(server)
            await first.send(pack(["t", 1, {"log": "once"}, {"chunk": "same"}]))
            assert await first.ack() == "same"
            await first.close()
            # The driver lost that ack (say its connection broke) and sends the line again.
            retry = await Client.connect(server)
            await retry.send(pack(["t", 1, {"log": "once"}, {"chunk": "same"}]))
            assert await retry.ack() == "same"
            # Twice in one burst, beside a new chunk: one commit each, every chunk acknowledged.
            burst = pack(["t", 2, {"log": "new"}, {"chunk": "new"}]) + pack(
                ["t", 2, {"log": "new"}, {"chunk": "new"}]
            )
            await retry.send(burst + pack(["t", 1, {"log": "once"}, {"chunk": "same"}]))
            assert await retry.acks(3) == ["new", "new", "same"]
            await retry.close()
        assert recorder.events == [("t", 1.0, {"log": "once"}), ("t", 2.0, {"log": "new"})]

    run(scenario)


def test_a_chunk_whose_commit_failed_is_committed_when_sent_again() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        recorder.fail = RuntimeError("disk full")
        async with receiver(recorder) as server:
            client = await Client.connect(server)
            await client.send(pack(["t", 1, {"log": "retry me"}, {"chunk": "r"}]))
            assert await client.closed_by_server() == b""
            recorder.fail = None
            client = await Client.connect(server)
            await client.send(pack(["t", 1, {"log": "retry me"}, {"chunk": "r"}]))
            assert await client.ack() == "r"
            await client.close()
        assert recorder.events == [("t", 1.0, {"log": "retry me"})]

    run(scenario)


def test_remembering_chunks_can_be_turned_off() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        async with receiver(recorder, recent_chunks=0) as server:
            client = await Client.connect(server)
            await client.send(
                pack(["t", 1, {"log": "x"}, {"chunk": "c"}]) + pack(["t", 1, {"log": "x"}, {"chunk": "c"}])
            )
            assert await client.acks(2) == ["c", "c"]
            await client.close()
        assert len(recorder.events) == 2

    run(scenario)


# --- robustness ------------------------------------------------------------------------------

MALFORMED = {
    "not msgpack": b"\xc1\xc1\xc1",
    "not an array": pack({"tag": "t"}),
    "tag is a number": pack([1, 1, {"log": "x"}]),
    "record is a string": pack(["t", 1, "hello"]),
    "time is a string": pack(["t", "noon", {"log": "x"}]),
    "forward entry is not a pair": pack(["t", [[1, {"log": "x"}, 3]]]),
    "option is a list": pack(["t", 1, {"log": "x"}, ["chunk"]]),
    "unknown compression": pack(["t", packed_stream([(1, {})]), {"compressed": "zstd"}]),
    "bad gzip": pack(["t", b"\x1f\x8bnot gzip", {"compressed": "gzip"}]),
    "packed stream cut short": pack(["t", packed_stream([(1, {"log": "x"})])[:-2]]),
    "declares 4 billion entries": b"\x93\xa1t\xdd\xff\xff\xff\xff",
    "declares a map of 4 billion keys": b"\x93\xa1t\x01\xdf\xff\xff\xff\xff",
    "nesting too deep": b"\x91" * 5000,
}


@pytest.mark.parametrize("payload", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_input_closes_that_connection_and_the_next_client_is_served(
    payload: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        recorder = Recorder()
        async with receiver(recorder) as server:
            bad = await Client.connect(server)
            bystander = await Client.connect(server)  # open all along, unaffected
            await bad.send(payload)
            assert await bad.closed_by_server() == b""
            await bystander.send(pack(["ok", 1, {"log": "still here"}, {"chunk": "b"}]))
            assert await bystander.ack() == "b"
            after = await Client.connect(server)
            await after.send(pack(["ok", 2, {"log": "next client"}, {"chunk": "n"}]))
            assert await after.ack() == "n"
            await after.close()
            await bystander.close()
        assert [record["log"] for _, _, record in recorder.events] == ["still here", "next client"]

    with caplog.at_level(logging.WARNING, logger="ecsbox.logs.forward"):
        run(scenario)
    rejected = [r.getMessage() for r in caplog.records if "event=forward_rejected" in r.getMessage()]
    assert len(rejected) == 1, rejected


def test_a_message_larger_than_the_buffer_cap_is_refused() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        async with receiver(recorder, max_frame_bytes=64 * 1024) as server:
            # Many small entries: no declared length is over the cap, the message as a whole is.
            client = await Client.connect(server)
            entries = [[n, {"log": "x" * 100}] for n in range(2000)]
            client.writer.write(pack(["big", entries]))
            assert await client.closed_by_server() == b""
            # A declared length over the cap (bin32 of 2 GiB): refused once the cap is reached.
            client = await Client.connect(server)
            client.writer.write(b"\x93\xa1t\xc6\x80\x00\x00\x00" + b"x" * (65 * 1024))
            assert await client.closed_by_server() == b""
            # A gzip bomb: 1 MiB of zeros compresses to ~1 KiB.
            client = await Client.connect(server)
            await client.send(pack(["t", gzip.compress(b"\0" * (1 << 20)), {"compressed": "gzip"}]))
            assert await client.closed_by_server() == b""
        assert recorder.calls == []

    run(scenario)


def test_frames_split_across_reads_byte_by_byte() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        async with receiver(recorder) as server:
            client = await Client.connect(server)
            data = pack(["split", event_time(5, 250_000_000), {"log": "héllo wörld"}, {"chunk": "s1"}])
            data += pack(
                ["split", packed_stream([(6, {"log": "two"}), (7, {"log": "three"})]), {"chunk": "s2"}]
            )
            client.writer.transport.set_write_buffer_limits(0)
            for index in range(len(data)):
                await client.send(data[index : index + 1])
                await asyncio.sleep(0)
            assert await client.acks(2) == ["s1", "s2"]
            await client.close()
        assert recorder.events == [
            ("split", 5.25, {"log": "héllo wörld"}),
            ("split", 6.0, {"log": "two"}),
            ("split", 7.0, {"log": "three"}),
        ]

    run(scenario)


def test_invalid_utf8_in_a_log_line_becomes_replacement_characters() -> None:
    # What Docker's driver sends for `printf 'bad\377byte'`: a msgpack str holding the raw bytes.
    raw = b"\x94\xa5mytag\x01\x82\xa3log\xa8bad\xffbyte\xa6source\xa6stdout\x81\xa5chunk\xa1c"

    async def scenario() -> None:
        recorder = Recorder()
        async with receiver(recorder) as server:
            client = await Client.connect(server)
            await client.send(raw)
            assert await client.ack() == "c"
            await client.close()
        assert recorder.events == [("mytag", 1.0, {"log": "bad\ufffdbyte", "source": "stdout"})]
        recorder.events[0][2]["log"].encode("utf-8")  # storable as UTF-8

    run(scenario)


def test_many_concurrent_connections() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        async with receiver(recorder) as server:

            async def container(index: int) -> list[Any]:
                client = await Client.connect(server)
                answers = []
                for line in range(10):
                    await client.send(
                        pack([f"c{index}", line, {"log": f"{index}-{line}"}, {"chunk": f"{index}-{line}"}])
                    )
                    answers.append(await client.ack(timeout=20))
                await client.close()
                return answers

            results = await asyncio.gather(*(container(index) for index in range(200)))
        assert results == [[f"{index}-{line}" for line in range(10)] for index in range(200)]
        assert len(recorder.events) == 2000
        for index in range(200):  # each connection's lines in order
            lines = [record["log"] for tag, _, record in recorder.events if tag == f"c{index}"]
            assert lines == [f"{index}-{line}" for line in range(10)]

    run(scenario)


def test_time_zero_or_nil_means_now() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        async with receiver(recorder, clock=FakeClock(start=1_234.5)) as server:
            client = await Client.connect(server)
            await client.send(pack(["t", 0, {"log": "zero"}]) + pack(["t", [[None, {"log": "nil"}]]]))
            await until(lambda: len(recorder.events) == 2)
            await client.close()
        assert [time for _, time, _ in recorder.events] == [1_234.5, 1_234.5]

    run(scenario)


# --- closing ---------------------------------------------------------------------------------


def test_close_lets_a_handler_under_way_finish_and_acknowledge() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        recorder.gate = asyncio.Event()
        server = ForwardServer(recorder)
        await server.start()
        idle = await Client.connect(server)
        busy = await Client.connect(server)
        await busy.send(pack(["t", 1, {"log": "in flight"}, {"chunk": "f"}]))
        await asyncio.wait_for(recorder.entered.wait(), 5)
        closing = asyncio.create_task(server.close())
        assert await idle.closed_by_server() == b""  # nothing in flight there: closed at once
        assert not closing.done()
        recorder.gate.set()
        assert await busy.closed_by_server() == ack_bytes("f")
        await asyncio.wait_for(closing, 5)
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", server.port)

    run(scenario)


def test_close_gives_up_on_a_handler_that_never_returns() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        recorder.gate = asyncio.Event()  # never set
        server = ForwardServer(recorder, close_grace_seconds=0.2)
        await server.start()
        client = await Client.connect(server)
        await client.send(pack(["t", 1, {"log": "stuck"}, {"chunk": "x"}]))
        await asyncio.wait_for(recorder.entered.wait(), 5)
        await asyncio.wait_for(server.close(), 5)
        assert await client.closed_by_server() == b""

    run(scenario)


# --- decoding, without sockets ---------------------------------------------------------------


def now() -> float:
    return 99.0


DECODED = [
    (["t", 1, {"a": 1}], ("t", [(1.0, {"a": 1})], None)),
    (["t", 1, {"a": 1}, {"chunk": "c"}], ("t", [(1.0, {"a": 1})], "c")),
    (["t", 1.5, {}, None], ("t", [(1.5, {})], None)),
    (["t", [[1, {"a": 1}], [2, {"b": 2}]], {"chunk": "c"}], ("t", [(1.0, {"a": 1}), (2.0, {"b": 2})], "c")),
    (["t", []], ("t", [], None)),
    (["t", packed_stream([(3, {"c": 3})])], ("t", [(3.0, {"c": 3})], None)),
    (["t", b""], ("t", [], None)),
    (["t", gzip.compress(packed_stream([(4, {})])), {"compressed": "gzip"}], ("t", [(4.0, {})], None)),
    (["t", packed_stream([(4, {})]), {"compressed": "text"}], ("t", [(4.0, {})], None)),
    (["t", 0, {}], ("t", [(99.0, {})], None)),
]


@pytest.mark.parametrize(("message", "expected"), DECODED)
def test_decode_message(message: list[Any], expected: tuple[Any, ...]) -> None:
    unpacker = frame_unpacker()
    unpacker.feed(pack(message))
    assert decode_message(next(unpacker), now) == expected


@pytest.mark.parametrize(
    "message",
    [
        ["t"],
        ["t", 1],
        ["t", 1, {}, {}, {}],
        ["t", [], {}, {}],
        ["t", b"", {}, {}],
        [b"t", 1, {}],
        ["t", True, {}],
        ["t", 1, [1, 2]],
        ["t", 1, {}, {"chunk": 5}],
        ["t", [[1, {}, 2]]],
        ["t", [{"a": 1}]],
        ["t", pack([1, "text"])],
        ["t", pack([1, {}]) + pack("stray")],
    ],
)
def test_decode_message_refuses(message: list[Any]) -> None:
    unpacker = frame_unpacker()
    unpacker.feed(pack(message))
    with pytest.raises(MalformedForward):
        decode_message(next(unpacker), now)


def test_gunzip_limits_output() -> None:
    data = gzip.compress(b"a" * 1000)
    assert gunzip(data, 1000) == b"a" * 1000
    with pytest.raises(MalformedForward):
        gunzip(data, 999)
    with pytest.raises(MalformedForward):
        gunzip(data[:-4], 1000)
    assert gunzip(data + b"\0" * 8, 1000) == b"a" * 1000


def test_ack_is_the_chunk_id_byte_for_byte() -> None:
    unpacker = frame_unpacker()
    unpacker.feed(pack(["t", 1, {}, {"chunk": "pEULawAAAADk1uVrM4yuyg=="}]))
    _, _, chunk = decode_message(next(unpacker), now)
    assert msgpack.unpackb(ack_bytes(chunk)) == {"ack": "pEULawAAAADk1uVrM4yuyg=="}
    assert msgpack.unpackb(ack_bytes(b"\x00\xff")) == {"ack": b"\x00\xff"}


messages_strategy = st.lists(
    st.tuples(
        st.sampled_from(["a", "b"]),
        st.integers(min_value=1, max_value=2**32 - 1),
        st.dictionaries(st.sampled_from(["log", "source", "x"]), st.text(max_size=20), max_size=3),
        st.sampled_from(["message", "forward", "packed", "gzip"]),
    ),
    min_size=1,
    max_size=8,
)


def encode(tag: str, time: int, record: dict[str, Any], mode: str) -> bytes:
    if mode == "message":
        return pack([tag, event_time(time, 1000), record])
    if mode == "forward":
        return pack([tag, [[time, record]]])
    stream = packed_stream([(event_time(time, 1000), record)])
    if mode == "gzip":
        return pack([tag, gzip.compress(stream), {"compressed": "gzip"}])
    return pack([tag, stream])


@settings(max_examples=150, deadline=None)
@given(messages=messages_strategy, cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=10))
def test_any_split_of_the_byte_stream_decodes_to_the_same_events(
    messages: list[tuple[str, int, dict[str, Any], str]], cuts: list[int]
) -> None:
    data = b"".join(encode(*message) for message in messages)
    bounds = sorted({0, len(data), *(cut % (len(data) + 1) for cut in cuts)})
    unpacker = frame_unpacker()
    decoded: list[tuple[str, list[tuple[float, dict[str, Any]]], Any]] = []
    for start, end in itertools.pairwise(bounds):
        unpacker.feed(data[start:end])
        decoded.extend(decode_message(message, now) for message in unpacker)
    expected_time = {"message": 1e-6, "forward": 0.0, "packed": 1e-6, "gzip": 1e-6}
    assert [(tag, events[0][1]) for tag, events, _ in decoded] == [
        (tag, record) for tag, _, record, _ in messages
    ]
    for (_, events, _), (_, time, _, mode) in zip(decoded, messages, strict=True):
        assert events[0][0] == pytest.approx(time + expected_time[mode], abs=1e-7)
