"""Where each partition's registry answers, as a host[:port] the docker CLI pushes to with no DNS
and no daemon configuration.

The default partition's registry is ``localhost:<port>``. Every other account and region gets a
loopback address of its own, ``127.1.<n // 250>.<n % 250 + 1>:<port>`` for the partition's number
``n`` (1, 2, … in order of first use): Linux answers every 127.0.0.0/8 address on the loopback
interface, and Docker treats that whole range as an insecure (plain HTTP) registry by default. A
request's ``Host`` tells the registry which partition it is for.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

from ecsbox.ecr.model import Partition


def partition_address(number: int) -> str:
    """The loopback address of the ``number``-th partition other than the default one.

    ``partition_address(1)`` → ``127.1.0.2``; ``partition_address(250)`` → ``127.1.1.1``.
    """
    if not 1 <= number <= 250 * 256 - 1:
        raise ValueError(f"partition number {number} out of range")
    return f"127.1.{number // 250}.{number % 250 + 1}"


def address_number(address: str) -> int | None:
    """The inverse of :func:`partition_address`; None for any other address."""
    try:
        ip = ipaddress.IPv4Address(address)
    except ValueError:
        return None
    a, b, c, d = ip.packed
    if (a, b) != (127, 1) or not 1 <= d <= 250:
        return None
    number = c * 250 + d - 1
    return number if number >= 1 else None


def split_host(host: str) -> tuple[str, int | None]:
    """``split_host("localhost:4566")`` → ``("localhost", 4566)``; ``"[::1]:80"`` → ``("::1", 80)``."""
    host = host.strip().lower()
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif host.count(":") == 1:
        name, port = host.split(":")
    else:
        name, port = host, ""
    return name, int(port) if port.isdigit() else None


@dataclass
class RegistryAddresses:
    """The registry host of every partition: the default one at ``localhost``, the others at the
    addresses their numbers give. ``numbers`` maps partition → number (kept in the store)."""

    port: int
    default: Partition
    numbers: dict[Partition, int]
    # Called with the loopback address of a partition numbered while ecsbox runs, so the server
    # listens there too (at start it listens on every known partition's address).
    listen: Callable[[str], None] | None = None

    def learn(self, partition: Partition, number: int) -> None:
        """A partition got its number (its first repository or token): answer at its address."""
        if self.numbers.get(partition) == number:
            return
        self.numbers[partition] = number
        if self.listen is not None:
            self.listen(partition_address(number))

    def addresses(self) -> list[str]:
        """Every other partition's loopback address, to listen on."""
        return [partition_address(number) for number in sorted(self.numbers.values())]

    def host(self, partition: Partition) -> str:
        """``host(default)`` → ``localhost:4566``; another partition → ``127.1.0.2:4566``."""
        if partition == self.default:
            return f"localhost:{self.port}"
        number = self.numbers.get(partition)
        if number is None:
            raise KeyError(partition)
        return f"{partition_address(number)}:{self.port}"

    def partition_of(self, host_header: str) -> Partition | None:
        """Which partition a request's ``Host`` is for: loopback names → the default partition."""
        name, _ = split_host(host_header)
        if name in ("localhost", "127.0.0.1", "::1") or name.endswith(".localhost"):
            return self.default
        number = address_number(name)
        if number is None:
            return None
        for partition, known in self.numbers.items():
            if known == number:
                return partition
        return None
