"""Metric alarms living through time: the alarm handlers, the evaluator and the action deliverer on a
Store in a temp SQLite file, a FakeClock and a fake metric reader. An alarm goes OK → ALARM → OK on
the data; each change leaves its history item, its pending actions and its EventBridge event; the
actions are carried out (SNS publish, scaling events, refusals), retried and given up."""

from __future__ import annotations

import asyncio
import copy
import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from ecsbox.aws.context import RequestContext
from ecsbox.aws.errors import AwsError
from ecsbox.core.clock import FakeClock
from ecsbox.metrics.alarm_actions import AlarmActions
from ecsbox.metrics.alarm_describe import alarm_states
from ecsbox.metrics.alarm_evaluator import AlarmEvaluator
from ecsbox.metrics.alarm_ops import alarm_operations
from ecsbox.metrics.model import Bucket, MetricId, Partition
from ecsbox.store import Store
from ecsbox.store.schema import metric_alarm_actions, outbox

ACCOUNT, REGION = "123456789012", "us-east-1"
PARTITION = (ACCOUNT, REGION)
START = 1_700_000_000.0 - (1_700_000_000.0 % 60)  # a whole minute
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:ops"
POLICY = f"arn:aws:autoscaling:{REGION}:{ACCOUNT}:scalingPolicy:6d8a:resource/ecs/service/prod/web:policyName/cpu-up"
LAMBDA = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:pager"
METRIC = MetricId.of("AWS/ECS", "CPUUtilization", {"ClusterName": "prod", "ServiceName": "web"})


