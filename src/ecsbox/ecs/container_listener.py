"""What the containers get: the container-facing listener, its endpoints, and each task's environment.

ecsbox serves its containers on a listener of their own (DESIGN.md, Security), bound on the
gateway address of ecsbox's Docker bridge network (reachable from every bridge, awsvpc and host
container as a local address of the host). It serves only:

- the task metadata endpoint: ``GET /v4/<token>`` (the container), ``…/task``,
  ``…/taskWithTags``, ``…/stats``, ``…/task/stats``, and the same under ``/v3/``;
- the credentials endpoint: ``GET /v2/credentials/<id>``, the task role's short-lived credentials;
- AWS API requests signed with credentials that ecsbox issued to a task (strict SigV4, the task's
  account) — never unsigned or operator-signed ones, never ``/_ecsbox/*``.

SDKs fetch container credentials only from loopback or 169.254.170.2. Where ecsbox runs as root
on Linux it puts 169.254.170.2 on the loopback interface and listens there on port 80 too (the
containers reach it through their default route, as on ECS), and a task's containers get
``AWS_CONTAINER_CREDENTIALS_RELATIVE_URI``; elsewhere they get the credentials themselves as
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN``, valid while the task runs.
Either way ``AWS_ENDPOINT_URL`` points the SDK at this listener, and the region variables at the
task's region.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from sqlalchemy import Connection, select

from ecsbox.aws import AwsError, Gateway, HttpRequest, HttpResponse, ServiceRegistry
from ecsbox.aws.asgi_io import answer_lifespan, http_request, read_body, request_headers, send_response
from ecsbox.aws.sigv4 import Principal, check_freshness, credential_scope, expected_signature
from ecsbox.ecs import credentials, metadata, repo, task_repo
from ecsbox.ecs.container_network import (
    LINK_LOCAL_ADDRESS,
    LINK_LOCAL_PORT,
    bridge_network,
    listening_socket,
    route_link_local,
    serve_app,
)
from ecsbox.ecs.task_observations import default_environment
from ecsbox.ecs.task_repo import TaskRecord
from ecsbox.ecs.task_state import STOPPED
from ecsbox.ecs.taskspec import LABEL_SERVER
from ecsbox.runtime.port import ContainerState, ContainerStats, Runtime, RuntimeFailure
from ecsbox.store import Store, schema

log = logging.getLogger("ecsbox.ecs.containers")

CREDENTIALS_LIFETIME_S = 6 * 3600.0  # the ECS agent's task credentials last about six hours
KEY_NAME = "container_key"  # ecsbox_meta: the key every container token and credential derives from
CACHE_SIZE = 10_000

_METADATA_RE = re.compile(r"^/v([34])/([^/]+)(/task|/taskWithTags|/stats|/task/stats)?/?$")
_CREDENTIALS_RE = re.compile(r"^/v2/credentials/([^/]+)/?$")
_SIGNATURE_RE = re.compile(r"Signature=([0-9a-fA-F]+)")


def load_key(store: Store) -> bytes:
    """This data directory's container key, made on first use (so tokens survive a restart)."""
    row = store.read_now(
        lambda c: c.execute(select(schema.meta.c.value).where(schema.meta.c.key == KEY_NAME)).first()
    )
    if row:
        return bytes.fromhex(str(row[0]))
    key = secrets.token_bytes(32)
    store.write_now(lambda c: c.execute(schema.meta.insert().values(key=KEY_NAME, value=key.hex())))
    return key


def task_role_arn(record: TaskRecord) -> str | None:
    """The role the task's containers act as: RunTask's override, else the task definition's.
    (The execution role is the agent's business and never reaches a container.)"""
    overrides = record.document.get("overrides") or {}
    definition = record.runtime.get("taskDefinition") or {}
    role = overrides.get("taskRoleArn") or definition.get("taskRoleArn")
    return str(role) if role else None


def _error_body(code: str, message: str) -> bytes:
    return json.dumps({"code": code, "message": message}).encode()


def _json(status: int, document: Any) -> HttpResponse:
    return HttpResponse(status, [("content-type", "application/json")], json.dumps(document).encode())


def _not_found(message: str = "not found") -> HttpResponse:
    return HttpResponse(404, [("content-type", "application/json")], _error_body("NotFound", message))


@dataclass
class Listening:
    """Where the containers reach ecsbox: ``http://<address>:<port>``; ``link_local`` when
    169.254.170.2:80 serves the credentials endpoint as well."""

    address: str
    port: int
    network: metadata.TaskNetwork
    link_local: bool = False

    @property
    def endpoint(self) -> str:
        return f"http://{self.address}:{self.port}"

    @property
    def metadata_base(self) -> str:
        return f"http://{LINK_LOCAL_ADDRESS}" if self.link_local else self.endpoint


