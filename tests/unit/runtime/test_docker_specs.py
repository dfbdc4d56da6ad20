"""The port ↔ Engine API translation, as tables (no engine)."""

from __future__ import annotations

from typing import Any

import pytest

from ecsbox.runtime.docker_specs import (
    container_state,
    container_stats,
    create_body,
    label_filters,
    parse_docker_time,
    published_ports,
    runtime_event,
    seconds_to_ns,
)
from ecsbox.runtime.port import (
    ContainerSpec,
    HealthCheck,
    LogConfig,
    Mount,
    PortBinding,
    PublishedPort,
    RuntimeEvent,
    Ulimit,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-02T03:04:05Z", 1704164645.0),
        ("2024-01-02T03:04:05.5Z", 1704164645.5),
        ("2024-01-02T03:04:05.123456789Z", 1704164645.123456789),
        ("2024-01-02T12:04:05.25+09:00", 1704164645.25),
        ("2024-01-01T23:04:05-04:00", 1704164645.0),
        ("0001-01-01T00:00:00Z", None),  # Docker's zero time: never
        ("", None),
        (None, None),
        ("yesterday", None),
    ],
)
def test_parse_docker_time(value: str | None, expected: float | None) -> None:
    parsed = parse_docker_time(value)
    if expected is None:
        assert parsed is None
    else:
        assert parsed == pytest.approx(expected, abs=1e-6)


def test_seconds_to_ns() -> None:
    assert seconds_to_ns(1.5) == 1_500_000_000 and seconds_to_ns(0) == 0 and seconds_to_ns(0.001) == 1_000_000


def _spec(**changes: Any) -> ContainerSpec:
    return ContainerSpec(name="t1-web", image="busybox:1", labels={"a": "1"}, network="task-net", **changes)


def test_minimal_create_body() -> None:
    assert create_body(_spec()) == {
        "Image": "busybox:1",
        "Labels": {"a": "1"},
        "Env": [],
        "HostConfig": {"NetworkMode": "task-net"},
        "NetworkingConfig": {"EndpointsConfig": {"task-net": {}}},
    }


def test_full_create_body() -> None:
    spec = _spec(
        command=("sleep", "1"),
        entrypoint=("/bin/sh", "-c"),
        environment={"A": "1", "B": "x=y"},
        working_dir="/app",
        user="1000:1000",
        hostname="h",
        cpu_shares=512,
        nano_cpus=250_000_000,
        memory_bytes=128 << 20,
        memory_reservation_bytes=64 << 20,
        ports=(PortBinding(80), PortBinding(53, "udp", 5353, "0.0.0.0"), PortBinding(80, host_ip="::1")),
        health_check=HealthCheck(("CMD-SHELL", "curl -f localhost"), 10, 2, 5, 30),
        stop_timeout_s=15,
        stop_signal="SIGQUIT",
        mounts=(Mount("/data", "vol1"), Mount("/etc/conf", "/srv/conf", "bind", read_only=True)),
        ulimits=(Ulimit("nofile", 100, 200),),
        read_only_root=True,
        init=True,
        privileged=True,
        log_config=LogConfig("fluentd", {"fluentd-address": "127.0.0.1:24224"}),
        extra_hosts={"db": "10.0.0.5"},
        network_aliases=("web", "www"),
    )
    assert create_body(spec) == {
        "Image": "busybox:1",
        "Labels": {"a": "1"},
        "Env": ["A=1", "B=x=y"],
        "Cmd": ["sleep", "1"],
        "Entrypoint": ["/bin/sh", "-c"],
        "WorkingDir": "/app",
        "User": "1000:1000",
        "Hostname": "h",
        "ExposedPorts": {"80/tcp": {}, "53/udp": {}},
        "Healthcheck": {
            "Test": ["CMD-SHELL", "curl -f localhost"],
            "Interval": 10_000_000_000,
            "Timeout": 2_000_000_000,
            "Retries": 5,
            "StartPeriod": 30_000_000_000,
        },
        "StopTimeout": 15,
        "StopSignal": "SIGQUIT",
        "NetworkingConfig": {"EndpointsConfig": {"task-net": {"Aliases": ["web", "www"]}}},
        "HostConfig": {
            "NetworkMode": "task-net",
            "CpuShares": 512,
            "NanoCpus": 250_000_000,
            "Memory": 128 << 20,
            "MemoryReservation": 64 << 20,
            "PortBindings": {
                "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}, {"HostIp": "::1", "HostPort": ""}],
                "53/udp": [{"HostIp": "0.0.0.0", "HostPort": "5353"}],
            },
            "Binds": ["vol1:/data", "/srv/conf:/etc/conf:ro"],
            "Ulimits": [{"Name": "nofile", "Soft": 100, "Hard": 200}],
            "ReadonlyRootfs": True,
            "Init": True,
            "Privileged": True,
            "LogConfig": {"Type": "fluentd", "Config": {"fluentd-address": "127.0.0.1:24224"}},
            "ExtraHosts": ["db:10.0.0.5"],
        },
    }


