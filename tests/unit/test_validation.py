"""Validation: the field errors and 422 messages of the real API server, kind by kind."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.defaults import default_pod
from control.validation import (
    VALIDATORS,
    cluster_policy_causes,
    invalid_error,
    register_validator,
    validate,
)
from control.validation.pod import validate_pod_spec
from control.validation.podupdate import FORBIDDEN_UPDATE

SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)


def pod(**spec: Any) -> dict[str, Any]:
    """A valid, defaulted pod with the given spec fields."""
    containers = spec.pop("containers", [{"name": "web", "image": "nginx:1.25"}])
    obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {"containers": containers, **spec},
    }
    default_pod(obj)
    return obj


def errs(kind: str, obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[str]:
    return [f"{c.field}: {c.message}" for c in validate(kind, obj, old)]


def test_a_valid_pod_has_no_errors() -> None:
    assert validate("Pod", pod()) == []


def test_invalid_name_message_and_status() -> None:
    obj = pod()
    obj["metadata"]["name"] = "Foo"
    causes = validate("Pod", obj)
    err = invalid_error("Pod", "Foo", causes)
    assert (
        err.message == f'Pod "Foo" is invalid: metadata.name: Invalid value: "Foo": {SUBDOMAIN_MSG}'
    )
    status = err.to_status()
    assert status["code"] == 422 and status["reason"] == "Invalid"
    assert status["details"] == {
        "name": "Foo",
        "kind": "Pod",
        "causes": [
            {
                "reason": "FieldValueInvalid",
                "message": f'Invalid value: "Foo": {SUBDOMAIN_MSG}',
                "field": "metadata.name",
            }
        ],
    }


def test_several_errors_are_bracketed() -> None:
    obj = pod(containers=[])
    obj["metadata"]["name"] = ""
    err = invalid_error("Pod", "", validate("Pod", obj))
    assert err.message == (
        'Pod "" is invalid: [metadata.name: Required value: name or generateName is required, '
        "spec.containers: Required value]"
    )
    assert [c.reason for c in err.causes] == ["FieldValueRequired", "FieldValueRequired"]


def test_groups_qualify_the_kind() -> None:
    err = invalid_error("Lease", "n1", validate("Lease", {"metadata": {"name": "n1"}}))
    assert (
        err.message
        == 'Lease.coordination.k8s.io "n1" is invalid: metadata.namespace: Required value'
    )
    assert err.details["group"] == "coordination.k8s.io"


def _with(path: str, value: Any, **spec: Any) -> dict[str, Any]:
    obj = pod(**spec)
    *parents, last = path.split(".")
    cur: Any = obj
    for part in parents:
        cur = cur[int(part)] if part.isdigit() else cur[part]
    if last.isdigit():
        cur[int(last)] = value
    else:
        cur[last] = value
    return obj


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("metadata.name", "my_pod", f'metadata.name: Invalid value: "my_pod": {SUBDOMAIN_MSG}'),
        (
            "metadata.name",
            "a" * 254,
            'metadata.name: Invalid value: "'
            + "a" * 254
            + '": must be no more than 253 characters',
        ),
        ("metadata.namespace", "", "metadata.namespace: Required value"),
        ("metadata.namespace", "Dev", f'metadata.namespace: Invalid value: "Dev": {LABEL_MSG}'),
        (
            "metadata.labels",
            {"app": "a b"},
            'metadata.labels: Invalid value: "a b": a valid label '
            "must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and "
            "must "
            "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
            "'12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
        ),
        (
            "metadata.labels",
            {"-app": "x"},
            'metadata.labels: Invalid value: "-app": name part must '
            "consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
            "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
            "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
        ),
        (
            "metadata.annotations",
            {"a/b/c": "x"},
            'metadata.annotations: Invalid value: "a/b/c": a '
            "valid label key must consist of alphanumeric characters, '-', '_' or '.', and must "
            "start "
            "and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', "
            "regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an "
            "optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
        ),
        (
            "metadata.annotations",
            {"big": "x" * 262142},
            "metadata.annotations: Too long: must have at most 262144 bytes",
        ),
        (
            "metadata.generation",
            -1,
            "metadata.generation: Invalid value: -1: must be greater than or equal to 0",
        ),
        (
            "metadata.finalizers",
            ["custom"],
            'metadata.finalizers[0]: Invalid value: "custom": name '
            "is neither a standard finalizer name nor is it fully qualified",
        ),
        (
            "metadata.annotations",
            {"controller.kubernetes.io/pod-deletion-cost": "x"},
            'metadata.annotations[controller.kubernetes.io/pod-deletion-cost]: Invalid value: "x": '
            "must be a 32bit integer",
        ),
        (
            "spec.containers.0.name",
            "Web",
            f'spec.containers[0].name: Invalid value: "Web": {LABEL_MSG}',
        ),
        ("spec.containers.0.name", "", "spec.containers[0].name: Required value"),
        ("spec.containers.0.image", "", "spec.containers[0].image: Required value"),
        (
            "spec.containers.0.image",
            " nginx",
            'spec.containers[0].image: Invalid value: " nginx": '
            "must not have leading or trailing whitespace",
        ),
        (
            "spec.containers.0.imagePullPolicy",
            "Sometimes",
            "spec.containers[0].imagePullPolicy: "
            'Unsupported value: "Sometimes": supported values: "Always", "IfNotPresent", "Never"',
        ),
        (
            "spec.containers.0.ports",
            [{"containerPort": 0, "protocol": "TCP"}],
            "spec.containers[0].ports[0].containerPort: Required value",
        ),
        (
            "spec.containers.0.ports",
            [{"containerPort": 70000, "protocol": "TCP"}],
            "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 "
            "and "
            "65535, inclusive",
        ),
        (
            "spec.containers.0.ports",
            [{"containerPort": 80, "protocol": "HTTP"}],
            'spec.containers[0].ports[0].protocol: Unsupported value: "HTTP": supported values: '
            '"SCTP", "TCP", "UDP"',
        ),
        (
            "spec.containers.0.ports",
            [{"name": "web_1", "containerPort": 80, "protocol": "TCP"}],
            'spec.containers[0].ports[0].name: Invalid value: "web_1": must contain only '
            "alpha-numeric characters (a-z, 0-9), and hyphens (-)",
        ),
        (
            "spec.containers.0.env",
            [{"name": "A=B"}],
            "spec.containers[0].env[0].name: Invalid "
            'value: "A=B": a valid environment variable name must consist only of printable ASCII '
            "characters other than '='",
        ),
        (
            "spec.containers.0.env",
            [{"value": "x"}],
            "spec.containers[0].env[0].name: Required value",
        ),
        (
            "spec.containers.0.resources",
            {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}},
            'spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal '
            "to cpu limit of 1",
        ),
        (
            "spec.containers.0.resources",
            {"requests": {"gpu": "1"}},
            'spec.containers[0].resources.requests[gpu]: Invalid value: "gpu": must be a standard '
            "resource for containers",
        ),
        (
            "spec.containers.0.resources",
            {"requests": {"memory": "-1"}},
            'spec.containers[0].resources.requests[memory]: Invalid value: "-1": must be greater '
            "than or equal to 0",
        ),
        (
            "spec.containers.0.volumeMounts",
            [{"name": "data", "mountPath": "/d"}],
            'spec.containers[0].volumeMounts[0].name: Not found: "data"',
        ),
        (
            "spec.containers.0.livenessProbe",
            {"successThreshold": 2, "exec": {"command": ["x"]}},
            "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
        ),
        (
            "spec.containers.0.livenessProbe",
            {"periodSeconds": 1},
            "spec.containers[0].livenessProbe: Required value: must specify a handler type",
        ),
        (
            "spec.containers.0.restartPolicy",
            "Always",
            "spec.containers[0].restartPolicy: Forbidden: may not be set for non-init containers",
        ),
        (
            "spec.restartPolicy",
            "Sometimes",
            'spec.restartPolicy: Unsupported value: "Sometimes": '
            'supported values: "Always", "OnFailure", "Never"',
        ),
        (
            "spec.terminationGracePeriodSeconds",
            -5,
            "spec.terminationGracePeriodSeconds: Invalid "
            "value: -5: must be greater than or equal to 0",
        ),
        (
            "spec.activeDeadlineSeconds",
            0,
            "spec.activeDeadlineSeconds: Invalid value: 0: must be "
            "between 1 and 2147483647, inclusive",
        ),
        (
            "spec.dnsPolicy",
            "Google",
            'spec.dnsPolicy: Unsupported value: "Google": supported '
            'values: "ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"',
        ),
        (
            "spec.nodeSelector",
            {"disk": "s s d"},
            'spec.nodeSelector: Invalid value: "s s d": a '
            "valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
            "or "
            "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
            "'my_value',  or '12345', regex used for validation is "
            "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
        ),
        ("spec.nodeName", "Node_1", f'spec.nodeName: Invalid value: "Node_1": {SUBDOMAIN_MSG}'),
        ("spec.hostname", "a.b", 'spec.hostname: Invalid value: "a.b": must not contain dots'),
        (
            "spec.tolerations",
            [{"operator": "Equal", "value": "x"}],
            'spec.tolerations[0].operator: Invalid value: "Equal": operator must be Exists when '
            "`key` "
            'is empty, which means "match all values and all keys"',
        ),
        (
            "spec.tolerations",
            [{"key": "k", "effect": "NoSchedule", "tolerationSeconds": 5}],
            "spec.tolerations[0].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' "
            "when `tolerationSeconds` is set",
        ),
        (
            "spec.volumes",
            [{"name": "v", "emptyDir": {}, "hostPath": {"path": "/x"}}],
            "spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type",
        ),
        (
            "spec.volumes",
            [{"name": "v", "hostPath": {"path": "/x", "type": "Dir"}}],
            'spec.volumes[0].hostPath.type: Unsupported value: "Dir": supported values: "", '
            '"BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", '
            '"FileOrCreate", '
            '"Socket"',
        ),
        (
            "spec.volumes",
            [{"name": "v", "secret": {}}],
            "spec.volumes[0].secret.secretName: Required value",
        ),
        (
            "spec.volumes",
            [{"name": "V_1", "emptyDir": {}}],
            f'spec.volumes[0].name: Invalid value: "V_1": {LABEL_MSG}',
        ),
        (
            "spec.securityContext",
            {"runAsUser": -1},
            "spec.securityContext.runAsUser: Invalid value: "
            "-1: must be between 0 and 2147483647, inclusive",
        ),
        (
            "spec.ephemeralContainers",
            [{"name": "debug", "image": "busybox"}],
            "spec.ephemeralContainers: Forbidden: cannot be set on create",
        ),
    ],
)
def test_pod_field_errors(path: str, value: Any, expected: str) -> None:
    assert errs("Pod", _with(path, value)) == [expected]


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("spec.restartPolicy", ""),
        ("spec.terminationGracePeriodSeconds", None),
        ("spec.containers.0.imagePullPolicy", ""),
        ("spec.containers.0.terminationMessagePolicy", None),
        ("spec.volumes", [{"name": "v"}]),  # no source: an emptyDir
    ],
)
def test_empty_fields_are_defaulted_before_validation(path: str, value: Any) -> None:
    assert errs("Pod", _with(path, value)) == []


def test_duplicates_across_containers_and_ports() -> None:
    obj = pod(
        containers=[
            {
                "name": "a",
                "image": "x",
                "ports": [{"name": "http", "containerPort": 80, "hostPort": 80}],
            },
            {"name": "a", "image": "x", "ports": [{"containerPort": 81, "hostPort": 80}]},
        ],
        initContainers=[{"name": "a", "image": "x", "livenessProbe": {"exec": {"command": ["x"]}}}],
    )
    assert errs("Pod", obj) == [
        'spec.containers[1].name: Duplicate value: "a"',
        'spec.containers[1].ports[0].hostPort: Duplicate value: "TCP//80"',
        'spec.initContainers[0].name: Duplicate value: "a"',
        "spec.initContainers[0].livenessProbe: Forbidden: may not be set for init containers "
        "without restartPolicy=Always",
    ]


def test_host_network_needs_matching_host_ports() -> None:
    obj = pod(
        hostNetwork=True,
        containers=[
            {"name": "a", "image": "x", "ports": [{"containerPort": 80, "hostPort": 8080}]}
        ],
    )
    assert errs("Pod", obj) == [
        "spec.containers[0].ports[0].hostPort: Invalid value: 8080: must match `containerPort` "
        "when `hostNetwork` is true"
    ]


def test_generate_name_is_checked_as_a_prefix() -> None:
    obj = pod()
    obj["metadata"] = {"generateName": "web-", "namespace": "default"}
    assert validate("Pod", obj) == []
    obj["metadata"]["generateName"] = "Web-"
    assert [c.field for c in validate("Pod", obj)] == ["metadata.generateName"]


def test_volume_mounts_resolve_to_volumes() -> None:
    obj = pod(
        volumes=[{"name": "data", "emptyDir": {}}],
        containers=[
            {
                "name": "a",
                "image": "x",
                "volumeMounts": [
                    {"name": "data", "mountPath": "/data"},
                    {"name": "data", "mountPath": "/data"},
                ],
            }
        ],
    )
    assert errs("Pod", obj) == [
        'spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/data": must be unique'
    ]


# --- pod updates -----------------------------------------------------------------------------


def _update(change: Any, **spec: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    old = pod(**spec)
    old["metadata"].update(resourceVersion="5", uid="u1", creationTimestamp="2024-05-01T10:00:00Z")
    new = copy.deepcopy(old)
    change(new)
    return new, old


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p["spec"]["containers"][0].update(image="nginx:1.26"),
        lambda p: p["metadata"]["labels"].update(tier="front"),
        lambda p: p["metadata"].update(annotations={"note": "x"}),
        lambda p: p["spec"].update(activeDeadlineSeconds=30),
        lambda p: p["spec"].update(tolerations=[{"key": "k", "operator": "Exists"}]),
        lambda p: p["spec"]["containers"][0].pop("imagePullPolicy"),  # defaults back the same
        lambda p: p["spec"].update(hostNetwork=False),  # false is the same as absent
    ],
)
def test_allowed_pod_updates(change: Any) -> None:
    new, old = _update(change)
    assert validate("Pod", new, old) == []


def test_a_forbidden_pod_update() -> None:
    new, old = _update(lambda p: p["spec"]["containers"][0].update(ports=[{"containerPort": 8080}]))
    (cause,) = validate("Pod", new, old)
    assert cause.field == "spec"
    assert cause.reason == "FieldValueForbidden"
    assert cause.message.startswith(
        "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
        "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only "
        "additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be "
        "set to 1 if it was previously negative)\n"
    )
    assert "+\tspec.containers[0].ports: " in cause.message
    assert FORBIDDEN_UPDATE in invalid_error("Pod", "web", [cause]).message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda p: p["spec"].update(nodeSelector={"a": "b"}), "spec: Forbidden: pod updates"),
        (
            lambda p: p["spec"].update(terminationGracePeriodSeconds=60),
            "spec: Forbidden: pod updates",
        ),
        (
            lambda p: p["spec"]["containers"].append({"name": "b", "image": "x"}),
            "spec.containers: Forbidden: pod updates may not add or remove containers",
        ),
        (
            lambda p: p["spec"]["containers"][0].update(image=""),
            "spec.containers[0].image: Required value",
        ),
        (
            lambda p: p["metadata"].update(name="other"),
            'metadata.name: Invalid value: "other": field is immutable',
        ),
        (
            lambda p: p["metadata"].update(uid="u2"),
            'metadata.uid: Invalid value: "u2": field is immutable',
        ),
        (
            lambda p: p["metadata"].pop("resourceVersion"),
            'metadata.resourceVersion: Invalid value: "": must be specified for an update',
        ),
    ],
)
def test_forbidden_pod_updates(change: Any, expected: str) -> None:
    new, old = _update(change)
    messages = errs("Pod", new, old)
    assert any(m.startswith(expected) for m in messages), messages


def test_active_deadline_may_only_go_down() -> None:
    new, old = _update(
        lambda p: p["spec"].update(activeDeadlineSeconds=60), activeDeadlineSeconds=30
    )
    assert errs("Pod", new, old) == [
        "spec.activeDeadlineSeconds: Invalid value: 60: must be less than or equal to previous "
        "value"
    ]
    new, old = _update(lambda p: p["spec"].pop("activeDeadlineSeconds"), activeDeadlineSeconds=30)
    assert errs("Pod", new, old) == [
        "spec.activeDeadlineSeconds: Invalid value: null: must not update from a positive integer "
        "to nil value"
    ]


def test_tolerations_may_only_be_added() -> None:
    tol = {"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
    new, old = _update(
        lambda p: p["spec"]["tolerations"][0].update(tolerationSeconds=10), tolerations=[dict(tol)]
    )
    assert errs("Pod", new, old) == []
    new, old = _update(lambda p: p["spec"].update(tolerations=[]), tolerations=[dict(tol)])
    assert errs("Pod", new, old) == [
        "spec.tolerations: Forbidden: existing toleration can not be modified except its "
        "tolerationSeconds"
    ]


def test_negative_grace_period_may_become_one() -> None:
    new, old = _update(lambda p: p["spec"].update(terminationGracePeriodSeconds=1))
    old["spec"]["terminationGracePeriodSeconds"] = -1
    assert [c for c in validate("Pod", new, old) if c.field == "spec"] == []


def test_quantities_compare_by_value_on_update() -> None:
    new, old = _update(
        lambda p: p["spec"]["containers"][0]["resources"]["limits"].update(cpu="1000m"),
        containers=[{"name": "a", "image": "x", "resources": {"limits": {"cpu": "1"}}}],
    )
    assert [c.field for c in validate("Pod", new, old)] == []


# --- other kinds -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "obj", "expected"),
    [
        ("Node", {"metadata": {"name": "node-1"}}, []),
        (
            "Node",
            {"metadata": {"name": "Node_1"}},
            [f'metadata.name: Invalid value: "Node_1": {SUBDOMAIN_MSG}'],
        ),
        (
            "Node",
            {"metadata": {"name": "n"}, "spec": {"taints": [{"key": "k", "effect": "Sometimes"}]}},
            [
                'metadata.taints[0].effect: Unsupported value: "Sometimes": supported values: '
                '"NoSchedule", "PreferNoSchedule", "NoExecute"'
            ],
        ),
        (
            "Node",
            {"metadata": {"name": "n"}, "spec": {"taints": [{"key": "k"}]}},
            ["metadata.taints[0].effect: Required value"],
        ),
        (
            "Node",
            {"metadata": {"name": "n"}, "spec": {"podCIDRs": ["10.0.0.0/33"]}},
            [
                'spec.podCIDRs[0]: Invalid value: "10.0.0.0/33": must be a valid CIDR value, (e.g. '
                "10.9.8.0/24 or 2001:db8::/64)"
            ],
        ),
        (
            "Node",
            {"metadata": {"name": "n"}, "status": {"capacity": {"cpu": "-1"}}},
            ['status.capacity[cpu]: Invalid value: "-1": must be greater than or equal to 0'],
        ),
        ("Namespace", {"metadata": {"name": "dev"}, "spec": {"finalizers": ["kubernetes"]}}, []),
        (
            "Namespace",
            {"metadata": {"name": "dev.team"}},
            ['metadata.name: Invalid value: "dev.team": must not contain dots'],
        ),
        (
            "Namespace",
            {"metadata": {"name": "dev"}, "spec": {"finalizers": ["mine"]}},
            [
                'spec.finalizers: Invalid value: "mine": name is neither a standard finalizer '
                "name nor "
                "is it fully qualified"
            ],
        ),
        (
            "Event",
            {
                "metadata": {"name": "web.17a8f2", "namespace": "default"},
                "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default"},
                "reason": "Scheduled",
                "type": "Normal",
            },
            [],
        ),
        (
            "Event",
            {
                "metadata": {"name": "Web.X", "namespace": "default"},
                "involvedObject": {"namespace": "default"},
            },
            [],
        ),  # any path-safe name
        (
            "Event",
            {
                "metadata": {"name": "a/b", "namespace": "default"},
                "involvedObject": {"namespace": "default"},
            },
            ["metadata.name: Invalid value: \"a/b\": may not contain '/'"],
        ),
        (
            "Event",
            {
                "metadata": {"name": "e", "namespace": "default"},
                "involvedObject": {"namespace": "other"},
            },
            ['involvedObject.namespace: Invalid value: "other": does not match event.namespace'],
        ),
        (
            "Event",
            {
                "metadata": {"name": "e", "namespace": "default"},
                "involvedObject": {"namespace": "default"},
                "eventTime": "2024-05-01T10:00:00Z",
            },
            [
                "reportingController: Required value",
                'reportingController: Invalid value: "": name part must be non-empty',
                'reportingController: Invalid value: "": name part must consist of alphanumeric '
                "characters, '-', '_' or '.', and must start and end with an alphanumeric "
                "character "
                "(e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
                "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
                "reportingInstance: Required value",
                "action: Required value",
                "reason: Required value",
            ],
        ),
        (
            "Lease",
            {
                "metadata": {"name": "n1", "namespace": "kube-node-lease"},
                "spec": {"holderIdentity": "n1", "leaseDurationSeconds": 40},
            },
            [],
        ),
        (
            "Lease",
            {
                "metadata": {"name": "n1", "namespace": "kube-node-lease"},
                "spec": {"leaseDurationSeconds": 0},
            },
            ["spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"],
        ),
        ("DeleteOptions", {"propagationPolicy": "Background", "gracePeriodSeconds": 0}, []),
        (
            "DeleteOptions",
            {"propagationPolicy": "Cascade"},
            [
                'propagationPolicy: Unsupported value: "Cascade": supported values: "Foreground", '
                '"Background", "Orphan", "nil"'
            ],
        ),
        (
            "DeleteOptions",
            {"propagationPolicy": "Orphan", "orphanDependents": True},
            [
                'propagationPolicy: Invalid value: "Orphan": orphanDependents and '
                "deletionPropagation "
                "cannot be both set"
            ],
        ),
        (
            "DeleteOptions",
            {"dryRun": ["Yes"]},
            ['dryRun: Unsupported value: ["Yes"]: supported values: "All"'],
        ),
    ],
)
def test_other_kinds(kind: str, obj: dict[str, Any], expected: list[str]) -> None:
    assert errs(kind, obj) == expected


def test_node_update_keeps_pod_cidrs() -> None:
    old = {"metadata": {"name": "n", "resourceVersion": "1"}, "spec": {"podCIDRs": ["10.0.1.0/24"]}}
    new = copy.deepcopy(old)
    new["spec"]["podCIDRs"] = ["10.0.2.0/24"]
    assert errs("Node", new, old) == [
        'spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid'
    ]


def test_owner_references() -> None:
    obj = pod()
    obj["metadata"]["ownerReferences"] = [
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": "a",
            "uid": "1",
            "controller": True,
        },
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": "b",
            "uid": "2",
            "controller": True,
        },
        {"apiVersion": "", "kind": "", "name": "c", "uid": "3"},
    ]
    messages = errs("Pod", obj)
    assert messages[0].startswith("metadata.ownerReferences: Invalid value: [")
    assert messages[0].endswith(
        'Only one reference can have Controller set to true. Found "true" in references for '
        "ReplicaSet/a and ReplicaSet/b"
    )
    assert messages[1:] == [
        'metadata.ownerReferences.apiVersion: Invalid value: "": version must not be empty',
        'metadata.ownerReferences.kind: Invalid value: "": must not be empty',
    ]


def test_validators_are_extensible() -> None:
    register_validator("Widget", lambda obj, old: [], group="example.com")
    try:
        assert validate("Widget", {}) == []
        assert invalid_error("Widget", "w", []).message == 'Widget.example.com "w" is invalid'
    finally:
        del VALIDATORS["Widget"]


@given(st.text(alphabet="abcXYZ019-._/ ", max_size=70))
def test_names_valid_for_pods_are_dns_subdomains(name: str) -> None:
    obj = pod()
    obj["metadata"]["name"] = name
    name_errors = [c for c in validate("Pod", obj) if c.field == "metadata.name"]
    ok = (
        bool(name)
        and len(name) <= 253
        and re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*", name)
    )
    assert (not name_errors) is bool(ok)


# --- the --allow-privileged policy -----------------------------------------------------------


def test_cluster_policy_names_every_field_it_gates() -> None:
    spec = pod(
        hostNetwork=True,
        hostPID=True,
        volumes=[{"name": "sock", "hostPath": {"path": "/var/run/docker.sock"}}],
        initContainers=[{"name": "init", "image": "x", "securityContext": {"privileged": True}}],
        containers=[
            {"name": "web", "image": "x", "securityContext": {"privileged": True}},
            {"name": "side", "image": "x", "securityContext": {"privileged": False}},
        ],
    )["spec"]
    causes = cluster_policy_causes(spec, "spec.template.spec")
    assert [f"{c.field}: {c.message}" for c in causes] == [
        "spec.template.spec.hostNetwork: Forbidden: disallowed by cluster policy",
        "spec.template.spec.hostPID: Forbidden: disallowed by cluster policy",
        "spec.template.spec.volumes[0].hostPath: Forbidden: disallowed by cluster policy",
        "spec.template.spec.initContainers[0].securityContext.privileged: Forbidden: "
        "disallowed by cluster policy",
        "spec.template.spec.containers[0].securityContext.privileged: Forbidden: "
        "disallowed by cluster policy",
    ]
    assert cluster_policy_causes(pod()["spec"]) == []


def test_pod_templates_are_validated_as_given() -> None:
    # validate_pod_spec serves pod templates too; they are not defaulted like pods.
    spec = pod()["spec"]
    spec["volumes"] = [{"name": "v"}]
    spec["restartPolicy"] = ""
    assert [f"{c.field}: {c.message}" for c in validate_pod_spec(spec, "spec.template.spec")] == [
        "spec.template.spec.volumes[0]: Required value: must specify a volume type",
        "spec.template.spec.restartPolicy: Required value",
    ]
