"""The example images built by scripts/build-images.sh, run directly on the Docker engine.

web answers on port 80 with its hostname and logs each request, sleeper stops at once on
`docker stop`, crasher exits with its code; a second build reuses the images by content hash.
"""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest
from docker.models.containers import Container

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "scripts" / "build-images.sh"
TEST_LABEL = "tinykube.io/test"
IMAGES = ("tinykube/web:1", "tinykube/sleeper:1", "tinykube/crasher:1")

Runner = Callable[..., Container]


@pytest.fixture(scope="module")
def engine() -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    try:
        client.ping()
    except docker.errors.DockerException as e:
        client.close()
        pytest.fail(f"no Docker engine answers ({e}); `make test` sets one up")
    result = subprocess.run(
        ["bash", str(BUILD)], capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stderr
    yield client
    client.close()


@pytest.fixture
def run(engine: docker.DockerClient) -> Iterator[Runner]:
    """Start a labelled container; every one started is removed afterwards."""
    run_id = uuid.uuid4().hex[:8]
    started: list[Container] = []

    def start(
        image: str, *, hostname: str | None = None, environment: dict[str, str] | None = None
    ) -> Container:
        c = engine.containers.run(
            image,
            detach=True,
            labels={TEST_LABEL: f"images-{run_id}"},
            hostname=hostname,
            environment=environment,
        )
        started.append(c)
        return c

    yield start
    for c in started:
        c.remove(force=True)


def wait_until(check: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"{what} not true after {timeout}s (last: {last!r})")


def fetch(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            body: bytes = answer.read()
            return body.decode()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def test_images_are_labelled_examples(engine: docker.DockerClient) -> None:
    for ref in IMAGES:
        labels = engine.images.get(ref).labels
        assert labels["tinykube.io/example-image"] == "true", ref
        assert len(labels["tinykube.io/content-hash"]) == 16, ref


def test_second_build_reuses_images(engine: docker.DockerClient) -> None:
    before = {ref: engine.images.get(ref).id for ref in IMAGES}
    result = subprocess.run(["bash", str(BUILD)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("is up to date") == len(IMAGES)
    assert {ref: engine.images.get(ref).id for ref in IMAGES} == before


def test_web_serves_its_hostname_and_logs_requests(run: Runner) -> None:
    hostname = f"web-{uuid.uuid4().hex[:6]}"
    c = run("tinykube/web:1", hostname=hostname)
    c.reload()
    ip = c.attrs["NetworkSettings"]["IPAddress"]
    assert ip, "the web container has no IP on the default bridge"
    body = wait_until(lambda: fetch(f"http://{ip}:80/"), 10, "web answering")
    assert body == f"Hello from {hostname}\n"
    # httpd logs a request after answering it, so the line may come a moment after the page.
    wait_until(lambda: "response:200" in c.logs().decode(), 5, "the request logged")
    assert f"serving http on port 80 as {hostname}" in c.logs().decode()


def test_web_stops_promptly(run: Runner) -> None:
    c = run("tinykube/web:1")
    wait_until(lambda: "serving" in c.logs().decode(), 10, "web started")
    started = time.monotonic()
    c.stop(timeout=10)
    assert time.monotonic() - started < 2
    c.reload()
    assert c.attrs["State"]["ExitCode"] == 0


def test_sleeper_runs_until_stopped_then_exits_zero(run: Runner) -> None:
    c = run("tinykube/sleeper:1")
    wait_until(lambda: "sleeper: started" in c.logs().decode(), 10, "sleeper started")
    c.reload()
    assert c.status == "running"
    started = time.monotonic()
    c.stop(timeout=10)
    assert time.monotonic() - started < 2
    c.reload()
    assert c.attrs["State"]["ExitCode"] == 0


def test_crasher_exits_one_after_a_delay(run: Runner) -> None:
    started = time.monotonic()
    c = run("tinykube/crasher:1", environment={"CRASH_AFTER": "0.5"})
    assert c.wait(timeout=10)["StatusCode"] == 1
    assert time.monotonic() - started >= 0.5
    assert "crasher: started" in c.logs().decode()


def test_crasher_exit_code_is_configurable(run: Runner) -> None:
    c = run("tinykube/crasher:1", environment={"CRASH_AFTER": "0", "EXIT_CODE": "3"})
    assert c.wait(timeout=10)["StatusCode"] == 3
