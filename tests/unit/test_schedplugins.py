"""The scheduler's plugins over plain objects: NodeAffinity (every operator, terms ORed,
expressions ANDed, matchFields, preferred weights), InterPodAffinity (required and preferred,
by topology key, namespaces, existing pods' anti-affinity), PodTopologySpread (maxSkew,
minDomains, the policies), all through the cache's decision as the scheduler makes it."""

from __future__ import annotations

from typing import Any

import pytest

from control.schedplugins import interpodaffinity as ipa
from control.schedplugins import podtopologyspread as pts
from control.schedplugins.nodeaffinity import NodeAffinity
from control.scheduler_cache import SchedulerCache
from tests.unit.test_scheduler import node, pod

ZONE, HOST = "topology.kubernetes.io/zone", "kubernetes.io/hostname"


def zoned(name: str, zone: str, **labels: str) -> dict[str, Any]:
    return node(name, labels={ZONE: zone, HOST: name, **labels})


def with_spec(
    p: dict[str, Any], labels: dict[str, str] | None = None, **spec: Any
) -> dict[str, Any]:
    p["spec"].update(spec)
    p["metadata"]["labels"] = labels or {}
    return p


def required(*terms: dict[str, Any]) -> dict[str, Any]:
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": list(terms)}}}  # fmt: skip


def expr(key: str, op: str, *values: str) -> dict[str, Any]:
    out: dict[str, Any] = {"key": key, "operator": op}
    if values:
        out["values"] = list(values)
    return out


# -- NodeAffinity -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "labels", "fits"),
    [
        (expr("disk", "In", "ssd", "nvme"), {"disk": "ssd"}, True),
        (expr("disk", "In", "ssd"), {"disk": "hdd"}, False),
        (expr("disk", "NotIn", "hdd"), {}, True),
        (expr("disk", "NotIn", "hdd"), {"disk": "hdd"}, False),
        (expr("gpu", "Exists"), {"gpu": ""}, True),
        (expr("gpu", "Exists"), {}, False),
        (expr("gpu", "DoesNotExist"), {}, True),
        (expr("cores", "Gt", "4"), {"cores": "8"}, True),
        (expr("cores", "Gt", "4"), {"cores": "4"}, False),
        (expr("cores", "Lt", "4"), {"cores": "2"}, True),
        (expr("cores", "Lt", "4"), {"cores": "many"}, False),
        (expr("cores", "Gt", "4", "5"), {"cores": "8"}, False),  # malformed: matches nothing
        (expr("disk", "Near", "ssd"), {"disk": "ssd"}, False),
    ],
)
def test_node_affinity_operators(
    expression: dict[str, Any], labels: dict[str, str], fits: bool
) -> None:
    p = with_spec(pod(), affinity=required({"matchExpressions": [expression]}))
    assert NodeAffinity.of(p).matches(node("n", labels=labels)) is fits


def test_node_affinity_terms_are_ored_and_expressions_anded() -> None:
    p = with_spec(pod(), affinity=required(
        {"matchExpressions": [expr("a", "In", "1"), expr("b", "In", "1")]},
        {"matchFields": [expr("metadata.name", "In", "special")]},
    ))  # fmt: skip
    affinity = NodeAffinity.of(p)
    assert affinity.matches(node("x", labels={"a": "1", "b": "1"}))
    assert not affinity.matches(node("x", labels={"a": "1"}))
    assert affinity.matches(node("special"))
    assert not NodeAffinity.of(with_spec(pod(), affinity=required({}))).matches(node("x"))


def test_required_node_affinity_refuses_with_kube_schedulers_reason() -> None:
    cache = SchedulerCache()
    for name, disk in (("a", "hdd"), ("b", "hdd"), ("c", "ssd")):
        cache.set_node(node(name, labels={"disk": disk}))
    p = with_spec(pod(), affinity=required({"matchExpressions": [expr("disk", "In", "ssd")]}))
    assert cache.schedule(p).node == "c"
    p = with_spec(pod("q"), affinity=required({"matchExpressions": [expr("disk", "In", "tape")]}))
    assert cache.schedule(p).message == (
        "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. "
        "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.."
    )


