"""Task size: unit conversion and the Fargate table, row by row."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecsbox.ecs.fargate import (
    FARGATE_MEMORY_BY_CPU,
    check_ec2_task_cpu,
    check_fargate_size,
    cpu_units,
    is_fargate_size,
    memory_mib,
)
from ecsbox.ecs.model import EcsRuleError

# Every valid Fargate (cpu, memory) pair, written out from the published table.
VALID_ROWS = (
    [(256, m) for m in (512, 1024, 2048)]
    + [(512, m) for m in (1024, 2048, 3072, 4096)]
    + [(1024, m) for m in (2048, 3072, 4096, 5120, 6144, 7168, 8192)]
    + [(2048, 4096 + 1024 * i) for i in range(13)]  # 4096 … 16384
    + [(4096, 8192 + 1024 * i) for i in range(23)]  # 8192 … 30720
    + [(8192, 16384 + 4096 * i) for i in range(12)]  # 16384 … 61440
    + [(16384, 32768 + 8192 * i) for i in range(12)]  # 32768 … 122880
)


@pytest.mark.parametrize(("cpu", "memory"), VALID_ROWS)
def test_every_row_of_the_table_is_valid(cpu: int, memory: int) -> None:
    assert is_fargate_size(cpu, memory)
    check_fargate_size(cpu, memory)


def test_the_table_has_exactly_these_rows() -> None:
    table = {(cpu, m) for cpu, memories in FARGATE_MEMORY_BY_CPU.items() for m in memories}
    assert table == set(VALID_ROWS)
    assert len(VALID_ROWS) == 3 + 4 + 7 + 13 + 23 + 12 + 12


@pytest.mark.parametrize(
    ("cpu", "memory"),
    [
        (256, 4096),
        (256, 256),
        (512, 512),
        (512, 5120),
        (1024, 1024),
        (1024, 9216),
        (2048, 17408),
        (4096, 4096),
        (4096, 31744),
        (8192, 18432),
        (8192, 65536),
        (16384, 36864),
        (16384, 131072),
        (128, 512),
        (3072, 8192),
        (32768, 65536),
    ],
)
def test_pairs_outside_the_table_are_refused_with_ecs_message(cpu: int, memory: int) -> None:
    assert not is_fargate_size(cpu, memory)
    with pytest.raises(EcsRuleError) as caught:
        check_fargate_size(cpu, memory)
    assert caught.value.code == "ClientException"
    assert caught.value.message == (
        f"No Fargate configuration exists for given values: {cpu} CPU, {memory} memory. "
        "See the Amazon ECS documentation for the valid values."
    )


def test_windows_needs_one_vcpu() -> None:
    assert not is_fargate_size(256, 512, windows=True)
    assert not is_fargate_size(512, 1024, windows=True)
    assert is_fargate_size(1024, 2048, windows=True)


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("256", 256),
        ("1024", 1024),
        ("1 vCPU", 1024),
        ("1vcpu", 1024),
        ("0.25 vcpu", 256),
        ("0.5 vCPU", 512),
        ("2 VCPU", 2048),
        ("16 vCPU", 16384),
        (" 512 ", 512),
        ("0.125 vCPU", 128),
    ],
)
def test_cpu_units(text: str, units: int) -> None:
    assert cpu_units(text) == units


@pytest.mark.parametrize("text", ["", "abc", "1 core", "0", "-256", "256.5", "0.0001 vCPU", "1 vCPU x"])
def test_cpu_that_is_not_a_size(text: str) -> None:
    with pytest.raises(EcsRuleError, match="Invalid 'cpu' setting for task"):
        cpu_units(text)


@pytest.mark.parametrize(
    ("text", "mib"),
    [
        ("512", 512),
        ("1GB", 1024),
        ("1 GB", 1024),
        ("2 GB", 2048),
        ("0.5GB", 512),
        ("30 gb", 30720),
        ("120 GB", 122880),
        ("3072", 3072),
    ],
)
def test_memory_mib(text: str, mib: int) -> None:
    assert memory_mib(text) == mib


@pytest.mark.parametrize("text", ["", "lots", "0", "1 TB", "1.5", "0.0001GB"])
def test_memory_that_is_not_a_size(text: str) -> None:
    with pytest.raises(EcsRuleError, match="Invalid 'memory' setting for task"):
        memory_mib(text)


@given(st.sampled_from(sorted(FARGATE_MEMORY_BY_CPU)), st.integers(min_value=1, max_value=200_000))
def test_valid_memory_lies_on_the_rows_grid(cpu: int, memory: int) -> None:
    memories = FARGATE_MEMORY_BY_CPU[cpu]
    assert is_fargate_size(cpu, memory) == (memory in memories)
    if is_fargate_size(cpu, memory):
        assert memories[0] <= memory <= memories[-1]


@given(st.sampled_from([0.25, 0.5, 1, 2, 4, 8, 16]))
def test_vcpu_form_agrees_with_units(vcpu: float) -> None:
    assert cpu_units(f"{vcpu} vCPU") == int(vcpu * 1024)


def test_ec2_cpu_bounds() -> None:
    check_ec2_task_cpu(128)
    check_ec2_task_cpu(196608)
    for bad in (127, 196609):
        with pytest.raises(EcsRuleError):
            check_ec2_task_cpu(bad)
