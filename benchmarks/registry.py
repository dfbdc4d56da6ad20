"""Registry push and pull throughput: ecsbox's registry against Debian's ``docker-registry`` (the Go
reference registry, distribution 2.8), measured in the same run. Goal: ecsbox >= 0.8 x the
reference's throughput in every measurement (the median of paired ratios: see ``PAIRED_RATIO``).

Phases (``--only`` picks some, comma-separated; all by default):

``blob``    The OCI distribution API over one keep-alive ``http.client`` connection per server.
            Per run, ``--blobs`` fresh blobs of ``--blob-mib`` MiB of random bytes uploaded
            monolithically (POST .../blobs/uploads/, then one PUT ?digest=), as many more in PATCH
            chunks of ``--chunk-mib`` MiB with Content-Range (then PUT ?digest=), then every blob
            downloaded (GET .../blobs/<digest>; its sha256 checked after the clock stops). Each
            mode runs on both servers in turn before the next mode; figures are per blob (p50 of
            MiB/s). Servers pinned to CPU 0, the client to CPU 1. The same client against a trivial
            sink/source server (also on CPU 0) is the client's ceiling: ``client_ceiling``.
``docker``  An image of ``--layers`` layers of ``--layer-mib`` MiB random data on
            ``ecsbox-test/busybox`` (built once from a generated context, no pulls): ``docker
            push`` to each registry, then ``docker rmi`` of every tag and ``docker pull`` from
            each (the pulled image's id is checked). dockerd gzips every layer on push: random
            data makes that the same work on both sides.
``skopeo``  ``skopeo copy docker-daemon:IMAGE docker://HOST/...`` (push; skopeo compresses), then
            ``skopeo copy docker://HOST/... dir:TMP`` (pull; the compressed blobs as they are).

Every run alternates which server goes first, and every measurement starts with ``sync`` (so the
kernel's writeback of earlier measurements does not land in it). Each docker and skopeo run gets a
fresh pair of servers (empty storage, new ports): dockerd and skopeo remember where they pushed a
blob and would mount it from an earlier run's repository instead of uploading it.

- ecsbox:     ``python -m ecsbox up --port P --data-dir TMP``; the registry at ``localhost:P``
              with ECR auth (GetAuthorizationToken; ``docker login -u AWS``; raw requests send
              ``Authorization: Basic <token>``), repositories made with CreateRepository.
- reference:  ``docker-registry serve CONFIG.yml`` on 127.0.0.1:P, filesystem storage in a temp
              dir, no auth; addressed as ``localhost:P`` too.

The docker and skopeo phases are not pinned: dockerd, skopeo and the server share both CPUs.
``docker login`` writes to a temporary ``DOCKER_CONFIG``. Servers, tags, images and temp dirs are
removed at the end, also after Ctrl-C or SIGTERM. MiB = 2^20 bytes. Prints one JSON document.

    python benchmarks/registry.py                    # everything, about 4 minutes
    python benchmarks/registry.py --only blob --blob-runs 3 --out benchmarks/out/registry.json
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import http.client
import json
import os
import platform
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness import (
    CLIENT_CPU,
    SERVER_CPU,
    Server,
    can_pin,
    free_port,
    percentile,
    print_report,
    rounded,
    sigterm_as_interrupt,
    version_of,
)

REPO = Path(__file__).resolve().parents[1]
PHASES = ("blob", "docker", "skopeo")
SIDES = ("ecsbox", "reference")
MIB = 1 << 20
GOAL = 0.8
# Other load on the machine drifts from run to run and weighs on both sides of a pair alike; the
# ratio of each side's own p50 is reported too (``ratios_of_p50s``), but drift moves it.
PAIRED_RATIO = (
    "ratio = median over pairs of ecsbox's throughput / the reference's, a pair being the same "
    "blob (blob phase) or the same run (docker, skopeo) on both sides, measured seconds apart"
)

BASE_IMAGE = "ecsbox-test/busybox:latest"
BLOB_REPOSITORY = "bench/blob"
IMAGE_REPOSITORY = "bench/image"
SKOPEO_REPOSITORY = "bench/skopeo"
REPOSITORIES = (BLOB_REPOSITORY, IMAGE_REPOSITORY, SKOPEO_REPOSITORY)
REGION = "us-east-1"
MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json"
)

HTTP_TIMEOUT_S = 120.0
COMMAND_TIMEOUT_S = 600.0  # one docker push / pull / build, one skopeo copy
# Any other docker command. On a shared engine an image delete can wait minutes on other users'
# operations; a run then reports it and goes on rather than hang.
QUICK_TIMEOUT_S = 120.0


class SampleFailed(Exception):
    """One measurement that failed: the run goes on and the JSON says why."""


# ---- servers -------------------------------------------------------------------------------------


class AnswersServer(Server):
    """A server that is up once it answers HTTP at all (a registry with auth answers /v2/ with 401)."""

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.endpoint + self.health_path, timeout=2):
                return True
        except urllib.error.HTTPError:
            return True
        except (urllib.error.URLError, OSError):
            return False


@dataclass
class Credentials:
    username: str
    password: str

    @property
    def authorization(self) -> str:
        return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()


@dataclass
class Registry:
    """One registry server in a directory of its own, addressed as ``localhost:<port>``."""

    side: str
    root: Path
    server: Server | None = None
    credentials: Credentials | None = None
    host: str = ""

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.port

    def start(self, pin: bool) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def failure(self, exc: BaseException) -> str:
        tail = self.server.log_tail(8) if self.server else ""
        return f"{type(exc).__name__}: {exc}" + (f" | log: {tail}" if tail else "")


class DockerRegistry(Registry):
    """Debian's ``docker-registry``: filesystem storage, no auth (or htpasswd as the stand-in)."""

    def start(self, pin: bool) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        port = free_port()
        auth = ""
        if self.side == "ecsbox":  # the stand-in: Basic auth like ecsbox's, via htpasswd
            self.credentials = Credentials("AWS", secrets.token_urlsafe(24))
            if hashed := bcrypt_hash(self.credentials.password):
                (self.root / "htpasswd").write_text(f"AWS:{hashed}\n")
                auth = f"auth:\n  htpasswd:\n    realm: ecsbox-bench\n    path: {self.root / 'htpasswd'}\n"
            else:
                self.credentials = None
        config = self.root / "config.yml"
        config.write_text(
            "version: 0.1\n"
            "log:\n  level: error\n  accesslog:\n    disabled: true\n"
            f"storage:\n  filesystem:\n    rootdirectory: {self.root / 'storage'}\n"
            "  maintenance:\n    uploadpurging:\n      enabled: false\n"
            f"http:\n  addr: 127.0.0.1:{port}\n  secret: {secrets.token_hex(16)}\n" + auth
        )
        self.server = AnswersServer(
            f"{self.side}-docker-registry", ["docker-registry", "serve", str(config)], "/v2/", port=port
        )
        self.host = f"localhost:{port}"
        self.server.start(self.root, pin)


