"""Pods' resolv.conf as the kubelet forms it, per dnsPolicy and dnsConfig, and the upstreams the
cluster DNS server forwards to."""

from __future__ import annotations

from typing import Any

from agent import podspec
from agent.resolvconf import (
    PodDns,
    ResolvConf,
    fit_limits,
    parse,
    pod_dns,
    upstreams,
)

HOST = parse(
    "# generated\n"
    "nameserver 192.0.2.53\n"
    "nameserver 127.0.0.53 ; a stub\n"
    "search corp.example lab.example\n"
    "options edns0 timeout:2\n"
)
CLUSTER_DNS = ("10.96.0.10",)


def pod(ns: str = "shop", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "web", "namespace": ns, "uid": "u1"}, "spec": spec}


def test_parse_keeps_every_nameserver_and_the_last_search_and_options() -> None:
    assert (
        ResolvConf(
            ("192.0.2.53", "127.0.0.53"), ("corp.example", "lab.example"), ("edns0", "timeout:2")
        )
        == HOST
    )
    assert parse("search a\nsearch b c. .\n").searches == ("b", "c")
    assert parse("domain x.example\n").searches == ()  # the kubelet reads no domain line
    assert parse("options ndots:2 rotate\noptions ndots:3\n").options == ("ndots:3", "rotate")


def test_cluster_first_is_the_default() -> None:
    got = pod_dns(pod(), HOST, CLUSTER_DNS)
    assert got.warnings == ()
    assert got.config is not None
    assert got.config.render() == (
        "nameserver 10.96.0.10\n"
        "search shop.svc.cluster.local svc.cluster.local cluster.local corp.example lab.example\n"
        "options ndots:5\n"
    )


def test_cluster_first_with_another_domain_omits_duplicate_searches() -> None:
    host = parse("nameserver 192.0.2.53\nsearch tiny.test\n")
    got = pod_dns(pod(), host, CLUSTER_DNS, "tiny.test")
    assert got.config is not None
    assert got.config.searches == ("shop.svc.tiny.test", "svc.tiny.test", "tiny.test")


HOST_FILE = ResolvConf(("192.0.2.53",), ("corp.example", "lab.example"), ("edns0", "timeout:2"))


def test_host_network_pods_use_the_host_unless_cluster_first_with_host_net() -> None:
    assert pod_dns(pod(hostNetwork=True), HOST, CLUSTER_DNS) == PodDns(HOST_FILE)
    got = pod_dns(pod(hostNetwork=True, dnsPolicy="ClusterFirstWithHostNet"), HOST, CLUSTER_DNS)
    assert got.config is not None and got.config.nameservers == CLUSTER_DNS
    # without hostNetwork, ClusterFirstWithHostNet is ClusterFirst
    assert pod_dns(pod(dnsPolicy="ClusterFirstWithHostNet"), HOST, CLUSTER_DNS) == pod_dns(
        pod(), HOST, CLUSTER_DNS
    )


def test_default_policy_is_the_resolv_conf_file_less_loopback() -> None:
    assert pod_dns(pod(dnsPolicy="Default"), HOST, CLUSTER_DNS) == PodDns(HOST_FILE)
    # nothing a container can reach: the engine's own fallback, as Docker does
    stub = parse("nameserver 127.0.0.53\n")
    assert pod_dns(pod(dnsPolicy="Default"), stub, CLUSTER_DNS) == PodDns(None)


def test_default_policy_with_dns_config_starts_from_the_host_minus_loopback() -> None:
    got = pod_dns(
        pod(dnsPolicy="Default", dnsConfig={"nameservers": ["192.0.2.54"]}), HOST, CLUSTER_DNS
    )
    assert got.config == ResolvConf(
        ("192.0.2.53", "192.0.2.54"), ("corp.example", "lab.example"), ("edns0", "timeout:2")
    )


def test_none_policy_takes_only_dns_config() -> None:
    config = {
        "nameservers": ["192.0.2.1", "192.0.2.1"],
        "searches": ["my.dns.search.suffix"],
        "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}],
    }
    got = pod_dns(pod(dnsPolicy="None", dnsConfig=config), HOST, CLUSTER_DNS)
    assert got.config == ResolvConf(("192.0.2.1",), ("my.dns.search.suffix",), ("ndots:2", "edns0"))


