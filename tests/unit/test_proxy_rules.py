"""The kube-proxy rules: Services and EndpointSlices in, ``iptables-restore`` text out."""

from __future__ import annotations

import re
from typing import Any

import pytest

from agent.proxy import model, rules
from agent.proxy.model import Endpoint, ServicePort

OPTS = rules.Options(prefix="TKABCDEF", cluster_id="c-1", local_nodes=frozenset({"n1"}))


def svc(name: str = "web", ns: str = "default", **spec: Any) -> dict[str, Any]:
    spec.setdefault("clusterIP", "10.96.0.20")
    spec.setdefault("ports", [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}])
    return {"metadata": {"name": name, "namespace": ns}, "spec": spec}


def eps(
    *ips: str,
    name: str = "web",
    port: int = 8080,
    ready: bool = True,
    node: str = "n1",
    port_name: str = "http",
    **cond: bool,
) -> dict[str, Any]:
    return {
        "metadata": {
            "name": f"{name}-x",
            "namespace": "default",
            "labels": {"kubernetes.io/service-name": name},
        },
        "addressType": "IPv4",
        "endpoints": [
            {"addresses": [ip], "conditions": {"ready": ready, **cond}, "nodeName": node}
            for ip in ips
        ],
        "ports": [{"name": port_name, "port": port, "protocol": "TCP"}],
    }


def ruleset(
    services: list[dict[str, Any]],
    slices: list[dict[str, Any]],
    opts: rules.Options = OPTS,
    existing: tuple[str, ...] = (),
) -> str:
    ports = []
    for s in services:
        for sp in model.service_ports(s):
            found = model.endpoints_of(sp, slices)
            ports.append((sp, model.categorize(sp, found, opts.local_nodes)))
    return rules.build_ruleset(ports, opts, existing)


def table(text: str, name: str) -> list[str]:
    block = text.split(f"*{name}\n", 1)[1].split("COMMIT", 1)[0]
    return block.splitlines()


def chain_rules(text: str, tbl: str, chain: str) -> list[str]:
    return [line for line in table(text, tbl) if line.startswith(f"-A {chain} ")]


def jump_target(line: str) -> str:
    return line.split(" -j ", 1)[1].split()[0]


def svc_chain(text: str) -> str:
    [line] = [r for r in chain_rules(text, "nat", "TKABCDEF-SERVICES") if "cluster IP" in r]
    return jump_target(line)


def test_three_ready_endpoints_are_spread_one_third_one_half_then_the_rest() -> None:
    text = ruleset([svc()], [eps("10.0.0.3", "10.0.0.1", "10.0.0.2")])
    lines = [r for r in chain_rules(text, "nat", svc_chain(text)) if "MARK-MASQ" not in r]
    assert [
        re.search(r"--probability (\S+)", r) and re.search(r"--probability (\S+)", r)[1]
        for r in lines
    ] == ["0.3333333333", "0.5000000000", None]
    targets = [jump_target(r) for r in lines]
    assert len(set(targets)) == 3
    assert all(t.startswith("TKABCDEF-SEP-") for t in targets)
    # Sorted by address, each SEP chain DNATs to its endpoint.
    dnat = [chain_rules(text, "nat", t)[-1].split("--to-destination ")[1] for t in targets]
    assert dnat == ["10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.3:8080"]


def test_cluster_ip_jump_and_masquerade_of_traffic_not_from_the_pod_bridge() -> None:
    text = ruleset([svc()], [eps("10.0.0.1")])
    [jump] = [r for r in chain_rules(text, "nat", "TKABCDEF-SERVICES") if "cluster IP" in r]
    assert '"default/web:http cluster IP"' in jump
    assert "-m tcp -p tcp -d 10.96.0.20 --dport 80" in jump
    first = chain_rules(text, "nat", jump_target(jump))[0]
    assert "! -i docker0 -j TKABCDEF-MARK-MASQ" in first
    assert "REJECT" not in text


