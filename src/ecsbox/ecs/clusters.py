"""Cluster operations: Create, Describe, List, Delete, Update, UpdateClusterSettings,
PutClusterCapacityProviders."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection

from ecsbox.aws.context import RequestContext
from ecsbox.aws.errors import AwsError
from ecsbox.ecs import paging, repo, service_repo, task_repo
from ecsbox.ecs.capacity_providers import managed_scaling_enabled, provider_kinds
from ecsbox.ecs.cluster_stats import cluster_counts
from ecsbox.ecs.handling import Deps, aws_errors, caller_arn, in_model_order
from ecsbox.ecs.model import (
    CLUSTER_ACTIVE,
    CLUSTER_INACTIVE,
    CLUSTER_STATISTIC_NAMES,
    CONTAINER_INSIGHTS_VALUES,
    DEFAULT_CLUSTER_NAME,
    Document,
    invalid_parameter,
)
from ecsbox.ecs.references import cluster_arn, parse_named
from ecsbox.ecs.settings import effective_setting
from ecsbox.ecs.strategy import check_strategy
from ecsbox.ecs.tag_rules import check_tags

NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
MAX_DESCRIBE = 100
LIST_PAGE = 100


class ClusterNotFound(AwsError):
    def __init__(self) -> None:
        super().__init__("ClusterNotFoundException", "Cluster not found.")


def _check_settings(settings: list[dict[str, Any]]) -> list[dict[str, str]]:
    checked: list[dict[str, str]] = []
    for setting in settings:
        name, value = setting.get("name"), setting.get("value")
        if name != "containerInsights":
            raise invalid_parameter(f"Invalid cluster setting name: {name}.")
        if value not in CONTAINER_INSIGHTS_VALUES:
            raise invalid_parameter(
                f"Invalid value '{value}' for containerInsights. "
                f"Valid values are: {', '.join(CONTAINER_INSIGHTS_VALUES)}."
            )
        checked.append({"name": name, "value": value})
    return checked


def _merge_settings(current: list[dict[str, str]], given: list[dict[str, str]]) -> list[dict[str, str]]:
    by_name = {s["name"]: s["value"] for s in current}
    by_name.update({s["name"]: s["value"] for s in given})
    return [{"name": name, "value": value} for name, value in by_name.items()]


def present(document: Document, include: list[str] | tuple[str, ...], tags: list[dict[str, str]]) -> Document:
    """A cluster as DescribeClusters prints it: settings, configuration, attachments, statistics
    and tags only when ``include`` asks for them (statistics and tags are then empty lists)."""
    shown = {
        k: v
        for k, v in document.items()
        if k not in ("settings", "configuration", "attachments", "attachmentsStatus")
    }
    shown["statistics"] = (
        [{"name": name, "value": "0"} for name in CLUSTER_STATISTIC_NAMES] if "STATISTICS" in include else []
    )
    shown["tags"] = tags if "TAGS" in include else []
    if "SETTINGS" in include:
        shown["settings"] = document.get("settings", [])
    if "CONFIGURATIONS" in include and "configuration" in document:
        shown["configuration"] = document["configuration"]
    if "ATTACHMENTS" in include:
        shown["attachments"] = document.get("attachments", [])
        if "attachmentsStatus" in document:
            shown["attachmentsStatus"] = document["attachmentsStatus"]
    return in_model_order("Cluster", shown)


def _created_view(document: Document, tags: list[dict[str, str]]) -> Document:
    """What Create/Update/Delete return: everything ECS knows, statistics empty."""
    view = present(document, ("ATTACHMENTS", "CONFIGURATIONS", "SETTINGS", "TAGS"), tags)
    if not view.get("attachments"):
        view.pop("attachments", None)
    return view


class Clusters:
    def __init__(self, deps: Deps) -> None:
        self.store = deps.store
        self.clock = deps.clock

    def _check_providers(
        self,
        conn: Connection,
        ctx: RequestContext,
        cluster_name: str,
        providers: list[str],
        strategy: list[dict[str, Any]],
    ) -> list[dict[str, Any]]:
        """Every provider must exist and be ACTIVE; an ASG provider with managed scaling belongs to
        one cluster only; the strategy must use only these providers."""
        if len(set(providers)) != len(providers):
            raise invalid_parameter("The capacity providers list cannot contain duplicates.")
        found = provider_kinds(conn, ctx, providers)
        for name in providers:
            if name not in found:
                raise invalid_parameter(
                    f"The specified capacity provider '{name}' does not exist. "
                    "Specify a valid name or ARN and try again."
                )
            if managed_scaling_enabled(found[name]):
                others = [
                    c for c in repo.clusters_using_provider(conn, ctx.partition, name) if c != cluster_name
                ]
                if others:
                    raise invalid_parameter(
                        f"The specified capacity provider '{name}' is already in use by cluster {others[0]}. "
                        "A capacity provider with managed scaling can be associated with only one cluster."
                    )
        return check_strategy(strategy, associated=providers)

    def _active(self, conn: Connection, ctx: RequestContext, text: str | None) -> repo.ClusterRow:
        name = parse_named(text or DEFAULT_CLUSTER_NAME, "cluster", ctx.account_id, ctx.region)
        row = repo.get_cluster(conn, ctx.partition, name) if name else None
        if row is None or row.status != CLUSTER_ACTIVE:
            raise ClusterNotFound()
        return row

    @aws_errors
    async def create(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params.get("clusterName") or DEFAULT_CLUSTER_NAME
        if not NAME_RE.match(name):
            raise invalid_parameter(
                "Cluster name is invalid. Up to 255 letters (uppercase and lowercase), numbers, underscores, "
                "and hyphens are allowed."
            )
        settings = _check_settings(params.get("settings") or [])
        new_tags = check_tags(params.get("tags") or [])
        providers = list(params.get("capacityProviders") or [])
        strategy = list(params.get("defaultCapacityProviderStrategy") or [])
        now = self.clock.now()
        arn = cluster_arn(ctx.region, ctx.account_id, name)
        principal = caller_arn(ctx)

        def write(conn: Connection) -> Document:
            existing = repo.get_cluster(conn, ctx.partition, name)
            if existing is not None and existing.status == CLUSTER_ACTIVE:
                return _created_view(existing.document, repo.get_tags(conn, arn))  # idempotent, as AWS
            checked_strategy = self._check_providers(conn, ctx, name, providers, strategy)
            insights = effective_setting(conn, ctx.partition, principal, "containerInsights")["value"]
            document: Document = {
                "clusterArn": arn,
                "clusterName": name,
                "status": CLUSTER_ACTIVE,
                "registeredContainerInstancesCount": 0,
                "runningTasksCount": 0,
                "pendingTasksCount": 0,
                "activeServicesCount": 0,
                "settings": _merge_settings([{"name": "containerInsights", "value": insights}], settings),
                "capacityProviders": providers,
                "defaultCapacityProviderStrategy": checked_strategy,
            }
            if params.get("configuration") is not None:
                document["configuration"] = params["configuration"]
            if params.get("serviceConnectDefaults") is not None:
                document["serviceConnectDefaults"] = params["serviceConnectDefaults"]
            if providers:
                document["attachments"] = []
                document["attachmentsStatus"] = "UPDATE_COMPLETE"
            repo.put_cluster(conn, ctx.partition, name, CLUSTER_ACTIVE, document, now)
            repo.clear_tags(conn, arn)
            repo.put_tags(conn, arn, new_tags)
            return _created_view(document, new_tags)

        return {"cluster": await self.store.write(write)}

    @aws_errors
    async def describe(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        wanted = list(params.get("clusters") or [DEFAULT_CLUSTER_NAME])
        if len(wanted) > MAX_DESCRIBE:
            raise invalid_parameter(f"You can describe up to {MAX_DESCRIBE} clusters at a time.")
        include = list(params.get("include") or [])

        def read(conn: Connection) -> tuple[list[Document], list[dict[str, str]]]:
            found: list[Document] = []
            failures: list[dict[str, str]] = []
            for text in wanted:
                name = parse_named(text, "cluster", ctx.account_id, ctx.region)
                row = repo.get_cluster(conn, ctx.partition, name) if name else None
                if row is None:
                    arn = text if text.startswith("arn:") else cluster_arn(ctx.region, ctx.account_id, text)
                    failures.append({"arn": arn, "reason": "MISSING"})
                    continue
                tags = repo.get_tags(conn, row.document["clusterArn"]) if "TAGS" in include else []
                counts, statistics = cluster_counts(
                    task_repo.cluster_task_states(conn, ctx.partition, row.name),
                    service_repo.cluster_service_states(conn, ctx.partition, row.name),
                )
                shown = present({**row.document, **counts}, include, tags)
                if "STATISTICS" in include:
                    shown["statistics"] = statistics
                found.append(shown)
            return found, failures

        found, failures = await self.store.read(read)
        return {"clusters": found, "failures": failures}

    @aws_errors
    async def list(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        limit = paging.page_size(params.get("maxResults"), LIST_PAGE, LIST_PAGE)
        scope = "ListClusters"
        after: int | None = None
        if params.get("nextToken"):
            key = paging.decode_token(params["nextToken"], scope)
            if len(key) != 1 or not isinstance(key[0], int):
                raise invalid_parameter(paging.INVALID_TOKEN)
            after = key[0]
        rows = await self.store.read(lambda conn: repo.list_clusters(conn, ctx.partition, after, limit + 1))
        result: dict[str, Any] = {"clusterArns": [row.document["clusterArn"] for row in rows[:limit]]}
        if len(rows) > limit:
            result["nextToken"] = paging.encode_token(scope, [rows[limit - 1].seq])
        return result

    @aws_errors
    async def delete(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        def write(conn: Connection) -> Document:
            row = self._active(conn, ctx, params["cluster"])
            counts, _ = cluster_counts(
                task_repo.cluster_task_states(conn, ctx.partition, row.name),
                service_repo.cluster_service_states(conn, ctx.partition, row.name),
            )
            if counts["activeServicesCount"] or any(
                status == "DRAINING"
                for status, _ in service_repo.cluster_service_states(conn, ctx.partition, row.name)
            ):
                raise AwsError(
                    "ClusterContainsServicesException",
                    "The Cluster cannot be deleted while Services are active.",
                )
            if counts["runningTasksCount"] or counts["pendingTasksCount"]:
                raise AwsError(
                    "ClusterContainsTasksException", "The Cluster cannot be deleted while Tasks are active."
                )
            document = {**row.document, "status": CLUSTER_INACTIVE}
            repo.save_cluster(conn, ctx.partition, row.name, CLUSTER_INACTIVE, document)
            return _created_view(document, repo.get_tags(conn, document["clusterArn"]))

        return {"cluster": await self.store.write(write)}

    async def _change(self, ctx: RequestContext, cluster: str, change: Any) -> dict[str, Any]:
        """Apply ``change(conn, row) -> document`` to an ACTIVE cluster atomically."""

        def write(conn: Connection) -> Document:
            row = self._active(conn, ctx, cluster)
            document = change(conn, row)
            repo.save_cluster(conn, ctx.partition, row.name, CLUSTER_ACTIVE, document)
            return _created_view(document, repo.get_tags(conn, document["clusterArn"]))

        return {"cluster": await self.store.write(write)}

    @aws_errors
    async def update(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        settings = _check_settings(params.get("settings") or [])

        def change(conn: Connection, row: repo.ClusterRow) -> Document:
            document = dict(row.document)
            if settings:
                document["settings"] = _merge_settings(document.get("settings", []), settings)
            if params.get("configuration") is not None:
                document["configuration"] = params["configuration"]
            if params.get("serviceConnectDefaults") is not None:
                document["serviceConnectDefaults"] = params["serviceConnectDefaults"]
            return document

        return await self._change(ctx, params["cluster"], change)

    @aws_errors
    async def update_settings(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        settings = _check_settings(params.get("settings") or [])

        def change(conn: Connection, row: repo.ClusterRow) -> Document:
            return {**row.document, "settings": _merge_settings(row.document.get("settings", []), settings)}

        return await self._change(ctx, params["cluster"], change)

    @aws_errors
    async def put_capacity_providers(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        providers = list(params.get("capacityProviders") or [])
        strategy = list(params.get("defaultCapacityProviderStrategy") or [])

        def change(conn: Connection, row: repo.ClusterRow) -> Document:
            checked = self._check_providers(conn, ctx, row.name, providers, strategy)
            return {
                **row.document,
                "capacityProviders": providers,
                "defaultCapacityProviderStrategy": checked,
                "attachments": row.document.get("attachments", []),
                "attachmentsStatus": "UPDATE_COMPLETE",
            }

        return await self._change(ctx, params["cluster"], change)