def bcrypt_hash(password: str) -> str | None:
    """A bcrypt hash for htpasswd (cost 4: the registry checks it on every request), or None where
    Python has no ``crypt`` module (3.13 and later): the stand-in then runs without auth."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    hashed: str = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))
    return hashed


class EcsboxRegistry(Registry):
    """``ecsbox up`` in its own data directory; credentials from ECR's GetAuthorizationToken."""

    def start(self, pin: bool) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        port = free_port()
        command = [sys.executable, "-m", "ecsbox", "up", "--port", str(port)]
        command += ["--data-dir", str(self.root / "data"), "--log-level", "warning"]
        self.server = Server("ecsbox", command, "/_ecsbox/health", port=port)
        self.host = f"localhost:{port}"
        self.server.start(self.root, pin)
        import boto3

        ecr = boto3.client(
            "ecr",
            endpoint_url=self.server.endpoint,
            region_name=REGION,
            aws_access_key_id="AKIAECSBOXBENCH00003",
            aws_secret_access_key="ecsbox-benchmark-secret-access-key-0003",
        )
        data = ecr.get_authorization_token()["authorizationData"][0]
        username, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
        self.credentials = Credentials(username, password)
        endpoint = urllib.parse.urlsplit(data.get("proxyEndpoint") or "")
        if endpoint.hostname in ("localhost", "127.0.0.1") and endpoint.port == port:
            self.host = endpoint.netloc
        for repository in REPOSITORIES:
            with contextlib.suppress(ecr.exceptions.RepositoryAlreadyExistsException):
                ecr.create_repository(repositoryName=repository)


def make_registry(side: str, workdir: Path, stand_in: bool) -> Registry:
    root = workdir / f"{side}-{uuid.uuid4().hex[:6]}"
    if side == "ecsbox" and not stand_in:
        return EcsboxRegistry(side, root)
    return DockerRegistry(side, root)


# ---- the blob client -----------------------------------------------------------------------------


@dataclass
class Blob:
    data: bytes
    digest: str


def random_blobs(count: int, size: int) -> list[Blob]:
    blobs = [os.urandom(size) for _ in range(count)]
    return [Blob(data, "sha256:" + hashlib.sha256(data).hexdigest()) for data in blobs]


