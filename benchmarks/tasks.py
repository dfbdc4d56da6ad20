"""Tasks: how fast ecsbox starts them against plain ``docker run``, and what a reconcile pass costs
at scale. Every comparison is against a reference measured in the same run.

Phases (``--only`` picks some, comma-separated; all by default):

``docker``   RunTask -> RUNNING, ``--runs`` samples per side, alternating ecsbox / docker (and
             alternating which goes first), one warm-up each not counted. Image
             ``ecsbox-test/busybox:latest`` (built locally by ``tests/support/images.py``) running
             ``sleep 100000``, no ports.

             - ecsbox: time from the boto3 RunTask call until DescribeTasks (polled every 20 ms)
               says lastStatus RUNNING; also ecsbox's own ``startedAt - createdAt``.
             - docker: time from ``docker run -d`` (the CLI) until ``docker inspect`` says running.

             Both ``bridge`` (Docker's default bridge) and ``awsvpc`` (ecsbox adds a pause
             container on its own bridge network; the reference is two ``docker run``: the same
             ``ecsbox/pause`` image on a user-defined bridge network, then the app container with
             ``--network container:<pause>``). Goal: ecsbox p50 <= 1.3 x docker p50.

``service``  CreateService desiredCount 20 (bridge, no health check) until all 20 tasks are
             RUNNING, against 20 sequential ``docker run -d`` (until the last one runs). ecsbox's
             figure is CreateService until the last task's ``startedAt`` (set when ecsbox saw it
             running, in the same write as lastStatus RUNNING); ListTasks + DescribeTasks +
             DescribeServices poll every 250 ms only to know when to look, and their own
             observation is reported too (``tasks_running_s``, ``running_count_s``).
             Goal: ecsbox <= 0.6 x docker (ecsbox starts the 20 concurrently). ECS counts a task
             without a health check healthy only after 40 s RUNNING, so the rollout's COMPLETED
             time is measured on a second ecsbox started with ``--time-scale 20`` (40 s = 2 s),
             where the poll's observation is the figure.

``sim``      One reconcile pass over 1,000 services x 10 tasks on the simulated runtime, in a
             child process (``benchmarks/tasks_sim.py``, whose docstring says what it measures) so
             that its memory is its own. Goals: < 1 s and < 500 MB peak RSS per pass.

ecsbox runs as a user starts it (``python -m ecsbox up``, Docker runtime, loopback only), each
server in a temporary data directory, and is not pinned to a CPU: the Docker daemon, containerd
and the shims do most of the work on both sides. Every container and network this run makes (the
ecsbox servers' and the reference's) is removed at the end, also after Ctrl-C or SIGTERM.

Prints one JSON document (latencies in ms for RunTask, seconds for services and passes).

    python benchmarks/tasks.py                          # everything, about 3 minutes
    python benchmarks/tasks.py --only docker --runs 20 --out benchmarks/out/tasks.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness import (
    CLOCK_TICKS,
    Server,
    free_port,
    host_busy_s,
    percentile,
    print_report,
    rounded,
    sigterm_as_interrupt,
    version_of,
)

REPO = Path(__file__).resolve().parents[1]
PHASES = ("docker", "service", "sim")
MODES = ("bridge", "awsvpc")

IMAGE = "ecsbox-test/busybox:latest"
COMMAND = ("sleep", "100000")
REGION = "us-east-1"
CLUSTER = "bench-tasks"
SUBNET = "subnet-0bench0000000001"
STOP_TIMEOUT_S = 2  # the task definition's stopTimeout: `sleep` as PID 1 ignores SIGTERM
SERVICE_TASKS = 20
TIME_SCALE = 20.0

POLL_S = 0.020  # DescribeTasks / docker inspect while waiting for RUNNING
# DescribeServices + ListTasks + DescribeTasks while a service comes up. Kept light: at 50 ms the
# polling alone cost ecsbox 0.2 CPU-s per sample, taken from the engine on a 2-core machine. The
# time-scale-1 figure comes from the tasks' own startedAt, so it does not depend on this interval.
SERVICE_POLL_S = 0.250
SAMPLE_LIMIT_S = 60.0  # one task to RUNNING
SERVICE_LIMIT_S = 180.0  # a service to RUNNING (and, at --time-scale 20, to COMPLETED)
STOPPED_LIMIT_S = 60.0
DOCKER_CALL_LIMIT_S = 60.0
SIM_LIMIT_S = 600.0

RUNTASK_GOAL = 1.3
SERVICE_GOAL = 0.6


class SampleFailed(Exception):
    """One sample that did not reach its goal state (the run goes on; the failure is reported)."""


# ---- CPU accounting ------------------------------------------------------------------------------


def process_cpu_s(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime, all threads


class CpuMeter:
    """CPU seconds spent from its creation to :meth:`read`: the host's, and the ecsbox server's."""

    def __init__(self, pid: int | None = None) -> None:
        self.pid = pid
        self.host = host_busy_s()
        self.process = process_cpu_s(pid) if pid else None

    def read(self) -> dict[str, float]:
        result = {"host_cpu_busy_s": host_busy_s() - self.host}
        if self.pid and self.process is not None:
            now = process_cpu_s(self.pid)
            if now is not None:
                result["ecsbox_cpu_s"] = now - self.process
        return result


# ---- docker CLI ----------------------------------------------------------------------------------


def docker(*args: str, check: bool = True, timeout: float = DOCKER_CALL_LIMIT_S) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)
    if check and done.returncode != 0:
        raise SampleFailed(f"docker {' '.join(args[:2])}: {done.stderr.strip() or done.returncode}")
    return done.stdout.strip()


def remove_containers(label_filter: str) -> int:
    ids = docker("ps", "-aq", "--filter", f"label={label_filter}", check=False).split()
    for start in range(0, len(ids), 50):
        docker("rm", "-f", *ids[start : start + 50], check=False)
    return len(ids)


def wait_docker_running(container_ids: list[str], started: float) -> float:
    """Poll ``docker inspect`` until every container runs; seconds since ``started``."""
    deadline = started + SAMPLE_LIMIT_S
    while True:
        states = docker("inspect", "-f", "{{.State.Status}}", *container_ids).split()
        if all(state == "running" for state in states):
            return time.perf_counter() - started
        if any(state in ("exited", "dead") for state in states):
            raise SampleFailed(f"a reference container stopped: {states}")
        if time.perf_counter() > deadline:
            raise SampleFailed(f"reference not running after {SAMPLE_LIMIT_S:g} s: {states}")
        time.sleep(POLL_S)


class DockerReference:
    """Plain ``docker run`` of the same image, every container labelled for the final cleanup."""

    def __init__(self, run_id: str) -> None:
        self.label = f"ecsbox-bench.run={run_id}"
        self.network = f"ecsbox-bench-{run_id}"
        self.network_made = False
        self.pause_image = ""

    def run_args(self, network: str) -> list[str]:
        return ["run", "-d", "--network", network, "--label", self.label]

    def start_bridge(self) -> dict[str, Any]:
        meter = CpuMeter()
        started = time.perf_counter()
        container = docker(*self.run_args("bridge"), IMAGE, *COMMAND)
        returned = time.perf_counter() - started
        try:
            running = wait_docker_running([container], started)
            cpu = meter.read()
        finally:
            docker("rm", "-f", container, check=False)
        return {"seconds": running, "docker_run_returned_s": returned, **cpu}

    def start_awsvpc(self) -> dict[str, Any]:
        if not self.network_made:
            docker("network", "create", "--label", self.label, self.network)
            self.network_made = True
        meter = CpuMeter()
        started = time.perf_counter()
        pause = docker(*self.run_args(self.network), self.pause_image)
        containers = [pause]
        try:
            containers.append(docker(*self.run_args(f"container:{pause}"), IMAGE, *COMMAND))
            returned = time.perf_counter() - started
            running = wait_docker_running(containers[1:], started)
            cpu = meter.read()
        finally:
            docker("rm", "-f", *containers, check=False)
        return {"seconds": running, "docker_run_returned_s": returned, **cpu}

    def start_many(self, count: int) -> dict[str, Any]:
        """``count`` ``docker run -d``, one after the other (the reference)."""
        meter = CpuMeter()
        started = time.perf_counter()
        containers: list[str] = []
        try:
            for _ in range(count):
                containers.append(docker(*self.run_args("bridge"), IMAGE, *COMMAND))
            returned = time.perf_counter() - started
            running = wait_docker_running(containers, started)
            cpu = meter.read()
        finally:
            if containers:
                docker("rm", "-f", *containers, check=False)
        return {"seconds": running, "docker_runs_returned_s": returned, **cpu}

    def start_parallel(self, count: int) -> dict[str, Any]:
        """``count`` ``docker run -d`` at once: what the engine itself manages concurrently here
        (a diagnostic for the service phase, not a goal)."""
        meter = CpuMeter()
        started = time.perf_counter()
        command = ["docker", *self.run_args("bridge"), IMAGE, *COMMAND]
        runs = [
            subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(count)
        ]
        containers: list[str] = []
        try:
            failures = []
            for run in runs:
                out, err = run.communicate(timeout=DOCKER_CALL_LIMIT_S)
                if run.returncode == 0:
                    containers.append(out.strip())
                else:
                    failures.append(err.strip())
            if failures:
                raise SampleFailed(f"{len(failures)} parallel docker runs failed: {failures[0]}")
            returned = time.perf_counter() - started
            running = wait_docker_running(containers, started)
            cpu = meter.read()
        finally:
            for run in runs:  # a run cut short may leave a container: the final cleanup finds it by label
                if run.poll() is None:
                    run.kill()
                    run.wait()
            if containers:
                docker("rm", "-f", *containers, check=False)
        return {"seconds": running, "docker_runs_returned_s": returned, **cpu}

    def cleanup(self) -> None:
        remove_containers(self.label)
        if self.network_made:
            docker("network", "rm", self.network, check=False)


# ---- ecsbox --------------------------------------------------------------------------------------


def ecs_client(endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "ecs",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="AKIAECSBOXBENCH00002",
        aws_secret_access_key="ecsbox-benchmark-secret-access-key-0002",
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=60),
    )


class Ecsbox:
    """One ``ecsbox up`` in its own data directory, and what it takes to leave no trace."""

    def __init__(self, name: str, workdir: Path, *extra: str) -> None:
        self.data_dir = workdir / f"{name}-data"
        port = free_port()
        command = [
            sys.executable,
            "-m",
            "ecsbox",
            "up",
            "--port",
            str(port),
            "--data-dir",
            str(self.data_dir),
        ]
        self.server = Server(name, [*command, "--allow-reset", "--log-level", "warning", *extra],
                             "/_ecsbox/health", port=port)  # fmt: skip
        self.workdir = workdir
        self.server_id: str | None = None
        self.client: Any = None
        self.definitions: dict[str, str] = {}

    def start(self) -> None:
        self.server.start(self.workdir, pin=False)
        self.server_id = self._server_id()
        self.client = ecs_client(self.server.endpoint)
        self.client.create_cluster(clusterName=CLUSTER)
        for mode in MODES:
            family = f"bench-tasks-{mode}"
            self.definitions[mode] = self.client.register_task_definition(
                family=family,
                networkMode=mode,
                requiresCompatibilities=["EC2"],
                containerDefinitions=[
                    {
                        "name": "app",
                        "image": IMAGE,
                        "command": list(COMMAND),
                        "memory": 64,
                        "essential": True,
                        "stopTimeout": STOP_TIMEOUT_S,
                    }
                ],
            )["taskDefinition"]["taskDefinitionArn"]

    def _server_id(self) -> str | None:
        path = self.data_dir / "ecsbox.db"
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as db:
            row = db.execute("SELECT value FROM ecsbox_meta WHERE key = 'server_id'").fetchone()
        return str(row[0]) if row else None

    def meter(self) -> CpuMeter:
        return CpuMeter(self.server.process.pid if self.server.process else None)

    def run_task(self, mode: str) -> dict[str, Any]:
        params: dict[str, Any] = {
            "cluster": CLUSTER,
            "taskDefinition": self.definitions[mode],
            "launchType": "EC2",
        }
        if mode == "awsvpc":
            params["networkConfiguration"] = {"awsvpcConfiguration": {"subnets": [SUBNET]}}
        meter = self.meter()
        started = time.perf_counter()
        response = self.client.run_task(**params)
        called = time.perf_counter() - started
        if response.get("failures") or not response.get("tasks"):
            raise SampleFailed(f"RunTask failed: {response.get('failures')}")
        task_arn = response["tasks"][0]["taskArn"]
        try:
            task, seconds = self._poll_running(task_arn, started)
            cpu = meter.read()
        finally:
            self.stop_tasks([task_arn])
        own = task["startedAt"] - task["createdAt"]
        return {
            "seconds": seconds,
            "run_task_call_s": called,
            "own_started_minus_created_s": own.total_seconds(),
            **cpu,
        }

    def _poll_running(self, task_arn: str, started: float) -> tuple[dict[str, Any], float]:
        deadline = started + SAMPLE_LIMIT_S
        next_poll = time.perf_counter()
        while True:
            task = self.client.describe_tasks(cluster=CLUSTER, tasks=[task_arn])["tasks"][0]
            if task["lastStatus"] == "RUNNING":
                return task, time.perf_counter() - started
            if task["lastStatus"] == "STOPPED" or task.get("desiredStatus") == "STOPPED":
                raise SampleFailed(f"task stopped: {task.get('stoppedReason')}")
            if time.perf_counter() > deadline:
                raise SampleFailed(f"task {task['lastStatus']} after {SAMPLE_LIMIT_S:g} s")
            next_poll += POLL_S
            time.sleep(max(0.0, next_poll - time.perf_counter()))

    def stop_tasks(self, task_arns: list[str]) -> None:
        """Stop them and wait until they are STOPPED, so the next sample has the engine to itself."""
        for task_arn in task_arns:
            with contextlib.suppress(Exception):
                self.client.stop_task(cluster=CLUSTER, task=task_arn, reason="benchmark sample done")
        deadline = time.monotonic() + STOPPED_LIMIT_S
        while task_arns and time.monotonic() < deadline:
            described = []
            for start in range(0, len(task_arns), 100):
                described += self.client.describe_tasks(
                    cluster=CLUSTER, tasks=task_arns[start : start + 100]
                )["tasks"]
            if all(task["lastStatus"] == "STOPPED" for task in described):
                return
            time.sleep(0.1)

    def run_service(self, index: int, want_completed: bool) -> dict[str, Any]:
        name = f"bench-svc-{index}"
        meter = self.meter()
        started = time.perf_counter()
        wall_started = time.time()
        self.client.create_service(
            cluster=CLUSTER,
            serviceName=name,
            taskDefinition=self.definitions["bridge"],
            desiredCount=SERVICE_TASKS,
            launchType="EC2",
        )
        seen: set[str] = set()
        marks: dict[str, float] = {}
        try:
            deadline = started + SERVICE_LIMIT_S
            wanted = {"tasks_running_s", "running_count_s"} | ({"completed_s"} if want_completed else set())
            next_poll = time.perf_counter()
            while not wanted <= marks.keys():
                if time.perf_counter() > deadline:
                    raise SampleFailed(f"service reached only {sorted(marks)} in {SERVICE_LIMIT_S:g} s")
                service = self.client.describe_services(cluster=CLUSTER, services=[name])["services"][0]
                now = time.perf_counter() - started
                if service["runningCount"] == SERVICE_TASKS:
                    marks.setdefault("running_count_s", now)
                primary: dict[str, Any] = next(
                    (d for d in service["deployments"] if d["status"] == "PRIMARY"), {}
                )
                if primary.get("rolloutState") == "COMPLETED":
                    marks.setdefault("completed_s", now)
                if "tasks_running_s" not in marks:
                    arns = self.client.list_tasks(cluster=CLUSTER, serviceName=name)["taskArns"]
                    seen.update(arns)
                    tasks = self.client.describe_tasks(cluster=CLUSTER, tasks=arns)["tasks"] if arns else []
                    if sum(task["lastStatus"] == "RUNNING" for task in tasks) >= SERVICE_TASKS:
                        marks["tasks_running_s"] = time.perf_counter() - started
                        # When ecsbox saw the last one RUNNING (startedAt is set in the same write
                        # as lastStatus RUNNING); wall clock only at time scale 1.
                        last = max(task["startedAt"].timestamp() for task in tasks)
                        marks["last_started_at_s"] = last - wall_started
                        marks.update(meter.read())
                next_poll += SERVICE_POLL_S
                time.sleep(max(0.0, next_poll - time.perf_counter()))
        finally:
            with contextlib.suppress(Exception):
                self.client.update_service(cluster=CLUSTER, service=name, desiredCount=0)
                self.client.delete_service(cluster=CLUSTER, service=name, force=True)
            with contextlib.suppress(Exception):
                seen.update(self.client.list_tasks(cluster=CLUSTER, serviceName=name)["taskArns"])
            self.stop_tasks(sorted(seen))
        return marks

    def pause_image(self) -> str:
        """The awsvpc pause image this ecsbox built (after its first awsvpc task)."""
        images = docker("images", "--filter", "label=ecsbox.pause=1", "--format", "{{.Repository}}:{{.Tag}}")
        from ecsbox.runtime.pause import pause_image_tag

        wanted = pause_image_tag(docker("info", "-f", "{{.Architecture}}"))
        if wanted not in images.split():
            raise SampleFailed(f"pause image {wanted} not found among {images.split()}")
        return wanted

    def cleanup(self) -> None:
        if self.server.process is not None and self.server.process.poll() is None:
            with contextlib.suppress(Exception):
                request = urllib.request.Request(
                    f"{self.server.endpoint}/_ecsbox/state/reset",
                    data=b"{}",
                    method="POST",
                    headers={"Content-Type": "application/json"},
                )
                urllib.request.urlopen(request, timeout=60).close()
        self.server.stop()
        if self.server_id:  # whatever the reset left (or a server that died)
            remove_containers(f"ecsbox.server={self.server_id}")
            docker("network", "rm", f"ecsbox-{self.server_id[:12]}", check=False)


# ---- summaries -----------------------------------------------------------------------------------


def summarise(
    samples: list[dict[str, Any]], keys: tuple[str, ...], scale: float, digits: int
) -> dict[str, Any]:
    """p50 and p90 (nearest rank) of each key across the samples that succeeded."""
    good = [s for s in samples if "error" not in s]
    result: dict[str, Any] = {"n": len(good)}
    unit = "ms" if scale == 1000 else "s"
    for key in keys:
        values = sorted(s[key] * scale for s in good if s.get(key) is not None)
        if not values:
            continue
        name = key.removesuffix("_s")
        result[f"{name}_p50_{unit}"] = rounded(percentile(values, 0.5), digits)
        result[f"{name}_p90_{unit}"] = rounded(percentile(values, 0.9), digits)
    errors = [s["error"] for s in samples if "error" in s]
    if errors:
        result["errors"] = errors
    result["samples"] = [rounded(s["seconds"] * scale, digits) if "error" not in s else None for s in samples]
    return result


def ratio(ours: float | None, theirs: float | None) -> float | None:
    return round(ours / theirs, 3) if ours is not None and theirs else None


def sample(measure: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return measure()
    except (SampleFailed, subprocess.TimeoutExpired) as exc:
        return {"error": str(exc)}
    except Exception as exc:  # a boto3 error, a refused connection: the sample failed, not the run
        return {"error": f"{type(exc).__name__}: {exc}"}


# ---- phases --------------------------------------------------------------------------------------


RUNTASK_KEYS = (
    "seconds",
    "run_task_call_s",
    "own_started_minus_created_s",
    "host_cpu_busy_s",
    "ecsbox_cpu_s",
)
REFERENCE_KEYS = ("seconds", "docker_run_returned_s", "host_cpu_busy_s")
SERVICE_KEYS = (
    "seconds",
    "tasks_running_s",
    "running_count_s",
    "completed_s",
    "host_cpu_busy_s",
    "ecsbox_cpu_s",
)
MANY_KEYS = ("seconds", "docker_runs_returned_s", "host_cpu_busy_s")


def phase_docker(box: Ecsbox, reference: DockerReference, runs: int, report: dict[str, Any]) -> None:
    for mode in MODES:
        print(f"[docker] {mode}: warm-up", file=sys.stderr)
        warm = sample(lambda: box.run_task(mode))  # noqa: B023 - called at once
        if "error" in warm:
            report[mode] = {"error": f"warm-up RunTask failed: {warm['error']}"}
            continue
        if mode == "awsvpc":
            reference.pause_image = box.pause_image()
        start = reference.start_awsvpc if mode == "awsvpc" else reference.start_bridge
        sample(start)
        ours: list[dict[str, Any]] = []
        theirs: list[dict[str, Any]] = []
        try:
            for index in range(runs):
                print(f"[docker] {mode}: sample {index + 1}/{runs}", file=sys.stderr)
                pair = [(ours, lambda: box.run_task(mode)), (theirs, start)]  # noqa: B023
                for into, measure in pair if index % 2 == 0 else reversed(pair):
                    into.append(sample(measure))
        finally:  # an interrupted run keeps the samples it has
            ecsbox = summarise(ours, RUNTASK_KEYS, 1000, 1)
            docker_run = summarise(theirs, REFERENCE_KEYS, 1000, 1)
            p50 = ratio(ecsbox["seconds_p50_ms"], docker_run["seconds_p50_ms"])
            report[mode] = {
                "ecsbox": ecsbox,
                "docker": docker_run,
                "ratio_p50": p50,
                "ratio_p90": ratio(ecsbox["seconds_p90_ms"], docker_run["seconds_p90_ms"]),
                "goal": f"ratio_p50 <= {RUNTASK_GOAL}",
                "goal_met": None if p50 is None else p50 <= RUNTASK_GOAL,
            }


def phase_service(
    box: Ecsbox, scaled: Ecsbox | None, reference: DockerReference, runs: int, report: dict[str, Any]
) -> None:
    ours: list[dict[str, Any]] = []
    theirs: list[dict[str, Any]] = []
    parallel: list[dict[str, Any]] = []
    try:
        for index in range(runs):
            print(f"[service] run {index + 1}/{runs}", file=sys.stderr)
            pair = [
                (ours, lambda: service_sample(box, index, False)),  # noqa: B023
                (theirs, lambda: reference.start_many(SERVICE_TASKS)),
            ]
            for into, measure in pair if index % 2 == 0 else reversed(pair):
                into.append(sample(measure))
        for index in range(runs):
            print(f"[service] docker diagnostic: 20 parallel runs {index + 1}/{runs}", file=sys.stderr)
            parallel.append(sample(lambda: reference.start_parallel(SERVICE_TASKS)))
    finally:
        ecsbox = summarise(ours, SERVICE_KEYS, 1, 3)
        sequential = summarise(theirs, MANY_KEYS, 1, 3)
        p50 = ratio(ecsbox["seconds_p50_s"], sequential["seconds_p50_s"])
        report["time_scale_1"] = {
            "ecsbox": ecsbox,
            "docker_20_sequential": sequential,
            "ratio_p50": p50,
            "goal": f"ratio_p50 <= {SERVICE_GOAL} (20 tasks RUNNING)",
            "goal_met": None if p50 is None else p50 <= SERVICE_GOAL,
            "docker_20_parallel_diagnostic": summarise(parallel, MANY_KEYS, 1, 3),
        }
    if scaled is None:
        return
    scaled_samples: list[dict[str, Any]] = []
    try:
        for index in range(runs):
            print(f"[service] --time-scale {TIME_SCALE:g} run {index + 1}/{runs}", file=sys.stderr)
            scaled_samples.append(sample(lambda: service_sample(scaled, index, True)))  # noqa: B023
    finally:
        summary = summarise(scaled_samples, SERVICE_KEYS, 1, 3)
        report[f"time_scale_{TIME_SCALE:g}"] = {
            "ecsbox": summary,
            "ratio_p50_running_vs_docker": ratio(summary["seconds_p50_s"], sequential["seconds_p50_s"]),
            "note": f"completed = rolloutState COMPLETED: healthy after 40 s of ecsbox time "
            f"(2 s at x{TIME_SCALE:g}), then the scheduler's next tick",
        }


def service_sample(box: Ecsbox, index: int, scaled: bool) -> dict[str, Any]:
    """``seconds``: CreateService until the last task's ``startedAt`` at time scale 1 (ecsbox's
    clock is the wall clock there); until the poll saw all 20 RUNNING on a time-scaled server."""
    marks = box.run_service(index, want_completed=scaled)
    return {"seconds": marks["tasks_running_s" if scaled else "last_started_at_s"], **marks}


def phase_sim(args: argparse.Namespace, report: dict[str, Any]) -> None:
    command = [sys.executable, str(Path(__file__).with_name("tasks_sim.py"))]
    print("[sim] 1,000 services x 10 tasks (child process)", file=sys.stderr)
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        output, _ = child.communicate(timeout=SIM_LIMIT_S)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        report["error"] = f"did not finish within {SIM_LIMIT_S:g} s"
        return
    finally:
        if child.poll() is None:  # interrupted while waiting: it got the Ctrl-C too, let it finish
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=30)
            if child.poll() is None:
                child.kill()
    try:
        report.update(json.loads(output))
    except json.JSONDecodeError:
        report["error"] = f"no JSON from tasks_sim.py (status {child.returncode})"


# ---- the run -------------------------------------------------------------------------------------


@contextlib.contextmanager
def no_interrupts() -> Iterator[None]:
    """Cleanup runs to its end: a second Ctrl-C or SIGTERM must not leave containers behind."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "docker": docker("version", "-f", "{{.Server.Version}}", check=False) or None,
        "ecsbox": version_of("ecsbox"),
        "boto3": version_of("boto3"),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", default=",".join(PHASES), help="comma-separated phases: docker,service,sim")
    parser.add_argument("--runs", type=int, default=10, help="RunTask samples per side and network mode (10)")
    parser.add_argument("--service-runs", type=int, default=3, help="service samples per side (3)")
    parser.add_argument("--out", type=Path, help="also write the JSON document to this file")
    args = parser.parse_args(argv)
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    if unknown := set(args.only) - set(PHASES):
        parser.error(f"unknown phase(s) {sorted(unknown)}; choose from {', '.join(PHASES)}")
    if args.runs < 1 or args.service_runs < 1:
        parser.error("--runs and --service-runs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"  # loopback only
    run_id = uuid.uuid4().hex[:8]
    document: dict[str, Any] = {
        "benchmark": "tasks",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "settings": {
            "image": IMAGE,
            "command": list(COMMAND),
            "runs": args.runs,
            "service_runs": args.service_runs,
            "service_tasks": SERVICE_TASKS,
            "poll_ms": {"run_task": POLL_S * 1000, "service": SERVICE_POLL_S * 1000},
            "task_stop_timeout_s": STOP_TIMEOUT_S,
            "phases": args.only,
        },
    }
    flags: list[str] = []
    servers: list[Ecsbox] = []
    reference = DockerReference(run_id)
    interrupted = False
    with sigterm_as_interrupt(), tempfile.TemporaryDirectory(prefix="ecsbox-bench-tasks-") as tmp:
        workdir = Path(tmp)
        try:
            if {"docker", "service"} & set(args.only):
                sys.path.insert(0, str(REPO))
                from tests.support.images import busybox_image

                busybox_image()
                box = Ecsbox("ecsbox", workdir)
                servers.append(box)
                print(f"[ecsbox] starting on port {box.server.port}", file=sys.stderr)
                box.start()
                if "docker" in args.only:
                    document["run_task"] = {}
                    phase_docker(box, reference, args.runs, document["run_task"])
                if "service" in args.only:
                    document["service"] = {}
                    scaled = Ecsbox("ecsbox-x20", workdir, "--time-scale", f"{TIME_SCALE:g}")
                    servers.append(scaled)
                    print(f"[ecsbox x{TIME_SCALE:g}] starting on port {scaled.server.port}", file=sys.stderr)
                    scaled.start()
                    phase_service(box, scaled, reference, args.service_runs, document["service"])
            if "sim" in args.only:
                document["sim"] = {}
                phase_sim(args, document["sim"])
        except KeyboardInterrupt:
            interrupted = True
        except Exception as exc:
            flags.append(f"run failed: {type(exc).__name__}: {exc}")
            for server in servers:
                if tail := server.server.log_tail():
                    document.setdefault("log_tails", {})[server.server.name] = tail
        finally:
            with no_interrupts():
                print("[cleanup] containers and networks of this run", file=sys.stderr)
                for server in servers:
                    server.cleanup()
                reference.cleanup()
    flags.append("not pinned: ecsbox, the client and the Docker daemon share the machine's CPUs")
    return print_report(document, flags, interrupted, args.out)


if __name__ == "__main__":
    sys.exit(main())
