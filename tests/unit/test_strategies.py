"""The per-kind strategy table: every served kind has a strategy, and the registry decides
nothing by a kind's name (its rules live in the strategies)."""

from __future__ import annotations

import copy
import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest

from common.defaults import default_pod
from common.resources import RESOURCES, must
from control.registry import strategies as st
from control.validation import validate

ROOT = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def test_every_kind_has_a_strategy_and_unknown_ones_get_the_default() -> None:
    for rt in RESOURCES:
        assert isinstance(st.strategy(rt), st.Strategy)
    assert st.strategy(must("events")) is st.DEFAULT
    assert st.strategy(must("pods")).indexed_field == "spec.nodeName"


def test_the_registry_has_no_branch_on_a_kind() -> None:
    text = (ROOT / "control/registry/registry.py").read_text()
    assert not re.search(r"\.plural\s*(==|!=|in\b)", text)


def test_a_pods_class_at_creation_counts_its_init_containers() -> None:
    pods = must("pods")
    limits = {"cpu": "1", "memory": "64Mi"}
    pod = {"metadata": {"name": "p"}, "spec": {
        "containers": [{"name": "c", "image": "i", "resources": {"limits": limits}}],
        "initContainers": [{"name": "i", "image": "i", "resources": {"requests": {"cpu": "1"}}}],
    }}  # fmt: skip
    st.strategy(pods).prepare_create(pods, pod, NOW)
    assert pod["status"]["qosClass"] == "Burstable"


def test_kind_rules_on_create_update_and_delete() -> None:
    pods, namespaces, nodes = must("pods"), must("namespaces"), must("nodes")
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
    st.strategy(pods).prepare_create(pods, pod, NOW)
    assert pod["status"] == {"phase": "Pending", "qosClass": "BestEffort"}
    assert pod["metadata"]["generation"] == 1
    node: dict = {"metadata": {"name": "n"}}
    st.strategy(nodes).prepare_create(nodes, node, NOW)
    assert node["spec"] == {} and node["metadata"]["generation"] == 1
    ns: dict = {"metadata": {"name": "team"}, "spec": {"finalizers": ["mine"]}}
    strategy = st.strategy(namespaces)
    strategy.prepare_create(namespaces, ns, NOW)
    assert ns["spec"] == {"finalizers": ["kubernetes"]} and ns["status"] == {"phase": "Active"}
    changed = {**ns, "spec": {"finalizers": []}, "metadata": dict(ns["metadata"])}
    strategy.prepare_update(namespaces, changed, ns)
    assert changed["spec"] == {"finalizers": ["kubernetes"]}  # only through /finalize
    strategy.mark_deleting(ns)
    assert ns["status"]["phase"] == "Terminating"
    bound = {**pod, "spec": {**pod["spec"], "nodeName": "n"}}
    assert st.strategy(pods).grace_period(bound, None) == 30
    assert st.DEFAULT.grace_period(bound, None) == 0


def test_admission_adds_default_tolerations_only_to_pods_when_on() -> None:
    pods = must("pods")
    pod: dict = {"spec": {}}
    st.strategy(pods).admit(pod, st.Admission(None))
    assert pod == {"spec": {}}
    st.strategy(pods).admit(pod, st.Admission((7, 9)))
    assert [t["tolerationSeconds"] for t in pod["spec"]["tolerations"]] == [7, 9]
    other: dict = {"spec": {}}
    st.strategy(must("deployments")).admit(other, st.Admission((7, 9)))
    assert other == {"spec": {}}


def test_a_node_lease_gets_the_duration_the_server_hands_out() -> None:
    leases = must("leases")
    admission = st.Admission(None, lambda: 40)
    node_lease: dict = {
        "metadata": {"namespace": "kube-node-lease"},
        "spec": {"leaseDurationSeconds": 1},
    }
    st.strategy(leases).admit(node_lease, admission)
    assert node_lease["spec"]["leaseDurationSeconds"] == 40
    other: dict = {"metadata": {"namespace": "kube-system"}, "spec": {"leaseDurationSeconds": 15}}
    st.strategy(leases).admit(other, admission)
    assert other["spec"]["leaseDurationSeconds"] == 15


