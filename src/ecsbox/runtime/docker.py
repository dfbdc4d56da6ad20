"""The runtime port on a real Docker Engine (local socket or a remote ``tcp://`` engine).

Every call to the engine is blocking HTTP (the docker SDK's low-level :class:`docker.APIClient`),
so it runs on a bounded thread pool and never on the event loop. Docker's errors are translated
here, at the boundary, into the port's error tree. The object holds no asyncio primitive, so one
instance may serve several event loops (tests run each case in its own ``asyncio.run``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import io
import logging
import math
import tarfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Literal, TypeVar

import docker
import docker.errors
import requests.exceptions
from docker.utils import parse_repository_tag

from ecsbox.runtime import docker_specs
from ecsbox.runtime.port import (
    ContainerNotFound,
    ContainerSpec,
    ContainerStartFailed,
    ContainerState,
    ContainerStats,
    EngineInfo,
    ImagePullFailed,
    RegistryAuth,
    RuntimeEvent,
    RuntimeFailure,
    RuntimeUnavailable,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

# Reconnect back-off for the event stream while the engine is away: 0.1 s doubling to 5 s.
EVENTS_BACKOFF_START_S = 0.1
EVENTS_BACKOFF_MAX_S = 5.0

_CONNECTION_ERRORS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    ConnectionError,
    FileNotFoundError,
)


def _explain(error: docker.errors.APIError) -> str:
    """The engine's own words (``explanation``), else the HTTP error."""
    explanation = error.explanation
    if isinstance(explanation, bytes):
        explanation = explanation.decode("utf-8", "replace")
    return str(explanation or error).strip()


def _is_unavailable(error: BaseException) -> bool:
    if isinstance(error, _CONNECTION_ERRORS):
        return True
    # The SDK wraps a failed version negotiation in a bare DockerException.
    return type(error) is docker.errors.DockerException and "Error while fetching server API" in str(error)


Lane = Literal["fast", "wait", "stats"]


