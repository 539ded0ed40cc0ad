"""The pod spec acted on, on real Docker: init containers gate the app (``Init:0/2`` while they
run), a native sidecar serves before the app starts and is restarted on its own, a preStop hook
runs inside the grace period before SIGTERM (the deletion lasts at least the hook), and
termination messages (the file, or the logs on error) reach the status."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import docker
import pytest

from tests.e2e.conftest import Cluster, containers, wait_for

NAMESPACE = "pod-lifecycle"
BUSYBOX = "tinykube-test/busybox:1"
HOOK_SECONDS = 4

GATED = f"""\
apiVersion: v1
kind: Pod
metadata:
  name: gated
  namespace: {NAMESPACE}
spec:
  terminationGracePeriodSeconds: 1
  volumes:
  - name: work
    emptyDir: {{}}
  initContainers:
  - name: first
    image: {BUSYBOX}
    command: ["sh", "-c", "sleep 3; echo first > /work/first"]
    volumeMounts: [{{name: work, mountPath: /work}}]
  - name: second
    image: {BUSYBOX}
    command: ["sh", "-c", "test -f /work/first && echo second > /work/second"]
    volumeMounts: [{{name: work, mountPath: /work}}]
  containers:
  - name: app
    image: {BUSYBOX}
    command: ["sh", "-c", "cat /work/first /work/second; exec sleep 3600"]
    volumeMounts: [{{name: work, mountPath: /work}}]
"""

HOOKED = f"""\
apiVersion: v1
kind: Pod
metadata:
  name: hooked
  namespace: {NAMESPACE}
spec:
  terminationGracePeriodSeconds: 30
  containers:
  - name: app
    image: {BUSYBOX}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"]
    lifecycle:
      postStart:
        exec: {{command: ["sh", "-c", "echo started > /poststart"]}}
      preStop:
        exec: {{command: ["sh", "-c", "sleep {HOOK_SECONDS}"]}}
"""

MESSAGES = f"""\
apiVersion: v1
kind: Pod
metadata:
  name: messages
  namespace: {NAMESPACE}
spec:
  restartPolicy: Never
  containers:
  - name: file
    image: {BUSYBOX}
    command: ["sh", "-c", "echo 'all done: 42' > /dev/termination-log; exit 3"]
  - name: logs
    image: {BUSYBOX}
    command: ["sh", "-c", "echo 'boom: out of cheese' >&2; exit 1"]
    terminationMessagePolicy: FallbackToLogsOnError
"""

SIDECAR = f"""\
apiVersion: v1
kind: Pod
metadata:
  name: with-sidecar
  namespace: {NAMESPACE}
spec:
  terminationGracePeriodSeconds: 2
  initContainers:
  - name: web
    image: tinykube/web:1
    restartPolicy: Always
    startupProbe:
      httpGet: {{path: /, port: 80}}
      periodSeconds: 1
  containers:
  - name: app
    image: {BUSYBOX}
    command: ["sh", "-c", "wget -q -O- http://127.0.0.1/ && exec sleep 3600"]
"""

FAILING_INIT = f"""\
apiVersion: v1
kind: Pod
metadata:
  name: {{name}}
  namespace: {NAMESPACE}
spec:
  restartPolicy: {{policy}}
  terminationGracePeriodSeconds: 1
  initContainers:
  - name: check
    image: {BUSYBOX}
    command: ["sh", "-c", "exit 1"]
  containers:
  - name: app
    image: {BUSYBOX}
    command: ["sleep", "3600"]
"""


@pytest.fixture(scope="module")
def ns(cluster: Cluster) -> Iterator[tuple[str, str]]:
    cluster.tkctl("create", "namespace", NAMESPACE)
    yield ("-n", NAMESPACE)
    cluster.tkctl("delete", "namespace", NAMESPACE, timeout=180)


def pod(cluster: Cluster, name: str, ns: tuple[str, str]) -> dict[str, Any]:
    return dict(cluster.json("get", "pod", name, *ns))


def docker_time(text: str) -> datetime:
    """Docker's RFC 3339 with up to nanoseconds, cut to what datetime holds."""
    whole, _, fraction = text.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{whole}.{(fraction + '000000')[:6]}+00:00")


def status_column(cluster: Cluster, name: str, ns: tuple[str, str]) -> str:
    out = cluster.tkctl("get", "pod", name, *ns, "--no-headers").stdout.split()
    return out[2] if len(out) > 2 else ""


