"""ConfigMaps, Secrets and volumes on real Docker: a ConfigMap read as env and as files (an
update reaching the file, the time it took printed), a Secret as env, as a 0400 file on tmpfs and
in a projected volume, an emptyDir shared by two containers and a memory one with its size, a
missing ConfigMap holding its pod with FailedMount until it is created."""

from __future__ import annotations

import os
import time
from typing import Any

import docker
import pytest

from agent import mountinfo
from agent.volumes import default_tmpfs
from tests.e2e.conftest import ROOT, Cluster, containers, wait_for

NAMESPACE = "config-e2e"
NS = ("-n", NAMESPACE)

CONFIG = """\
apiVersion: v1
kind: ConfigMap
metadata: {{name: settings, namespace: config-e2e}}
data:
  GREETING: hello
  app.conf: "level={level}"
"""
READER = """\
apiVersion: v1
kind: Pod
metadata: {name: reader, namespace: config-e2e, labels: {app: reader}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: app
    image: tinykube/sleeper:1
    envFrom:
    - configMapRef: {name: settings}
      prefix: CFG_
    env:
    - name: LEVEL_FILE
      valueFrom: {configMapKeyRef: {name: settings, key: app.conf}}
    - name: POD_NAME
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
    - name: APP
      valueFrom: {fieldRef: {fieldPath: "metadata.labels['app']"}}
    - name: MESSAGE
      value: "$(CFG_GREETING) from $(POD_NAME)"
    volumeMounts:
    - {name: cfg, mountPath: /etc/app}
    - {name: cfg, mountPath: /etc/pinned.conf, subPath: app.conf}
    - {name: info, mountPath: /etc/info}
  volumes:
  - name: cfg
    configMap: {name: settings}
  - name: info
    downwardAPI:
      items:
      - {path: labels, fieldRef: {fieldPath: metadata.labels}}
"""
SECRET = """\
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: config-e2e}
stringData: {password: s3cret}
"""
SECRET_POD = """\
apiVersion: v1
kind: Pod
metadata: {name: vault, namespace: config-e2e}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: app
    image: tinykube/sleeper:1
    env:
    - name: PASSWORD
      valueFrom: {secretKeyRef: {name: creds, key: password}}
    volumeMounts:
    - {name: creds, mountPath: /etc/creds}
    - {name: all, mountPath: /etc/all}
  volumes:
  - name: creds
    secret: {secretName: creds, defaultMode: 0400}
  - name: all
    projected:
      sources:
      - secret: {name: creds, items: [{key: password, path: db/password}]}
      - downwardAPI: {items: [{path: namespace, fieldRef: {fieldPath: metadata.namespace}}]}
"""
SHARED = """\
apiVersion: v1
kind: Pod
metadata: {name: shared, namespace: config-e2e}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: writer
    image: tinykube/sleeper:1
    command: [sh, -c, "echo written-by-writer > /data/note; exec sh /sleeper.sh"]
    volumeMounts: [{name: scratch, mountPath: /data}]
  - name: reader
    image: tinykube/sleeper:1
    volumeMounts:
    - {name: scratch, mountPath: /shared, readOnly: true}
    - {name: memory, mountPath: /fast}
  volumes:
  - name: scratch
    emptyDir: {}
  - name: memory
    emptyDir: {medium: Memory, sizeLimit: 8Mi}
"""
LATE_POD = """\
apiVersion: v1
kind: Pod
metadata: {name: late, namespace: config-e2e}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: app
    image: tinykube/sleeper:1
    volumeMounts: [{name: cfg, mountPath: /etc/late}]
  volumes:
  - name: cfg
    configMap: {name: late-settings}
"""
LATE_ENV_POD = """\
apiVersion: v1
kind: Pod
metadata: {name: late-env, namespace: config-e2e}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: app
    image: tinykube/sleeper:1
    env:
    - name: READY
      valueFrom: {configMapKeyRef: {name: late-settings, key: ready}}
"""
LATE_CONFIG = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: late-settings, namespace: config-e2e}
data: {ready: "yes"}
"""


@pytest.fixture(scope="module")
def ns(cluster: Cluster) -> Any:
    cluster.tkctl("create", "namespace", NAMESPACE)
    yield cluster
    cluster.tkctl("delete", "namespace", NAMESPACE, timeout=180, check=False)


def running(cluster: Cluster, name: str) -> bool:
    return cluster.json("get", "pod", name, *NS)["status"].get("phase") == "Running"


def container(client: docker.DockerClient, cluster: Cluster, pod: str, name: str = "app") -> Any:
    (found,) = [
        c
        for c in containers(client, cluster.cluster_id, **{"io.kubernetes.pod.name": pod,
                                                           "io.kubernetes.container.name": name})
        if c.status == "running"
    ]  # fmt: skip
    return found


def tmpfs_expected() -> bool:
    """The agents of ``tinykube up`` mount tmpfs as root sharing the engine's mounts."""
    return default_tmpfs()


