"""Docker's own ``fluentd`` log driver (inside dockerd) shipping a real container's output to the
Forward receiver: every line, with acknowledgements, and across a restart of the receiver.

These also pin down what the driver does with the options ecsbox relies on (the docstring of
``ecsbox.logs.forward`` has the whole story); if a Docker upgrade changes that, a test here says so.
Output lines of the restart tests (``forward_restart ...``) are the evidence quoted there; run with
``-s`` to see them.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.conftest import Resources

from ecsbox.logs.forward import ForwardServer

pytestmark = pytest.mark.e2e

TAG = "mytag"
# The driver options the module recommends, besides the address, acks, sub-second time and tag.
PAD_BYTES = 1000  # see restart_while_writing
ASYNC = ("fluentd-async=true", "fluentd-retry-wait=100ms")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Collector:
    """The handler: keeps every event it is given, as ecsbox would commit them."""

    events: list[tuple[str, float, dict[str, Any]]] = field(default_factory=list)

    async def __call__(self, tag: str, events: list[tuple[float, dict[str, Any]]]) -> None:
        self.events.extend((tag, time, record) for time, record in events)

    def logs(self, source: str = "stdout") -> list[str]:
        return [record["log"] for _, _, record in self.events if record["source"] == source]

    async def wait_for(self, condition: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out with {len(self.events)} events received")
            await asyncio.sleep(0.05)


def driver_options(port: int, *extra: str) -> list[str]:
    options = [
        f"fluentd-address=127.0.0.1:{port}",
        "fluentd-request-ack=true",
        "fluentd-sub-second-precision=true",
        f"tag={TAG}",
        *extra,
    ]
    return ["--log-driver", "fluentd", *(arg for option in options for arg in ("--log-opt", option))]


async def docker(*args: str) -> subprocess.CompletedProcess[str]:
    # Off the event loop: a docker CLI call can wait on dockerd, and dockerd on this receiver.
    return await asyncio.to_thread(
        subprocess.run, ["docker", *args], capture_output=True, text=True, timeout=120
    )


async def run_container(
    resources: Resources,
    image: str,
    name: str,
    options: list[str],
    script: str,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    labels = [arg for key, value in resources.labels.items() for arg in ("--label", f"{key}={value}")]
    environment = [arg for key, value in (env or {}).items() for arg in ("--env", f"{key}={value}")]
    return await docker(
        "run",
        "-d",
        "--name",
        resources.name(name),
        *labels,
        *environment,
        *options,
        image,
        "sh",
        "-c",
        script,
    )


def host_uptime() -> float:
    """Seconds since boot, the clock a container reads in /proc/uptime too."""
    return float(Path("/proc/uptime").read_text().split()[0])


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), 150))


def deduplicated(lines: list[str]) -> list[str]:
    """The lines in arrival order, each kept once (the driver delivers at least once)."""
    seen: set[str] = set()
    return [line for line in lines if not (line in seen or seen.add(line))]  # type: ignore[func-returns-value]


def test_every_line_arrives_with_tag_source_and_container_id_in_order(
    busybox_image: str, docker_resources: Resources
) -> None:
    lines = 2000

    async def scenario() -> None:
        collector = Collector()
        server = ForwardServer(collector)
        await server.start()
        try:
            started = time.time()
            script = f"i=1; while [ $i -le {lines} ]; do echo \"line $i\"; i=$((i+1)); done; printf 'bad\\377byte\\n'"
            options = [*driver_options(server.port, "labels=app"), "--label", "app=web"]
            result = await run_container(docker_resources, busybox_image, "lines", options, script)
            assert result.returncode == 0, result.stderr
            container_id = result.stdout.strip()
            await collector.wait_for(lambda: len(collector.events) >= lines + 1, timeout=60)
            await docker("wait", container_id)
            await asyncio.sleep(0.3)  # nothing more (no duplicate) is on its way
            finished = time.time()
        finally:
            await server.close()

        assert collector.logs("stdout") == [f"line {n}" for n in range(1, lines + 1)] + ["bad\ufffdbyte"]
        assert {tag for tag, _, _ in collector.events} == {TAG}
        for _, _, record in collector.events:
            assert record["source"] == "stdout"
            assert record["container_id"] == container_id
            assert record["container_name"] == "/" + docker_resources.name("lines")
            assert record["app"] == "web"  # the label the `labels` option names
        times = [event_time for _, event_time, _ in collector.events]
        assert times == sorted(times)
        assert started - 1 <= times[0] and times[-1] <= finished
        assert any(event_time != int(event_time) for event_time in times)  # EventTime: sub-second
        # A wrong ack makes the driver close the connection and send the line again: one
        # connection and no duplicate say that every ack matched.
        assert server.accepted_connections == 1

    run(scenario)


def test_both_streams_arrive_once_and_in_order_through_the_async_driver(
    busybox_image: str, docker_resources: Resources
) -> None:
    """With ``fluentd-async=true`` one goroutine sends stdout and stderr alike, so acks work even
    when both streams are busy (the synchronous driver with acks stalls then: see the module)."""
    lines = 1000

    async def scenario() -> None:
        collector = Collector()
        server = ForwardServer(collector)
        await server.start()
        try:
            script = f'i=1; while [ $i -le {lines} ]; do echo "out $i"; echo "err $i" >&2; i=$((i+1)); done; sleep 5'
            options = driver_options(server.port, *ASYNC)
            result = await run_container(docker_resources, busybox_image, "streams", options, script)
            assert result.returncode == 0, result.stderr
            await collector.wait_for(lambda: len(collector.events) >= 2 * lines, timeout=60)
            await asyncio.sleep(0.3)
        finally:
            await server.close()
        assert collector.logs("stdout") == [f"out {n}" for n in range(1, lines + 1)]
        assert collector.logs("stderr") == [f"err {n}" for n in range(1, lines + 1)]
        assert server.accepted_connections == 1

    run(scenario)


async def restart_while_writing(
    resources: Resources, image: str, name: str, extra_options: tuple[str, ...]
) -> tuple[Collector, dict[str, float]]:
    """A container writes 3,000 lines of ~1 kB (3 MB: more than the pipes and buffers between it
    and dockerd hold, which took 330 kB without a pause), one every 0.5 ms or so (2 to 3 s in all),
    then sleeps; the receiver goes away after 300 lines for 3 s and comes back on the same port.
    Returns what arrived and when things happened."""
    lines, outage_seconds = 3000, 3.0
    collector = Collector()
    port = free_port()
    server = ForwardServer(collector, port=port)
    await server.start()
    # The last line carries the container's /proc/uptime (the host's clock since boot, 10 ms steps):
    # when it got to the end of its output. All on stdout: the synchronous driver with acks cannot
    # take two streams at once.
    script = (
        f'i=1; while [ $i -le {lines} ]; do echo "$i $PAD"; i=$((i+1)); usleep 500; done; '
        'echo "done $(cut -d" " -f1 /proc/uptime)"; sleep 60'
    )
    options = driver_options(port, *extra_options)
    result = await run_container(resources, image, name, options, script, env={"PAD": "x" * PAD_BYTES})
    assert result.returncode == 0, result.stderr
    try:
        await collector.wait_for(lambda: len(collector.events) >= 300, timeout=60)
        await server.close()
        down_at = time.monotonic()
        received_before = len(collector.events)
        await asyncio.sleep(outage_seconds)
        server = ForwardServer(collector, port=port)
        await server.start()
        back_at = time.monotonic()
        back_uptime = host_uptime()
        await collector.wait_for(lambda: len(collector.events) > received_before, timeout=60)
        resumed_at = time.monotonic()

        def everything_in() -> bool:
            numbers = {record["log"].split()[0] for _, _, record in collector.events}
            return "done" in numbers and len(numbers) > lines

        await collector.wait_for(everything_in, timeout=90)
        finished_at = time.monotonic()
        await asyncio.sleep(0.3)
    finally:
        await server.close()
    [done_at] = {
        float(record["log"].split()[1]) for _, _, record in collector.events if "done" in record["log"]
    }
    timings = {
        "received_before_outage": received_before,
        "outage_s": round(back_at - down_at, 2),
        "resumed_after_back_s": round(resumed_at - back_at, 2),
        "all_in_after_back_s": round(finished_at - back_at, 2),
        "output_ended_after_back_s": round(done_at - back_uptime, 2),
        "connections_after_back": server.accepted_connections,
    }
    return collector, timings


@pytest.mark.slow
def test_lines_written_while_the_receiver_is_down_arrive_when_it_is_back(
    busybox_image: str, docker_resources: Resources
) -> None:
    """The combination the module recommends: async, acks, a short retry wait."""

    async def scenario() -> None:
        collector, timings = await restart_while_writing(
            docker_resources, busybox_image, "async-outage", ASYNC
        )
        received = [record["log"].split()[0] for _, _, record in collector.events]
        assert deduplicated(received) == [*map(str, range(1, 3001)), "done"]
        assert timings["received_before_outage"] < 1500  # the outage was in the middle of the output
        assert timings["output_ended_after_back_s"] < 0  # the container was never held up: queued
        print(f"forward_restart driver=async duplicates={len(received) - 3001} {timings}")

    run(scenario)


@pytest.mark.slow
def test_the_synchronous_driver_holds_the_container_up_while_the_receiver_is_down(
    busybox_image: str, docker_resources: Resources
) -> None:
    """Synchronous with acks (one stream only): the container blocks while the receiver is away
    (mode=blocking) and every line arrives once it is back."""

    async def scenario() -> None:
        collector, timings = await restart_while_writing(
            docker_resources, busybox_image, "sync-outage", ("mode=blocking", "fluentd-retry-wait=100ms")
        )
        received = [record["log"].split()[0] for _, _, record in collector.events]
        assert deduplicated(received) == [*map(str, range(1, 3001)), "done"]
        assert timings["received_before_outage"] < 1500  # the outage was in the middle of the output
        # Left alone the container would be done ~1 s before the receiver is back; held up by the
        # full pipe, it gets to its last line only after that.
        assert timings["output_ended_after_back_s"] > 0
        print(f"forward_restart driver=sync duplicates={len(received) - 3001} {timings}")

    run(scenario)


def test_the_async_driver_drops_its_queue_when_the_container_exits_before_the_receiver_is_back(
    busybox_image: str, docker_resources: Resources
) -> None:
    """What the async driver loses (the module's caveat): Docker sets ForceStopAsyncSend, so a
    container that ends while the receiver is away takes its queued lines with it. Docker's local
    copy (dual logging) still has them, with the EventTime of each, for ecsbox to fetch."""

    async def scenario() -> None:
        collector = Collector()
        port = free_port()
        script = 'i=1; while [ $i -le 50 ]; do echo "queued $i"; i=$((i+1)); done'
        result = await run_container(
            docker_resources, busybox_image, "async-lost", driver_options(port, *ASYNC), script
        )
        assert result.returncode == 0, result.stderr  # nothing listens, and yet it started
        container_id = result.stdout.strip()
        waited = await docker("wait", container_id)
        assert waited.stdout.strip() == "0"
        server = ForwardServer(collector, port=port)
        await server.start()
        await asyncio.sleep(2.0)
        await server.close()
        assert collector.events == []
        kept = await docker("logs", "--timestamps", container_id)
        assert kept.returncode == 0, kept.stderr
        assert [line.split(" ", 1)[1] for line in kept.stdout.splitlines()] == [
            f"queued {n}" for n in range(1, 51)
        ]

    run(scenario)


def test_the_synchronous_driver_needs_the_receiver_to_start_a_container(
    busybox_image: str, docker_resources: Resources
) -> None:
    async def scenario() -> None:
        port = free_port()
        result = await run_container(docker_resources, busybox_image, "sync", driver_options(port), "echo hi")
        assert result.returncode != 0
        assert "failed to initialize logging driver" in result.stderr
        assert "connection refused" in result.stderr

    run(scenario)
