"""The ECS control plane as a user drives it: handlers called directly on a Store in a temp SQLite
file, with a FakeClock. Each test is one behaviour."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ecsbox.aws.context import RequestContext
from ecsbox.aws.errors import AwsError
from ecsbox.core.clock import FakeClock
from ecsbox.ecs import operations
from ecsbox.store import Store

SEED = Path("/work/shared/seed")
ACCOUNT = "123456789012"
REGION = "ap-northeast-1"
PRINCIPAL = f"arn:aws:iam::{ACCOUNT}:user/alice"
ASG_ARN = (
    "arn:aws:autoscaling:ap-northeast-1:123456789012:autoScalingGroup:"
    "0f7a2b1c-1111-2222-3333-444455556666:autoScalingGroupName/web-asg"
)


def seed(name: str) -> dict[str, Any]:
    return json.loads((SEED / name).read_text())


class Ecs:
    """Calls ECS operations as one caller, on one event loop."""

    def __init__(
        self,
        store: Store,
        clock: FakeClock,
        runner: asyncio.Runner,
        account: str = ACCOUNT,
        region: str = REGION,
        principal: str = PRINCIPAL,
    ) -> None:
        self.store, self.clock, self.runner = store, clock, runner
        self.handlers = operations(store, clock)
        self.account, self.region, self.principal = account, region, principal

    def as_(self, account: str | None = None, region: str | None = None, principal: str | None = None) -> Ecs:
        return Ecs(
            self.store,
            self.clock,
            self.runner,
            account or self.account,
            region or self.region,
            principal or self.principal,
        )

    def __call__(self, operation: str, **params: Any) -> dict[str, Any]:
        ctx = RequestContext(self.account, self.region, "ecs", operation, "req-1", "test", self.principal)
        return self.runner.run(self.handlers[operation](ctx, copy.deepcopy(params)))

    def fails(self, operation: str, **params: Any) -> AwsError:
        with pytest.raises(AwsError) as caught:
            self(operation, **params)
        return caught.value


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ecsbox.db'}"


@pytest.fixture
def ecs(db_url: str) -> Iterator[Ecs]:
    store = Store(db_url)
    store.open()
    with asyncio.Runner() as runner:
        yield Ecs(store, FakeClock(), runner)
    store.close()


def container(name: str = "app", **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": "nginx", "memory": 128, **extra}


# ---- task definitions --------------------------------------------------------------------------


def test_seed_fargate_definition_is_described_as_published(ecs: Ecs) -> None:
    published = seed("describe-task-definition.as-published.json")["taskDefinition"]
    for _ in range(3):
        ecs("RegisterTaskDefinition", **seed("task-definition.php-sample-fargate.json"))
    got = ecs("DescribeTaskDefinition", taskDefinition="php-sample-fargate:3")["taskDefinition"]

    assert list(got) == list(published)  # same members, same order
    for key in (
        "taskDefinitionArn",
        "taskRoleArn",
        "executionRoleArn",
        "revision",
        "registeredAt",
        "registeredBy",
    ):
        got.pop(key), published.pop(key)
    assert got == published


def test_register_fills_the_read_only_members(ecs: Ecs) -> None:
    ecs.clock.advance(5)
    td = ecs("RegisterTaskDefinition", **seed("task-definition.php-sample-fargate.json"))["taskDefinition"]
    assert td["taskDefinitionArn"] == f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/php-sample-fargate:1"
    assert td["revision"] == 1 and td["status"] == "ACTIVE"
    assert td["registeredAt"] == ecs.clock.now()
    assert td["registeredBy"] == PRINCIPAL


def test_awslogs_example_registers_for_ec2(ecs: Ecs) -> None:
    td = ecs("RegisterTaskDefinition", **seed("task-definition.awslogs-example.json"))["taskDefinition"]
    assert td["compatibilities"] == ["EXTERNAL", "EC2"]
    assert [a["name"] for a in td["requiresAttributes"]] == [
        "com.amazonaws.ecs.capability.logging-driver.awslogs",
        "com.amazonaws.ecs.capability.docker-remote-api.1.18",
    ]
    assert "networkMode" not in td and "cpu" not in td  # nothing invented
    assert td["containerDefinitions"] == seed("task-definition.awslogs-example.json")["containerDefinitions"]


def test_revisions_count_up_and_are_never_reused(ecs: Ecs) -> None:
    revisions = [
        ecs("RegisterTaskDefinition", family="web", containerDefinitions=[container()])["taskDefinition"][
            "revision"
        ]
        for _ in range(3)
    ]
    assert revisions == [1, 2, 3]
    ecs("DeregisterTaskDefinition", taskDefinition="web:3")
    assert (
        ecs("RegisterTaskDefinition", family="web", containerDefinitions=[container()])["taskDefinition"][
            "revision"
        ]
        == 4
    )
    ecs("DeregisterTaskDefinition", taskDefinition="web:4")
    ecs("DeleteTaskDefinitions", taskDefinitions=["web:4"])
    assert (
        ecs("RegisterTaskDefinition", family="web", containerDefinitions=[container()])["taskDefinition"][
            "revision"
        ]
        == 5
    )


def test_family_alone_means_latest_active_revision(ecs: Ecs) -> None:
    for _ in range(3):
        ecs("RegisterTaskDefinition", family="web", containerDefinitions=[container()])
    ecs("DeregisterTaskDefinition", taskDefinition="web:3")
    assert ecs("DescribeTaskDefinition", taskDefinition="web")["taskDefinition"]["revision"] == 2
    arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/web:3"
    described = ecs("DescribeTaskDefinition", taskDefinition=arn)["taskDefinition"]
    assert described["status"] == "INACTIVE" and described["deregisteredAt"] == ecs.clock.now()
    ecs("DeregisterTaskDefinition", taskDefinition="web:1")
    ecs("DeregisterTaskDefinition", taskDefinition="web:2")
    error = ecs.fails("DescribeTaskDefinition", taskDefinition="web")
    assert (error.code, error.message) == ("ClientException", "Unable to describe task definition.")


def test_describe_missing_or_malformed(ecs: Ecs) -> None:
    assert ecs.fails("DescribeTaskDefinition", taskDefinition="nope:1").code == "ClientException"
    assert ecs.fails("DescribeTaskDefinition", taskDefinition="nope:x").code == "ClientException"
    assert ecs.fails("DeregisterTaskDefinition", taskDefinition="nope").message == "Revision is missing."


def test_describe_includes_tags_only_when_asked(ecs: Ecs) -> None:
    tags = [{"key": "team", "value": "web"}, {"key": "env", "value": "prod"}]
    registered = ecs("RegisterTaskDefinition", family="web", containerDefinitions=[container()], tags=tags)
    assert registered["tags"] == tags
    assert "tags" not in ecs("DescribeTaskDefinition", taskDefinition="web:1")
    assert ecs("DescribeTaskDefinition", taskDefinition="web:1", include=["TAGS"])["tags"] == tags


def test_delete_only_inactive_definitions(ecs: Ecs) -> None:
    for _ in range(2):
        ecs("RegisterTaskDefinition", family="web", containerDefinitions=[container()])
    ecs("DeregisterTaskDefinition", taskDefinition="web:1")
    ecs.clock.advance(60)
    result = ecs("DeleteTaskDefinitions", taskDefinitions=["web:1", "web:2", "web:9"])
    assert [td["status"] for td in result["taskDefinitions"]] == ["DELETE_IN_PROGRESS"]
    assert result["taskDefinitions"][0]["deleteRequestedAt"] == ecs.clock.now()
    arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/web:"
    assert [(f["arn"], f["reason"].split(".")[0]) for f in result["failures"]] == [
        (arn + "2", "The specified task definition is still in ACTIVE status"),
        (arn + "9", "The specified task definition does not exist"),
    ]
    assert ecs("ListTaskDefinitions", status="DELETE_IN_PROGRESS")["taskDefinitionArns"] == [arn + "1"]
    assert ecs.fails("DeleteTaskDefinitions", taskDefinitions=[f"web:{i}" for i in range(1, 12)]).code == (
        "InvalidParameterException"
    )


def test_list_filters_sorts_and_pages_over_250_revisions(ecs: Ecs) -> None:
    for family, count in (("api", 150), ("web", 100)):
        for _ in range(count):
            ecs("RegisterTaskDefinition", family=family, containerDefinitions=[container()])
    ecs("RegisterTaskDefinition", family="api-worker", containerDefinitions=[container()])
    for revision in range(1, 11):
        ecs("DeregisterTaskDefinition", taskDefinition=f"web:{revision}")

    def all_pages(**params: Any) -> list[str]:
        arns: list[str] = []
        token = None
        while True:
            page = ecs("ListTaskDefinitions", **params, **({"nextToken": token} if token else {}))
            assert len(page["taskDefinitionArns"]) <= params.get("maxResults", 100)
            arns += page["taskDefinitionArns"]
            token = page.get("nextToken")
            if not token:
                return arns

    every = all_pages()
    assert len(every) == 150 + 1 + 90
    names = [a.rsplit("/", 1)[1] for a in every]
    assert names[:2] == ["api:1", "api:2"] and names[149] == "api:150" and names[150] == "api-worker:1"
    assert names[-1] == "web:100"
    assert all_pages(maxResults=7) == every
    assert all_pages(sort="DESC", maxResults=33) == every[::-1]
    api = all_pages(familyPrefix="api", maxResults=40)  # a whole family name, not a prefix
    assert len(api) == 150 and all("/api:" in a for a in api)
    inactive = all_pages(status="INACTIVE")
    assert [a.rsplit("/", 1)[1] for a in inactive] == [f"web:{i}" for i in range(1, 11)]


@pytest.mark.parametrize("token", ["garbage", "!!!", "eyJmb28iOiAxfQ", "", "bnVsbA"])
def test_a_malformed_token_is_an_invalid_parameter(ecs: Ecs, token: str) -> None:
    if not token:
        return  # an empty token means "first page" to every client
    for operation in (
        "ListTaskDefinitions",
        "ListTaskDefinitionFamilies",
        "ListClusters",
        "ListAccountSettings",
    ):
        assert ecs.fails(operation, nextToken=token).code == "InvalidParameterException"


def test_a_token_from_another_listing_is_refused(ecs: Ecs) -> None:
    for _ in range(3):
        ecs("RegisterTaskDefinition", family="web", containerDefinitions=[container()])
    token = ecs("ListTaskDefinitions", maxResults=1)["nextToken"]
    assert ecs.fails("ListTaskDefinitions", nextToken=token, sort="DESC").code == "InvalidParameterException"
    assert ecs.fails("ListTaskDefinitionFamilies", nextToken=token).code == "InvalidParameterException"
    assert ecs.fails("ListTaskDefinitions", maxResults=0).code == "InvalidParameterException"
    assert ecs.fails("ListTaskDefinitions", maxResults=101).code == "InvalidParameterException"


def test_list_families_by_prefix_and_status(ecs: Ecs) -> None:
    for family in ("web", "web-admin", "worker", "Web"):
        ecs("RegisterTaskDefinition", family=family, containerDefinitions=[container()])
    ecs("DeregisterTaskDefinition", taskDefinition="worker:1")
    assert ecs("ListTaskDefinitionFamilies")["families"] == ["Web", "web", "web-admin"]
    assert ecs("ListTaskDefinitionFamilies", familyPrefix="web")["families"] == ["web", "web-admin"]
    assert ecs("ListTaskDefinitionFamilies", status="INACTIVE")["families"] == ["worker"]
    assert ecs("ListTaskDefinitionFamilies", status="ALL", familyPrefix="w")["families"] == [
        "web",
        "web-admin",
        "worker",
    ]
    first = ecs("ListTaskDefinitionFamilies", status="ALL", maxResults=3)
    second = ecs("ListTaskDefinitionFamilies", status="ALL", maxResults=3, nextToken=first["nextToken"])
    assert first["families"] + second["families"] == ["Web", "web", "web-admin", "worker"]
    assert "nextToken" not in second


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"memory": "4096"},
            "No Fargate configuration exists for given values: 256 CPU, 4096 memory. "
            "See the Amazon ECS documentation for the valid values.",
        ),
        ({"networkMode": "bridge"}, "Fargate only supports network mode 'awsvpc'."),
        ({"cpu": None}, "Fargate requires that 'cpu' be defined at the task level."),
        (
            {"executionRoleArn": None},
            "Fargate requires task definition to have execution role ARN to support log driver awslogs.",
        ),
        (
            {"cpu": "lots"},
            "Invalid 'cpu' setting for task. For more information, see the Troubleshooting section "
            "of the Amazon ECS Developer Guide.",
        ),
        ({"containerDefinitions": []}, "Container list cannot be empty."),
    ],
)
def test_fargate_rules_reject_with_ecs_messages(ecs: Ecs, change: dict[str, Any], message: str) -> None:
    request = seed("task-definition.php-sample-fargate.json")
    for key, value in change.items():
        if value is None:
            request.pop(key)
        else:
            request[key] = value
    error = ecs.fails("RegisterTaskDefinition", **request)
    assert (error.code, error.message) == ("ClientException", message)
    assert ecs("ListTaskDefinitionFamilies", status="ALL")["families"] == []  # nothing stored


def test_vcpu_and_gb_forms_are_stored_as_units_and_mib(ecs: Ecs) -> None:
    request = seed("task-definition.php-sample-fargate.json") | {"cpu": "1 vCPU", "memory": "2 GB"}
    td = ecs("RegisterTaskDefinition", **request)["taskDefinition"]
    assert (td["cpu"], td["memory"]) == ("1024", "2048")


def test_container_rules(ecs: Ecs) -> None:
    def fails_with(*containers: dict[str, Any], **extra: Any) -> str:
        return ecs.fails(
            "RegisterTaskDefinition", family="f", containerDefinitions=list(containers), **extra
        ).message

    assert fails_with({"name": "a", "image": "x"}) == (
        "Invalid setting for container 'a'. "
        "At least one of 'memory' or 'memoryReservation' must be specified."
    )
    assert "'memory' must be greater than 'memoryReservation'" in fails_with(container(memoryReservation=128))
    assert "essential" in fails_with(container(essential=False))
    assert "Duplicate container name" in fails_with(container(), container())
    assert fails_with({"name": "a", "memory": 5}) == "Container.image should not be null or empty."
    assert "host ports and container ports" in fails_with(
        container(portMappings=[{"containerPort": 80, "hostPort": 8080}]), networkMode="awsvpc"
    )
    # task memory stands in for container memory; non-essential sidecars are fine beside an essential one
    td = ecs(
        "RegisterTaskDefinition",
        family="f",
        memory="512",
        containerDefinitions=[{"name": "a", "image": "x"}, {"name": "b", "image": "y", "essential": False}],
    )
    assert td["taskDefinition"]["compatibilities"] == ["EXTERNAL", "EC2"]


# ---- clusters ----------------------------------------------------------------------------------


def test_seed_cluster_create_describe_update_delete(ecs: Ecs) -> None:
    cluster = ecs("CreateCluster", **seed("cluster.fargate-cluster.json"))["cluster"]
    arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/fargate-cluster"
    assert cluster["clusterArn"] == arn and cluster["status"] == "ACTIVE"
    assert cluster["capacityProviders"] == ["FARGATE_SPOT", "FARGATE"]
    assert cluster["settings"] == [{"name": "containerInsights", "value": "enabled"}]
    assert cluster["defaultCapacityProviderStrategy"] == []

    described = ecs("DescribeClusters", clusters=["fargate-cluster", arn, "ghost"])
    assert [c["clusterName"] for c in described["clusters"]] == ["fargate-cluster"] * 2
    assert described["failures"] == [
        {"arn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/ghost", "reason": "MISSING"}
    ]
    plain = described["clusters"][0]
    assert "settings" not in plain and plain["statistics"] == [] and plain["tags"] == []
    for key in (
        "registeredContainerInstancesCount",
        "runningTasksCount",
        "pendingTasksCount",
        "activeServicesCount",
    ):
        assert plain[key] == 0
    full = ecs("DescribeClusters", clusters=[arn], include=["SETTINGS", "STATISTICS", "TAGS"])["clusters"][0]
    assert full["settings"] == [{"name": "containerInsights", "value": "enabled"}]
    assert {"name": "runningFargateTasksCount", "value": "0"} in full["statistics"]

    updated = ecs(
        "UpdateClusterSettings",
        cluster="fargate-cluster",
        settings=[{"name": "containerInsights", "value": "enhanced"}],
    )["cluster"]
    assert updated["settings"] == [{"name": "containerInsights", "value": "enhanced"}]
    configuration = {"executeCommandConfiguration": {"logging": "DEFAULT"}}
    updated = ecs("UpdateCluster", cluster=arn, configuration=configuration)["cluster"]
    assert updated["configuration"] == configuration

    deleted = ecs("DeleteCluster", cluster="fargate-cluster")["cluster"]
    assert deleted["status"] == "INACTIVE"
    assert ecs("DescribeClusters", clusters=[arn])["clusters"][0]["status"] == "INACTIVE"
    assert ecs("ListClusters")["clusterArns"] == []
    error = ecs.fails("DeleteCluster", cluster="fargate-cluster")
    assert (error.code, error.message) == ("ClusterNotFoundException", "Cluster not found.")
    assert ecs.fails("UpdateClusterSettings", cluster=arn, settings=[]).code == "ClusterNotFoundException"
    assert ecs("CreateCluster", clusterName="fargate-cluster")["cluster"]["status"] == "ACTIVE"  # a new one


def test_create_cluster_defaults_and_idempotence(ecs: Ecs) -> None:
    first = ecs("CreateCluster")["cluster"]
    assert first["clusterName"] == "default"
    assert first["settings"] == [{"name": "containerInsights", "value": "disabled"}]
    again = ecs(
        "CreateCluster", clusterName="default", settings=[{"name": "containerInsights", "value": "enabled"}]
    )
    assert again["cluster"] == first
    assert ecs("DescribeClusters")["clusters"][0]["clusterName"] == "default"
    assert ecs.fails("CreateCluster", clusterName="bad name").code == "InvalidParameterException"


def test_account_default_decides_container_insights_of_new_clusters(ecs: Ecs) -> None:
    ecs("PutAccountSettingDefault", name="containerInsights", value="enhanced")
    cluster = ecs("CreateCluster", clusterName="c")["cluster"]
    assert cluster["settings"] == [{"name": "containerInsights", "value": "enhanced"}]


def test_cluster_capacity_providers_and_strategy(ecs: Ecs) -> None:
    strategy = seed("capacity-provider-strategy.base2-spot.json")["capacityProviderStrategy"]
    cluster = ecs(
        "CreateCluster",
        clusterName="c",
        capacityProviders=["FARGATE", "FARGATE_SPOT"],
        defaultCapacityProviderStrategy=strategy,
    )["cluster"]
    assert cluster["defaultCapacityProviderStrategy"] == [
        {"capacityProvider": "FARGATE", "weight": 1, "base": 2},
        {"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0},
    ]
    error = ecs.fails(
        "PutClusterCapacityProviders",
        cluster="c",
        capacityProviders=["FARGATE"],
        defaultCapacityProviderStrategy=strategy,
    )
    assert error.code == "InvalidParameterException" and "not associated with the cluster" in error.message
    error = ecs.fails(
        "CreateCluster", clusterName="d", capacityProviders=["nope"], defaultCapacityProviderStrategy=[]
    )
    assert error.code == "InvalidParameterException"
    two_bases = [{"capacityProvider": "FARGATE", "base": 1}, {"capacityProvider": "FARGATE_SPOT", "base": 1}]
    assert (
        "Only one"
        in ecs.fails(
            "PutClusterCapacityProviders",
            cluster="c",
            capacityProviders=["FARGATE", "FARGATE_SPOT"],
            defaultCapacityProviderStrategy=two_bases,
        ).message
    )
    result = ecs(
        "PutClusterCapacityProviders", cluster="c", capacityProviders=[], defaultCapacityProviderStrategy=[]
    )
    assert result["cluster"]["capacityProviders"] == []


def test_list_clusters_pages_in_creation_order(ecs: Ecs) -> None:
    names = [f"c{i:02d}" for i in range(25)]
    for name in names:
        ecs("CreateCluster", clusterName=name)
    ecs("DeleteCluster", cluster="c03")
    arns, token = [], None
    while True:
        page = ecs("ListClusters", maxResults=10, **({"nextToken": token} if token else {}))
        arns += page["clusterArns"]
        token = page.get("nextToken")
        if not token:
            break
    assert [a.rsplit("/", 1)[1] for a in arns] == [n for n in names if n != "c03"]


# ---- capacity providers ------------------------------------------------------------------------


def test_fargate_providers_always_exist(ecs: Ecs) -> None:
    providers = ecs("DescribeCapacityProviders")["capacityProviders"]
    assert [(p["name"], p["status"]) for p in providers] == [
        ("FARGATE", "ACTIVE"),
        ("FARGATE_SPOT", "ACTIVE"),
    ]
    assert all("autoScalingGroupProvider" not in p for p in providers)
    assert providers[0]["capacityProviderArn"] == f"arn:aws:ecs:{REGION}:{ACCOUNT}:capacity-provider/FARGATE"
    error = ecs.fails("DeleteCapacityProvider", capacityProvider="FARGATE")
    assert error.code == "ClientException"


def test_asg_provider_lifecycle(ecs: Ecs) -> None:
    created = ecs(
        "CreateCapacityProvider",
        name="web-asg",
        autoScalingGroupProvider={
            "autoScalingGroupArn": ASG_ARN,
            "managedScaling": {"status": "ENABLED", "targetCapacity": 90},
        },
        tags=[{"key": "team", "value": "web"}],
    )["capacityProvider"]
    assert created["status"] == "ACTIVE"
    assert created["autoScalingGroupProvider"]["managedScaling"] == {
        "status": "ENABLED",
        "targetCapacity": 90,
        "minimumScalingStepSize": 1,
        "maximumScalingStepSize": 10000,
        "instanceWarmupPeriod": 300,
    }
    assert created["tags"] == [{"key": "team", "value": "web"}]
    assert (
        ecs.fails(
            "CreateCapacityProvider",
            name="web-asg",
            autoScalingGroupProvider={"autoScalingGroupArn": ASG_ARN},
        ).code
        == "ClientException"
    )

    ecs(
        "CreateCluster",
        clusterName="c",
        capacityProviders=["web-asg"],
        defaultCapacityProviderStrategy=[{"capacityProvider": "web-asg", "weight": 1}],
    )
    # managed scaling: one cluster only
    assert (
        ecs.fails("CreateCluster", clusterName="d", capacityProviders=["web-asg"]).code
        == "InvalidParameterException"
    )
    mixed = [{"capacityProvider": "web-asg", "weight": 1}, {"capacityProvider": "FARGATE", "weight": 1}]
    assert (
        "mix"
        in ecs.fails(
            "PutClusterCapacityProviders",
            cluster="c",
            capacityProviders=["web-asg", "FARGATE"],
            defaultCapacityProviderStrategy=mixed,
        ).message
    )
    assert (
        "associated with cluster: c"
        in ecs.fails("DeleteCapacityProvider", capacityProvider="web-asg").message
    )

    updated = ecs(
        "UpdateCapacityProvider",
        name="web-asg",
        autoScalingGroupProvider={"managedScaling": {"targetCapacity": 75}, "managedDraining": "DISABLED"},
    )
    provider = updated["capacityProvider"]
    assert provider["autoScalingGroupProvider"]["managedScaling"]["targetCapacity"] == 75
    assert provider["autoScalingGroupProvider"]["managedScaling"]["status"] == "ENABLED"
    assert provider["autoScalingGroupProvider"]["managedDraining"] == "DISABLED"
    assert provider["updateStatus"] == "UPDATE_COMPLETE"

    ecs("PutClusterCapacityProviders", cluster="c", capacityProviders=[], defaultCapacityProviderStrategy=[])
    deleted = ecs("DeleteCapacityProvider", capacityProvider=provider["capacityProviderArn"])[
        "capacityProvider"
    ]
    assert (deleted["status"], deleted["updateStatus"]) == ("INACTIVE", "DELETE_COMPLETE")
    assert [p["name"] for p in ecs("DescribeCapacityProviders")["capacityProviders"]] == [
        "FARGATE",
        "FARGATE_SPOT",
    ]
    named = ecs("DescribeCapacityProviders", capacityProviders=["web-asg", "ghost"])
    assert named["capacityProviders"][0]["status"] == "INACTIVE"
    assert named["failures"] == [
        {"arn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:capacity-provider/ghost", "reason": "MISSING"}
    ]


@pytest.mark.parametrize("name", ["aws-x", "ECSthing", "fargate2", "bad name"])
def test_provider_names_that_are_refused(ecs: Ecs, name: str) -> None:
    error = ecs.fails(
        "CreateCapacityProvider", name=name, autoScalingGroupProvider={"autoScalingGroupArn": ASG_ARN}
    )
    assert error.code == "InvalidParameterException"


def test_provider_needs_a_well_formed_asg_arn(ecs: Ecs) -> None:
    assert ecs.fails(
        "CreateCapacityProvider", name="p", autoScalingGroupProvider={"autoScalingGroupArn": "asg"}
    ).code == ("InvalidParameterException")
    assert ecs.fails("CreateCapacityProvider", name="p").code == "ClientException"
    termination = {"autoScalingGroupArn": ASG_ARN, "managedTerminationProtection": "ENABLED"}
    assert (
        ecs.fails("CreateCapacityProvider", name="p", autoScalingGroupProvider=termination).code
        == "ClientException"
    )


def test_describe_capacity_providers_pages(ecs: Ecs) -> None:
    for i in range(12):
        arn = ASG_ARN.replace("web-asg", f"asg-{i}").replace("6666", f"{i:04d}")
        ecs("CreateCapacityProvider", name=f"p{i:02d}", autoScalingGroupProvider={"autoScalingGroupArn": arn})
    first = ecs("DescribeCapacityProviders", maxResults=10)
    second = ecs("DescribeCapacityProviders", maxResults=10, nextToken=first["nextToken"])
    names = [p["name"] for p in first["capacityProviders"] + second["capacityProviders"]]
    assert names == ["FARGATE", "FARGATE_SPOT"] + [f"p{i:02d}" for i in range(12)]
    assert "nextToken" not in second
    assert ecs.fails("DescribeCapacityProviders", maxResults=11).code == "InvalidParameterException"


# ---- account settings --------------------------------------------------------------------------


def test_account_settings_precedence(ecs: Ecs) -> None:
    effective = ecs("ListAccountSettings", effectiveSettings=True, maxResults=10)
    first_page = {s["name"]: (s["value"], s["type"]) for s in effective["settings"]}
    assert first_page["serviceLongArnFormat"] == ("enabled", "aws_managed")
    assert first_page["awsvpcTrunking"] == ("disabled", "aws_managed")
    rest = ecs("ListAccountSettings", effectiveSettings=True, nextToken=effective["nextToken"])["settings"]
    assert len(first_page) + len(rest) == 11

    assert ecs("ListAccountSettings")["settings"] == []  # nothing set for alice
    ecs("PutAccountSettingDefault", name="awsvpcTrunking", value="enabled")
    mine = ecs("ListAccountSettings", name="awsvpcTrunking", effectiveSettings=True)["settings"]
    assert mine == [
        {
            "name": "awsvpcTrunking",
            "value": "enabled",
            "principalArn": f"arn:aws:iam::{ACCOUNT}:root",
            "type": "user",
        }
    ]
    put = ecs("PutAccountSetting", name="awsvpcTrunking", value="disabled")["setting"]
    assert put == {"name": "awsvpcTrunking", "value": "disabled", "principalArn": PRINCIPAL, "type": "user"}
    assert (
        ecs("ListAccountSettings", name="awsvpcTrunking", effectiveSettings=True)["settings"][0]["value"]
        == "disabled"
    )
    bob = f"arn:aws:iam::{ACCOUNT}:role/bob"
    assert (
        ecs("ListAccountSettings", name="awsvpcTrunking", principalArn=bob, effectiveSettings=True)[
            "settings"
        ][0]["value"]
        == "enabled"
    )
    deleted = ecs("DeleteAccountSetting", name="awsvpcTrunking")["setting"]
    assert deleted["value"] == "disabled"
    assert (
        ecs("ListAccountSettings", name="awsvpcTrunking", effectiveSettings=True)["settings"][0]["value"]
        == "enabled"
    )


def test_account_setting_values_are_checked(ecs: Ecs) -> None:
    assert (
        ecs.fails("PutAccountSetting", name="containerInsights", value="on").code
        == "InvalidParameterException"
    )
    assert (
        ecs.fails("PutAccountSetting", name="guardDutyActivate", value="on").code
        == "InvalidParameterException"
    )
    assert (
        ecs.fails(
            "PutAccountSetting",
            name="awsvpcTrunking",
            value="enabled",
            principalArn="arn:aws:iam::999999999999:user/x",
        ).code
        == "InvalidParameterException"
    )
    assert (
        ecs("PutAccountSetting", name="fargateTaskRetirementWaitPeriod", value="14")["setting"]["value"]
        == "14"
    )


# ---- tags --------------------------------------------------------------------------------------


def test_tag_untag_list_for_each_resource_kind(ecs: Ecs) -> None:
    cluster = ecs("CreateCluster", clusterName="c", tags=[{"key": "a", "value": "1"}])["cluster"][
        "clusterArn"
    ]
    td = ecs("RegisterTaskDefinition", family="web", containerDefinitions=[container()])["taskDefinition"]
    provider = ecs(
        "CreateCapacityProvider", name="p", autoScalingGroupProvider={"autoScalingGroupArn": ASG_ARN}
    )["capacityProvider"]
    for arn in (cluster, td["taskDefinitionArn"], provider["capacityProviderArn"]):
        ecs("TagResource", resourceArn=arn, tags=[{"key": "b", "value": "2"}, {"key": "a", "value": "3"}])
        ecs("UntagResource", resourceArn=arn, tagKeys=["b", "zzz"])
        assert ecs("ListTagsForResource", resourceArn=arn)["tags"] == [{"key": "a", "value": "3"}]
    assert ecs("DescribeClusters", clusters=["c"], include=["TAGS"])["clusters"][0]["tags"] == [
        {"key": "a", "value": "3"}
    ]


def test_tag_limits_and_missing_resources(ecs: Ecs) -> None:
    arn = ecs("CreateCluster", clusterName="c")["cluster"]["clusterArn"]
    ecs("TagResource", resourceArn=arn, tags=[{"key": f"k{i}", "value": ""} for i in range(50)])
    assert ecs.fails("TagResource", resourceArn=arn, tags=[{"key": "one-more", "value": "x"}]).code == (
        "InvalidParameterException"
    )
    ecs("TagResource", resourceArn=arn, tags=[{"key": "k1", "value": "replaced"}])  # replacing is not adding
    assert ecs.fails("TagResource", resourceArn=arn, tags=[{"key": "aws:x", "value": "y"}]).code == (
        "InvalidParameterException"
    )
    missing_cluster = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/ghost"
    assert ecs.fails("ListTagsForResource", resourceArn=missing_cluster).code == "ClusterNotFoundException"
    missing_td = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/ghost:1"
    assert ecs.fails("TagResource", resourceArn=missing_td, tags=[]).code == "ResourceNotFoundException"
    assert ecs.fails("ListTagsForResource", resourceArn="not-an-arn").code == "InvalidParameterException"
    other_account = arn.replace(ACCOUNT, "999999999999")
    assert ecs.fails("ListTagsForResource", resourceArn=other_account).code == "ClusterNotFoundException"


# ---- partitions and durability -----------------------------------------------------------------


def test_another_account_or_region_sees_nothing(ecs: Ecs) -> None:
    ecs("RegisterTaskDefinition", family="web", containerDefinitions=[container()])
    ecs("CreateCluster", clusterName="c")
    ecs("PutAccountSetting", name="awsvpcTrunking", value="enabled")
    ecs("CreateCapacityProvider", name="p", autoScalingGroupProvider={"autoScalingGroupArn": ASG_ARN})
    for other in (
        ecs.as_(account="999999999999", principal="arn:aws:iam::999999999999:user/alice"),
        ecs.as_(region="us-east-1"),
    ):
        assert other("ListTaskDefinitions")["taskDefinitionArns"] == []
        assert other("ListTaskDefinitionFamilies", status="ALL")["families"] == []
        assert other("ListClusters")["clusterArns"] == []
        assert other("DescribeClusters", clusters=["c"])["failures"][0]["reason"] == "MISSING"
        assert [p["name"] for p in other("DescribeCapacityProviders")["capacityProviders"]] == [
            "FARGATE",
            "FARGATE_SPOT",
        ]
        assert other("ListAccountSettings")["settings"] == []
        assert other.fails("DescribeTaskDefinition", taskDefinition="web:1").code == "ClientException"
        # the owner's ARN names nothing in another partition
        arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/web:1"
        assert other.fails("DescribeTaskDefinition", taskDefinition=arn).code == "ClientException"
        # revisions are per partition too
        assert (
            other("RegisterTaskDefinition", family="web", containerDefinitions=[container()])[
                "taskDefinition"
            ]["revision"]
            == 1
        )


def test_state_survives_closing_and_reopening_the_store(db_url: str) -> None:
    clock = FakeClock()
    with asyncio.Runner() as runner:
        store = Store(db_url)
        store.open()
        ecs = Ecs(store, clock, runner)
        for _ in range(2):
            ecs(
                "RegisterTaskDefinition",
                **seed("task-definition.php-sample-fargate.json"),
                tags=[{"key": "k", "value": "v"}],
            )
        ecs("DeregisterTaskDefinition", taskDefinition="php-sample-fargate:2")
        ecs("CreateCluster", **seed("cluster.fargate-cluster.json"))
        ecs("PutAccountSettingDefault", name="containerInsights", value="enabled")
        before = ecs("DescribeTaskDefinition", taskDefinition="php-sample-fargate:1", include=["TAGS"])
        store.close()

        store = Store(db_url)
        store.open()
        ecs = Ecs(store, clock, runner)
        assert (
            ecs("DescribeTaskDefinition", taskDefinition="php-sample-fargate:1", include=["TAGS"]) == before
        )
        assert (
            ecs("RegisterTaskDefinition", **seed("task-definition.php-sample-fargate.json"))[
                "taskDefinition"
            ]["revision"]
            == 3
        )
        assert ecs("DescribeClusters", clusters=["fargate-cluster"])["clusters"][0]["status"] == "ACTIVE"
        assert ecs("ListAccountSettings", name="containerInsights", effectiveSettings=True)["settings"][0][
            "value"
        ] == ("enabled")
        store.close()
