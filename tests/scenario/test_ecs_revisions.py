"""Property: whatever register / deregister / delete sequence runs, revisions handed out in a family
strictly increase and are never reused, and statuses move only forward."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecsbox.aws.context import RequestContext
from ecsbox.aws.errors import AwsError
from ecsbox.core.clock import FakeClock
from ecsbox.ecs import operations
from ecsbox.store import Store

CONTAINERS = [{"name": "app", "image": "nginx", "memory": 64}]
ORDER = {"ACTIVE": 0, "INACTIVE": 1, "DELETE_IN_PROGRESS": 2}

steps = st.lists(
    st.tuples(
        st.sampled_from(["register", "deregister", "delete"]), st.sampled_from(["a", "b"]), st.integers(1, 8)
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_revisions_strictly_increase_and_are_never_reused(sequence: list[tuple[str, str, int]]) -> None:
    with tempfile.TemporaryDirectory() as tmp, asyncio.Runner() as runner:
        store = Store(f"sqlite:///{Path(tmp) / 'db'}")
        store.open()
        handlers = operations(store, FakeClock())
        ctx = RequestContext("000000000000", "us-east-1", "ecs", "op", "r")

        def call(operation: str, **params: Any) -> dict[str, Any]:
            return runner.run(handlers[operation](ctx, params))

        handed_out: dict[str, list[int]] = {"a": [], "b": []}
        status: dict[tuple[str, int], str] = {}
        try:
            for action, family, revision in sequence:
                if action == "register":
                    got = call("RegisterTaskDefinition", family=family, containerDefinitions=CONTAINERS)
                    number = got["taskDefinition"]["revision"]
                    assert number not in handed_out[family]
                    assert all(number > earlier for earlier in handed_out[family])
                    handed_out[family].append(number)
                    status[(family, number)] = "ACTIVE"
                elif action == "deregister":
                    try:
                        got = call("DeregisterTaskDefinition", taskDefinition=f"{family}:{revision}")
                    except AwsError as error:
                        assert (family, revision) not in status and error.code == "ClientException"
                        continue
                    new = got["taskDefinition"]["status"]
                    assert ORDER[new] >= ORDER[status[(family, revision)]]
                    status[(family, revision)] = new
                else:
                    got = call("DeleteTaskDefinitions", taskDefinitions=[f"{family}:{revision}"])
                    if got["taskDefinitions"]:
                        assert status[(family, revision)] in ("INACTIVE", "DELETE_IN_PROGRESS")
                        status[(family, revision)] = "DELETE_IN_PROGRESS"
                    else:
                        assert status.get((family, revision)) in (None, "ACTIVE")
            for numbers in handed_out.values():
                assert numbers == list(range(1, len(numbers) + 1))
            for (family, number), expected in status.items():
                got = call("DescribeTaskDefinition", taskDefinition=f"{family}:{number}")
                assert got["taskDefinition"]["status"] == expected
        finally:
            store.close()