@pytest.mark.parametrize(
    ("network", "aliases", "endpoints"),
    [
        ("host", ("x",), None),
        ("none", (), None),
        ("container:abc", ("x",), None),
        ("bridge", ("x",), {"bridge": {}}),  # the default bridge takes no aliases
        ("task-net", ("x",), {"task-net": {"Aliases": ["x"]}}),
    ],
)
def test_network_modes(network: str, aliases: tuple[str, ...], endpoints: dict[str, Any] | None) -> None:
    body = create_body(ContainerSpec("n", "i", {}, network, network_aliases=aliases))
    assert body["HostConfig"]["NetworkMode"] == network
    assert body.get("NetworkingConfig") == (None if endpoints is None else {"EndpointsConfig": endpoints})


def test_empty_entrypoint_clears_the_images() -> None:
    assert create_body(_spec(entrypoint=()))["Entrypoint"] == [""]


def _inspect(**overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "Id": "c1",
        "Name": "/t1-web",
        "Image": "sha256:abc",
        "Config": {"Image": "busybox:1", "Labels": {"a": "1"}},
        "HostConfig": {"NetworkMode": "task-net"},
        "State": {
            "Status": "running",
            "Pid": 42,
            "ExitCode": 0,
            "Error": "",
            "OOMKilled": False,
            "StartedAt": "2024-01-02T03:04:05.5Z",
            "FinishedAt": "0001-01-01T00:00:00Z",
            "Health": {"Status": "healthy", "FailingStreak": 0, "Log": []},
        },
        "NetworkSettings": {
            "IPAddress": "",
            "Ports": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "49153"}], "9000/tcp": None},
            "Networks": {"bridge": {"IPAddress": "172.17.0.9"}, "task-net": {"IPAddress": "172.20.0.2"}},
        },
    }
    for key, value in overrides.items():
        document[key] = {**document[key], **value} if isinstance(value, dict) else value
    return document


def test_running_container_state() -> None:
    state = container_state(_inspect())
    assert (state.id, state.name, state.image, state.image_id) == ("c1", "t1-web", "busybox:1", "sha256:abc")
    assert (state.status, state.exit_code, state.pid, state.health) == ("running", None, 42, "healthy")
    assert state.started_at == 1704164645.5 and state.finished_at is None
    assert state.ip_address == "172.20.0.2"  # on the network it was started on
    assert state.ports == (PublishedPort(80, "tcp", "127.0.0.1", 49153),)


@pytest.mark.parametrize(
    ("state", "status", "exit_code", "error"),
    [
        ({"Status": "exited", "ExitCode": 3, "Pid": 0}, "exited", 3, ""),
        ({"Status": "exited", "ExitCode": 0, "Pid": 0}, "exited", 0, ""),
        ({"Status": "dead", "ExitCode": 137, "Pid": 0}, "dead", 137, ""),
        # Start failed: still "created", with the engine's reason and exit code.
        (
            {"Status": "created", "ExitCode": 127, "Error": "exec: no such file", "Pid": 0},
            "created",
            127,
            "exec: no such file",
        ),
        ({"Status": "created", "ExitCode": 0, "Pid": 0}, "created", None, ""),
        ({"Status": "weird", "ExitCode": 0, "Pid": 0}, "dead", 0, ""),
    ],
)
def test_container_state_status(
    state: dict[str, Any], status: str, exit_code: int | None, error: str
) -> None:
    parsed = container_state(_inspect(State=state))
    assert (parsed.status, parsed.exit_code, parsed.error) == (status, exit_code, error)
    assert parsed.pid is None


@pytest.mark.parametrize(
    ("mode", "networks", "expected"),
    [
        ("container:abc", {}, None),
        ("host", {"host": {"IPAddress": ""}}, None),
        ("none", {"none": {"IPAddress": ""}}, None),
        ("default", {"bridge": {"IPAddress": "172.17.0.3"}}, "172.17.0.3"),
        ("task-net", {"task-net": {"IPAddress": ""}}, None),  # not running: no address
    ],
)
def test_ip_address(mode: str, networks: dict[str, Any], expected: str | None) -> None:
    document = _inspect(HostConfig={"NetworkMode": mode}, NetworkSettings={"Networks": networks})
    assert container_state(document).ip_address == expected


def test_health_none_and_missing() -> None:
    assert container_state(_inspect(State={"Health": {"Status": "none"}})).health is None
    assert container_state(_inspect(State={"Health": None})).health is None


def test_published_ports_sorted_and_without_unbound() -> None:
    ports = {
        "53/udp": [{"HostIp": "0.0.0.0", "HostPort": "5353"}],
        "80/tcp": [{"HostIp": "::", "HostPort": "8080"}, {"HostIp": "0.0.0.0", "HostPort": "8080"}],
        "81/tcp": [{"HostIp": "0.0.0.0", "HostPort": ""}],
        "9000/tcp": None,
    }
    assert published_ports(ports) == (
        PublishedPort(53, "udp", "0.0.0.0", 5353),
        PublishedPort(80, "tcp", "0.0.0.0", 8080),
        PublishedPort(80, "tcp", "::", 8080),
    )