def test_hairpin_traffic_is_masqueraded_in_the_endpoint_chain() -> None:
    text = ruleset([svc()], [eps("10.0.0.1")])
    sep = jump_target(chain_rules(text, "nat", svc_chain(text))[-1])
    hairpin, dnat = chain_rules(text, "nat", sep)
    assert "-s 10.0.0.1 -j TKABCDEF-MARK-MASQ" in hairpin
    assert dnat.endswith("-m tcp -p tcp -j DNAT --to-destination 10.0.0.1:8080")


def test_no_endpoints_rejects_in_filter_and_writes_no_nat_chain() -> None:
    text = ruleset([svc(type="NodePort", ports=[{"port": 80, "nodePort": 30080}])], [])
    [reject] = chain_rules(text, "filter", "TKABCDEF-SERVICES")
    assert '"default/web has no endpoints"' in reject
    assert "-d 10.96.0.20 --dport 80 -j REJECT" in reject
    [ext] = chain_rules(text, "filter", "TKABCDEF-EXTERNAL-SERVICES")
    assert "-m addrtype --dst-type LOCAL" in ext and "--dport 30080 -j REJECT" in ext
    assert not [c for c in table(text, "nat") if re.match(r":TKABCDEF-(SVC|SEP|EXT)-", c)]


def test_not_ready_endpoints_are_not_used_but_serving_terminating_ones_are_when_alone() -> None:
    text = ruleset([svc()], [eps("10.0.0.1", ready=False)])
    assert "has no endpoints" in text
    text = ruleset([svc()], [eps("10.0.0.1", ready=False, serving=True, terminating=True)])
    assert "DNAT --to-destination 10.0.0.1:8080" in text
    mixed = [eps("10.0.0.1", ready=False, serving=True, terminating=True), eps("10.0.0.2")]
    text = ruleset([svc()], mixed)
    assert "10.0.0.1:8080" not in text and "10.0.0.2:8080" in text


def test_nodeport_on_every_local_address_including_localhost_with_the_guard() -> None:
    text = ruleset(
        [svc(type="NodePort", ports=[{"port": 80, "nodePort": 30080}])],
        [eps("10.0.0.1", port_name="")],
    )
    last = chain_rules(text, "nat", "TKABCDEF-SERVICES")[-1]
    assert "-m addrtype --dst-type LOCAL -j TKABCDEF-NODEPORTS" in last
    assert "127.0.0.0/8" not in last  # 127.0.0.1 included: route_localnet is on
    [np] = chain_rules(text, "nat", "TKABCDEF-NODEPORTS")
    assert "--dport 30080" in np
    ext = chain_rules(text, "nat", jump_target(np))
    assert "masquerade traffic for default/web external destinations" in ext[0]
    assert jump_target(ext[-1]).startswith("TKABCDEF-SVC-")
    [guard] = chain_rules(text, "filter", "TKABCDEF-FIREWALL")
    assert "-d 127.0.0.0/8 ! -s 127.0.0.0/8" in guard
    assert "! --ctstate RELATED,ESTABLISHED,DNAT -j DROP" in guard


def test_without_localhost_nodeports_no_guard_and_loopback_excluded() -> None:
    opts = rules.Options(prefix="TKABCDEF", localhost_nodeports=False)
    text = ruleset([svc(type="NodePort", ports=[{"port": 80, "nodePort": 30080}])], [], opts)
    assert "FIREWALL" not in text
    assert "! -d 127.0.0.0/8 -j TKABCDEF-NODEPORTS" in text
    assert all("FIREWALL" not in j.args[-1] for j in rules.jumps(opts))


