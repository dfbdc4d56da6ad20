"""HTTP/S delivery policies: what a topic's and a subscription's ``DeliveryPolicy`` may say, the
effective policy of a subscription, and the retry schedule it makes. Pure.

A policy has four phases (AWS's "Amazon SNS message delivery retries"): immediate retries with no
delay, pre-backoff retries ``minDelayTarget`` apart, backoff retries whose delay grows from
``minDelayTarget`` to ``maxDelayTarget`` by ``backoffFunction``, post-backoff retries
``maxDelayTarget`` apart; ``numRetries`` counts them all. AWS's default for HTTP/S: 3 retries,
20 seconds apart.

>>> retry_delays(DEFAULT_RETRY_POLICY)
[20.0, 20.0, 20.0]
>>> retry_delays(RetryPolicy(min_delay=1, max_delay=8, retries=5, no_delay=1, min_delay_retries=1,
...                          max_delay_retries=0, backoff="exponential"))
[0.0, 1.0, 2.0, 4.0, 8.0]
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ecsbox.notify.model import NotifyRuleError, invalid_parameter, load_json

BACKOFF_FUNCTIONS = ("arithmetic", "exponential", "geometric", "linear")
MAX_DELAY_S = 3600  # maxDelayTarget, and the sum of every retry's delay ("a hard limit")
MAX_RETRIES = 100
DEFAULT_CONTENT_TYPE = "text/plain; charset=UTF-8"
# headerContentType values AWS lists for HTTP/S deliveries (each may carry "; charset=...").
CONTENT_TYPES = (
    "application/json",
    "application/xml",
    "text/html",
    "text/plain",
    "text/xml",
    "application/x-www-form-urlencoded",
)


@dataclass(frozen=True)
class RetryPolicy:
    min_delay: int
    max_delay: int
    retries: int
    no_delay: int
    min_delay_retries: int
    max_delay_retries: int
    backoff: str

    def document(self) -> dict[str, Any]:
        """The JSON object, in the order AWS writes it."""
        return {
            "minDelayTarget": self.min_delay,
            "maxDelayTarget": self.max_delay,
            "numRetries": self.retries,
            "numMaxDelayRetries": self.max_delay_retries,
            "numNoDelayRetries": self.no_delay,
            "numMinDelayRetries": self.min_delay_retries,
            "backoffFunction": self.backoff,
        }


DEFAULT_RETRY_POLICY = RetryPolicy(20, 20, 3, 0, 0, 0, "linear")
# SMTP (email, email-json) deliveries: AWS's fixed policy for customer managed endpoints.
EMAIL_RETRY_POLICY = RetryPolicy(10, 600, 50, 0, 2, 38, "exponential")


@dataclass(frozen=True)
class HttpPolicy:
    """What governs one HTTP/S delivery: retries, the throttle (None: none) and the content type."""

    retry: RetryPolicy
    max_receives_per_second: int | None
    content_type: str


@dataclass(frozen=True)
class TopicPolicy:
    """A topic's ``http`` policy: defaults for its subscriptions, which they may override unless
    ``disable_overrides``."""

    retry: RetryPolicy | None
    max_receives_per_second: int | None
    content_type: str | None
    disable_overrides: bool


@dataclass(frozen=True)
class SubscriptionPolicy:
    retry: RetryPolicy | None
    max_receives_per_second: int | None
    content_type: str | None


# ---- the retry schedule ------------------------------------------------------------------------


def backoff_delay(policy: RetryPolicy, step: int, steps: int) -> float:
    """The delay before backoff retry ``step`` of ``steps`` (1-based), from min to max delay.

    >>> [backoff_delay(RetryPolicy(10, 40, 3, 0, 0, 0, "linear"), i, 3) for i in (1, 2, 3)]
    [20.0, 30.0, 40.0]
    >>> [backoff_delay(RetryPolicy(10, 40, 3, 0, 0, 0, "geometric"), i, 3) for i in (1, 2, 3)]
    [15.874, 25.198, 40.0]
    >>> [backoff_delay(RetryPolicy(10, 40, 3, 0, 0, 0, "arithmetic"), i, 3) for i in (1, 2, 3)]
    [15.0, 25.0, 40.0]
    """
    low, high = float(policy.min_delay), float(policy.max_delay)
    if steps <= 0 or high == low:
        return high
    share = step / steps
    if policy.backoff == "geometric":
        value = low * (high / low) ** share
    elif policy.backoff == "exponential":
        value = low + (high - low) * (2**step - 1) / (2**steps - 1)
    elif policy.backoff == "arithmetic":
        value = low + (high - low) * (step * (step + 1)) / (steps * (steps + 1))
    else:
        value = low + (high - low) * share
    return round(value, 3)


def retry_delays(policy: RetryPolicy) -> list[float]:
    """Seconds to wait before each retry, in order: ``len`` is ``numRetries``."""
    backoff_steps = policy.retries - policy.no_delay - policy.min_delay_retries - policy.max_delay_retries
    delays = [0.0] * policy.no_delay + [float(policy.min_delay)] * policy.min_delay_retries
    delays += [backoff_delay(policy, i, backoff_steps) for i in range(1, backoff_steps + 1)]
    delays += [float(policy.max_delay)] * policy.max_delay_retries
    return delays


# ---- parsing and checking ----------------------------------------------------------------------


def _fail(reason: str) -> NotifyRuleError:
    return invalid_parameter(f"DeliveryPolicy: {reason}")


def _integer(document: dict[str, Any], key: str, default: int, low: int, high: int, where: str) -> int:
    value = document.get(key, default)
    whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not whole:  # is_integer(): False for NaN and the infinities
        raise _fail(f"{where}.{key} must be an integer")
    if not low <= value <= high:
        raise _fail(f"{where}.{key} must be between {low} and {high}")
    return int(value)


def parse_retry_policy(document: Any, where: str) -> RetryPolicy:
    """A ``healthyRetryPolicy`` object; AWS's defaults fill what it leaves out.

    >>> parse_retry_policy({"numRetries": 5, "minDelayTarget": 2, "maxDelayTarget": 2}, "p").retries
    5
    """
    if not isinstance(document, dict):
        raise _fail(f"{where} must be a JSON object")
    backoff = document.get("backoffFunction", "linear")
    if backoff not in BACKOFF_FUNCTIONS:
        raise _fail(f"{where}.backoffFunction must be one of {', '.join(BACKOFF_FUNCTIONS)}")
    min_delay = _integer(document, "minDelayTarget", 20, 1, MAX_DELAY_S, where)
    max_delay = _integer(document, "maxDelayTarget", max(20, min_delay), 1, MAX_DELAY_S, where)
    if min_delay > max_delay:
        raise _fail(f"{where}.minDelayTarget must be less than or equal to maxDelayTarget")
    retries = _integer(document, "numRetries", 3, 0, MAX_RETRIES, where)
    phases = [
        _integer(document, key, 0, 0, MAX_RETRIES, where)
        for key in ("numNoDelayRetries", "numMinDelayRetries", "numMaxDelayRetries")
    ]
    if sum(phases) > retries:
        raise _fail(f"{where}.numRetries must be at least the sum of the other phases' retries")
    policy = RetryPolicy(min_delay, max_delay, retries, phases[0], phases[1], phases[2], backoff)
    if sum(retry_delays(policy)) > MAX_DELAY_S:
        raise _fail(f"the total retry time of {where} must not exceed {MAX_DELAY_S} seconds")
    return policy


def _throttle(document: Any, where: str) -> int | None:
    if document is None:
        return None
    if not isinstance(document, dict):
        raise _fail(f"{where} must be a JSON object")
    if "maxReceivesPerSecond" not in document:
        return None
    return _integer(document, "maxReceivesPerSecond", 1, 1, 1_000_000, where)


def _content_type(document: Any, where: str) -> str | None:
    if document is None:
        return None
    if not isinstance(document, dict):
        raise _fail(f"{where} must be a JSON object")
    value = document.get("headerContentType")
    if value is None:
        return None
    if not isinstance(value, str) or value.split(";")[0].strip().lower() not in CONTENT_TYPES:
        raise _fail(f"{where}.headerContentType must be one of {', '.join(CONTENT_TYPES)}")
    return value


def _load(text: str) -> dict[str, Any]:
    try:
        document = load_json(text)
    except ValueError:
        raise _fail("the policy is not valid JSON") from None
    if not isinstance(document, dict):
        raise _fail("the policy must be a JSON object")
    return document


def parse_topic_policy(text: str) -> TopicPolicy:
    """A topic's DeliveryPolicy (its ``http`` member governs HTTP/S deliveries)."""
    http = _load(text).get("http")
    if http is None:
        return TopicPolicy(None, None, None, False)
    if not isinstance(http, dict):
        raise _fail("http must be a JSON object")
    retry = http.get("defaultHealthyRetryPolicy")
    overrides = http.get("disableSubscriptionOverrides", False)
    if not isinstance(overrides, bool):
        raise _fail("http.disableSubscriptionOverrides must be true or false")
    return TopicPolicy(
        parse_retry_policy(retry, "http.defaultHealthyRetryPolicy") if retry is not None else None,
        _throttle(http.get("defaultThrottlePolicy"), "http.defaultThrottlePolicy"),
        _content_type(http.get("defaultRequestPolicy"), "http.defaultRequestPolicy"),
        overrides,
    )


