"""Strict decoding: the 400 messages of Kubernetes' decoder for unknown fields and wrong types."""

from __future__ import annotations

from typing import Any

import pytest

from common import errors
from control.validation import SCHEMAS, decode_object, drop_unknown_fields, register_schema
from control.validation.schema import K8sModel, ObjectMeta, TypeMeta

PREFIX = 'Pod in version "v1" cannot be handled as a Pod: '

# A pod as `kubectl get pod -o json` prints it: every field must decode.
FULL_POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "web-7d4b9c8f5d-x2k9p",
        "generateName": "web-7d4b9c8f5d-",
        "namespace": "default",
        "uid": "0b4a5d1c-2d0e-4bd6-9f7c-1f2e3d4c5b6a",
        "resourceVersion": "1234",
        "generation": 1,
        "creationTimestamp": "2024-05-01T10:00:00Z",
        "labels": {"app": "web", "pod-template-hash": "7d4b9c8f5d"},
        "annotations": {"kubectl.kubernetes.io/restartedAt": "2024-05-01T10:00:00Z"},
        "ownerReferences": [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": "web-7d4b9c8f5d",
                "uid": "a1",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
        "managedFields": [{"manager": "kube-controller-manager", "operation": "Update"}],
    },
    "spec": {
        "volumes": [
            {"name": "data", "emptyDir": {"sizeLimit": "1Gi"}},
            {"name": "cfg", "configMap": {"name": "cfg", "defaultMode": 420}},
            {"name": "token", "projected": {"sources": []}},
        ],
        "initContainers": [{"name": "init", "image": "busybox", "command": ["true"]}],
        "containers": [
            {
                "name": "web",
                "image": "nginx:1.25",
                "command": ["nginx"],
                "args": ["-g", "daemon off;"],
                "workingDir": "/",
                "ports": [
                    {"name": "http", "containerPort": 80, "protocol": "TCP", "hostIP": "0.0.0.0"}
                ],
                "env": [
                    {"name": "A", "value": "1"},
                    {"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                ],
                "resources": {
                    "limits": {"cpu": "500m", "memory": "128Mi"},
                    "requests": {"cpu": 0.1},
                },
                "volumeMounts": [{"name": "data", "mountPath": "/data", "readOnly": True}],
                "livenessProbe": {"httpGet": {"path": "/", "port": "http", "scheme": "HTTP"}},
                "readinessProbe": {"tcpSocket": {"port": 80}, "initialDelaySeconds": 1},
                "startupProbe": {"exec": {"command": ["true"]}, "failureThreshold": 30},
                "lifecycle": {"preStop": {"exec": {"command": ["sleep", "1"]}}},
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
                "imagePullPolicy": "IfNotPresent",
                "securityContext": {"runAsUser": 1000, "capabilities": {"drop": ["ALL"]}},
                "stdin": False,
                "tty": False,
            }
        ],
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "activeDeadlineSeconds": 600,
        "dnsPolicy": "ClusterFirst",
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "serviceAccountName": "default",
        "serviceAccount": "default",
        "nodeName": "node-1",
        "hostNetwork": False,
        "hostPID": False,
        "hostIPC": False,
        "securityContext": {"fsGroup": 2000},
        "imagePullSecrets": [{"name": "regcred"}],
        "hostname": "web",
        "subdomain": "svc",
        "affinity": {"nodeAffinity": {}},
        "schedulerName": "default-scheduler",
        "tolerations": [
            {
                "key": "node.kubernetes.io/not-ready",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            }
        ],
        "priority": 0,
        "enableServiceLinks": True,
        "preemptionPolicy": "PreemptLowerPriority",
    },
    "status": {
        "phase": "Running",
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "lastProbeTime": None,
                "lastTransitionTime": "2024-05-01T10:00:05Z",
            }
        ],
        "hostIP": "192.168.1.10",
        "hostIPs": [{"ip": "192.168.1.10"}],
        "podIP": "10.244.0.5",
        "podIPs": [{"ip": "10.244.0.5"}],
        "startTime": "2024-05-01T10:00:00Z",
        "containerStatuses": [
            {
                "name": "web",
                "state": {"running": {"startedAt": "2024-05-01T10:00:03Z"}},
                "lastState": {
                    "terminated": {"exitCode": 137, "reason": "Error", "containerID": "docker://x"}
                },
                "ready": True,
                "restartCount": 1,
                "image": "nginx:1.25",
                "imageID": "docker-pullable://nginx@sha256:abc",
                "containerID": "docker://0123",
                "started": True,
            }
        ],
        "qosClass": "Burstable",
    },
}


