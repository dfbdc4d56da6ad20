"""The task agent's launch steps: secrets, network, images, containers in dependsOn order,
RUNNING. A part of :class:`ecsbox.ecs.agent.TaskAgent`, kept apart to keep each module short."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ecsbox.core.clock import Clock
from ecsbox.core.log_routes import LogRoute, decode_route
from ecsbox.ecs import task_repo
from ecsbox.ecs.task_observations import (
    apply_container_states,
    condition_met,
    eni_attachment,
    set_status,
    with_network,
)
from ecsbox.ecs.task_repo import TaskRecord
from ecsbox.ecs.task_state import ACTIVATING, PENDING, RUNNING, STOPPED, TASK_FAILED_TO_START, observe
from ecsbox.ecs.taskspec import (
    LABEL_SERVER,
    PlannedContainer,
    TaskIdentity,
    TaskPlan,
    firelens_setup,
    start_order,
)
from ecsbox.runtime.port import (
    ContainerSpec,
    ContainerStartFailed,
    ContainerState,
    ImagePullFailed,
    RegistryAuth,
    Runtime,
    RuntimeFailure,
)
from ecsbox.store import Store

log = logging.getLogger("ecsbox.ecs.agent")

START_POLL_S = 0.2
DEFAULT_START_TIMEOUT_S = 180.0  # the agent's ECS_CONTAINER_START_TIMEOUT on Linux

# (account id, region, valueFrom) → the secret's value; raises with the reason ECS reports.
SecretResolver = Callable[[str, str, str], Awaitable[str]]
# (account, region, image) → where the engine pulls it from and with which credentials, for an
# image in ecsbox's own registry; None for any other image.
ImageResolver = Callable[[str, str, str], Awaitable[tuple[str, RegistryAuth] | None]]
# Before a container that logs to CloudWatch Logs starts: its group exists (or is created, with
# awslogs-create-group) and its stream; LookupError with AWS's message when the group is missing.
LogPreparer = Callable[[LogRoute], Awaitable[None]]
# A task's FireLens router setup (taskspec.firelens_setup plus the router image's own
# configuration as "extra_config"): ValueError with the reason when ecsbox cannot route it.
FireLensCheck = Callable[[dict[str, Any]], Awaitable[None]]
FIRELENS_CONFIG_MAX_BYTES = 256 * 1024
ROUTER_STAND_IN = "~ecsbox~router-stand-in"  # in the images map: run ecsbox's waiting image instead


class TaskFailed(Exception):
    """A task that cannot be started: its stop code and the reason ECS gives."""

    def __init__(self, stop_code: str, reason: str) -> None:
        super().__init__(reason)
        self.stop_code = stop_code
        self.reason = reason


class LaunchSteps:
    """PROVISIONING → PENDING → ACTIVATING → RUNNING for one task (mixed into the agent)."""

    runtime: Runtime | None
    store: Store
    clock: Clock
    network: str
    server_id: str
    secret_resolver: SecretResolver | None
    image_resolver: ImageResolver | None
    log_preparer: LogPreparer | None
    firelens_check: FireLensCheck | None
    _waiting: set[str]
    _recheck: asyncio.Event
    _parked: asyncio.Event

    if TYPE_CHECKING:  # provided by TaskAgent

        def wake(self, task_arn: str) -> None: ...

        async def _load(self, task_arn: str) -> TaskRecord | None: ...

        async def _update(
            self, task_arn: str, change: Callable[[TaskRecord], bool | None]
        ) -> TaskRecord | None: ...

        def _identity(self, record: TaskRecord) -> TaskIdentity: ...

        pause_image: Callable[[], Awaitable[str]]

        async def _plan(
            self,
            record: TaskRecord,
            secrets: dict[str, dict[str, str]] | None = None,
            for_launch: bool = False,
        ) -> TaskPlan: ...

        async def _fail(self, record: TaskRecord, stop_code: str, reason: str) -> None: ...

        async def _remember(self, task_arn: str, name: str, container_id: str) -> None: ...

        async def _remove_containers(self, record: TaskRecord) -> None: ...

    async def _secrets(self, record: TaskRecord) -> dict[str, dict[str, str]]:
        """Each container's ``secrets`` resolved now, at start (they go into its environment and
        nowhere else; never logged)."""
        resolved: dict[str, dict[str, str]] = {}
        for container in record.runtime["taskDefinition"].get("containerDefinitions") or []:
            for secret in container.get("secrets") or []:
                if self.secret_resolver is None:
                    raise TaskFailed(
                        TASK_FAILED_TO_START,
                        "ResourceInitializationError: secrets are not available in this ecsbox",
                    )
                try:
                    value = await self.secret_resolver(record.account_id, record.region, secret["valueFrom"])
                except Exception as exc:
                    reason = getattr(exc, "message", None) or str(exc)
                    raise TaskFailed(TASK_FAILED_TO_START, reason) from exc
                resolved.setdefault(container["name"], {})[secret["name"]] = value
        return resolved

    # ---- launching ---------------------------------------------------------------------------

    async def _launch(self, record: TaskRecord) -> None:
        assert self.runtime is not None
        if record.runtime.get("launchStarted"):
            # A launch left half-way (ecsbox restarted, or the engine failed it): start again from
            # a clean slate. A first launch has nothing to clean (and skips asking the engine).
            await self._remove_containers(record)
        else:
            await self.store.write(
                lambda conn: task_repo.mutate_task(
                    conn, record.task_arn, lambda r: r.runtime.__setitem__("launchStarted", True)
                )
            )
        try:
            plan = await self._plan(record, await self._secrets(record), for_launch=True)
            pause_id, pause_state = await self._provision(record, plan)
            if await self._stop_requested(record.task_arn):
                return  # StopTask came while starting: the stop (woken already) takes over
            images = await self._pull(record, plan)
            if await self._stop_requested(record.task_arn):
                return
            await self._check_firelens(record)
            container_ids = await self._start_containers(record, plan, pause_id, images)
        except TaskFailed as failure:
            await self._fail(record, failure.stop_code, failure.reason)
            self.wake(record.task_arn)
            return
        except Exception as exc:  # anything else would relaunch the task for ever: it failed to start
            log.exception("event=task_launch_failed task=%s", record.task_arn)
            await self._fail(record, TASK_FAILED_TO_START, f"CannotStartContainerError: {exc}")
            self.wake(record.task_arn)
            return
        await self._mark_running(record.task_arn, plan, pause_id, pause_state, container_ids)

    async def _stop_requested(self, task_arn: str) -> bool:
        current = await self._load(task_arn)
        if current is None or current.desired_status == STOPPED:
            self.wake(task_arn)
            return True
        return False

    async def _provision(
        self, record: TaskRecord, plan: TaskPlan
    ) -> tuple[str | None, ContainerState | None]:
        assert self.runtime is not None
        if plan.pause is None:
            await self._update(record.task_arn, lambda r: set_status(r, PENDING))
            return None, None
        try:
            await self.runtime.ensure_network(self.network, {LABEL_SERVER: self.server_id})
            # Present already where ecsbox built it (Docker); any other engine gets it here.
            await self.runtime.ensure_image(plan.pause.image)
            pause_id = await self.runtime.create(plan.pause)
            await self._remember(record.task_arn, "pause", pause_id)
            await self.runtime.start(pause_id)
            state = await self.runtime.inspect(pause_id)
        except RuntimeFailure as exc:
            raise TaskFailed(TASK_FAILED_TO_START, f"ResourceInitializationError: {exc}") from exc
        address = state.ip_address if state else None

        def provisioned(r: TaskRecord) -> None:
            set_status(r, PENDING)
            r.document["attachments"] = [eni_attachment(r, address)]
            r.document["connectivity"] = "CONNECTED"
            r.document["connectivityAt"] = self.clock.now()

        await self._update(record.task_arn, provisioned)
        return pause_id, state

    async def _pull(self, record: TaskRecord, plan: TaskPlan) -> dict[str, str]:
        """Make every container's image present; the image each container runs from (an image of
        ecsbox's registry is pulled from its local address)."""
        assert self.runtime is not None
        await self._update(
            record.task_arn, lambda r: set_status(r, ACTIVATING, pullStartedAt=self.clock.now())
        )
        images: dict[str, str] = {}
        routers = {
            c["name"]
            for c in record.runtime["taskDefinition"].get("containerDefinitions") or []
            if c.get("firelensConfiguration")
        }
        for container in plan.containers:
            try:
                images[container.name] = await self._pull_one(record, container.spec.image)
            except TaskFailed:
                if container.name not in routers:
                    raise
                # ecsbox routes FireLens records itself: a log router image that cannot be had
                # (AWS's aws-for-fluent-bit, with no registry to pull it from) is stood in for by
                # a container that only waits, so the task runs and its records are routed.
                log.info(
                    "event=firelens_router_stand_in task=%s image=%s", record.task_arn, container.spec.image
                )
                images[container.name] = ROUTER_STAND_IN
        await self._update(
            record.task_arn, lambda r: r.document.__setitem__("pullStoppedAt", self.clock.now())
        )
        return images

    async def _pull_one(self, record: TaskRecord, image: str) -> str:
        """An ECR image comes from ecsbox's registry; when that has nothing to give (no such
        repository, or the pull fails) a copy the engine already holds under the image's own name
        serves, as the ECS agent falls back to a cached image."""
        assert self.runtime is not None
        failure: str | None = None
        if self.image_resolver is not None:
            try:
                resolved = await self.image_resolver(record.account_id, record.region, image)
            except LookupError as exc:  # an ECR image of a registry that has nothing
                resolved, failure = None, str(exc)
            if resolved is not None:
                local, auth = resolved
                try:
                    await self.runtime.ensure_image(local, auth)
                    return local
                except ImagePullFailed as exc:
                    failure = f"pull image manifest has been retried 1 time(s): {exc}"
                except RuntimeFailure as exc:
                    failure = str(exc)
        try:
            await self.runtime.ensure_image(image)
        except ImagePullFailed as exc:
            reason = failure or f"pull image manifest has been retried 1 time(s): {exc}"
            raise TaskFailed(TASK_FAILED_TO_START, f"CannotPullContainerError: {reason}") from exc
        except RuntimeFailure as exc:
            raise TaskFailed(TASK_FAILED_TO_START, f"CannotPullContainerError: {failure or exc}") from exc
        return image

    async def _start_containers(
        self, record: TaskRecord, plan: TaskPlan, pause_id: str | None, images: dict[str, str]
    ) -> dict[str, str]:
        assert self.runtime is not None
        ids: dict[str, str] = {}
        for wave in start_order(plan.containers):
            for container in wave:
                await self._wait_dependencies(record.task_arn, container, ids)
                spec = container.spec
                if images.get(container.name) == ROUTER_STAND_IN:
                    spec = replace(
                        spec, image=await self.pause_image(), entrypoint=None, command=None, health_check=None
                    )
                elif images.get(container.name, spec.image) != spec.image:
                    spec = replace(spec, image=images[container.name])
                if pause_id is not None:
                    spec = with_network(spec, f"container:{pause_id}")
                await self._prepare_logs(spec)
                try:
                    container_id = await self.runtime.create(spec)
                    ids[container.name] = container_id
                    await self._remember(record.task_arn, container.name, container_id)
                    await self.runtime.start(container_id)
                except ContainerStartFailed as exc:
                    raise TaskFailed(TASK_FAILED_TO_START, f"CannotStartContainerError: {exc}") from exc
                except RuntimeFailure as exc:
                    raise TaskFailed(TASK_FAILED_TO_START, f"CannotCreateContainerError: {exc}") from exc
        return ids

    async def firelens_setup(self, record: TaskRecord) -> dict[str, Any] | None:
        """The task's FireLens router setup, with the router image's own configuration file when
        its options say ``config-file-type: file`` (read from the image, as the router would)."""
        assert self.runtime is not None
        setup = firelens_setup(self._identity(record), record.runtime["taskDefinition"])
        if setup is None:
            return None
        options = setup["router"]["options"]
        kind = options.get("config-file-type")
        if kind == "s3":
            raise ValueError("config-file-type s3 is not available in ecsbox (use file, as on Fargate)")
        if kind == "file":
            path = options.get("config-file-value", "")
            try:
                content = await self.runtime.read_image_file(
                    setup["router"]["image"], path, FIRELENS_CONFIG_MAX_BYTES
                )
            except RuntimeFailure as exc:
                raise ValueError(f"cannot read config-file-value {path}: {exc}") from exc
            setup["extra_config"] = content.decode("utf-8", "replace")
        return setup

    async def _check_firelens(self, record: TaskRecord) -> None:
        if self.firelens_check is None:
            return
        try:
            setup = await self.firelens_setup(record)
            if setup is not None:
                await self.firelens_check(setup)
        except ValueError as exc:
            raise TaskFailed(TASK_FAILED_TO_START, f"CannotStartContainerError: FireLens: {exc}") from exc

    async def _prepare_logs(self, spec: ContainerSpec) -> None:
        route = decode_route(spec.log_config.options.get("tag", "")) if spec.log_config else None
        if route is None or route.kind != "awslogs" or self.log_preparer is None:
            return
        try:
            await self.log_preparer(route)
        except LookupError as exc:
            raise TaskFailed(
                TASK_FAILED_TO_START,
                "CannotStartContainerError: Error response from daemon: failed to initialize logging "
                f"driver: failed to create Cloudwatch log stream: {exc}",
            ) from exc

    async def _wait_dependencies(
        self, task_arn: str, container: PlannedContainer, ids: dict[str, str]
    ) -> None:
        """Wait until every dependsOn condition holds (START, COMPLETE, SUCCESS, HEALTHY), at most
        the container's startTimeout (on the clock's wall time: it protects the machine, not a
        business rule)."""
        assert self.runtime is not None
        deadline = self.clock.wall() + (container.start_timeout_s or DEFAULT_START_TIMEOUT_S)
        for dependency, condition in container.depends_on:
            if dependency not in ids:
                continue
            while True:
                state = await self.runtime.inspect(ids[dependency])
                done, failed = condition_met(condition, state)
                if failed:
                    raise TaskFailed(
                        TASK_FAILED_TO_START,
                        f"DependencyError: {dependency} did not meet condition {condition}",
                    )
                if done:
                    break
                if self.clock.wall() > deadline:
                    raise TaskFailed(
                        TASK_FAILED_TO_START,
                        f"ContainerRuntimeTimeoutError: {container.name} waited too long for "
                        f"{dependency} to be {condition}",
                    )
                await self._park(task_arn)
                if await self._stop_requested(task_arn):  # StopTask while it waits: stop waiting
                    raise TaskFailed(TASK_FAILED_TO_START, "Task stopped while starting")

    async def _park(self, task_arn: str) -> None:
        """Wait a poll interval, or less if the task's containers change (or :meth:`idle` asks)."""
        recheck = self._recheck
        self._waiting.add(task_arn)
        self._parked.set()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(recheck.wait(), START_POLL_S)
        finally:
            self._waiting.discard(task_arn)

    async def _mark_running(
        self,
        task_arn: str,
        plan: TaskPlan,
        pause_id: str | None,
        pause_state: ContainerState | None,
        ids: dict[str, str],
    ) -> None:
        assert self.runtime is not None
        states = {name: await self.runtime.inspect(cid) for name, cid in ids.items()}
        now = self.clock.now()

        def running(r: TaskRecord) -> None:
            if r.desired_status == STOPPED:
                return  # stopped while starting: the stop wins
            set_status(r, RUNNING)
            r.document.setdefault("startedAt", now)
            if "connectivity" not in r.document:
                r.document["connectivity"] = "CONNECTED"
                r.document["connectivityAt"] = now
            apply_container_states(r, plan, ids, states, pause_state)

        await self._update(task_arn, running)
        # A container that exited already (or the pause container): the watch stops the task. One
        # that exits later sends its own event.
        seen = [*states.values(), *([pause_state] if pause_id is not None else [])]
        if any(observe(state).last_status == STOPPED for state in seen):
            self.wake(task_arn)
