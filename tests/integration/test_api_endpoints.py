"""EndpointSlices and Endpoints over the real API server and Redis: discovery, defaults,
validation messages (nothing stored on bad input), generation, and kubectl's table columns."""

from __future__ import annotations

from typing import Any

from tests.integration.conftest import Api
from tests.integration.test_api_tables import KUBECTL_GET, get

SLICES = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"
ENDPOINTS = "/api/v1/namespaces/default/endpoints"


def endpoint_slice(name: str = "web-abcde", **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": name, "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.244.0.5"], "conditions": {"ready": True}}],
        "ports": [{"port": 8080}],
    }
    body.update(fields)
    return body


def endpoints(name: str = "web", **fields: Any) -> dict[str, Any]:
    subsets = [{"addresses": [{"ip": "10.244.0.5"}], "ports": [{"port": 8080}]}]
    return {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name},
            "subsets": fields.get("subsets", subsets)}  # fmt: skip


def test_discovery_lists_both_kinds(api: Api) -> None:
    code, doc = api.call("GET", "/apis/discovery.k8s.io/v1")
    assert code == 200
    [found] = [r for r in doc["resources"] if r["name"] == "endpointslices"]
    assert found["kind"] == "EndpointSlice" and found["namespaced"] is True
    assert "shortNames" not in found or found["shortNames"] == []
    code, doc = api.call("GET", "/api/v1")
    [found] = [r for r in doc["resources"] if r["name"] == "endpoints"]
    assert found["kind"] == "Endpoints" and found["shortNames"] == ["ep"]


def test_create_defaults_ports_and_counts_generations(api: Api) -> None:
    code, obj = api.call("POST", SLICES, endpoint_slice())
    assert code == 201, obj
    assert obj["ports"] == [{"name": "", "protocol": "TCP", "port": 8080}]
    assert obj["metadata"]["generation"] == 1
    obj["endpoints"][0]["conditions"]["ready"] = False
    code, updated = api.call("PUT", f"{SLICES}/web-abcde", obj)
    assert code == 200, updated
    assert updated["metadata"]["generation"] == 2
    updated["metadata"]["annotations"] = {"note": "x"}
    code, again = api.call("PUT", f"{SLICES}/web-abcde", updated)
    assert code == 200 and again["metadata"]["generation"] == 2
    code, obj = api.call("POST", ENDPOINTS, endpoints())
    assert code == 201, obj
    assert obj["subsets"][0]["ports"] == [{"port": 8080, "protocol": "TCP"}]


def test_invalid_endpoint_slices_get_kubernetes_messages(api: Api) -> None:
    body = endpoint_slice(
        addressType="IPv4",
        endpoints=[{"addresses": ["127.0.0.1"]}, {"addresses": []}],
        ports=[{"name": "Bad_Name", "port": 80}, {"port": 81, "protocol": "ICMP"}],
    )
    code, status = api.call("POST", SLICES, body)
    assert code == 422, status
    assert status["message"] == (
        'EndpointSlice.discovery.k8s.io "web-abcde" is invalid: ['
        'endpoints[0].addresses[0]: Invalid value: "127.0.0.1": may not be in the loopback '
        "range (127.0.0.0/8, ::1/128), "
        "endpoints[1].addresses: Required value: must contain at least 1 address, "
        'ports[0].name: Invalid value: "Bad_Name": a lowercase RFC 1123 label must consist of '
        "lower case alphanumeric characters or '-', and must start and end with an alphanumeric "
        "character (e.g. 'my-name',  or '123-abc', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?'), "
        'ports[1].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"]'
    )
    assert {c["field"] for c in status["details"]["causes"]} >= {"endpoints[1].addresses"}
    code, status = api.call("POST", SLICES, endpoint_slice(addressType="IP"))
    assert code == 422
    assert status["details"]["causes"][0]["field"] == "addressType"
    too_many = [{"addresses": ["10.244.0.1"]}] * 1001
    code, status = api.call("POST", SLICES, endpoint_slice(endpoints=too_many))
    assert code == 422
    assert "endpoints: Too many: 1001: must have at most 1000 items" in status["message"]
    code, body = api.call("GET", SLICES)
    assert code == 200 and body["items"] == []


def test_address_type_is_immutable_and_unknown_fields_are_refused(api: Api) -> None:
    code, obj = api.call("POST", SLICES, endpoint_slice())
    assert code == 201
    obj["addressType"] = "FQDN"
    obj["endpoints"] = [{"addresses": ["web.example.com"]}]
    code, status = api.call("PUT", f"{SLICES}/web-abcde", obj)
    assert code == 422
    assert 'addressType: Invalid value: "FQDN": field is immutable' in status["message"]
    code, status = api.call("POST", SLICES, endpoint_slice(name="x", spec={}))
    assert code == 400
    assert 'unknown field "spec"' in status["message"]


def test_invalid_endpoints_get_kubernetes_messages(api: Api) -> None:
    subsets = [
        {"addresses": [{"ip": "not-an-ip"}],
         "ports": [{"port": 0}, {"name": "b", "port": 81}]},
        {"ports": [{"port": 80}]},
    ]  # fmt: skip
    code, status = api.call("POST", ENDPOINTS, endpoints(subsets=subsets))
    assert code == 422, status
    fields = [c["field"] for c in status["details"]["causes"]]
    assert fields == [
        "subsets[0].addresses[0].ip",
        "subsets[0].ports[0].name",
        "subsets[0].ports[0].port",
        "subsets[1]",
    ]
    assert status["details"]["causes"][3]["message"] == (
        "Required value: must specify `addresses` or `notReadyAddresses`"
    )
    assert api.call("GET", ENDPOINTS)[1]["items"] == []


def test_kubectl_get_columns(api: Api) -> None:
    four = [{"ip": f"10.244.0.{i}"} for i in range(5, 9)]
    api.call("POST", ENDPOINTS, endpoints(subsets=[{"addresses": four, "ports": [{"port": 80}]}]))
    code, table, _ = get(api, ENDPOINTS, KUBECTL_GET)
    assert code == 200
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Endpoints", "Age"]
    assert table["rows"][0]["cells"][:2] == [
        "web",
        "10.244.0.5:80,10.244.0.6:80,10.244.0.7:80 + 1 more...",
    ]
    api.call("POST", SLICES, endpoint_slice())
    code, table, _ = get(api, SLICES, KUBECTL_GET)
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name", "AddressType", "Ports", "Endpoints", "Age",
    ]  # fmt: skip
    assert table["rows"][0]["cells"][:4] == ["web-abcde", "IPv4", "8080", "10.244.0.5"]


def test_every_endpoints_request_is_warned_of_the_deprecation(api: Api) -> None:
    warning = '299 - "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"'
    resp = api.client.post(ENDPOINTS, json=endpoints(), headers=api.headers)
    assert resp.status_code == 201 and resp.headers.getlist("Warning") == [warning]
    for path in (ENDPOINTS, f"{ENDPOINTS}/web"):
        resp = api.client.get(path, headers=api.headers)
        assert resp.status_code == 200 and resp.headers.getlist("Warning") == [warning]
    resp = api.client.get(SLICES, headers=api.headers)
    assert resp.headers.getlist("Warning") == []