def test_preferred_node_affinity_wins_over_least_allocated() -> None:
    cache = SchedulerCache()
    cache.set_node(node("big", cpu="64"))
    cache.set_node(node("small", cpu="2", labels={"tier": "fast"}))
    cache.set_node(node("mid", cpu="8", labels={"tier": "ok"}))
    pref = [
        {"weight": 10, "preference": {"matchExpressions": [expr("tier", "In", "fast")]}},
        {"weight": 5, "preference": {"matchExpressions": [expr("tier", "Exists")]}},
    ]
    aff = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": pref}}
    p = with_spec(pod(cpu="1"), affinity=aff)
    assert NodeAffinity.of(p).score(node("small", labels={"tier": "fast"})) == 15
    assert cache.schedule(p).node == "small"


# -- InterPodAffinity ---------------------------------------------------------------------------


def term(key: str, **labels: str) -> dict[str, Any]:
    return {"topologyKey": key, "labelSelector": {"matchLabels": labels}}


def anti(*terms: dict[str, Any]) -> dict[str, Any]:
    return {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": list(terms)}}


def three_zones() -> SchedulerCache:
    cache = SchedulerCache()
    for name, zone in (("a", "z1"), ("b", "z1"), ("c", "z2")):
        cache.set_node(zoned(name, zone))
    return cache


def test_required_anti_affinity_by_host_spreads_one_per_node() -> None:
    cache = three_zones()
    placed = []
    for i in range(3):
        p = with_spec(pod(f"web-{i}"), {"app": "web"}, affinity=anti(term(HOST, app="web")))
        placed.append(cache.schedule(p).node)
    assert sorted(placed) == ["a", "b", "c"]
    cache.set_pod(with_spec(pod("hog", node_name="a", cpu="1"), {}))
    p = with_spec(pod("web-3", cpu="1500m"), {"app": "web"}, affinity=anti(term(HOST, app="web")))
    assert cache.schedule(p).message == (
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match pod anti-affinity "
        "rules. preemption: 0/3 nodes are available: 3 No preemption victims found for "
        "incoming pod.."
    )


def test_required_anti_affinity_by_zone() -> None:
    cache = three_zones()
    cache.set_pod(with_spec(pod("db", node_name="a"), {"app": "db"}))
    p = with_spec(pod("web"), {"app": "web"}, affinity=anti(term(ZONE, app="db")))
    assert cache.schedule(p).node == "c"


def test_existing_pods_anti_affinity_is_honoured() -> None:
    cache = three_zones()
    lonely = with_spec(pod("lonely", node_name="c"), {"app": "lonely"},
                       affinity=anti(term(ZONE, app="web")))  # fmt: skip
    cache.set_pod(lonely)
    cache.set_pod(with_spec(pod("big", node_name="a", cpu="2"), {}))
    cache.set_pod(with_spec(pod("big2", node_name="b", cpu="2"), {}))
    d = cache.schedule(with_spec(pod("web", cpu="1"), {"app": "web"}))
    assert d.node is None
    assert d.message.startswith(
        "0/3 nodes are available: 1 node(s) didn't satisfy existing pods anti-affinity rules, "
        "2 Insufficient cpu."
    )
    assert cache.schedule(with_spec(pod("other"), {"app": "other"})).node == "c"


def test_required_affinity_follows_its_target_and_lets_the_first_of_a_group_in() -> None:
    cache = three_zones()
    aff = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        term(ZONE, app="cache")]}}  # fmt: skip
    lost = with_spec(pod("web"), {"app": "web"}, affinity=aff)
    d = cache.schedule(lost)
    assert d.node is None and "3 node(s) didn't match pod affinity rules." in d.message
    assert "3 Preemption is not helpful for scheduling.." in d.message
    first = with_spec(pod("cache-0"), {"app": "cache"}, affinity=aff)  # matches its own term
    assert cache.schedule(first).node is not None
    cache.set_pod(with_spec(pod("cache-1", node_name="c"), {"app": "cache"}))
    cache.remove_pod(first)
    assert cache.schedule(with_spec(pod("web2"), {"app": "web"}, affinity=aff)).node == "c"


