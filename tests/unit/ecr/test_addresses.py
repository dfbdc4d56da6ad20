"""Which host is which partition's registry (pure): the default partition at localhost, every other
one at a loopback address of its own, and a request's Host mapped back to its partition."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecsbox.ecr.addresses import RegistryAddresses, address_number, partition_address, split_host

DEFAULT = ("000000000000", "us-east-1")
AWAY = ("000000000000", "eu-west-1")
OTHER_ACCOUNT = ("111111111111", "us-east-1")
LAST = 250 * 256 - 1


@pytest.mark.parametrize(
    ("number", "address"),
    [
        (1, "127.1.0.2"),
        (2, "127.1.0.3"),
        (249, "127.1.0.250"),
        (250, "127.1.1.1"),
        (251, "127.1.1.2"),
        (499, "127.1.1.250"),
        (500, "127.1.2.1"),
        (LAST, "127.1.255.250"),
    ],
)
def test_partition_address(number: int, address: str) -> None:
    assert partition_address(number) == address
    assert address_number(address) == number


@pytest.mark.parametrize("number", [0, -1, LAST + 1, 10**9])
def test_partition_numbers_out_of_range(number: int) -> None:
    with pytest.raises(ValueError):
        partition_address(number)


@pytest.mark.parametrize(
    "address",
    [
        "127.1.0.1",  # number 0: no partition has it
        "127.1.0.0",
        "127.1.0.251",  # past the 250 hosts of a block
        "127.1.0.255",
        "127.0.0.1",
        "127.2.0.2",
        "10.1.0.2",
        "127.1.256.1",
        "localhost",
        "::1",
        "",
        "127.1.0.2:4566",  # an address, not a host with its port
    ],
)
def test_addresses_that_are_no_partitions(address: str) -> None:
    assert address_number(address) is None


@given(st.integers(1, LAST))
def test_every_number_has_an_address_of_its_own_and_back(number: int) -> None:
    address = partition_address(number)
    assert address.startswith("127.1.")
    assert address_number(address) == number


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("localhost:4566", ("localhost", 4566)),
        ("LOCALHOST:4566", ("localhost", 4566)),
        (" localhost ", ("localhost", None)),
        ("127.1.0.2:80", ("127.1.0.2", 80)),
        ("[::1]:4566", ("::1", 4566)),
        ("[::1]", ("::1", None)),
        ("::1", ("::1", None)),
        ("host:http", ("host", None)),
        ("", ("", None)),
    ],
)
def test_split_host(host: str, expected: tuple[str, int | None]) -> None:
    assert split_host(host) == expected


def addresses(listened: list[str] | None = None) -> RegistryAddresses:
    return RegistryAddresses(
        port=4566,
        default=DEFAULT,
        numbers={AWAY: 1, OTHER_ACCOUNT: 250},
        listen=None if listened is None else listened.append,
    )


@pytest.mark.parametrize(
    ("host", "partition"),
    [
        ("localhost:4566", DEFAULT),
        ("localhost", DEFAULT),
        ("127.0.0.1:4566", DEFAULT),
        ("[::1]:4566", DEFAULT),
        ("registry.localhost:4566", DEFAULT),
        ("127.1.0.2:4566", AWAY),
        ("127.1.1.1:4566", OTHER_ACCOUNT),
        ("127.1.0.3:4566", None),  # a number no partition has yet
        ("127.1.0.1:4566", None),
        ("example.com:4566", None),
        ("000000000000.dkr.ecr.us-east-1.amazonaws.com", None),
        ("", None),
    ],
)
def test_partition_of_a_host_header(host: str, partition: tuple[str, str] | None) -> None:
    assert addresses().partition_of(host) == partition


def test_each_partition_has_its_host() -> None:
    known = addresses()
    assert known.host(DEFAULT) == "localhost:4566"
    assert known.host(AWAY) == "127.1.0.2:4566"
    assert known.host(OTHER_ACCOUNT) == "127.1.1.1:4566"
    with pytest.raises(KeyError):
        known.host(("222222222222", "us-east-1"))
    # Host and partition_of agree both ways.
    for partition in (DEFAULT, AWAY, OTHER_ACCOUNT):
        assert known.partition_of(known.host(partition)) == partition


def test_a_partition_learns_its_number_once_and_is_listened_for() -> None:
    listened: list[str] = []
    known = addresses(listened)
    assert known.addresses() == ["127.1.0.2", "127.1.1.1"]
    new = ("333333333333", "ap-northeast-1")
    known.learn(new, 2)
    known.learn(new, 2)  # already known: nothing more to listen on
    known.learn(AWAY, 1)
    assert listened == ["127.1.0.3"]
    assert known.host(new) == "127.1.0.3:4566"
    assert known.partition_of("127.1.0.3:4566") == new
    assert known.addresses() == ["127.1.0.2", "127.1.0.3", "127.1.1.1"]
