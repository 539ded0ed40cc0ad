"""Affinity, spread, priority and preemption end to end: PriorityClasses and the Priority
admission through the HTTP API, then the real scheduler (shared informers, its loop in a thread)
placing pods created through the registry on registered Node objects. No agent runs: where a
kubelet would finish a preempted pod's graceful deletion, the test does."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner

from common.resources import must
from control.cli.main import cli
from control.cli.session import Session
from control.registry.defaultpriority import ensure_system_priority_classes
from control.scheduling import Scheduler
from tests.integration.conftest import ADMIN_TOKEN, Api
from tests.integration.test_scheduling import node, registry, running, wait_for

PODS, NODES, EVENTS, CLASSES = must("pods"), must("nodes"), must("events"), must("priorityclasses")
ZONE, HOST = "topology.kubernetes.io/zone", "kubernetes.io/hostname"
PC_PATH = "/apis/scheduling.k8s.io/v1/priorityclasses"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
__all__ = ["running"]  # the fixture, imported for the tests below


def zoned(name: str, zone: str, cpu: str = "2") -> dict[str, Any]:
    return node(name, cpu=cpu, **{ZONE: zone, HOST: name})


def pod(
    name: str, labels: dict[str, str] | None = None, cpu: str = "", **spec: Any
) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "c", "image": "i:1"}
    if cpu:
        container["resources"] = {"requests": {"cpu": cpu}}
    return {"metadata": {"name": name, "labels": labels or {}},
            "spec": {"containers": [container], **spec}}  # fmt: skip


def placed(reg: Any, name: str) -> str | None:
    spec: dict[str, Any] = reg.get(PODS, "default", name)["spec"]
    return spec.get("nodeName")


def scheduled_message(reg: Any, name: str) -> str:
    conditions = reg.get(PODS, "default", name).get("status", {}).get("conditions") or []
    return next((c["message"] for c in conditions if c["type"] == "PodScheduled"), "")


# -- PriorityClass and the Priority admission over HTTP -----------------------------------------


def test_priority_classes_and_admission_through_the_api(app: Any, api: Api) -> None:
    ensure_system_priority_classes(registry(app))
    ensure_system_priority_classes(registry(app))  # idempotent
    status, body = api.call("POST", PC_PATH, {"apiVersion": "scheduling.k8s.io/v1",
                            "kind": "PriorityClass", "metadata": {"name": "high"},
                            "value": 1000, "globalDefault": True})  # fmt: skip
    assert status == 201 and body["preemptionPolicy"] == "PreemptLowerPriority"
    status, body = api.call("POST", PC_PATH, {"apiVersion": "scheduling.k8s.io/v1",
                            "kind": "PriorityClass", "metadata": {"name": "also"},
                            "value": 1, "globalDefault": True})  # fmt: skip
    assert status == 403 and body["message"] == (
        'priorityclasses.scheduling.k8s.io "also" is forbidden: PriorityClass high is already '
        "marked as default. Only one default can exist"
    )
    system = {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
              "metadata": {"name": "system-x"}, "value": 1}  # fmt: skip
    status, body = api.call("POST", PC_PATH, system)
    assert status == 422 and "reserved for system use only" in body["message"]
    status, body = api.call("GET", PC_PATH, content_type="application/json")
    names = [i["metadata"]["name"] for i in body["items"]]
    assert names == ["high", "system-cluster-critical", "system-node-critical"]

    pods = "/api/v1/namespaces/default/pods"
    status, body = api.call("POST", pods, pod("x", priorityClassName="nope"))
    assert status == 403 and body["message"] == (
        'pods "x" is forbidden: no PriorityClass with name nope was found'
    )
    assert api.call("GET", f"{pods}/x")[0] == 404  # nothing stored
    status, body = api.call("POST", pods, pod("y"))
    assert status == 201
    assert (body["spec"]["priorityClassName"], body["spec"]["priority"]) == ("high", 1000)
    status, body = api.call("POST", pods, pod("z", priorityClassName="system-node-critical"))
    assert status == 201 and body["spec"]["priority"] == 2000001000
    assert "warnings" not in body  # priorityClassName is acted on now


def test_priority_classes_print_as_kubectl_prints_them(app: Any, api: Api) -> None:
    ensure_system_priority_classes(registry(app))
    resp = api.client.get(PC_PATH, headers={**api.headers, "Accept": TABLE})
    table = resp.get_json()
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name", "Value", "Global-Default", "Age", "PreemptionPolicy"
    ]  # fmt: skip
    row = table["rows"][0]["cells"]
    assert row[:3] == ["system-cluster-critical", 2000000000, False]
    assert row[4] == "PreemptLowerPriority"


# -- placement by the running scheduler ---------------------------------------------------------


def three_nodes(app: Any, scheduler: Scheduler) -> Any:
    reg = registry(app)
    for name, zone in (("a", "z1"), ("b", "z1"), ("c", "z2")):
        reg.create(NODES, "", zoned(name, zone))
    wait_for("the nodes in the cache", lambda: len(scheduler.cache.node_names()) == 3)
    return reg


def anti(key: str, **labels: str) -> dict[str, Any]:
    return {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"topologyKey": key, "labelSelector": {"matchLabels": labels}}]}}  # fmt: skip


def test_anti_affinity_one_per_node_and_kube_schedulers_message(
    app: Any, running: Scheduler
) -> None:
    reg = three_nodes(app, running)
    for i in range(4):
        reg.create(PODS, "default", pod(f"web-{i}", {"app": "web"}, affinity=anti(HOST, app="web")))
    wait_for("three bound", lambda: sum(1 for i in range(4) if placed(reg, f"web-{i}")) == 3)
    nodes = sorted(n for i in range(4) if (n := placed(reg, f"web-{i}")))
    assert nodes == ["a", "b", "c"]
    waiting = next(f"web-{i}" for i in range(4) if not placed(reg, f"web-{i}"))
    wait_for("the reason", lambda: scheduled_message(reg, waiting) != "")
    assert scheduled_message(reg, waiting) == (
        "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules. preemption: "
        "0/3 nodes are available: 3 No preemption victims found for incoming pod.."
    )
    # One of them goes: the waiting pod takes its node.
    gone = next(f"web-{i}" for i in range(4) if placed(reg, f"web-{i}") == "c")
    reg.delete(PODS, "default", gone, {"gracePeriodSeconds": 0})
    wait_for("the waiting pod bound", lambda: placed(reg, waiting) == "c")


def test_affinity_and_node_affinity_place_pods_together(app: Any, running: Scheduler) -> None:
    reg = three_nodes(app, running)
    required = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [
            {"key": ZONE, "operator": "In", "values": ["z2"]}]}]}}}  # fmt: skip
    reg.create(PODS, "default", pod("db", {"app": "db"}, affinity=required))
    wait_for("db bound", lambda: placed(reg, "db") == "c")
    near = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"topologyKey": ZONE, "labelSelector": {"matchLabels": {"app": "db"}}}]}}  # fmt: skip
    reg.create(PODS, "default", pod("app", affinity=near))
    wait_for("app bound next to db", lambda: placed(reg, "app") == "c")


def test_a_pod_waiting_for_its_affinity_target_is_bound_when_it_comes(
    app: Any, running: Scheduler
) -> None:
    reg = three_nodes(app, running)
    near = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"topologyKey": HOST, "labelSelector": {"matchLabels": {"app": "cache"}}}]}}  # fmt: skip
    reg.create(PODS, "default", pod("web", affinity=near))
    wait_for(
        "the reason", lambda: "didn't match pod affinity rules" in scheduled_message(reg, "web")
    )
    reg.create(PODS, "default", pod("cache", {"app": "cache"}, nodeName="b"))
    wait_for("web bound next to its cache", lambda: placed(reg, "web") == "b")


def test_topology_spread_across_zones(app: Any, running: Scheduler) -> None:
    reg = three_nodes(app, running)
    spread = [{"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule",
               "labelSelector": {"matchLabels": {"app": "web"}}}]  # fmt: skip
    for i in range(4):
        reg.create(PODS, "default", pod(f"w{i}", {"app": "web"}, topologySpreadConstraints=spread))
        wait_for(f"w{i} bound", lambda i=i: placed(reg, f"w{i}") is not None)
    zones = sorted("z2" if placed(reg, f"w{i}") == "c" else "z1" for i in range(4))
    assert zones == ["z1", "z1", "z2", "z2"]


# -- preemption ---------------------------------------------------------------------------------


def priority_class(reg: Any, name: str, value: int, **extra: Any) -> None:
    reg.create(CLASSES, "", {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                             "metadata": {"name": name}, "value": value, **extra})  # fmt: skip


def finish_terminating(reg: Any) -> list[str]:
    """What the kubelet does with a pod being deleted gracefully: it goes once stopped."""
    done = []
    for p in reg.list(PODS, "default")["items"]:
        if p["metadata"].get("deletionTimestamp"):
            reg.delete(PODS, "default", p["metadata"]["name"], {"gracePeriodSeconds": 0})
            done.append(p["metadata"]["name"])
    return done


def test_a_high_priority_pod_preempts_the_lowest(app: Any, running: Scheduler) -> None:
    reg = registry(app)
    priority_class(reg, "low", 10)
    priority_class(reg, "mid", 100)
    priority_class(reg, "high", 1000)
    priority_class(reg, "polite", 1000, preemptionPolicy="Never")
    reg.create(NODES, "", zoned("a", "z1"))
    reg.create(NODES, "", zoned("b", "z1"))
    wait_for("the nodes", lambda: len(running.cache.node_names()) == 2)
    for name, cls, where in (("low-1", "low", "a"), ("mid-1", "mid", "a"),
                             ("mid-2", "mid", "b"), ("mid-3", "mid", "b")):  # fmt: skip
        reg.create(PODS, "default", pod(name, cpu="1", priorityClassName=cls, nodeName=where))
    reg.create(PODS, "default", pod("polite", cpu="1", priorityClassName="polite"))
    wait_for("polite refused", lambda: scheduled_message(reg, "polite") != "")
    assert scheduled_message(reg, "polite") == (
        "0/2 nodes are available: 2 Insufficient cpu. preemption: not eligible due to "
        "preemptionPolicy=Never.."
    )
    reg.create(PODS, "default", pod("urgent", cpu="1", priorityClassName="high"))
    wait_for("the victim going", lambda: bool(
        reg.get(PODS, "default", "low-1")["metadata"].get("deletionTimestamp")))  # fmt: skip
    urgent = reg.get(PODS, "default", "urgent")
    wait_for("the nomination", lambda: reg.get(PODS, "default", "urgent")["status"].get(
        "nominatedNodeName") == "a")  # fmt: skip
    assert "nodeName" not in urgent["spec"]
    victim = reg.get(PODS, "default", "low-1")
    target = next(c for c in victim["status"]["conditions"] if c["type"] == "DisruptionTarget")
    assert (target["status"], target["reason"]) == ("True", "PreemptionByScheduler")
    for other in ("mid-1", "mid-2", "mid-3"):
        assert not reg.get(PODS, "default", other)["metadata"].get("deletionTimestamp")
    assert finish_terminating(reg) == ["low-1"]
    wait_for("urgent bound where the victim was", lambda: placed(reg, "urgent") == "a")
    events = reg.list(EVENTS, "default", field_selector="involvedObject.name=low-1")["items"]
    assert [(e["reason"], e["message"]) for e in events] == [
        ("Preempted", f"Preempted by pod {urgent['metadata']['uid']} on node a")
    ]
    assert placed(reg, "polite") is None  # it never takes the room held for urgent


def test_tkctl_gets_priority_classes(app: Any, server: str, tmp_path: Any) -> None:
    ensure_system_priority_classes(registry(app))
    session = Session(server=server, token=ADMIN_TOKEN, env={}, home=str(tmp_path))
    result = CliRunner().invoke(cli, ["get", "pc"], obj=session)
    assert result.exit_code == 0, result.output
    lines = [line.split() for line in result.stdout.splitlines()]
    assert lines[0] == ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"]
    assert [line[:3] for line in lines[1:]] == [
        ["system-cluster-critical", "2000000000", "false"],
        ["system-node-critical", "2000001000", "false"],
    ]


def test_preempting_withdraws_lower_nominations_on_the_node(app: Any, running: Scheduler) -> None:
    reg = registry(app)
    priority_class(reg, "low", 10)
    priority_class(reg, "mid", 100)
    priority_class(reg, "high", 1000)
    reg.create(NODES, "", zoned("a", "z1"))
    wait_for("the node", lambda: running.cache.node_names() == ["a"])
    for name in ("low-1", "low-2"):
        reg.create(PODS, "default", pod(name, cpu="1", priorityClassName="low", nodeName="a"))
    reg.create(PODS, "default", pod("mid", cpu="2", priorityClassName="mid"))
    wait_for("mid nominated", lambda: reg.get(PODS, "default", "mid")["status"].get(
        "nominatedNodeName") == "a")  # fmt: skip
    reg.create(PODS, "default", pod("urgent", cpu="2", priorityClassName="high"))
    wait_for("urgent nominated", lambda: reg.get(PODS, "default", "urgent")["status"].get(
        "nominatedNodeName") == "a")  # fmt: skip
    wait_for("mid's nomination withdrawn", lambda: not reg.get(PODS, "default", "mid")[
        "status"].get("nominatedNodeName"))  # fmt: skip
    assert sorted(finish_terminating(reg)) == ["low-1", "low-2"]
    wait_for("urgent bound", lambda: placed(reg, "urgent") == "a")
    assert placed(reg, "mid") is None


PDBS = must("poddisruptionbudgets")


def budget(reg: Any, name: str, labels: dict[str, str], allowed: int) -> None:
    """A PodDisruptionBudget with the status the disruption controller would give it."""
    reg.create(
        PDBS,
        "default",
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": name},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": labels}},
        },
    )
    current = reg.get(PDBS, "default", name)
    current["status"] = {
        **current.get("status", {}),
        "disruptionsAllowed": allowed,
        "currentHealthy": 1,
        "desiredHealthy": 1 - allowed,
        "expectedPods": 1,
        "observedGeneration": current["metadata"]["generation"],
    }
    reg.replace(PDBS, "default", name, current, sub="status")


def test_a_budget_steers_preemption_to_the_unprotected_victim(app: Any, running: Scheduler) -> None:
    reg = registry(app)
    priority_class(reg, "low", 10)
    priority_class(reg, "mid", 100)
    priority_class(reg, "high", 1000)
    reg.create(NODES, "", zoned("a", "z1"))
    reg.create(NODES, "", zoned("b", "z1"))
    wait_for("the nodes", lambda: len(running.cache.node_names()) == 2)
    # a's pod has the lower priority, but its budget allows no disruption.
    reg.create(PODS, "default", pod("db-0", {"app": "db"}, cpu="2", priorityClassName="low",
                                    nodeName="a"))  # fmt: skip
    reg.create(PODS, "default", pod("batch", cpu="2", priorityClassName="mid", nodeName="b"))
    budget(reg, "db", {"app": "db"}, 0)
    wait_for(
        "the budget seen",
        lambda: (
            running.budgets.store.get("default/db") is not None
            and running.budgets.store.get("default/db")["status"].get("currentHealthy") == 1
        ),
    )
    reg.create(PODS, "default", pod("urgent", cpu="2", priorityClassName="high"))
    wait_for("urgent nominated", lambda: reg.get(PODS, "default", "urgent")["status"].get(
        "nominatedNodeName") == "b")  # fmt: skip
    assert reg.get(PODS, "default", "batch")["metadata"].get("deletionTimestamp")
    assert not reg.get(PODS, "default", "db-0")["metadata"].get("deletionTimestamp")
    assert finish_terminating(reg) == ["batch"]
    wait_for("urgent bound", lambda: placed(reg, "urgent") == "b")
    # Budgets are best effort: with no unprotected victim left, the protected one goes.
    reg.create(PODS, "default", pod("urgent-2", cpu="2", priorityClassName="high"))
    wait_for("urgent-2 nominated", lambda: reg.get(PODS, "default", "urgent-2")["status"].get(
        "nominatedNodeName") == "a")  # fmt: skip
    assert finish_terminating(reg) == ["db-0"]
    wait_for("urgent-2 bound", lambda: placed(reg, "urgent-2") == "a")
