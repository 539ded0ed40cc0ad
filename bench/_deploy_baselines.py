"""The baselines of the deployment benchmark, on the same Docker engine as tinykube:
Docker Swarm on this engine (``docker swarm init`` ... ``docker swarm leave --force``) running a
service through the same steps, and the raw floor: each pod's containers (a sandbox and an app
container joined to its network namespace) created, started, stopped and removed directly with
the Docker SDK over parallel threads."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import docker

SANDBOX_IMAGE = "tinykube/pause:1"
SERVICE = "tinykube-bench"
POLL = 0.05


def sh(*args: str) -> str:
    out = subprocess.run(list(args), capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:4])}: {out.stderr.strip()}")
    return out.stdout


def poll_until(check: Callable[[], bool], what: str, timeout: float = 300.0) -> float:
    """Poll ``check`` until it holds; the monotonic time it was first seen to hold."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return time.monotonic()
        time.sleep(POLL)
    raise TimeoutError(f"timed out waiting for {what}")


# -- Docker Swarm ------------------------------------------------------------------------------


@contextmanager
def swarm() -> Iterator[Swarm]:
    """A one-node Swarm on this engine for the run; it always leaves at the end."""
    sh("docker", "swarm", "init", "--advertise-addr", "127.0.0.1")
    client = docker.from_env()
    try:
        yield Swarm(client)
    finally:
        subprocess.run(["docker", "service", "rm", SERVICE], capture_output=True, check=False)
        subprocess.run(["docker", "swarm", "leave", "--force"], capture_output=True, check=False)
        client.close()


class Swarm:
    """Swarm counts as done when N task containers run (and, for updates and scale-down, none
    of the old remain)."""

    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client

    def tasks(self) -> list[dict[str, Any]]:
        """The service's task containers as ``docker ps -a`` lists them (no inspect per
        container, which would race with their removal)."""
        flt = {"label": f"com.docker.swarm.service.name={SERVICE}"}
        return list(self.client.api.containers(all=True, filters=flt))

    def running(self, image: str) -> tuple[int, int]:
        """(running containers of ``image``, containers of any other image still present)."""
        ours = others = 0
        for c in self.tasks():
            if c["Image"].split("@")[0] == image:
                ours += c["State"] == "running"
            elif c["State"] in ("running", "created", "restarting", "removing"):
                others += 1
        return ours, others

    def create(self, replicas: int, image: str) -> float:
        t0 = time.monotonic()
        sh(
            "docker",
            "service",
            "create",
            "-d",
            "--name",
            SERVICE,
            "--replicas",
            str(replicas),
            "--no-resolve-image",
            "--stop-grace-period",
            "2s",
            image,
        )
        return poll_until(lambda: self.running(image) == (replicas, 0), "swarm tasks") - t0

    def scale(self, replicas: int, image: str) -> float:
        t0 = time.monotonic()
        sh("docker", "service", "scale", "-d", f"{SERVICE}={replicas}")
        if replicas == 0:
            return poll_until(lambda: not self._live(), "swarm scale-down") - t0
        return poll_until(lambda: self.running(image)[0] == replicas, "swarm scale-up") - t0

    def update(self, replicas: int, image: str, parallelism: int) -> float:
        t0 = time.monotonic()
        sh(
            "docker",
            "service",
            "update",
            "-d",
            "--image",
            image,
            "--no-resolve-image",
            "--update-parallelism",
            str(parallelism),
            "--update-delay",
            "0s",
            SERVICE,
        )
        return poll_until(lambda: self.running(image) == (replicas, 0), "swarm update") - t0

    def _live(self) -> list[dict[str, Any]]:
        return [c for c in self.tasks() if c["State"] in ("running", "restarting")]

    def remove(self) -> None:
        sh("docker", "service", "rm", SERVICE)
        poll_until(lambda: not self._live(), "swarm service removal")


# -- the raw floor -----------------------------------------------------------------------------


class Floor:
    """What any kubelet must do at least, with as many threads as pods."""

    def __init__(self) -> None:
        self.client = docker.from_env()
        self.label = f"tinykube.io/bench={uuid.uuid4().hex}"

    def _start_pod(self, image: str) -> list[Any]:
        name = uuid.uuid4().hex[:12]
        labels = dict([self.label.split("=")])
        sandbox = self.client.containers.create(
            SANDBOX_IMAGE, name=f"floor_POD_{name}", labels=labels
        )
        sandbox.start()
        app = self.client.containers.create(
            image, name=f"floor_app_{name}", labels=labels, network_mode=f"container:{sandbox.id}"
        )
        app.start()
        return [app, sandbox]

    @staticmethod
    def _stop_pod(containers: list[Any]) -> None:
        for c in containers:
            c.stop(timeout=2)
            c.remove(force=True)

    def start(self, n: int, image: str) -> tuple[float, list[list[Any]]]:
        t0 = time.monotonic()
        with ThreadPoolExecutor(max(1, n)) as pool:
            pods = list(pool.map(lambda _: self._start_pod(image), range(n)))
        return time.monotonic() - t0, pods

    def stop(self, pods: list[list[Any]]) -> float:
        t0 = time.monotonic()
        with ThreadPoolExecutor(max(1, len(pods))) as pool:
            list(pool.map(self._stop_pod, pods))
        return time.monotonic() - t0

    def replace(self, pods: list[list[Any]], image: str) -> tuple[float, list[list[Any]]]:
        """A rolling update's least work: start the new pods and stop the old, all at once."""
        t0 = time.monotonic()
        with ThreadPoolExecutor(2 * max(1, len(pods))) as pool:
            started = [pool.submit(self._start_pod, image) for _ in pods]
            stopped = [pool.submit(self._stop_pod, p) for p in pods]
            new = [f.result() for f in started]
            for f in stopped:
                f.result()
        return time.monotonic() - t0, new

    def close(self) -> None:
        for c in self.client.containers.list(all=True, filters={"label": self.label}):
            c.remove(force=True)
        self.client.close()
