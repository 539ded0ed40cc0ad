"""ClusterIPs and node ports over the real API server and Redis: picked from the ranges, asked
for and refused with kube-apiserver's messages, freed when a Service goes (a namespace deletion
too) or no longer needs them, and never handed out twice by two API servers at once."""

from __future__ import annotations

import ipaddress
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from common.resources import must
from control.apiserver.app import ServerConfig, create_app
from control.apiserver.auth import TokenAuthenticator, User
from control.redis_store import RedisStore
from control.registry.allocation import ServiceRanges
from tests.integration.conftest import ADMIN_TOKEN, Api, serve
from tests.integration.informerpump import drain, pump
from tests.integration.test_api_services import SVCS, create, service
from tests.integration.test_collectors import Collectors

RANGE = ipaddress.ip_network("10.96.0.0/12")


def ips(store: RedisStore) -> set[str]:
    return store.claimed("serviceips")


def test_cluster_ip_is_picked_from_the_upper_band(api: Api, store: RedisStore) -> None:
    obj = create(api, service())
    ip = obj["spec"]["clusterIP"]
    assert obj["spec"]["clusterIPs"] == [ip]
    addr = ipaddress.ip_address(ip)
    assert addr in RANGE
    # The first 256 addresses are kept for static choices (kubernetes, kube-dns).
    assert int(addr) - int(RANGE.network_address) > 256
    assert ips(store) == {ip}


def test_node_ports_are_picked_and_kept_by_protocol(api: Api, store: RedisStore) -> None:
    ports = [{"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "tcp", "port": 53,
             "protocol": "TCP", "nodePort": 30053}]  # fmt: skip
    obj = create(api, service(type="NodePort", ports=ports))
    picked = obj["spec"]["ports"][0]["nodePort"]
    assert 30000 <= picked <= 32767 and picked != 30053
    assert store.claimed("nodeports") == {str(picked), "30053"}


def test_requested_values_taken_or_out_of_range_are_refused(api: Api, store: RedisStore) -> None:
    create(api, service("a", type="NodePort", clusterIP="10.96.0.50",
                        ports=[{"port": 80, "nodePort": 30080}]))  # fmt: skip
    cases = [
        (service("b", clusterIP="10.96.0.50"),
         'Service "b" is invalid: spec.clusterIPs: Invalid value: ["10.96.0.50"]: failed to '
         "allocate IP 10.96.0.50: provided IP is already allocated"),
        (service("b", type="NodePort", ports=[{"port": 80, "nodePort": 30080}]),
         'Service "b" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port '
         "is already allocated"),
        (service("b", clusterIP="192.168.0.1"),
         'Service "b" is invalid: spec.clusterIPs: Invalid value: ["192.168.0.1"]: failed to '
         "allocate IP 192.168.0.1: the provided IP (192.168.0.1) is not in the valid range. "
         "The range of valid IPs is 10.96.0.0/12"),
        (service("b", type="NodePort", ports=[{"port": 80, "nodePort": 8080}]),
         'Service "b" is invalid: spec.ports[0].nodePort: Invalid value: 8080: provided port '
         "is not in the valid range. The range of valid ports is 30000-32767"),
    ]  # fmt: skip
    for body, message in cases:
        code, status = api.call("POST", SVCS, body)
        assert code == 422, status
        assert status["message"] == message
    code, _ = api.call("GET", f"{SVCS}/b")
    assert code == 404
    assert ips(store) == {"10.96.0.50"}
    assert store.claimed("nodeports") == {"30080"}


def test_delete_frees_the_values(api: Api, store: RedisStore) -> None:
    create(api, service(type="NodePort", clusterIP="10.96.0.60",
                        ports=[{"port": 80, "nodePort": 30081}]))  # fmt: skip
    code, _ = api.call("DELETE", f"{SVCS}/web")
    assert code == 200
    assert ips(store) == set() and store.claimed("nodeports") == set()
    again = create(api, service("other", type="NodePort", clusterIP="10.96.0.60",
                                ports=[{"port": 80, "nodePort": 30081}]))  # fmt: skip
    assert again["spec"]["clusterIP"] == "10.96.0.60"


def test_type_changes_free_and_allocate(api: Api, store: RedisStore) -> None:
    obj = create(api, service(type="NodePort", ports=[{"port": 80, "nodePort": 30082}]))
    merge = "application/merge-patch+json"
    code, obj = api.call("PATCH", f"{SVCS}/web", {"spec": {"type": "ClusterIP"}},
                         content_type=merge)  # fmt: skip
    assert code == 200, obj
    assert store.claimed("nodeports") == set()
    code, obj = api.call("PATCH", f"{SVCS}/web", {"spec": {"type": "LoadBalancer"}},
                         content_type=merge)  # fmt: skip
    assert code == 200, obj
    assert store.claimed("nodeports") == {str(obj["spec"]["ports"][0]["nodePort"])}
    change = {"spec": {"type": "ExternalName", "externalName": "db.example.com",
                       "clusterIP": "", "clusterIPs": None}}  # fmt: skip
    code, obj = api.call("PATCH", f"{SVCS}/web", change, content_type=merge)
    assert code == 200, obj
    assert "clusterIP" not in obj["spec"] and "nodePort" not in obj["spec"]["ports"][0]
    assert ips(store) == set() and store.claimed("nodeports") == set()