class ContainerEndpoints:
    """The endpoints ecsbox serves to its containers, and the environment that points them there."""

    def __init__(
        self,
        store: Store,
        registry: ServiceRegistry,
        runtime: Callable[[], Runtime | None],
        key: bytes,
        wall_clock: Callable[[], float] = time.time,
        credentials_lifetime_s: float = CREDENTIALS_LIFETIME_S,
    ) -> None:
        self.store = store
        self.registry = registry
        self.runtime = runtime
        self.key = key
        self.wall_clock = wall_clock
        self.credentials_lifetime_s = credentials_lifetime_s
        self.listening: Listening | None = None
        self._task_arns: OrderedDict[str, str] = OrderedDict()  # task id → task ARN
        self._previous_stats: OrderedDict[str, ContainerStats] = OrderedDict()  # docker id → sample
        self._servers: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []

    # ---- the environment ------------------------------------------------------------------------

    def task_environment(self, record: TaskRecord, container_name: str = "") -> dict[str, str]:
        """What a container of the task gets (the agent's ``base_environment``): its metadata
        token names the container, so in an awsvpc task, where containers share one address,
        each still reads its own container document."""
        env = default_environment(record)
        listening = self.listening
        if listening is None:  # no container listener (no Docker engine): only the region
            return env
        self._remember(record.task_id, record.task_arn)
        token = credentials.metadata_token(self.key, record.task_arn, record.task_id, container_name)
        env["ECS_CONTAINER_METADATA_URI_V4"] = f"{listening.metadata_base}/v4/{token}"
        env["ECS_CONTAINER_METADATA_URI"] = f"{listening.metadata_base}/v3/{token}"
        env["AWS_ENDPOINT_URL"] = listening.endpoint
        role = task_role_arn(record)
        if role is None:
            return env
        if listening.link_local:
            credentials_id = credentials.credentials_id(self.key, record.task_arn, record.task_id)
            env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"] = f"/v2/credentials/{credentials_id}"
        else:
            # Fixed at create time, so valid while the task runs rather than for a few hours.
            claims = credentials.Claims(record.task_arn, role, None, record.task_id[:8])
            issued = credentials.issue(self.key, claims)
            env["AWS_ACCESS_KEY_ID"] = issued.access_key_id
            env["AWS_SECRET_ACCESS_KEY"] = issued.secret_access_key
            env["AWS_SESSION_TOKEN"] = issued.session_token
        return env

    # ---- finding a task -------------------------------------------------------------------------

    def _remember(self, task_id: str, task_arn: str) -> None:
        self._task_arns[task_id] = task_arn
        self._task_arns.move_to_end(task_id)
        while len(self._task_arns) > CACHE_SIZE:
            self._task_arns.popitem(last=False)

    async def _tasks_with_id(self, task_id: str) -> list[TaskRecord]:
        known = self._task_arns.get(task_id)
        if known is not None:
            record = await self.store.read(lambda conn: task_repo.get_task(conn, known))
            if record is not None:
                return [record]

        def find(conn: Connection) -> list[TaskRecord]:
            tasks = schema.ecs_tasks
            arns = conn.execute(select(tasks.c.task_arn).where(tasks.c.task_id == task_id)).scalars().all()
            return [r for r in (task_repo.get_task(conn, arn) for arn in arns) if r is not None]

        return await self.store.read(find)

    async def _task(self, task_arn: str) -> TaskRecord | None:
        return await self.store.read(lambda conn: task_repo.get_task(conn, task_arn))

    # ---- metadata -------------------------------------------------------------------------------

    async def metadata(self, version: str, token: str, what: str, client_ip: str | None) -> HttpResponse:
        parts = credentials.split_id(token)
        if parts is None:
            return _not_found("unknown metadata token")
        for record in await self._tasks_with_id(parts[0]):
            target = credentials.metadata_target(
                self.key, record.task_arn, metadata.container_names(record), token
            )
            if target is not None:
                self._remember(record.task_id, record.task_arn)
                return await self._metadata_of(record, target, what, client_ip)
        return _not_found("unknown metadata token")

    async def _metadata_of(
        self, record: TaskRecord, target: str, what: str, client_ip: str | None
    ) -> HttpResponse:
        states = await self._states(record)
        network = self.listening.network if self.listening else metadata.TaskNetwork()
        if what in ("/task", "/taskWithTags"):
            tags = None
            if what == "/taskWithTags":
                tags = await self.store.read(lambda conn: repo.get_tags(conn, record.task_arn))
            return _json(200, metadata.task_document(record, states, network, tags))
        if what == "/task/stats":
            stats = {}
            for member in metadata.container_names(record):
                found = states.get(member)
                if found is not None:
                    stats[found.id] = await self._stats_document(found)
            return _json(200, stats)
        name: str | None = target or self._which_container(record, states, client_ip)
        if name is None:
            return _not_found(
                "this task's containers share one network address, so its task-wide token cannot "
                "tell which container asks; read .../task instead"
            )
        state = states.get(name)
        if what == "/stats":
            return _json(200, await self._stats_document(state) if state is not None else None)
        return _json(200, metadata.container_document(record, name, state, network))

    @staticmethod
    def _which_container(
        record: TaskRecord, states: dict[str, ContainerState | None], client_ip: str | None
    ) -> str | None:
        """The container a task-wide token was presented by: the task's only container, or the one
        whose address the request came from (bridge mode gives each container its own)."""
        names = metadata.container_names(record)
        if len(names) == 1:
            return names[0]
        if client_ip:
            matching = [n for n in names if (s := states.get(n)) is not None and s.ip_address == client_ip]
            if len(matching) == 1:
                return matching[0]
        return None

    async def _states(self, record: TaskRecord) -> dict[str, ContainerState | None]:
        runtime = self.runtime()
        ids: dict[str, str] = record.runtime.get("containers") or {}
        states: dict[str, ContainerState | None] = {}
        for name, container_id in ids.items():
            try:
                states[name] = await runtime.inspect(container_id) if runtime is not None else None
            except RuntimeFailure:
                states[name] = None
        return states

    async def _stats_document(self, state: ContainerState) -> dict[str, Any] | None:
        runtime = self.runtime()
        if runtime is None:
            return None
        try:
            sample = await runtime.stats(state.id)
        except RuntimeFailure:
            return None
        if sample is None:
            return None
        previous = self._previous_stats.get(state.id)
        self._previous_stats[state.id] = sample
        self._previous_stats.move_to_end(state.id)
        while len(self._previous_stats) > CACHE_SIZE:
            self._previous_stats.popitem(last=False)
        return metadata.docker_stats_document(state.id, state.name, sample, previous)

    # ---- credentials ----------------------------------------------------------------------------

    async def credentials_endpoint(self, credentials_id: str) -> HttpResponse:
        """``GET /v2/credentials/<id>``: fresh credentials for the task's role, as the ECS agent
        answers it (a failed lookup is a 400 with the agent's error shape)."""
        parts = credentials.split_id(credentials_id)
        records = await self._tasks_with_id(parts[0]) if parts is not None else []
        for record in records:
            if not credentials.credentials_id_matches(self.key, record.task_arn, credentials_id):
                continue
            role = task_role_arn(record)
            if role is None or record.last_status == STOPPED:
                break
            expires = int(self.wall_clock() + self.credentials_lifetime_s)
            claims = credentials.Claims(record.task_arn, role, float(expires), secrets.token_hex(8))
            log.info("event=task_credentials_issued task=%s role=%s", record.task_arn, role)
            return _json(200, credentials.issue(self.key, claims).endpoint_document())
        return HttpResponse(
            400,
            [("content-type", "application/json")],
            _error_body("InvalidIdInRequest", "CredentialsV2Request: Credentials not found"),
        )

    # ---- AWS API calls signed with task credentials --------------------------------------------

    async def authenticate(self, request: HttpRequest) -> Principal:
        """Who signed a request: the task whose issued credentials signed it, strictly checked.
        Raises the AWS error a client of AWS would see."""
        scope = credential_scope(request)
        if scope is None:
            raise AwsError("MissingAuthenticationTokenException", "Missing Authentication Token", 403)
        token = request.headers.get("x-amz-security-token") or dict(
            parse_qsl(request.query, keep_blank_values=True)
        ).get("X-Amz-Security-Token", "")
        issued = credentials.redeem(self.key, token, scope.access_key_id) if token else None
        if issued is None:
            raise _invalid_token()
        claims = issued.claims
        if credentials.expired(claims, self.wall_clock()):
            raise AwsError(
                "ExpiredTokenException", "The security token included in the request is expired", 403
            )
        record = await self._task(claims.task_arn)
        if record is None:
            raise _invalid_token()
        if claims.expires_at is None and record.last_status == STOPPED:
            raise AwsError(
                "ExpiredTokenException", "The security token included in the request is expired", 403
            )
        check_freshness(request, time.time())
        sent = _sent_signature(request).lower()
        candidates = [expected_signature(request, scope, issued.secret_access_key)]
        if "X-Amz-Signature=" in request.query and not request.body:
            candidates.append(expected_signature(request, scope, issued.secret_access_key, True))
        if not any(c is not None and hmac.compare_digest(c, sent) for c in candidates):
            raise AwsError(
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. "
                "Check your AWS Secret Access Key and signing method.",
                403,
            )
        principal_arn = credentials.assumed_role_arn(claims.role_arn, record.task_id)
        return Principal(record.account_id, scope.region, issued.access_key_id, principal_arn)

    async def aws_api(self, request: HttpRequest) -> HttpResponse:
        try:
            decision: Principal | AwsError = await self.authenticate(request)
        except AwsError as error:
            decision = error
        # The gateway answers an authentication failure in the request's own protocol.
        return await Gateway(self.registry, _Decided(decision)).handle(request)

    # ---- listening ------------------------------------------------------------------------------

    def app(self, serve_aws_api: bool = True) -> ContainerAsgi:
        return ContainerAsgi(self, serve_aws_api)

    async def start(self, network: str, server_id: str, port: int = 0, link_local: bool = True) -> None:
        """Listen on the gateway of ecsbox's bridge network (created if missing) and, where it can
        be routed, on 169.254.170.2:80. Without a Docker engine nothing listens and tasks get only
        their region."""
        runtime = self.runtime()
        found = await bridge_network(runtime, network, {LABEL_SERVER: server_id}) if runtime else None
        if found is None:
            log.info("event=container_listener_off reason=no_docker_bridge")
            return
        sock = listening_socket(found.gateway, port)
        self._servers.append(await serve_app(self.app(serve_aws_api=True), sock))
        listening = Listening(found.gateway, sock.getsockname()[1], found)
        if link_local and await asyncio.to_thread(route_link_local):
            try:
                link_sock = listening_socket(LINK_LOCAL_ADDRESS, LINK_LOCAL_PORT)
            except OSError as exc:
                log.info("event=link_local_unavailable error=%s", exc)
            else:
                self._servers.append(await serve_app(self.app(serve_aws_api=False), link_sock))
                listening.link_local = True
        self.listening = listening
        log.info(
            "event=container_listener address=%s port=%s link_local=%s",
            listening.address,
            listening.port,
            listening.link_local,
        )

    async def stop(self) -> None:
        servers, self._servers = self._servers, []
        for server, _ in servers:
            server.should_exit = True
        for _, task in servers:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(task, 5)