class BlobClient:
    """The OCI distribution API's blob endpoints over one keep-alive connection to 127.0.0.1,
    with the registry's own ``Host`` (ecsbox tells partitions apart by it)."""

    def __init__(self, port: int, host: str, credentials: Credentials | None) -> None:
        self.headers = {"Host": host}
        if credentials:
            self.headers["Authorization"] = credentials.authorization
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT_S)

    def close(self) -> None:
        self.conn.close()

    def call(
        self,
        method: str,
        target: str,
        expect: tuple[int, ...],
        body: bytes | memoryview | None = None,
        headers: dict[str, str] | None = None,
    ) -> http.client.HTTPResponse:
        """Send one request; the response is returned unread when its status is 200."""
        sent = {**self.headers, **(headers or {})}
        if body is not None or method in ("POST", "PUT", "PATCH"):
            sent["Content-Length"] = str(0 if body is None else len(body))
        try:
            self.conn.request(method, target, body=body, headers=sent)
            response = self.conn.getresponse()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            raise
        if response.status not in expect:
            detail = response.read(300).decode(errors="replace").strip()
            self.conn.close()
            raise SampleFailed(f"{method} {target.split('?')[0]}: HTTP {response.status} {detail}")
        if response.status != 200:
            response.read()
        return response

    def upload_monolithic(self, repository: str, blob: Blob) -> None:
        started = self.call("POST", f"/v2/{repository}/blobs/uploads/", (202,))
        self.call("PUT", with_digest(location(started), blob.digest), (201,), memoryview(blob.data),
                  {"Content-Type": "application/octet-stream"})  # fmt: skip

    def upload_chunked(self, repository: str, blob: Blob, chunk: int) -> None:
        target = location(self.call("POST", f"/v2/{repository}/blobs/uploads/", (202,)))
        view = memoryview(blob.data)
        for offset in range(0, len(view), chunk):
            part = view[offset : offset + chunk]
            headers = {
                "Content-Type": "application/octet-stream",
                "Content-Range": f"{offset}-{offset + len(part) - 1}",
            }
            target = location(self.call("PATCH", target, (202,), part, headers))
        self.call("PUT", with_digest(target, blob.digest), (201,))

    def download(self, repository: str, digest: str, into: memoryview) -> None:
        response = self.call("GET", f"/v2/{repository}/blobs/{digest}", (200, 301, 302, 303, 307))
        if response.status != 200:  # a redirect to where the bytes are
            url = urllib.parse.urlsplit(location(response, full=True))
            if not url.netloc:
                response = self.call("GET", location(response), (200,))
            else:  # elsewhere: a connection of its own, without our credentials
                other = http.client.HTTPConnection(url.netloc, timeout=HTTP_TIMEOUT_S)
                try:
                    other.request("GET", url.path + (f"?{url.query}" if url.query else ""))
                    answer = other.getresponse()
                    if answer.status != 200:
                        raise SampleFailed(f"GET {url.netloc}{url.path}: HTTP {answer.status}")
                    read_exactly(answer, into)
                finally:
                    other.close()
                return
        read_exactly(response, into)

    def get_json(self, target: str, accept: str) -> Any:
        response = self.call("GET", target, (200,), headers={"Accept": accept})
        return json.loads(response.read())


def location(response: http.client.HTTPResponse, full: bool = False) -> str:
    """The ``Location`` a registry answered with, as a path and query on this same connection."""
    value = response.getheader("Location")
    if not value:
        raise SampleFailed(f"HTTP {response.status} without a Location header")
    if full:
        return value
    url = urllib.parse.urlsplit(value)
    return (url.path or "/") + (f"?{url.query}" if url.query else "")


def with_digest(target: str, digest: str) -> str:
    return f"{target}{'&' if '?' in target else '?'}digest={urllib.parse.quote(digest, safe='')}"


def read_exactly(response: http.client.HTTPResponse, into: memoryview) -> None:
    length = response.getheader("Content-Length")
    if length is not None and int(length) != len(into):
        raise SampleFailed(f"GET answered {length} bytes, expected {len(into)}")
    got = 0
    while got < len(into):
        read = response.readinto(into[got:])
        if not read:
            raise SampleFailed(f"GET ended after {got} of {len(into)} bytes")
        got += read
    if response.read(1):
        raise SampleFailed(f"GET answered more than {len(into)} bytes")


# The client's ceiling: a sink that discards what it is sent and a source of zeros of one size, on
# loopback, in a process of its own. One connection at a time, HTTP/1.1 keep-alive, nothing else.
SINK_SOURCE = r"""
import socket, sys
size = int(sys.argv[1])
payload = bytes(size)
server = socket.create_server(("127.0.0.1", 0))
print(server.getsockname()[1], flush=True)
view = memoryview(bytearray(1 << 20))
def serve(conn):
    pending = b""
    while True:
        while b"\r\n\r\n" not in pending:
            chunk = conn.recv(65536)
            if not chunk:
                return
            pending += chunk
        head, _, pending = pending.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        buffered = min(len(pending), length)
        pending, left = pending[buffered:], length - buffered
        while left > 0:
            got = conn.recv_into(view[: min(left, len(view))])
            if not got:
                return
            left -= got
        if lines[0].startswith("GET "):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
            conn.sendall(payload)
        else:
            status = b"201 Created" if lines[0].startswith("PUT ") else b"202 Accepted"
            conn.sendall(b"HTTP/1.1 " + status + b"\r\nLocation: /v2/sink/blobs/uploads/1?_state=s\r\n"
                         b"Content-Length: 0\r\n\r\n")
while True:
    conn, _ = server.accept()
    with conn:
        serve(conn)
"""


@dataclass
class SinkSource:
    size: int
    process: subprocess.Popen[str] | None = None
    port: int = 0

    def start(self, pin: bool) -> None:
        command = (["taskset", "-c", SERVER_CPU] if pin else []) + [sys.executable, "-c", SINK_SOURCE]
        self.process = subprocess.Popen(
            [*command, str(self.size)], stdout=subprocess.PIPE, text=True, start_new_session=True
        )
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


# ---- the blob phase ------------------------------------------------------------------------------

BLOB_MODES = ("upload_monolithic", "upload_chunked", "download")


