"""tkctl's Service builders and describe formatting, table-driven (pure)."""

from __future__ import annotations

import click
import pytest

from common.resources import must
from control.cli.describe_svc import format_endpoints, format_slices
from control.cli.info import service_link
from control.cli.output import CliError
from control.cli.services import build_service, expose_service, parse_tcp


def test_parse_tcp() -> None:
    assert parse_tcp("80") == (80, 80)
    assert parse_tcp("80:8080") == (80, 8080)
    assert parse_tcp("80:http") == (80, "http")
    for bad in ("x", "0", "80:70000", "80:Bad_Name"):
        with pytest.raises(CliError):
            parse_tcp(bad)


def test_build_service_refusals() -> None:
    with pytest.raises(CliError, match="ClusterIP=None can only be used"):
        build_service("NodePort", "x", ["80"], cluster_ip="None")
    headless = build_service("ClusterIP", "x", cluster_ip="None")
    assert headless["spec"] == {"type": "ClusterIP", "selector": {"app": "x"}, "clusterIP": "None"}


def test_expose_a_pod_takes_its_labels_and_ports() -> None:
    pod = {
        "metadata": {"name": "p", "labels": {"app": "p", "tier": "fe"}},
        "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 8080}]}]},
    }
    svc = expose_service(must("pods"), pod, {})
    assert svc["metadata"] == {"name": "p", "labels": {"app": "p", "tier": "fe"}}
    assert svc["spec"] == {
        "selector": {"app": "p", "tier": "fe"},
        "ports": [{"port": 8080, "protocol": "TCP", "targetPort": 8080}],
    }
    with pytest.raises(click.UsageError, match="couldn't find port"):
        expose_service(must("pods"), {"metadata": {"name": "q", "labels": {"a": "b"}}}, {})
    deploy = {
        "metadata": {"name": "d"},
        "spec": {"selector": {"matchExpressions": [{"key": "a", "operator": "Exists"}]}},
    }
    with pytest.raises(CliError, match="map-based selector"):
        expose_service(must("deployments"), deploy, {"port": "80"})


def test_expose_a_port_with_two_protocols() -> None:
    svc = {
        "metadata": {"name": "dns"},
        "spec": {
            "selector": {"k": "v"},
            "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
        },
    }
    out = expose_service(must("services"), svc, {"name": "dns2"})
    assert [(p["name"], p["protocol"]) for p in out["spec"]["ports"]] == [
        ("port-1-udp", "UDP"),
        ("port-1-tcp", "TCP"),
    ]


def test_endpoints_formatting() -> None:
    endpoints = {
        "subsets": [
            {
                "addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}],
                "ports": [{"name": "http", "port": 80}, {"name": "m", "port": 9}],
            }
        ]
    }
    assert format_endpoints(endpoints, "http") == "10.0.0.1:80,10.0.0.2:80"
    assert format_endpoints(None, "http") == "<none>"
    assert format_slices([], "") == "<none>"
    slices = [
        {
            "ports": [{"name": "", "port": 80}],
            "endpoints": [{"addresses": [f"10.0.0.{i}"]} for i in range(5)],
        }
    ]
    assert format_slices(slices, "") == "10.0.0.0:80,10.0.0.1:80,10.0.0.2:80 + 2 more..."


def test_cluster_info_links() -> None:
    api = {
        "metadata": {"name": "kubernetes", "namespace": "default"},
        "spec": {"ports": [{"name": "https", "port": 443}]},
    }
    assert service_link("https://h:6443", api) == (
        "https://h:6443/api/v1/namespaces/default/services/https:kubernetes:https/proxy"
    )
    lb = {
        "metadata": {"name": "x"},
        "spec": {"ports": [{"port": 80}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}},
    }
    assert service_link("https://h", lb) == "http://192.0.2.1:80 "


SVC = {
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {
        "clusterIP": "10.96.0.20",
        "ports": [
            {"name": "http", "port": 80, "targetPort": 8080},
            {"name": "named", "port": 81, "targetPort": "www"},
            {"name": "same", "port": 82},
        ],
    },
}
POD = {
    "metadata": {"name": "web-1"},
    "spec": {"containers": [{"name": "c", "ports": [{"name": "www", "containerPort": 9090}]}]},
}


def test_service_ports_become_the_pods_target_ports_as_kubectl_translates_them() -> None:
    from control.cli.portforward import PortPair, service_port

    assert service_port("80", SVC, POD) == PortPair(80, 8080)  # local: the Service's port
    assert service_port("5000:80", SVC, POD) == PortPair(5000, 8080)
    assert service_port(":80", SVC, POD) == PortPair(0, 8080)
    assert service_port("http", SVC, POD) == PortPair(80, 8080)  # a Service port by name
    assert service_port("5000:http", SVC, POD) == PortPair(5000, 8080)
    assert service_port("81", SVC, POD) == PortPair(81, 9090)  # targetPort by container port name
    assert service_port("82", SVC, POD) == PortPair(82, 82)  # no targetPort: the port itself
    headless = {**SVC, "spec": {**SVC["spec"], "clusterIP": "None"}}
    assert service_port("80", headless, POD) == PortPair(80, 80)


def test_service_port_refusals_name_what_is_missing() -> None:
    from control.cli.portforward import service_port

    with pytest.raises(CliError, match="Service web does not have a service port 90"):
        service_port("90", SVC, POD)
    with pytest.raises(CliError, match="Service 'web' does not have a named port 'nope'"):
        service_port("nope", SVC, POD)
    bare = {"metadata": {"name": "web-2"}, "spec": {"containers": [{"name": "c"}]}}
    with pytest.raises(CliError, match="Pod 'web-2' does not have a named port 'www'"):
        service_port("81", SVC, bare)


def test_a_service_forwards_to_a_ready_endpoint_pod() -> None:
    from control.cli.podpick import pick, ready_endpoints

    def pod(name: str, ready: bool, since: str) -> dict[str, object]:
        cond = {"type": "Ready", "status": "True" if ready else "False",
                "lastTransitionTime": since}  # fmt: skip
        return {"metadata": {"name": name}, "spec": {"nodeName": "n1"},
                "status": {"phase": "Running", "conditions": [cond]}}  # fmt: skip

    slices = [{"endpoints": [
        {"targetRef": {"kind": "Pod", "name": "b"}, "conditions": {"ready": True}},
        {"targetRef": {"kind": "Pod", "name": "a"}, "conditions": {"ready": False}},
        {"targetRef": {"kind": "Pod", "name": "c"}},  # unset: ready
    ]}]  # fmt: skip
    assert ready_endpoints(slices) == {"b", "c"}
    # "a" ranks first (Ready the longest by its pod), but its endpoint is not ready.
    pods = [pod("a", True, "2026-01-01T00:00:00Z"), pod("b", True, "2026-01-02T00:00:00Z"),
            pod("c", True, "2026-01-03T00:00:00Z")]  # fmt: skip
    assert pick(pods, ready_endpoints(slices))["metadata"]["name"] == "b"
    assert pick(pods, set())["metadata"]["name"] == "a"  # no endpoint yet: kubectl's choice
