"""Pod defaults: the values Kubernetes' core/v1 defaulting fills in."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from common.defaults import default_object, default_pod, default_pull_policy, image_tag


def _pod(**spec: Any) -> dict[str, Any]:
    containers = spec.pop("containers", [{"name": "web", "image": "nginx"}])
    return {"metadata": {"name": "p"}, "spec": {"containers": containers, **spec}}


def test_pod_spec_defaults() -> None:
    pod = _pod()
    default_pod(pod)
    spec = pod["spec"]
    assert spec["restartPolicy"] == "Always"
    assert spec["terminationGracePeriodSeconds"] == 30
    assert spec["dnsPolicy"] == "ClusterFirst"
    assert spec["schedulerName"] == "default-scheduler"
    assert spec["enableServiceLinks"] is True
    assert "priority" not in spec  # the Priority admission plugin's, on create
    assert spec["securityContext"] == {}
    (c,) = spec["containers"]
    assert c["imagePullPolicy"] == "Always"
    assert c["terminationMessagePath"] == "/dev/termination-log"
    assert c["terminationMessagePolicy"] == "File"
    assert c["resources"] == {}


def test_given_values_are_kept() -> None:
    pod = _pod(
        restartPolicy="Never",
        terminationGracePeriodSeconds=0,
        dnsPolicy="Default",
        schedulerName="mine",
        enableServiceLinks=False,
        priority=7,
    )
    default_pod(pod)
    spec = pod["spec"]
    assert (spec["restartPolicy"], spec["terminationGracePeriodSeconds"]) == ("Never", 0)
    assert (spec["dnsPolicy"], spec["schedulerName"]) == ("Default", "mine")
    assert (spec["enableServiceLinks"], spec["priority"]) == (False, 7)


def test_priority_class_leaves_priority_to_its_admission() -> None:
    pod = _pod(priorityClassName="high")
    default_pod(pod)
    assert "priority" not in pod["spec"]


@pytest.mark.parametrize(
    ("image", "tag", "policy"),
    [
        ("nginx", "latest", "Always"),
        ("nginx:latest", "latest", "Always"),
        ("nginx:1.25", "1.25", "IfNotPresent"),
        ("library/nginx:1.25-alpine", "1.25-alpine", "IfNotPresent"),
        ("localhost:5000/app", "latest", "Always"),  # a registry port is not a tag
        ("localhost:5000/app:v2", "v2", "IfNotPresent"),
        ("127.0.0.1:1/missing:1", "1", "IfNotPresent"),
        ("nginx@sha256:" + "a" * 64, "", "IfNotPresent"),
        ("nginx:1.25@sha256:" + "a" * 64, "1.25", "IfNotPresent"),
        ("Nginx", "", "IfNotPresent"),  # not a valid reference: no tag can be read
        ("", "", "IfNotPresent"),
    ],
)
def test_pull_policy_follows_the_tag(image: str, tag: str, policy: str) -> None:
    assert image_tag(image) == tag
    assert default_pull_policy(image) == policy


def test_container_level_defaults() -> None:
    probe = {"httpGet": {"port": 80}}
    pod = _pod(
        containers=[
            {
                "name": "web",
                "image": "nginx:1",
                "imagePullPolicy": "Never",
                "ports": [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}],
                "livenessProbe": probe,
                "readinessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 3},
                "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
            }
        ],
        initContainers=[{"name": "init", "image": "busybox"}],
    )
    default_pod(pod)
    c = pod["spec"]["containers"][0]
    assert c["imagePullPolicy"] == "Never"
    assert [p["protocol"] for p in c["ports"]] == ["TCP", "UDP"]
    assert c["livenessProbe"] == {
        "httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
        "timeoutSeconds": 1,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
    }
    assert c["readinessProbe"]["periodSeconds"] == 3
    assert c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"] == "v1"
    assert pod["spec"]["initContainers"][0]["imagePullPolicy"] == "Always"


def test_requests_default_to_limits() -> None:
    pod = _pod(
        containers=[
            {"name": "a", "image": "x", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}},
            {
                "name": "b",
                "image": "x",
                "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "100m"}},
            },
            {"name": "c", "image": "x", "resources": {"requests": {"cpu": "100m"}}},
        ]
    )
    default_pod(pod)
    a, b, c = (x["resources"] for x in pod["spec"]["containers"])
    assert a["requests"] == {"cpu": "1", "memory": "1Gi"}
    assert b["requests"] == {"cpu": "100m", "memory": "1Gi"}
    assert c == {"requests": {"cpu": "100m"}}


def test_host_network_ports_get_host_ports() -> None:
    pod = _pod(
        hostNetwork=True,
        containers=[{"name": "a", "image": "x", "ports": [{"containerPort": 8080}]}],
    )
    default_pod(pod)
    assert pod["spec"]["containers"][0]["ports"][0]["hostPort"] == 8080


def test_volume_defaults() -> None:
    pod = _pod(
        volumes=[
            {"name": "scratch"},
            {"name": "cm", "configMap": {"name": "c"}},
            {"name": "h", "hostPath": {"path": "/tmp"}},
        ]
    )
    default_pod(pod)
    scratch, cm, host = pod["spec"]["volumes"]
    assert scratch["emptyDir"] == {}
    assert cm["configMap"]["defaultMode"] == 420
    assert host["hostPath"]["type"] == ""


def test_defaulting_is_idempotent() -> None:
    pod = _pod(
        volumes=[{"name": "v"}],
        containers=[
            {
                "name": "a",
                "image": "x",
                "resources": {"limits": {"cpu": "1"}},
                "livenessProbe": {"tcpSocket": {"port": 1}},
            }
        ],
    )
    default_pod(pod)
    once = copy.deepcopy(pod)
    default_object("Pod", pod)
    assert pod == once


def test_kinds_without_defaults_are_untouched() -> None:
    node = {"metadata": {"name": "n"}}
    default_object("Node", node)
    assert node == {"metadata": {"name": "n"}}