def test_local_load_balancer_gets_a_health_check_port(api: Api, store: RedisStore) -> None:
    obj = create(api, service(type="LoadBalancer", externalTrafficPolicy="Local"))
    health = obj["spec"]["healthCheckNodePort"]
    assert str(health) in store.claimed("nodeports")
    assert len(store.claimed("nodeports")) == 2


def test_headless_and_external_name_hold_nothing(api: Api, store: RedisStore) -> None:
    create(api, service("h", clusterIP="None"))
    create(api, service("e", type="ExternalName", externalName="example.com", ports=None))
    assert ips(store) == set()


def test_namespace_deletion_frees_its_services_values(
    api: Api, app: Any, store: RedisStore
) -> None:
    registry = app.extensions["tinykube"]["registry"]
    world = Collectors(registry)
    code, _ = api.call("POST", "/api/v1/namespaces", {"metadata": {"name": "team"}})
    assert code == 201
    team = "/api/v1/namespaces/team/services"
    code, obj = api.call("POST", team, service(type="NodePort", ports=[{"port": 80}]))
    assert code == 201, obj
    assert len(ips(store)) == 1 and len(store.claimed("nodeports")) == 1
    pump(world.informers)
    registry.delete(must("namespaces"), "", "team", {})
    for _ in range(3):
        world.settle()
        drain(world.namespaces)
    assert ips(store) == set() and store.claimed("nodeports") == set()


def test_two_api_servers_never_hand_out_one_address_twice(
    app: Any, redis_url: str, key_prefix: str
) -> None:
    """50 concurrent creates over HTTP, split over two API servers on one Redis, in a range
    small enough that random picks collide: 50 distinct ClusterIPs."""
    ranges = ServiceRanges(ipaddress.ip_network("10.96.0.0/26"))
    auth = TokenAuthenticator({ADMIN_TOKEN: User("admin", ("system:masters",))})
    stores = [RedisStore(redis_url, prefix=key_prefix) for _ in range(2)]
    apps = [create_app(s, auth, ServerConfig(service_ranges=ranges)) for s in stores]
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with serve(apps[0]) as one, serve(apps[1]) as two:

        def post(i: int) -> tuple[int, Any]:
            url = (one, two)[i % 2] + SVCS
            resp = requests.post(url, json=service(f"s{i}"), headers=headers, timeout=30)
            return resp.status_code, resp.json()

        with ThreadPoolExecutor(max_workers=25) as pool:
            results = list(pool.map(post, range(50)))
    for s in stores:
        s.close()
    assert [code for code, _ in results] == [201] * 50, [b for c, b in results if c != 201][:3]
    picked = [body["spec"]["clusterIP"] for _, body in results]
    assert len(set(picked)) == 50
    assert stores[0].claimed("serviceips") == set(picked)


def test_default_services_are_made_once_and_repaired(app: Any, store: RedisStore) -> None:
    from control.registry.defaultservices import ensure_default_services

    registry = app.extensions["tinykube"]["registry"]
    svcs = must("services")
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda _: ensure_default_services(registry, 6443), range(4)))
    kubernetes = registry.get(svcs, "default", "kubernetes")
    assert kubernetes["spec"]["clusterIP"] == "10.96.0.1"
    assert kubernetes["spec"]["ports"] == [
        {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}
    ]
    assert "selector" not in kubernetes["spec"]
    dns = registry.get(svcs, "kube-system", "kube-dns")
    assert dns["spec"]["clusterIP"] == "10.96.0.10"
    assert [(p["name"], p["port"], p["protocol"]) for p in dns["spec"]["ports"]] == [
        ("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("metrics", 9153, "TCP")]  # fmt: skip
    assert dns["metadata"]["labels"]["kubernetes.io/cluster-service"] == "true"
    assert dns["spec"]["selector"] == {"k8s-app": "kube-dns"}
    assert ips(store) == {"10.96.0.1", "10.96.0.10"}
    ensure_default_services(registry, 7443)  # the API moved: the Service follows
    kubernetes = registry.get(svcs, "default", "kubernetes")
    assert kubernetes["spec"]["ports"][0]["targetPort"] == 7443
    assert kubernetes["spec"]["clusterIP"] == "10.96.0.1"