def measure_blobs(
    client: BlobClient, repository: str, mode: str, blobs: list[Blob], chunk: int, verify: bool
) -> list[float | str]:
    """MiB/s of each blob in one mode (the clock runs only while its bytes move), or an error string
    for the blob that failed, which ends the list."""
    os.sync()  # no writeback of earlier measurements' dirty pages during this one
    rates: list[float | str] = []
    buffer = bytearray(max(len(blob.data) for blob in blobs)) if mode == "download" else bytearray()
    try:
        for blob in blobs:
            view = memoryview(buffer)[: len(blob.data)]
            started = time.perf_counter()
            if mode == "upload_monolithic":
                client.upload_monolithic(repository, blob)
            elif mode == "upload_chunked":
                client.upload_chunked(repository, blob, chunk)
            else:
                client.download(repository, blob.digest, view)
            rates.append(len(blob.data) / MIB / (time.perf_counter() - started))
            if mode == "download" and verify and hashlib.sha256(view).hexdigest() != blob.digest[7:]:
                raise SampleFailed(f"GET {blob.digest[:19]}: the bytes differ from those uploaded")
    except (SampleFailed, http.client.HTTPException, OSError) as exc:
        rates.append(f"{type(exc).__name__}: {exc}")
    return rates


def blob_run(
    clients: dict[str, BlobClient], order: list[str], mono: list[Blob], chunked: list[Blob], chunk: int
) -> dict[str, dict[str, list[float | str]]]:
    """One run: each mode in turn on every server, so that the two sides' figures of a mode are
    seconds apart; each server downloads the blobs it took."""
    result: dict[str, dict[str, list[float | str]]] = {name: {} for name in order}
    uploaded: dict[str, list[Blob]] = {name: [] for name in order}
    for mode, blobs in (("upload_monolithic", mono), ("upload_chunked", chunked), ("download", None)):
        for name in order:
            repository, verify = ("sink", False) if name == "client_ceiling" else (BLOB_REPOSITORY, True)
            if blobs is None:  # download
                if not uploaded[name]:
                    result[name][mode] = ["SampleFailed: no blob was uploaded"]
                    continue
                result[name][mode] = measure_blobs(
                    clients[name], repository, mode, uploaded[name], chunk, verify
                )
            else:
                rates = measure_blobs(clients[name], repository, mode, blobs, chunk, verify)
                uploaded[name] += blobs[: sum(isinstance(rate, float) for rate in rates)]
                result[name][mode] = rates
    return result


def phase_blob(args: argparse.Namespace, run: Run, report: dict[str, Any]) -> None:
    size, chunk = args.blob_mib * MIB, args.chunk_mib * MIB
    pin = can_pin()
    previous_affinity = os.sched_getaffinity(0)
    if pin:
        os.sched_setaffinity(0, {int(CLIENT_CPU)})
    report["pinned"] = {"server_cpu": SERVER_CPU, "client_cpu": CLIENT_CPU} if pin else None
    samples: dict[str, dict[str, list[float | str]]] = {
        name: {mode: [] for mode in BLOB_MODES} for name in ("client_ceiling", *SIDES)
    }
    paired: dict[str, list[float]] = {mode: [] for mode in BLOB_MODES}
    clients: dict[str, BlobClient] = {}
    try:
        sink = SinkSource(size)
        run.sinks.append(sink)
        sink.start(pin)
        clients["client_ceiling"] = BlobClient(sink.port, f"127.0.0.1:{sink.port}", None)
        for side in SIDES:
            registry = run.start(side, pin)
            if isinstance(registry, str):
                report[side] = {"error": registry}
                continue
            clients[side] = BlobClient(registry.port, registry.host, registry.credentials)
            warm = random_blobs(2, MIB)  # not counted: the first connection, the first upload
            blob_run(clients, [side], warm[:1], warm[1:], chunk)
        for index in range(args.blob_runs):
            print(f"[blob] run {index + 1}/{args.blob_runs}", file=sys.stderr)
            blobs = random_blobs(2 * args.blobs, size)
            order = [side for side in SIDES if side in clients]
            order = ["client_ceiling", *(order if index % 2 == 0 else order[::-1])]
            result = blob_run(clients, order, blobs[: args.blobs], blobs[args.blobs :], chunk)
            for name, modes in result.items():
                for mode, rates in modes.items():
                    samples[name][mode] += rates
            for mode in BLOB_MODES if set(SIDES) <= result.keys() else ():
                # The same blob on both sides, seconds apart: run-to-run drift cancels out.
                pairs = zip(result["ecsbox"][mode], result["reference"][mode], strict=False)
                paired[mode] += [
                    ours / theirs
                    for ours, theirs in pairs
                    if isinstance(ours, float) and isinstance(theirs, float)
                ]
    finally:
        for client in clients.values():
            client.close()
        os.sched_setaffinity(0, previous_affinity)
        for name, modes in samples.items():
            summaries = {mode: summarise_rates(rates) for mode, rates in modes.items()}
            report.setdefault(name, {}).update(summaries)
        report["ratios"] = {mode: median_or_none(paired[mode]) for mode in BLOB_MODES}
        report["ratios_of_p50s"] = {mode: ratio_of(report, mode, "p50_mib_s") for mode in BLOB_MODES}
        report["goal"] = f"every ratio >= {GOAL}: {PAIRED_RATIO}"
        report["goal_met"] = goal_met(report["ratios"])


# ---- docker and skopeo ---------------------------------------------------------------------------


