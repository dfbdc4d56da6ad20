"""The delivery HTTP client against real sockets on 127.0.0.1: what it sends, what it makes of the
answers, and of no answer."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ecsbox.notify.http_client import HttpAnswer, post, status_of


class Recorder(BaseHTTPRequestHandler):
    requests: list[tuple[str, dict[str, str], bytes]] = []
    status = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Recorder.requests.append((self.path, dict(self.headers), body))
        self.send_response(Recorder.status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass


@pytest.fixture()
def server() -> Iterator[int]:
    Recorder.requests = []
    Recorder.status = 200
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_port
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_post_and_its_answer(server: int) -> None:
    url = f"http://ops:p%40ss@127.0.0.1:{server}/sns?env=test"
    answer = asyncio.run(post(url, [("x-amz-sns-message-type", "Notification")], "héllo".encode(), 5.0))
    assert answer == HttpAnswer(200)
    ((path, headers, body),) = Recorder.requests
    assert path == "/sns?env=test"
    assert headers["x-amz-sns-message-type"] == "Notification"
    assert headers["Host"] == f"127.0.0.1:{server}"
    assert headers["Authorization"] == "Basic b3BzOnBAc3M="  # ops:p@ss
    assert body == "héllo".encode()


@pytest.mark.parametrize("status", [201, 404, 500])
def test_the_status_is_passed_on(server: int, status: int) -> None:
    Recorder.status = status
    assert asyncio.run(post(f"http://127.0.0.1:{server}/", [], b"x", 5.0)).status == status


def test_no_listener_is_no_answer() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        answer = asyncio.run(post(f"http://127.0.0.1:{port}/", [], b"x", 5.0))
    assert answer.status is None and answer.error is not None and "ConnectionRefusedError" in answer.error


def test_an_endpoint_that_never_answers_times_out() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)  # accepts the connection, never reads or answers
        answer = asyncio.run(post(f"http://127.0.0.1:{sock.getsockname()[1]}/", [], b"x", 0.3))
    assert answer == HttpAnswer(None, "no answer within 0.3 s")


def test_an_answer_that_is_not_http() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)

        def babble() -> None:
            conn, _ = sock.accept()
            conn.recv(65536)
            conn.sendall(b"SSH-2.0-OpenSSH\r\n")
            conn.close()

        threading.Thread(target=babble, daemon=True).start()
        answer = asyncio.run(post(f"http://127.0.0.1:{sock.getsockname()[1]}/", [], b"x", 5.0))
    assert answer == HttpAnswer(None, "the endpoint did not answer in HTTP")


@pytest.mark.parametrize(
    ("line", "status"),
    [(b"HTTP/1.1 204 No Content\r\n", 204), (b"HTTP/1.0 500\r\n", 500), (b"", None), (b"ICY 200 OK", None),
     (b"HTTP/1.1 OK", None)],
)  # fmt: skip
def test_status_lines(line: bytes, status: int | None) -> None:
    assert status_of(line) == status
