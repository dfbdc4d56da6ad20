import pytest

from ecsbox.ecs.local_instance import (
    Machine,
    does_not_fit,
    instance_document,
    registered_cpu,
    remaining,
    task_reservation,
)

MACHINE = Machine(cpus=2, memory_bytes=4096 * 1024 * 1024, architecture="x86_64")


@pytest.mark.parametrize(
    ("definition", "overrides", "expected"),
    [
        ({"cpu": "256", "memory": "512", "containerDefinitions": []}, None, (256, 512)),
        (
            {
                "containerDefinitions": [
                    {"cpu": 10, "memory": 500},
                    {"cpu": 10, "memoryReservation": 128, "memory": 900},
                ]
            },
            None,
            (20, 628),
        ),
        ({"cpu": "256", "memory": "512"}, {"cpu": "1024", "memory": "2048"}, (1024, 2048)),
        ({"containerDefinitions": [{"name": "a"}]}, None, (0, 0)),
    ],
)
def test_task_reservation(definition, overrides, expected) -> None:
    assert task_reservation(definition, overrides) == expected


def test_registered_and_remaining() -> None:
    assert registered_cpu(MACHINE) == 2048
    assert remaining(MACHINE, [(1024, 1000), (512, 96)]) == (512, 3000)
    assert remaining(MACHINE, [(4096, 9999)]) == (0, 0)


@pytest.mark.parametrize(
    ("used", "wanted", "reason"),
    [
        ([], (2048, 4096), None),
        ([(1024, 0)], (1025, 1), "RESOURCE:CPU"),
        ([(0, 4000)], (1, 97), "RESOURCE:MEMORY"),
    ],
)
def test_does_not_fit(used, wanted, reason) -> None:
    assert does_not_fit(MACHINE, used, wanted) == reason


def test_instance_document_reports_what_is_left_and_custom_attributes() -> None:
    document = instance_document(
        region="us-east-1",
        account_id="000000000000",
        cluster="default",
        server_id="s" * 32,
        machine=MACHINE,
        reservations=[(256, 512)],
        running=1,
        pending=0,
        custom_attributes=[{"name": "stack", "value": "prod"}],
        registered_at=1.0,
    )
    left = {r["name"]: r.get("integerValue") for r in document["remainingResources"]}
    assert (left["CPU"], left["MEMORY"]) == (1792, 3584)
    assert {"name": "stack", "value": "prod"} in document["attributes"]
    assert {"name": "ecs.availability-zone", "value": "us-east-1a"} in document["attributes"]
    assert document["containerInstanceArn"].startswith(
        "arn:aws:ecs:us-east-1:000000000000:container-instance/default/"
    )
