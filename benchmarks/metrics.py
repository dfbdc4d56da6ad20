"""CloudWatch metrics: PutMetricData datapoints per second, GetMetricData latency over 1,000 series x
1 week at 1-minute resolution, and the metrics collector's CPU cost per 100 containers, each beside a
reference measured in the same run.

Phases (``--only`` picks some, comma-separated; all by default):

``put``        PutMetricData through boto3 from ``--put-threads`` threads (one client each), batches
               of 1,000 datums (AWS's most per call), each datum one ``Value`` of one of
               ``--put-series`` metrics (``Bench/Put`` ``Latency``, dimension ``{"Host": "h0017"}``),
               timestamps spread over the last hour, ``--put-datapoints`` in all, every request
               built before the clock starts. Into a real ``python -m ecsbox up`` (fresh data
               directory), then into moto's server (``python -m moto.server``), the peer reference,
               when it is installed. Each client puts one datum first (not timed, another
               namespace). boto3 gzips these bodies (over 10 KB): one gzipped batch is sent to
               each server first (another namespace); a server that refuses it gets uncompressed
               bodies (``request_min_compression_size_bytes`` = 10 MiB) and a flag says so.
               Verified: ecsbox's store holds every datapoint sent (sqlite3, read-only: count and
               sum of SampleCount of the namespace's points), and GetMetricData (SampleCount,
               Period 3600) over every series sums to what was sent; on moto, GetMetricData's
               SampleCount of ten of the series is what was sent to each (its GetMetricData scans
               every datapoint per query: all 1,000 series would take minutes).
               Reported: datapoints/s, the server's CPU seconds (its process tree, from ``/proc``),
               the host's, and ecsbox/moto. Then the storage alone: ``MetricStore.put`` in this
               process (a ``Store`` on a temp SQLite file, ``WallClock``), the same datapoints in
               the same batches of 1,000, one after another; this process's CPU seconds beside it.

``query``      ``--query-series`` (1,000) series x ``--query-days`` (7) days x one point a minute
               (10,080,000 datapoints; ``Bench/Query`` ``Latency``, ``Host`` h0000..h0999), written
               with ``MetricStore.put`` into a fresh data directory in time order (every series'
               minute, then the next minute: as they arrive), 10,000 datums a put; the last point
               is the minute before the current wall-clock minute. The load's seconds and points/s
               are reported. Then ``python -m ecsbox up`` on that data directory (time scale 1: its
               clock is the wall clock) and, after one warm-up each, ``--query-calls`` calls of:
               a) GetMetricData, 500 MetricStat queries (Average, Period 3600, the week): as many
                  calls as it takes to cover every series (two for 1,000); figures per call;
               b) GetMetricData, one series, Period 60, the week (10,080 values; NextToken
                  followed when there is one);
               c) GetMetricStatistics, one series, Period 3600, the week, Average, Maximum and
                  SampleCount;
               d) GetMetricData, one series, ``p99``, Period 3600, the week.
               The latency is the user's: boto3's call, its parsing of the answer included; the
               server's CPU milliseconds per call beside it (its threads' ``schedstat``).
               Reference: the same answers from a plain SQL scan, Python's ``sqlite3`` on the same
               file, read-only (``file:...?mode=ro``), one connection kept open: each call looks
               the series ids up in ``metric_series`` (canonical dimensions JSON), then a) one
               ``GROUP BY series_id, hour`` of ``sum(sum) / sum(sample_count)`` over the 500 series,
               b) the series' points ordered by ``ts``, c) one ``GROUP BY hour`` of the three
               aggregates, d) the series' value counts fetched and the nearest-rank 99th percentile
               of each hour computed in Python. ecsbox's answers must equal the reference's
               (every timestamp; values within 1e-9 relative): a wrong answer is flagged.

``collector``  ``--containers`` (100) containers of the test busybox image (``sh -c 'sleep
               100000'``, labelled ``ecsbox.bench=metrics``) on the real Docker engine, described
               as one RUNNING task each (bridge network, EC2 launch type) of four services in a
               cluster with Container Insights enabled. The collector
               (``ecsbox.metrics.collector.Collector``) runs in this process, writing into a
               temp ``MetricStore`` and its performance events through ``LogIngest`` on the same
               temp store, with the machine's host probe; ticks at 20-second steps of its clock (the
               default 60-second resolution's sampling), so every third tick also reports a
               Container Insights period; one warm-up tick, then ``--ticks`` measured ticks,
               ``--tick-gap`` seconds apart. Measured per ``collect_once``: this process's CPU
               seconds (``getrusage(RUSAGE_SELF)``: every thread, the pools' included), its wall
               time, and the engine's CPU seconds (dockerd, containerd and the containers' shims,
               from ``/proc``); on the cgroup path (``CgroupReader``) and on the Docker stats path
               (the runtime port's ``stats``, concurrent). The snapshot is built once: the cost of
               reading it from ECS's tables is not in these figures.
               Reference: ``docker stats --no-stream`` over the same containers, ``--ticks`` times:
               its wall time, the docker CLI's CPU seconds and the engine's.
               Everything normalised to 100 containers. The containers are removed at the end,
               also after Ctrl-C or SIGTERM.

Nothing is pinned: the servers, boto3 and the engine share the machine's CPUs, so CPU seconds are
reported beside every rate. Ctrl-C or SIGTERM stops the servers, removes the containers and the data
directories; the partial results are printed. Prints one JSON document (machine, settings, results,
ratios, flags).

    python benchmarks/metrics.py                                  # everything, about 10 minutes
    python benchmarks/metrics.py --only query --query-series 100 --query-days 1
    python benchmarks/metrics.py --only collector --containers 20 --out benchmarks/out/metrics.json
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import json
import math
import os
import platform
import resource
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness import (
    CLOCK_TICKS,
    Server,
    host_busy_s,
    make_server,
    missing_dependency,
    percentile,
    print_report,
    rounded,
    sigterm_as_interrupt,
    version_of,
)

PHASES = ("put", "query", "collector")
REGION = "us-east-1"
ACCOUNT_ID = "000000000000"  # ecsbox's default account, which a key that is not 12 digits gets
PARTITION = (ACCOUNT_ID, REGION)
ACCESS_KEY_ID = "AKIAECSBOXBENCH00006"
SECRET_ACCESS_KEY = "ecsbox-benchmark-secret-access-key-0006"

METRIC_NAME = "Latency"
PUT_NAMESPACE = "Bench/Put"
PROBE_NAMESPACE = "Bench/Probe"  # the gzip probe and the warm-up datums: not counted
PROBE_METRIC_NAME = "Probe"  # a name of its own too: moto's GetMetricData ignores the namespace
QUERY_NAMESPACE = "Bench/Query"
PUT_BATCH = 1_000  # PutMetricData: the most datums per call
LOAD_BATCH = 10_000  # datums per MetricStore.put while loading the query phase's data
QUERIES_PER_CALL = 500  # GetMetricData: the most queries per call
NO_COMPRESSION = 10 * 1024 * 1024  # request_min_compression_size_bytes: botocore's maximum
MINUTE_S, HOUR_S, DAY_S = 60, 3_600, 86_400
RELATIVE_TOLERANCE = 1e-9
MOTO_CHECKED_SERIES = 10  # series whose SampleCount is checked on moto
PUT_LIMIT_S = 300.0  # per server: a slow one cannot stall the run

BENCH_LABEL = "ecsbox.bench"
RUN_LABEL = "ecsbox.bench.run"
COLLECTOR_STEP_S = 20.0  # the collector's sampling interval at the default 60-second resolution
SERVICES = 4
ENGINE_PROCESSES = ("dockerd", "containerd")


# ---- what is stored ---------------------------------------------------------------------------------


def host_name(series: int) -> str:
    return f"h{series:04d}"


def dimensions_json(host: str) -> str:
    """``metric_series.dimensions`` of one series (ecsbox's canonical text: sorted, compact)."""
    return json.dumps([["Host", host]], separators=(",", ":"))


def value_of(series: int, minute: int) -> float:
    """A datapoint's value: cheap, deterministic, spread over 0-1000.6 in steps of 0.1."""
    return ((series * 7_919 + minute * 104_729) % 10_007) / 10.0


def nearest_rank(values: list[float], p: float) -> float:
    """The nearest-rank ``p``-th percentile: the smallest value with at least p % at or below it.

    >>> nearest_rank([4.0, 1.0, 3.0, 2.0], 50), nearest_rank([4.0, 1.0, 3.0, 2.0], 99)
    (2.0, 4.0)
    """
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100.0 * len(ordered) - 1e-9))
    return ordered[rank - 1]


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=RELATIVE_TOLERANCE, abs_tol=0.0)