class FakeReader:
    """The MetricReader port over a list of samples: periods counted from ``start``."""

    def __init__(self) -> None:
        self.samples: dict[tuple[Partition, MetricId], list[tuple[float, float]]] = defaultdict(list)
        self.calls: list[tuple[float, float, int]] = []

    def put(self, timestamp: float, value: float, metric: MetricId = METRIC) -> None:
        self.samples[(PARTITION, metric)].append((timestamp, value))

    async def buckets(
        self,
        partition: Partition,
        metric: MetricId,
        period: int,
        start: float,
        end: float,
        unit: str | None = None,
    ) -> list[Bucket]:
        self.calls.append((start, end, period))
        periods: dict[int, list[float]] = defaultdict(list)
        for timestamp, value in self.samples[(partition, metric)]:
            if start <= timestamp < end:
                periods[int((timestamp - start) // period)].append(value)
        return [
            Bucket(
                start + k * period,
                float(len(values)),
                sum(values),
                min(values),
                max(values),
                "Percent",
                tuple((v, 1.0) for v in values),
            )
            for k, values in sorted(periods.items())
        ]


class FakeSns:
    def __init__(self) -> None:
        self.published: list[tuple[Partition, str, str, dict[str, Any]]] = []
        self.failures = 0

    async def publish(self, partition: Partition, topic_arn: str, subject: str, message: str) -> None:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("Topic does not exist")
        self.published.append((partition, topic_arn, subject, json.loads(message)))


class World:
    def __init__(self, root: Path, runner: asyncio.Runner) -> None:
        self.runner = runner
        self.store = Store(f"sqlite:///{root / 'ecsbox.db'}")
        self.store.open()
        self.clock = FakeClock(START)
        self.reader = FakeReader()
        self.sns = FakeSns()
        self.changes: list[tuple[Partition, str, str, str]] = []
        self.handlers = alarm_operations(self.store, self.clock)
        self.evaluator = AlarmEvaluator(self.store, self.clock, self.reader, self.on_change)
        self.actions = AlarmActions(self.store, self.clock, self.sns.publish)

    async def on_change(self, partition: Partition, name: str, old: str, new: str) -> None:
        self.changes.append((partition, name, old, new))

    def __call__(self, operation: str, **params: Any) -> dict[str, Any]:
        ctx = RequestContext(ACCOUNT, REGION, "cloudwatch", operation, "req-1")

        async def call() -> dict[str, Any]:
            return await self.handlers[operation](ctx, copy.deepcopy(params))

        return self.runner.run(call())

    def fails(self, operation: str, **params: Any) -> AwsError:
        with pytest.raises(AwsError) as caught:
            self(operation, **params)
        return caught.value

    def put_alarm(self, name: str = "cpu-high", **changes: Any) -> None:
        params: dict[str, Any] = {
            "AlarmName": name,
            "Namespace": METRIC.namespace,
            "MetricName": METRIC.name,
            "Dimensions": [{"Name": "ClusterName", "Value": "prod"}, {"Name": "ServiceName", "Value": "web"}],
            "Statistic": "Average",
            "Period": 60,
            "EvaluationPeriods": 3,
            "DatapointsToAlarm": 2,
            "Threshold": 70.0,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "AlarmActions": [TOPIC],
            "OKActions": [TOPIC],
        }
        params.update(changes)
        self("PutMetricAlarm", **params)

    def minute(self, value: float | None) -> int:
        """One minute passes with one sample of ``value`` in it; then the evaluator runs."""
        if value is not None:
            self.reader.put(self.clock.now() + 30.0, value)
        self.clock.advance(60.0)
        return int(self.runner.run(self.evaluator.evaluate_once(self.clock.now())))

    def alarm(self, name: str = "cpu-high") -> dict[str, Any]:
        return dict(self("DescribeAlarms", AlarmNames=[name])["MetricAlarms"][0])

    def history(self, name: str = "cpu-high", **params: Any) -> list[dict[str, Any]]:
        return list(self("DescribeAlarmHistory", AlarmName=name, **params)["AlarmHistoryItems"])

    def pending(self) -> list[Any]:
        return self.store.read_now(lambda conn: list(conn.execute(select(metric_alarm_actions))))

    def events(self) -> list[Any]:
        return self.store.read_now(lambda conn: list(conn.execute(select(outbox).order_by(outbox.c.seq))))

    def deliver(self) -> int:
        return int(self.runner.run(self.actions.deliver_once()))


@pytest.fixture()
def world(tmp_path: Path) -> Iterator[World]:
    with asyncio.Runner() as runner:
        w = World(tmp_path, runner)
        try:
            yield w
        finally:
            w.store.close()


def test_an_alarm_goes_ok_alarm_ok_and_tells_everyone(world: World) -> None:
    world.put_alarm()
    assert world.alarm()["StateValue"] == "INSUFFICIENT_DATA"
    assert world.alarm()["StateReason"] == "Unchecked: Initial alarm creation"
    assert [h["HistorySummary"] for h in world.history()] == ['Alarm "cpu-high" created']

    assert world.minute(40.0) == 1  # one real datapoint, not breaching: OK
    alarm = world.alarm()
    assert alarm["StateValue"] == "OK"
    assert alarm["StateReason"].startswith("Threshold Crossed: 1 out of the last 3 datapoints [40.0 (")
    assert json.loads(alarm["StateReasonData"])["recentDatapoints"] == [40.0]
    assert world.changes == [(PARTITION, "cpu-high", "INSUFFICIENT_DATA", "OK")]

    assert world.minute(90.0) == 0  # 1 of 3 breaching: still OK, no new history
    assert world.minute(95.0) == 1  # 2 of 3 breaching (M = 2): ALARM
    alarm = world.alarm()
    assert alarm["StateValue"] == "ALARM"
    assert alarm["StateReason"].endswith(
        "were greater than or equal to the threshold (70.0) (minimum 2 datapoints for OK -> ALARM transition)."
    )
    assert world.minute(99.0) == 0
    assert world.minute(10.0) == 0  # 2 of the last 3 still breach
    assert world.minute(10.0) == 1  # now only 1: OK again
    assert [c[2:] for c in world.changes] == [("INSUFFICIENT_DATA", "OK"), ("OK", "ALARM"), ("ALARM", "OK")]

    summaries = [h["HistorySummary"] for h in world.history(ScanBy="TimestampAscending")]
    assert summaries == [
        'Alarm "cpu-high" created',
        "Alarm updated from INSUFFICIENT_DATA to OK",
        "Alarm updated from OK to ALARM",
        "Alarm updated from ALARM to OK",
    ]
    to_alarm = json.loads(world.history(HistoryItemType="StateUpdate")[1]["HistoryData"])
    assert to_alarm["oldState"]["stateValue"] == "OK" and to_alarm["newState"]["stateValue"] == "ALARM"
    assert to_alarm["newState"]["stateReasonData"]["threshold"] == 70.0

    # One pending row per transition into a state with actions (OK twice, ALARM once).
    rows = world.pending()
    assert [(r.action_arn, json.loads(r.message)["NewStateValue"]) for r in rows] == [
        (TOPIC, "OK"),
        (TOPIC, "ALARM"),
        (TOPIC, "OK"),
    ]
    events = world.events()
    assert [e.detail_type for e in events] == ["CloudWatch Alarm State Change"] * 3
    detail = json.loads(events[1].detail)
    assert (detail["previousState"]["value"], detail["state"]["value"]) == ("OK", "ALARM")
    assert json.loads(events[1].resources) == [f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:cpu-high"]
    assert events[1].source == "aws.cloudwatch"

    # The deliverer publishes each notification, records it, and empties the table.
    assert world.deliver() == 3
    assert world.pending() == []
    subjects = [p[2] for p in world.sns.published]
    assert subjects == [
        'OK: "cpu-high" in US East (N. Virginia)',
        'ALARM: "cpu-high" in US East (N. Virginia)',
        'OK: "cpu-high" in US East (N. Virginia)',
    ]
    message = world.sns.published[1][3]
    assert (message["OldStateValue"], message["NewStateValue"], message["Region"]) == (
        "OK",
        "ALARM",
        "US East (N. Virginia)",
    )
    assert message["Trigger"]["Statistic"] == "AVERAGE" and message["Trigger"]["Threshold"] == 70.0
    actions = world.history(HistoryItemType="Action")
    assert [a["HistorySummary"] for a in actions] == [f"Successfully executed action {TOPIC}"] * 3
    data = json.loads(actions[0]["HistoryData"])
    assert (
        data["actionState"] == "Succeeded" and json.loads(data["publishedMessage"])["NewStateValue"] == "OK"
    )


def test_alarms_are_evaluated_once_a_minute_on_ecsbox_time(world: World) -> None:
    world.put_alarm()
    world.runner.run(world.evaluator.evaluate_once(world.clock.now()))
    assert len(world.reader.calls) == 1  # due at once after creation
    world.clock.advance(30.0)
    world.runner.run(world.evaluator.evaluate_once(world.clock.now()))
    assert len(world.reader.calls) == 1  # same minute: not due
    world.clock.advance(30.0)
    world.runner.run(world.evaluator.evaluate_once(world.clock.now()))
    assert len(world.reader.calls) == 2
    start, end, period = world.reader.calls[-1]
    assert (end, period, end - start) == (world.clock.now(), 60, 5 * 60)  # N + 2 whole minutes
    world.put_alarm(Threshold=80.0)  # reconfigured: due again at once
    world.runner.run(world.evaluator.evaluate_once(world.clock.now()))
    assert len(world.reader.calls) == 3


def test_high_resolution_alarms_are_evaluated_every_ten_seconds(world: World) -> None:
    world.put_alarm("fast", Period=10, EvaluationPeriods=1, DatapointsToAlarm=1)
    for _ in range(6):
        world.runner.run(world.evaluator.evaluate_once(world.clock.now()))
        world.clock.advance(10.0)
    assert len(world.reader.calls) == 6
    assert world.evaluator.pause_s(START + 3.0) == 7.0


def test_set_alarm_state_holds_until_the_next_evaluation(world: World) -> None:
    world.put_alarm()
    world.minute(10.0)
    assert world.alarm()["StateValue"] == "OK"
    world(
        "SetAlarmState",
        AlarmName="cpu-high",
        StateValue="ALARM",
        StateReason="drill",
        StateReasonData='{"a":1}',
    )
    alarm = world.alarm()
    assert (alarm["StateValue"], alarm["StateReason"], alarm["StateReasonData"]) == (
        "ALARM",
        "drill",
        '{"a":1}',
    )
    assert (
        world.history(HistoryItemType="StateUpdate")[0]["HistorySummary"] == "Alarm updated from OK to ALARM"
    )
    world.minute(10.0)  # the data says OK
    assert world.alarm()["StateValue"] == "OK"
    assert [c[2:] for c in world.changes] == [("INSUFFICIENT_DATA", "OK"), ("ALARM", "OK")]
    # Setting the state it already has changes nothing but the reason: no history, no action.
    before = len(world.pending())
    world("SetAlarmState", AlarmName="cpu-high", StateValue="OK", StateReason="again")
    assert world.alarm()["StateReason"] == "again" and len(world.pending()) == before
    assert (
        world.fails("SetAlarmState", AlarmName="nope", StateValue="OK", StateReason="x").code
        == "ResourceNotFound"
    )
    bad = world.fails(
        "SetAlarmState", AlarmName="cpu-high", StateValue="OK", StateReason="x", StateReasonData="{"
    )
    assert bad.code == "InvalidFormat"


def test_disabled_actions_leave_no_rows_but_events_still_flow(world: World) -> None:
    world.put_alarm(ActionsEnabled=False)
    world.minute(99.0)  # 1 breaching datapoint of the 2 needed, the rest missing: no data yet
    assert world.alarm()["StateValue"] == "INSUFFICIENT_DATA"
    world.minute(99.0)
    assert world.alarm()["StateValue"] == "ALARM" and world.alarm()["ActionsEnabled"] is False
    assert world.pending() == []
    assert [e.detail_type for e in world.events()] == ["CloudWatch Alarm State Change"]
    world("EnableAlarmActions", AlarmNames=["cpu-high", "no-such-alarm"])
    assert world.alarm()["ActionsEnabled"] is True
    world("SetAlarmState", AlarmName="cpu-high", StateValue="OK", StateReason="manual")
    assert len(world.pending()) == 1
    world("DisableAlarmActions", AlarmNames=["cpu-high"])
    assert [h["HistorySummary"] for h in world.history(HistoryItemType="ConfigurationUpdate")][:2] == [
        'Alarm "cpu-high" updated',
        'Alarm "cpu-high" updated',
    ]


def test_scaling_policies_are_invoked_on_every_evaluation_while_in_alarm(world: World) -> None:
    world.put_alarm(AlarmActions=[POLICY, TOPIC], OKActions=[], DatapointsToAlarm=1, EvaluationPeriods=1)
    world.minute(90.0)
    assert world.alarm()["StateValue"] == "ALARM"
    assert sorted(r.action_arn for r in world.pending()) == sorted([POLICY, TOPIC])
    world.minute(95.0)  # still ALARM: the policy again (not doubled while one is pending), no notification
    assert sorted(r.action_arn for r in world.pending()) == sorted([POLICY, TOPIC])
    assert world.deliver() == 2
    world.minute(97.0)
    rows = world.pending()
    assert [r.action_arn for r in rows] == [POLICY]
    assert json.loads(rows[0].message)["Repeat"] is True
    assert world.deliver() == 1
    scaling = [e for e in world.events() if e.detail_type == "CloudWatch Alarm Action"]
    assert len(scaling) == 2
    first, second = (json.loads(e.detail) for e in scaling)
    assert first["policyArn"] == POLICY and first["repeat"] is False and second["repeat"] is True
    assert json.loads(second["state"]["reasonData"])["recentDatapoints"] == [97.0]
    assert json.loads(scaling[0].resources) == [
        POLICY,
        f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:cpu-high",
    ]
    assert len(world.sns.published) == 1
    world.minute(10.0)
    assert world.alarm()["StateValue"] == "OK" and world.pending() == []  # no OK actions


def test_failed_publishes_are_retried_with_back_off_then_given_up(world: World) -> None:
    world.put_alarm(EvaluationPeriods=1, DatapointsToAlarm=1)
    world.minute(99.0)
    world.sns.failures = 1
    assert world.deliver() == 0  # failed once, retried after a second
    assert world.pending()[0].attempts == 1
    assert world.deliver() == 0 and world.sns.published == []  # not due yet
    world.clock.advance(1.0)
    assert world.deliver() == 1 and len(world.sns.published) == 1
    assert world.pending() == []

    world("SetAlarmState", AlarmName="cpu-high", StateValue="OK", StateReason="manual")
    world.sns.failures = 10
    for wait in (0.0, 1.0, 5.0, 30.0):
        world.clock.advance(wait)
        world.deliver()
    assert world.pending() == []
    failed = world.history(HistoryItemType="Action")[0]
    assert (
        failed["HistorySummary"]
        == f'Failed to execute action {TOPIC}. Received error: "Topic does not exist"'
    )
    assert json.loads(failed["HistoryData"])["actionState"] == "Failed"


def test_actions_ecsbox_does_not_carry_out_are_recorded_as_failed(world: World) -> None:
    world.put_alarm(AlarmActions=[LAMBDA], EvaluationPeriods=1, DatapointsToAlarm=1)
    world.minute(99.0)
    assert world.deliver() == 1
    item = world.history(HistoryItemType="Action")[0]
    assert item["HistorySummary"] == (
        f'Failed to execute action {LAMBDA}. Received error: "ecsbox does not carry out lambda alarm actions"'
    )


def test_missing_data_after_a_breach_and_the_evaluation_range(world: World) -> None:
    world.put_alarm(EvaluationPeriods=3, DatapointsToAlarm=3)
    for _ in range(3):
        world.minute(99.0)
    assert world.alarm()["StateValue"] == "ALARM"
    for _ in range(4):  # the metric stops: the alarm keeps the last data in view (range of 5)
        world.minute(None)
        assert world.alarm()["StateValue"] == "ALARM"
    world.minute(None)  # nothing left in the range
    alarm = world.alarm()
    assert alarm["StateValue"] == "INSUFFICIENT_DATA"
    assert alarm["StateReason"] == "Insufficient Data: 3 datapoints were unknown."


def test_an_alarm_deleted_between_reading_and_writing_is_left_alone(world: World) -> None:
    world.put_alarm(EvaluationPeriods=1, DatapointsToAlarm=1)
    world.reader.put(world.clock.now() - 30.0, 99.0)

    async def race() -> int:
        original = world.reader.buckets

        async def buckets(*args: Any, **kwargs: Any) -> list[Bucket]:
            await world.handlers["DeleteAlarms"](
                RequestContext(ACCOUNT, REGION, "cloudwatch", "DeleteAlarms", "r"),
                {"AlarmNames": ["cpu-high"]},
            )
            return await original(*args, **kwargs)

        world.reader.buckets = buckets  # type: ignore[method-assign]
        return await world.evaluator.evaluate_once(world.clock.now())

    assert world.runner.run(race()) == 0
    assert world("DescribeAlarms")["MetricAlarms"] == []
    assert world.pending() == [] and world.events() == []
    assert world.history()[0]["HistorySummary"] == 'Alarm "cpu-high" deleted'  # history outlives the alarm


def test_history_is_kept_two_weeks(world: World) -> None:
    world.put_alarm()
    world.clock.advance(14 * 86_400.0 + 1)
    world.put_alarm(Threshold=1.0)
    assert world.runner.run(world.evaluator.prune_history(world.clock.now())) == 1
    assert [h["HistorySummary"] for h in world.history()] == ['Alarm "cpu-high" updated']


def test_other_capabilities_read_alarm_states(world: World) -> None:
    world.put_alarm("a", Period=300, EvaluationPeriods=2, DatapointsToAlarm=1)
    world.put_alarm("b")
    world("SetAlarmState", AlarmName="b", StateValue="ALARM", StateReason="drill")
    states = world.runner.run(alarm_states(world.store, PARTITION, ["a", "b", "missing", "a"]))
    assert states == {"a": ("INSUFFICIENT_DATA", 600.0), "b": ("ALARM", 180.0)}
    assert world.runner.run(alarm_states(world.store, ("999999999999", REGION), ["a"])) == {}


def test_name_prefixes_are_taken_literally(world: World) -> None:
    for name in ("50%_errors", "500_errors", "5xx"):
        world.put_alarm(name)
    found = world("DescribeAlarms", AlarmNamePrefix="50%_")["MetricAlarms"]
    assert [a["AlarmName"] for a in found] == ["50%_errors"]


def test_actions_pending_when_ecsbox_stops_are_carried_out_after_it_starts_again(world: World) -> None:
    world.put_alarm()
    for value in (90.0, 95.0):
        world.minute(value)
    assert world.alarm()["StateValue"] == "ALARM"
    assert len(world.pending()) == 1  # the notification is written, not yet sent: ecsbox stops here
    world.store.close()

    again = Store(world.store.url)
    again.open()
    try:
        sns = FakeSns()
        actions = AlarmActions(again, world.clock, sns.publish)
        assert world.runner.run(actions.deliver_once()) == 1
        ((partition, topic, subject, message),) = sns.published
        assert (partition, topic, message["NewStateValue"]) == (PARTITION, TOPIC, "ALARM")
        assert subject == 'ALARM: "cpu-high" in US East (N. Virginia)'
        assert again.read_now(lambda conn: list(conn.execute(select(metric_alarm_actions)))) == []
    finally:
        again.close()
        world.store = Store(world.store.url)  # the fixture closes what it finds
        world.store.open()