def test_pod_warnings_name_only_what_is_not_acted_on() -> None:
    pod = {
        "spec": {
            "volumes": [
                {"name": "a", "configMap": {"name": "x"}},
                {"name": "b", "persistentVolumeClaim": {"claimName": "c"}},
                {"name": "d", "nfs": {"server": "s", "path": "/"}},
            ],
            "initContainers": [{"name": "i", "image": "x"}],
            "containers": [{"name": "c", "envFrom": [{"configMapRef": {"name": "x"}}],
                            "volumeMounts": [{"name": "a", "mountPath": "/a"}],
                            "lifecycle": {"preStop": {"sleep": {"seconds": 1}}}}],
        }
    }  # fmt: skip
    assert st.pod_warnings(pod) == [
        "spec.volumes[2].nfs: tinykube stores this field but does not act on it yet"
    ]


def test_scheduling_and_lifecycle_fields_are_acted_on_and_not_warned_about() -> None:
    pod = {
        "spec": {
            "affinity": {"podAntiAffinity": {}},
            "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone"}],
            "priorityClassName": "high",
            "initContainers": [{"name": "i", "image": "i"}],
            "containers": [{"name": "c", "image": "i", "lifecycle": {"preStop": {}}}],
        }
    }
    assert st.pod_warnings(pod) == []


ADMIT_ALL = st.Admission(
    (300, 300),
    service_account=lambda ns, name: {"metadata": {"name": name, "namespace": ns}},
    priority_classes=lambda fresh=False: [],
)


@pytest.mark.parametrize(
    "body",
    [
        {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i:1"}]}},
        {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i",
            "ports": [{"containerPort": 80}]}], "volumes": [{"name": "v"}, {"name": "s",
            "secret": {"secretName": "s"}}], "initContainers": [{"name": "i", "image": "i"}]}},
        {"metadata": {"name": "p"}},
        {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "BAD"}],
                                              "restartPolicy": "Sometimes"}},
    ],
)  # fmt: skip
def test_a_new_pod_is_validated_as_defaulting_a_copy_again_would(body: dict[str, Any]) -> None:
    pods = must("pods")
    strategy = st.strategy(pods)
    pod = copy.deepcopy(body)
    strategy.prepare_create(pods, pod, NOW)
    strategy.admit(pod, ADMIT_ALL)
    strategy.admit_create(pod, "default", ADMIT_ALL)
    again = copy.deepcopy(pod)
    default_pod(again)
    assert again == pod  # admission left nothing to default
    before = copy.deepcopy(pod)
    assert strategy.validate(pods, pod, None) == validate("Pod", copy.deepcopy(pod), None)
    assert pod == before


@pytest.mark.parametrize("stored_status", [True, False])
def test_a_status_write_keeps_the_stored_object_in_its_order_and_shares_nothing(
    stored_status: bool,
) -> None:
    old: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p",
        "labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "cpu": 0.5}]}}  # fmt: skip
    if stored_status:
        old["status"] = {"phase": "Pending"}
        old["extra"] = {"after": "status"}
    new = {
        "metadata": {"name": "x"},
        "spec": {},
        "status": {"phase": "Running", "conditions": [{"type": "Ready"}]},
    }
    expected = copy.deepcopy(old)
    expected["status"] = copy.deepcopy(new["status"])
    out = st.prepare_status_update(new, old)
    assert out == expected
    assert list(out) == list(expected)
    out["metadata"]["labels"]["a"] = "changed"
    out["spec"]["containers"].append({})
    out["status"]["conditions"][0]["type"] = "changed"
    assert old["metadata"]["labels"] == {"a": "b"} and len(old["spec"]["containers"]) == 1
    assert new["status"]["conditions"] == [{"type": "Ready"}]