Series = list[tuple[float, float]]  # (timestamp, value), oldest first


def same_series(got: Series, expected: Series) -> bool:
    return len(got) == len(expected) and all(
        t1 == t2 and close(v1, v2) for (t1, v1), (t2, v2) in zip(got, expected, strict=True)
    )


# ---- CPU accounting -----------------------------------------------------------------------------------


def _proc_stat(pid: str) -> tuple[str, int, float] | None:
    """(command name, parent pid, CPU seconds with reaped children) of one process."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            text = stat.read()
    except OSError:
        return None
    name = text[text.index("(") + 1 : text.rindex(")")]
    fields = text.rsplit(")", 1)[1].split()
    return name, int(fields[1]), sum(int(x) for x in fields[11:15]) / CLOCK_TICKS


def tree_cpu_s(root: int) -> float:
    """CPU seconds of ``root`` and its live descendants, and of the children they reaped."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (found := _proc_stat(entry)) is not None:
            parents[int(entry)], times[int(entry)] = found[1], found[2]
    total, wanted = 0.0, {root}
    for pid in sorted(parents):  # a child has a larger pid than its parent, short of pid wrap-around
        if pid == root or parents[pid] in wanted:
            wanted.add(pid)
            total += times[pid]
    return total


def threads_cpu_s(pid: int) -> float:
    """CPU seconds of one process's live threads, to the nanosecond (``/proc/<pid>/task/*/schedstat``;
    a thread that ended is missed: the server's pools keep theirs)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as stat:
                total += int(stat.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return total / 1e9


def engine_cpu_s() -> float | None:
    """CPU seconds of the container engine: dockerd, containerd and every containerd shim (None
    when no dockerd is visible from here)."""
    total, seen = 0.0, False
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or (found := _proc_stat(entry)) is None:
            continue
        name, _parent, cpu = found
        if name in ENGINE_PROCESSES or name.startswith("containerd-shim"):
            total += cpu
            seen = seen or name == "dockerd"
    return total if seen else None


def self_cpu_s() -> float:
    """This process's CPU seconds, every thread's."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class CpuMeter:
    """CPU seconds from its creation to :meth:`read`: the host's, and a server's process tree."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        self.host = host_busy_s()
        self.server = tree_cpu_s(pid) if pid else 0.0

    def read(self) -> dict[str, float]:
        result = {"host_cpu_busy_s": round(host_busy_s() - self.host, 2)}
        if self.pid:
            result["server_cpu_s"] = round(tree_cpu_s(self.pid) - self.server, 3)
        return result


def distribution_ms(samples_s: Sequence[float]) -> dict[str, float | None]:
    ordered = sorted(s * 1000 for s in samples_s)
    return {
        "p50_ms": rounded(percentile(ordered, 0.5), 1),
        "p90_ms": rounded(percentile(ordered, 0.9), 1),
        "mean_ms": rounded(sum(ordered) / len(ordered), 1) if ordered else None,
    }


# ---- clients ------------------------------------------------------------------------------------------


def cloudwatch_client(endpoint: str, compress: bool = True) -> Any:
    """boto3's CloudWatch client; parameter validation off (it would cost the client more than the
    servers); no retries (an error shows); without ``compress`` no body is gzipped."""
    import boto3
    from botocore.config import Config

    options: dict[str, Any] = {
        "retries": {"total_max_attempts": 1},
        "connect_timeout": 5,
        "read_timeout": 600,
        "parameter_validation": False,
        "max_pool_connections": 4,
    }
    if not compress:
        options["request_min_compression_size_bytes"] = NO_COMPRESSION
    return boto3.client(
        "cloudwatch",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
        config=Config(**options),
    )


def epoch_of(moment: Any) -> float:
    return float(moment.timestamp()) if isinstance(moment, datetime) else float(moment)


def metric_data(
    client: Any, queries: list[dict[str, Any]], start: float, end: float
) -> tuple[dict[str, Series], int]:
    """GetMetricData's answer per query id, oldest first, every page followed; and the pages."""
    found: dict[str, Series] = {query["Id"]: [] for query in queries}
    token, pages = None, 0
    while True:
        params: dict[str, Any] = {
            "MetricDataQueries": queries,
            "StartTime": datetime.fromtimestamp(start, UTC),
            "EndTime": datetime.fromtimestamp(end, UTC),
        }
        if token:
            params["NextToken"] = token
        answer = client.get_metric_data(**params)
        pages += 1
        for result in answer["MetricDataResults"]:
            found[result["Id"]].extend(
                zip((epoch_of(t) for t in result["Timestamps"]), result["Values"], strict=True)
            )
        token = answer.get("NextToken")
        if not token:
            break
    return {query_id: sorted(points) for query_id, points in found.items()}, pages


def stat_query(query_id: str, namespace: str, host: str, period: int, stat: str) -> dict[str, Any]:
    metric = {
        "Namespace": namespace,
        "MetricName": METRIC_NAME,
        "Dimensions": [{"Name": "Host", "Value": host}],
    }
    return {"Id": query_id, "MetricStat": {"Metric": metric, "Period": period, "Stat": stat}}


# ---- put ------------------------------------------------------------------------------------------------

Batch = list[dict[str, Any]]


