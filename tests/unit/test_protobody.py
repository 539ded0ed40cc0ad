"""Protobuf request bodies (what kubectl's typed clients send) decoded to their JSON objects."""

from __future__ import annotations

import pytest

from common import errors
from control.apiserver.protobody import MAGIC, decode

# The body of `kubectl create deployment hello-web --image tinykube/web:1` (kubectl v1.35.2),
# every unset field on the wire with its zero value, as Go's generated code writes them.
KUBECTL_CREATE_DEPLOYMENT = bytes.fromhex(
    "6b38730 00a150a0761707073 2f763112 0a4465706c6f796d656e7412cb010a2b"
    "0a0968656c6c6f2d776562 12001a0022 002a00320038004200 5a100a03617070"
    "120968656c6c6f2d776562 128d010801 12120a100a03617070 120968656c6c6f"
    "2d7765621a6d0a220a00120 01a002200 2a00320038004200 5a100a0361707012"
    "0968656c6c6f2d77656212 47122 90a03 776562120e74696e 796b7562652f7765"
    "623a312a00420 06a00720 0800100 8801 00900100a20100 1a00320042004a00 52"
    "0058006000680082010 08a01009a0100 c20100220 20a0028 00380 01a0c0800 10"
    "00180020002800380 01a002200".replace(" ", "")
)


def varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number: int, value: int | bytes | str) -> bytes:
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    data = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(data)) + data


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    type_meta = field(1, api_version) + field(2, kind)
    return MAGIC + field(1, type_meta) + field(2, raw) + field(3, "") + field(4, "")


def test_kubectls_create_deployment_body() -> None:
    assert decode(KUBECTL_CREATE_DEPLOYMENT) == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "hello-web", "labels": {"app": "hello-web"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "hello-web"}},
            "template": {
                "metadata": {"labels": {"app": "hello-web"}},
                "spec": {"containers": [{"name": "web", "image": "tinykube/web:1"}]},
            },
        },
    }


def test_pointer_fields_keep_their_zero_value() -> None:
    spec = field(1, 0) + field(5, 0)  # replicas (a pointer) 0, minReadySeconds (a value) 0
    obj = decode(envelope("apps/v1", "Deployment", field(1, field(1, "web")) + field(2, spec)))
    assert obj["spec"] == {"replicas": 0}


def test_kubernetes_value_types() -> None:
    quantity = field(1, field(1, "cpu") + field(2, field(1, "250m")))
    probe = field(1, field(2, field(1, "/healthz") + field(2, field(1, 1) + field(3, "http"))))
    probe += field(4, 5)
    container = field(1, "web") + field(2, "img") + field(8, quantity) + field(11, probe)
    toleration = field(1, "k") + field(5, -1)
    spec = field(2, container) + field(22, toleration)
    created = field(8, field(1, 1767225600) + field(2, 0))
    obj = decode(envelope("v1", "Pod", field(1, field(1, "p") + created) + field(2, spec)))
    assert obj["metadata"] == {"name": "p", "creationTimestamp": "2026-01-01T00:00:00Z"}
    (c,) = obj["spec"]["containers"]
    assert c["resources"] == {"limits": {"cpu": "250m"}}
    assert c["readinessProbe"] == {"httpGet": {"path": "/healthz", "port": "http"},
                                   "periodSeconds": 5}  # fmt: skip
    assert obj["spec"]["tolerations"] == [{"key": "k", "tolerationSeconds": -1}]


def test_unknown_fields_pass_only_when_zero() -> None:
    meta = field(1, "web") + field(15, "") + field(16, 0)
    assert decode(envelope("v1", "Namespace", field(1, meta)))["metadata"] == {"name": "web"}
    with pytest.raises(errors.UnsupportedMediaTypeError, match="field 99 of ObjectMeta"):
        decode(envelope("v1", "Namespace", field(1, meta + field(99, "x"))))


@pytest.mark.parametrize(
    "body",
    [
        envelope("v1", "ReplicationController", b""),
        b"\x0a\x00",
        MAGIC + b"\x0a\x10",
    ],
)
def test_bodies_it_cannot_read_are_415(body: bytes) -> None:
    with pytest.raises(errors.UnsupportedMediaTypeError) as info:
        decode(body)
    assert info.value.code == 415
    assert "application/json" in info.value.message