def test_terms_look_in_the_pods_namespace_unless_told() -> None:
    cache = three_zones()
    other = with_spec(pod("db", node_name="c"), {"app": "db"})
    other["metadata"]["namespace"] = "data"
    cache.set_pod(other)
    cache.namespace_labels = lambda ns: {"team": "data"} if ns == "data" else {}
    aff = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        term(HOST, app="db")]}}  # fmt: skip
    assert cache.schedule(with_spec(pod("x"), {}, affinity=aff)).node is None
    by_name = {**term(HOST, app="db"), "namespaces": ["data"]}
    aff["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] = [by_name]
    assert cache.schedule(with_spec(pod("y"), {}, affinity=aff)).node == "c"
    by_selector = {**term(HOST, app="db"), "namespaceSelector": {"matchLabels": {"team": "data"}}}
    aff["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] = [by_selector]
    assert cache.schedule(with_spec(pod("z"), {}, affinity=aff)).node == "c"


def test_match_label_keys_narrow_the_selector_to_the_pods_own_values() -> None:
    raw = {**term(HOST, app="web"), "matchLabelKeys": ["rev"]}
    owner = with_spec(pod(), {"app": "web", "rev": "2"})
    t = ipa.PodTerms.of(with_spec(owner, {"app": "web", "rev": "2"}, affinity=anti(raw))).anti[0]
    old = with_spec(pod("old"), {"app": "web", "rev": "1"})
    new = with_spec(pod("new"), {"app": "web", "rev": "2"})
    assert not t.matches(old, lambda _ns: {}) and t.matches(new, lambda _ns: {})


def test_preferred_affinity_and_anti_affinity_score() -> None:
    cache = three_zones()
    cache.set_pod(with_spec(pod("db", node_name="b"), {"app": "db"}))
    near = {"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 50, "podAffinityTerm": term(HOST, app="db")}]}}  # fmt: skip
    assert cache.schedule(with_spec(pod("near"), {}, affinity=near)).node == "b"
    far = {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 50, "podAffinityTerm": term(ZONE, app="db")}]}}  # fmt: skip
    assert cache.schedule(with_spec(pod("far"), {}, affinity=far)).node == "c"


# -- PodTopologySpread --------------------------------------------------------------------------


def spread(key: str, skew: int = 1, when: str = "DoNotSchedule", **extra: Any) -> dict[str, Any]:
    return {"maxSkew": skew, "topologyKey": key, "whenUnsatisfiable": when,
            "labelSelector": {"matchLabels": {"app": "web"}}, **extra}  # fmt: skip


def test_spread_by_zone_keeps_the_skew() -> None:
    cache = three_zones()
    zones = []
    for i in range(4):
        p = with_spec(pod(f"w{i}"), {"app": "web"}, topologySpreadConstraints=[spread(ZONE)])
        d = cache.schedule(p)
        zones.append("z2" if d.node == "c" else "z1")
    assert sorted(zones) == ["z1", "z1", "z2", "z2"]


def test_spread_refuses_past_max_skew_and_nodes_missing_the_key() -> None:
    cache = SchedulerCache()
    cache.set_node(zoned("a", "z1"))
    cache.set_node(zoned("b", "z2", full="yes"))
    cache.set_node(node("nolabel"))
    cache.set_pod(with_spec(pod("w0", node_name="a"), {"app": "web"}))
    cache.set_pod(with_spec(pod("hog", node_name="b", cpu="2"), {}))
    p = with_spec(pod("w1", cpu="1"), {"app": "web"}, topologySpreadConstraints=[spread(ZONE)])
    d = cache.schedule(p)
    assert d.node is None
    assert d.message.startswith(
        "0/3 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match pod topology "
        "spread constraints, 1 node(s) didn't match pod topology spread constraints (missing "
        "required label)."
    )


