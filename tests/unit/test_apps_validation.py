"""Validation and defaults of apps/v1 Deployments and ReplicaSets: Kubernetes' messages."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from common.fielderrors import aggregate
from common.workloads import default_deployment, default_replicaset
from control.validation import decode_object, validate

Obj = dict[str, Any]


def deployment(**spec: Any) -> Obj:
    base: Obj = {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "web:1"}]},
            },
        },
    }
    base["spec"].update(spec)
    return base


def errors_of(kind: str, obj: Obj, old: Obj | None = None) -> str:
    return aggregate(validate(kind, obj, old))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"replicas": -1}, "spec.replicas: Invalid value: -1: must be greater than or equal to 0"),
        ({"selector": None}, "spec.selector: Required value"),
        (
            {"selector": {}},
            "spec.selector: Invalid value: {}: empty selector is invalid for deployment",
        ),
        (
            {"strategy": {"type": "Sideways"}},
            'spec.strategy.type: Unsupported value: "Sideways": supported values: "Recreate", '
            '"RollingUpdate"',
        ),
        (
            {"strategy": {"type": "Recreate", "rollingUpdate": {}}},
            "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is "
            "'Recreate'",
        ),
        (
            {"strategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}},
            'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "0": may not be 0 when '
            "`maxSurge` is 0",
        ),
        (
            {"strategy": {"rollingUpdate": {"maxSurge": "x", "maxUnavailable": "120%"}}},
            '[spec.strategy.rollingUpdate.maxSurge: Invalid value: "x": a valid percent string '
            "must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used "
            "for validation is '[0-9]+%'), spec.strategy.rollingUpdate.maxUnavailable: Invalid "
            'value: "120%": must not be greater than 100%]',
        ),
        (
            {"minReadySeconds": 700},
            "spec.progressDeadlineSeconds: Invalid value: 600: must be greater than "
            "minReadySeconds",
        ),
        (
            {"revisionHistoryLimit": -1},
            "spec.revisionHistoryLimit: Invalid value: -1: must be greater than or equal to 0",
        ),
    ],
)
def test_deployment_spec_errors(spec: Obj, message: str) -> None:
    obj = deployment(**spec)
    if spec.get("selector", "") is None:
        del obj["spec"]["selector"]
        message = (
            "[spec.selector: Required value, spec.template.metadata.labels: Invalid value: "
            '{"app":"web"}: `selector` does not match template `labels`]'
        )
    assert errors_of("Deployment", obj) == message


def test_template_must_match_the_selector_and_restart_always() -> None:
    obj = deployment()
    obj["spec"]["template"]["metadata"]["labels"] = {"app": "x"}
    obj["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
    obj["spec"]["template"]["spec"]["activeDeadlineSeconds"] = 5
    assert errors_of("ReplicaSet", obj) == (
        '[spec.template.metadata.labels: Invalid value: {"app":"x"}: `selector` does not match '
        'template `labels`, spec.template.spec.restartPolicy: Unsupported value: "OnFailure": '
        'supported values: "Always", spec.template.spec.activeDeadlineSeconds: Forbidden: '
        "activeDeadlineSeconds in ReplicaSet is not Supported]"
    )


def test_template_is_validated_as_a_pod_spec() -> None:
    obj = deployment()
    obj["spec"]["template"]["spec"]["containers"][0]["name"] = "Web"
    assert 'spec.template.spec.containers[0].name: Invalid value: "Web"' in errors_of(
        "Deployment", obj
    )


def test_selector_is_immutable_on_update() -> None:
    old = deployment()
    old["metadata"]["resourceVersion"] = "5"
    new = copy.deepcopy(old)
    new["spec"]["selector"] = {"matchLabels": {"app": "web"}, "matchExpressions": []}
    assert validate("Deployment", new, old) == []  # semantically the same selector
    new["spec"]["selector"] = {"matchExpressions": [{"key": "app", "operator": "Exists"}]}
    assert errors_of("Deployment", new, old) == (
        'spec.selector: Invalid value: {"matchExpressions":[{"key":"app","operator":"Exists"}]}: '
        "field is immutable"
    )


def test_defaults() -> None:
    d = deployment()
    default_deployment(d)
    assert d["spec"]["replicas"] == 1
    rolling = {"maxUnavailable": "25%", "maxSurge": "25%"}
    assert d["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": rolling}
    assert (d["spec"]["revisionHistoryLimit"], d["spec"]["progressDeadlineSeconds"]) == (10, 600)
    assert d["spec"]["template"]["spec"]["restartPolicy"] == "Always"
    recreate = deployment(strategy={"type": "Recreate"})
    default_deployment(recreate)
    assert recreate["spec"]["strategy"] == {"type": "Recreate"}
    rs = deployment()
    default_replicaset(rs)
    assert rs["spec"]["replicas"] == 1 and "strategy" not in rs["spec"]


def test_strict_decoding_names_unknown_fields() -> None:
    with pytest.raises(Exception, match=r'unknown field "spec\.template\.spec\.foo"'):
        decode_object("Deployment", {"spec": {"template": {"spec": {"foo": 1}}}})
    with pytest.raises(Exception, match="cannot unmarshal string into Go struct field"):
        decode_object("ReplicaSet", {"spec": {"replicas": "3"}})
