"""CloudWatch Logs: events per second in through Fluent Forward and through PutLogEvents, and
FilterLogEvents latency over a million events, each beside a reference measured in the same run.

One ``python -m ecsbox up --port P --data-dir D`` serves every phase, started as a user starts it
(``ECSBOX_FORWARD_PORT`` set to a free port so that we know where its Forward receiver listens).
Phases (``--only`` picks some, comma-separated; all by default):

``forward``  A sender process (``--connections`` TCP connections, one thread each, every frame
             encoded before the clock starts) sends ``--forward-events`` records as PackedForward
             chunks of 1,000 records, each record what Docker's fluentd driver sends (a ~100-byte
             ``log``, ``source``, ``container_id``, ``container_name``; EventTime timestamps), with
             the ``chunk`` option, and waits for each chunk's ack before the next one on its
             connection. The tag is an awslogs route (``ecsbox.core.log_routes``) to the group
             ``/bench-forward`` (created first with CreateLogGroup), one stream per connection.
             Timed from the first send to the last ack; then every event is counted in the
             store (sqlite3 on ``D/ecsbox.db``, read-only) and DescribeLogStreams / GetLogEvents
             show the streams and their first event. ecsbox's CPU seconds (its process and any
             children, from ``/proc``) and the host's are reported beside the rate.
             Reference, the ceiling: the same frames, in one process, only decoded with
             ``msgpack.Unpacker`` and appended to a file (timestamp and ``log`` per line; one
             fsync at the end), best of three. Aim: 100,000 events/s through Forward on two cores.

``put``      PutLogEvents from ``--put-threads`` threads, one boto3 client and one stream each,
             batches of 10,000 events (76-byte messages: with AWS's 26 bytes per event, the most
             that fits the 1,048,576-byte batch limit; 100-byte messages would not), until
             ``--put-events`` events. Into the same ecsbox (events counted in the store
             afterwards), then into moto's server (``python -m moto.server``), the peer reference,
             when it is installed (``pip install -e '.[bench]'``). boto3's parameter validation
             is off on this client: it would cost the client more than the servers.

``filter``   ``--filter-events`` (1,000,000) JSON messages of ~100 bytes (``level`` ERROR in 1 %,
             ``latency`` 0-999) over ten streams and the last hour, seeded through PutLogEvents
             (``--seed put``, the faster of the two here: about 210,000 events/s against 170,000
             through Forward, which ``--seed forward`` uses; the seed's rate is reported too).
             FilterLogEvents latency, ``--filter-calls`` calls after one warm-up each, p50 / p90 in
             ms, of the first page of: no pattern; the term ``ERROR``; ``{ $.latency > 990 }``; the
             last minute (startTime / endTime); one stream by name. Then the total time to page
             through every match of the term.
             The latency is the user's: boto3's call, its parsing of the answer included.
             Reference: the same messages held in memory as (timestamp, stream, message) in time
             order, one plain Python loop (``in`` for the term, ``json.loads`` and a comparison
             for the JSON pattern; no index, so the time window and the stream are a scan from
             the start too) until it has found the events ecsbox's page returned, which must be
             the same events; the paging total is compared with one loop over every message.

Nothing is pinned: ecsbox, the sender or boto3 client, and moto share the machine's CPUs, so CPU
seconds are reported beside every rate. Ctrl-C or SIGTERM stops the servers and the sender and
removes the data directories; the partial results are printed.

Prints one JSON document (machine, settings, results, ratios, flags).

    python benchmarks/logs.py                     # everything, about 2 minutes
    python benchmarks/logs.py --only filter --filter-events 200000 --out benchmarks/out/logs.json
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import platform
import resource
import select
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgpack

from harness import (
    CLOCK_TICKS,
    Server,
    free_port,
    host_busy_s,
    make_server,
    missing_dependency,
    percentile,
    print_report,
    rounded,
    sigterm_as_interrupt,
    version_of,
)

PHASES = ("forward", "put", "filter")
REGION = "us-east-1"
ACCOUNT_ID = "000000000000"  # ecsbox's default account, which a key that is not 12 digits gets
ACCESS_KEY_ID = "AKIAECSBOXBENCH00003"
SECRET_ACCESS_KEY = "ecsbox-benchmark-secret-access-key-0003"

FORWARD_GROUP = "/bench-forward"
PUT_GROUP = "/bench-put"
FILTER_GROUP = "/bench-filter"
CHUNK_EVENTS = 1_000
LOG_BYTES = 100
PUT_BATCH_EVENTS = 10_000
PUT_MESSAGE_BYTES = 76  # 10,000 x (76 + 26) = 1,020,000 <= 1,048,576
MAX_BATCH_BYTES = 1_048_576  # PutLogEvents: the sum of (message bytes + 26)
FILTER_STREAMS = 10
FILTER_SPAN_MS = 3_600_000  # the seeded events cover the last hour
TERM = "ERROR"
JSON_PATTERN = "{ $.latency > 990 }"
FORWARD_GOAL = 100_000

READY_LIMIT_S = 300.0  # the sender encodes its frames
SEND_LIMIT_S = 900.0
PUT_LIMIT_S = 120.0  # per server: a slow one cannot stall the run
CONTAINER_ID = "3f4e2a1b" * 8
FILLER = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut " * 2
MASK64 = (1 << 64) - 1


# ---- the records, the same in every process that makes them -----------------------------------------


def mix(i: int) -> int:
    """A well-spread 64-bit hash of ``i`` (splitmix64's finaliser), so that ERROR and latency look
    random yet every process derives the same messages."""
    h = ((i + 1) * 0x9E3779B97F4A7C15) & MASK64
    h = ((h ^ (h >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    h = ((h ^ (h >> 27)) * 0x94D049BB133111EB) & MASK64
    return h ^ (h >> 31)


def plain_line(i: int, width: int) -> str:
    """An access-log-like line of exactly ``width`` characters."""
    head = f"{i:010d} INFO GET /api/v1/items/{i % 100_000:05d} 200 latency_ms={i % 997} "
    return (head + FILLER)[:width]


def json_line(i: int) -> str:
    """About 100 bytes of JSON: ``level`` ERROR for ~1 % of ``i``, ``latency`` 0-999."""
    h = mix(i)
    level = "ERROR" if h % 100 == 0 else "INFO"
    latency = (h >> 16) % 1000
    return (
        f'{{"level":"{level}","latency":{latency},"path":"/api/v1/items/{i % 1_000_000:06d}",'
        f'"request_id":"req-{i:010d}","status":200}}'
    )


@dataclass(frozen=True)
class SendPlan:
    """What goes over Forward: event ``i`` (0 <= i < events, in time order) is sent on connection
    ``i % connections``, which carries the tag of one stream, in chunks of ``chunk_events``."""

    kind: str  # "plain" or "json"
    events: int
    connections: int
    chunk_events: int
    base_ms: int
    span_ms: int
    tags: tuple[str, ...]
    host: str = "127.0.0.1"
    port: int = 0

    def timestamp_ms(self, i: int) -> int:
        return self.base_ms + i * self.span_ms // self.events

    def message(self, i: int) -> str:
        return json_line(i) if self.kind == "json" else plain_line(i, LOG_BYTES)


def event_time(ms: int) -> msgpack.ExtType:
    """Fluent's EventTime; half a millisecond in, so that float seconds x 1000 floors to ``ms``."""
    return msgpack.ExtType(0, struct.pack(">II", ms // 1000, (ms % 1000) * 1_000_000 + 500_000))


Frame = tuple[bytes, str, int]  # the Forward message, its chunk id, its number of events


def connection_frames(plan: SendPlan, connection: int) -> list[Frame]:
    """The PackedForward messages connection ``connection`` sends, in order."""
    indices = range(connection, plan.events, plan.connections)
    tag = plan.tags[connection]
    pack = msgpack.Packer(use_bin_type=True).pack
    frames: list[Frame] = []
    for start in range(0, len(indices), plan.chunk_events):
        chunk = indices[start : start + plan.chunk_events]
        packed = b"".join(
            pack(
                [
                    event_time(plan.timestamp_ms(i)),
                    {
                        "container_id": CONTAINER_ID,
                        "container_name": "/c",
                        "source": "stdout",
                        "log": plan.message(i),
                    },
                ]
            )
            for i in chunk
        )
        # Random, as Fluent clients make them: the receiver may take a chunk id it has seen for a
        # resent chunk, and acknowledge it without storing its events again.
        chunk_id = base64.b64encode(os.urandom(16)).decode()
        option = {"chunk": chunk_id, "size": len(chunk)}
        frames.append((pack([tag, packed, option]), chunk_id, len(chunk)))
    return frames


def route_tag(group: str, stream: str) -> str:
    from ecsbox.core.log_routes import LogRoute, encode_route

    return encode_route(LogRoute("awslogs", ACCOUNT_ID, REGION, group, stream, "c", "t", {}))


# ---- the sender process (``logs.py --sender``): spec on stdin, "ready", "go", JSON result ----------


def send_connection(
    sock: socket.socket, frames: list[Frame], go: threading.Event, result: dict[str, Any]
) -> None:
    unpacker = msgpack.Unpacker(raw=False)
    acked = 0
    go.wait()
    result["first_send"] = time.perf_counter()
    try:
        for frame, chunk_id, count in frames:
            sock.sendall(frame)
            ack = None
            while ack is None:
                ack = next(unpacker, None)
                if ack is None:
                    data = sock.recv(65_536)
                    if not data:
                        raise ConnectionError("ecsbox closed the connection before the ack")
                    unpacker.feed(data)
            if ack != {"ack": chunk_id}:
                raise RuntimeError(f"expected the ack of {chunk_id!r}, got {ack!r}")
            acked += count
    except Exception as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        result["last_ack"] = time.perf_counter()
        result["acked"] = acked


def sender_main() -> int:
    # A Ctrl-C at the terminal reaches this process too: the benchmark stops it, quietly.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    spec = json.loads(sys.stdin.readline())
    plan = SendPlan(**{**spec, "tags": tuple(spec["tags"])})
    frames = [connection_frames(plan, c) for c in range(plan.connections)]
    sockets = []
    for _ in frames:
        sock = socket.create_connection((plan.host, plan.port), timeout=120)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sockets.append(sock)
    go = threading.Event()
    results: list[dict[str, Any]] = [{} for _ in frames]
    threads = [
        threading.Thread(target=send_connection, args=(sock, mine, go, out), daemon=True)
        for sock, mine, out in zip(sockets, frames, results, strict=True)
    ]
    for thread in threads:
        thread.start()
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return 1
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    go.set()
    for thread in threads:
        thread.join()
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    for sock in sockets:
        sock.close()
    summary = {
        "seconds": max(r["last_ack"] for r in results) - min(r["first_send"] for r in results),
        "acked": sum(r["acked"] for r in results),
        "chunks": sum(len(mine) for mine in frames),
        "sender_cpu_s": (cpu_after.ru_utime + cpu_after.ru_stime)
        - (cpu_before.ru_utime + cpu_before.ru_stime),
        "errors": [r["error"] for r in results if "error" in r],
    }
    print(json.dumps(summary), flush=True)
    return 0


class Sender:
    """The sender process: started, its frames encoded and connected, then told to go."""

    def __init__(self, plan: SendPlan) -> None:
        command = [sys.executable, str(Path(__file__).resolve()), "--sender"]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            self.process.stdin.write(json.dumps(asdict(plan)) + "\n")
            self.process.stdin.flush()
            readable, _, _ = select.select([self.process.stdout], [], [], READY_LIMIT_S)
            line = self.process.stdout.readline() if readable else ""
            if line.strip() != "ready":
                raise RuntimeError(f"the sender did not get ready (exit status {self.process.poll()})")
        except BaseException:
            self.stop()
            raise

    def run(self) -> dict[str, Any]:
        output, _ = self.process.communicate("go\n", timeout=SEND_LIMIT_S)
        if self.process.returncode != 0 or not output.strip():
            raise RuntimeError(f"the sender failed (exit status {self.process.returncode})")
        result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
        return result

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


def send(plan: SendPlan, meter_pid: int | None) -> dict[str, Any]:
    sender = Sender(plan)
    try:
        meter = CpuMeter(meter_pid)
        result = sender.run()
        result.update(meter.read())
    finally:
        sender.stop()
    return result


# ---- CPU accounting ------------------------------------------------------------------------------------


def tree_cpu_s(root: int) -> float:
    """CPU seconds of ``root`` and its live descendants, and of the children they reaped."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        times[int(entry)] = sum(int(x) for x in fields[11:15]) / CLOCK_TICKS  # utime stime cutime cstime
    total, wanted = 0.0, {root}
    for pid in sorted(parents):  # a child has a larger pid than its parent, short of pid wrap-around
        if pid == root or parents[pid] in wanted:
            wanted.add(pid)
            total += times[pid]
    return total


class CpuMeter:
    """CPU seconds from its creation to :meth:`read`: the host's, and the server's process tree."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        self.host = host_busy_s()
        self.server = tree_cpu_s(pid) if pid else 0.0

    def read(self, name: str = "server") -> dict[str, float]:
        result = {"host_cpu_busy_s": round(host_busy_s() - self.host, 2)}
        if self.pid:
            result[f"{name}_cpu_s"] = round(tree_cpu_s(self.pid) - self.server, 2)
        return result


# ---- the servers -----------------------------------------------------------------------------------------


def logs_client(endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "logs",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
        config=Config(
            retries={"total_max_attempts": 1},
            connect_timeout=5,
            read_timeout=300,
            parameter_validation=False,
            max_pool_connections=32,
        ),
    )


class Box:
    """The ecsbox server under test, and where its Forward receiver and database are."""

    def __init__(self, workdir: Path) -> None:
        self.server = make_server("ecsbox", workdir)
        self.server.env["ECSBOX_FORWARD_PORT"] = str(free_port())
        self.data_dir = Path(self.server.command[self.server.command.index("--data-dir") + 1])
        self.forward_port = 0
        self.client: Any = None

    def start(self, workdir: Path) -> None:
        self.server.start(workdir, pin=False)
        self.client = logs_client(self.server.endpoint)
        with self.db() as db:  # where it listens, should the port have been taken meanwhile
            row = db.execute("SELECT value FROM ecsbox_meta WHERE key = 'forward_port'").fetchone()
        self.forward_port = int(row[0]) if row else int(self.server.env["ECSBOX_FORWARD_PORT"])

    @property
    def pid(self) -> int | None:
        return self.server.process.pid if self.server.process else None

    @contextlib.contextmanager
    def db(self) -> Any:
        path = self.data_dir / "ecsbox.db"
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as db:
            yield db

    def stored(self, group: str) -> dict[str, int]:
        """Events in the store per stream of ``group``."""
        query = (
            "SELECT s.name, count(*) FROM log_events e JOIN log_streams s ON s.id = e.stream_id "
            "JOIN log_groups g ON g.id = s.group_id WHERE g.name = ? AND g.account_id = ? "
            "AND g.region = ? GROUP BY s.name"
        )
        with self.db() as db:
            return {name: count for name, count in db.execute(query, (group, ACCOUNT_ID, REGION))}

    def event_loop_lag(self) -> Any:
        try:
            with urllib.request.urlopen(f"{self.server.endpoint}/_ecsbox/health", timeout=5) as response:
                return json.load(response).get("event_loop_lag")
        except OSError:
            return None


# ---- forward ---------------------------------------------------------------------------------------------


def forward_plan(box: Box, group: str, kind: str, events: int, connections: int, span_ms: int) -> SendPlan:
    prefix = "f" if kind == "json" else "s"
    return SendPlan(
        kind=kind,
        events=events,
        connections=connections,
        chunk_events=CHUNK_EVENTS,
        base_ms=int(time.time() * 1000) - span_ms,
        span_ms=span_ms,
        tags=tuple(route_tag(group, f"{prefix}-{c}") for c in range(connections)),
        port=box.forward_port,
    )


def ingest(box: Box, plan: SendPlan, group: str) -> dict[str, Any]:
    """Send ``plan`` through Forward into ``group`` (created here) and check what was stored."""
    box.client.create_log_group(logGroupName=group)
    sent = send(plan, box.pid)
    stored = box.stored(group)
    rate = sent["acked"] / sent["seconds"] if sent["seconds"] else None
    cpu = sent.get("server_cpu_s")
    result: dict[str, Any] = {
        "events_per_s": rounded(rate, 0),
        "seconds": rounded(sent["seconds"], 3),
        "events_acked": sent["acked"],
        "chunks": sent["chunks"],
        "ecsbox_cpu_s": cpu,
        "events_per_ecsbox_cpu_s": rounded(sent["acked"] / cpu, 0) if cpu else None,
        "ecsbox_cores_busy": rounded(cpu / sent["seconds"], 2) if cpu and sent["seconds"] else None,
        "host_cpu_busy_s": sent["host_cpu_busy_s"],
        "sender_cpu_s": rounded(sent["sender_cpu_s"], 2),
        "events_stored": sum(stored.values()),
        "verified": sent["acked"] == plan.events == sum(stored.values()) and not sent["errors"],
    }
    if sent["errors"]:
        result["errors"] = sent["errors"]
    return result


def check_streams(box: Box, plan: SendPlan, group: str) -> str | None:
    """What DescribeLogStreams and GetLogEvents show that they should not; None when all is right."""
    streams = box.client.describe_log_streams(logGroupName=group)["logStreams"]
    names = sorted(stream["logStreamName"] for stream in streams)
    prefix = "f" if plan.kind == "json" else "s"
    wanted = sorted(f"{prefix}-{c}" for c in range(plan.connections))
    if names != wanted:
        return f"DescribeLogStreams lists {names}, not {wanted}"
    first = box.client.get_log_events(
        logGroupName=group, logStreamName=wanted[0], startFromHead=True, limit=1
    )["events"]
    expected = (plan.timestamp_ms(0), plan.message(0))
    if not first or (first[0]["timestamp"], first[0]["message"]) != expected:
        return f"GetLogEvents' first event of {wanted[0]} is {first[:1]}, not {expected}"
    return None


def ceiling(plan: SendPlan, workdir: Path, runs: int = 3) -> dict[str, Any]:
    """The same frames decoded with msgpack and appended to a file, in this one process."""
    frames = [frame for c in range(plan.connections) for frame, _, _ in connection_frames(plan, c)]

    def decode_time(code: int, data: bytes) -> Any:
        if code == 0:
            seconds, nanoseconds = struct.unpack(">II", data)
            return seconds + nanoseconds / 1e9
        return msgpack.ExtType(code, data)

    samples: list[float] = []
    written = 0
    for run in range(runs):
        path = workdir / f"ceiling-{run}.log"
        events = 0
        started = time.perf_counter()
        with path.open("a", encoding="utf-8") as out:
            messages = msgpack.Unpacker(raw=False, ext_hook=decode_time, max_buffer_size=16 << 20)
            for frame in frames:
                messages.feed(frame)
                for _tag, packed, _option in messages:
                    entries = msgpack.Unpacker(raw=False, ext_hook=decode_time, max_buffer_size=16 << 20)
                    entries.feed(packed)
                    lines = [f"{int(t * 1000)}\t{record['log']}\n" for t, record in entries]
                    out.write("".join(lines))
                    events += len(lines)
            out.flush()
            os.fsync(out.fileno())
        samples.append(time.perf_counter() - started)
        written = path.stat().st_size
        path.unlink()
        if events != plan.events:
            raise RuntimeError(f"the ceiling decoded {events} events, not {plan.events}")
    best = min(samples)
    return {
        "events_per_s": round(plan.events / best),
        "seconds": rounded(best, 3),
        "samples_s": [rounded(s, 3) for s in samples],
        "bytes_written": written,
        "frame_bytes": sum(len(frame) for frame in frames),
    }


def phase_forward(box: Box, args: argparse.Namespace, workdir: Path, report: dict[str, Any]) -> None:
    plan = forward_plan(box, FORWARD_GROUP, "plain", args.forward_events, args.connections, 60_000)
    print(f"[forward] {plan.events:,} events over {plan.connections} connections", file=sys.stderr)
    report["ecsbox"] = ingest(box, plan, FORWARD_GROUP)
    report["ecsbox"]["event_loop_lag"] = box.event_loop_lag()
    if problem := check_streams(box, plan, FORWARD_GROUP):
        report["ecsbox"]["verified"] = False
        report["ecsbox"]["problem"] = problem
    print("[forward] ceiling: msgpack decode + append to a file", file=sys.stderr)
    report["ceiling"] = ceiling(plan, workdir)
    ours = report["ecsbox"]["events_per_s"]
    report["ratio_to_ceiling"] = rounded(ours / report["ceiling"]["events_per_s"]) if ours else None
    report["goal"] = f"{FORWARD_GOAL:,} events/s through Forward on two cores"
    report["goal_met"] = None if ours is None else ours >= FORWARD_GOAL


# ---- put -------------------------------------------------------------------------------------------------


Batch = list[dict[str, Any]]
Job = list[tuple[str, Batch]]  # what one thread puts: (stream, batch), in order


def put_jobs(events: int, threads: int) -> list[Job]:
    """Per thread, its stream's batches of 10,000 events, one millisecond apart, ending now."""
    base = int(time.time() * 1000) - events - 1000
    jobs: list[Job] = [[] for _ in range(threads)]
    for number, start in enumerate(range(0, events, PUT_BATCH_EVENTS)):
        batch = [
            {"timestamp": base + i, "message": plain_line(i, PUT_MESSAGE_BYTES)}
            for i in range(start, min(events, start + PUT_BATCH_EVENTS))
        ]
        jobs[number % threads].append((f"p-{number % threads}", batch))
    return jobs


def seed_jobs(plan: SendPlan, threads: int) -> list[Job]:
    """The events of ``plan`` as PutLogEvents batches: each stream's events in time order, as many
    per batch as AWS's limits allow; a stream's batches all go through one thread."""
    jobs: list[Job] = [[] for _ in range(threads)]
    for connection in range(plan.connections):
        stream = f"f-{connection}"
        batch: Batch = []
        size = 0
        for i in range(connection, plan.events, plan.connections):
            message = plan.message(i)
            if len(batch) == PUT_BATCH_EVENTS or size + len(message) + 26 > MAX_BATCH_BYTES:
                jobs[connection % threads].append((stream, batch))
                batch, size = [], 0
            batch.append({"timestamp": plan.timestamp_ms(i), "message": message})
            size += len(message) + 26
        if batch:
            jobs[connection % threads].append((stream, batch))
    return jobs


def put_worker(client: Any, group: str, job: Job, go: threading.Barrier, out: dict[str, Any]) -> None:
    out.update(accepted=0, rejected_batches=0, errors=[])
    go.wait()
    out["started"] = time.perf_counter()
    deadline = out["started"] + PUT_LIMIT_S
    for stream, batch in job:
        if time.perf_counter() > deadline:
            out["errors"].append(f"stopped after {PUT_LIMIT_S:g} s")
            break
        try:
            answer = client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)
        except Exception as exc:
            out["errors"].append(f"{type(exc).__name__}: {exc}"[:300])
            continue
        if answer.get("rejectedLogEventsInfo"):
            out["rejected_batches"] += 1
        else:
            out["accepted"] += len(batch)
    out["ended"] = time.perf_counter()


def put_parallel(
    endpoint: str, pid: int | None, group: str, jobs: list[Job], warm: bool = True
) -> dict[str, Any]:
    """Create ``group`` and its streams, with ``warm`` put one event through each client (not
    counted), then run ``jobs``, one thread and boto3 client each, from a common start."""
    clients = [logs_client(endpoint) for _ in jobs]
    clients[0].create_log_group(logGroupName=group)
    for stream in sorted({stream for job in jobs for stream, _ in job}):
        clients[0].create_log_stream(logGroupName=group, logStreamName=stream)
    for client, job in zip(clients, jobs, strict=True):  # each client's connection, warm
        if warm and job:
            event = {"timestamp": job[0][1][0]["timestamp"], "message": "warm-up"}
            client.put_log_events(logGroupName=group, logStreamName=job[0][0], logEvents=[event])
    go = threading.Barrier(len(jobs) + 1)
    outs: list[dict[str, Any]] = [{} for _ in jobs]
    threads = [
        threading.Thread(target=put_worker, args=(client, group, job, go, out), daemon=True)
        for client, job, out in zip(clients, jobs, outs, strict=True)
    ]
    for thread in threads:
        thread.start()
    meter = CpuMeter(pid)
    client_cpu = time.process_time()
    go.wait()
    for thread in threads:
        thread.join()
    cpu = meter.read()
    seconds = max(out["ended"] for out in outs) - min(out["started"] for out in outs)
    accepted = sum(out["accepted"] for out in outs)
    server_cpu = cpu.get("server_cpu_s")
    result: dict[str, Any] = {
        "events_per_s": rounded(accepted / seconds, 0) if accepted else None,
        "seconds": rounded(seconds, 3),
        "events_accepted": accepted,
        "server_cpu_s": server_cpu,
        "events_per_server_cpu_s": rounded(accepted / server_cpu, 0) if server_cpu else None,
        "server_cores_busy": rounded(server_cpu / seconds, 2) if server_cpu and seconds else None,
        "host_cpu_busy_s": cpu["host_cpu_busy_s"],
        "client_cpu_s": rounded(time.process_time() - client_cpu, 2),
    }
    if rejected := sum(out["rejected_batches"] for out in outs):
        result["rejected_batches"] = rejected
    if errors := [error for out in outs for error in out["errors"]]:
        result["errors"] = errors[:5]
    return result


def as_ecsbox(result: dict[str, Any], box: Box, group: str, expected: int, warm: int) -> dict[str, Any]:
    """``result`` with ecsbox's names, and the events its store holds (less ``warm`` warm-ups)."""
    result["ecsbox_cpu_s"] = result.pop("server_cpu_s")
    result["events_per_ecsbox_cpu_s"] = result.pop("events_per_server_cpu_s")
    result["ecsbox_cores_busy"] = result.pop("server_cores_busy")
    stored = sum(box.stored(group).values()) - warm
    result["events_stored"] = stored
    result["verified"] = stored == result["events_accepted"] == expected and not result.get("errors")
    return result


def phase_put(
    box: Box, args: argparse.Namespace, workdir: Path, report: dict[str, Any], started: list[Server]
) -> None:
    print(f"[put] ecsbox: {args.put_events:,} events, {args.put_threads} threads", file=sys.stderr)
    jobs = put_jobs(args.put_events, args.put_threads)
    ours = put_parallel(box.server.endpoint, box.pid, PUT_GROUP, jobs)
    report["ecsbox"] = as_ecsbox(ours, box, PUT_GROUP, args.put_events, sum(1 for job in jobs if job))
    ours["event_loop_lag"] = box.event_loop_lag()
    if args.no_moto:
        return
    if missing := missing_dependency("moto"):
        report["moto"] = {"error": missing}
        return
    moto = make_server("moto", workdir)
    started.append(moto)
    print(f"[put] moto: starting on port {moto.port}", file=sys.stderr)
    try:
        moto.start(workdir, pin=False)
        pid = moto.process.pid if moto.process else None
        report["moto"] = {"version": version_of("moto"), **put_parallel(moto.endpoint, pid, PUT_GROUP, jobs)}
        report["moto"]["verified"] = "from its answers only (no rejectedLogEventsInfo, no errors)"
    except Exception as exc:
        report["moto"] = {"error": f"{type(exc).__name__}: {exc}", "log_tail": moto.log_tail()}
    finally:
        moto.stop()


# ---- filter ----------------------------------------------------------------------------------------------

Row = tuple[int, str, str]  # timestamp, stream, message


@dataclass(frozen=True)
class Query:
    name: str
    params: dict[str, Any]
    kind: str  # how the reference loop matches: all, term, json, window, stream
    argument: Any = None


def queries(rows: list[Row]) -> list[Query]:
    last = rows[-1][0]
    return [
        Query("no_pattern", {}, "all"),
        Query("term_1pct", {"filterPattern": TERM}, "term", TERM),
        Query("json_latency_gt_990", {"filterPattern": JSON_PATTERN}, "json", 990),
        Query("last_minute", {"startTime": last - 60_000, "endTime": last}, "window", (last - 60_000, last)),
        Query("one_stream", {"logStreamNames": ["f-3"]}, "stream", "f-3"),
    ]


def reference_scan(rows: list[Row], query: Query, want: int) -> list[str]:
    """One plain loop over the messages in time order, until ``want`` matches (all: ``want`` < 0)."""
    found: list[str] = []
    append = found.append
    kind, argument = query.kind, query.argument
    if kind == "all":
        for _ts, _stream, message in rows:
            append(message)
            if len(found) == want:
                break
    elif kind == "term":
        for _ts, _stream, message in rows:
            if argument in message:
                append(message)
                if len(found) == want:
                    break
    elif kind == "json":
        for _ts, _stream, message in rows:
            latency = json.loads(message).get("latency")
            if isinstance(latency, int | float) and latency > argument:
                append(message)
                if len(found) == want:
                    break
    elif kind == "window":
        low, high = argument
        for ts, _stream, message in rows:
            if low <= ts <= high:
                append(message)
                if len(found) == want:
                    break
    elif kind == "stream":
        for _ts, stream, message in rows:
            if stream == argument:
                append(message)
                if len(found) == want:
                    break
    return found


def timed(call: Callable[[], Any], runs: int) -> tuple[list[float], Any]:
    samples, value = [], None
    for _ in range(runs):
        started = time.perf_counter()
        value = call()
        samples.append(time.perf_counter() - started)
    return samples, value


def phase_filter(box: Box, args: argparse.Namespace, report: dict[str, Any]) -> None:
    events = args.filter_events
    span = max(FILTER_SPAN_MS, events)  # distinct timestamps: one order, whoever sorts
    plan = forward_plan(box, FILTER_GROUP, "json", events, FILTER_STREAMS, span)
    print(f"[filter] seeding {events:,} events through {args.seed}", file=sys.stderr)
    if args.seed == "forward":
        report["seed"] = {"path": "forward", **ingest(box, plan, FILTER_GROUP)}
    else:
        jobs = seed_jobs(plan, args.put_threads)
        seeded = put_parallel(box.server.endpoint, box.pid, FILTER_GROUP, jobs, warm=False)
        report["seed"] = {"path": "PutLogEvents", **as_ecsbox(seeded, box, FILTER_GROUP, events, 0)}
    if not report["seed"]["verified"]:
        raise RuntimeError(f"seeding stored {report['seed']['events_stored']} of {events} events")
    rows: list[Row] = [
        (plan.timestamp_ms(i), f"f-{i % FILTER_STREAMS}", plan.message(i)) for i in range(events)
    ]
    client = box.client
    results: dict[str, Any] = {}
    report["first_page"] = results
    for query in queries(rows):
        print(f"[filter] {query.name}: {args.filter_calls} calls", file=sys.stderr)

        def call(query: Query = query) -> Any:
            return client.filter_log_events(logGroupName=FILTER_GROUP, **query.params)

        call()  # warm-up
        samples, answer = timed(call, args.filter_calls)
        got = [event["message"] for event in answer["events"]]
        reference_samples, expected = timed(lambda: reference_scan(rows, query, len(got)), 3)  # noqa: B023
        samples_ms = sorted(s * 1000 for s in samples)
        reference_ms = min(reference_samples) * 1000
        p50 = percentile(samples_ms, 0.5)
        results[query.name] = {
            "params": query.params,
            "p50_ms": rounded(p50, 1),
            "p90_ms": rounded(percentile(samples_ms, 0.9), 1),
            "events_returned": len(got),
            "next_token": "nextToken" in answer,
            "reference_ms": rounded(reference_ms, 1),
            "ratio_p50_to_reference": rounded(p50 / reference_ms if p50 and reference_ms else None, 1),
            "same_events_as_reference": got == expected and bool(got),
        }
    print(f"[filter] paging through every match of {TERM!r}", file=sys.stderr)
    term = queries(rows)[1]
    started = time.perf_counter()
    pages, matched, token = 0, 0, None
    while True:
        params = {
            "logGroupName": FILTER_GROUP,
            "filterPattern": TERM,
            **({"nextToken": token} if token else {}),
        }
        answer = client.filter_log_events(**params)
        pages += 1
        matched += len(answer["events"])
        token = answer.get("nextToken")
        if not token:
            break
    total = time.perf_counter() - started
    reference_samples, expected = timed(lambda: reference_scan(rows, term, -1), 3)
    reference = min(reference_samples)
    report["page_through_term"] = {
        "seconds": rounded(total, 3),
        "pages": pages,
        "events_matched": matched,
        "reference_full_scan_s": rounded(reference, 3),
        "reference_matches": len(expected),
        "ratio_to_reference": rounded(total / reference, 1),
        "same_count_as_reference": matched == len(expected),
    }


# ---- the run ---------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", default=",".join(PHASES), help="comma-separated phases: forward,put,filter")
    parser.add_argument("--forward-events", type=int, default=1_000_000, help="events sent (1,000,000)")
    parser.add_argument("--connections", type=int, default=4, help="Forward connections and streams (4)")
    parser.add_argument("--put-events", type=int, default=1_000_000, help="PutLogEvents events per server")
    parser.add_argument("--put-threads", type=int, default=4, help="PutLogEvents threads and streams (4)")
    parser.add_argument("--no-moto", action="store_true", help="skip moto's server in the put phase")
    parser.add_argument("--filter-events", type=int, default=1_000_000, help="events searched (1,000,000)")
    parser.add_argument(
        "--seed", choices=("forward", "put"), default="put", help="how the filter phase's events go in (put)"
    )
    parser.add_argument("--filter-calls", type=int, default=10, help="FilterLogEvents calls per query (10)")
    parser.add_argument("--out", type=Path, help="also write the JSON document to this file")
    parser.add_argument("--sender", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    if unknown := set(args.only) - set(PHASES):
        parser.error(f"unknown phase(s) {sorted(unknown)}; choose from {', '.join(PHASES)}")
    for option in ("forward_events", "connections", "put_events", "put_threads", "filter_calls"):
        if getattr(args, option) < 1:
            parser.error(f"--{option.replace('_', '-')} must be at least 1")
    if args.filter_events < 100:
        parser.error("--filter-events must be at least 100")
    return args


def ratios(results: dict[str, Any]) -> dict[str, Any]:
    forward = results.get("forward", {})
    put = results.get("put", {})
    ours, moto = put.get("ecsbox", {}).get("events_per_s"), put.get("moto", {}).get("events_per_s")
    found: dict[str, Any] = {
        "forward_to_ceiling": forward.get("ratio_to_ceiling"),
        "put_ecsbox_to_moto": rounded(ours / moto) if ours and moto else None,
    }
    filtering = results.get("filter", {})
    for name, result in filtering.get("first_page", {}).items():
        found[f"filter_{name}_p50_to_reference"] = result["ratio_p50_to_reference"]
    if paging := filtering.get("page_through_term"):
        found["filter_page_through_term_to_reference"] = paging["ratio_to_reference"]
    return found


def check(results: dict[str, Any], flags: list[str]) -> None:
    """Flags for every result that did not verify."""
    forward = results.get("forward", {})
    if forward.get("ecsbox") and not forward["ecsbox"].get("verified"):
        flags.append(
            f"forward: not every event arrived ({forward['ecsbox'].get('problem', 'count differs')})"
        )
    if forward.get("goal_met") is False:
        flags.append(f"forward: below the aim of {FORWARD_GOAL:,} events/s")
    put = results.get("put", {})
    for name in ("ecsbox", "moto"):
        if (found := put.get(name)) and (found.get("errors") or found.get("rejected_batches")):
            flags.append(f"put {name}: errors or rejected events: {found.get('errors')}")
        if found and found.get("error"):
            flags.append(f"put {name}: {found['error']}")
    if put.get("ecsbox") and not put["ecsbox"].get("verified"):
        flags.append("put ecsbox: the store does not hold every event accepted")
    filtering = results.get("filter", {})
    for name, result in filtering.get("first_page", {}).items():
        if not result["same_events_as_reference"]:
            flags.append(f"filter {name}: ecsbox's page differs from the reference's")
    if (paging := filtering.get("page_through_term")) and not paging["same_count_as_reference"]:
        flags.append("filter: paging through the term found a different number of events")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.sender:
        return sender_main()
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"  # loopback only
    document: dict[str, Any] = {
        "benchmark": "logs",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "platform": platform.platform(),
            "python": platform.python_version(),
            "pinned": None,
            **{name: version_of(name) for name in ("ecsbox", "boto3", "msgpack", "moto")},
        },
        "settings": {
            "phases": args.only,
            "forward": {
                "events": args.forward_events,
                "connections": args.connections,
                "chunk_events": CHUNK_EVENTS,
                "log_bytes": LOG_BYTES,
                "acks": "each chunk's ack awaited before the next on its connection",
            },
            "put": {
                "events": args.put_events,
                "threads": args.put_threads,
                "batch_events": PUT_BATCH_EVENTS,
                "message_bytes": PUT_MESSAGE_BYTES,
            },
            "filter": {
                "events": args.filter_events,
                "streams": FILTER_STREAMS,
                "span_ms": max(FILTER_SPAN_MS, args.filter_events),
                "calls_per_query": args.filter_calls,
                "term": TERM,
                "json_pattern": JSON_PATTERN,
            },
        },
        "results": {},
    }
    results: dict[str, Any] = document["results"]
    flags: list[str] = []
    started: list[Server] = []
    interrupted = False
    with sigterm_as_interrupt(), tempfile.TemporaryDirectory(prefix="ecsbox-bench-logs-") as tmp:
        workdir = Path(tmp)
        box = Box(workdir)
        try:
            started.append(box.server)
            print(f"[ecsbox] starting on port {box.server.port}", file=sys.stderr)
            box.start(workdir)
            document["settings"]["ecsbox_command"] = box.server.command
            for phase in args.only:
                results[phase] = {}
                try:
                    if phase == "forward":
                        phase_forward(box, args, workdir, results[phase])
                    elif phase == "put":
                        phase_put(box, args, workdir, results[phase], started)
                    else:
                        phase_filter(box, args, results[phase])
                except Exception as exc:  # one phase failing keeps the others' numbers
                    results[phase]["error"] = f"{type(exc).__name__}: {exc}"
                    flags.append(f"{phase} failed: {type(exc).__name__}: {exc}")
                    if box.server.process is None or box.server.process.poll() is not None:
                        document["log_tail"] = box.server.log_tail()
                        break
        except KeyboardInterrupt:
            interrupted = True
        except Exception as exc:
            flags.append(f"run failed: {type(exc).__name__}: {exc}")
            document["log_tail"] = box.server.log_tail()
        finally:
            for server in started:
                server.stop()
    document["ratios"] = ratios(results)
    check(results, flags)
    flags.append("not pinned: ecsbox, the sender or client and moto share the machine's CPUs")
    return print_report(document, flags, interrupted, args.out)


if __name__ == "__main__":
    sys.exit(main())