def parse_subscription_policy(text: str) -> SubscriptionPolicy:
    """A subscription's DeliveryPolicy."""
    document = _load(text)
    retry = document.get("healthyRetryPolicy")
    return SubscriptionPolicy(
        parse_retry_policy(retry, "healthyRetryPolicy") if retry is not None else None,
        _throttle(document.get("throttlePolicy"), "throttlePolicy"),
        _content_type(document.get("requestPolicy"), "requestPolicy"),
    )


# ---- effective policies ------------------------------------------------------------------------


def effective_http_policy(topic_text: str | None, subscription_text: str | None) -> HttpPolicy:
    """What one HTTP/S subscription's deliveries follow: its own policy over its topic's defaults
    (unless the topic disables overrides), over AWS's defaults.

    >>> effective_http_policy(None, None).retry == DEFAULT_RETRY_POLICY
    True
    >>> topic = '{"http": {"defaultHealthyRetryPolicy": {"numRetries": 1}, "disableSubscriptionOverrides": true}}'
    >>> effective_http_policy(topic, '{"healthyRetryPolicy": {"numRetries": 9}}').retry.retries
    1
    """
    topic = parse_topic_policy(topic_text) if topic_text else TopicPolicy(None, None, None, False)
    own = (
        parse_subscription_policy(subscription_text)
        if subscription_text and not topic.disable_overrides
        else SubscriptionPolicy(None, None, None)
    )
    return HttpPolicy(
        own.retry or topic.retry or DEFAULT_RETRY_POLICY,
        own.max_receives_per_second or topic.max_receives_per_second,
        own.content_type or topic.content_type or DEFAULT_CONTENT_TYPE,
    )