def _error(kind: str, body: Any) -> errors.BadRequestError:
    with pytest.raises(errors.BadRequestError) as info:
        decode_object(kind, body)
    return info.value


def test_a_complete_pod_decodes() -> None:
    decode_object("Pod", FULL_POD)


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        (
            "Node",
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": "n1"},
                "spec": {
                    "podCIDR": "10.244.0.0/24",
                    "podCIDRs": ["10.244.0.0/24"],
                    "providerID": "tinykube://n1",
                    "unschedulable": False,
                    "taints": [{"key": "k", "effect": "NoSchedule"}],
                },
                "status": {
                    "capacity": {"cpu": "4", "memory": "16318668Ki", "pods": "110"},
                    "allocatable": {"cpu": "4", "memory": "16216268Ki", "pods": "110"},
                    "conditions": [
                        {
                            "type": "Ready",
                            "status": "True",
                            "reason": "KubeletReady",
                            "lastHeartbeatTime": "2024-05-01T10:00:00Z",
                        }
                    ],
                    "addresses": [{"type": "InternalIP", "address": "192.168.1.10"}],
                    "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                    "nodeInfo": {
                        "machineID": "m",
                        "systemUUID": "s",
                        "bootID": "b",
                        "kernelVersion": "6.1",
                        "osImage": "Debian",
                        "operatingSystem": "linux",
                        "architecture": "amd64",
                        "containerRuntimeVersion": "docker://20.10",
                        "kubeletVersion": "v1.28.2",
                        "kubeProxyVersion": "",
                    },
                    "images": [{"names": ["nginx"], "sizeBytes": 1}],
                },
            },
        ),
        (
            "Namespace",
            {
                "metadata": {"name": "dev"},
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            },
        ),
        (
            "Event",
            {
                "metadata": {"name": "web.17a8", "namespace": "default"},
                "involvedObject": {
                    "kind": "Pod",
                    "name": "web",
                    "namespace": "default",
                    "uid": "u",
                    "apiVersion": "v1",
                    "resourceVersion": "1",
                    "fieldPath": "",
                },
                "reason": "Scheduled",
                "message": "ok",
                "source": {"component": "sched", "host": "h"},
                "firstTimestamp": "2024-05-01T10:00:00Z",
                "lastTimestamp": "2024-05-01T10:00:00Z",
                "count": 1,
                "type": "Normal",
                "eventTime": "2024-05-01T10:00:00.123456Z",
                "series": {"count": 2, "lastObservedTime": "2024-05-01T10:00:00.000000Z"},
                "action": "Binding",
                "related": {"kind": "Node", "name": "n1"},
                "reportingComponent": "sched",
                "reportingInstance": "sched-1",
            },
        ),
        (
            "Lease",
            {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": "n1", "namespace": "kube-node-lease"},
                "spec": {
                    "holderIdentity": "n1",
                    "leaseDurationSeconds": 40,
                    "renewTime": "2024-05-01T10:00:00.000000Z",
                    "leaseTransitions": 0,
                },
            },
        ),
        (
            "DeleteOptions",
            {
                "kind": "DeleteOptions",
                "apiVersion": "v1",
                "gracePeriodSeconds": 0,
                "propagationPolicy": "Background",
                "dryRun": ["All"],
                "preconditions": {"uid": "u", "resourceVersion": "1"},
                "orphanDependents": False,
            },
        ),
    ],
)
def test_other_kinds_decode(kind: str, body: dict[str, Any]) -> None:
    decode_object(kind, body)


