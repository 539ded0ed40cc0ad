"""Pod + container -> runtime create specs: names, labels and Docker arguments."""

from __future__ import annotations

from typing import Any

import pytest
from docker.models.containers import _create_container_args  # type: ignore[attr-defined]

from agent import podspec
from agent import runtime as rt
from agent.resolvconf import ResolvConf


def make_pod(**spec: Any) -> dict[str, Any]:
    containers = spec.pop("containers", None) or [{"name": "web", "image": "tinykube/web:1"}]
    return {
        "metadata": {
            "name": "web-1",
            "namespace": "default",
            "uid": "1111-2222",
            "labels": {"app": "web", "tinykube.io/node": "spoof"},
        },
        "spec": {"containers": containers, **spec},
    }


def test_names_follow_the_kubelet() -> None:
    pod = make_pod()
    assert podspec.sandbox_name(pod, 0) == "k8s_POD_web-1_default_1111-2222_0"
    container = pod["spec"]["containers"][0]
    assert podspec.container_name(pod, container, 3) == "k8s_web_web-1_default_1111-2222_3"


def test_sandbox_labels_carry_pod_labels_and_ours_win() -> None:
    pod = make_pod()
    spec = podspec.sandbox_spec(pod, 2, "node-a", "cluster-x")
    labels = spec.labels
    assert labels["app"] == "web"
    assert labels[rt.NODE_LABEL] == "node-a"  # the pod's own label cannot spoof the node
    assert labels[rt.CLUSTER_LABEL] == "cluster-x"
    assert labels[rt.CONTAINER_NAME] == "POD"
    assert labels[rt.DOCKER_TYPE] == "podsandbox"
    assert labels[rt.POD_NAME] == "web-1"
    assert labels[rt.POD_NAMESPACE] == "default"
    assert labels[rt.POD_UID] == "1111-2222"
    assert labels[rt.RESTART_COUNT] == "2"
    assert spec.name == "k8s_POD_web-1_default_1111-2222_2"
    assert spec.hostname == "web-1"
    assert spec.role == "sandbox"
    assert spec.image == podspec.SANDBOX_IMAGE


def test_app_container_labels_and_arguments() -> None:
    container = {
        "name": "web",
        "image": "tinykube/web:1",
        "command": ["/bin/sh", "-c"],
        "args": ["echo hi", 5],
        "env": [{"name": "A", "value": "1"}, {"name": "B"}],
        "workingDir": "/srv",
        "resources": {"limits": {"memory": "64Mi", "cpu": "500m"}},
        "tty": True,
        "stdin": True,
    }
    pod = make_pod(containers=[container])
    spec = podspec.app_spec(pod, container, 4, "sandbox123", "node-a", "cluster-x")
    assert spec.name == "k8s_web_web-1_default_1111-2222_4"
    assert spec.labels[rt.DOCKER_TYPE] == "container"
    assert spec.labels[rt.SANDBOX_ID] == "sandbox123"
    assert spec.labels[rt.RESTART_COUNT] == "4"
    assert spec.labels[rt.CONTAINER_HASH] == podspec.container_hash(container)
    assert spec.labels[rt.CONTAINER_NAME] == "web"
    assert "app" not in spec.labels  # pod labels go on the sandbox only
    assert spec.entrypoint == ["/bin/sh", "-c"]
    assert spec.command == ["echo hi", "5"]
    assert spec.env == {"A": "1", "B": ""}
    assert spec.working_dir == "/srv"
    assert spec.mem_limit == 64 * 2**20
    assert spec.nano_cpus == 500_000_000
    assert spec.network_mode == "container:sandbox123"
    assert spec.ipc_mode == "container:sandbox123"
    assert spec.hostname is None  # Docker refuses a hostname with a joined network
    assert spec.tty and spec.stdin_open

    kwargs = podspec.docker_create_kwargs(spec)
    assert kwargs["entrypoint"] == ["/bin/sh", "-c"]
    assert kwargs["command"] == ["echo hi", "5"]
    assert kwargs["environment"] == {"A": "1", "B": ""}
    assert kwargs["network_mode"] == "container:sandbox123"
    assert kwargs["mem_limit"] == 64 * 2**20
    assert kwargs["nano_cpus"] == 500_000_000
    assert kwargs["labels"] == spec.labels
    assert kwargs["detach"] is True
    assert "hostname" not in kwargs


def test_stdin_once_reaches_docker_as_stdin_once() -> None:
    """kubectl run -i makes stdin: true, stdinOnce: true; docker-py sets StdinOnce only for a
    container created without detach (which create alone never starts)."""
    container = {"name": "c", "image": "tinykube/sleeper:1", "stdin": True, "stdinOnce": True}
    spec = podspec.app_spec(make_pod(), container, 0, "s", "n", "c")
    assert spec.stdin_open and spec.stdin_once
    config = _create_container_args({**podspec.docker_create_kwargs(spec), "version": "1.41"})
    assert config["stdin_open"] and config["detach"] is False
    alone = {"name": "c", "image": "tinykube/sleeper:1", "stdinOnce": True}  # without stdin
    assert not podspec.app_spec(make_pod(), alone, 0, "s", "n", "c").stdin_once


