"""Deployment alarms in a scheduler tick: the service record's side of
:mod:`ecsbox.ecs.deployment_alarms`. Called inside the tick's transaction with the alarm readings
taken before it; each deployment's watch is kept in the service's scheduler state
(``scheduler["deployments"][id]["alarms"]``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from functools import partial
from typing import Any

from ecsbox.ecs import deployment_alarms
from ecsbox.ecs.deployment import Plan
from ecsbox.ecs.deployment_alarms import MONITORING, TRIGGERED, AlarmReading, AlarmsConfig, AlarmWatch
from ecsbox.ecs.service_repo import ServiceRecord
from ecsbox.ecs.services import apply_trip

Partition = tuple[str, str]


def config_of(record: ServiceRecord) -> AlarmsConfig:
    return AlarmsConfig.from_api((record.document.get("deploymentConfiguration") or {}).get("alarms"))


def _primary(record: ServiceRecord) -> dict[str, Any] | None:
    return next((d for d in record.document["deployments"] if d["status"] == "PRIMARY"), None)


def watch_of(record: ServiceRecord, deployment_id: str) -> AlarmWatch:
    saved = record.scheduler.setdefault("deployments", {}).setdefault(deployment_id, {}).get("alarms")
    return (
        AlarmWatch(**{**saved, "ignored": tuple(saved["ignored"]), "triggered": tuple(saved["triggered"])})
        if saved
        else AlarmWatch()
    )


def _save(record: ServiceRecord, deployment_id: str, watch: AlarmWatch) -> None:
    record.scheduler.setdefault("deployments", {}).setdefault(deployment_id, {})["alarms"] = asdict(watch)


def alarm_need(record: ServiceRecord | None) -> tuple[Partition, tuple[str, ...]] | None:
    """Whose alarms the service's next tick must read: its partition and alarm names while its
    primary deployment is IN_PROGRESS (rolling out or baking) under enabled alarms; else None."""
    if record is None or record.status == "INACTIVE":
        return None
    config = config_of(record)
    primary = _primary(record)
    if not config.watching or primary is None or primary["rolloutState"] != "IN_PROGRESS":
        return None
    saved = record.scheduler.get("deployments", {}).get(primary["id"], {}).get("alarms")
    if saved and saved.get("status") != MONITORING:
        return None
    return record.partition, config.alarm_names


def handle_alarms(
    record: ServiceRecord, readings: Mapping[str, AlarmReading] | None, now: float, messages: list[str]
) -> None:
    """Feed this tick's readings to the primary deployment's watch; a tripped watch fails the
    deployment and, with rollback, starts one back to the last COMPLETED deployment."""
    config = config_of(record)
    if not config.watching:
        return
    deployment = _primary(record)
    if deployment is None or deployment["rolloutState"] != "IN_PROGRESS":
        return
    watch = watch_of(record, deployment["id"])
    if readings is not None:
        watch = deployment_alarms.observe(watch, config, readings)
    _save(record, deployment["id"], watch)
    if watch.status != TRIGGERED:
        return
    apply_trip(
        record, deployment, partial(deployment_alarms.on_trip, record.name, config, watch), now, messages
    )


def bake(
    record: ServiceRecord, decision: Plan, readings: Mapping[str, AlarmReading] | None, now: float
) -> Plan:
    """Hold a watched rollout IN_PROGRESS through its bake time (:func:`deployment_alarms.hold_for_bake`)."""
    config = config_of(record)
    primary = _primary(record)
    if not config.watching or primary is None or primary["rolloutState"] != "IN_PROGRESS":
        return decision
    bake_s = deployment_alarms.bake_time_s(config, readings) if readings is not None else None
    watch = watch_of(record, primary["id"])
    decision, watch = deployment_alarms.hold_for_bake(
        decision, record.name, primary["id"], watch, bake_s, now
    )
    _save(record, primary["id"], watch)
    return decision
