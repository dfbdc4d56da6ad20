"""One reconcile pass at scale, in process, on the simulated runtime: 1,000 services x 10 tasks.

Builds a Store on a temporary SQLite file and the real controllers on :class:`SimulatedRuntime`
with a :class:`FakeClock`, then:

1. setup (not measured against a goal): RegisterTaskDefinition, ``--clusters`` clusters and
   ``--services`` services (``desiredCount`` ``--tasks-per-service``) through the ECS handlers; one
   ``tick_service`` pass creates the tasks and the :class:`TaskAgent` drives all of them to RUNNING
   on the simulated runtime; the clock then moves 60 s, so every task counts as healthy (ECS calls
   a task without a health check healthy once it has run 40 s);
2. ``scheduler_pass_catch_up``: ``tick_service`` over every live service, each in its own
   ``store.write`` (as ``ServiceScheduler.run`` does), the first pass after the tasks came up
   (running counts, healthy accounting, rollouts COMPLETED, steady-state events);
3. ``scheduler_pass_steady``: the same again with nothing left to do, which is what the
   scheduler's one-second safety net costs for ever after;
4. ``agent_reconcile``: one ``TaskAgent.reconcile()`` and the task drivers it wakes, until the
   last one is done (the agent's five-second safety net);
5. the reference, measured on the same database in the same run: a plain loop that reads the
   10,000 task rows and ``orjson``-decodes their documents (the floor of any pass that reads them),
   and the decoding alone.

Seconds per pass, and memory: ``ru_maxrss_mb`` is the process's lifetime peak (setup included);
``pass_peak_rss_mb`` is the peak during the pass alone (``/proc/self/status`` VmHWM after
resetting it through ``/proc/self/clear_refs``), with the RSS the pass started from.

Prints one JSON document. ``benchmarks/tasks.py`` runs this in a child process, so its memory is
measured apart from the Docker phases.

    python benchmarks/tasks_sim.py
    python benchmarks/tasks_sim.py --services 100 --profile /tmp/sim-prof   # + cProfile dumps
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import functools
import gc
import io
import json
import os
import pstats
import resource
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import func, select

from ecsbox.aws.context import RequestContext
from ecsbox.core.bus import Bus
from ecsbox.core.clock import FakeClock
from ecsbox.ecs import TASK_CHANGED, TaskAgent, operations
from ecsbox.ecs.scheduler import tick_service
from ecsbox.ecs.service_repo import live_service_arns
from ecsbox.runtime.simulated import SimulatedRuntime
from ecsbox.store import Store, schema

ACCOUNT = "000000000000"
REGION = "us-east-1"
PRINCIPAL = f"arn:aws:iam::{ACCOUNT}:root"
IMAGE = "sim/sleeps:1"
FAMILY = "bench-sim"
SETUP_TIME_LIMIT_S = 300.0
PASS_GOAL_S = 1.0
RSS_GOAL_MB = 500.0


# ---- memory ------------------------------------------------------------------------------------


def ru_maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_mb() -> float | None:
    kib = _status_kib("VmRSS")
    return None if kib is None else kib / 1024


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux 4.0+: ``echo 5 > /proc/self/clear_refs``)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_rss_mb() -> float | None:
    kib = _status_kib("VmHWM")
    return None if kib is None else kib / 1024


# ---- a measured pass -------------------------------------------------------------------------


class GcTimer:
    """Time spent in the cyclic garbage collector, per generation (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = [0, 0, 0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started
            self.collections[info["generation"]] += 1

    def __enter__(self) -> GcTimer:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


class Measure:
    """Times an awaitable and records the memory it took; optionally under cProfile."""

    def __init__(self, profile_dir: Path | None) -> None:
        self.profile_dir = profile_dir
        self.profiles: dict[str, str] = {}

    async def run(self, name: str, body: Callable[[], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
        gc.collect()
        start_rss = rss_mb()
        can_reset = reset_peak_rss()
        profiler = cProfile.Profile() if self.profile_dir else None
        with GcTimer() as collector:
            started = time.perf_counter()
            if profiler:
                profiler.enable()
            extra = await body()
            if profiler:
                profiler.disable()
            seconds = time.perf_counter() - started
        result: dict[str, Any] = {"seconds": round(seconds, 4), **extra}
        result["gc_s"] = round(collector.seconds, 4)
        result["gc_collections_by_generation"] = collector.collections
        result["start_rss_mb"] = _mb(start_rss)
        result["pass_peak_rss_mb"] = _mb(peak_rss_mb()) if can_reset else None
        result["ru_maxrss_mb"] = _mb(ru_maxrss_mb())
        if profiler and self.profile_dir:
            self.profile_dir.mkdir(parents=True, exist_ok=True)
            path = self.profile_dir / f"{name}.prof"
            profiler.dump_stats(path)
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(25)
            self.profiles[name] = str(path)
            print(f"--- cProfile {name} (cumulative) ---\n{text.getvalue()}", file=sys.stderr)
        return result


def _mb(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


# ---- the world ---------------------------------------------------------------------------------


class World:
    def __init__(self, db_path: Path) -> None:
        self.clock = FakeClock()
        self.store = Store(f"sqlite:///{db_path}")
        self.store.open()
        self.runtime = SimulatedRuntime(self.clock)
        self.bus = Bus()
        self.changes_published = 0
        self.bus.subscribe(TASK_CHANGED, self._count_change)

        async def pause_image() -> str:
            return "pause"

        self.agent = TaskAgent(
            self.store, self.runtime, self.clock, self.bus, "bench-sim-server", pause_image
        )
        self.handlers = operations(self.store, self.clock)

    def _count_change(self, _topic: str, _event: dict[str, Any]) -> None:
        # In the server the service scheduler subscribes here: every event wakes the task's service.
        self.changes_published += 1

    async def call(self, operation: str, **params: Any) -> dict[str, Any]:
        ctx = RequestContext(ACCOUNT, REGION, "ecs", operation, "bench", "bench", PRINCIPAL)
        return await self.handlers[operation](ctx, params)

    async def drivers_done(self, limit_s: float) -> None:
        """Wait until the agent has no task driver left (it has no public 'idle' signal)."""
        deadline = time.monotonic() + limit_s
        while self.agent._drivers:  # private: the agent has no public "idle" signal
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(self.agent._drivers)} task drivers still busy after {limit_s:g} s")
            await asyncio.gather(*list(self.agent._drivers.values()), return_exceptions=True)

    async def tick_all(self) -> tuple[int, int]:
        arns = await self.store.read(live_service_arns)
        now = self.clock.now()
        touched_total = 0
        for arn in sorted(arns):
            touched: list[str] = await self.store.write(functools.partial(tick_service, arn=arn, now=now))
            touched_total += len(touched)
            for task_arn in touched:
                self.agent.wake(task_arn)
        return len(arns), touched_total

    def service_summary(self) -> dict[str, Any]:
        """How far the services got: rollout states of their PRIMARY deployments, running tasks."""
        rows = self.store.read_now(
            lambda conn: conn.execute(select(schema.ecs_services.c.document)).scalars().all()
        )
        rollouts: dict[str, int] = {}
        running = 0
        for text in rows:
            document = orjson.loads(text)
            running += int(document.get("runningCount", 0))
            for deployment in document.get("deployments", []):
                if deployment.get("status") == "PRIMARY":
                    state = deployment.get("rolloutState", "?")
                    rollouts[state] = rollouts.get(state, 0) + 1
        return {"primary_rollout_states": rollouts, "running_count_total": running}

    def count_tasks(self) -> dict[str, int]:
        t = schema.ecs_tasks.c
        rows = self.store.read_now(
            lambda conn: conn.execute(select(t.last_status, func.count()).group_by(t.last_status)).all()
        )
        return {status: count for status, count in rows}


async def setup(world: World, clusters: int, services: int, tasks_per_service: int) -> dict[str, Any]:
    started = time.perf_counter()
    definition = await world.call(
        "RegisterTaskDefinition",
        family=FAMILY,
        networkMode="bridge",
        containerDefinitions=[
            {"name": "app", "image": IMAGE, "memory": 64, "essential": True, "command": ["sleep", "100000"]}
        ],
    )
    definition_arn = definition["taskDefinition"]["taskDefinitionArn"]
    for index in range(clusters):
        await world.call("CreateCluster", clusterName=f"sim-{index}")
    for index in range(services):
        await world.call(
            "CreateService",
            cluster=f"sim-{index % clusters}",
            serviceName=f"svc-{index:04d}",
            taskDefinition=definition_arn,
            desiredCount=tasks_per_service,
            launchType="EC2",
        )
    control_plane_s = time.perf_counter() - started
    _, created = await world.tick_all()
    await world.drivers_done(SETUP_TIME_LIMIT_S)
    counts = world.count_tasks()
    expected = services * tasks_per_service
    if counts.get("RUNNING") != expected:
        raise RuntimeError(f"setup: expected {expected} RUNNING tasks, found {counts}")
    world.clock.advance(60.0)  # past the 40 s after which a task without a health check is healthy
    world.runtime.advance()
    return {
        "seconds": round(time.perf_counter() - started, 2),
        "control_plane_s": round(control_plane_s, 2),
        "tasks_created": created,
        "task_states": counts,
        "containers": world.runtime.container_count,
    }


async def scheduler_pass(world: World) -> dict[str, Any]:
    services, touched = await world.tick_all()
    return {"services": services, "tasks_touched": touched}


async def agent_pass(world: World) -> dict[str, Any]:
    published_before = world.changes_published
    started = time.perf_counter()
    await world.agent.reconcile()
    woken_s = time.perf_counter() - started
    await world.drivers_done(SETUP_TIME_LIMIT_S)
    return {
        "reconcile_call_s": round(woken_s, 4),
        "task_changed_events": world.changes_published - published_before,
        "task_states_after": world.count_tasks(),
    }


def reference(world: World) -> dict[str, Any]:
    """The floor: read the task rows and decode their JSON, nothing else."""
    t = schema.ecs_tasks.c
    started = time.perf_counter()
    rows = world.store.read_now(lambda conn: conn.execute(select(t.document, t.runtime)).all())
    decoded = [(orjson.loads(document), orjson.loads(runtime)) for document, runtime in rows]
    read_and_decode_s = time.perf_counter() - started
    texts = [document for document, _ in rows]
    started = time.perf_counter()
    for text in texts:
        orjson.loads(text)
    decode_documents_s = time.perf_counter() - started
    return {
        "tasks": len(decoded),
        "read_and_decode_s": round(read_and_decode_s, 4),
        "decode_documents_only_s": round(decode_documents_s, 4),
        "mean_document_bytes": round(sum(len(text) for text in texts) / max(1, len(texts))),
    }


async def run(args: argparse.Namespace, workdir: Path, report: dict[str, Any]) -> None:
    """Fills ``report`` as it goes, so an interrupted run keeps what was measured."""
    world = World(workdir / "ecsbox.db")
    measure = Measure(args.profile)
    report.update(
        {
            "settings": {
                "clusters": args.clusters,
                "services": args.services,
                "tasks_per_service": args.tasks_per_service,
                "store": "SQLite (WAL) in a temporary directory",
                "runtime": "SimulatedRuntime + FakeClock",
            }
        }
    )
    try:
        print(f"[sim] setup: {args.services} services x {args.tasks_per_service} tasks", file=sys.stderr)
        report["setup"] = await setup(world, args.clusters, args.services, args.tasks_per_service)
        report["setup"]["rss_mb_after"] = _mb(rss_mb())
        print("[sim] reference", file=sys.stderr)
        report["reference"] = reference(world)
        print("[sim] scheduler passes", file=sys.stderr)
        for name in ("scheduler_pass_catch_up", "scheduler_pass_steady"):
            report[name] = await measure.run(name, lambda: scheduler_pass(world))
            report[name]["services_after"] = world.service_summary()
        print("[sim] agent reconcile", file=sys.stderr)
        report["agent_reconcile"] = await measure.run("agent_reconcile", lambda: agent_pass(world))
        report["reference_again"] = reference(world)  # after the passes: the machine's noise, seen twice
    finally:
        world.store.close()
    floor = min(report["reference"]["read_and_decode_s"], report["reference_again"]["read_and_decode_s"])
    ratios = {}
    goals = {}
    for name in ("scheduler_pass_catch_up", "scheduler_pass_steady", "agent_reconcile"):
        seconds = report[name]["seconds"]
        ratios[name] = round(seconds / floor, 1) if floor else None
        peak = report[name]["pass_peak_rss_mb"] or report[name]["ru_maxrss_mb"]
        goals[name] = {
            "seconds_lt_1": seconds < PASS_GOAL_S,
            "peak_rss_lt_500_mb": peak < RSS_GOAL_MB,
        }
    report["ratio_to_read_and_decode"] = ratios
    report["goals"] = goals
    report["ru_maxrss_mb_process"] = _mb(ru_maxrss_mb())
    if measure.profiles:
        report["profiles"] = measure.profiles


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--services", type=int, default=1000, help="services (1000)")
    parser.add_argument("--tasks-per-service", type=int, default=10, help="tasks per service (10)")
    parser.add_argument("--clusters", type=int, default=10, help="clusters the services spread over (10)")
    parser.add_argument("--profile", type=Path, help="write cProfile dumps of each pass here (slower)")
    parser.add_argument("--out", type=Path, help="also write the JSON document to this file")
    args = parser.parse_args(argv)
    for option in ("services", "tasks_per_service", "clusters"):
        if getattr(args, option) < 1:
            parser.error(f"--{option.replace('_', '-')} must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    document: dict[str, Any] = {"benchmark": "tasks_sim", "pid": os.getpid()}
    interrupted = False
    with tempfile.TemporaryDirectory(prefix="ecsbox-bench-sim-") as tmp:
        try:
            asyncio.run(run(args, Path(tmp), document))
        except KeyboardInterrupt:
            interrupted = True
            document["flags"] = ["interrupted: results are partial"]
        except Exception as exc:  # the parent wants JSON either way
            document["error"] = f"{type(exc).__name__}: {exc}"
    text = json.dumps(document, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    return 130 if interrupted else (1 if "error" in document else 0)


if __name__ == "__main__":
    sys.exit(main())
