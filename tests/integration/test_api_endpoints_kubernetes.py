"""The ``kubernetes`` Service's Endpoints and EndpointSlice, written at API server start."""

from __future__ import annotations

from typing import Any

import pytest

from common.resources import must
from control.flags import parse_args
from control.registry import apiendpoints
from control.registry.apiendpoints import advertise_address, ensure_api_endpoints
from control.registry.registry import Registry

ENDPOINTS, SLICES = must("endpoints"), must("endpointslices")


@pytest.fixture
def registry(app: Any) -> Registry:
    return app.extensions["tinykube"]["registry"]


def test_written_as_kube_apiserver_writes_them(registry: Registry) -> None:
    ensure_api_endpoints(registry, "192.168.1.10", 6443)
    ep = registry.get(ENDPOINTS, "default", "kubernetes")
    assert ep["metadata"]["labels"] == {"endpointslice.kubernetes.io/skip-mirror": "true"}
    https = [{"name": "https", "port": 6443, "protocol": "TCP"}]
    assert ep["subsets"] == [{"addresses": [{"ip": "192.168.1.10"}], "ports": https}]
    s = registry.get(SLICES, "default", "kubernetes")
    assert s["metadata"]["labels"] == {"kubernetes.io/service-name": "kubernetes"}
    assert s["addressType"] == "IPv4"
    assert s["endpoints"] == [{"addresses": ["192.168.1.10"], "conditions": {"ready": True}}]
    assert s["ports"] == [{"name": "https", "port": 6443, "protocol": "TCP"}]


def test_again_changes_nothing_and_a_new_address_replaces_the_old(registry: Registry) -> None:
    ensure_api_endpoints(registry, "192.168.1.10", 6443)
    before = registry.get(SLICES, "default", "kubernetes")["metadata"]["resourceVersion"]
    ensure_api_endpoints(registry, "192.168.1.10", 6443)
    assert registry.get(SLICES, "default", "kubernetes")["metadata"]["resourceVersion"] == before
    ensure_api_endpoints(registry, "10.0.0.7", 7443)
    ep = registry.get(ENDPOINTS, "default", "kubernetes")
    assert ep["subsets"][0]["addresses"] == [{"ip": "10.0.0.7"}]
    assert ep["subsets"][0]["ports"][0]["port"] == 7443
    s = registry.get(SLICES, "default", "kubernetes")
    assert s["endpoints"][0]["addresses"] == ["10.0.0.7"]
    ensure_api_endpoints(registry, "fd00::7", 6443)
    assert registry.get(SLICES, "default", "kubernetes")["addressType"] == "IPv6"


def test_a_refused_address_writes_nothing(registry: Registry) -> None:
    ensure_api_endpoints(registry, "127.0.0.1", 6443)  # endpoints may not be loopback
    ensure_api_endpoints(registry, None, 6443)
    assert registry.list(ENDPOINTS, "default")["items"] == []
    assert registry.list(SLICES, "default")["items"] == []


def test_the_advertised_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(apiendpoints, "host_address", lambda: "192.168.1.20")
    assert advertise_address("10.1.2.3", "127.0.0.1") == "10.1.2.3"
    assert advertise_address(None, "192.168.1.5") == "192.168.1.5"
    assert advertise_address(None, "127.0.0.1") == "192.168.1.20"
    assert advertise_address(None, "0.0.0.0") == "192.168.1.20"
    assert parse_args(["--advertise-address", "10.1.2.3"]).advertise_address == "10.1.2.3"
    with pytest.raises(SystemExit):
        parse_args(["--advertise-address", "not-an-ip"])