def test_security_contexts() -> None:
    caps = field(1, field(1, "NET_ADMIN") + field(2, "ALL"))
    container_sc = caps + field(4, 0) + field(7, 0) + field(11, field(1, "RuntimeDefault"))
    container = field(1, "web") + field(2, "tinykube/web:1") + field(15, container_sc)
    sysctl = field(1, "net.ipv4.tcp_syncookies") + field(2, "1")
    pod_sc = field(3, 1) + field(4, 0) + field(4, 1000) + field(5, 2000) + field(7, sysctl)
    body = envelope(
        "v1", "Pod", field(1, field(1, "p")) + field(2, field(2, container) + field(14, pod_sc))
    )
    spec = decode(body)["spec"]
    assert spec["containers"][0]["securityContext"] == {
        "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]},
        "runAsUser": 0,
        "allowPrivilegeEscalation": False,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert spec["securityContext"] == {
        "runAsNonRoot": True,
        "supplementalGroups": [0, 1000],
        "fsGroup": 2000,
        "sysctls": [{"name": "net.ipv4.tcp_syncookies", "value": "1"}],
    }


def test_kubectls_create_service_body() -> None:
    """`kubectl create service nodeport web --tcp=80:http --node-port=30080`, as protobuf."""
    target = field(1, 1) + field(2, 0) + field(3, "http")  # IntOrString: a string
    port = field(1, "80-http") + field(2, "TCP") + field(3, 80) + field(4, target)
    port += field(5, 30080)
    selector = field(2, field(1, "app") + field(2, "web"))
    spec = field(1, port) + selector + field(3, "") + field(4, "NodePort") + field(7, "")
    spec += field(13, 0)
    meta = field(1, "web") + field(11, field(1, "app") + field(2, "web"))
    body = envelope("v1", "Service", field(1, meta) + field(2, spec) + field(3, b""))
    assert decode(body) == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "ports": [{"name": "80-http", "protocol": "TCP", "port": 80, "targetPort": "http",
                       "nodePort": 30080}],
            "selector": {"app": "web"},
            "type": "NodePort",
        },
    }  # fmt: skip


def test_secret_and_config_map_bodies() -> None:
    meta = field(1, field(1, "db"))
    data = field(2, field(1, "password") + field(2, b"s3\x00cr3t"))
    raw = meta + data + field(3, "Opaque") + field(4, field(1, "k") + field(2, "v"))
    assert decode(envelope("v1", "Secret", raw)) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db"},
        "data": {"password": "czMAY3IzdA=="},
        "type": "Opaque",
        "stringData": {"k": "v"},
    }
    raw = meta + field(2, field(1, "a") + field(2, "1")) + field(3, field(1, "b") + field(2, b""))
    assert decode(envelope("v1", "ConfigMap", raw + field(4, 1))) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "db"},
        "data": {"a": "1"},
        "binaryData": {"b": ""},
        "immutable": True,
    }


def test_delete_options_of_any_group_version() -> None:
    """kubectl drain's DELETE fallback sends DeleteOptions in protobuf; a grace period of 0 and
    an empty dry run list are kept or dropped as Go's pointers and slices are."""
    raw = field(1, 0) + field(2, field(1, "u1")) + field(4, "Foreground")
    for api_version in ("v1", "meta.k8s.io/v1", "apps/v1"):
        assert decode(envelope(api_version, "DeleteOptions", raw)) == {
            "apiVersion": api_version,
            "kind": "DeleteOptions",
            "gracePeriodSeconds": 0,
            "preconditions": {"uid": "u1"},
            "propagationPolicy": "Foreground",
        }
    negative = decode(envelope("v1", "DeleteOptions", field(1, -1)))
    assert negative["gracePeriodSeconds"] == -1


def test_an_eviction() -> None:
    raw = field(1, field(1, "web") + field(3, "default")) + field(2, field(1, 30))
    assert decode(envelope("policy/v1", "Eviction", raw)) == {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": "web", "namespace": "default"},
        "deleteOptions": {"gracePeriodSeconds": 30},
    }


def test_managed_fields_decode_with_their_fields_v1() -> None:
    entry = (field(1, "kubectl") + field(2, "Apply") + field(3, "apps/v1") + field(6, "FieldsV1")
             + field(7, field(1, '{"f:spec":{"f:replicas":{}}}')))  # fmt: skip
    raw = field(1, field(1, "web") + field(17, entry))
    assert decode(envelope("apps/v1", "Deployment", raw))["metadata"] == {
        "name": "web",
        "managedFields": [{"manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1",
                           "fieldsType": "FieldsV1",
                           "fieldsV1": {"f:spec": {"f:replicas": {}}}}],
    }  # fmt: skip
    bad = field(1, field(17, field(7, field(1, "{nope"))))
    with pytest.raises(errors.UnsupportedMediaTypeError):
        decode(envelope("apps/v1", "Deployment", bad))


