"""Capacity provider operations: Create, Describe, Update, Delete.

FARGATE and FARGATE_SPOT exist in every account and region without being created; they are not
stored. Auto Scaling group providers are stored; Managed Instances providers are not supported.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection

from ecsbox.aws.context import RequestContext
from ecsbox.aws.errors import AwsError
from ecsbox.ecs import paging, repo
from ecsbox.ecs.handling import Deps, aws_errors, in_model_order
from ecsbox.ecs.model import (
    FARGATE_PROVIDERS,
    MANAGED_SCALING_DEFAULTS,
    PROVIDER_ACTIVE,
    PROVIDER_INACTIVE,
    RESERVED_PROVIDER_PREFIXES,
    Document,
    client_error,
    invalid_parameter,
)
from ecsbox.ecs.references import capacity_provider_arn, parse_named
from ecsbox.ecs.tag_rules import check_tags

NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
ASG_ARN_RE = re.compile(
    r"^arn:aws[a-z-]*:autoscaling:[a-z0-9-]+:[^:]+:autoScalingGroup:[0-9a-fA-F-]+:autoScalingGroupName/.{1,255}$"
)
DESCRIBE_PAGE = 10
NOT_FOUND = "The specified capacity provider does not exist. Specify a valid name or ARN and try again."


def fargate_provider(ctx: RequestContext, name: str) -> Document:
    return {
        "capacityProviderArn": capacity_provider_arn(ctx.region, ctx.account_id, name),
        "name": name,
        "status": PROVIDER_ACTIVE,
        "type": name,
    }


def provider_kinds(conn: Connection, ctx: RequestContext, names: list[str]) -> dict[str, Document]:
    """The ACTIVE providers among ``names`` (FARGATE ones included), by name; absent ones left out."""
    found: dict[str, Document] = {}
    for name in names:
        if name in FARGATE_PROVIDERS:
            found[name] = fargate_provider(ctx, name)
            continue
        row = repo.get_capacity_provider(conn, ctx.partition, name)
        if row is not None and row.status == PROVIDER_ACTIVE:
            found[name] = row.document
    return found


def managed_scaling_enabled(provider: Document) -> bool:
    scaling = (provider.get("autoScalingGroupProvider") or {}).get("managedScaling") or {}
    return scaling.get("status") == "ENABLED"


def _managed_scaling(given: dict[str, Any] | None, current: dict[str, Any] | None = None) -> dict[str, Any]:
    """Managed scaling with AWS's defaults for what was not given: targetCapacity 100,
    minimumScalingStepSize 1, maximumScalingStepSize 10000, instanceWarmupPeriod 300."""
    base = current or {"status": "DISABLED", **MANAGED_SCALING_DEFAULTS}
    merged = {**base, **{k: v for k, v in (given or {}).items() if v is not None}}
    if merged["minimumScalingStepSize"] > merged["maximumScalingStepSize"]:
        raise invalid_parameter(
            "The managed scaling minimumScalingStepSize must be less than or equal to maximumScalingStepSize."
        )
    order = (
        "status",
        "targetCapacity",
        "minimumScalingStepSize",
        "maximumScalingStepSize",
        "instanceWarmupPeriod",
    )
    return {key: merged[key] for key in order}


def _check_termination_protection(asg: dict[str, Any]) -> None:
    if asg.get("managedTerminationProtection") == "ENABLED" and asg["managedScaling"]["status"] != "ENABLED":
        raise client_error(
            "The managed termination protection setting for the capacity provider is invalid. To enable "
            "managed termination protection for a capacity provider, managed scaling must be enabled."
        )


def _check_name(name: str) -> None:
    if not NAME_RE.match(name):
        raise invalid_parameter(
            "The capacity provider name is invalid. Up to 255 letters (uppercase and lowercase), numbers, "
            "underscores, and hyphens are allowed."
        )
    if name.lower().startswith(RESERVED_PROVIDER_PREFIXES):
        raise invalid_parameter(
            "The capacity provider name can't be prefixed with 'aws', 'ecs', or 'fargate'."
        )


class CapacityProviders:
    def __init__(self, deps: Deps) -> None:
        self.store = deps.store

    def _with_tags(self, conn: Connection, document: Document) -> Document:
        return in_model_order(
            "CapacityProvider", {**document, "tags": repo.get_tags(conn, document["capacityProviderArn"])}
        )

    @aws_errors
    async def create(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["name"]
        _check_name(name)
        if params.get("managedInstancesProvider") or params.get("cluster"):
            raise AwsError(
                "UnsupportedFeatureException", "ecsbox does not support Managed Instances capacity providers."
            )
        given = params.get("autoScalingGroupProvider")
        if not given or not given.get("autoScalingGroupArn"):
            raise client_error("autoScalingGroupProvider.autoScalingGroupArn must be specified.")
        asg_arn = given["autoScalingGroupArn"]
        if not ASG_ARN_RE.match(asg_arn):
            raise invalid_parameter(
                "The specified Auto Scaling group ARN is not valid. "
                "Specify a valid Auto Scaling group ARN and try again."
            )
        asg = {
            "autoScalingGroupArn": asg_arn,
            "managedScaling": _managed_scaling(given.get("managedScaling")),
            "managedTerminationProtection": given.get("managedTerminationProtection") or "DISABLED",
            "managedDraining": given.get("managedDraining") or "ENABLED",
        }
        _check_termination_protection(asg)
        new_tags = check_tags(params.get("tags") or [])
        arn = capacity_provider_arn(ctx.region, ctx.account_id, name)
        document = {
            "capacityProviderArn": arn,
            "name": name,
            "status": PROVIDER_ACTIVE,
            "autoScalingGroupProvider": asg,
            "type": "EC2_AUTOSCALING",
        }

        def write(conn: Connection) -> Document:
            existing = repo.get_capacity_provider(conn, ctx.partition, name)
            if existing is not None and existing.status == PROVIDER_ACTIVE:
                raise client_error(
                    "The specified capacity provider already exists. To change the configuration of an "
                    "existing capacity provider, update the capacity provider."
                )
            for other in repo.list_capacity_providers(conn, ctx.partition):
                used_asg = (other.document.get("autoScalingGroupProvider") or {}).get("autoScalingGroupArn")
                if other.status == PROVIDER_ACTIVE and used_asg == asg_arn:
                    raise client_error(
                        "The specified Auto Scaling group is already in use by another capacity provider."
                    )
            repo.put_capacity_provider(conn, ctx.partition, name, PROVIDER_ACTIVE, document)
            repo.clear_tags(conn, arn)
            repo.put_tags(conn, arn, new_tags)
            return self._with_tags(conn, document)

        return {"capacityProvider": await self.store.write(write)}

    @aws_errors
    async def describe(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        wanted = params.get("capacityProviders")
        include_tags = "TAGS" in (params.get("include") or [])
        limit = paging.page_size(params.get("maxResults"), DESCRIBE_PAGE, DESCRIBE_PAGE)
        scope = f"DescribeCapacityProviders|{include_tags}"
        start = 0
        if params.get("nextToken") and not wanted:
            key = paging.decode_token(params["nextToken"], scope)
            if len(key) != 1 or not isinstance(key[0], int) or key[0] < 0:
                raise invalid_parameter(paging.INVALID_TOKEN)
            start = key[0]

        def present(conn: Connection, document: Document) -> Document:
            if not include_tags:
                return in_model_order("CapacityProvider", document)
            return self._with_tags(conn, document)

        def read(conn: Connection) -> tuple[list[Document], list[dict[str, str]], int]:
            stored = repo.list_capacity_providers(conn, ctx.partition)
            if not wanted:
                every = [fargate_provider(ctx, n) for n in FARGATE_PROVIDERS]
                every += [row.document for row in stored if row.status == PROVIDER_ACTIVE]
                return [present(conn, d) for d in every[start : start + limit]], [], len(every)
            by_name = {row.name: row.document for row in stored}
            found: list[Document] = []
            failures: list[dict[str, str]] = []
            for text in wanted:
                name = parse_named(text, "capacity-provider", ctx.account_id, ctx.region)
                if name in FARGATE_PROVIDERS:
                    found.append(present(conn, fargate_provider(ctx, name)))
                elif name is not None and name in by_name:
                    found.append(present(conn, by_name[name]))
                else:
                    arn = (
                        text
                        if text.startswith("arn:")
                        else capacity_provider_arn(ctx.region, ctx.account_id, text)
                    )
                    failures.append({"arn": arn, "reason": "MISSING"})
            return found, failures, len(found)

        found, failures, total = await self.store.read(read)
        result: dict[str, Any] = {"capacityProviders": found, "failures": failures}
        if not wanted and start + limit < total:
            result["nextToken"] = paging.encode_token(scope, [start + limit])
        return result

    @staticmethod
    def _lookup(conn: Connection, ctx: RequestContext, text: str, verb: str) -> repo.CapacityProviderRow:
        name = parse_named(text, "capacity-provider", ctx.account_id, ctx.region)
        if name in FARGATE_PROVIDERS:
            raise client_error(f"The {name} capacity provider is reserved and cannot be {verb}.")
        row = repo.get_capacity_provider(conn, ctx.partition, name) if name else None
        if row is None or row.status != PROVIDER_ACTIVE:
            raise client_error(NOT_FOUND)
        return row

    @aws_errors
    async def update(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("managedInstancesProvider") or params.get("cluster"):
            raise AwsError(
                "UnsupportedFeatureException", "ecsbox does not support Managed Instances capacity providers."
            )
        given = params.get("autoScalingGroupProvider") or {}

        def write(conn: Connection) -> Document:
            row = self._lookup(conn, ctx, params["name"], "updated")
            current = row.document["autoScalingGroupProvider"]
            asg = {
                **current,
                "managedScaling": _managed_scaling(
                    given.get("managedScaling"), current.get("managedScaling")
                ),
            }
            for key in ("managedTerminationProtection", "managedDraining"):
                if given.get(key):
                    asg[key] = given[key]
            _check_termination_protection(asg)
            document = in_model_order(
                "CapacityProvider",
                {**row.document, "autoScalingGroupProvider": asg, "updateStatus": "UPDATE_COMPLETE"},
            )
            repo.save_capacity_provider(conn, ctx.partition, row.name, PROVIDER_ACTIVE, document)
            return self._with_tags(conn, document)

        return {"capacityProvider": await self.store.write(write)}

    @aws_errors
    async def delete(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("cluster"):
            raise AwsError(
                "UnsupportedFeatureException", "ecsbox does not support Managed Instances capacity providers."
            )

        def write(conn: Connection) -> Document:
            row = self._lookup(conn, ctx, params["capacityProvider"], "deleted")
            clusters = repo.clusters_using_provider(conn, ctx.partition, row.name)
            if clusters:
                raise client_error(
                    f"The capacity provider cannot be deleted because it is associated with cluster: "
                    f"{clusters[0]}. Remove the capacity provider from the cluster and try again."
                )
            document = in_model_order(
                "CapacityProvider",
                {**row.document, "status": PROVIDER_INACTIVE, "updateStatus": "DELETE_COMPLETE"},
            )
            repo.save_capacity_provider(conn, ctx.partition, row.name, PROVIDER_INACTIVE, document)
            return self._with_tags(conn, document)

        return {"capacityProvider": await self.store.write(write)}
