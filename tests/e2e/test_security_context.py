"""securityContext on real Docker: the pod's user, groups, capabilities, read-only root,
no-new-privileges and sysctls reach ``docker inspect`` and the kernel; runAsNonRoot on a root
image starts nothing and says why; an unsafe sysctl is rejected by the node. Outside the
namespace labelled privileged, only fields Pod Security's baseline level allows."""

from __future__ import annotations

from typing import Any

import docker

from tests.e2e.conftest import Cluster, containers, wait_for

SECURED = """\
apiVersion: v1
kind: Pod
metadata:
  name: secured
spec:
  securityContext:
    runAsUser: 1000
    runAsGroup: 3000
    fsGroup: 2000
    seccompProfile: {type: RuntimeDefault}
    sysctls:
    - {name: net.ipv4.ip_unprivileged_port_start, value: "0"}
  containers:
  - name: app
    image: tinykube/sleeper:1
    securityContext:
      capabilities: {drop: [ALL]}
      readOnlyRootFilesystem: true
      allowPrivilegeEscalation: false
"""

NON_ROOT = """\
apiVersion: v1
kind: Pod
metadata:
  name: non-root
spec:
  securityContext:
    runAsNonRoot: true
  containers:
  - name: app
    image: tinykube/sleeper:1
"""


def pod_containers(docker_client: docker.DockerClient, cluster: Cluster, pod: str) -> Any:
    return containers(docker_client, cluster.cluster_id, **{"io.kubernetes.pod.name": pod})


def test_secured_pod_runs_with_its_security_context(
    cluster: Cluster, docker_client: docker.DockerClient
) -> None:
    cluster.tkctl("apply", "-f", "-", stdin=SECURED)
    try:
        wait_for(
            "secured Running",
            lambda: cluster.json("get", "pod", "secured")["status"].get("phase") == "Running",
        )
        found = {c.labels["io.kubernetes.container.name"]: c for c in pod_containers(
            docker_client, cluster, "secured")}  # fmt: skip
        config, host = found["app"].attrs["Config"], found["app"].attrs["HostConfig"]
        assert config["User"] == "1000:3000"
        assert host["GroupAdd"] == ["2000"]
        assert host["CapDrop"] == ["ALL"]
        assert host["ReadonlyRootfs"] is True
        assert host["SecurityOpt"] == ["no-new-privileges"]
        sandbox = found["POD"].attrs["HostConfig"]
        assert sandbox["Sysctls"] == {"net.ipv4.ip_unprivileged_port_start": "0"}
        assert sandbox["CapDrop"] == ["ALL"] and sandbox["ReadonlyRootfs"] is True
        out = cluster.tkctl("exec", "secured", "--", "id").stdout
        assert out.startswith("uid=1000 gid=3000 groups=") and "2000" in out
        port = cluster.tkctl("exec", "secured", "--", "cat",
                             "/proc/sys/net/ipv4/ip_unprivileged_port_start")  # fmt: skip
        assert port.stdout.strip() == "0"
        write = cluster.tkctl("exec", "secured", "--", "touch", "/probe", check=False)
        assert write.returncode != 0
        assert "Read-only file system" in write.stdout + write.stderr
    finally:
        cluster.tkctl("delete", "pod", "secured", "--wait=false")


def test_run_as_non_root_on_a_root_image_is_refused(
    cluster: Cluster, docker_client: docker.DockerClient
) -> None:
    cluster.tkctl("apply", "-f", "-", stdin=NON_ROOT)
    try:

        def waiting() -> dict[str, Any] | None:
            pod = cluster.json("get", "pod", "non-root")
            for status in pod["status"].get("containerStatuses") or []:
                state = status["state"].get("waiting") or {}
                if state.get("reason") == "CreateContainerConfigError":
                    return pod
            return None

        pod = wait_for("CreateContainerConfigError", waiting)
        uid = pod["metadata"]["uid"]
        message = (
            "container has runAsNonRoot and image will run as root "
            f'(pod: "non-root_default({uid})", container: app)'
        )
        assert pod["status"]["containerStatuses"][0]["state"]["waiting"]["message"] == message
        assert pod["status"]["phase"] == "Pending"
        table = cluster.tkctl("get", "pod", "non-root").stdout
        assert "CreateContainerConfigError" in table

        def failed_event() -> bool:
            events = cluster.json("get", "events", "--field-selector",
                                  "involvedObject.name=non-root")["items"]  # fmt: skip
            return any(e["reason"] == "Failed" and e["message"] == f"Error: {message}"
                       for e in events)  # fmt: skip

        wait_for("the Failed event", failed_event)  # events are posted in the background
        roles = [c.labels["io.kubernetes.container.name"] for c in pod_containers(
            docker_client, cluster, "non-root")]  # fmt: skip
        assert roles == ["POD"]  # no app container was ever created
    finally:
        cluster.tkctl("delete", "pod", "non-root", "--wait=false")


UNSAFE_SYSCTL = """\
apiVersion: v1
kind: Namespace
metadata:
  name: sysctl-unsafe
  labels:
    pod-security.kubernetes.io/enforce: privileged
---
apiVersion: v1
kind: Pod
metadata:
  name: msgmax
  namespace: sysctl-unsafe
spec:
  securityContext:
    sysctls:
    - {name: kernel.msgmax, value: "65536"}
  containers:
  - name: app
    image: tinykube/sleeper:1
"""


def test_an_unsafe_sysctl_is_rejected_by_the_node(
    cluster: Cluster, docker_client: docker.DockerClient
) -> None:
    """Pod Security lets a privileged namespace ask for it; the node still refuses it, as the
    kubelet does unless --allowed-unsafe-sysctls names it."""
    cluster.tkctl("apply", "-f", "-", stdin=UNSAFE_SYSCTL)
    try:

        def failed() -> dict[str, Any] | None:
            pod = cluster.json("get", "pod", "msgmax", "-n", "sysctl-unsafe")
            return pod if pod["status"].get("phase") == "Failed" else None

        pod = wait_for("msgmax Failed", failed)
        assert pod["status"]["reason"] == "SysctlForbidden"
        assert pod["status"]["message"] == (
            'Pod was rejected: forbidden sysctl: "kernel.msgmax" not allowlisted'
        )
        assert containers(docker_client, cluster.cluster_id,
                          **{"io.kubernetes.pod.name": "msgmax"}) == []  # fmt: skip
    finally:
        cluster.tkctl("delete", "namespace", "sysctl-unsafe", "--wait=false")