def test_image_defaults_are_kept_without_command() -> None:
    container = {"name": "web", "image": "tinykube/web:1"}
    spec = podspec.app_spec(make_pod(), container, 0, "s", "n", "c")
    kwargs = podspec.docker_create_kwargs(spec)
    assert "entrypoint" not in kwargs and "command" not in kwargs
    assert "mem_limit" not in kwargs and "nano_cpus" not in kwargs


def test_host_ports_are_published_on_the_sandbox() -> None:
    containers = [
        {"name": "a", "image": "x:1", "ports": [{"containerPort": 80, "hostPort": 8080}]},
        {
            "name": "b",
            "image": "x:1",
            "ports": [
                {"containerPort": 53, "protocol": "UDP", "hostPort": 5353, "hostIP": "127.0.0.1"},
                {"containerPort": 9000},
            ],
        },
    ]
    pod = make_pod(containers=containers)
    sandbox = podspec.sandbox_spec(pod, 0, "n", "c")
    assert sandbox.port_bindings == {"80/tcp": [("", 8080)], "53/udp": [("127.0.0.1", 5353)]}
    kwargs = podspec.docker_create_kwargs(sandbox)
    assert kwargs["ports"] == {"80/tcp": [8080], "53/udp": [("127.0.0.1", 5353)]}
    app = podspec.app_spec(pod, containers[0], 0, "s", "n", "c")
    assert not app.port_bindings


def test_a_sidecars_host_ports_are_published_not_an_init_containers() -> None:
    pod = make_pod()
    pod["spec"]["initContainers"] = [
        {"name": "setup", "image": "x:1", "ports": [{"containerPort": 81, "hostPort": 8081}]},
        {
            "name": "proxy",
            "image": "x:1",
            "restartPolicy": "Always",
            "ports": [{"containerPort": 9090, "hostPort": 9090, "hostIP": "127.0.0.1"}],
        },
    ]
    sandbox = podspec.sandbox_spec(pod, 0, "n", "c")
    assert sandbox.port_bindings == {"9090/tcp": [("127.0.0.1", 9090)]}
    kwargs = podspec.docker_create_kwargs(sandbox)
    assert kwargs["ports"] == {"9090/tcp": [("127.0.0.1", 9090)]}


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.25", "IfNotPresent"),
        ("localhost:5000/app", "Always"),
        ("localhost:5000/app:2", "IfNotPresent"),
        ("repo/app@sha256:" + "a" * 64, "IfNotPresent"),
    ],
)
def test_default_pull_policy(image: str, policy: str) -> None:
    assert podspec.default_pull_policy(image) == policy
    assert podspec.pull_policy({"image": image}) == policy
    assert podspec.pull_policy({"image": image, "imagePullPolicy": "Never"}) == "Never"


def test_hash_changes_with_the_image_only_when_spec_changes() -> None:
    a = {"name": "web", "image": "x:1"}
    assert podspec.container_hash(a) == podspec.container_hash(dict(a))
    assert podspec.container_hash(a) != podspec.container_hash({**a, "image": "x:2"})


def test_grace_period() -> None:
    assert podspec.grace_seconds(make_pod()) == 30
    assert podspec.grace_seconds(make_pod(terminationGracePeriodSeconds=0)) == 0


def test_an_ephemeral_container_joins_its_targets_pid_namespace() -> None:
    debug = {"name": "debugger", "image": "tinykube/sleeper:1", "targetContainerName": "web"}
    pod = make_pod(containers=[{"name": "web", "image": "tinykube/web:1"}])
    spec = podspec.app_spec(pod, debug, 0, "sandbox123", "node-a", "cluster-x", target_id="c1")
    assert spec.pid_mode == "container:c1"
    assert podspec.docker_create_kwargs(spec)["pid_mode"] == "container:c1"
    alone = podspec.app_spec(pod, debug, 0, "sandbox123", "node-a", "cluster-x")
    assert "pid_mode" not in podspec.docker_create_kwargs(alone)


def test_host_namespaces() -> None:
    """kubectl debug node/NAME: hostNetwork, hostPID and hostIPC are the node's; Docker refuses
    a hostname, DNS options or published ports with the host's network."""
    web = {"name": "web", "image": "tinykube/web:1", "ports": [{"containerPort": 80,
                                                                "hostPort": 8080}]}  # fmt: skip
    pod = make_pod(containers=[web], hostNetwork=True, hostPID=True, hostIPC=True)
    dns = ResolvConf(nameservers=("10.0.0.10",), searches=("svc",), options=())
    sandbox = podspec.sandbox_spec(pod, 0, "node-a", "cluster-x", dns=dns)
    assert (sandbox.network_mode, sandbox.ipc_mode) == ("host", "host")
    assert sandbox.hostname is None and sandbox.port_bindings == {} and sandbox.dns_servers == ()
    app = podspec.app_spec(pod, web, 0, "sb", "node-a", "cluster-x")
    assert (app.network_mode, app.ipc_mode, app.pid_mode) == ("container:sb", "host", "host")
    isolated = podspec.sandbox_spec(make_pod(containers=[web]), 0, "node-a", "cluster-x", dns=dns)
    assert (isolated.network_mode, isolated.ipc_mode) == (None, "shareable")
    assert isolated.hostname == "web-1" and isolated.dns_servers == ("10.0.0.10",)