def put_batches(datapoints: int, series: int, now: float) -> list[Batch]:
    """Batches of 1,000 datums, datum i of series i % ``series``, spread over the hour before ``now``."""
    base, step = now - HOUR_S, HOUR_S / datapoints
    hosts = [[{"Name": "Host", "Value": host_name(s)}] for s in range(series)]
    return [
        [
            {
                "MetricName": METRIC_NAME,
                "Dimensions": hosts[i % series],
                "Timestamp": base + (i + 0.5) * step,
                "Value": value_of(i % series, i),
            }
            for i in range(start, min(datapoints, start + PUT_BATCH))
        ]
        for start in range(0, datapoints, PUT_BATCH)
    ]


def probe_batch(batch: Batch) -> Batch:
    """``batch`` as the probe metric's datums."""
    return [{**datum, "MetricName": PROBE_METRIC_NAME} for datum in batch]


def probe_gzip(endpoint: str, batch: Batch) -> str | None:
    """Put one full batch (gzipped by boto3) into the probe metric; the error, None when taken."""
    batch = probe_batch(batch)
    try:
        cloudwatch_client(endpoint).put_metric_data(Namespace=PROBE_NAMESPACE, MetricData=batch)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:300]
    return None


def put_worker(client: Any, batches: list[Batch], go: threading.Barrier, out: dict[str, Any]) -> None:
    out.update(accepted=0, errors=[])
    go.wait()
    out["started"] = time.perf_counter()
    deadline = out["started"] + PUT_LIMIT_S
    for batch in batches:
        if time.perf_counter() > deadline:
            out["errors"].append(f"stopped after {PUT_LIMIT_S:g} s")
            break
        try:
            client.put_metric_data(Namespace=PUT_NAMESPACE, MetricData=batch)
            out["accepted"] += len(batch)
        except Exception as exc:
            out["errors"].append(f"{type(exc).__name__}: {exc}"[:300])
    out["ended"] = time.perf_counter()


def put_parallel(server: Server, batches: list[Batch], threads: int, flags: list[str]) -> dict[str, Any]:
    """The batches from ``threads`` threads, one client each (batch k on thread k % threads), from a
    common start, after a gzip probe and one warm-up datum per client."""
    problem = probe_gzip(server.endpoint, batches[0])
    compress = problem is None
    if problem:
        flags.append(f"put {server.name}: refused a gzipped PutMetricData ({problem}); sent uncompressed")
    clients = [cloudwatch_client(server.endpoint, compress) for _ in range(threads)]
    for client in clients:  # each client's connection, warm
        client.put_metric_data(Namespace=PROBE_NAMESPACE, MetricData=probe_batch(batches[0][:1]))
    jobs = [batches[t::threads] for t in range(threads)]
    go = threading.Barrier(threads + 1)
    outs: list[dict[str, Any]] = [{} for _ in range(threads)]
    workers = [
        threading.Thread(target=put_worker, args=(client, job, go, out), daemon=True)
        for client, job, out in zip(clients, jobs, outs, strict=True)
    ]
    for worker in workers:
        worker.start()
    pid = server.process.pid if server.process else None
    meter = CpuMeter(pid)
    client_cpu = self_cpu_s()
    go.wait()
    for worker in workers:
        worker.join()
    cpu = meter.read()
    seconds = max(out["ended"] for out in outs) - min(out["started"] for out in outs)
    accepted = sum(out["accepted"] for out in outs)
    server_cpu = cpu.get("server_cpu_s")
    result: dict[str, Any] = {
        "datapoints_per_s": rounded(accepted / seconds, 0) if accepted else None,
        "seconds": rounded(seconds, 3),
        "datapoints_accepted": accepted,
        "gzipped_bodies": compress,
        "server_cpu_s": server_cpu,
        "datapoints_per_server_cpu_s": rounded(accepted / server_cpu, 0) if server_cpu else None,
        "server_cores_busy": rounded(server_cpu / seconds, 2) if server_cpu and seconds else None,
        "host_cpu_busy_s": cpu["host_cpu_busy_s"],
        "client_cpu_s": rounded(self_cpu_s() - client_cpu, 2),
    }
    if errors := [error for out in outs for error in out["errors"]]:
        result["errors"] = errors[:5]
    return result


def sample_counts_via_api(server: Server, series: Sequence[int], now: float) -> dict[int, float]:
    """The sum of SampleCount of each of ``series`` (numbers) in the put namespace, through
    GetMetricData (Period 3600 over the last two hours)."""
    client = cloudwatch_client(server.endpoint)
    found: dict[int, float] = {}
    for first in range(0, len(series), QUERIES_PER_CALL):
        numbers = series[first : first + QUERIES_PER_CALL]
        queries = [stat_query(f"s{s}", PUT_NAMESPACE, host_name(s), HOUR_S, "SampleCount") for s in numbers]
        answers, _pages = metric_data(client, queries, now - 2 * HOUR_S, now + MINUTE_S)
        for s in numbers:
            found[s] = sum(value for _, value in answers[f"s{s}"])
    return found


def expected_count(datapoints: int, series: int, number: int) -> int:
    """How many of the datapoints went to series ``number`` (datapoint i goes to i % series).

    >>> [expected_count(10, 4, s) for s in range(4)]
    [3, 3, 2, 2]
    """
    return datapoints // series + (1 if number < datapoints % series else 0)


def stored_points(db_path: Path, namespace: str) -> tuple[int, float]:
    """(points, sum of SampleCount) the store holds for ``namespace`` (sqlite3, read-only)."""
    query = (
        "SELECT count(*), total(p.sample_count) FROM metric_points p JOIN metric_series s "
        "ON s.id = p.series_id WHERE s.namespace = ? AND s.account_id = ? AND s.region = ?"
    )
    with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)) as db:
        count, total = db.execute(query, (namespace, ACCOUNT_ID, REGION)).fetchone()
    return int(count), float(total)


def store_put_rate(datapoints: int, series: int, workdir: Path) -> dict[str, Any]:
    """``MetricStore.put`` alone, in this process: the same datapoints in batches of 1,000."""
    from ecsbox.core.clock import WallClock
    from ecsbox.metrics.metric_store import MetricStore
    from ecsbox.metrics.model import Datum, MetricId
    from ecsbox.store import Store

    now = time.time()
    metrics = [MetricId.of(PUT_NAMESPACE, METRIC_NAME, {"Host": host_name(s)}) for s in range(series)]
    step = HOUR_S / datapoints
    batches = [
        [
            Datum.single(metrics[i % series], now - HOUR_S + (i + 0.5) * step, value_of(i % series, i))
            for i in range(start, min(datapoints, start + PUT_BATCH))
        ]
        for start in range(0, datapoints, PUT_BATCH)
    ]
    db_path = workdir / "store-put.db"
    store = Store(f"sqlite:///{db_path}")
    store.open()
    try:

        async def put_all() -> tuple[float, float]:
            metric_store = MetricStore(store, WallClock())
            cpu, started = self_cpu_s(), time.perf_counter()
            for batch in batches:
                await metric_store.put(PARTITION, batch)
            return time.perf_counter() - started, self_cpu_s() - cpu

        seconds, cpu = asyncio.run(put_all())
    finally:
        store.close()
    count, total = stored_points(db_path, PUT_NAMESPACE)
    return {
        "datapoints_per_s": rounded(datapoints / seconds, 0),
        "seconds": rounded(seconds, 3),
        "cpu_s": rounded(cpu, 2),
        "datapoints_per_cpu_s": rounded(datapoints / cpu, 0) if cpu else None,
        "points_stored": count,
        "verified": count == datapoints and total == float(datapoints),
    }