def test_unknown_fields_are_all_listed_in_document_order() -> None:
    body = {
        "metadata": {"name": "x"},
        "spec": {"containers": [{"name": "c", "imagee": "nginx"}], "nodeNmae": "n"},
        "Status": {},
    }
    err = _error("Pod", body)
    assert err.message == PREFIX + (
        'strict decoding error: unknown field "spec.containers[0].imagee", '
        'unknown field "spec.nodeNmae", unknown field "Status"'
    )
    assert [c.field for c in err.causes] == ["spec.containers[0].imagee", "spec.nodeNmae", "Status"]
    assert err.causes[0].message == 'unknown field "spec.containers[0].imagee"'
    assert err.to_status()["reason"] == "BadRequest" and err.code == 400


def test_snake_case_names_are_unknown_fields() -> None:
    err = _error("Pod", {"spec": {"host_network": True, "hostPid": True}})
    assert [c.field for c in err.causes] == ["spec.host_network", "spec.hostPid"]


@pytest.mark.parametrize(
    ("body", "message", "field"),
    [
        (
            {"spec": {"containers": [{"ports": [{"containerPort": "80"}]}]}},
            "json: cannot unmarshal string into Go struct field "
            "ContainerPort.spec.containers.ports.containerPort of type int32",
            "spec.containers[0].ports[0].containerPort",
        ),
        (
            {"spec": {"containers": [{"ports": [{"containerPort": 1.5}]}]}},
            "json: cannot unmarshal number 1.5 into Go struct field "
            "ContainerPort.spec.containers.ports.containerPort of type int32",
            "spec.containers[0].ports[0].containerPort",
        ),
        (
            {"spec": {"priority": 2**40}},
            "json: cannot unmarshal number 1099511627776 into Go struct field "
            "PodSpec.spec.priority of type int32",
            "spec.priority",
        ),
        (
            {"metadata": {"labels": {"enabled": True}}},
            "json: cannot unmarshal bool into Go struct field ObjectMeta.metadata.labels of type "
            "string",
            "metadata.labels[enabled]",
        ),
        (
            {"metadata": {"labels": {"version": 1.1}}},
            "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type "
            "string",
            "metadata.labels[version]",
        ),
        (
            {"spec": {"hostNetwork": "true"}},
            "json: cannot unmarshal string into Go struct field PodSpec.spec.hostNetwork of "
            "type bool",
            "spec.hostNetwork",
        ),
        (
            {"spec": {"containers": {"name": "c"}}},
            "json: cannot unmarshal object into Go struct field PodSpec.spec.containers of type "
            "[]v1.Container",
            "spec.containers",
        ),
        (
            {"spec": {"containers": ["nginx"]}},
            "json: cannot unmarshal string into Go struct field PodSpec.spec.containers of type "
            "v1.Container",
            "spec.containers[0]",
        ),
        (
            {"metadata": "web"},
            "json: cannot unmarshal string into Go struct field Pod.metadata of type v1.ObjectMeta",
            "metadata",
        ),
        (
            {"spec": {"containers": [{"command": "sleep 1"}]}},
            "json: cannot unmarshal string into Go struct field Container.spec.containers.command "
            "of type []string",
            "spec.containers[0].command",
        ),
        (
            {"spec": {"containers": [{"livenessProbe": {"httpGet": {"port": True}}}]}},
            "json: cannot unmarshal bool into Go struct field "
            "HTTPGetAction.spec.containers.livenessProbe.httpGet.port of type intstr.IntOrString",
            "spec.containers[0].livenessProbe.httpGet.port",
        ),
        (
            {"spec": {"affinity": []}},
            "json: cannot unmarshal array into Go struct field PodSpec.spec.affinity of type "
            "v1.Affinity",
            "spec.affinity",
        ),
        (
            {"spec": {"containers": [{"resources": {"limits": {"cpu": "lots"}}}]}},
            "quantities must match the regular expression "
            "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
            "spec.containers[0].resources.limits[cpu]",
        ),
        (
            {"spec": {"containers": [{"resources": {"requests": {"memory": "1K"}}}]}},
            "unable to parse quantity's suffix",
            "spec.containers[0].resources.requests[memory]",
        ),
        (
            {"metadata": {"creationTimestamp": "yesterday"}},
            'parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" '
            'as "2006"',
            "metadata.creationTimestamp",
        ),
    ],
)
def test_wrong_types(body: dict[str, Any], message: str, field: str) -> None:
    err = _error("Pod", body)
    assert err.message == PREFIX + message
    assert [c.field for c in err.causes] == [field]