class DockerRuntime:
    """:class:`ecsbox.runtime.port.Runtime` on the Docker Engine API.

    ``base_url``: ``unix:///var/run/docker.sock`` / ``tcp://host:2375``; None reads ``DOCKER_HOST``
    the way the docker CLI does.

    Blocking calls run on three bounded pools ("lanes"), so slow calls never starve quick ones:

    - ``fast`` (``max_workers``): create, start, inspect, list, kill, remove, networks, info —
      milliseconds each;
    - ``wait`` (``wait_workers``): stop (blocks for the stop timeout), image pulls and builds;
    - ``stats`` (``stats_workers``): one-shot stats. The engine answers a stats request at its
      collector's next tick, once a second, whatever ``one-shot`` says (measured on 20.10: ~1 s
      per call), so a sweep over many containers must run them concurrently: all requests in
      flight are answered on the same tick.
    """

    def __init__(
        self,
        base_url: str | None = None,
        max_workers: int = 8,
        timeout_s: float = 60,
        wait_workers: int = 32,
        stats_workers: int = 32,
    ) -> None:
        self._base_url = base_url
        self._max_workers = max_workers
        self._pool_size = max_workers + wait_workers + stats_workers
        self._timeout_s = timeout_s
        self._lanes: dict[Lane, concurrent.futures.ThreadPoolExecutor] = {
            "fast": concurrent.futures.ThreadPoolExecutor(max_workers, thread_name_prefix="ecsbox-docker"),
            "wait": concurrent.futures.ThreadPoolExecutor(
                wait_workers, thread_name_prefix="ecsbox-docker-wait"
            ),
            "stats": concurrent.futures.ThreadPoolExecutor(
                stats_workers, thread_name_prefix="ecsbox-docker-stats"
            ),
        }
        self._client: docker.APIClient | None = None
        self._client_lock = threading.Lock()
        self._network_lock = threading.Lock()  # create-if-missing must not race with itself
        self._pulls: dict[str, concurrent.futures.Future[str]] = {}
        self._pulls_lock = threading.Lock()
        self._event_streams: set[_EventStream] = set()
        self._closed = False

    # ---- plumbing ------------------------------------------------------------------------------

    def new_client(self, timeout_s: float | None = None) -> docker.APIClient:
        """A fresh low-level client (blocking: negotiates the API version with the engine)."""
        kwargs: dict[str, Any] = {
            "version": "auto",
            "timeout": timeout_s or self._timeout_s,
            "max_pool_size": self._pool_size,
        }
        if self._base_url:
            return docker.APIClient(base_url=self._base_url, **kwargs)
        environment = docker.utils.kwargs_from_env()
        return docker.APIClient(**{**environment, **kwargs})

    def client(self) -> docker.APIClient:
        """The shared client, made on first use (blocking). Public for helpers that build images."""
        with self._client_lock:
            if self._client is None:
                try:
                    self._client = self.new_client()
                except Exception as error:
                    raise self._translate(error) from error
            return self._client

    def _translate(self, error: BaseException) -> RuntimeFailure:
        if isinstance(error, RuntimeFailure):
            return error
        if _is_unavailable(error):
            return RuntimeUnavailable(f"Docker engine not answering: {error}")
        if isinstance(error, docker.errors.APIError):
            return RuntimeFailure(_explain(error))
        return RuntimeFailure(f"{type(error).__name__}: {error}")

    async def run(self, call: Callable[[docker.APIClient], T], lane: Lane = "fast") -> T:
        """Run ``call(client)`` on a pool; Docker's errors come out as the port's."""
        if self._closed:
            raise RuntimeUnavailable("the Docker runtime is closed")

        def blocking() -> T:
            client = self.client()
            try:
                return call(client)
            except RuntimeFailure:
                raise
            except Exception as error:
                raise self._translate(error) from error

        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._lanes[lane], blocking)

    # ---- engine ----------------------------------------------------------------------------------

    async def info(self) -> EngineInfo:
        document = await self.run(lambda c: c.info())
        architecture = str(document.get("Architecture") or "")
        return EngineInfo(
            name="docker",
            version=str(document.get("ServerVersion") or ""),
            cpus=int(document.get("NCPU") or 0),
            memory_bytes=int(document.get("MemTotal") or 0),
            architecture={"amd64": "x86_64", "arm64": "aarch64"}.get(architecture, architecture),
            os=str(document.get("OSType") or "linux"),
        )

    # ---- images ----------------------------------------------------------------------------------

    async def ensure_image(self, image: str, auth: RegistryAuth | None = None) -> str:
        """The image's id; pulls it when missing (always, with ``auth``). Concurrent calls for one
        image share one pull."""
        loop = asyncio.get_running_loop()
        with self._pulls_lock:
            pending = self._pulls.get(image)
            owner = pending is None
            if pending is None:
                pending = concurrent.futures.Future()
                self._pulls[image] = pending
        if owner:
            try:
                pending.set_result(
                    await self.run(lambda c: self._ensure_image_blocking(c, image, auth), "wait")
                )
            except asyncio.CancelledError:
                # Whoever shares this pull was not cancelled: tell them, and let them retry.
                pending.set_exception(RuntimeFailure(f"pull of {image} was cancelled"))
                raise
            except BaseException as error:
                pending.set_exception(error)
            finally:
                with self._pulls_lock:
                    self._pulls.pop(image, None)
        return await asyncio.wrap_future(pending, loop=loop)

    @staticmethod
    def _image_id(client: docker.APIClient, image: str) -> str | None:
        try:
            return str(client.inspect_image(image)["Id"])
        except docker.errors.NotFound:
            return None

    def _ensure_image_blocking(self, client: docker.APIClient, image: str, auth: RegistryAuth | None) -> str:
        image_id = self._image_id(client, image)
        if image_id is not None and auth is None:
            return image_id
        repository, tag = parse_repository_tag(image)
        # Without a tag the engine would pull every tag of the repository.
        tag = tag or "latest"
        auth_config = {"username": auth.username, "password": auth.password} if auth else None
        try:
            for message in client.pull(
                repository, tag=tag, stream=True, decode=True, auth_config=auth_config
            ):
                if isinstance(message, dict) and message.get("error"):
                    detail = message.get("errorDetail") or {}
                    raise ImagePullFailed(str(detail.get("message") or message["error"]).strip())
        except (docker.errors.APIError, ImagePullFailed) as error:
            if isinstance(error, docker.errors.APIError) and _is_unavailable(error):
                raise
            if image_id is not None:  # the copy already here serves, as the ECS agent's default does
                log.info("event=pull_failed_using_cached image=%s", image)
                return image_id
            if isinstance(error, ImagePullFailed):
                raise
            raise ImagePullFailed(_explain(error)) from error
        image_id = self._image_id(client, image)
        if image_id is None:
            raise ImagePullFailed(f"{image}: the engine reported a pull but has no such image")
        return image_id

    async def read_image_file(self, image: str, path: str, max_bytes: int = 1024 * 1024) -> bytes:
        def blocking(client: docker.APIClient) -> bytes:
            try:
                created = client.create_container(
                    image, command=["true"], labels={"ecsbox.role": "read-file"}
                )
            except docker.errors.ImageNotFound as error:
                raise RuntimeFailure(_explain(error)) from error
            try:
                stream, stat = client.get_archive(created["Id"], path)
                archive = io.BytesIO()
                try:  # read to the end (or close it): the engine holds the container meanwhile
                    if int(stat.get("size") or 0) > max_bytes:
                        raise RuntimeFailure(f"{path} in {image} is larger than {max_bytes} bytes")
                    for chunk in stream:
                        archive.write(chunk)
                        if archive.tell() > max_bytes + 64 * 1024:
                            raise RuntimeFailure(f"{path} in {image} is larger than {max_bytes} bytes")
                finally:
                    stream.close()
                archive.seek(0)
                with tarfile.open(fileobj=archive) as tar:
                    member = next((m for m in tar.getmembers() if m.isfile()), None)
                    extracted = tar.extractfile(member) if member is not None else None
                    if extracted is None:
                        raise RuntimeFailure(f"{path} in {image} is not a file")
                    return extracted.read()
            except docker.errors.NotFound as error:
                raise RuntimeFailure(f"Could not find the file {path} in image {image}") from error
            finally:
                with contextlib.suppress(docker.errors.APIError):
                    client.remove_container(created["Id"], force=True)

        return await self.run(blocking)

    # ---- networks --------------------------------------------------------------------------------

    @staticmethod
    def _networks_named(client: docker.APIClient, name: str) -> list[dict[str, Any]]:
        # The engine's name filter matches substrings: keep exact names only; oldest first.
        found = [n for n in client.networks(names=[name]) if n.get("Name") == name]
        return sorted(found, key=lambda n: (str(n.get("Created", "")), str(n.get("Id", ""))))

    async def ensure_network(self, name: str, labels: dict[str, str]) -> str:
        def blocking(client: docker.APIClient) -> str:
            with self._network_lock:
                existing = self._networks_named(client, name)
                if not existing:
                    client.create_network(name, driver="bridge", labels=dict(labels), check_duplicate=True)
                    existing = self._networks_named(client, name)
                if not existing:
                    raise RuntimeFailure(f"network {name} was created but is not listed")
                keep, *duplicates = existing
                # Docker allows two networks with one name (another process racing us): converge on
                # the oldest and remove the others while they are still empty.
                for duplicate in duplicates:
                    with contextlib.suppress(docker.errors.APIError):
                        client.remove_network(duplicate["Id"])
                return str(keep["Id"])

        return await self.run(blocking)

    async def remove_network(self, name: str) -> None:
        def blocking(client: docker.APIClient) -> None:
            for network in self._networks_named(client, name):
                try:
                    client.remove_network(network["Id"])
                except docker.errors.NotFound:
                    pass

        await self.run(blocking)

    # ---- containers ------------------------------------------------------------------------------

    async def create(self, spec: ContainerSpec) -> str:
        body = docker_specs.create_body(spec)

        def blocking(client: docker.APIClient) -> str:
            try:
                created = client.create_container_from_config(body, name=spec.name)
            except docker.errors.ImageNotFound as error:
                raise ImagePullFailed(_explain(error)) from error
            for warning in created.get("Warnings") or ():
                log.info("docker.create.warning name=%s warning=%r", spec.name, warning)
            return str(created["Id"])

        return await self.run(blocking)

    async def start(self, container_id: str) -> None:
        def blocking(client: docker.APIClient) -> None:
            try:
                client.start(container_id)
            except docker.errors.NotFound as error:
                message = _explain(error)
                if "no such container" in message.lower():
                    raise ContainerNotFound(message) from error
                raise ContainerStartFailed(message) from error
            except docker.errors.APIError as error:
                if _is_unavailable(error):
                    raise
                raise ContainerStartFailed(_explain(error)) from error

        await self.run(blocking)

    async def stop(self, container_id: str, timeout_s: float) -> None:
        # The API takes whole seconds; round up so the container gets at least what was asked.
        seconds = max(0, math.ceil(timeout_s))

        def blocking(client: docker.APIClient) -> None:
            try:
                client.stop(container_id, timeout=seconds)
            except docker.errors.NotFound as error:
                raise ContainerNotFound(_explain(error)) from error

        await self.run(blocking, "wait")

    async def kill(self, container_id: str, signal: str = "SIGKILL") -> None:
        def blocking(client: docker.APIClient) -> None:
            try:
                client.kill(container_id, signal=signal)
            except docker.errors.NotFound as error:
                raise ContainerNotFound(_explain(error)) from error
            except docker.errors.APIError as error:
                # 409 "is not running": already dead is what a kill wants.
                if error.status_code != 409:
                    raise

        await self.run(blocking)

    async def remove(self, container_id: str) -> None:
        def blocking(client: docker.APIClient) -> None:
            try:
                client.remove_container(container_id, v=True, force=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as error:
                # 409 "removal already in progress": someone else is doing it.
                if error.status_code != 409 or "already in progress" not in _explain(error):
                    raise

        await self.run(blocking)

    async def inspect(self, container_id: str) -> ContainerState | None:
        def blocking(client: docker.APIClient) -> ContainerState | None:
            try:
                return docker_specs.container_state(client.inspect_container(container_id))
            except docker.errors.NotFound:
                return None

        return await self.run(blocking)

    async def list(self, labels: dict[str, str]) -> list[ContainerState]:
        summaries = await self.run(
            lambda c: c.containers(all=True, filters={"label": docker_specs.label_filters(labels)})
        )
        # The list's summaries lack exit codes and times: inspect each, on the pool, in parallel.
        states = await asyncio.gather(*(self.inspect(str(s["Id"])) for s in summaries))
        return [state for state in states if state is not None]  # gone between list and inspect

    async def stats(self, container_id: str) -> ContainerStats | None:
        def blocking(client: docker.APIClient) -> ContainerStats | None:
            try:
                # one_shot: no second sample (no precpu); callers diff our cumulative counters.
                one_shot = True if docker.utils.version_gte(client.api_version, "1.41") else None
                document = client.stats(container_id, stream=False, one_shot=one_shot)
            except docker.errors.NotFound:
                return None
            return docker_specs.container_stats(document)

        return await self.run(blocking, "stats")

    # ---- events ----------------------------------------------------------------------------------

    def events(self, labels: dict[str, str]) -> AsyncIterator[RuntimeEvent]:
        """Docker's event stream for containers carrying ``labels``, from the moment of this call.

        A dedicated thread (not one of the pool's) reads the stream and hands events to the loop
        through an :class:`asyncio.Queue`. When the stream breaks (the engine restarted) the thread
        reconnects with back-off, from the time of the last event it saw, forever. Closing or
        cancelling the iterator closes the HTTP response, which ends the thread at once.
        """
        # `since` = now, taken before the first `await`: an event caused after this call is never
        # missed, however late the thread connects.
        return self._events(labels, time.time_ns())

    async def _events(self, labels: dict[str, str], since_ns: int) -> AsyncIterator[RuntimeEvent]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[RuntimeEvent] = asyncio.Queue()
        stream = _EventStream(self, labels, since_ns, loop, queue)
        self._event_streams.add(stream)
        stream.start()
        try:
            while True:
                yield await queue.get()
        finally:
            stream.stop()
            self._event_streams.discard(stream)

    async def close(self) -> None:
        self._closed = True
        for stream in list(self._event_streams):
            stream.stop()
        self._event_streams.clear()
        for executor in self._lanes.values():
            executor.shutdown(wait=False, cancel_futures=True)
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()


class _EventStream:
    """One subscription's reader thread."""

    def __init__(
        self,
        runtime: DockerRuntime,
        labels: dict[str, str],
        since_ns: int,
        loop: asyncio.AbstractEventLoop,
        queue: asyncio.Queue[RuntimeEvent],
    ) -> None:
        self._runtime = runtime
        self._filters = {
            "type": ["container"],
            "event": list(docker_specs.EVENT_ACTIONS),
            "label": docker_specs.label_filters(labels),
        }
        self._loop = loop
        self._queue = queue
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._response: Any = None
        self._client: docker.APIClient | None = None
        # Resumes after a reconnect from the last event seen.
        self._since_ns = since_ns
        self._seen_at_since: set[tuple[str, str, int]] = set()
        self.thread = threading.Thread(target=self._run, name="ecsbox-docker-events", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._stopped.set()
        with self._lock:
            response, self._response = self._response, None
            client, self._client = self._client, None
        if response is not None:
            with contextlib.suppress(Exception):
                response.close()
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()

    def _run(self) -> None:
        backoff = EVENTS_BACKOFF_START_S
        while not self._stopped.is_set():
            try:
                for message in self._connect():
                    backoff = EVENTS_BACKOFF_START_S
                    self._deliver(message)
                    if self._stopped.is_set():
                        return
            except Exception as error:
                if self._stopped.is_set():
                    return
                log.info("docker.events.disconnected error=%r retry_in_s=%.1f", error, backoff)
            if self._stopped.wait(backoff):
                return
            backoff = min(backoff * 2, EVENTS_BACKOFF_MAX_S)

    def _connect(self) -> Iterator[dict[str, Any]]:
        with self._lock:
            previous, self._client, self._response = self._client, None, None
        if previous is not None:
            previous.close()
        client = self._runtime.new_client()
        since = f"{self._since_ns // 1_000_000_000}.{self._since_ns % 1_000_000_000:09d}"
        stream = client.events(since=since, filters=self._filters, decode=True)
        with self._lock:
            if self._stopped.is_set():
                stream.close()
                client.close()
                return iter(())
            self._response, self._client = stream, client
        return iter(stream)

    def _deliver(self, message: dict[str, Any]) -> None:
        time_nano = int(message.get("timeNano") or 0)
        key = (str(message.get("id", "")), str(message.get("Action", "")), time_nano)
        # Resuming from `since` replays events at that very nanosecond: skip the ones already given.
        if time_nano < self._since_ns or key in self._seen_at_since:
            return
        if time_nano > self._since_ns:
            self._since_ns = time_nano
            self._seen_at_since = set()
        self._seen_at_since.add(key)
        event = docker_specs.runtime_event(message)
        if event is None:
            return
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, event)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            self._stopped.set()
