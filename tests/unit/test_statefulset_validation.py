"""Defaults and validation of apps/v1 StatefulSets: Kubernetes' defaults and messages."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from common.fielderrors import aggregate
from common.statefulsets import default_statefulset
from control.validation import decode_object, validate

Obj = dict[str, Any]


def statefulset(**spec: Any) -> Obj:
    base: Obj = {
        "metadata": {"name": "web", "namespace": "default", "resourceVersion": "1"},
        "spec": {
            "serviceName": "web",
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": "web:1",
                            "volumeMounts": [{"name": "www", "mountPath": "/data"}],
                        }
                    ]
                },
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "www"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "1Mi"}},
                    },
                }
            ],
        },
    }
    base["spec"].update(spec)
    return base


def errors_of(obj: Obj, old: Obj | None = None) -> str:
    causes = validate("StatefulSet", obj, old)
    return aggregate(causes) if causes else ""


def test_defaults_are_kubernetes_ones() -> None:
    sts = statefulset()
    default_statefulset(sts)
    spec = sts["spec"]
    assert spec["replicas"] == 1
    assert spec["podManagementPolicy"] == "OrderedReady"
    # MaxUnavailableStatefulSet is on: maxUnavailable defaults to 1.
    assert spec["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"partition": 0, "maxUnavailable": 1},
    }
    assert spec["revisionHistoryLimit"] == 10
    assert spec["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Retain",
        "whenScaled": "Retain",
    }
    claim = spec["volumeClaimTemplates"][0]
    assert claim["spec"]["volumeMode"] == "Filesystem"
    assert claim["status"] == {"phase": "Pending"}
    again = copy.deepcopy(sts)
    default_statefulset(again)
    assert again == sts


def test_on_delete_gets_no_rolling_update() -> None:
    sts = statefulset(updateStrategy={"type": "OnDelete"})
    default_statefulset(sts)
    assert sts["spec"]["updateStrategy"] == {"type": "OnDelete"}


def test_a_valid_statefulset_mounting_its_claim_passes() -> None:
    assert errors_of(statefulset()) == ""


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"replicas": -1}, "spec.replicas: Invalid value: -1: must be greater than or equal to 0"),
        (
            {"podManagementPolicy": "Random"},
            'spec.podManagementPolicy: Unsupported value: "Random": supported values: '
            '"OrderedReady", "Parallel"',
        ),
        (
            {"updateStrategy": {"type": "Recreate"}},
            'spec.updateStrategy: Unsupported value: "Recreate": supported values: '
            '"RollingUpdate", "OnDelete"',
        ),
        (
            {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": -2}}},
            "spec.updateStrategy.rollingUpdate.partition: Invalid value: -2: must be greater "
            "than or equal to 0",
        ),
        (
            {"updateStrategy": {"type": "OnDelete", "rollingUpdate": {"partition": 1}}},
            "spec.updateStrategy.rollingUpdate: Invalid value: ",
        ),
        (
            {"persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Keep"}},
            'spec.persistentVolumeClaimRetentionPolicy.whenDeleted: Unsupported value: "Keep": '
            'supported values: "Delete", "Retain"',
        ),
        (
            {"ordinals": {"start": -1}},
            "spec.ordinals.start: Invalid value: -1: must be greater than or equal to 0",
        ),
        (
            {"selector": {}},
            "spec.selector: Invalid value: {}: empty selector is invalid for statefulset",
        ),
        (
            {"selector": {"matchLabels": {"app": "other"}}},
            'spec.template.metadata.labels: Invalid value: {"app":"web"}: `selector` does '
            "not match template `labels`",
        ),
    ],
)
def test_bad_specs_are_refused_with_kubernetes_messages(spec: Obj, message: str) -> None:
    assert message in errors_of(statefulset(**spec))


def rolling(max_unavailable: Any) -> Obj:
    return {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": max_unavailable}}


@pytest.mark.parametrize(
    ("value", "messages"),
    [
        (2, []),
        ("50%", []),
        ("100%", []),
        (0, ["spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: 0: cannot be 0"]),
        (
            "0%",
            ['spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: "0%": cannot be 0'],
        ),
        (
            -1,
            [
                "spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: -1: must be "
                "greater than or equal to 0"
            ],
        ),
        (
            "101%",
            [
                'spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: "101%": must '
                "not be greater than 100%"
            ],
        ),
        (
            "half",
            [
                'spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: "half": a valid '
                "percent string must be a numeric string followed by an ending '%'",
                'spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: "half": cannot '
                "be 0",
            ],
        ),
    ],
)
def test_max_unavailable_is_a_positive_int_or_percent(value: Any, messages: list[str]) -> None:
    found = errors_of(statefulset(updateStrategy=rolling(value)))
    for message in messages:
        assert message in found
    if not messages:
        assert found == ""


def test_max_unavailable_is_kept_and_may_change() -> None:
    sts = statefulset(updateStrategy=rolling("25%"))
    default_statefulset(sts)
    assert sts["spec"]["updateStrategy"]["rollingUpdate"] == {"maxUnavailable": "25%",
                                                              "partition": 0}  # fmt: skip
    new = copy.deepcopy(sts)
    new["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"] = 3
    assert errors_of(new, sts) == ""


def test_a_mount_of_neither_a_volume_nor_a_claim_is_not_found() -> None:
    sts = statefulset()
    sts["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]["name"] = "nope"
    assert 'volumeMounts[0].name: Not found: "nope"' in errors_of(sts)


def test_restart_policy_and_deadline_of_the_template() -> None:
    sts = statefulset()
    sts["spec"]["template"]["spec"]["activeDeadlineSeconds"] = 5
    assert (
        "spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in "
        "StatefulSet is not Supported"
    ) in errors_of(sts)
    sts = statefulset()
    sts["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    assert 'spec.template.spec.restartPolicy: Unsupported value: "Never"' in errors_of(sts)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("replicas", 5),
        ("ordinals", {"start": 3}),
        ("updateStrategy", {"type": "OnDelete"}),
        ("revisionHistoryLimit", 2),
        ("minReadySeconds", 4),
        ("persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Delete", "whenScaled": "Delete"}),
    ],
)
def test_the_mutable_fields_may_change(field: str, value: Any) -> None:
    old = statefulset()
    new = statefulset(**{field: value})
    assert errors_of(new, old) == ""


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("serviceName", "other"),
        ("podManagementPolicy", "Parallel"),
        ("selector", {"matchLabels": {"app": "web", "tier": "x"}}),
        ("volumeClaimTemplates", []),
    ],
)
def test_other_fields_are_forbidden_to_change(field: str, value: Any) -> None:
    old = statefulset()
    new = statefulset(**{field: value})
    if field == "selector":
        new["spec"]["template"]["metadata"]["labels"]["tier"] = "x"
    assert (
        "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', "
        "'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', "
        "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
    ) in errors_of(new, old)


def test_the_schema_refuses_unknown_fields() -> None:
    import common.errors as errors

    body = statefulset(podManagement="Parallel")
    with pytest.raises(errors.BadRequestError, match="podManagement"):
        decode_object("StatefulSet", body)