def test_client_ip_affinity_checks_recent_before_the_random_rules() -> None:
    service = svc(
        sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}}
    )
    text = ruleset([service], [eps("10.0.0.1", "10.0.0.2")])
    lines = [r for r in chain_rules(text, "nat", svc_chain(text)) if "MARK-MASQ" not in r]
    assert all("--rcheck --seconds 60 --reap" in r for r in lines[:2])
    assert all("statistic" not in r for r in lines[:2])
    assert "statistic" in lines[2]
    for r in lines[:2]:
        sep = jump_target(r)
        assert f"-m recent --name {sep} --rcheck" in r
        assert f"-m recent --name {sep} --set" in chain_rules(text, "nat", sep)[-1]


def test_default_affinity_timeout_is_three_hours() -> None:
    [sp] = model.service_ports(svc(sessionAffinity="ClientIP"))
    assert sp.affinity_seconds == 10800


@pytest.mark.parametrize(
    "spec", [{"clusterIP": "None"}, {"type": "ExternalName", "externalName": "x.example"}]
)
def test_headless_and_external_name_services_get_no_rules(spec: dict[str, Any]) -> None:
    assert model.service_ports(svc(**spec)) == []


def test_ports_match_slices_by_name_and_several_ports_get_their_own_chains() -> None:
    service = svc(ports=[{"name": "http", "port": 80}, {"name": "metrics", "port": 9090}])
    slices = [eps("10.0.0.1", port=8080), eps("10.0.0.1", port=9100, port_name="metrics")]
    text = ruleset([service], slices)
    assert "10.0.0.1:8080" in text and "10.0.0.1:9100" in text
    chains = [c for c in table(text, "nat") if c.startswith(":TKABCDEF-SVC-")]
    assert len(chains) == 2
    # A port name no slice has gets no endpoint.
    text = ruleset([svc(ports=[{"name": "grpc", "port": 81}])], slices)
    assert "default/web:grpc has no endpoints" in text


def test_slices_of_another_service_or_namespace_are_ignored() -> None:
    other = eps("10.0.0.9", name="api")
    text = ruleset([svc()], [other])
    assert "has no endpoints" in text
    moved = eps("10.0.0.9")
    moved["metadata"]["namespace"] = "prod"
    assert "10.0.0.9" not in ruleset([svc()], [moved])


def test_internal_traffic_policy_local_uses_only_local_endpoints_or_drops() -> None:
    service = svc(internalTrafficPolicy="Local")
    text = ruleset([service], [eps("10.0.0.1", node="n1"), eps("10.0.0.2", node="n2")])
    chain = svc_chain(text)
    assert chain.startswith("TKABCDEF-SVL-")
    assert "10.0.0.1:8080" in text and "10.0.0.2:8080" not in text
    text = ruleset([service], [eps("10.0.0.2", node="n2")])
    assert '"default/web:http has no local endpoints"' in text and "-j DROP" in text


def test_external_traffic_policy_local_short_circuits_pods_and_host() -> None:
    service = svc(
        type="NodePort",
        externalTrafficPolicy="Local",
        ports=[{"name": "http", "port": 80, "nodePort": 30080}],
    )
    text = ruleset([service], [eps("10.0.0.1", node="n1"), eps("10.0.0.2", node="n2")])
    [np] = chain_rules(text, "nat", "TKABCDEF-NODEPORTS")
    ext = chain_rules(text, "nat", jump_target(np))
    assert "-i docker0" in ext[0] and jump_target(ext[0]).startswith("TKABCDEF-SVC-")
    assert "--src-type LOCAL -j TKABCDEF-MARK-MASQ" in ext[1]
    assert jump_target(ext[-1]).startswith("TKABCDEF-SVL-")
    # No local endpoint: outside traffic to the NodePort is dropped, the cluster IP still works.
    text = ruleset([service], [eps("10.0.0.2", node="n2")])
    [drop] = chain_rules(text, "filter", "TKABCDEF-EXTERNAL-SERVICES")
    assert "has no local endpoints" in drop and drop.endswith("-j DROP")
    assert chain_rules(text, "filter", "TKABCDEF-SERVICES") == []