def host_mount(c: Any, destination: str) -> list[str]:
    """The host's /proc/mounts line of the directory bound at ``destination`` in ``c``."""
    source = next(m["Source"] for m in c.attrs["Mounts"] if m["Destination"] == destination)
    with open("/proc/self/mounts") as f:
        lines = [line.split() for line in f]
    return next(line for line in lines if line[1] == source)


def run(c: Any, *command: str) -> str:
    code, out = c.exec_run(list(command))
    assert code == 0, out
    return str(out.decode()).strip()


def test_config_map_as_env_and_files_with_updates(
    ns: Cluster, docker_client: docker.DockerClient
) -> None:
    ns.tkctl("apply", "-f", "-", stdin=CONFIG.format(level=1))
    ns.tkctl("apply", "-f", "-", stdin=READER)
    wait_for("reader Running", lambda: running(ns, "reader"), timeout=90)
    app = container(docker_client, ns, "reader")
    env = dict(e.split("=", 1) for e in app.attrs["Config"]["Env"])
    assert env["CFG_GREETING"] == "hello" and env["CFG_app.conf"] == "level=1"
    assert env["LEVEL_FILE"] == "level=1" and env["POD_NAME"] == "reader"
    assert env["APP"] == "reader" and env["MESSAGE"] == "hello from reader"
    assert run(app, "cat", "/etc/app/app.conf") == "level=1"
    assert run(app, "cat", "/etc/app/GREETING") == "hello"
    assert run(app, "readlink", "/etc/app/app.conf") == "..data/app.conf"
    assert run(app, "cat", "/etc/pinned.conf") == "level=1"
    assert run(app, "cat", "/etc/info/labels") == 'app="reader"'
    code, _ = app.exec_run(["sh", "-c", "echo x > /etc/app/new"])
    assert code != 0  # configMap volumes are read-only

    started = time.monotonic()
    ns.tkctl("apply", "-f", "-", stdin=CONFIG.format(level=2))
    wait_for(
        "the update in the mounted file",
        lambda: run(app, "cat", "/etc/app/app.conf") == "level=2",
        timeout=30,
        every=0.05,
    )
    print(f"\nConfigMap update reached the mounted file in {time.monotonic() - started:.2f}s")
    assert run(app, "cat", "/etc/pinned.conf") == "level=1"  # subPath mounts are not updated
    assert container(docker_client, ns, "reader").id == app.id  # and nothing restarted

    source = next(m["Source"] for m in app.attrs["Mounts"] if m["Destination"] == "/etc/app")
    ns.tkctl("delete", "pod", "reader", *NS, timeout=120)
    wait_for("the pod's volumes removed", lambda: not os.path.exists(source), timeout=30)