def command(
    *args: str,
    env: dict[str, str] | None = None,
    input_text: str | None = None,
    timeout: float = COMMAND_TIMEOUT_S,
) -> str:
    try:
        done = subprocess.run(
            args, capture_output=True, text=True, env=env, input=input_text, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        raise SampleFailed(f"{' '.join(args[:2])}: no answer in {timeout:g} s") from exc
    if done.returncode != 0:
        lines = (done.stderr.strip() or done.stdout.strip() or str(done.returncode)).splitlines()
        raise SampleFailed(f"{' '.join(args[:2])}: {lines[-1][:400]}")
    return done.stdout.strip()


def timed(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


@dataclass
class Image:
    """The benchmark image on the engine."""

    tag: str
    image_id: str = ""
    built_s: float | None = None


class Run:
    """Everything this run starts or makes, for the cleanup at the end."""

    def __init__(self, workdir: Path, stand_in: bool) -> None:
        self.workdir = workdir
        self.stand_in = stand_in
        self.run_id = uuid.uuid4().hex[:8]
        self.label = f"ecsbox-bench.registry={self.run_id}"
        self.registries: list[Registry] = []
        self.sinks: list[SinkSource] = []
        self.tags: set[str] = set()
        self.docker_env = {**os.environ, "DOCKER_CONFIG": str(docker_config(workdir)), "DOCKER_BUILDKIT": "0"}
        self.image = Image(f"ecsbox-bench/registry:{self.run_id}")

    def docker(self, *args: str, input_text: str | None = None) -> str:
        slow = args[0] in ("push", "pull", "build")
        timeout = COMMAND_TIMEOUT_S if slow else QUICK_TIMEOUT_S
        return command("docker", *args, env=self.docker_env, input_text=input_text, timeout=timeout)

    def start(self, side: str, pin: bool) -> Registry | str:
        """A started registry (logged in, when it wants credentials), or why it did not start."""
        registry = make_registry(side, self.workdir, self.stand_in)
        self.registries.append(registry)
        print(f"[{side}] starting {type(registry).__name__}", file=sys.stderr)
        try:
            registry.start(pin)
            if registry.credentials:
                self.docker("login", "-u", registry.credentials.username, "--password-stdin", registry.host,
                            input_text=registry.credentials.password)  # fmt: skip
        except Exception as exc:
            failure = registry.failure(exc)
            self.stop(registry)
            return failure
        return registry

    def stop(self, registry: Registry) -> None:
        registry.stop()
        if registry in self.registries:
            self.registries.remove(registry)

    @contextlib.contextmanager
    def fresh_pair(self) -> Iterator[dict[str, Registry | str]]:
        pair = {side: self.start(side, pin=False) for side in SIDES}
        try:
            yield pair
        finally:
            for registry in pair.values():
                if isinstance(registry, Registry):
                    self.stop(registry)

    def tag(self, target: str) -> None:
        self.docker("tag", self.image.image_id, target)
        self.tags.add(target)

    def untag(self, *targets: str) -> list[str]:
        """Removes these tags; says which removals failed (the tag may be gone, the image not)."""
        failures = []
        for target in targets:
            try:
                self.docker("rmi", target)
            except SampleFailed as exc:
                failures.append(str(exc))
            self.tags.discard(target)
        return failures

    def image_present(self) -> bool:
        try:
            return self.docker("image", "inspect", "-f", "{{.Id}}", self.image.image_id) != ""
        except SampleFailed:
            return False

    def build_image(self, layers: int, layer_bytes: int) -> None:
        sys.path.insert(0, str(REPO))
        from tests.support.images import busybox_image

        busybox_image()
        context = self.workdir / "image-context"
        context.mkdir(exist_ok=True)
        lines = [f"FROM {BASE_IMAGE}"]
        for number in range(1, layers + 1):
            with (context / f"layer-{number}.bin").open("wb") as out:
                for offset in range(0, layer_bytes, 8 * MIB):
                    out.write(os.urandom(min(8 * MIB, layer_bytes - offset)))
            lines.append(f"COPY layer-{number}.bin /bench/layer-{number}.bin")
        lines.append(f"LABEL {self.label}")
        (context / "Dockerfile").write_text("\n".join(lines) + "\n")
        print(f"[docker] building {self.image.tag} ({layers} x {layer_bytes // MIB} MiB)", file=sys.stderr)
        started = time.perf_counter()
        self.docker("build", "-q", "--force-rm", "-t", self.image.tag, str(context))
        self.image.built_s = time.perf_counter() - started
        self.tags.add(self.image.tag)
        self.image.image_id = self.docker("image", "inspect", "-f", "{{.Id}}", self.image.tag)
        shutil.rmtree(context, ignore_errors=True)

    def restore_image(self, targets: dict[str, str]) -> None:
        """The image back under its own tag after the pulls (re-pulled untimed if the last one failed)."""
        for side in ("reference", "ecsbox"):
            if self.image_present():
                break
            if side in targets:
                with contextlib.suppress(SampleFailed):
                    self.docker("pull", "-q", targets[side])
                    self.tags.add(targets[side])
        if not self.image_present():
            raise SampleFailed("the image is gone and no registry gave it back")
        self.tag(self.image.tag)
        self.untag(*targets.values())

    def cleanup(self) -> list[str]:
        """Stops and removes everything; says what could not be removed."""
        for sink in self.sinks:
            sink.stop()
        for registry in list(self.registries):
            self.stop(registry)
        failures = self.untag(*sorted(self.tags))
        try:
            leftovers = self.docker("images", "-q", "--filter", f"label={self.label}").split()
            if leftovers:
                self.docker("rmi", "-f", *sorted(set(leftovers)))
        except SampleFailed as exc:
            failures.append(f"{exc} (remove what is left: docker images --filter label={self.label})")
        return failures


def docker_config(workdir: Path) -> Path:
    """A DOCKER_CONFIG of this run's own, so that ``docker login`` writes nothing of the user's: the
    user's settings without their credentials, and their contexts."""
    source = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
    target = workdir / "docker-config"
    target.mkdir(exist_ok=True)
    settings: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        settings = json.loads((source / "config.json").read_text())
    for key in ("auths", "credsStore", "credHelpers"):
        settings.pop(key, None)
    (target / "config.json").write_text(json.dumps(settings))
    if (source / "contexts").is_dir():
        (target / "contexts").symlink_to(source / "contexts")
    return target


def manifest_bytes(registry: Registry | None, repository: str, tag: str) -> int | None:
    """What a push or pull of ``tag`` transfers: the config and every layer, as the manifest on the
    reference gives their sizes (None when the reference does not have it)."""
    if registry is None:
        return None
    client = BlobClient(registry.port, registry.host, registry.credentials)
    try:
        manifest = client.get_json(f"/v2/{repository}/manifests/{tag}", MANIFEST_TYPES)
        return int(manifest["config"]["size"]) + sum(int(layer["size"]) for layer in manifest["layers"])
    except (SampleFailed, http.client.HTTPException, OSError, ValueError, KeyError, TypeError):
        return None
    finally:
        client.close()


def sample(action: Callable[[], float]) -> dict[str, Any]:
    os.sync()  # no writeback of earlier samples' dirty pages (layers, registry storage) during this one
    try:
        return {"seconds": action()}
    except SampleFailed as exc:
        return {"error": str(exc)}
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}


Results = dict[str, dict[str, list[dict[str, Any]]]]


def docker_run(run: Run, index: int, results: Results) -> int | None:
    """One push and one pull per side on a fresh pair; the bytes a push transfers."""
    tag = f"run{index + 1}"
    with run.fresh_pair() as pair:
        registries = {side: r for side, r in pair.items() if isinstance(r, Registry)}
        for side, registry in pair.items():
            if isinstance(registry, str):
                for action in ("push", "pull"):
                    results[side][action].append({"error": f"server did not start: {registry}"})
        targets = {side: f"{r.host}/{IMAGE_REPOSITORY}:{tag}" for side, r in registries.items()}
        order = list(registries) if index % 2 == 0 else list(registries)[::-1]
        for side in order:
            run.tag(targets[side])
        for side in order:
            print(f"[docker] run {index + 1}: push {side}", file=sys.stderr)
            results[side]["push"].append(sample(lambda: timed(lambda: run.docker("push", targets[side]))))  # noqa: B023
        transferred = manifest_bytes(registries.get("reference"), IMAGE_REPOSITORY, tag)
        # Every tag off the image, so that each pull downloads and extracts every layer of its own.
        failures = run.untag(*targets.values(), run.image.tag)
        if run.image_present():  # a pull now would find every layer there: no pull this run
            why = f"image not removed before the pulls: {'; '.join(failures) or 'still present'}"
            for side in order:
                results[side]["pull"].append({"error": why})
            order = []
        for position, side in enumerate(order):
            print(f"[docker] run {index + 1}: pull {side}", file=sys.stderr)

            def pull(side: str = side) -> float:
                seconds = timed(lambda: run.docker("pull", "-q", targets[side]))
                run.tags.add(targets[side])
                pulled = run.docker("image", "inspect", "-f", "{{.Id}}", targets[side])
                if pulled != run.image.image_id:
                    raise SampleFailed(
                        f"pulled image {pulled[:19]} is not the pushed {run.image.image_id[:19]}"
                    )
                return seconds

            results[side]["pull"].append(sample(pull))
            if position < len(order) - 1:
                run.untag(targets[side])
        run.restore_image(targets)
        return transferred


def skopeo_run(run: Run, index: int, results: Results) -> int | None:
    """One ``skopeo copy`` to and one from each side on a fresh pair; the bytes a push transfers."""
    tag = f"run{index + 1}"
    env = {**os.environ, "TMPDIR": str(run.workdir)}  # docker-daemon: spools the image there
    with run.fresh_pair() as pair:
        registries = {side: r for side, r in pair.items() if isinstance(r, Registry)}
        for side, registry in pair.items():
            if isinstance(registry, str):
                for action in ("push", "pull"):
                    results[side][action].append({"error": f"server did not start: {registry}"})
        order = list(registries) if index % 2 == 0 else list(registries)[::-1]

        def copy(side: str, push: bool) -> float:
            registry = registries[side]
            remote = f"docker://{registry.host}/{SKOPEO_REPOSITORY}:{tag}"
            way = "dest" if push else "src"
            args = ["skopeo", "copy", "--quiet", f"--{way}-tls-verify=false"]
            if registry.credentials:
                args += [f"--{way}-creds", f"{registry.credentials.username}:{registry.credentials.password}"]
            pulled = run.workdir / f"skopeo-pull-{side}"
            args += [f"docker-daemon:{run.image.tag}", remote] if push else [remote, f"dir:{pulled}"]
            try:
                return timed(lambda: command(*args, env=env))
            finally:
                shutil.rmtree(pulled, ignore_errors=True)

        for action in ("push", "pull"):
            for side in order:
                print(f"[skopeo] run {index + 1}: {action} {side}", file=sys.stderr)
                results[side][action].append(sample(lambda: copy(side, action == "push")))  # noqa: B023
            if action == "push":
                transferred = manifest_bytes(registries.get("reference"), SKOPEO_REPOSITORY, tag)
    return transferred


def phase_images(
    name: str,
    one_run: Callable[[Run, int, Results], int | None],
    runs: int,
    run: Run,
    report: dict[str, Any],
) -> None:
    results: Results = {side: {"push": [], "pull": []} for side in SIDES}
    transferred: int | None = None
    try:
        for index in range(runs):
            transferred = one_run(run, index, results) or transferred
    finally:
        megabytes = transferred / MIB if transferred else None
        report["image_mib"] = rounded(megabytes, 1)
        for side in SIDES:
            report[side] = {
                action: summarise_times(samples, megabytes) for action, samples in results[side].items()
            }
        key = "p50_mib_s" if megabytes else "p50_per_s"
        report["ratios"] = {action: paired_ratio(results, action) for action in ("push", "pull")}
        report["ratios_of_p50s"] = {action: ratio_of(report, action, key) for action in ("push", "pull")}
        report["goal"] = f"every ratio >= {GOAL}: {PAIRED_RATIO}"
        report["goal_met"] = goal_met(report["ratios"])
        print(f"[{name}] done", file=sys.stderr)


# ---- summaries -----------------------------------------------------------------------------------


def summarise_rates(rates: list[float | str]) -> dict[str, Any]:
    """Per-blob MiB/s, with error strings for the blobs that failed. ``mean_mib_s`` is the harmonic
    mean: bytes over seconds, all blobs of a mode being the same size."""
    values = sorted(rate for rate in rates if isinstance(rate, float))
    result: dict[str, Any] = {
        "n": len(values),
        "p50_mib_s": rounded(percentile(values, 0.5), 1),
        "p10_mib_s": rounded(percentile(values, 0.1), 1),
        "p90_mib_s": rounded(percentile(values, 0.9), 1),
        "mean_mib_s": rounded(len(values) / sum(1 / value for value in values), 1) if values else None,
    }
    if errors := [rate for rate in rates if isinstance(rate, str)]:
        result["errors"] = errors
    return result


def summarise_times(samples: list[dict[str, Any]], megabytes: float | None) -> dict[str, Any]:
    seconds = sorted(s["seconds"] for s in samples if "seconds" in s)
    rates = sorted(megabytes / s for s in seconds) if megabytes else []
    result: dict[str, Any] = {
        "n": len(seconds),
        "p50_s": rounded(percentile(seconds, 0.5), 2),
        "p50_mib_s": rounded(percentile(rates, 0.5), 1),
        "samples_s": [rounded(s.get("seconds"), 2) for s in samples],
    }
    if not megabytes:  # no size to divide by: compare 1 / seconds instead
        result["p50_per_s"] = rounded(1 / seconds[len(seconds) // 2], 4) if seconds else None
    if errors := [s["error"] for s in samples if "error" in s]:
        result["errors"] = errors
    return result


def ratio_of(report: dict[str, Any], measurement: str, key: str) -> float | None:
    ours = report.get("ecsbox", {}).get(measurement, {}).get(key)
    theirs = report.get("reference", {}).get(measurement, {}).get(key)
    return round(ours / theirs, 3) if ours and theirs else None


def median_or_none(ratios: list[float]) -> float | None:
    """The median (the mean of the middle two of an even count: no lean either way), 3 digits."""
    return round(statistics.median(ratios), 3) if ratios else None


def paired_ratio(results: Results, action: str) -> float | None:
    """The median over runs of reference seconds / ecsbox seconds (ecsbox's throughput relative to
    the reference's in the same run)."""
    pairs = zip(results["ecsbox"][action], results["reference"][action], strict=False)
    ratios = sorted(
        theirs["seconds"] / ours["seconds"]
        for ours, theirs in pairs
        if "seconds" in ours and "seconds" in theirs
    )
    return median_or_none(ratios)


def goal_met(ratios: dict[str, float | None]) -> bool | None:
    if any(value is None for value in ratios.values()):
        return None
    return all(value is not None and value >= GOAL for value in ratios.values())


# ---- the run -------------------------------------------------------------------------------------


@contextlib.contextmanager
def no_interrupts() -> Iterator[None]:
    """Cleanup runs to its end: a second Ctrl-C or SIGTERM must not leave servers or images behind."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def tool_version(*args: str) -> str | None:
    try:
        return command(*args).splitlines()[0]
    except (SampleFailed, OSError, IndexError):
        return None


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "docker": tool_version("docker", "version", "-f", "{{.Server.Version}}"),
        "docker_registry": tool_version("docker-registry", "--version"),
        "skopeo": tool_version("skopeo", "--version"),
        "ecsbox": version_of("ecsbox"),
    }


def error_flags(document: dict[str, Any]) -> list[str]:
    """One line per server and measurement with failed samples (their ratios use the rest)."""
    flags = []
    for phase in PHASES:
        for side in SIDES:
            report = document.get(phase, {}).get(side, {})
            if "error" in report:
                flags.append(f"{phase} {side}: {report['error']}")
            for measurement, summary in report.items():
                if isinstance(summary, dict) and summary.get("errors"):
                    first = summary["errors"][0]
                    flags.append(
                        f"{phase} {side} {measurement}: {len(summary['errors'])} failed, first: {first}"
                    )
    return flags


def missing_tools(args: argparse.Namespace) -> list[str]:
    """Drops from ``args.only`` the phases whose tools are missing; says which and why."""
    install = "(./scripts/test installs it as root on Debian)"
    needs = {"docker-registry": PHASES, "docker": ("docker", "skopeo"), "skopeo": ("skopeo",)}
    flags = []
    for tool, phases in needs.items():
        if shutil.which(tool) is None and (skipped := [p for p in args.only if p in phases]):
            args.only = [p for p in args.only if p not in phases]
            package = "docker.io" if tool == "docker" else tool
            flags.append(f"{tool} is not installed: apt-get install {package} {install}; skipped {skipped}")
    return flags


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", default=",".join(PHASES), help="comma-separated phases: blob,docker,skopeo")
    parser.add_argument("--blob-runs", type=int, default=8, help="blob phase runs (8)")
    parser.add_argument("--blobs", type=int, default=4, help="blobs per run and upload mode (4)")
    parser.add_argument("--blob-mib", type=int, default=50, help="MiB per blob (50)")
    parser.add_argument("--chunk-mib", type=int, default=8, help="MiB per PATCH of a chunked upload (8)")
    parser.add_argument("--runs", type=int, default=9, help="docker push + pull runs per server (9)")
    parser.add_argument("--skopeo-runs", type=int, default=3, help="skopeo copy runs per server (3)")
    parser.add_argument("--layers", type=int, default=4, help="random-data layers of the image (4)")
    parser.add_argument("--layer-mib", type=int, default=50, help="MiB per layer (50)")
    parser.add_argument("--out", type=Path, help="also write the JSON document to this file")
    # Development only: a docker-registry with htpasswd auth plays ecsbox (checks this script).
    parser.add_argument("--stand-in", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    if unknown := set(args.only) - set(PHASES):
        parser.error(f"unknown phase(s) {sorted(unknown)}; choose from {', '.join(PHASES)}")
    for option in (
        "blob_runs",
        "blobs",
        "blob_mib",
        "chunk_mib",
        "runs",
        "skopeo_runs",
        "layers",
        "layer_mib",
    ):
        if getattr(args, option) < 1:
            parser.error(f"--{option.replace('_', '-')} must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"  # loopback only
    document: dict[str, Any] = {
        "benchmark": "registry",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "ecsbox_side": "stand-in: docker-registry with htpasswd auth" if args.stand_in else "ecsbox",
        "settings": {
            "phases": args.only,
            "blob_runs": args.blob_runs,
            "blobs_per_mode": args.blobs,
            "blob_mib": args.blob_mib,
            "chunk_mib": args.chunk_mib,
            "docker_runs": args.runs,
            "skopeo_runs": args.skopeo_runs,
            "image_layers": f"{args.layers} x {args.layer_mib} MiB random, on {BASE_IMAGE}",
        },
    }
    flags = missing_tools(args)
    interrupted = False
    started = time.perf_counter()
    with sigterm_as_interrupt(), tempfile.TemporaryDirectory(prefix="ecsbox-bench-registry-") as tmp:
        run = Run(Path(tmp), args.stand_in)
        try:
            if "blob" in args.only:
                document["blob"] = {}
                phase_blob(args, run, document["blob"])
            if {"docker", "skopeo"} & set(args.only):
                run.build_image(args.layers, args.layer_mib * MIB)
                document["image"] = {"tag": run.image.tag, "id": run.image.image_id,
                                     "build_s": rounded(run.image.built_s, 1)}  # fmt: skip
            if "docker" in args.only:
                document["docker"] = {}
                phase_images("docker", docker_run, args.runs, run, document["docker"])
            if "skopeo" in args.only:
                if not run.image_present():  # the docker phase lost it
                    run.build_image(args.layers, args.layer_mib * MIB)
                document["skopeo"] = {}
                phase_images("skopeo", skopeo_run, args.skopeo_runs, run, document["skopeo"])
        except KeyboardInterrupt:
            interrupted = True
        except Exception as exc:
            flags.append(f"run failed: {type(exc).__name__}: {exc}")
        finally:
            with no_interrupts():
                print("[cleanup] servers, tags and images of this run", file=sys.stderr)
                flags += [f"cleanup: {failure}" for failure in run.cleanup()]
    document["seconds"] = round(time.perf_counter() - started, 1)
    if args.stand_in:
        flags.append("stand-in: the 'ecsbox' side is a second docker-registry, not ecsbox")
    if "blob" in args.only and not document["blob"].get("pinned"):
        flags.append("blob phase not pinned: taskset or a second CPU is missing")
    flags.append("docker and skopeo phases not pinned: dockerd/skopeo and the registry share the CPUs")
    flags += error_flags(document)
    document["summary"] = {
        phase: {"ratios": document[phase].get("ratios"), "goal_met": document[phase].get("goal_met")}
        for phase in PHASES
        if phase in document
    }
    return print_report(document, flags, interrupted, args.out)


if __name__ == "__main__":
    sys.exit(main())
