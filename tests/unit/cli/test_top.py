"""``ecsbox top``'s view: what a user reads from the server's latest figures."""

from __future__ import annotations

import pytest

from ecsbox.cli.top import amount, percent, render

DOCUMENT = {
    "clock": 1_700_000_000.0,
    "resolution": 60,
    "clusters": [
        {
            "cluster": "web",
            "account": "000000000000",
            "region": "us-east-1",
            "cpu_utilization": 200.0,
            "memory_utilization": 12.5,
            "services": [
                {
                    "service": "api",
                    "desired": 2,
                    "running": 1,
                    "pending": 1,
                    "cpu_utilization": 200.0,
                    "memory_utilization": 12.5,
                }
            ],
            "tasks": [
                {
                    "task": "0123456789abcdef0123456789abcdef",
                    "group": "service:api",
                    "family": "api",
                    "revision": 3,
                    "status": "RUNNING",
                    "cpu_used": 1024.0,
                    "cpu_reserved": 512,
                    "memory_used": 16.0,
                    "memory_reserved": 128,
                },
                {
                    "task": "fedcba",
                    "group": "service:api",
                    "status": "PENDING",
                    "cpu_used": None,
                    "cpu_reserved": 512,
                },
            ],
        }
    ],
}


@pytest.mark.parametrize(
    ("value", "shown"), [(200.04, "200.0%"), (None, "-"), (0.0, "0.0%"), (99.95, "100.0%")]
)
def test_percent(value: float | None, shown: str) -> None:
    assert percent(value) == shown


@pytest.mark.parametrize(
    ("used", "reserved", "shown"),
    [(64.4, 512, "64/512"), (40.0, None, "40/-"), (None, 128, "-/128"), (None, None, "-/-")],
)
def test_amount(used: float | None, reserved: float | None, shown: str) -> None:
    assert amount(used, reserved) == shown


def test_render_shows_each_cluster_service_and_task() -> None:
    text = render(DOCUMENT)
    lines = text.splitlines()
    assert lines[0].startswith("ecsbox top — 2023-11-14 22:13:20 UTC")
    cluster = next(line for line in lines if line.startswith("CLUSTER web"))
    assert "CPU 200.0%" in cluster and "MEM 12.5%" in cluster
    service = next(line for line in lines if line.strip().startswith("api "))
    assert service.split() == ["api", "2", "1", "1", "200.0%", "12.5%"]
    task = next(line for line in lines if "0123456789abcdef" in line)
    assert task.split()[-3:] == ["RUNNING", "1024/512", "16/128"]
    pending = next(line for line in lines if "fedcba" in line)
    assert pending.split()[-3:] == ["PENDING", "-/512", "-/-"]


def test_render_without_tasks_says_so() -> None:
    assert "no running tasks" in render({"clock": None, "clusters": []})


def test_render_keeps_lines_to_the_width() -> None:
    assert max(len(line) for line in render(DOCUMENT, width=40).splitlines()) <= 40