def _compact(document: Any) -> str:
    return json.dumps(document, separators=(",", ":"))


def topic_effective_document(topic_text: str | None) -> str:
    """GetTopicAttributes' EffectiveDeliveryPolicy: the topic's http policy over AWS's defaults.

    >>> document = json.loads(topic_effective_document(None))["http"]
    >>> list(document), document["defaultHealthyRetryPolicy"]["numRetries"]
    (['defaultHealthyRetryPolicy', 'disableSubscriptionOverrides', 'defaultRequestPolicy'], 3)
    """
    topic = parse_topic_policy(topic_text) if topic_text else TopicPolicy(None, None, None, False)
    http: dict[str, Any] = {
        "defaultHealthyRetryPolicy": (topic.retry or DEFAULT_RETRY_POLICY).document(),
        "disableSubscriptionOverrides": topic.disable_overrides,
    }
    if topic.max_receives_per_second is not None:
        http["defaultThrottlePolicy"] = {"maxReceivesPerSecond": topic.max_receives_per_second}
    http["defaultRequestPolicy"] = {"headerContentType": topic.content_type or DEFAULT_CONTENT_TYPE}
    return _compact({"http": http})


def subscription_effective_document(policy: HttpPolicy) -> str:
    """GetSubscriptionAttributes' EffectiveDeliveryPolicy of an HTTP/S subscription."""
    throttle = (
        {"maxReceivesPerSecond": policy.max_receives_per_second}
        if policy.max_receives_per_second is not None
        else None
    )
    return _compact(
        {
            "healthyRetryPolicy": policy.retry.document(),
            "sicklyRetryPolicy": None,
            "throttlePolicy": throttle,
            "requestPolicy": {"headerContentType": policy.content_type},
            "guaranteed": False,
        }
    )
