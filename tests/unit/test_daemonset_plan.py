"""The DaemonSet's pure decisions: eligible nodes (selector, affinity, taints and the daemon
tolerations), a pod per node, rolling updates within maxUnavailable or maxSurge, the status and
the history it keeps."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from common.wellknown import CONTROLLER_REVISION_HASH_LABEL, POD_TEMPLATE_GENERATION_LABEL
from common.workloads import default_daemonset
from control.controllers import daemonset_history as dh
from control.controllers.daemonset_nodes import (
    add_daemon_tolerations,
    daemon_pod,
    should_run,
    target_node,
)
from control.controllers.daemonset_plan import Context, plan_daemonset

Obj = dict[str, Any]
NOW = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
READY = [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T11:00:00Z"}]


def daemonset(**spec: Any) -> Obj:
    ds: Obj = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "logs", "namespace": "default", "uid": "ds-1", "generation": 1,
                     "annotations": {"deprecated.daemonset.template.generation": "1"}},
        "spec": {
            "selector": {"matchLabels": {"app": "logs"}},
            "template": {"metadata": {"labels": {"app": "logs"}},
                         "spec": {"containers": [{"name": "logs", "image": "logs:1"}]}},
        },
    }  # fmt: skip
    ds["spec"].update(spec)
    default_daemonset(ds)
    return ds


def node(name: str, labels: Obj | None = None, taints: list[Obj] | None = None) -> Obj:
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": {"taints": taints or []}}


def pod(ds: Obj, on: str, hash_: str = "h1", *, ready: bool = True, phase: str = "Running",
        name: str | None = None, generation: str | None = None) -> Obj:  # fmt: skip
    p = daemon_pod(ds, on, hash_, None)
    p["spec"]["nodeName"] = on  # bound by the scheduler
    p["metadata"]["name"] = name or f"logs-{on}-{hash_}"
    p["metadata"]["uid"] = p["metadata"]["name"]
    p["metadata"]["creationTimestamp"] = "2026-01-01T10:00:00Z"
    if generation is not None:
        p["metadata"]["labels"][POD_TEMPLATE_GENERATION_LABEL] = generation
    p["status"] = {"phase": phase, "conditions": READY if ready else []}
    return p


def plan(ds: Obj, nodes: list[Obj], pods: list[Obj], hash_: str = "h1") -> Any:
    return plan_daemonset(Context(ds, hash_, NOW), nodes, pods)


def names(pods: list[Obj]) -> list[str]:
    return sorted(p["metadata"]["name"] for p in pods)


# -- nodes -------------------------------------------------------------------------------------


def test_daemon_tolerations_are_added_once() -> None:
    spec: Obj = {"tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                                  "effect": "NoExecute", "tolerationSeconds": 30}]}  # fmt: skip
    add_daemon_tolerations(spec)
    add_daemon_tolerations(spec)
    got = {(t["key"], t["effect"]) for t in spec["tolerations"]}
    assert got == {
        ("node.kubernetes.io/not-ready", "NoExecute"),
        ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/disk-pressure", "NoSchedule"),
        ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        ("node.kubernetes.io/pid-pressure", "NoSchedule"),
        ("node.kubernetes.io/unschedulable", "NoSchedule"),
    }
    assert len(spec["tolerations"]) == 6
    assert "tolerationSeconds" not in spec["tolerations"][0]  # replaced: stays forever
    host: Obj = {"hostNetwork": True}
    add_daemon_tolerations(host)
    assert {"key": "node.kubernetes.io/network-unavailable", "operator": "Exists",
            "effect": "NoSchedule"} in host["tolerations"]  # fmt: skip


def test_should_run_by_selector_affinity_and_taints() -> None:
    ds = daemonset()
    ds["spec"]["template"]["spec"]["nodeSelector"] = {"disk": "ssd"}
    assert should_run(node("a", {"disk": "ssd"}), ds) == (True, True)
    assert should_run(node("b", {"disk": "hdd"}), ds) == (False, False)
    ds = daemonset()
    ds["spec"]["template"]["spec"]["affinity"] = {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["z1"]}]},
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["c"]}]},
        ]}}}  # fmt: skip
    assert should_run(node("a", {"zone": "z1"}), ds)[0]
    assert should_run(node("c"), ds)[0]
    assert not should_run(node("b", {"zone": "z2"}), ds)[0]
    ds = daemonset()
    no_schedule = {"key": "dedicated", "value": "db", "effect": "NoSchedule"}
    no_execute = {"key": "dedicated", "value": "db", "effect": "NoExecute"}
    assert should_run(node("a", taints=[no_schedule]), ds) == (False, True)
    assert should_run(node("a", taints=[no_execute]), ds) == (False, False)
    daemon_taints = [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"},
                     {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}]  # fmt: skip
    assert should_run(node("a", taints=daemon_taints), ds) == (True, True)
    ds["spec"]["template"]["spec"]["tolerations"] = [{"key": "dedicated", "operator": "Equal",
                                                       "value": "db"}]  # fmt: skip
    assert should_run(node("a", taints=[no_schedule, no_execute]), ds) == (True, True)


def test_daemon_pod_is_meant_for_its_node_and_left_to_the_scheduler() -> None:
    ds = daemonset()
    p = daemon_pod(ds, "n1", "h1", 3)
    assert p["metadata"]["generateName"] == "logs-"
    assert p["metadata"]["labels"] == {"app": "logs", CONTROLLER_REVISION_HASH_LABEL: "h1",
                                       POD_TEMPLATE_GENERATION_LABEL: "3"}  # fmt: skip
    assert p["metadata"]["ownerReferences"][0]["uid"] == "ds-1"
    assert "nodeName" not in p["spec"]
    term = p["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term == {"nodeSelectorTerms": [{"matchFields": [
        {"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]}  # fmt: skip
    assert target_node(p) == "n1"
    assert {"key": "node.kubernetes.io/unschedulable", "operator": "Exists",
            "effect": "NoSchedule"} in p["spec"]["tolerations"]  # fmt: skip


def test_the_template_node_affinity_is_replaced_and_the_rest_kept() -> None:
    """ReplaceDaemonSetPodNodeNameNodeAffinity: the required terms become the node's name;
    preferred terms, pod affinity and the nodeSelector stay."""
    ds = daemonset()
    required = {"nodeSelectorTerms": [{"matchExpressions": [
        {"key": "disk", "operator": "In", "values": ["ssd"]}]}]}  # fmt: skip
    preferred = [{"weight": 1, "preference": {"matchExpressions": [
        {"key": "zone", "operator": "Exists"}]}}]  # fmt: skip
    pod_affinity = {"requiredDuringSchedulingIgnoredDuringExecution": []}
    ds["spec"]["template"]["spec"]["nodeSelector"] = {"disk": "ssd"}
    ds["spec"]["template"]["spec"]["affinity"] = {
        "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": required,
                         "preferredDuringSchedulingIgnoredDuringExecution": preferred},
        "podAffinity": pod_affinity,
    }  # fmt: skip
    p = daemon_pod(ds, "n2", "h1", None)
    affinity = p["spec"]["affinity"]
    assert affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] == {
        "nodeSelectorTerms": [{"matchFields": [
            {"key": "metadata.name", "operator": "In", "values": ["n2"]}]}]}  # fmt: skip
    assert affinity["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"] == preferred
    assert affinity["podAffinity"] == pod_affinity
    assert p["spec"]["nodeSelector"] == {"disk": "ssd"}
    # The DaemonSet's own template is left as it was.
    template = ds["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]
    assert template["requiredDuringSchedulingIgnoredDuringExecution"] == required


# -- manage ------------------------------------------------------------------------------------


def test_a_pod_per_eligible_node_and_one_for_a_new_node() -> None:
    ds = daemonset()
    ds["spec"]["template"]["spec"]["nodeSelector"] = {"logs": "yes"}
    nodes = [node("a", {"logs": "yes"}), node("b", {"logs": "yes"}), node("c")]
    assert sorted(plan(ds, nodes, []).create) == ["a", "b"]
    pods = [pod(ds, "a"), pod(ds, "b")]
    steady = plan(ds, nodes, pods)
    assert steady.create == [] and steady.delete == []
    assert steady.status == {"currentNumberScheduled": 2, "numberMisscheduled": 0,
                             "desiredNumberScheduled": 2, "numberReady": 2,
                             "updatedNumberScheduled": 2, "numberAvailable": 2,
                             "observedGeneration": 1}  # fmt: skip
    grown = plan(ds, [*nodes, node("d", {"logs": "yes"})], pods)
    assert grown.create == ["d"] and grown.delete == []


def test_tainted_or_unselected_nodes_lose_their_pod() -> None:
    ds = daemonset()
    nodes = [node("a"), node("b", taints=[{"key": "x", "effect": "NoExecute"}])]
    pods = [pod(ds, "a"), pod(ds, "b")]
    p = plan(ds, nodes, pods)
    assert names(p.delete) == ["logs-b-h1"] and p.create == []
    assert p.status["numberMisscheduled"] == 1 and p.status["desiredNumberScheduled"] == 1
    # A NoSchedule taint keeps the running pod but starts none.
    cordoned = [node("a"), node("b", taints=[{"key": "x", "effect": "NoSchedule"}])]
    assert plan(ds, cordoned, pods).delete == []
    assert plan(ds, cordoned, [pods[0]]).create == []


def test_extra_failed_and_unplaced_pods_go() -> None:
    ds = daemonset()
    nodes = [node("a"), node("b")]
    twin = pod(ds, "a", name="logs-a-2")
    twin["metadata"]["creationTimestamp"] = "2026-01-01T11:00:00Z"
    failed = pod(ds, "b", phase="Failed")
    unplaced = pod(ds, "gone", name="logs-gone")
    del unplaced["spec"]["nodeName"]
    p = plan(ds, nodes, [pod(ds, "a"), twin, failed, unplaced])
    assert names(p.delete) == ["logs-a-2", "logs-b-h1", "logs-gone"]
    assert p.failed_nodes == ["b"] and p.events[0][1] == "FailedDaemonPod"
    backed_off = plan_daemonset(Context(ds, "h1", NOW, {"b": 4.0}), nodes, [pod(ds, "a"), failed])
    assert backed_off.delete == [] and backed_off.requeue_after == 4.0


def test_nothing_but_status_while_expectations_wait() -> None:
    ds = daemonset()
    p = plan_daemonset(Context(ds, "h1", NOW), [node("a")], [], satisfied=False)
    assert p.create == [] and "observedGeneration" not in p.status


# -- rolling update ----------------------------------------------------------------------------


def test_rolling_update_replaces_within_max_unavailable() -> None:
    ds = daemonset()
    nodes = [node(n) for n in "abc"]
    old = [pod(ds, n, "h0") for n in "abc"]
    first = plan(ds, nodes, old)
    assert len(first.delete) == 1 and first.create == []
    # A new pod not yet available uses the one unavailable allowed: no other goes.
    waiting = [pod(ds, "a", "h1", ready=False), old[1], old[2]]
    assert plan(ds, nodes, waiting).delete == []
    assert plan(ds, nodes, waiting).status["updatedNumberScheduled"] == 1
    done_one = [pod(ds, "a", "h1"), old[1], old[2]]
    assert names(plan(ds, nodes, done_one).delete) == ["logs-b-h0"]
    two = daemonset(updateStrategy={"type": "RollingUpdate",
                                    "rollingUpdate": {"maxUnavailable": 2}})  # fmt: skip
    assert len(plan(two, nodes, old).delete) == 2
    # An old pod that is down anyway is replaced without counting against the budget.
    broken = [pod(ds, "a", "h0", ready=False), old[1], old[2]]
    assert names(plan(ds, nodes, broken).delete) == ["logs-a-h0"]


def test_template_generation_counts_as_updated() -> None:
    ds = daemonset()
    nodes = [node("a")]
    p = plan(ds, nodes, [pod(ds, "a", "other", generation="1")])
    assert p.delete == [] and p.status["updatedNumberScheduled"] == 1


def test_on_delete_never_replaces() -> None:
    ds = daemonset(updateStrategy={"type": "OnDelete"})
    nodes = [node(n) for n in "ab"]
    p = plan(ds, nodes, [pod(ds, n, "h0") for n in "ab"])
    assert p.delete == [] and p.create == [] and "updatedNumberScheduled" not in p.status


def test_surge_starts_new_pods_first_then_removes_old_ones() -> None:
    rolling = {"maxUnavailable": 0, "maxSurge": 1}
    ds = daemonset(updateStrategy={"type": "RollingUpdate", "rollingUpdate": rolling})
    nodes = [node(n) for n in "ab"]
    old = [pod(ds, n, "h0") for n in "ab"]
    first = plan(ds, nodes, old)
    assert first.create == ["a"] and first.delete == []
    surging = [*old, pod(ds, "a", "h1", ready=False)]
    assert plan(ds, nodes, surging).create == [] and plan(ds, nodes, surging).delete == []
    ready = [*old, pod(ds, "a", "h1")]
    p = plan(ds, nodes, ready)
    assert names(p.delete) == ["logs-a-h0"]


# -- history -----------------------------------------------------------------------------------


def test_revision_holds_the_template_and_cleanup_keeps_the_limit() -> None:
    ds = daemonset(revisionHistoryLimit=1)
    cr = dh.new_revision(ds, 2)
    assert cr["metadata"]["name"].startswith("logs-") and cr["revision"] == 2
    assert cr["data"]["spec"]["template"]["$patch"] == "replace"
    assert dh.matches(ds, cr)
    changed = copy.deepcopy(ds)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "logs:2"
    assert not dh.matches(changed, cr)
    assert dh.new_revision(changed, 3)["metadata"]["name"] != cr["metadata"]["name"]
    olds = [dict(dh.new_revision(ds, r), revision=r) for r in (1, 2, 3)]
    for i, o in enumerate(olds):
        o["metadata"] = {**o["metadata"], "name": f"r{i}",
                         "labels": {CONTROLLER_REVISION_HASH_LABEL: f"h{i}"}}  # fmt: skip
    live = [pod(ds, "a", "h0")]
    assert [c["metadata"]["name"] for c in dh.revisions_to_delete(ds, olds, live)] == ["r1", "r2"]


def test_a_pod_waiting_for_the_scheduler_counts_for_its_node() -> None:
    """A pod created for a node and not bound yet is that node's pod: no second one."""
    ds = daemonset()
    waiting = pod(ds, "a", ready=False, phase="Pending")
    del waiting["spec"]["nodeName"]
    p = plan(ds, [node("a")], [waiting])
    assert p.create == [] and p.delete == []
    assert (p.status["currentNumberScheduled"], p.status["numberReady"]) == (1, 0)