def _invalid_token() -> AwsError:
    return AwsError(
        "UnrecognizedClientException", "The security token included in the request is invalid.", 403
    )


def _sent_signature(request: HttpRequest) -> str:
    if "X-Amz-Signature=" in request.query:
        return dict(parse_qsl(request.query)).get("X-Amz-Signature", "")
    match = _SIGNATURE_RE.search(request.headers.get("authorization", ""))
    return match.group(1) if match else ""


class _Decided:
    """An authenticator whose answer was worked out before the gateway asked."""

    def __init__(self, decision: Principal | AwsError) -> None:
        self.decision = decision

    def authenticate(self, request: HttpRequest) -> Principal:
        if isinstance(self.decision, AwsError):
            raise self.decision
        return self.decision


# ---- the ASGI application ------------------------------------------------------------------------


class ContainerAsgi:
    """The container-facing HTTP surface; ``serve_aws_api`` False on 169.254.170.2 (metadata and
    credentials only)."""

    def __init__(self, endpoints: ContainerEndpoints, serve_aws_api: bool = True) -> None:
        self.endpoints = endpoints
        self.serve_aws_api = serve_aws_api

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await answer_lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body, too_large = await read_body(receive)
        request = http_request(scope, request_headers(scope), body)
        client = scope.get("client")
        try:
            if too_large:
                response = HttpResponse(413, [], b"request body too large")
            else:
                response = await self.respond(request, client[0] if client else None)
        except Exception:  # a bug answers 500, never kills the listener
            # Never the path: it carries the caller's metadata token or credentials id.
            log.exception("event=container_listener_error method=%s", request.method)
            response = HttpResponse(
                500, [("content-type", "application/json")], _error_body("InternalFailure", "")
            )
        await send_response(send, response)

    async def respond(self, request: HttpRequest, client_ip: str | None = None) -> HttpResponse:
        if request.path.startswith("/_ecsbox"):
            return _not_found()
        if "origin" in request.headers:  # containers' SDKs send none; a browser page does
            return HttpResponse(403, [("content-type", "application/json")], _error_body("Forbidden", "no"))
        if request.method in ("GET", "HEAD"):
            match = _METADATA_RE.match(request.path)
            if match is not None:
                version, token, what = match.groups()
                return await self.endpoints.metadata(version, token, what or "", client_ip)
            match = _CREDENTIALS_RE.match(request.path)
            if match is not None:
                return await self.endpoints.credentials_endpoint(match.group(1))
        if request.path.startswith(("/v3/", "/v4/", "/v2/credentials")):
            return _not_found()  # the endpoints' own namespaces: never an AWS API call
        if not self.serve_aws_api:
            return _not_found()
        return await self.endpoints.aws_api(request)


__all__ = ["ContainerAsgi", "ContainerEndpoints", "Listening", "load_key", "task_role_arn"]
