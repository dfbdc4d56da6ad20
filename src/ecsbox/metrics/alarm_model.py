"""What a CloudWatch metric alarm is made of: its states, its configuration (as PutMetricAlarm gave
it), the comparison it makes and the kinds of action it names. Pure.

>>> config = AlarmConfig.from_document("cpu-high", {
...     "Namespace": "AWS/ECS", "MetricName": "CPUUtilization", "Statistic": "Average",
...     "Dimensions": [{"Name": "ClusterName", "Value": "prod"}], "Period": 60,
...     "EvaluationPeriods": 3, "DatapointsToAlarm": 2, "Threshold": 70.0,
...     "ComparisonOperator": "GreaterThanOrEqualToThreshold"})
>>> (config.datapoints_to_alarm, config.treatment, config.breaches(70.0), config.breaches(69.9))
(2, 'missing', True, False)
>>> alarm_arn(("123456789012", "eu-west-1"), "cpu-high")
'arn:aws:cloudwatch:eu-west-1:123456789012:alarm:cpu-high'
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ecsbox.metrics.model import MetricId, Partition

OK, ALARM, INSUFFICIENT_DATA = "OK", "ALARM", "INSUFFICIENT_DATA"
STATES = (OK, ALARM, INSUFFICIENT_DATA)
METRIC_ALARM = "MetricAlarm"

# TreatMissingData values; ``missing`` is the default.
TREAT_MISSING, TREAT_IGNORE = "missing", "ignore"
TREAT_BREACHING, TREAT_NOT_BREACHING = "breaching", "notBreaching"
TREATMENTS = (TREAT_BREACHING, TREAT_NOT_BREACHING, TREAT_IGNORE, TREAT_MISSING)
# EvaluateLowSampleCountPercentile values; ``evaluate`` is the default.
LOW_SAMPLE_EVALUATE, LOW_SAMPLE_IGNORE = "evaluate", "ignore"
LOW_SAMPLE_OPTIONS = (LOW_SAMPLE_EVALUATE, LOW_SAMPLE_IGNORE)

INITIAL_REASON = "Unchecked: Initial alarm creation"

# The four static-threshold comparisons: how AWS words each in a state reason, and the test.
COMPARISONS: dict[str, tuple[str, Callable[[float, float], bool]]] = {
    "GreaterThanOrEqualToThreshold": ("greater than or equal to", operator.ge),
    "GreaterThanThreshold": ("greater than", operator.gt),
    "LessThanThreshold": ("less than", operator.lt),
    "LessThanOrEqualToThreshold": ("less than or equal to", operator.le),
}
# Operators of alarms on anomaly-detection bands (they need ThresholdMetricId).
BAND_OPERATORS = (
    "LessThanLowerOrGreaterThanUpperThreshold",
    "LessThanLowerThreshold",
    "GreaterThanUpperThreshold",
)

# Metrics of this namespace always keep the alarm's state when data is missing, whatever the alarm
# says (PutMetricAlarm's TreatMissingData documentation).
IGNORES_MISSING_DATA = "AWS/DynamoDB"


def alarm_arn(partition: Partition, name: str) -> str:
    return f"arn:aws:cloudwatch:{partition[1]}:{partition[0]}:alarm:{name}"


def alarm_name_of(arn: str) -> tuple[Partition, str] | None:
    """The partition and name an alarm ARN names, None when it is no alarm ARN.

    >>> alarm_name_of("arn:aws:cloudwatch:us-east-1:123456789012:alarm:a:b")
    (('123456789012', 'us-east-1'), 'a:b')
    >>> alarm_name_of("arn:aws:cloudwatch:us-east-1:123456789012:insight-rule/x") is None
    True
    """
    parts = arn.split(":", 6)
    if len(parts) != 7 or parts[0] != "arn" or parts[2] != "cloudwatch" or parts[5] != "alarm":
        return None
    if not parts[6] or not parts[3] or not parts[4]:
        return None
    return (parts[4], parts[3]), parts[6]


def wording(comparison: str) -> str:
    """``wording("GreaterThanThreshold")`` → ``greater than``."""
    return COMPARISONS[comparison][0]


def crosses(comparison: str, value: float, threshold: float) -> bool:
    """Whether ``value`` breaches ``threshold`` under a static comparison.

    >>> [crosses(c, 5.0, 5.0) for c in COMPARISONS]
    [True, False, False, True]
    """
    return COMPARISONS[comparison][1](value, threshold)


@dataclass(frozen=True)
class AlarmConfig:
    """The part of an alarm's configuration that evaluation uses."""

    name: str
    metric: MetricId
    statistic: str  # "Average", ... or an extended statistic such as "p99"
    extended: bool  # given as ExtendedStatistic
    period: int
    evaluation_periods: int
    datapoints_given: int | None  # DatapointsToAlarm as given (None: omitted)
    threshold: float
    comparison: str
    treat_missing_data: str | None  # as given
    low_sample_count: str | None  # EvaluateLowSampleCountPercentile as given
    unit: str | None

    @staticmethod
    def from_document(name: str, document: Mapping[str, Any]) -> AlarmConfig:
        dimensions = [(d["Name"], d["Value"]) for d in document.get("Dimensions") or ()]
        extended = document.get("ExtendedStatistic")
        datapoints = document.get("DatapointsToAlarm")
        return AlarmConfig(
            name=name,
            metric=MetricId.of(document["Namespace"], document["MetricName"], dimensions),
            statistic=str(extended if extended is not None else document["Statistic"]),
            extended=extended is not None,
            period=int(document["Period"]),
            evaluation_periods=int(document["EvaluationPeriods"]),
            datapoints_given=int(datapoints) if datapoints is not None else None,
            threshold=float(document["Threshold"]),
            comparison=str(document["ComparisonOperator"]),
            treat_missing_data=document.get("TreatMissingData"),
            low_sample_count=document.get("EvaluateLowSampleCountPercentile"),
            unit=document.get("Unit"),
        )

    @property
    def datapoints_to_alarm(self) -> int:
        """M of "M out of N": DatapointsToAlarm, or EvaluationPeriods when it was omitted."""
        return self.datapoints_given if self.datapoints_given is not None else self.evaluation_periods

    @property
    def treatment(self) -> str:
        """How missing data is treated: as given (``missing`` by default), except that alarms on
        ``AWS/DynamoDB`` metrics always ignore missing data."""
        if self.metric.namespace == IGNORES_MISSING_DATA:
            return TREAT_IGNORE
        return self.treat_missing_data or TREAT_MISSING

    def breaches(self, value: float) -> bool:
        return crosses(self.comparison, value, self.threshold)


