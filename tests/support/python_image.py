"""A Debian image with Python 3 and boto3, built locally (no image registry to pull from).

``debootstrap --variant=minbase --include=python3 bookworm`` makes the root file system (about 35 s,
Debian's package mirror is reachable), the host's pip installs boto3 (pure Python) into its
``dist-packages``, and ``tar | docker import`` turns it into an image. Built once per engine: an
image already tagged so is used as it is.
"""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import docker
import docker.errors

PYTHON_TAG = "ecsbox-test/python:bookworm"
SUITE = "bookworm"

_build_lock = threading.Lock()


class ImageUnavailable(Exception):
    """The image cannot be built on this machine (no debootstrap, no package mirror, no pip)."""


def _debootstrap() -> str:
    found = shutil.which("debootstrap") or (
        "/usr/sbin/debootstrap" if Path("/usr/sbin/debootstrap").exists() else None
    )
    if found:
        return found
    if shutil.which("apt-get") is None:
        raise ImageUnavailable("no debootstrap and no apt-get to install it")
    installed = subprocess.run(
        ["apt-get", "install", "-y", "--no-install-recommends", "debootstrap"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if installed.returncode != 0:
        raise ImageUnavailable(f"apt-get install debootstrap failed: {installed.stderr[-2000:]}")
    return shutil.which("debootstrap") or "/usr/sbin/debootstrap"


def _run(command: list[str], what: str, timeout: float) -> None:
    completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if completed.returncode != 0:
        raise ImageUnavailable(f"{what} failed ({completed.returncode}): {completed.stderr[-3000:]}")


def _boto3_requirement() -> str:
    """The host's boto3 version, so the image's SDK speaks the same wire as the tests' own."""
    try:
        return f"boto3=={importlib.metadata.version('boto3')}"
    except importlib.metadata.PackageNotFoundError:
        return "boto3"


def build_python_root(root: Path) -> None:
    """A Debian root file system with python3 and boto3 in ``root``."""
    _run(
        [_debootstrap(), "--variant=minbase", "--include=python3", SUITE, str(root)],
        "debootstrap",
        timeout=900,
    )
    site_packages = root / "usr" / "lib" / "python3" / "dist-packages"
    _run(
        [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--no-compile", "--target", str(site_packages), _boto3_requirement(),
        ],
        "pip install boto3",
        timeout=600,
    )  # fmt: skip
    # The image carries no apt caches or logs it will never use.
    for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
        shutil.rmtree(root / leftover, ignore_errors=True)


def import_root(root: Path, tag: str) -> None:
    """``tar -C root -c . | docker import - tag`` with a PATH and ``python3`` as the command."""
    tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
    assert tar.stdout is not None
    try:
        imported = subprocess.run(
            [
                "docker", "import",
                "--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "--change", "ENV LANG=C.UTF-8",
                "--change", 'CMD ["python3"]',
                "-", tag,
            ],
            stdin=tar.stdout,
            capture_output=True,
            text=True,
            timeout=300,
        )  # fmt: skip
    finally:
        tar.stdout.close()
        tar.wait(timeout=300)
    if imported.returncode != 0 or tar.returncode != 0:
        raise ImageUnavailable(f"docker import failed: {imported.stderr[-2000:]}")


def python_image(tag: str = PYTHON_TAG, client: docker.APIClient | None = None) -> str:
    """``tag`` on the engine: Debian bookworm with python3 and boto3. Built when missing."""
    client = client or docker.APIClient(version="auto")
    with _build_lock:
        try:
            client.inspect_image(tag)
            return tag
        except docker.errors.NotFound:
            pass
        with tempfile.TemporaryDirectory(prefix="ecsbox-python-image-") as tmp:
            root = Path(tmp) / "root"
            try:
                build_python_root(root)
                import_root(root, tag)
            finally:
                # debootstrap leaves root-owned device nodes; rmtree copes as root.
                shutil.rmtree(root, ignore_errors=True)
        return tag


if __name__ == "__main__":  # build (or find) the image: python -m tests.support.python_image
    print(python_image())