def test_dns_config_is_appended_to_cluster_first_and_the_pods_options_win() -> None:
    config = {
        "nameservers": ["10.96.0.10", "192.0.2.9"],
        "searches": ["svc.cluster.local", "extra.example"],
        "options": [{"name": "ndots", "value": "1"}, {"name": "single-request"}],
    }
    got = pod_dns(pod(dnsConfig=config), parse("nameserver 192.0.2.53\n"), CLUSTER_DNS)
    assert got.config == ResolvConf(
        ("10.96.0.10", "192.0.2.9"),
        ("shop.svc.cluster.local", "svc.cluster.local", "cluster.local", "extra.example"),
        ("ndots:1", "single-request"),
    )


def test_missing_cluster_dns_falls_back_to_default_with_the_kubelets_event() -> None:
    got = pod_dns(pod(), HOST, ())
    assert got.config == HOST_FILE
    ((reason, message),) = got.warnings
    assert reason == "MissingClusterDNS"
    assert message == (
        'pod: "web_shop(u1)". kubelet does not have ClusterDNS IP configured and cannot create '
        'Pod using "ClusterFirst" policy. Falling back to "Default" policy.'
    )


def test_limits_cut_nameservers_and_searches_with_events() -> None:
    conf = ResolvConf(
        ("1.1.1.1", "1.1.1.2", "1.1.1.3", "1.1.1.4"),
        (*tuple(f"s{i}.example" for i in range(40)), "x" * 254),
    )
    fitted, warnings = fit_limits(conf)
    assert fitted.nameservers == ("1.1.1.1", "1.1.1.2", "1.1.1.3")
    assert len(fitted.searches) == 32 and "x" * 254 not in fitted.searches
    assert [r for r, _ in warnings] == ["DNSConfigForming", "DNSConfigForming"]
    assert warnings[0][1] == (
        "Nameserver limits were exceeded, some nameservers have been omitted, "
        "the applied nameserver line is: 1.1.1.1 1.1.1.2 1.1.1.3"
    )
    assert warnings[1][1].startswith("Search Line limits were exceeded, some search paths")
    assert fit_limits(ResolvConf(("1.1.1.1",), ("a",))) == (ResolvConf(("1.1.1.1",), ("a",)), [])
    # 2048 characters at most: paths cut from the end
    long = tuple(f"{i:02d}" + "x" * 68 for i in range(32))
    fitted, warnings = fit_limits(ResolvConf(("1.1.1.1",), long))
    assert fitted.searches == long[:28] and len(" ".join(fitted.searches)) <= 2048
    assert [r for r, _ in warnings] == ["DNSConfigForming"]


def test_upstreams_skip_the_cluster_dns_and_see_through_a_loopback_stub() -> None:
    assert upstreams(HOST, None, {"10.96.0.10"}) == ["192.0.2.53", "127.0.0.53"]
    stub = parse("nameserver 127.0.0.53\n")
    resolved = parse("nameserver 192.0.2.7\nnameserver 192.0.2.8\n")
    assert upstreams(stub, resolved, set()) == ["192.0.2.7", "192.0.2.8"]
    # the server runs on the host, so a loopback resolver with nothing behind it is still used
    assert upstreams(stub, None, set()) == ["127.0.0.53"]
    assert upstreams(parse("nameserver 10.96.0.10\n"), None, {"10.96.0.10"}) == []


def test_sandbox_carries_the_dns_settings_to_docker() -> None:
    p = {"metadata": {"name": "web", "namespace": "shop", "uid": "u1"}, "spec": {}}
    conf = pod_dns(p, parse("nameserver 192.0.2.53\n"), CLUSTER_DNS).config
    spec = podspec.sandbox_spec(p, 0, "n1", "c1", dns=conf)
    kwargs = podspec.docker_create_kwargs(spec)
    assert kwargs["dns"] == ["10.96.0.10"]
    assert kwargs["dns_search"] == ["shop.svc.cluster.local", "svc.cluster.local", "cluster.local"]
    assert kwargs["dns_opt"] == ["ndots:5"]
    # no search paths at all: "." keeps Docker from copying the host's
    bare = podspec.sandbox_spec(p, 0, "n1", "c1", dns=ResolvConf(("192.0.2.1",)))
    assert podspec.docker_create_kwargs(bare)["dns_search"] == ["."]
    # the engine's default (the host's file) when there is nothing to say
    plain = podspec.docker_create_kwargs(podspec.sandbox_spec(p, 0, "n1", "c1"))
    assert not {"dns", "dns_search", "dns_opt"} & set(plain)