def test_init_containers_gate_the_app(
    cluster: Cluster, ns: tuple[str, str], docker_client: docker.DockerClient
) -> None:
    cluster.tkctl("apply", "-f", "-", stdin=GATED)
    seen = wait_for("Init:0/2", lambda: status_column(cluster, "gated", ns) == "Init:0/2")
    assert seen
    assert pod(cluster, "gated", ns)["status"]["phase"] == "Pending"
    wait_for("gated Running", lambda: pod(cluster, "gated", ns)["status"]["phase"] == "Running")
    logs = wait_for("the app's output", lambda: cluster.tkctl("logs", "gated", *ns).stdout)
    assert logs.split() == ["first", "second"]
    status = pod(cluster, "gated", ns)["status"]
    inits = status["initContainerStatuses"]
    assert [s["state"]["terminated"]["reason"] for s in inits] == ["Completed", "Completed"]
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions["Initialized"] == "True"
    assert status_column(cluster, "gated", ns) == "Running"

    def state(name: str) -> dict[str, Any]:
        labels = {"io.kubernetes.pod.name": "gated", "io.kubernetes.container.name": name}
        (c,) = containers(docker_client, cluster.cluster_id, **labels)
        return {k: docker_time(v) for k, v in c.attrs["State"].items() if k.endswith("At")}

    assert state("first")["FinishedAt"] <= state("second")["StartedAt"]
    assert state("second")["FinishedAt"] <= state("app")["StartedAt"]


def test_a_pre_stop_hook_delays_termination(
    cluster: Cluster, ns: tuple[str, str], docker_client: docker.DockerClient
) -> None:
    cluster.tkctl("apply", "-f", "-", stdin=HOOKED)
    wait_for("hooked Running", lambda: pod(cluster, "hooked", ns)["status"]["phase"] == "Running")
    labels = {"io.kubernetes.pod.name": "hooked", "io.kubernetes.container.name": "app"}
    (app,) = containers(docker_client, cluster.cluster_id, **labels)
    # The postStart hook ran in the container.
    assert app.exec_run(["cat", "/poststart"]).output.decode().strip() == "started"
    begin = time.monotonic()
    cluster.tkctl("delete", "pod", "hooked", *ns, timeout=120)
    elapsed = time.monotonic() - begin
    # SIGTERM (which the app obeys at once) only came after the hook's sleep.
    assert elapsed >= HOOK_SECONDS, elapsed
    assert not containers(docker_client, cluster.cluster_id, **labels)


def test_termination_messages_reach_the_status(cluster: Cluster, ns: tuple[str, str]) -> None:
    cluster.tkctl("apply", "-f", "-", stdin=MESSAGES)
    wait_for("messages Failed", lambda: pod(cluster, "messages", ns)["status"]["phase"] == "Failed")

    def terminated() -> dict[str, Any]:
        statuses = pod(cluster, "messages", ns)["status"]["containerStatuses"]
        found = {s["name"]: s["state"]["terminated"] for s in statuses}
        return found if all("message" in t for t in found.values()) else {}

    found = wait_for("both messages", terminated)
    assert (found["file"]["exitCode"], found["file"]["message"]) == (3, "all done: 42\n")
    assert found["logs"]["message"] == "boom: out of cheese\n"


def test_a_sidecar_serves_before_the_app_and_is_restarted_alone(
    cluster: Cluster, ns: tuple[str, str], docker_client: docker.DockerClient
) -> None:
    cluster.tkctl("apply", "-f", "-", stdin=SIDECAR)
    name = "with-sidecar"
    wait_for("2/2 ready", lambda: cluster.tkctl("get", "pod", name, *ns, "--no-headers")
             .stdout.split()[1:3] == ["2/2", "Running"])  # fmt: skip
    # The app's first act was a request to the sidecar: it was already serving.
    assert "Hello from with-sidecar" in cluster.tkctl("logs", name, "-c", "app", *ns).stdout

    def one(container: str) -> Any:
        labels = {"io.kubernetes.pod.name": name, "io.kubernetes.container.name": container}
        return [c for c in containers(docker_client, cluster.cluster_id, **labels)
                if c.status == "running"]  # fmt: skip

    (app,) = one("app")
    (web,) = one("web")
    web.kill()

    def restarted() -> bool:
        statuses = pod(cluster, name, ns)["status"]["initContainerStatuses"]
        return statuses[0]["restartCount"] == 1 and "running" in statuses[0]["state"]

    wait_for("the sidecar restarted", restarted)
    assert [c.id for c in one("app")] == [app.id]  # the app went on running


@pytest.mark.parametrize(
    ("policy", "shown", "phase"),
    [("Never", "Init:Error", "Failed"), ("OnFailure", "Init:CrashLoopBackOff", "Pending")],
)
def test_a_failing_init_container_holds_the_app(
    cluster: Cluster,
    ns: tuple[str, str],
    docker_client: docker.DockerClient,
    policy: str,
    shown: str,
    phase: str,
) -> None:
    name = f"init-fails-{policy.lower()}"
    cluster.tkctl("apply", "-f", "-", stdin=FAILING_INIT.format(name=name, policy=policy))
    wait_for(shown, lambda: status_column(cluster, name, ns) == shown)
    assert pod(cluster, name, ns)["status"]["phase"] == phase
    labels = {"io.kubernetes.pod.name": name, "io.kubernetes.container.name": "app"}
    assert containers(docker_client, cluster.cluster_id, **labels) == []
