"""Fluent Forward ingest: events per second through ``ecsbox.logs.forward.ForwardServer``, beside
the ceiling measured in the same run.

The receiver runs in this process (on CPU 0, uvloop when installed, as ``ecsbox up`` runs) with a
handler that only counts; a sender process (on CPU 1) has every message encoded before it starts
the clock and writes them over loopback as fast as the receiver takes them. Phases:

1. ``packed_forward``: PackedForward chunks of ``--chunk-events`` (1,000) events, each
   ``[EventTime, {container_id, container_name, source, log}]`` with a ``--log-bytes`` (100) byte
   ``log``, every chunk asking for an ack; the sender keeps ``--window`` chunks unacknowledged.
   This is the number to hold against the aim (100,000 events/s through the whole path).
2. ``message_ack_per_line``: what Docker's fluentd driver sends with ``fluentd-request-ack=true``:
   one Message per line, and the next line only once the previous one is acknowledged; and
   ``message_ack_per_line_parallel``, the same from ``--line-connections`` (8) containers at once.
3. ``message_streamed``: one Message per line, no acks (the driver without ``fluentd-request-ack``).
4. The ceiling (issue 5's reference): the same PackedForward chunks only decoded from msgpack
   (``msgpack.unpackb`` + ``msgpack.Unpacker``) and their events appended to a file, one write per
   chunk, in this process on CPU 0; and ``decode_only``: ``decode_message`` on the same chunks,
   which is the receiver's own decoding without sockets or asyncio.

Prints one JSON document; ``ratio_to_ceiling`` is packed_forward / ceiling.

    python benchmarks/logs_forward.py
    python benchmarks/logs_forward.py --events 1000000 --out benchmarks/out/logs_forward.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import socket
import struct
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from ecsbox.logs.forward import ForwardServer, decode_message  # noqa: E402

RECEIVER_CPU = 0
SENDER_CPU = 1
TAG = "app-firelens-0123456789abcdef"
CONTAINER_ID = "3f" * 32


def event_time(seconds: float) -> msgpack.ExtType:
    whole = int(seconds)
    return msgpack.ExtType(0, struct.pack(">II", whole, int((seconds - whole) * 1e9)))


def log_line(index: int, size: int) -> str:
    head = f"{index:09d} GET /api/items?page={index % 97} 200 "
    return (head + "x" * size)[:size]


def records(count: int, log_bytes: int, start: int = 0) -> list[tuple[msgpack.ExtType, dict[str, str]]]:
    base = 1_700_000_000.0
    return [
        (
            event_time(base + (start + n) * 1e-5),
            {
                "container_id": CONTAINER_ID,
                "container_name": "/ecs-app-1-web-e2c4",
                "source": "stdout",
                "log": log_line(start + n, log_bytes),
            },
        )
        for n in range(count)
    ]


def packed_chunks(events: int, chunk_events: int, log_bytes: int) -> list[bytes]:
    """PackedForward messages, each asking for an ack."""
    chunks = []
    for number, start in enumerate(range(0, events, chunk_events)):
        entries = records(min(chunk_events, events - start), log_bytes, start)
        stream = b"".join(msgpack.packb([time, record]) for time, record in entries)
        option = {"chunk": f"chunk-{number:08d}", "size": len(entries)}
        chunks.append(msgpack.packb([TAG, stream, option], use_bin_type=True))
    return chunks


def line_messages(events: int, log_bytes: int, ack: bool) -> list[bytes]:
    """Message-mode messages, one line each, as Docker's fluentd driver encodes them."""
    return [
        msgpack.packb([TAG, time, record, {"chunk": f"line-{n:09d}"} if ack else {}])
        for n, (time, record) in enumerate(records(events, log_bytes))
    ]


def pin(cpu: int) -> bool:
    if (os.cpu_count() or 1) < 2 or not hasattr(os, "sched_setaffinity"):
        return False
    os.sched_setaffinity(0, {cpu})
    return True


# --- the sender process ----------------------------------------------------------------------