def phase_put(
    args: argparse.Namespace, workdir: Path, report: dict[str, Any], started: list[Server], flags: list[str]
) -> None:
    now = time.time()
    batches = put_batches(args.put_datapoints, args.put_series, now)
    box = make_server("ecsbox", workdir / "put")
    started.append(box)
    print(f"[put] ecsbox: {args.put_datapoints:,} datapoints, {args.put_threads} threads", file=sys.stderr)
    box.start(workdir, pin=False)
    try:
        ours = put_parallel(box, batches, args.put_threads, flags)
        db_path = workdir / "put" / "ecsbox-data" / "ecsbox.db"
        count, total = stored_points(db_path, PUT_NAMESPACE)
        checked = time.perf_counter()
        via_api = sum(sample_counts_via_api(box, range(args.put_series), now).values())
        ours["verification_get_metric_data_s"] = rounded(time.perf_counter() - checked, 2)
        ours["ecsbox_cpu_s"] = ours.pop("server_cpu_s")
        ours["datapoints_per_ecsbox_cpu_s"] = ours.pop("datapoints_per_server_cpu_s")
        ours["ecsbox_cores_busy"] = ours.pop("server_cores_busy")
        ours["points_stored"] = count
        ours["sample_count_stored"] = total
        ours["sample_count_via_get_metric_data"] = via_api
        ours["verified"] = (
            count == args.put_datapoints == ours["datapoints_accepted"]
            and total == via_api == float(args.put_datapoints)
            and not ours.get("errors")
        )
        report["ecsbox"] = ours
    except Exception:
        report["log_tail"] = box.log_tail()
        raise
    finally:
        box.stop()
    print("[put] MetricStore.put in this process", file=sys.stderr)
    report["metric_store_in_process"] = store_put_rate(args.put_datapoints, args.put_series, workdir)
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
        theirs = {"version": version_of("moto"), **put_parallel(moto, batches, args.put_threads, flags)}
        try:
            # A sample of the series: moto's GetMetricData scans every datapoint it holds per query
            # (157 s for all 1,000 series of 200,000 datapoints here).
            sample = list(range(0, args.put_series, max(1, args.put_series // MOTO_CHECKED_SERIES)))
            checked = time.perf_counter()
            counts = sample_counts_via_api(moto, sample, now)
            theirs["verification_get_metric_data_s"] = rounded(time.perf_counter() - checked, 2)
            theirs["series_checked"] = len(sample)
            theirs["verified"] = all(
                counts[s] == expected_count(args.put_datapoints, args.put_series, s) for s in sample
            )
        except Exception as exc:
            theirs["verified"] = f"from its answers only (GetMetricData failed: {type(exc).__name__})"
        report["moto"] = theirs
    except Exception as exc:
        report["moto"] = {"error": f"{type(exc).__name__}: {exc}", "log_tail": moto.log_tail()}
    finally:
        moto.stop()


# ---- query: the data ----------------------------------------------------------------------------------


def load_query_data(db_path: Path, series: int, days: int) -> dict[str, Any]:
    """``series`` x ``days`` x 1-minute points through ``MetricStore.put``, minute by minute."""
    from ecsbox.core.clock import WallClock
    from ecsbox.metrics.metric_store import MetricStore
    from ecsbox.metrics.model import Datum, MetricId
    from ecsbox.store import Store

    minutes = days * DAY_S // MINUTE_S
    last = math.floor(time.time() / MINUTE_S) * MINUTE_S - MINUTE_S
    first = last - (minutes - 1) * MINUTE_S
    metrics = [MetricId.of(QUERY_NAMESPACE, METRIC_NAME, {"Host": host_name(s)}) for s in range(series)]
    block = max(1, LOAD_BATCH // series)  # minutes per put
    store = Store(f"sqlite:///{db_path}")
    store.open()
    try:

        async def load() -> tuple[float, float]:
            metric_store = MetricStore(store, WallClock())
            cpu, started = self_cpu_s(), time.perf_counter()
            shown = 0
            for low in range(0, minutes, block):
                batch = [
                    Datum.single(metrics[s], first + m * MINUTE_S, value_of(s, m))
                    for m in range(low, min(minutes, low + block))
                    for s in range(series)
                ]
                await metric_store.put(PARTITION, batch)
                if (low * 10) // minutes > shown:
                    shown = (low * 10) // minutes
                    print(f"[query] loaded {shown * 10} %", file=sys.stderr)
            return time.perf_counter() - started, self_cpu_s() - cpu

        seconds, cpu = asyncio.run(load())
    finally:
        store.close()
    points = series * minutes
    return {
        "points": points,
        "seconds": rounded(seconds, 1),
        "points_per_s": rounded(points / seconds, 0),
        "cpu_s": rounded(cpu, 1),
        "database_mib": rounded(sum(f.stat().st_size for f in db_path.parent.glob("ecsbox.db*")) / 2**20, 0),
        "first_point": first,
        "last_point": last,
    }


class Reference:
    """The same answers from a plain SQL scan on the same file, read-only."""

    def __init__(self, db_path: Path, origin: float, end: float) -> None:
        self.db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30, check_same_thread=False)
        self.origin, self.end = origin, end

    def close(self) -> None:
        self.db.close()

    def series_ids(self, hosts: Sequence[str]) -> dict[int, str]:
        marks = ",".join("?" * len(hosts))
        rows = self.db.execute(
            "SELECT id, dimensions FROM metric_series WHERE account_id = ? AND region = ? AND namespace = ? "
            f"AND name = ? AND dimensions IN ({marks})",
            (ACCOUNT_ID, REGION, QUERY_NAMESPACE, METRIC_NAME, *(dimensions_json(h) for h in hosts)),
        ).fetchall()
        return {int(series_id): json.loads(text)[0][1] for series_id, text in rows}

    def _bucket(self, period: int) -> str:
        return f"CAST((ts - {self.origin!r}) / {period} AS INTEGER)"

    def hourly_averages(self, hosts: Sequence[str]) -> dict[str, Series]:
        ids = self.series_ids(hosts)
        marks = ",".join("?" * len(ids))
        rows = self.db.execute(
            f"SELECT series_id, {self._bucket(HOUR_S)} AS b, sum(sum) / sum(sample_count) FROM metric_points "
            f"WHERE series_id IN ({marks}) AND ts >= ? AND ts < ? GROUP BY series_id, b ORDER BY series_id, b",
            (*ids, self.origin, self.end),
        ).fetchall()
        found: dict[str, Series] = {host: [] for host in hosts}
        for series_id, bucket, average in rows:
            found[ids[series_id]].append((self.origin + bucket * HOUR_S, average))
        return found

    def points(self, host: str) -> Series:
        (series_id,) = self.series_ids([host])
        rows = self.db.execute(
            "SELECT ts, sum / sample_count FROM metric_points WHERE series_id = ? AND ts >= ? AND ts < ? "
            "ORDER BY ts",
            (series_id, self.origin, self.end),
        ).fetchall()
        return [(float(ts), float(value)) for ts, value in rows]

    def hourly_statistics(self, host: str) -> list[tuple[float, float, float, float]]:
        """(timestamp, Average, Maximum, SampleCount) per hour."""
        (series_id,) = self.series_ids([host])
        rows = self.db.execute(
            f"SELECT {self._bucket(HOUR_S)} AS b, sum(sum) / sum(sample_count), max(maximum), "
            "sum(sample_count) FROM metric_points WHERE series_id = ? AND ts >= ? AND ts < ? "
            "GROUP BY b ORDER BY b",
            (series_id, self.origin, self.end),
        ).fetchall()
        return [(self.origin + b * HOUR_S, float(a), float(m), float(n)) for b, a, m, n in rows]

    def hourly_percentile(self, host: str, p: float) -> Series:
        (series_id,) = self.series_ids([host])
        rows = self.db.execute(
            "SELECT ts, value_counts FROM metric_points WHERE series_id = ? AND ts >= ? AND ts < ? "
            "AND value_counts IS NOT NULL",
            (series_id, self.origin, self.end),
        ).fetchall()
        hours: dict[int, list[float]] = {}
        for ts, text in rows:
            values = hours.setdefault(int((ts - self.origin) // HOUR_S), [])
            for value, count in json.loads(text):
                values.extend([float(value)] * int(count))
        return [(self.origin + b * HOUR_S, nearest_rank(values, p)) for b, values in sorted(hours.items())]


# ---- query: the calls ---------------------------------------------------------------------------------


def statistics_of(
    client: Any, host: str, start: float, end: float
) -> list[tuple[float, float, float, float]]:
    answer = client.get_metric_statistics(
        Namespace=QUERY_NAMESPACE,
        MetricName=METRIC_NAME,
        Dimensions=[{"Name": "Host", "Value": host}],
        StartTime=datetime.fromtimestamp(start, UTC),
        EndTime=datetime.fromtimestamp(end, UTC),
        Period=HOUR_S,
        Statistics=["Average", "Maximum", "SampleCount"],
    )
    return sorted(
        (epoch_of(d["Timestamp"]), d["Average"], d["Maximum"], d["SampleCount"]) for d in answer["Datapoints"]
    )


def same_statistics(
    got: list[tuple[float, float, float, float]], expected: list[tuple[float, float, float, float]]
) -> bool:
    return len(got) == len(expected) and all(
        a[0] == b[0] and all(close(x, y) for x, y in zip(a[1:], b[1:], strict=True))
        for a, b in zip(got, expected, strict=True)
    )


def measure(
    name: str,
    ours: Callable[[int], Any],
    theirs: Callable[[int], Any],
    agree: Callable[[Any, Any], bool],
    calls: int,
    variants: int,
    pid: int | None,
) -> dict[str, Any]:
    """``calls`` x ``variants`` calls of each side after one warm-up each (call k runs variant
    k % variants); latency, ecsbox's CPU per call, and whether every answer agreed."""
    print(f"[query] {name}: {calls * variants} calls", file=sys.stderr)
    for variant in range(variants):
        ours(variant), theirs(variant)  # warm-up
    agreed, samples = True, []
    server_cpu = threads_cpu_s(pid) if pid else 0.0
    ours_answers: list[Any] = []
    for k in range(calls * variants):
        started = time.perf_counter()
        ours_answers.append(ours(k % variants))
        samples.append(time.perf_counter() - started)
    server_cpu = (threads_cpu_s(pid) - server_cpu) if pid else 0.0
    reference_samples = []
    for k in range(calls * variants):
        started = time.perf_counter()
        expected = theirs(k % variants)
        reference_samples.append(time.perf_counter() - started)
        agreed = agreed and agree(ours_answers[k], expected)
    ours_ms, reference_ms = distribution_ms(samples), distribution_ms(reference_samples)
    p50, reference_p50 = ours_ms["p50_ms"], reference_ms["p50_ms"]
    return {
        "calls": len(samples),
        "ecsbox": ours_ms,
        "ecsbox_cpu_ms_per_call": rounded(server_cpu * 1000 / len(samples), 1) if pid else None,
        "reference": reference_ms,
        "ratio_p50_to_reference": rounded(p50 / reference_p50, 1) if p50 and reference_p50 else None,
        "same_answers_as_reference": agreed,
    }


def phase_query(
    args: argparse.Namespace, workdir: Path, report: dict[str, Any], started: list[Server]
) -> None:
    series, days = args.query_series, args.query_days
    box = make_server("ecsbox", workdir / "query")
    data_dir = Path(box.command[box.command.index("--data-dir") + 1])
    db_path = data_dir / "ecsbox.db"
    print(f"[query] loading {series:,} series x {days} days x 1-minute points", file=sys.stderr)
    load = load_query_data(db_path, series, days)
    report["load"] = {k: v for k, v in load.items() if k not in ("first_point", "last_point")}
    origin, end = float(load["first_point"]), float(load["last_point"] + MINUTE_S)
    report["window"] = {"start": datetime.fromtimestamp(origin, UTC).isoformat(), "seconds": end - origin}
    started.append(box)
    print(f"[query] ecsbox: starting on port {box.port}", file=sys.stderr)
    box.start(workdir, pin=False)
    pid = box.process.pid if box.process else None
    client = cloudwatch_client(box.endpoint)
    reference = Reference(db_path, origin, end)
    hosts = [host_name(s) for s in range(series)]
    chunks = [hosts[i : i + QUERIES_PER_CALL] for i in range(0, series, QUERIES_PER_CALL)]
    one = host_name(series // 2)
    pages: dict[str, int] = {}
    try:
        results: dict[str, Any] = {}
        report["calls"] = results

        def many_ours(variant: int) -> dict[str, Series]:
            chunk = chunks[variant]
            queries = [
                stat_query(f"q{i}", QUERY_NAMESPACE, h, HOUR_S, "Average") for i, h in enumerate(chunk)
            ]
            answers, pages["hourly_average"] = metric_data(client, queries, origin, end)
            return {chunk[int(query_id[1:])]: points for query_id, points in answers.items()}

        def many_agree(got: dict[str, Series], expected: dict[str, Series]) -> bool:
            return got.keys() == expected.keys() and all(
                same_series(got[h], expected[h]) and len(got[h]) == days * 24 for h in got
            )

        results["a_get_metric_data_500_series_hourly_average"] = measure(
            "GetMetricData, 500 series, Average, Period 3600",
            many_ours,
            lambda variant: reference.hourly_averages(chunks[variant]),
            many_agree,
            args.query_calls,
            len(chunks),
            pid,
        )
        results["a_get_metric_data_500_series_hourly_average"]["calls_to_cover_every_series"] = len(chunks)

        def minutes_ours(_variant: int) -> Series:
            answers, pages["minutes"] = metric_data(
                client, [stat_query("m", QUERY_NAMESPACE, one, MINUTE_S, "Average")], origin, end
            )
            return answers["m"]

        results["b_get_metric_data_one_series_period_60"] = measure(
            "GetMetricData, one series, Period 60",
            minutes_ours,
            lambda _variant: reference.points(one),
            lambda got, expected: same_series(got, expected) and len(got) == days * 1_440,
            args.query_calls,
            1,
            pid,
        )
        results["b_get_metric_data_one_series_period_60"]["pages"] = pages.get("minutes")

        results["c_get_metric_statistics_one_series_hourly"] = measure(
            "GetMetricStatistics, one series, Period 3600",
            lambda _variant: statistics_of(client, one, origin, end),
            lambda _variant: reference.hourly_statistics(one),
            lambda got, expected: same_statistics(got, expected) and len(got) == days * 24,
            args.query_calls,
            1,
            pid,
        )

        def p99_ours(_variant: int) -> Series:
            answers, _pages = metric_data(
                client, [stat_query("p", QUERY_NAMESPACE, one, HOUR_S, "p99")], origin, end
            )
            return answers["p"]

        results["d_get_metric_data_one_series_hourly_p99"] = measure(
            "GetMetricData, one series, p99, Period 3600",
            p99_ours,
            lambda _variant: reference.hourly_percentile(one, 99.0),
            lambda got, expected: same_series(got, expected) and len(got) == days * 24,
            args.query_calls,
            1,
            pid,
        )
        results["a_get_metric_data_500_series_hourly_average"]["pages"] = pages.get("hourly_average")
    except Exception:
        report["log_tail"] = box.log_tail()
        raise
    finally:
        reference.close()
        box.stop()


# ---- collector -------------------------------------------------------------------------------------------


def docker_client() -> Any:
    import docker

    return docker.APIClient(version="auto", timeout=120)


def start_containers(client: Any, image: str, count: int, run_id: str, ids: list[str]) -> str | None:
    """Start ``count`` sleeping containers (four at a time), their ids appended to ``ids`` as soon
    as they exist; the first error, None when every one started."""
    lock = threading.Lock()
    failure: list[str] = []

    def one(number: int) -> None:
        if failure:
            return
        try:
            created = client.create_container(
                image,
                command=["sh", "-c", "sleep 100000"],
                name=f"ecsbox-bench-metrics-{run_id}-{number}",
                labels={BENCH_LABEL: "metrics", RUN_LABEL: run_id},
                host_config=client.create_host_config(mem_limit="64m"),
            )
            with lock:
                ids.append(created["Id"])
            client.start(created["Id"])
        except Exception as exc:
            with lock:
                failure.append(f"container {number}: {type(exc).__name__}: {exc}"[:300])

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(one, range(count)))
    return failure[0] if failure else None


def remove_containers(client: Any, ids: list[str], run_id: str) -> int:
    """Remove this run's containers: those recorded and any other carrying the run's label."""
    labelled = {c["Id"] for c in client.containers(all=True, filters={"label": f"{RUN_LABEL}={run_id}"})}
    every = sorted(set(ids) | labelled)

    def one(container_id: str) -> bool:
        try:
            client.remove_container(container_id, force=True)
            return True
        except Exception:
            return False

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        return sum(pool.map(one, every))


def running_ids(client: Any, ids: list[str]) -> list[str]:
    running = {c["Id"] for c in client.containers(filters={"label": f"{BENCH_LABEL}=metrics"})}
    return [c for c in ids if c in running]


def monitoring_snapshot(container_ids: list[str], image: str) -> Any:
    """The containers as one-container EC2 tasks of four services in a cluster with Container
    Insights enabled, on one container instance the size of this machine."""
    from ecsbox.core.monitoring import (
        ClusterInfo,
        ContainerInfo,
        ContainerInstanceInfo,
        MonitoringSnapshot,
        ServiceInfo,
        TaskInfo,
    )

    cluster = "bench"
    prefix = f"arn:aws:ecs:{REGION}:{ACCOUNT_ID}"
    instance_arn = f"{prefix}:container-instance/{cluster}/0123456789abcdef0123456789abcdef"
    cpus = (os.cpu_count() or 1) * 1024
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    now = time.time()
    tasks = []
    per_service: dict[str, int] = {}
    for number, container_id in enumerate(container_ids):
        service = f"svc-{number % SERVICES}"
        per_service[service] = per_service.get(service, 0) + 1
        task_id = uuid.UUID(int=number).hex
        tasks.append(
            TaskInfo(
                PARTITION,
                cluster,
                f"{prefix}:task/{cluster}/{task_id}",
                task_id,
                service,
                service,
                1,
                "EC2",
                None,
                None,
                "bridge",
                "RUNNING",
                created_at=now,
                started_at=now,
                availability_zone=f"{REGION}a",
                containers=(ContainerInfo("app", image, container_id, "RUNNING", cpu=10, memory=64),),
                container_instance_arn=instance_arn,
            )
        )
    reserved_cpu, reserved_memory = 10 * len(tasks), 64 * len(tasks)
    return MonitoringSnapshot(
        clusters=(
            ClusterInfo(
                PARTITION, cluster, f"{prefix}:cluster/{cluster}", "enabled", len(per_service), len(tasks),
                0, 1, cpus, memory,
            ),
        ),
        services=tuple(
            ServiceInfo(PARTITION, cluster, name, f"{prefix}:service/{cluster}/{name}", "ACTIVE", n, n, 0, 1, 0)
            for name, n in sorted(per_service.items())
        ),
        tasks=tuple(tasks),
        instances=(
            ContainerInstanceInfo(
                PARTITION, cluster, instance_arn, instance_arn.rsplit("/", 1)[1], "i-0123456789abcdef0", "ACTIVE",
                cpus, memory, cpus - reserved_cpu, memory - reserved_memory, len(tasks), 0,
            ),
        ),
    )  # fmt: skip


def run_collector(snapshot: Any, path: str, ticks: int, gap_s: float, workdir: Path) -> dict[str, Any]:
    """One warm-up tick and ``ticks`` measured ticks of a collector reading on ``path`` (``cgroup``
    or ``docker``), 20 s of its clock apart, into a temp store."""
    from ecsbox.core.clock import WallClock
    from ecsbox.logs.ingest import LogIngest
    from ecsbox.metrics.cgroups import CgroupReader
    from ecsbox.metrics.collector import Collector
    from ecsbox.metrics.host_probe import LinuxHostProbe
    from ecsbox.metrics.metric_store import MetricStore
    from ecsbox.runtime.docker import DockerRuntime
    from ecsbox.store import Store

    probe = CgroupReader.detect() if path == "cgroup" else None
    if path == "cgroup" and probe is None:
        return {"error": "no cgroup file system to read here (/sys/fs/cgroup)"}
    store = Store(f"sqlite:///{workdir / f'collector-{path}.db'}")
    store.open()
    clock = WallClock()
    ingest = LogIngest(store, clock)
    metric_store = MetricStore(store, clock)
    runtime = DockerRuntime()

    async def current() -> Any:
        return snapshot

    async def write_logs(partition: Any, group: str, stream: str, events: list[tuple[int, str]]) -> None:
        await ingest.deliver(partition, group, stream, events, create_group=True)

    async def ticking() -> list[dict[str, Any]]:
        collector = Collector(
            clock,
            current,
            lambda: runtime,
            metric_store,
            write_logs,
            60,
            LinuxHostProbe(),
            usage_probe=probe,
        )
        base = math.ceil(time.time() / MINUTE_S) * MINUTE_S
        measured = []
        try:
            for tick in range(ticks + 1):
                if tick:
                    await asyncio.sleep(gap_s)
                engine, cpu, wall = engine_cpu_s(), self_cpu_s(), time.perf_counter()
                done = await collector.collect_once(now=base + tick * COLLECTOR_STEP_S)
                wall, cpu = time.perf_counter() - wall, self_cpu_s() - cpu
                engine_after = engine_cpu_s()
                if tick:  # the first tick only samples (nothing to rate yet)
                    measured.append(
                        {
                            "cpu_s": cpu,
                            "wall_s": wall,
                            "engine_cpu_s": engine_after - engine
                            if engine is not None and engine_after
                            else None,
                            "report": done,
                        }
                    )
        finally:
            await runtime.close()
        return measured

    try:
        measured = asyncio.run(ticking())
    finally:
        store.close()
    return summarise_ticks(measured, len(snapshot.tasks))


def per_100(value: float | None, containers: int) -> float | None:
    return None if value is None or not containers else value * 100.0 / containers


def summarise_ticks(measured: list[dict[str, Any]], containers: int) -> dict[str, Any]:
    reports = [m["report"] for m in measured]
    cpu = [m["cpu_s"] for m in measured]
    mean_cpu = sum(cpu) / len(cpu)
    engine = [m["engine_cpu_s"] for m in measured if m["engine_cpu_s"] is not None]
    mean_engine = sum(engine) / len(engine) if engine else None
    insights = [m["cpu_s"] for m in measured if m["report"].insights_period]
    plain = [m["cpu_s"] for m in measured if not m["report"].insights_period]
    return {
        "ticks": len(measured),
        "containers_sampled": max(r.containers for r in reports),
        "from_cgroup_files": max(r.from_probe for r in reports),
        "from_docker_stats": max(r.from_runtime for r in reports),
        "skipped": max(r.skipped for r in reports),
        "tasks_measured": min(r.measured_tasks for r in reports),
        "datums_per_tick": rounded(sum(r.datums for r in reports) / len(reports), 1),
        "performance_events": sum(r.events for r in reports),
        "cpu_ms_per_tick": distribution_ms(cpu),
        "cpu_ms_per_tick_per_100_containers": rounded(per_100(mean_cpu * 1000, containers), 1),
        "cpu_ms_per_tick_per_100_containers_insights_ticks": rounded(
            per_100(sum(insights) / len(insights) * 1000, containers) if insights else None, 1
        ),
        "cpu_ms_per_tick_per_100_containers_other_ticks": rounded(
            per_100(sum(plain) / len(plain) * 1000, containers) if plain else None, 1
        ),
        "core_percent_per_100_containers_at_20s_sampling": rounded(
            per_100(mean_cpu / COLLECTOR_STEP_S * 100, containers), 2
        ),
        "wall_ms_per_tick": distribution_ms([m["wall_s"] for m in measured]),  # not normalised
        "engine_cpu_ms_per_tick_per_100_containers": rounded(
            per_100(mean_engine * 1000, containers) if mean_engine is not None else None, 1
        ),
    }


def docker_stats_reference(container_ids: list[str], ticks: int, gap_s: float) -> dict[str, Any]:
    """``docker stats --no-stream`` over the containers, ``ticks`` times."""
    walls, cli, engine, complete = [], [], [], True
    command = [
        "docker",
        "stats",
        "--no-stream",
        "--format",
        "{{.ID}} {{.CPUPerc}} {{.MemUsage}}",
        *container_ids,
    ]
    subprocess.run(command, capture_output=True, timeout=300, check=False)  # warm-up
    for _ in range(ticks):
        time.sleep(gap_s)
        before_engine, before_cli, started = engine_cpu_s(), children_cpu_s(), time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
        walls.append(time.perf_counter() - started)
        cli.append(children_cpu_s() - before_cli)
        after_engine = engine_cpu_s()
        if before_engine is not None and after_engine is not None:
            engine.append(after_engine - before_engine)
        complete = complete and done.returncode == 0 and len(done.stdout.splitlines()) == len(container_ids)
    n = len(container_ids)
    mean_engine = sum(engine) / len(engine) if engine else None
    return {
        "runs": ticks,
        "every_container_answered": complete,
        "wall_ms": distribution_ms(walls),  # not normalised: the engine answers concurrently
        "docker_cli_cpu_ms_per_100_containers": rounded(per_100(sum(cli) / len(cli) * 1000, n), 1),
        "engine_cpu_ms_per_100_containers": rounded(
            per_100(mean_engine * 1000, n) if mean_engine is not None else None, 1
        ),
    }


def phase_collector(
    args: argparse.Namespace, workdir: Path, report: dict[str, Any], flags: list[str]
) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support: the test image
    from tests.support.images import busybox_image

    client = docker_client()
    image = busybox_image(client=client)
    run_id = uuid.uuid4().hex[:12]
    ids: list[str] = []
    try:
        print(f"[collector] starting {args.containers} containers", file=sys.stderr)
        started = time.perf_counter()
        failure = start_containers(client, image, args.containers, run_id, ids)
        running = running_ids(client, ids)
        report["containers"] = {
            "asked": args.containers,
            "running": len(running),
            "start_seconds": rounded(time.perf_counter() - started, 1),
        }
        if failure:
            report["containers"]["first_failure"] = failure
        if len(running) < args.containers:
            flags.append(f"collector: only {len(running)} of {args.containers} containers could run here")
        if not running:
            raise RuntimeError(f"no container runs: {failure}")
        snapshot = monitoring_snapshot(running, image)
        for path in ("cgroup", "docker"):
            print(f"[collector] {path} path: {args.ticks} ticks", file=sys.stderr)
            report[f"collector_{path}_path"] = run_collector(
                snapshot, path, args.ticks, args.tick_gap, workdir
            )
        print(f"[collector] docker stats --no-stream: {args.ticks} runs", file=sys.stderr)
        report["reference_docker_stats"] = docker_stats_reference(running, args.ticks, args.tick_gap)
    finally:
        print(f"[collector] removing {len(ids)} containers", file=sys.stderr)
        report.setdefault("containers", {})["removed"] = remove_containers(client, ids, run_id)


# ---- the run ---------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--only", default=",".join(PHASES), help="comma-separated phases: put,query,collector"
    )
    parser.add_argument("--put-datapoints", type=int, default=200_000, help="datapoints per server (200,000)")
    parser.add_argument("--put-series", type=int, default=1_000, help="metrics the datapoints go to (1,000)")
    parser.add_argument("--put-threads", type=int, default=4, help="PutMetricData threads and clients (4)")
    parser.add_argument("--no-moto", action="store_true", help="skip moto's server in the put phase")
    parser.add_argument("--query-series", type=int, default=1_000, help="series loaded (1,000)")
    parser.add_argument("--query-days", type=int, default=7, help="days of 1-minute points per series (7)")
    parser.add_argument("--query-calls", type=int, default=5, help="measured calls per query (5)")
    parser.add_argument("--containers", type=int, default=100, help="containers the collector measures (100)")
    parser.add_argument("--ticks", type=int, default=9, help="measured collector ticks per path (9)")
    parser.add_argument("--tick-gap", type=float, default=1.0, help="seconds between ticks (1.0)")
    parser.add_argument("--out", type=Path, help="also write the JSON document to this file")
    args = parser.parse_args(argv)
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    if unknown := set(args.only) - set(PHASES):
        parser.error(f"unknown phase(s) {sorted(unknown)}; choose from {', '.join(PHASES)}")
    for option in (
        "put_datapoints", "put_series", "put_threads", "query_series", "query_days", "query_calls",
        "containers", "ticks",
    ):  # fmt: skip
        if getattr(args, option) < 1:
            parser.error(f"--{option.replace('_', '-')} must be at least 1")
    if args.tick_gap < 0:
        parser.error("--tick-gap must not be negative")
    return args


def ratios(results: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    put = results.get("put", {})
    ours = put.get("ecsbox", {}).get("datapoints_per_s")
    moto = put.get("moto", {}).get("datapoints_per_s")
    raw = put.get("metric_store_in_process", {}).get("datapoints_per_s")
    found["put_ecsbox_to_moto"] = rounded(ours / moto) if ours and moto else None
    found["put_ecsbox_to_metric_store_in_process"] = rounded(ours / raw) if ours and raw else None
    for name, result in results.get("query", {}).get("calls", {}).items():
        found[f"query_{name}_p50_to_reference"] = result.get("ratio_p50_to_reference")
    collector = results.get("collector", {})
    reference = collector.get("reference_docker_stats", {})
    reference_cpu = [
        reference.get("docker_cli_cpu_ms_per_100_containers"),
        reference.get("engine_cpu_ms_per_100_containers"),
    ]
    reference_total = sum(x for x in reference_cpu if x is not None) if reference else None
    for path in ("cgroup", "docker"):
        measured = collector.get(f"collector_{path}_path", {})
        ours_cpu = measured.get("cpu_ms_per_tick_per_100_containers")
        engine = measured.get("engine_cpu_ms_per_tick_per_100_containers") or 0.0
        if ours_cpu is not None and reference_total:
            found[f"collector_{path}_cpu_with_engine_to_docker_stats"] = rounded(
                (ours_cpu + engine) / reference_total, 2
            )
        wall = measured.get("wall_ms_per_tick", {}).get("p50_ms")
        reference_wall = reference.get("wall_ms", {}).get("p50_ms")
        if wall is not None and reference_wall:
            found[f"collector_{path}_wall_p50_to_docker_stats"] = rounded(wall / reference_wall, 4)
    return found


def check(results: dict[str, Any], flags: list[str]) -> None:
    """Flags for every result that did not verify."""
    put = results.get("put", {})
    for name in ("ecsbox", "moto"):
        found = put.get(name) or {}
        if found.get("errors"):
            flags.append(f"put {name}: errors: {found['errors']}")
        if found.get("error"):
            flags.append(f"put {name}: {found['error']}")
    if put.get("ecsbox") and put["ecsbox"].get("verified") is not True:
        flags.append("put ecsbox: the store or GetMetricData does not hold every datapoint sent")
    if put.get("moto") and put["moto"].get("verified") is False:
        flags.append("put moto: GetMetricData does not count every datapoint sent to the series checked")
    if (store := put.get("metric_store_in_process")) and not store.get("verified"):
        flags.append("put: MetricStore.put in process did not store every datapoint")
    for name, result in results.get("query", {}).get("calls", {}).items():
        if not result.get("same_answers_as_reference"):
            flags.append(f"query {name}: ecsbox's answer differs from the SQL reference's")
    collector = results.get("collector", {})
    for path in ("cgroup", "docker"):
        measured = collector.get(f"collector_{path}_path")
        if not measured:
            continue
        if measured.get("error"):
            flags.append(f"collector {path} path: {measured['error']}")
            continue
        running = collector.get("containers", {}).get("running")
        if measured["tasks_measured"] != running or measured["skipped"]:
            flags.append(
                f"collector {path} path: measured {measured['tasks_measured']} of {running} tasks "
                f"({measured['skipped']} skipped)"
            )
        if path == "cgroup" and measured["from_docker_stats"]:
            flags.append(
                f"collector cgroup path: {measured['from_docker_stats']} containers fell back to docker stats"
            )
    if (reference := collector.get("reference_docker_stats")) and not reference["every_container_answered"]:
        flags.append("collector: docker stats did not answer for every container")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"  # loopback only
    document: dict[str, Any] = {
        "benchmark": "metrics",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "platform": platform.platform(),
            "python": platform.python_version(),
            "pinned": None,
            **{name: version_of(name) for name in ("ecsbox", "boto3", "moto", "docker")},
        },
        "settings": {
            "phases": args.only,
            "put": {
                "datapoints": args.put_datapoints,
                "series": args.put_series,
                "threads": args.put_threads,
                "batch_datums": PUT_BATCH,
            },
            "query": {
                "series": args.query_series,
                "days": args.query_days,
                "points": args.query_series * args.query_days * 1_440,
                "calls_per_query": args.query_calls,
                "load_batch_datums": LOAD_BATCH,
            },
            "collector": {
                "containers": args.containers,
                "ticks": args.ticks,
                "tick_gap_s": args.tick_gap,
                "clock_step_s": COLLECTOR_STEP_S,
                "services": SERVICES,
            },
        },
        "results": {},
    }
    results: dict[str, Any] = document["results"]
    flags: list[str] = []
    started: list[Server] = []
    interrupted = False
    with sigterm_as_interrupt(), tempfile.TemporaryDirectory(prefix="ecsbox-bench-metrics-") as tmp:
        workdir = Path(tmp)
        try:
            for phase in args.only:
                results[phase] = {}
                try:
                    if phase == "put":
                        phase_put(args, workdir, results[phase], started, flags)
                    elif phase == "query":
                        phase_query(args, workdir, results[phase], started)
                    else:
                        phase_collector(args, workdir, results[phase], flags)
                except KeyboardInterrupt:
                    raise
                except Exception as exc:  # one phase failing keeps the others' numbers
                    results[phase]["error"] = f"{type(exc).__name__}: {exc}"[:500]
                    flags.append(f"{phase} failed: {type(exc).__name__}: {exc}"[:500])
        except KeyboardInterrupt:
            interrupted = True
        finally:
            for server in started:
                server.stop()
    document["ratios"] = ratios(results)
    check(results, flags)
    flags.append("not pinned: ecsbox, boto3, moto and the engine share the machine's CPUs")
    return print_report(document, flags, interrupted, args.out)


if __name__ == "__main__":
    sys.exit(main())