def test_a_type_error_wins_over_unknown_fields() -> None:
    err = _error("Pod", {"spec": {"bogus": 1, "hostNetwork": 1}})
    assert err.message == PREFIX + (
        "json: cannot unmarshal number into Go struct field PodSpec.spec.hostNetwork of type bool"
    )


@pytest.mark.parametrize(("body", "jtype"), [([], "array"), ("pod", "string"), (3, "number")])
def test_a_body_that_is_not_an_object(body: Any, jtype: str) -> None:
    err = _error("Pod", body)
    assert err.message == (
        f"couldn't get version/kind; json parse error: json: cannot unmarshal {jtype} into Go "
        'value of type struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string '
        '"json:\\"kind,omitempty\\"" }'
    )


def test_messages_name_the_kind_of_other_objects() -> None:
    err = _error("Lease", {"spec": {"renewTime": 5}})
    assert err.message == (
        'Lease in version "v1" cannot be handled as a Lease: json: cannot unmarshal number into '
        "Go struct field LeaseSpec.spec.renewTime of type string"
    )
    err = _error("Node", {"status": {"daemonEndpoints": {"kubeletEndpoint": {"port": 1}}}})
    assert err.causes[0].field == "status.daemonEndpoints.kubeletEndpoint.port"


class WidgetSpec(K8sModel):
    size: int | None = None


class Widget(TypeMeta):
    metadata: ObjectMeta | None = None
    spec: WidgetSpec | None = None


def test_new_kinds_can_be_registered() -> None:
    register_schema("Widget", Widget, "v1beta1")
    try:
        decode_object("Widget", {"spec": {"size": 3}})
        err = _error("Widget", {"spec": {"colour": "red"}})
        assert err.message == (
            'Widget in version "v1beta1" cannot be handled as a Widget: strict decoding error: '
            'unknown field "spec.colour"'
        )
    finally:
        del SCHEMAS["Widget"]


def test_drop_unknown_fields_removes_them_and_names_them_in_document_order() -> None:
    pod = {
        "metadata": {"name": "p", "bogus": 1},
        "spec": {"containers": [{"name": "c", "image": "i", "extra": True}], "zzz": {}},
    }
    assert drop_unknown_fields("Pod", pod) == [
        "metadata.bogus", "spec.containers[0].extra", "spec.zzz",
    ]  # fmt: skip
    assert pod == {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
    assert drop_unknown_fields("Pod", pod) == []


@pytest.mark.timeout(20)
def test_many_unknown_fields_list_the_first_hundred_in_linear_time() -> None:
    # Ordered with a list search per field, 20,000 of them took 10 s; Go keeps 100 errors.
    body = {"metadata": {"name": "x"}, **{f"k{i}": 1 for i in range(100_000)}}
    with pytest.raises(errors.BadRequestError) as e:
        decode_object("Pod", body)
    assert len(e.value.causes) == 100
    assert e.value.message.endswith('unknown field "k98", unknown field "k99"')