CGROUP_V1_STATS = {
    "read": "2024-01-02T03:04:05.5Z",
    "cpu_stats": {
        "cpu_usage": {"total_usage": 5_000_000, "percpu_usage": [2_000_000, 3_000_000]},
        "system_cpu_usage": 9_000_000_000,
    },
    "memory_stats": {"usage": 10_000_000, "limit": 64 << 20, "stats": {"total_inactive_file": 1_000_000}},
    "networks": {"eth0": {"rx_bytes": 100, "tx_bytes": 50}, "eth1": {"rx_bytes": 1, "tx_bytes": 2}},
    "blkio_stats": {
        "io_service_bytes_recursive": [
            {"major": 8, "minor": 0, "op": "Read", "value": 4096},
            {"major": 8, "minor": 0, "op": "Write", "value": 8192},
            {"major": 8, "minor": 0, "op": "Total", "value": 12288},
        ]
    },
}

CGROUP_V2_STATS = {
    "read": "2024-01-02T03:04:05.5Z",
    "cpu_stats": {
        "cpu_usage": {"total_usage": 5_000_000},
        "system_cpu_usage": 9_000_000_000,
        "online_cpus": 4,
    },
    "memory_stats": {"usage": 10_000_000, "limit": 64 << 20, "stats": {"inactive_file": 2_000_000}},
    "blkio_stats": {
        "io_service_bytes_recursive": [
            {"major": 8, "minor": 0, "op": "read", "value": 4096},
            {"major": 8, "minor": 0, "op": "write", "value": 8192},
        ]
    },
}


def test_stats_cgroup_v1() -> None:
    stats = container_stats(CGROUP_V1_STATS)
    assert stats is not None
    assert (stats.read_at, stats.cpu_total_ns, stats.system_cpu_ns) == (
        1704164645.5,
        5_000_000,
        9_000_000_000,
    )
    assert stats.online_cpus == 2  # from percpu_usage when online_cpus is absent
    assert (stats.memory_usage_bytes, stats.memory_limit_bytes) == (9_000_000, 64 << 20)
    assert (stats.network_rx_bytes, stats.network_tx_bytes) == (101, 52)
    assert (stats.block_read_bytes, stats.block_write_bytes) == (4096, 8192)


def test_stats_cgroup_v2() -> None:
    stats = container_stats(CGROUP_V2_STATS)
    assert stats is not None
    assert stats.online_cpus == 4 and stats.memory_usage_bytes == 8_000_000
    assert (stats.network_rx_bytes, stats.block_read_bytes, stats.block_write_bytes) == (0, 4096, 8192)


def test_stats_of_a_stopped_container() -> None:
    stopped = {
        "read": "0001-01-01T00:00:00Z",
        "cpu_stats": {"cpu_usage": {"total_usage": 0}, "throttling_data": {}},
        "memory_stats": {},
    }
    assert container_stats(stopped) is None
    assert container_stats({"read": "2024-01-02T03:04:05Z", "cpu_stats": {}}) is None


def _event(action: str, attributes: dict[str, str], kind: str = "container") -> dict[str, Any]:
    return {
        "Type": kind,
        "Action": action,
        "Actor": {"ID": "c1", "Attributes": {"name": "t1-web", "image": "busybox:1", **attributes}},
        "time": 1,
        "timeNano": 1_500_000_000,
    }


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (_event("start", {"app": "web"}), RuntimeEvent("c1", "start", {"app": "web"}, 1.5)),
        (
            _event("die", {"app": "web", "exitCode": "3", "execDuration": "1"}),
            RuntimeEvent("c1", "die", {"app": "web"}, 1.5, exit_code=3),
        ),
        (
            _event("health_status: unhealthy", {}),
            RuntimeEvent("c1", "health_status", {}, 1.5, health="unhealthy"),
        ),
        (_event("kill", {"signal": "15"}), RuntimeEvent("c1", "kill", {}, 1.5)),
        (_event("oom", {}), RuntimeEvent("c1", "oom", {}, 1.5)),
        (_event("destroy", {}), RuntimeEvent("c1", "destroy", {}, 1.5)),
        (_event("exec_start: sh -c true", {}), None),  # a health probe's plumbing
        (_event("attach", {}), None),
        (_event("create", {}, kind="network"), None),
    ],
)
def test_runtime_event(message: dict[str, Any], expected: RuntimeEvent | None) -> None:
    assert runtime_event(message) == expected


def test_label_filters_sorted() -> None:
    assert label_filters({"b": "2", "a": "1"}) == ["a=1", "b=2"]
    assert label_filters({}) == []
