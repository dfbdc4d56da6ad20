"""Test images built locally, since no registry can be reached: busybox in ``FROM scratch``."""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path

import docker
import docker.errors

from ecsbox.runtime.images import build_image_with_client

BUSYBOX_TAG = "ecsbox-test/busybox:latest"
BUSYBOX_DOCKERFILE = 'FROM scratch\nCOPY bin /bin\nENV PATH=/bin\nCMD ["sh"]\n'

_build_lock = threading.Lock()


def host_busybox() -> Path:
    """The host's static busybox (Debian's busybox-static)."""
    found = shutil.which("busybox") or "/bin/busybox"
    path = Path(found)
    if not path.exists():
        raise FileNotFoundError("no busybox on this machine: apt-get install -y busybox-static")
    return path


def busybox_image(tag: str = BUSYBOX_TAG, client: docker.APIClient | None = None) -> str:
    """``tag`` on the engine: a FROM scratch image with /bin/busybox, every applet as a symlink in
    /bin, PATH=/bin, CMD ["sh"]. Built once; an image already tagged so is used as it is."""
    client = client or docker.APIClient(version="auto")
    with _build_lock:
        try:
            client.inspect_image(tag)
            return tag
        except docker.errors.NotFound:
            pass
        busybox = host_busybox()
        applets = subprocess.run([str(busybox), "--list"], check=True, capture_output=True, text=True).stdout
        symlinks = {f"bin/{name}": "busybox" for name in applets.split() if name and name != "busybox"}
        files = {"bin/busybox": (busybox.read_bytes(), 0o755)}
        build_image_with_client(
            client, tag, files, BUSYBOX_DOCKERFILE, symlinks=symlinks, labels={"ecsbox.test": "1"}
        )
        return tag


WEB_TAG = "ecsbox-test/web:latest"
# A stand-in for the seed article's PHP web application: busybox httpd on port 80 by default, which
# leaves on SIGTERM (as a web server's image does), so the seed's task definition runs unchanged.
WEB_DOCKERFILE = (
    f"FROM {BUSYBOX_TAG}\n"
    "COPY www /www\n"
    'CMD ["sh", "-c", "trap \'exit 0\' TERM; httpd -f -p 80 -h /www & wait"]\n'
)


def web_image(tag: str = WEB_TAG, client: docker.APIClient | None = None) -> str:
    """``tag``: the busybox image serving ``/www`` on port 80 by default. Built once."""
    client = client or docker.APIClient(version="auto")
    busybox_image(client=client)
    with _build_lock:
        try:
            client.inspect_image(tag)
            return tag
        except docker.errors.NotFound:
            pass
        files = {"www/index.html": (b"<html><body>php-sample-fargate</body></html>\n", 0o644)}
        build_image_with_client(client, tag, files, WEB_DOCKERFILE, labels={"ecsbox.test": "1"})
        return tag
