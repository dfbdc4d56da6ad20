import pytest

from ecsbox.asgi import host_allowed, origin_allowed


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("localhost:4566", True),
        ("localhost", True),
        ("127.0.0.1:4566", True),
        ("[::1]:4566", True),
        ("LOCALHOST:4566", True),
        ("sub.localhost:4566", True),
        ("evil.example:4566", False),
        ("localhost.evil.example", False),
        ("127.0.0.2:4566", True),  # all of 127.0.0.0/8 is this machine (other partitions' registries)
        ("127.1.0.2:4566", True),
        ("128.0.0.1:4566", False),
        ("127.0.0.1.evil.example:4566", False),
        ("", False),
        ("10.0.0.1:4566", False),
    ],
)
def test_host_allowed(host: str, allowed: bool) -> None:
    assert host_allowed(host, frozenset()) is allowed


def test_configured_host_is_allowed() -> None:
    assert host_allowed("ecsbox.internal:4566", frozenset({"ecsbox.internal"}))


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [("http://localhost:4566", True), ("https://evil.example", False), ("null", False), ("", False)],
)
def test_origin_allowed(origin: str, allowed: bool) -> None:
    assert origin_allowed(origin, frozenset()) is allowed


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("http://localhost:4566", True),
        ("http://localhost:3000", False),
        ("http://127.0.0.1", False),
        ("http://localhost:notaport", False),
    ],
)
def test_origin_must_be_our_port_too(origin: str, allowed: bool) -> None:
    assert origin_allowed(origin, frozenset(), port=4566) is allowed