def test_a_token_request_and_a_service_account_decode() -> None:
    bound = field(1, "Pod") + field(2, "v1") + field(3, "web") + field(4, "u1")
    spec = field(1, "https://kubernetes.default.svc.cluster.local") + field(4, 1200)
    spec += field(3, bound)
    raw = field(1, field(1, "robot")) + field(2, spec)
    assert decode(envelope("authentication.k8s.io/v1", "TokenRequest", raw)) == {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "metadata": {"name": "robot"},
        "spec": {
            "audiences": ["https://kubernetes.default.svc.cluster.local"],
            "expirationSeconds": 1200,
            "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "web", "uid": "u1"},
        },
    }
    account = field(1, field(1, "robot")) + field(3, field(1, "registry")) + field(4, 0)
    assert decode(envelope("v1", "ServiceAccount", account)) == {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "robot"},
        "imagePullSecrets": [{"name": "registry"}],
        "automountServiceAccountToken": False,
    }


def test_kubectls_create_pdb_body() -> None:
    """``kubectl create pdb web --selector=app=web --min-available=50%``: an IntOrString string,
    and a status whose counts are all on the wire as zeros."""
    label = field(1, field(1, "app") + field(2, "web"))
    spec = field(1, field(1, 1) + field(3, "50%")) + field(2, label)
    status = field(3, 0) + field(4, 0) + field(5, 0) + field(6, 0)
    raw = field(1, field(1, "web")) + field(2, spec) + field(3, status)
    assert decode(envelope("policy/v1", "PodDisruptionBudget", raw)) == {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "web"},
        "spec": {"minAvailable": "50%", "selector": {"matchLabels": {"app": "web"}}},
    }
    spec = field(1, field(1, 0) + field(2, 0)) + field(2, b"")
    decoded = decode(envelope("policy/v1", "PodDisruptionBudget", field(2, spec)))
    assert decoded["spec"] == {"minAvailable": 0, "selector": {}}


def test_kubectls_create_job_body_with_a_failure_policy() -> None:
    container = field(1, "pi") + field(2, "perl:5") + field(3, "perl") + field(3, "-e")
    pod_spec = field(2, container) + field(3, "Never")
    exit_codes = field(1, "pi") + field(2, "In") + field(3, 3) + field(3, 42)
    rule = field(1, "FailJob") + field(2, exit_codes)
    spec = (
        field(6, field(2, pod_spec))  # template
        + field(7, 0)  # backoffLimit 0: a pointer keeps its zero
        + field(10, 1)  # suspend
        + field(9, "Indexed")
        + field(2, 3)  # completions
        + field(11, field(1, rule))
    )
    obj = decode(envelope("batch/v1", "Job", field(1, field(1, "pi")) + field(2, spec)))
    assert obj == {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "pi"},
        "spec": {
            "template": {"spec": {"containers": [{"name": "pi", "image": "perl:5",
                                                  "command": ["perl", "-e"]}],
                                  "restartPolicy": "Never"}},
            "backoffLimit": 0,
            "suspend": True,
            "completionMode": "Indexed",
            "completions": 3,
            "podFailurePolicy": {"rules": [{"action": "FailJob", "onExitCodes": {
                "containerName": "pi", "operator": "In", "values": [3, 42]}}]},
        },
    }  # fmt: skip


def test_kubectls_create_cronjob_body() -> None:
    container = field(1, "nightly") + field(2, "tinykube/sleeper:1") + field(3, "sh")
    pod_spec = field(2, container) + field(3, "OnFailure")
    job_spec = field(6, field(2, pod_spec))
    spec = (
        field(1, "0 3 * * *")
        + field(5, field(1, field(1, "nightly")) + field(2, job_spec))  # jobTemplate
        + field(4, 0)  # suspend false: a pointer keeps its zero
        + field(3, "")  # concurrencyPolicy unset
        + field(8, "Etc/UTC")
        + field(2, 30)  # startingDeadlineSeconds
        + field(6, 0)  # successfulJobsHistoryLimit
    )
    obj = decode(envelope("batch/v1", "CronJob", field(1, field(1, "nightly")) + field(2, spec)))
    assert obj == {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "nightly"},
        "spec": {
            "schedule": "0 3 * * *",
            "jobTemplate": {
                "metadata": {"name": "nightly"},
                "spec": {"template": {"spec": {
                    "containers": [{"name": "nightly", "image": "tinykube/sleeper:1",
                                    "command": ["sh"]}],
                    "restartPolicy": "OnFailure",
                }}},
            },
            "suspend": False,
            "timeZone": "Etc/UTC",
            "startingDeadlineSeconds": 30,
            "successfulJobsHistoryLimit": 0,
        },
    }  # fmt: skip