def sender(phase: str, port: int, settings: dict[str, int], ready: Any, go: Any, done: Any) -> None:
    pin(SENDER_CPU)
    if phase == "packed_forward":
        messages = packed_chunks(settings["events"], settings["chunk_events"], settings["log_bytes"])
    else:
        messages = line_messages(settings["events"], settings["log_bytes"], ack=phase != "message_streamed")
    ready.set()
    go.wait()
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    started = time.perf_counter()
    if phase == "message_streamed":
        sock.sendall(b"".join(messages))
    elif phase == "message_ack_per_line":
        send_one_at_a_time(sock, messages)
    elif phase == "message_ack_per_line_parallel":
        connections = settings["connections"]
        socks = [sock] + [socket.create_connection(("127.0.0.1", port)) for _ in range(connections - 1)]
        threads = [
            threading.Thread(target=send_one_at_a_time, args=(each, messages[index::connections]))
            for index, each in enumerate(socks)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    else:
        send_with_window(sock, messages, settings["window"])
    done.put(time.perf_counter() - started)
    sock.close()


def send_one_at_a_time(sock: socket.socket, messages: list[bytes]) -> None:
    """As Docker's driver with acks: the next line only once the previous one is acknowledged."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    unpacker = msgpack.Unpacker()
    for message in messages:
        sock.sendall(message)
        while next(unpacker, None) is None:
            unpacker.feed(sock.recv(4096))


def send_with_window(sock: socket.socket, messages: list[bytes], window: int) -> None:
    """Keep ``window`` messages unacknowledged; return once every one is acknowledged."""
    slots = threading.Semaphore(window)
    acked = threading.Event()

    def read_acks() -> None:
        unpacker = msgpack.Unpacker()
        remaining = len(messages)
        while remaining:
            data = sock.recv(65536)
            if not data:
                raise ConnectionError("the receiver closed the connection")
            unpacker.feed(data)
            for _ in unpacker:
                remaining -= 1
                slots.release()
        acked.set()

    reader = threading.Thread(target=read_acks, daemon=True)
    reader.start()
    for message in messages:
        slots.acquire()
        sock.sendall(message)
    acked.wait()


# --- the receiver (this process) ---------------------------------------------------------------


async def receive(phase: str, settings: dict[str, int]) -> dict[str, float]:
    total = settings["events"]
    counted = 0
    first_at = 0.0
    finished = asyncio.Event()

    async def count(tag: str, events: list[tuple[float, dict[str, Any]]]) -> None:
        nonlocal counted, first_at
        if not counted:
            first_at = time.perf_counter()
        counted += len(events)
        if counted >= total:
            finished.set()

    server = ForwardServer(count)
    await server.start()
    context = multiprocessing.get_context("spawn")
    ready, go, done = context.Event(), context.Event(), context.Queue()
    process = context.Process(target=sender, args=(phase, server.port, settings, ready, go, done))
    process.start()
    try:
        await asyncio.to_thread(ready.wait)
        started, cpu_started = time.perf_counter(), time.process_time()
        go.set()
        await asyncio.wait_for(finished.wait(), timeout=600)
        received, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        sender_seconds = await asyncio.to_thread(done.get, True, 600)
    finally:
        await server.close()
        process.join(timeout=10)
        if process.is_alive():
            process.kill()
    return {
        "events_per_s": round(total / received),
        "seconds": round(received, 3),
        "receiver_cpu_share": round(cpu / received, 2),  # of one core: 1.0 means the receiver is the limit
        "sender_seconds_until_all_acked": round(sender_seconds, 3),
        "first_event_after_s": round(first_at - started, 4),
    }


def run_receiver(phase: str, settings: dict[str, int]) -> dict[str, float]:
    runner: Callable[[Any], Any]
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    result: dict[str, float] = runner(receive(phase, settings))
    return result


# --- the ceiling ---------------------------------------------------------------------------------


def ceiling(chunks: list[bytes], events: int) -> dict[str, float]:
    """Decode each chunk with msgpack and append its events to a file: nothing else."""
    with tempfile.TemporaryDirectory() as directory, open(Path(directory) / "events.log", "w") as file:
        started = time.perf_counter()
        for chunk in chunks:
            _, stream, _ = msgpack.unpackb(chunk, raw=False)
            unpacker = msgpack.Unpacker(raw=False)
            unpacker.feed(stream)
            file.write("".join(f"{time.data.hex()} {record['log']}\n" for time, record in unpacker))
        file.flush()
        seconds = time.perf_counter() - started
    return {"events_per_s": round(events / seconds), "seconds": round(seconds, 3)}


def decode_only(chunks: list[bytes], events: int) -> dict[str, float]:
    """The receiver's decoding of the same chunks, without sockets or asyncio."""
    now = time.time
    started = time.perf_counter()
    decoded = 0
    for chunk in chunks:
        unpacker = msgpack.Unpacker(raw=False)
        unpacker.feed(chunk)
        _, batch, _ = decode_message(next(unpacker), now)
        decoded += len(batch)
    seconds = time.perf_counter() - started
    assert decoded == events
    return {"events_per_s": round(events / seconds), "seconds": round(seconds, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--chunk-events", type=int, default=1000)
    parser.add_argument("--log-bytes", type=int, default=100)
    parser.add_argument("--window", type=int, default=4, help="PackedForward chunks in flight")
    parser.add_argument("--line-events", type=int, default=50_000, help="events in the Message-mode phases")
    parser.add_argument(
        "--line-connections", type=int, default=8, help="containers at once in message_ack_per_line_parallel"
    )
    parser.add_argument("--out", type=Path)
    arguments = parser.parse_args()

    pinned = pin(RECEIVER_CPU)
    packed = {
        "events": arguments.events,
        "chunk_events": arguments.chunk_events,
        "log_bytes": arguments.log_bytes,
        "window": arguments.window,
    }
    lines = {
        "events": arguments.line_events,
        "log_bytes": arguments.log_bytes,
        "connections": arguments.line_connections,
    }
    chunks = packed_chunks(arguments.events, arguments.chunk_events, arguments.log_bytes)

    results: dict[str, Any] = {
        "benchmark": "logs_forward",
        "python": platform.python_version(),
        "msgpack": ".".join(map(str, msgpack.version)),
        "cpus": os.cpu_count(),
        "pinned": pinned,
        "events": arguments.events,
        "chunk_events": arguments.chunk_events,
        "log_bytes": arguments.log_bytes,
        "chunk_bytes": round(sum(map(len, chunks)) / len(chunks)),
        "window": arguments.window,
    }
    results["ceiling_decode_and_append"] = ceiling(chunks, arguments.events)
    results["decode_only"] = decode_only(chunks, arguments.events)
    results["packed_forward"] = run_receiver("packed_forward", packed)
    results["message_ack_per_line"] = run_receiver("message_ack_per_line", lines)
    results["message_ack_per_line_parallel"] = run_receiver("message_ack_per_line_parallel", lines)
    results["message_streamed"] = run_receiver("message_streamed", lines)
    results["ratio_to_ceiling"] = round(
        results["packed_forward"]["events_per_s"] / results["ceiling_decode_and_append"]["events_per_s"], 3
    )
    if not pinned:
        results["flags"] = ["not pinned: fewer than two CPUs; receiver and sender share them"]
    text = json.dumps(results, indent=2)
    print(text)
    if arguments.out:
        arguments.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
