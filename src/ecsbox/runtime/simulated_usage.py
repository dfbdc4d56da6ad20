"""What a simulated container uses: the CPU, memory and I/O rates a test sets, and the cumulative
counters they accrue while the container runs, as the engine's stats report them. Pure: time is
an argument.

>>> meter = UsageMeter(cpu_percent=50.0, io_rates=(100.0, 0.0, 0.0, 10.0))
>>> meter.accrue(now=10.0, running=True)
>>> meter.cpu_ns, meter.io_bytes
(5000000000.0, (1000.0, 0.0, 0.0, 100.0))
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class UsageMeter:
    cpu_percent: float = 0.0  # of one CPU, as `docker stats` shows it
    memory_bytes: int = 0
    io_rates: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0)  # bytes/s: network rx, tx; block read, write
    cpu_ns: float = 0.0  # accrued CPU time up to accrued_at
    io_bytes: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0)  # accrued up to accrued_at
    accrued_at: float = 0.0

    def accrue(self, now: float, running: bool) -> None:
        """Add what the rates used since the last accrual (only while running); then start again
        from ``now``."""
        if running:
            elapsed = now - self.accrued_at
            self.cpu_ns += elapsed * self.cpu_percent / 100 * 1e9
            self.io_bytes = tuple(
                total + rate * elapsed for total, rate in zip(self.io_bytes, self.io_rates, strict=True)
            )
        self.accrued_at = now

    def set(
        self,
        now: float,
        running: bool,
        cpu_percent: float | None = None,
        memory_bytes: int | None = None,
        io_rates: tuple[float, ...] | None = None,
    ) -> None:
        """New rates from ``now`` on (what came before is accrued at the old ones)."""
        self.accrue(now, running)
        if cpu_percent is not None:
            self.cpu_percent = cpu_percent
        if memory_bytes is not None:
            self.memory_bytes = memory_bytes
        if io_rates is not None:
            self.io_rates = tuple(float(rate) for rate in io_rates)
