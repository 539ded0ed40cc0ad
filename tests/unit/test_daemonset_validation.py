"""DaemonSets (apps/v1): defaults, validation with kube-apiserver's messages, the template
generation the strategy keeps, and the table row kubectl prints."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from common.fielderrors import aggregate
from common.printers import PRINTERS, headers, row
from common.resources import must
from common.wellknown import TEMPLATE_GENERATION
from common.workloads import default_daemonset
from control.registry.strategies import strategy
from control.validation import validate

Obj = dict[str, Any]
NOW = dt.datetime(2026, 1, 1, 0, 10, tzinfo=dt.UTC)


def daemonset(**spec: Any) -> Obj:
    base: Obj = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "logs", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "logs"}},
            "template": {
                "metadata": {"labels": {"app": "logs"}},
                "spec": {"containers": [{"name": "logs", "image": "logs:1"}]},
            },
        },
    }
    base["spec"].update(spec)
    return base


def errors_of(obj: Obj, old: Obj | None = None) -> str:
    causes = validate("DaemonSet", obj, old)
    return aggregate(causes) if causes else ""


def test_defaults() -> None:
    ds = daemonset()
    default_daemonset(ds)
    assert ds["spec"]["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
    }
    assert ds["spec"]["revisionHistoryLimit"] == 10
    assert ds["spec"]["template"]["spec"]["restartPolicy"] == "Always"
    on_delete = daemonset(updateStrategy={"type": "OnDelete"})
    default_daemonset(on_delete)
    assert on_delete["spec"]["updateStrategy"] == {"type": "OnDelete"}


def _strategy(**kw: Any) -> Obj:
    return {"type": "RollingUpdate", "rollingUpdate": kw}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"selector": {"matchLabels": {"app": "other"}}},
            'spec.template.metadata.labels: Invalid value: {"app":"logs"}: '
            "`selector` does not match template `labels`",
        ),
        (
            {"selector": {}},
            "spec.selector: Invalid value: {}: empty selector is invalid for daemonset",
        ),
        (
            {"updateStrategy": _strategy(maxUnavailable=1, maxSurge=1)},
            "spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: "
            "may not be set when maxUnavailable is non-zero",
        ),
        (
            {"updateStrategy": _strategy(maxUnavailable=0, maxSurge=0)},
            "spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: "
            "cannot be 0 when maxSurge is 0",
        ),
        (
            {"updateStrategy": _strategy(maxUnavailable="120%")},
            'spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: "120%": '
            "must not be greater than 100%",
        ),
        (
            {"updateStrategy": _strategy(maxUnavailable=-1)},
            "spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: -1: "
            "must be greater than or equal to 0",
        ),
        (
            {"updateStrategy": {"type": "Recreate"}},
            'spec.updateStrategy: Unsupported value: {"type":"Recreate"}: '
            'supported values: "RollingUpdate", "OnDelete"',
        ),
        (
            {"minReadySeconds": -1},
            "spec.minReadySeconds: Invalid value: -1: must be greater than or equal to 0",
        ),
        (
            {"revisionHistoryLimit": -1},
            "spec.revisionHistoryLimit: Invalid value: -1: must be greater than or equal to 0",
        ),
    ],
)
def test_spec_messages(spec: Obj, message: str) -> None:
    assert errors_of(daemonset(**spec)) == message


def test_template_rules_name_the_daemonset() -> None:
    ds = daemonset()
    ds["spec"]["template"]["spec"]["activeDeadlineSeconds"] = 5
    assert errors_of(ds) == (
        "spec.template.spec.activeDeadlineSeconds: Forbidden: "
        "activeDeadlineSeconds in DaemonSet is not Supported"
    )
    ds = daemonset()
    ds["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    assert errors_of(ds) == (
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"'
    )


def test_a_missing_selector_matches_no_labels() -> None:
    assert "`selector` does not match template `labels`" in errors_of(daemonset(selector=None))


def test_valid_and_on_delete_are_accepted() -> None:
    assert errors_of(daemonset()) == ""
    assert errors_of(daemonset(updateStrategy={"type": "OnDelete"})) == ""
    assert errors_of(daemonset(updateStrategy=_strategy(maxUnavailable=0, maxSurge="25%"))) == ""


def test_selector_is_immutable() -> None:
    old = daemonset()
    old["metadata"]["resourceVersion"] = "3"
    new = copy.deepcopy(old)
    new["spec"]["selector"] = {"matchLabels": {"app": "logs", "tier": "x"}}
    new["spec"]["template"]["metadata"]["labels"]["tier"] = "x"
    assert errors_of(new, old) == (
        'spec.selector: Invalid value: {"matchLabels":{"app":"logs","tier":"x"}}: '
        "field is immutable"
    )


def test_strategy_counts_template_generations() -> None:
    rt = must("daemonsets")
    st = strategy(rt)
    ds = daemonset()
    ds["metadata"]["annotations"] = {TEMPLATE_GENERATION: "9"}
    st.prepare_create(rt, ds, NOW)
    assert ds["metadata"]["annotations"][TEMPLATE_GENERATION] == "1"
    assert ds["metadata"]["generation"] == 1 and ds["status"] == {}
    same = copy.deepcopy(ds)
    same["spec"]["minReadySeconds"] = 5
    same["metadata"]["annotations"] = {}
    st.prepare_update(rt, same, ds)
    assert same["metadata"]["annotations"][TEMPLATE_GENERATION] == "1"
    assert same["metadata"]["generation"] == 2
    changed = copy.deepcopy(same)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "logs:2"
    st.prepare_update(rt, changed, same)
    assert changed["metadata"]["annotations"][TEMPLATE_GENERATION] == "2"
    assert changed["metadata"]["generation"] == 3


def test_table_row() -> None:
    ds = daemonset()
    ds["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    ds["spec"]["template"]["spec"]["nodeSelector"] = {"disk": "ssd"}
    ds["status"] = {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2,
                    "updatedNumberScheduled": 1, "numberAvailable": 2}  # fmt: skip
    printer = PRINTERS["daemonsets"]
    assert headers(printer) == [
        "NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE SELECTOR", "AGE",
    ]  # fmt: skip
    assert row(printer, ds, NOW, wide=True) == [
        "logs", "3", "3", "2", "1", "2", "disk=ssd", "10m", "logs", "logs:1", "app=logs",
    ]  # fmt: skip
    ds["spec"]["template"]["spec"].pop("nodeSelector")
    assert row(printer, ds, NOW)[6] == "<none>"
