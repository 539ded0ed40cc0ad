"""select_node: filters and scores, table-driven over plain objects."""

from __future__ import annotations

from typing import Any

import pytest

from control.scheduler import NodeUsage, nodes_to_find, select_node, usage_by_node

NOT_READY = {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}
CORDONED = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}


def node(
    name: str,
    *,
    ready: bool = True,
    cpu: str = "2",
    memory: str = "4Gi",
    pods: str = "110",
    labels: dict[str, str] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """A node; one not Ready has the taint the node lifecycle controller gives it."""
    if not ready:
        spec["taints"] = [*spec.get("taints", []), NOT_READY]
    return {
        "metadata": {"name": name, "labels": labels or {}},
        "spec": spec,
        "status": {
            "allocatable": {"cpu": cpu, "memory": memory, "pods": pods},
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def pod(
    name: str = "p",
    *,
    cpu: str = "",
    memory: str = "",
    node_name: str = "",
    owner: str = "",
    selector: dict[str, str] | None = None,
    host_port: int = 0,
) -> dict[str, Any]:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    container: dict[str, Any] = {"name": "c", "image": "i", "resources": {"requests": requests}}
    if host_port:
        container["ports"] = [{"containerPort": 80, "hostPort": host_port, "protocol": "TCP"}]
    p: dict[str, Any] = {
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"containers": [container], "nodeSelector": selector or {}},
        "status": {"phase": "Running" if node_name else "Pending"},
    }
    if node_name:
        p["spec"]["nodeName"] = node_name
    if owner:
        p["metadata"]["ownerReferences"] = [{"uid": owner, "controller": True}]
    return p


def test_only_ready_nodes() -> None:
    d = select_node(pod(), [node("a", ready=False), node("b")], {})
    assert d.node == "b"


def test_no_ready_node_explains_why() -> None:
    d = select_node(pod(), [node("a", ready=False), node("b", ready=False)], {})
    assert d.node is None
    assert d.message.startswith(
        "0/2 nodes are available: 2 node(s) had untolerated taint {node.kubernetes.io/not-ready: }."
    )


def test_readiness_is_read_from_the_taints_only() -> None:
    """TaintNodesByCondition: the scheduler reads no condition; a pod tolerating the not-ready
    taint (a daemon pod) goes to a node that is not Ready."""
    unready = node("a", ready=False)
    tolerant = pod()
    tolerant["spec"]["tolerations"] = [{"key": NOT_READY["key"], "operator": "Exists"}]
    assert select_node(tolerant, [unready], {}).node == "a"
    assert select_node(pod(), [unready], {}).node is None


def test_requests_against_allocatable() -> None:
    usage = usage_by_node([pod("x", cpu="1500m", node_name="a")])
    d = select_node(pod(cpu="1"), [node("a"), node("b", cpu="500m")], usage)
    assert d.node is None
    assert "2 Insufficient cpu" in d.message
    # Both fit 400m; "b" is the less allocated one afterwards (80% of cpu against 95%).
    assert select_node(pod(cpu="400m"), [node("a"), node("b", cpu="500m")], usage).node == "b"
    assert select_node(pod(cpu="501m"), [node("a"), node("b", cpu="500m")], usage).node is None


def test_memory_and_pod_count() -> None:
    assert select_node(pod(memory="8Gi"), [node("a")], {}).node is None
    full = {"a": NodeUsage(pods=3)}
    assert "Too many pods" in select_node(pod(), [node("a", pods="3")], full).message


def test_node_selector() -> None:
    nodes = [node("a", labels={"disk": "hdd"}), node("b", labels={"disk": "ssd"})]
    assert select_node(pod(selector={"disk": "ssd"}), nodes, {}).node == "b"
    d = select_node(pod(selector={"gpu": "yes"}), nodes, {})
    assert "2 node(s) didn't match Pod's node affinity/selector" in d.message


def test_unschedulable_and_tainted_nodes_are_skipped() -> None:
    taint = {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}
    nodes = [node("a", unschedulable=True), node("b", taints=[taint]), node("c")]
    assert select_node(pod(), nodes, {}).node == "c"


@pytest.mark.parametrize(
    "tolerations, fits",
    [
        ([], False),
        ([{"key": CORDONED["key"], "operator": "Exists", "effect": "NoSchedule"}], True),
        ([{"key": CORDONED["key"], "operator": "Exists"}], True),
        ([{"operator": "Exists"}], True),
        ([{"key": CORDONED["key"], "operator": "Exists", "effect": "NoExecute"}], False),
        ([{"key": "other", "operator": "Exists", "effect": "NoSchedule"}], False),
    ],
)
def test_a_cordoned_node_takes_the_pods_tolerating_its_taint(
    tolerations: list[dict[str, Any]], fits: bool
) -> None:
    """NodeUnschedulable: spec.unschedulable refuses a pod unless it tolerates the
    node.kubernetes.io/unschedulable:NoSchedule taint (whether or not the taint is there yet)."""
    p = pod()
    p["spec"]["tolerations"] = tolerations
    for taints in ([], [CORDONED]):
        d = select_node(p, [node("a", unschedulable=True, taints=taints)], {})
        assert (d.node == "a") is fits
        if not fits:
            assert d.message.startswith("0/1 nodes are available: 1 node(s) were unschedulable.")


def test_host_port_conflict() -> None:
    usage = usage_by_node([pod("x", node_name="a", host_port=8080)])
    assert select_node(pod(host_port=8080), [node("a"), node("b")], usage).node == "b"


def in_init_container(p: dict[str, Any], restart_policy: str | None) -> dict[str, Any]:
    """``p`` with its container's ports moved into an init container."""
    init = {"name": "i", "image": "i", "ports": p["spec"]["containers"][0].pop("ports")}
    if restart_policy:
        init["restartPolicy"] = restart_policy
    p["spec"]["initContainers"] = [init]
    return p


def test_a_sidecars_host_port_is_held_on_its_node() -> None:
    holder = in_init_container(pod("x", node_name="a", host_port=8080), "Always")
    usage = usage_by_node([holder])
    assert select_node(pod(host_port=8080), [node("a"), node("b")], usage).node == "b"
    wants = in_init_container(pod(host_port=8080), "Always")
    assert select_node(wants, [node("a"), node("b")], usage).node == "b"
    d = select_node(wants, [node("a")], usage)
    assert d.node is None and "didn't have free ports" in d.message


def test_a_run_to_completion_init_containers_host_port_is_not_held() -> None:
    usage = usage_by_node([in_init_container(pod("x", node_name="a", host_port=8080), None)])
    assert select_node(pod(host_port=8080), [node("a")], usage).node == "a"


@pytest.mark.parametrize("count", [2, 6, 9])
def test_siblings_spread_over_nodes(count: int) -> None:
    nodes = [node("a"), node("b"), node("c")]
    placed: list[dict[str, Any]] = []
    for i in range(count):
        d = select_node(pod(f"p{i}", owner="rs1"), nodes, usage_by_node(placed))
        assert d.node is not None
        placed.append(pod(f"p{i}", owner="rs1", node_name=d.node))
    per_node = [sum(1 for p in placed if p["spec"]["nodeName"] == n) for n in "abc"]
    assert max(per_node) - min(per_node) <= 1


def test_terminal_pods_free_their_resources() -> None:
    done = pod("x", cpu="2", node_name="a")
    done["status"]["phase"] = "Succeeded"
    assert select_node(pod(cpu="1"), [node("a")], usage_by_node([done])).node == "a"


def _c(cpu: str | None = None, memory: str | None = None, **extra: Any) -> dict[str, Any]:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    return {"name": "c", "image": "x", "resources": {"requests": requests}, **extra}


def test_pod_requests_count_init_containers_and_sidecars_as_kube_scheduler() -> None:
    from control.scheduler import pod_requests

    app = {"spec": {"containers": [_c("100m", "64Mi"), _c("200m")]}}
    assert pod_requests(app) == (300, 64 * 2**20)
    # A plain init container runs alone: the largest of it and the app containers counts.
    big_init = {"spec": {"containers": [_c("100m")], "initContainers": [_c("500m", "1Gi")]}}
    assert pod_requests(big_init) == (500, 2**30)
    # A sidecar runs with the app containers (added), and with every init container after it.
    sidecar = _c("50m", "10Mi", restartPolicy="Always")
    pod = {"spec": {"containers": [_c("100m", "20Mi")],
                    "initContainers": [sidecar, _c("400m", "5Mi")]}}  # fmt: skip
    assert pod_requests(pod) == (450, 30 * 2**20)
    # Overhead (RuntimeClass) is added on top.
    pod["spec"]["overhead"] = {"cpu": "10m", "memory": "1Mi"}
    assert pod_requests(pod) == (460, 31 * 2**20)


@pytest.mark.parametrize(
    ("total", "percentage", "expected"),
    [
        (10, 0, 10),  # under 100: every node
        (99, 0, 99),
        (100, 0, 100),  # 50 % is 50, at least 100
        (500, 0, 230),  # 50 - 4 = 46 %
        (1000, 0, 420),  # 50 - 8 = 42 %
        (5000, 0, 500),  # 50 - 40 = 10 %
        (6000, 0, 300),  # 50 - 48 = 2 %: at least 5 %
        (1000, 40, 400),  # a percentage set
        (1000, 5, 100),  # at least 100
        (1000, 100, 1000),
    ],
)
def test_nodes_to_find_as_kube_scheduler(total: int, percentage: int, expected: int) -> None:
    assert nodes_to_find(total, percentage) == expected


def test_the_search_stops_at_the_nodes_to_find_and_starts_where_told() -> None:
    nodes = [node(f"n{i:03}") for i in range(10)]
    refused = node("full", pods="0")
    d = select_node(pod(), [refused, *nodes], {}, start=0, to_find=3)
    # n000..n002 fit; the full node was looked at and refused: 4 processed.
    assert (d.node, d.processed) == ("n000", 4)
    # From index 9: n008, n009, round to the full node, n000. Busy n000 loses to n008.
    busy = {"n000": NodeUsage(pods=5)}
    d = select_node(pod(), [refused, *nodes], busy, start=9, to_find=3)
    assert (d.node, d.processed) == ("n008", 4)
    # From 0, n000 to n002 fit: n001, the least busy with the lowest name, wins.
    assert select_node(pod(), [refused, *nodes], busy, start=0, to_find=3).node == "n001"
    assert select_node(pod(), nodes, {}, start=25, to_find=0).processed == 10  # 0: every node


def test_no_fit_looks_at_every_node_whatever_the_sample() -> None:
    nodes = [node(f"n{i}", cpu="1") for i in range(5)]
    d = select_node(pod(cpu="2"), nodes, {}, start=3, to_find=2)
    assert d.node is None and "0/5 nodes are available: 5 Insufficient cpu" in d.message
    assert len(d.statuses) == 5


def test_facts_are_kept_per_node_and_read_again_when_the_node_changes() -> None:
    """The caller's facts are read once per version of a node: a node replaced by a changed
    object (here: tainted not-ready) is judged by its new version."""
    facts: dict[str, Any] = {}
    a, b = node("a"), node("b", cpu="4")
    assert select_node(pod(cpu="1"), [a, b], {}, facts=facts).node == "b"
    assert facts["a"].node is a and facts["b"].node is b
    kept = facts["a"]
    assert select_node(pod(cpu="1"), [a, b], {}, facts=facts).node == "b"
    assert facts["a"] is kept  # not read again
    b2 = node("b", cpu="4", ready=False)
    decision = select_node(pod(cpu="1"), [a, b2], {}, facts=facts)
    assert decision.node == "a"
    assert facts["b"].node is b2
    assert decision.statuses == {} and decision.processed == 2


def test_allocatable_pods_is_read_as_a_quantity() -> None:
    """``pods: 1k`` is a valid quantity (1,000), as the API validates it: it neither stops the
    scheduler nor caps the node at 1 pod."""
    busy = {"a": NodeUsage(pods=500)}
    assert select_node(pod(), [node("a", pods="1k")], busy).node == "a"
    assert select_node(pod(), [node("a", pods="500")], busy).node is None


def test_a_node_that_says_nothing_of_cpu_or_memory_scores_as_before() -> None:
    """With no cpu in allocatable the score counts a whole core (its old default of "1"), and
    takes any cpu request; the least allocated node still wins."""
    bare = {"metadata": {"name": "bare"}, "spec": {}, "status": {"allocatable": {}}}
    assert select_node(pod(cpu="64", memory="1Ti"), [bare], {}).node == "bare"
    big = node("big", cpu="64", memory="1Ti")
    assert select_node(pod(cpu="500m"), [bare, big], {}).node == "big"