def test_load_balancer_ingress_and_external_ips_reach_the_external_chain() -> None:
    service = svc(
        type="LoadBalancer",
        externalIPs=["192.0.2.7"],
        ports=[{"name": "http", "port": 80, "nodePort": 30080}],
    )
    service["status"] = {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}
    text = ruleset([service], [eps("10.0.0.1")])
    lines = chain_rules(text, "nat", "TKABCDEF-SERVICES")
    assert any("external IP" in r and "-d 192.0.2.7 --dport 80" in r for r in lines)
    assert any("loadbalancer IP" in r and "-d 192.0.2.1 --dport 80" in r for r in lines)


def test_postrouting_masquerades_only_marked_packets() -> None:
    text = ruleset([], [])
    post = chain_rules(text, "nat", "TKABCDEF-POSTROUTING")
    assert post[0] == "-A TKABCDEF-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN"
    assert post[1] == "-A TKABCDEF-POSTROUTING -j MARK --xor-mark 0x4000"
    assert "-j MASQUERADE --random-fully" in post[2]
    assert chain_rules(text, "nat", "TKABCDEF-MARK-MASQ") == [
        "-A TKABCDEF-MARK-MASQ -j MARK --or-mark 0x4000"
    ]


def test_every_chain_is_declared_so_the_restore_rewrites_it_whole() -> None:
    text = ruleset([svc()], [eps("10.0.0.1", "10.0.0.2")])
    for tbl in ("filter", "nat"):
        declared = {c[1:].split()[0] for c in table(text, tbl) if c.startswith(":")}
        used = {r.split()[1] for r in table(text, tbl) if r.startswith("-A ")}
        assert used <= declared
        assert all(c.startswith("TKABCDEF-") for c in declared)  # never Docker's nor another's
        assert all(len(c) <= 28 for c in declared)


def test_stale_chains_of_this_cluster_are_deleted_others_left_alone() -> None:
    existing = (
        "TKABCDEF-SVC-OLDOLDOLDOLDOLD",
        "TKABCDEF-SERVICES",
        "TKZZZZZZ-SVC-AAAAAAAAAAAAAAA",
        "DOCKER",
        "KUBE-SVC-AAAAAAAAAAAAAAAA",
    )
    text = ruleset([svc()], [eps("10.0.0.1")], existing=existing)
    assert "-X TKABCDEF-SVC-OLDOLDOLDOLDOLD" in text
    assert [r for r in table(text, "nat") if r.startswith("-X")] == [
        "-X TKABCDEF-SVC-OLDOLDOLDOLDOLD"
    ]


def test_the_nodeports_jump_is_the_last_rule_of_services() -> None:
    text = ruleset([svc(), svc("api", clusterIP="10.96.0.30")], [eps("10.0.0.1")])
    assert "NOTE: this must be the last rule" in chain_rules(text, "nat", "TKABCDEF-SERVICES")[-1]


def test_chain_prefix_is_stable_per_cluster_and_differs_between_clusters() -> None:
    a, b = rules.chain_prefix("uid-a"), rules.chain_prefix("uid-b")
    assert a == rules.chain_prefix("uid-a") and a != b
    assert re.fullmatch(r"TK[A-Z2-7]{6}", a)
    assert rules.owned(f"{a}-SERVICES", a) and not rules.owned(f"{b}-SERVICES", a)
    assert rules.owned(f"{b}-SERVICES", None) and not rules.owned("DOCKER", None)
    assert not rules.owned("KUBE-SERVICES", None)


def test_jumps_name_the_cluster_and_come_from_the_built_in_chains() -> None:
    found = {(j.table, j.chain, j.args[-1]) for j in rules.jumps(OPTS)}
    assert ("nat", "PREROUTING", "TKABCDEF-SERVICES") in found
    assert ("nat", "OUTPUT", "TKABCDEF-SERVICES") in found
    assert ("nat", "POSTROUTING", "TKABCDEF-POSTROUTING") in found
    assert ("filter", "FORWARD", "TKABCDEF-SERVICES") in found
    assert ("filter", "INPUT", "TKABCDEF-FIREWALL") in found
    assert all("tinykube c-1" in " ".join(j.args) for j in rules.jumps(OPTS))


