"""Task size: parsing ``cpu`` / ``memory`` strings and the Fargate table of valid combinations.

ECS accepts task ``cpu`` as CPU units (``"256"``) or vCPUs (``"0.25 vCPU"``, ``"1 vcpu"``) and task
``memory`` as MiB (``"512"``) or GB (``"1GB"``, ``"2 GB"``); on register both are converted to the
integer form and that is what DescribeTaskDefinition returns.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from ecsbox.ecs.model import client_error

CPU_UNITS_PER_VCPU = 1024
MIB_PER_GB = 1024

# cpu units → the memory values (MiB) Fargate accepts with it (Linux).
FARGATE_MEMORY_BY_CPU: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: (1024, 2048, 3072, 4096),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}

# Windows on Fargate starts at 1 vCPU.
FARGATE_WINDOWS_MIN_CPU = 1024

# EC2 / External task-level cpu bounds (units): 0.125 to 192 vCPU.
EC2_TASK_CPU_MIN = 128
EC2_TASK_CPU_MAX = 196608

_CPU_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(vcpu)?\s*$", re.IGNORECASE)
_MEMORY_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(gb|mib|mb)?\s*$", re.IGNORECASE)

INVALID_TASK_CPU = (
    "Invalid 'cpu' setting for task. For more information, see the Troubleshooting section of the "
    "Amazon ECS Developer Guide."
)
INVALID_TASK_MEMORY = (
    "Invalid 'memory' setting for task. For more information, see the Troubleshooting section of "
    "the Amazon ECS Developer Guide."
)


def _whole(number: Decimal) -> int | None:
    return int(number) if number == number.to_integral_value() else None


def cpu_units(text: str) -> int:
    """Task ``cpu`` as CPU units.

    ``"256"`` → 256; ``"1 vCPU"`` → 1024; ``"0.25 vcpu"`` → 256 (0.25 x 1024);
    ``"2vCPU"`` → 2048. A bare number is units and must be whole; a vCPU figure must come to whole
    units. Anything else raises ClientException "Invalid 'cpu' setting for task. …".
    """
    match = _CPU_RE.match(text)
    if not match:
        raise client_error(INVALID_TASK_CPU)
    try:
        number = Decimal(match.group(1))
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only decimals
        raise client_error(INVALID_TASK_CPU) from exc
    units = _whole(number * CPU_UNITS_PER_VCPU) if match.group(2) else _whole(number)
    if units is None or units <= 0:
        raise client_error(INVALID_TASK_CPU)
    return units


def memory_mib(text: str) -> int:
    """Task ``memory`` as MiB.

    ``"512"`` → 512; ``"1GB"`` → 1024; ``"2 GB"`` → 2048; ``"0.5 GB"`` → 512 (0.5 x 1024).
    Anything else raises ClientException "Invalid 'memory' setting for task. …".
    """
    match = _MEMORY_RE.match(text)
    if not match:
        raise client_error(INVALID_TASK_MEMORY)
    number = Decimal(match.group(1))
    unit = (match.group(2) or "").lower()
    mib = _whole(number * MIB_PER_GB) if unit == "gb" else _whole(number)
    if mib is None or mib <= 0:
        raise client_error(INVALID_TASK_MEMORY)
    return mib


def is_fargate_size(cpu: int, memory: int, windows: bool = False) -> bool:
    """Whether (cpu units, memory MiB) is a Fargate task size. (256, 512) → True;
    (256, 4096) → False; (512, 1024, windows=True) → False (Windows needs ≥ 1 vCPU)."""
    if windows and cpu < FARGATE_WINDOWS_MIN_CPU:
        return False
    return memory in FARGATE_MEMORY_BY_CPU.get(cpu, ())


def check_fargate_size(cpu: int, memory: int, windows: bool = False) -> None:
    """Raise the ClientException ECS gives for a task size Fargate does not offer."""
    if not is_fargate_size(cpu, memory, windows):
        raise client_error(
            f"No Fargate configuration exists for given values: {cpu} CPU, {memory} memory. "
            "See the Amazon ECS documentation for the valid values."
        )


def check_ec2_task_cpu(cpu: int) -> None:
    """EC2 / External task cpu must be 128-196608 units."""
    if not EC2_TASK_CPU_MIN <= cpu <= EC2_TASK_CPU_MAX:
        raise client_error(INVALID_TASK_CPU)
