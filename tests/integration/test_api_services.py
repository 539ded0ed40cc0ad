"""core/v1 Services over the real API server and Redis: discovery, defaults, validation
messages, updates that keep or refuse ClusterIP changes, type changes and field selectors."""

from __future__ import annotations

from typing import Any

from tests.integration.conftest import Api

SVCS = "/api/v1/namespaces/default/services"


def service(name: str = "web", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"selector": {"app": name}, "ports": [{"port": 80}]}
    body.update(spec)
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": body}


def create(api: Api, body: dict[str, Any]) -> dict[str, Any]:
    code, obj = api.call("POST", SVCS, body)
    assert code == 201, obj
    return obj


def test_discovery_lists_services(api: Api) -> None:
    code, doc = api.call("GET", "/api/v1")
    assert code == 200
    found = {r["name"]: r for r in doc["resources"]}
    assert found["services"]["shortNames"] == ["svc"]
    assert found["services"]["categories"] == ["all"]
    assert found["services"]["namespaced"] is True
    assert "services/status" in found


def test_create_applies_kubernetes_defaults(api: Api) -> None:
    body = service(ports=[{"port": 80}])
    body["status"] = {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}
    obj = create(api, body)
    spec = obj["spec"]
    assert spec["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80}]
    assert spec["type"] == "ClusterIP"
    assert spec["sessionAffinity"] == "None"
    assert spec["internalTrafficPolicy"] == "Cluster"
    assert spec["ipFamilyPolicy"] == "SingleStack"
    assert spec["ipFamilies"] == ["IPv4"]
    assert "externalTrafficPolicy" not in spec
    assert obj["status"] == {"loadBalancer": {}}


def test_nodeport_and_loadbalancer_defaults(api: Api) -> None:
    np = create(api, service("np", type="NodePort", ports=[{"port": 80, "nodePort": 30080}]))
    assert np["spec"]["externalTrafficPolicy"] == "Cluster"
    lb_body = service("lb", type="LoadBalancer", ports=[{"port": 80, "nodePort": 30081}])
    lb = create(api, lb_body)
    assert lb["spec"]["externalTrafficPolicy"] == "Cluster"
    assert lb["spec"]["allocateLoadBalancerNodePorts"] is True


def test_client_ip_affinity_gets_its_default_timeout(api: Api) -> None:
    obj = create(api, service(sessionAffinity="ClientIP"))
    assert obj["spec"]["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}


def test_headless_services_families(api: Api) -> None:
    with_selector = create(api, service("a", clusterIP="None"))
    assert with_selector["spec"]["clusterIPs"] == ["None"]
    assert with_selector["spec"]["ipFamilyPolicy"] == "SingleStack"
    without = create(api, service("b", clusterIP="None", selector=None))
    assert without["spec"]["ipFamilyPolicy"] == "RequireDualStack"
    assert without["spec"]["ipFamilies"] == ["IPv4", "IPv6"]


def test_external_name_service(api: Api) -> None:
    obj = create(api, service("ext", type="ExternalName", externalName="db.example.com",
                              ports=None, selector=None))  # fmt: skip
    spec = obj["spec"]
    assert spec["externalName"] == "db.example.com"
    for absent in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
        assert absent not in spec
    code, status = api.call(
        "POST", SVCS, service("bad", type="ExternalName", externalName="not a name", ports=None)
    )
    assert code == 422
    assert status["details"]["causes"][0]["field"] == "spec.externalName"
    code, status = api.call("POST", SVCS, service("none", type="ExternalName", ports=None))
    assert code == 422
    assert status["message"] == 'Service "none" is invalid: spec.externalName: Required value'


def test_port_names_are_required_and_unique_when_several(api: Api) -> None:
    code, status = api.call("POST", SVCS, service(ports=[{"port": 80}, {"port": 81}]))
    assert code == 422
    assert status["message"] == (
        'Service "web" is invalid: [spec.ports[0].name: Required value, '
        "spec.ports[1].name: Required value]"
    )
    two = [{"name": "http", "port": 80}, {"name": "http", "port": 81}]
    code, status = api.call("POST", SVCS, service(ports=two))
    assert code == 422
    assert status["message"] == (
        'Service "web" is invalid: spec.ports[1].name: Duplicate value: "http"'
    )


def test_bad_values_are_refused_with_kubernetes_messages(api: Api) -> None:
    cases = [
        (service("Web"), "metadata.name"),
        (service(ports=[]), "spec.ports"),
        (service(ports=[{"port": 70000}]), "spec.ports[0].port"),
        (service(ports=[{"port": 80, "protocol": "HTTP"}]), "spec.ports[0].protocol"),
        (service(ports=[{"port": 80, "targetPort": "not_a_name"}]), "spec.ports[0].targetPort"),
        (service(type="Bogus"), "spec.type"),
        (service(sessionAffinity="Sticky"), "spec.sessionAffinity"),
        (service(clusterIP="10.96.0.300"), "spec.clusterIPs[0]"),
        (service(ports=[{"port": 80, "nodePort": 30000}]), "spec.ports[0].nodePort"),
        (service(type="NodePort", clusterIP="None"), "spec.clusterIPs[0]"),
        (service(externalTrafficPolicy="Local"), "spec.externalTrafficPolicy"),
        (service(internalTrafficPolicy="Nearby"), "spec.internalTrafficPolicy"),
        (service(ipFamilies=["IPv5"]), "spec.ipFamilies[0]"),
        (service(selector={"app": "a b"}), "spec.selector"),
    ]
    for body, field in cases:
        code, status = api.call("POST", SVCS, body)
        assert code == 422, (body, status)
        assert status["reason"] == "Invalid"
        assert field in [c["field"] for c in status["details"]["causes"]], status
    code, listed = api.call("GET", SVCS)
    assert listed["items"] == []


def test_unknown_fields_are_refused(api: Api) -> None:
    code, status = api.call("POST", SVCS, service(clusterIp="10.96.0.9"))
    assert code == 400
    assert 'unknown field "spec.clusterIp"' in status["message"]


def test_cluster_ip_may_not_change_once_set(api: Api) -> None:
    obj = create(api, service(clusterIP="10.96.0.77"))
    assert obj["spec"]["clusterIPs"] == ["10.96.0.77"]
    obj["spec"]["clusterIP"] = "10.96.0.78"
    code, status = api.call("PUT", f"{SVCS}/web", obj)
    assert code == 422
    assert status["message"] == (
        'Service "web" is invalid: spec.clusterIPs[0]: Invalid value: ["10.96.0.78"]: '
        "may not change once set"
    )


def test_update_without_allocated_values_keeps_them(api: Api) -> None:
    obj = create(api, service(type="NodePort", clusterIP="10.96.0.79",
                              ports=[{"port": 80, "nodePort": 30090}]))  # fmt: skip
    fresh = service(type="NodePort", ports=[{"port": 8080}])
    fresh["metadata"]["resourceVersion"] = obj["metadata"]["resourceVersion"]
    code, updated = api.call("PUT", f"{SVCS}/web", fresh)
    assert code == 200, updated
    assert updated["spec"]["clusterIP"] == "10.96.0.79"
    assert updated["spec"]["ports"][0]["nodePort"] == 30090
    assert updated["metadata"]["generation"] == 2


def test_type_change_wipes_what_the_old_type_filled_in(api: Api) -> None:
    create(api, service(type="NodePort", clusterIP="10.96.0.80",
                        ports=[{"port": 80, "nodePort": 30091}]))  # fmt: skip
    patch = {"spec": {"type": "ClusterIP"}}
    code, obj = api.call("PATCH", f"{SVCS}/web", patch, content_type="application/merge-patch+json")
    assert code == 200, obj
    assert "nodePort" not in obj["spec"]["ports"][0]
    assert "externalTrafficPolicy" not in obj["spec"]
    assert obj["spec"]["clusterIP"] == "10.96.0.80"


def test_status_only_through_the_subresource(api: Api) -> None:
    create(api, service(type="LoadBalancer", ports=[{"port": 80, "nodePort": 30092}]))
    code, obj = api.call("GET", f"{SVCS}/web")
    obj["status"] = {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}
    code, updated = api.call("PUT", f"{SVCS}/web", obj)
    assert code == 200
    assert updated["status"] == {"loadBalancer": {}}
    code, updated = api.call("PUT", f"{SVCS}/web/status", obj)
    assert code == 200, updated
    assert updated["status"]["loadBalancer"]["ingress"] == [{"ip": "192.0.2.1"}]


def test_field_selector_on_type(api: Api) -> None:
    create(api, service("a"))
    create(api, service("b", type="NodePort", ports=[{"port": 80, "nodePort": 30093}]))
    code, listed = api.call("GET", SVCS, fieldSelector="spec.type=NodePort")
    assert code == 200
    assert [i["metadata"]["name"] for i in listed["items"]] == ["b"]
    code, status = api.call("GET", SVCS, fieldSelector="spec.ports=80")
    assert code == 400
    assert status["message"] == "field label not supported: spec.ports"


def test_delete_service(api: Api) -> None:
    create(api, service())
    code, _ = api.call("DELETE", f"{SVCS}/web")
    assert code == 200
    code, _ = api.call("GET", f"{SVCS}/web")
    assert code == 404