# ---- actions --------------------------------------------------------------------------------------

SNS, SCALING, UNSUPPORTED = "sns", "scaling", "unsupported"


def action_kind(arn: str) -> str:
    """What carrying out an action ARN means to ecsbox: publishing to an SNS topic, invoking a
    scaling policy (Application Auto Scaling or EC2 Auto Scaling), or something ecsbox does not do.

    >>> [action_kind(a) for a in (
    ...     "arn:aws:sns:us-east-1:123456789012:ops",
    ...     "arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:1b2c:resource/ecs/service/c/web:policyName/up",
    ...     "arn:aws:automate:us-east-1:ec2:stop")]
    ['sns', 'scaling', 'unsupported']
    """
    parts = arn.split(":", 6)
    if len(parts) >= 6 and parts[2] == "sns":
        return SNS
    if len(parts) >= 6 and parts[2] == "autoscaling" and parts[5] == "scalingPolicy":
        return SCALING
    return UNSUPPORTED


def actions_for(document: Mapping[str, Any], state: str) -> list[str]:
    """The action ARNs an alarm names for ``state``."""
    key = {OK: "OKActions", ALARM: "AlarmActions", INSUFFICIENT_DATA: "InsufficientDataActions"}[state]
    return [str(arn) for arn in document.get(key) or ()]


# ---- a stored alarm -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StateInfo:
    """An alarm's state at one moment: value, reason, reason data (JSON text) and since when."""

    value: str
    reason: str
    reason_data: str | None
    timestamp: float


@dataclass(frozen=True)
class AlarmRecord:
    """One stored metric alarm: its configuration document (as PutMetricAlarm gave it, checked) and
    the state evaluation keeps. Times on ecsbox's clock, epoch seconds."""

    partition: Partition
    name: str
    document: dict[str, Any]
    actions_enabled: bool
    configuration_updated: float
    state_value: str
    state_reason: str
    state_reason_data: str | None
    state_updated: float
    state_transitioned: float
    evaluated: float | None = None

    @property
    def arn(self) -> str:
        return alarm_arn(self.partition, self.name)

    @property
    def config(self) -> AlarmConfig:
        return AlarmConfig.from_document(self.name, self.document)

    @property
    def state(self) -> StateInfo:
        return StateInfo(self.state_value, self.state_reason, self.state_reason_data, self.state_updated)