SAVED = """# Generated by iptables-save
*filter
:INPUT ACCEPT [0:0]
:DOCKER - [0:0]
:TKABCDEF-SERVICES - [0:0]
-A INPUT -m comment --comment "tinykube c-1 block incoming localnet" -j TKABCDEF-FIREWALL
-A FORWARD -j DOCKER
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:TKABCDEF-SERVICES - [0:0]
:TKABCDEF-SVC-AAAAAAAAAAAAAAA - [0:0]
:TKZZZZZZ-SERVICES - [0:0]
-A PREROUTING -m comment --comment "tinykube c-1 service portals" -j TKABCDEF-SERVICES
-A PREROUTING -m comment --comment "tinykube c-2 service portals" -j TKZZZZZZ-SERVICES
-A TKABCDEF-SERVICES -j TKABCDEF-SVC-AAAAAAAAAAAAAAA
COMMIT
"""


def test_removal_deletes_only_this_clusters_jumps_and_chains() -> None:
    chains = rules.parse_chains(SAVED)
    assert chains["nat"] == [
        "PREROUTING",
        "TKABCDEF-SERVICES",
        "TKABCDEF-SVC-AAAAAAAAAAAAAAA",
        "TKZZZZZZ-SERVICES",
    ]
    found = rules.jump_lines(SAVED, "TKABCDEF")
    assert found == [
        (
            "filter",
            [
                "INPUT",
                "-m",
                "comment",
                "--comment",
                "tinykube c-1 block incoming localnet",
                "-j",
                "TKABCDEF-FIREWALL",
            ],
        ),
        (
            "nat",
            [
                "PREROUTING",
                "-m",
                "comment",
                "--comment",
                "tinykube c-1 service portals",
                "-j",
                "TKABCDEF-SERVICES",
            ],
        ),
    ]
    text = rules.removal(chains, "TKABCDEF")
    assert "-X TKABCDEF-SERVICES" in text and "-X TKABCDEF-SVC-AAAAAAAAAAAAAAA" in text
    assert "TKZZZZZZ" not in text and "DOCKER" not in text
    everything = rules.removal(chains, None)
    assert "-X TKZZZZZZ-SERVICES" in everything and "DOCKER" not in everything
    assert len(rules.jump_lines(SAVED, None)) == 3


def test_endpoint_conditions_default_as_the_api_says() -> None:
    sp = ServicePort("default", "web", "http", "TCP", "10.96.0.20", 80)
    s = eps("10.0.0.1")
    s["endpoints"][0]["conditions"] = {}
    assert model.endpoints_of(sp, [s]) == [Endpoint("10.0.0.1", 8080, node="n1")]
    s["endpoints"][0]["conditions"] = {"ready": False}
    [e] = model.endpoints_of(sp, [s])
    assert not e.ready and not e.serving and not e.terminating


def test_a_cluster_ip_held_by_this_host_without_endpoints_is_left_to_its_listener() -> None:
    dns = svc("kube-dns", "kube-system", clusterIP="10.96.0.10",
              ports=[{"name": "dns", "port": 53, "protocol": "UDP"}])  # fmt: skip
    opts = rules.Options(prefix="TKABCDEF", local_ips=frozenset({"10.96.0.10", "127.0.0.1"}))
    assert "REJECT" not in ruleset([dns], [], opts)
    assert '"kube-system/kube-dns:dns has no endpoints"' in ruleset([dns], [])
    # With endpoints, the Service's rules apply as anywhere.
    slice_ = eps("10.0.0.1", name="kube-dns", port=53, port_name="dns")
    slice_["metadata"]["namespace"] = "kube-system"
    slice_["ports"][0]["protocol"] = "UDP"
    assert "-j DNAT --to-destination 10.0.0.1:53" in ruleset([dns], [slice_], opts)
