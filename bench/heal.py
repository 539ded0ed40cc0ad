"""Self-healing after ``docker rm -f``: 20 times, remove a pod's app container and time until
a new container runs (Docker's ``start`` event) and until the pod is Ready again with it (the
status the agent writes, seen through a watch), p50/p99.

The baseline, measured in the same run on the same engine: Docker Swarm healing a removed task
container of a 1-replica service (``docker swarm init --advertise-addr 127.0.0.1``, the service
created with ``--no-resolve-image``; time until a new task container starts). The swarm is left
with ``docker swarm leave --force`` at the end, even on failure; an engine already in a swarm is
not touched (that baseline is then skipped). Target: tinykube p50 under 1 s, p99 under 2 s.
With --before-commit REV an earlier commit (``bench/_before.py``) runs the same rounds too.
Usage: python bench/heal.py [--rounds 20] [--image tinykube/sleeper:1] [--no-swarm]
       [--before-commit REV [--before-dir DIR]]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import docker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import _before
from bench._cluster import BIN, cluster
from common.client import ApiClient
from common.resources import must

PODS = must("pods")
SERVICE = "tinykube-heal-bench"
# Give up on one round after this long: something is broken, not slow.
ROUND_TIMEOUT = 60.0


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class StartEvents:
    """Docker ``start`` events of containers with these labels: container id → wall time."""

    def __init__(self, engine: docker.DockerClient, labels: list[str]) -> None:
        self.times: dict[str, float] = {}
        self.seen = threading.Condition()
        filters = {"type": "container", "event": ["start"], "label": labels}
        self._stream = engine.api.events(decode=True, filters=filters)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for event in self._stream:
                with self.seen:
                    self.times[str(event["id"])] = int(event["timeNano"]) / 1e9
                    self.seen.notify_all()
        except Exception:  # the stream is closed at the end
            return

    def wait_new(self, old: set[str], timeout: float = ROUND_TIMEOUT) -> tuple[str, float]:
        """The first container started that is not in ``old``: (id, start time)."""
        deadline = time.monotonic() + timeout
        with self.seen:
            while True:
                new = [(t, cid) for cid, t in self.times.items() if cid not in old]
                if new:
                    t, cid = min(new)
                    return cid, t
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no new container started")
                self.seen.wait(left)

    def time_of(self, cid: str, timeout: float = ROUND_TIMEOUT) -> float:
        """When container ``cid`` started (waiting for its event if need be)."""
        deadline = time.monotonic() + timeout
        with self.seen:
            while cid not in self.times:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no start event for {cid[:12]}")
                self.seen.wait(left)
            return self.times[cid]

    def close(self) -> None:
        self._stream.close()


def _wait(what: str, check: Callable[[], Any], timeout: float = ROUND_TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.02)
    raise TimeoutError(f"timed out waiting for {what}")


def _ready_container(pod: dict[str, Any]) -> str | None:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    if pod.get("status", {}).get("phase") != "Running" or not statuses or not statuses[0]["ready"]:
        return None
    return str(statuses[0].get("containerID", "")).removeprefix("docker://") or None


def _ready_after(client: ApiClient, rv: str, old: str) -> tuple[str, float]:
    """Watch the pod from ``rv`` until it is Ready with a container other than ``old``."""
    for event in client.watch(PODS, "default", resource_version=rv,
                              field_selector="metadata.name=heal", timeout_seconds=60):  # fmt: skip
        cid = _ready_container(event.get("object") or {})
        if cid and cid != old:
            return cid, time.time()
    raise TimeoutError("the pod did not become Ready again")


def tinykube_rounds(
    rounds: int, image: str, engine: docker.DockerClient, bin_dir: Path = BIN
) -> list[tuple[float, float]]:
    """(seconds to a new running container, seconds to Ready) per round."""
    out = []
    with cluster(1, bin_dir=bin_dir) as (client, _data):
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "heal"},
               "spec": {"containers": [{"name": "app", "image": image}],
                        "terminationGracePeriodSeconds": 2}}  # fmt: skip
        client.create(PODS, pod, "default")
        _wait("the pod Ready", lambda: _ready_container(client.get(PODS, "heal", "default")))
        uid = client.get(PODS, "heal", "default")["metadata"]["uid"]
        starts = StartEvents(engine, [f"io.kubernetes.pod.uid={uid}",
                                      "io.kubernetes.container.name=app"])  # fmt: skip
        try:
            for _ in range(rounds):
                current = client.get(PODS, "heal", "default")
                old = _ready_container(current)
                assert old is not None
                engine.api.remove_container(old, force=True)  # docker rm -f
                removed = time.time()
                new, ready_at = _ready_after(client, current["metadata"]["resourceVersion"], old)
                started = starts.time_of(new)
                out.append((started - removed, ready_at - removed))
        finally:
            starts.close()
            client.close()
    return out


def sh(*args: str) -> str:
    done = subprocess.run(list(args), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:3])}: {done.stderr.strip()}")
    return done.stdout.strip()


@contextmanager
def swarm(engine: docker.DockerClient) -> Iterator[None]:
    """A single-node swarm on this engine, always left at the end."""
    state = engine.info().get("Swarm", {}).get("LocalNodeState")
    if state not in ("inactive", "", None):
        raise RuntimeError(f"this engine is already in a swarm ({state}); not touching it")
    sh("docker", "swarm", "init", "--advertise-addr", "127.0.0.1")
    try:
        yield
    finally:
        subprocess.run(["docker", "swarm", "leave", "--force"], capture_output=True, check=False)


def swarm_rounds(rounds: int, image: str, engine: docker.DockerClient) -> list[float]:
    """Seconds from ``docker rm -f`` of the task container to a new task container started."""
    out = []
    with swarm(engine):
        sh("docker", "service", "create", "--name", SERVICE, "--replicas", "1",
           "--no-resolve-image", "--detach", image)  # fmt: skip
        label = f"com.docker.swarm.service.name={SERVICE}"

        def running() -> str:
            return sh("docker", "ps", "-q", "--no-trunc", "--filter", f"label={label}")

        _wait("the swarm task running", running, timeout=120)
        starts = StartEvents(engine, [label])
        try:
            for _ in range(rounds):
                old = _wait("a running task", running)
                engine.api.remove_container(old, force=True)
                removed = time.time()
                _, started = starts.wait_new({old, *starts.times})
                out.append(started - removed)
        finally:
            starts.close()
            subprocess.run(["docker", "service", "rm", SERVICE], capture_output=True, check=False)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--image", default="tinykube/sleeper:1")
    p.add_argument("--no-swarm", action="store_true", help="skip the Docker Swarm baseline")
    _before.add_arguments(p)
    args = p.parse_args()
    before_bin = _before.from_arguments(args)
    engine = docker.from_env()
    before: list[tuple[float, float]] = []
    try:
        ours = tinykube_rounds(args.rounds, args.image, engine)
        if before_bin is not None:
            before = tinykube_rounds(args.rounds, args.image, engine, before_bin)
        theirs: list[float] = []
        why = "skipped (--no-swarm)"
        if not args.no_swarm:
            try:
                theirs = swarm_rounds(args.rounds, args.image, engine)
            except (RuntimeError, TimeoutError) as e:
                why = f"unavailable: {e}"
    finally:
        engine.close()
    started = [s for s, _ in ours]
    ready = [r for _, r in ours]
    print(f"healing after docker rm -f, {args.rounds} rounds, image {args.image}")
    print(f"{'':34}{'p50 (s)':>10}{'p99 (s)':>10}{'max (s)':>10}")
    rows = [("tinykube: new container running", started), ("tinykube: pod Ready again", ready)]
    if before:
        rows += [(f"before ({args.before_commit}): running", [s for s, _ in before]),
                 (f"before ({args.before_commit}): Ready", [r for _, r in before])]  # fmt: skip
    if theirs:
        rows.append(("Docker Swarm: new task running", theirs))
    for label, values in rows:
        print(f"{label:34}{statistics.median(values):10.3f}{pct(values, 99):10.3f}"
              f"{max(values):10.3f}")  # fmt: skip
    if not theirs:
        print(f"Docker Swarm baseline {why}")
    p50_ok, p99_ok = statistics.median(ready) < 1.0, pct(ready, 99) < 2.0
    print(f"target Ready p50 < 1 s: {'met' if p50_ok else 'missed'}; "
          f"p99 < 2 s: {'met' if p99_ok else 'missed'}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