def test_min_domains_counts_missing_domains_as_empty() -> None:
    cache = SchedulerCache()
    cache.set_node(zoned("a", "z1"))
    cache.set_node(zoned("b", "z2"))
    cache.set_pod(with_spec(pod("w0", node_name="a"), {"app": "web"}))
    cache.set_pod(with_spec(pod("w1", node_name="b"), {"app": "web"}))
    plain = with_spec(pod("w2"), {"app": "web"}, topologySpreadConstraints=[spread(ZONE)])
    assert cache.schedule(plain).node is not None
    cache.remove_pod(plain)
    three = with_spec(pod("w3"), {"app": "web"},
                      topologySpreadConstraints=[spread(ZONE, minDomains=3)])  # fmt: skip
    assert cache.schedule(three).node is None  # 1 + 1 - 0 > 1 in both zones


def test_node_affinity_policy_decides_which_nodes_count() -> None:
    nodes = {"a": zoned("a", "z1", pool="x"), "b": zoned("b", "z2", pool="y")}
    pods_on = {"a": [], "b": [with_spec(pod("w", node_name="b"), {"app": "web"})]}
    p = with_spec(pod(), {"app": "web"}, nodeSelector={"pool": "x"},
                  topologySpreadConstraints=[spread(ZONE)])  # fmt: skip
    honoured = pts.pre_filter(p, nodes, pods_on, lambda _n: True)
    assert honoured is not None and dict(honoured.hard[0].counts) == {"z1": 0}
    p["spec"]["topologySpreadConstraints"] = [spread(ZONE, nodeAffinityPolicy="Ignore")]
    ignored = pts.pre_filter(p, nodes, pods_on, lambda _n: True)
    assert ignored is not None and dict(ignored.hard[0].counts) == {"z1": 0, "z2": 1}


def test_schedule_anyway_prefers_the_emptier_domain_but_never_refuses() -> None:
    cache = SchedulerCache()
    cache.set_node(zoned("a", "z1"))
    cache.set_node(zoned("b", "z2"))
    for i in range(3):
        cache.set_pod(with_spec(pod(f"w{i}", node_name="a"), {"app": "web"}))
    soft = [spread(ZONE, when="ScheduleAnyway")]
    assert (
        cache.schedule(with_spec(pod("n"), {"app": "web"}, topologySpreadConstraints=soft)).node
        == "b"
    )
    cache.set_node(zoned("b", "z2", busy="yes"))
    cache.set_pod(with_spec(pod("hog", node_name="b", cpu="2"), {}))
    assert cache.schedule(with_spec(pod("m", cpu="1"), {"app": "web"},
                                    topologySpreadConstraints=soft)).node == "a"  # fmt: skip


@pytest.mark.parametrize(
    "spec",
    [
        {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": []}}},
        {"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": "x", "preference": 3}]}}},
        {"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": ["x"]}, "topologyKey": 5}, "junk"]}}},
        {"affinity": {"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": None, "podAffinityTerm": None}]}}},
        {"topologySpreadConstraints": [{"maxSkew": "x", "minDomains": [], "topologyKey": ZONE},
                                       "junk"]},
    ],
)  # fmt: skip
def test_malformed_rules_never_break_a_decision(spec: dict[str, Any]) -> None:
    cache = three_zones()
    cache.set_pod(with_spec(pod("other", node_name="a"), {"app": "x"}, **spec))
    decision = cache.schedule(with_spec(pod("p"), {"app": "x"}, **spec))
    assert decision.node is not None or decision.message.startswith("0/3 nodes are available")
