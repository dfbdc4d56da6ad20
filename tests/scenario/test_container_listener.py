"""What the containers get, through the container-facing listener's ASGI app in process: tasks run
on the simulated runtime, their containers' environment is what the agent created them with, and
each request is what an SDK inside one of them would send.

A metadata token opens its own task only; the credentials endpoint hands out the task role's
credentials; an AWS request signed with them reaches a handler as the task's account, and nothing
else gets through: unsigned, operator-signed, tampered, expired, ``/_ecsbox/*``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from tests.scenario.ecs_sim import ACCOUNT, AWSVPC, SimBox

from ecsbox.aws import RequestContext, ServiceRegistry
from ecsbox.ecs.container_listener import ContainerAsgi, ContainerEndpoints, Listening
from ecsbox.ecs.metadata import TaskNetwork
from ecsbox.runtime.port import ContainerSpec

KEY = b"k" * 32
ADDRESS = "10.200.0.1"
PORT = 4567
ROLE = f"arn:aws:iam::{ACCOUNT}:role/app-role"
LIST_CLUSTERS = {
    "X-Amz-Target": "AmazonEC2ContainerServiceV20141113.ListClusters",
    "Content-Type": "application/x-amz-json-1.1",
}
START_WALL = 1_800_000_000.0


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Harness:
    box: SimBox
    endpoints: ContainerEndpoints
    calls: list[RequestContext]
    specs: list[ContainerSpec] = field(default_factory=list)
    wall: list[float] = field(default_factory=lambda: [START_WALL])

    async def run(self, *containers: dict[str, Any], **extra: Any) -> str:
        """Register a task definition, run one task, wait for it to be RUNNING; its ARN."""
        network = extra.pop("networkConfiguration", None)
        definition = await self.box.register("app", *containers, **extra)
        params = {"networkConfiguration": network} if network else {}
        answer = await self.box("RunTask", taskDefinition=definition, **params)
        arn = str(answer["tasks"][0]["taskArn"])

        async def running() -> bool:
            return (await self.box.task(arn))["lastStatus"] == "RUNNING"

        await self.box.until(running)
        return arn

    def environment(self, task_arn: str, container: str = "app") -> dict[str, str]:
        for spec in self.specs:
            if (
                spec.labels.get("ecsbox.task-arn") == task_arn
                and spec.labels.get("ecsbox.container-name") == container
            ):
                return dict(spec.environment)
        raise AssertionError(f"no container {container} created for {task_arn}")

    async def get(
        self, path: str, client: str = "172.17.0.9", app: ContainerAsgi | None = None, **headers: str
    ) -> Response:
        return await asgi_call(app or self.endpoints.app(), "GET", path, headers, b"", client)

    async def signed(
        self,
        key: str,
        secret: str,
        token: str | None,
        *,
        region: str = "eu-west-1",
        presign: bool = False,
        tamper: bool = False,
        app: ContainerAsgi | None = None,
    ) -> Response:
        """ListClusters as botocore signs it (header or pre-signed URL)."""
        request = AWSRequest(
            method="POST",
            url=f"http://{ADDRESS}:{PORT}/",
            data=b"" if presign else b"{}",
            headers=dict(LIST_CLUSTERS),
        )
        signer = SigV4QueryAuth if presign else SigV4Auth
        signer(Credentials(key, secret, token), "ecs", region).add_auth(request)
        prepared = request.prepare()
        parts = urlsplit(prepared.url)
        headers = {k: v for k, v in prepared.headers.items()}
        body = b'{"maxResults": 1}' if tamper else b"" if presign else b"{}"
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return await asgi_call(app or self.endpoints.app(), "POST", path, headers, body, "172.17.0.9")


async def asgi_call(
    app: ContainerAsgi, method: str, path: str, headers: dict[str, str], body: bytes, client: str
) -> Response:
    raw_path, _, query = path.partition("?")
    headers = {"host": f"{ADDRESS}:{PORT}", **{k.lower(): v for k, v in headers.items()}}
    scope = {
        "type": "http",
        "method": method,
        "path": raw_path,
        "raw_path": raw_path.encode(),
        "query_string": query.encode(),
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
        "client": (client, 40000),
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = sent[0]
    return Response(
        start["status"],
        {k.decode(): v.decode() for k, v in start["headers"]},
        b"".join(m.get("body", b"") for m in sent[1:]),
    )


def scenario(
    link_local: bool = True,
) -> Callable[[Callable[[Harness], Coroutine[Any, Any, None]]], Callable[[Path], None]]:
    def wrap(body: Callable[[Harness], Coroutine[Any, Any, None]]) -> Callable[[Path], None]:
        def test(tmp_path: Path) -> None:
            box = SimBox(tmp_path)
            calls: list[RequestContext] = []
            registry = ServiceRegistry()

            def list_clusters(context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
                calls.append(context)
                return {"clusterArns": [f"arn:aws:ecs:{context.region}:{context.account_id}:cluster/seen"]}

            registry.register("ecs", "ListClusters", list_clusters)
            harness = Harness(box, ContainerEndpoints(box.store, registry, lambda: box.runtime, KEY), calls)
            harness.endpoints.wall_clock = lambda: harness.wall[0]
            harness.endpoints.listening = Listening(
                ADDRESS, PORT, TaskNetwork("10.200.0.0/16", ADDRESS), link_local=link_local
            )
            box.process.agent.base_environment = harness.endpoints.task_environment
            create = box.runtime.create

            async def spy(spec: ContainerSpec) -> str:  # what each container was created with
                harness.specs.append(spec)
                return await create(spec)

            box.runtime.create = spy  # type: ignore[method-assign]
            try:
                with asyncio.Runner() as runner:
                    runner.run(box("CreateCluster", clusterName="default"))
                    runner.run(body(harness))
            finally:
                box.close()

        test.__name__ = body.__name__
        test.__doc__ = body.__doc__
        return test

    return wrap


def app(name: str = "app", **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": f"{name}:1", "memory": 64, **extra}


def path_of(url: str) -> str:
    return urlsplit(url).path


# ---- the environment -------------------------------------------------------------------------------


@scenario(link_local=True)
async def test_containers_get_the_endpoints_region_and_a_credentials_uri(h: Harness) -> None:
    arn = await h.run(app(), taskRoleArn=ROLE, executionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/exec")
    env = h.environment(arn)
    assert env["AWS_ENDPOINT_URL"] == f"http://{ADDRESS}:{PORT}"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "ap-northeast-1"
    assert env["ECS_CONTAINER_METADATA_URI_V4"].startswith("http://169.254.170.2/v4/")
    assert env["ECS_CONTAINER_METADATA_URI"].startswith("http://169.254.170.2/v3/")
    assert env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"].startswith("/v2/credentials/")
    # With the endpoint routed, no secret sits in the environment.
    assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} & set(env)


@scenario(link_local=False)
async def test_without_link_local_the_credentials_go_into_the_environment(h: Harness) -> None:
    arn = await h.run(app(), taskRoleArn=ROLE)
    env = h.environment(arn)
    assert env["ECS_CONTAINER_METADATA_URI_V4"].startswith(f"http://{ADDRESS}:{PORT}/v4/")
    assert env["AWS_ACCESS_KEY_ID"].startswith("ASIA")
    assert "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" not in env
    answer = await h.signed(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env["AWS_SESSION_TOKEN"])
    assert answer.status == 200, answer.body
    assert h.calls[-1].account_id == ACCOUNT

    # They live as long as the task: once it has stopped they are refused.
    await h.box("StopTask", task=arn)
    await h.box.settle()
    answer = await h.signed(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env["AWS_SESSION_TOKEN"])
    assert answer.status == 403 and answer.json()["__type"] == "ExpiredTokenException"


@scenario()
async def test_a_task_without_a_task_role_gets_no_credentials(h: Harness) -> None:
    arn = await h.run(app(), executionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/exec")
    env = h.environment(arn)
    assert "ECS_CONTAINER_METADATA_URI_V4" in env and "AWS_ENDPOINT_URL" in env
    assert not {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_ACCESS_KEY_ID"} & set(env)


@scenario()
async def test_run_task_overrides_choose_the_task_role(h: Harness) -> None:
    definition = await h.box.register("app", app(), taskRoleArn=ROLE)
    other = f"arn:aws:iam::{ACCOUNT}:role/override"
    answer = await h.box("RunTask", taskDefinition=definition, overrides={"taskRoleArn": other})
    arn = answer["tasks"][0]["taskArn"]
    await h.box.settle()
    credentials = await h.get(h.environment(arn)["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"])
    assert credentials.json()["RoleArn"] == other


# ---- metadata ------------------------------------------------------------------------------------


@scenario()
async def test_metadata_answers_for_the_container_and_its_task(h: Harness) -> None:
    arn = await h.run(app(), taskRoleArn=ROLE)
    base = path_of(h.environment(arn)["ECS_CONTAINER_METADATA_URI_V4"])
    task = await h.box.task(arn)
    runtime_id = task["containers"][0]["runtimeId"]

    container = await h.get(base)
    assert container.status == 200 and container.headers["content-type"] == "application/json"
    assert container.json()["DockerId"] == runtime_id
    assert container.json()["Name"] == "app"
    assert container.json()["KnownStatus"] == "RUNNING"

    whole = (await h.get(base + "/task")).json()
    assert whole["TaskARN"] == arn and whole["Cluster"] == "default"
    assert [c["DockerId"] for c in whole["Containers"]] == [runtime_id]

    stats = (await h.get(base + "/stats")).json()
    assert stats["id"] == runtime_id and stats["memory_stats"]["usage"] > 0
    again = (await h.get(base + "/stats")).json()
    assert again["precpu_stats"] == stats["cpu_stats"]  # the previous sample, as a stream gives
    task_stats = (await h.get(base + "/task/stats")).json()
    assert list(task_stats) == [runtime_id]

    v3 = path_of(h.environment(arn)["ECS_CONTAINER_METADATA_URI"])
    assert (await h.get(v3)).json()["DockerId"] == runtime_id
    tagged = (await h.get(base + "/taskWithTags")).json()
    assert tagged["TaskTags"] == {}


@scenario()
async def test_a_token_opens_only_its_own_task(h: Harness) -> None:
    first = await h.run(app())
    second = await h.run(app())
    first_base = path_of(h.environment(first)["ECS_CONTAINER_METADATA_URI_V4"])
    second_base = path_of(h.environment(second)["ECS_CONTAINER_METADATA_URI_V4"])
    assert (await h.get(first_base + "/task")).json()["TaskARN"] == first
    assert (await h.get(second_base + "/task")).json()["TaskARN"] == second

    first_id = first.rsplit("/", 1)[1]
    second_mac = second_base.rpartition("-")[2]
    for guess in (
        f"/v4/{first_id}-{second_mac}",  # the neighbour's mac on my task id
        f"/v4/{first_id}-{'0' * 32}",
        f"/v4/{first_id}",
        "/v4/",
        first_base[:-1] + ("0" if first_base[-1] != "0" else "1"),
    ):
        answer = await h.get(guess + "/task")
        assert answer.status == 404, guess


@scenario()
async def test_each_container_reads_its_own_document_even_sharing_an_address(h: Harness) -> None:
    """In an awsvpc task every container has the task's one address: each container's token names
    the container, so each still reads its own container document."""
    arn = await h.run(app("web"), app("worker"), networkMode="awsvpc", networkConfiguration=AWSVPC)
    for name in ("web", "worker"):
        base = path_of(h.environment(arn, name)["ECS_CONTAINER_METADATA_URI_V4"])
        assert (await h.get(base)).json()["Name"] == name
        assert (await h.get(base + "/task")).status == 200
    web = path_of(h.environment(arn, "web")["ECS_CONTAINER_METADATA_URI_V4"])
    worker = path_of(h.environment(arn, "worker")["ECS_CONTAINER_METADATA_URI_V4"])
    assert web != worker


@scenario()
async def test_an_awsvpc_task_reports_its_eni_on_ecsbox_network(h: Harness) -> None:
    arn = await h.run(app(), networkMode="awsvpc", networkConfiguration=AWSVPC)
    base = path_of(h.environment(arn)["ECS_CONTAINER_METADATA_URI_V4"])
    [network] = (await h.get(base)).json()["Networks"]
    task = await h.box.task(arn)
    address = task["containers"][0]["networkInterfaces"][0]["privateIpv4Address"]
    assert network["NetworkMode"] == "awsvpc"
    assert network["IPv4Addresses"] == [address]
    assert network["IPv4SubnetCIDRBlock"] == "10.200.0.0/16"
    assert network["SubnetGatewayIpv4Address"] == f"{ADDRESS}/16"


# ---- credentials -----------------------------------------------------------------------------------


@scenario()
async def test_the_credentials_endpoint_serves_the_task_role(h: Harness) -> None:
    arn = await h.run(app(), taskRoleArn=ROLE)
    uri = h.environment(arn)["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]
    answer = await h.get(uri)
    assert answer.status == 200
    document = answer.json()
    assert set(document) == {"RoleArn", "AccessKeyId", "SecretAccessKey", "Token", "Expiration"}
    assert document["RoleArn"] == ROLE
    assert document["AccessKeyId"].startswith("ASIA")
    assert document["Expiration"] == "2027-01-15T14:00:00Z"  # six hours of wall clock after START_WALL
    # The link-local listener serves it too (and metadata), but no AWS API.
    link_local = h.endpoints.app(serve_aws_api=False)
    assert (await h.get(uri, app=link_local)).status == 200
    refused = await h.signed(
        document["AccessKeyId"], document["SecretAccessKey"], document["Token"], app=link_local
    )
    assert refused.status == 404

    other = await h.run(app(), taskRoleArn=ROLE)
    other_id = other.rsplit("/", 1)[1]
    for wrong in (f"/v2/credentials/{other_id}-{uri.rpartition('-')[2]}", "/v2/credentials/nope"):
        answer = await h.get(wrong)
        assert answer.status == 400 and answer.json()["code"] == "InvalidIdInRequest"


# ---- AWS API calls -----------------------------------------------------------------------------------


async def issued(h: Harness) -> dict[str, str]:
    arn = await h.run(app(), taskRoleArn=ROLE)
    return dict((await h.get(h.environment(arn)["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"])).json())


@scenario()
async def test_a_request_signed_with_task_credentials_reaches_the_handler_as_the_task(h: Harness) -> None:
    creds = await issued(h)
    answer = await h.signed(creds["AccessKeyId"], creds["SecretAccessKey"], creds["Token"])
    assert answer.status == 200, answer.body
    assert answer.json() == {"clusterArns": [f"arn:aws:ecs:eu-west-1:{ACCOUNT}:cluster/seen"]}
    [context] = h.calls
    assert context.account_id == ACCOUNT and context.region == "eu-west-1"
    assert context.access_key_id == creds["AccessKeyId"]
    assert context.principal_arn.startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/app-role/")
    presigned = await h.signed(creds["AccessKeyId"], creds["SecretAccessKey"], creds["Token"], presign=True)
    assert presigned.status == 200, presigned.body


@scenario()
async def test_anything_else_is_refused_with_the_aws_error(h: Harness) -> None:
    creds = await issued(h)
    key, secret, token = creds["AccessKeyId"], creds["SecretAccessKey"], creds["Token"]

    async def refused(answer: Response) -> str:
        assert answer.status in (400, 403), (answer.status, answer.body)
        return str(answer.json()["__type"])

    unsigned = await asgi_call(h.endpoints.app(), "POST", "/", dict(LIST_CLUSTERS), b"{}", "172.17.0.9")
    assert await refused(unsigned) == "MissingAuthenticationTokenException"
    # The operator's lenient mode does not exist here: any key without our token is unknown.
    assert await refused(await h.signed("test", "test", None)) == "UnrecognizedClientException"
    assert await refused(await h.signed(key, secret, None)) == "UnrecognizedClientException"
    assert await refused(await h.signed(key, "x" * 40, token)) == "SignatureDoesNotMatch"
    assert await refused(await h.signed(key, secret, token, tamper=True)) == "SignatureDoesNotMatch"
    assert await refused(await h.signed(key, secret, token[:-4] + "AAAA")) == "UnrecognizedClientException"
    h.wall[0] += 6 * 3600
    assert await refused(await h.signed(key, secret, token)) == "ExpiredTokenException"
    assert h.calls == []


@scenario()
async def test_the_operator_surface_is_not_on_this_listener(h: Harness) -> None:
    for path in ("/_ecsbox/health", "/_ecsbox/state/reset", "/_ecsbox/"):
        assert (await h.get(path)).status == 404
    answer = await asgi_call(h.endpoints.app(), "POST", "/_ecsbox/state/reset", {}, b"", "172.17.0.9")
    assert answer.status == 404
    arn = await h.run(app())
    base = path_of(h.environment(arn)["ECS_CONTAINER_METADATA_URI_V4"])
    # A browser page (it sends Origin) gets nothing, even with a token.
    assert (await h.get(base, origin="http://evil.example")).status == 403