def test_secret_as_env_and_a_0400_file_on_tmpfs(
    ns: Cluster, docker_client: docker.DockerClient
) -> None:
    ns.tkctl("apply", "-f", "-", stdin=SECRET)
    ns.tkctl("apply", "-f", "-", stdin=SECRET_POD)
    wait_for("vault Running", lambda: running(ns, "vault"), timeout=90)
    app = container(docker_client, ns, "vault")
    assert "PASSWORD=s3cret" in app.attrs["Config"]["Env"]
    assert run(app, "cat", "/etc/creds/password") == "s3cret"
    assert run(app, "stat", "-L", "-c", "%a", "/etc/creds/password") == "400"
    assert run(app, "cat", "/etc/all/db/password") == "s3cret"
    assert run(app, "cat", "/etc/all/namespace") == NAMESPACE
    if tmpfs_expected():
        assert host_mount(app, "/etc/creds")[2] == "tmpfs"
    source = next(m["Source"] for m in app.attrs["Mounts"] if m["Destination"] == "/etc/creds")
    ns.tkctl("delete", "pod", "vault", *NS, timeout=120)
    wait_for(
        "the pod's tmpfs unmounted and its volumes removed",
        lambda: not os.path.exists(source) and source not in mountinfo.parse(mountinfo.table()),
        timeout=30,
    )


def test_empty_dir_shared_by_two_containers(
    ns: Cluster, docker_client: docker.DockerClient
) -> None:
    ns.tkctl("apply", "-f", "-", stdin=SHARED)
    wait_for("shared Running", lambda: running(ns, "shared"), timeout=90)
    reader = container(docker_client, ns, "shared", "reader")
    note = wait_for(
        "the writer's file",
        lambda: reader.exec_run(["cat", "/shared/note"]).output.decode().strip(),
    )
    assert note == "written-by-writer"
    code, _ = reader.exec_run(["sh", "-c", "echo x > /shared/other"])
    assert code != 0  # its mount is readOnly
    if tmpfs_expected():
        fstype, options = host_mount(reader, "/fast")[2:4]
        assert fstype == "tmpfs" and "size=8192k" in options.split(",")
    ns.tkctl("delete", "pod", "shared", *NS, timeout=120)


def waiting(cluster: Cluster, name: str) -> dict[str, Any]:
    (status,) = cluster.json("get", "pod", name, *NS)["status"].get("containerStatuses") or [{}]
    return dict((status.get("state") or {}).get("waiting") or {})


def test_missing_config_map_holds_the_pod_until_created(ns: Cluster) -> None:
    ns.tkctl("apply", "-f", "-", stdin=LATE_POD)
    ns.tkctl("apply", "-f", "-", stdin=LATE_ENV_POD)
    message = 'MountVolume.SetUp failed for volume "cfg" : configmap "late-settings" not found'

    def failed_mount() -> bool:
        events = ns.json("get", "events", *NS)["items"]
        return any(e["reason"] == "FailedMount" and e["message"] == message for e in events)

    wait_for("the FailedMount event", failed_mount, timeout=60)
    pod = ns.json("get", "pod", "late", *NS)
    assert pod["status"]["phase"] == "Pending"
    (status,) = pod["status"]["containerStatuses"]
    assert status["state"] == {"waiting": {"reason": "ContainerCreating"}}
    config_error = {
        "reason": "CreateContainerConfigError",
        "message": 'configmap "late-settings" not found',
    }
    wait_for("CreateContainerConfigError", lambda: waiting(ns, "late-env") == config_error)
    ns.tkctl("apply", "-f", "-", stdin=LATE_CONFIG)
    wait_for("late Running once its ConfigMap exists", lambda: running(ns, "late"), timeout=60)
    wait_for("late-env Running too", lambda: running(ns, "late-env"), timeout=60)
    ns.tkctl("delete", "pod", "late", "late-env", *NS, timeout=120)


def test_the_example_app(ns: Cluster, docker_client: docker.DockerClient) -> None:
    example = (ROOT / "examples" / "config-app.yaml").read_text()
    ns.tkctl("apply", "-n", NAMESPACE, "-f", "-", stdin=example)
    wait_for("config-app Running", lambda: running(ns, "config-app"), timeout=90)
    web = container(docker_client, ns, "config-app", "web")
    assert "PORT=8080" in web.attrs["Config"]["Env"]
    assert run(web, "cat", "/etc/app/config/app.conf") == "greeting=hello"
    assert run(web, "cat", "/etc/app/secret/password") == "change-me"
    assert "Hello from config-app" in run(web, "wget", "-qO-", "http://127.0.0.1:8080/")
    ns.tkctl("delete", "pod", "config-app", *NS, timeout=120)
