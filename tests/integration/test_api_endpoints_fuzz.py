"""Hypothesis over the EndpointSlice and Endpoints API, on the real app and a real Redis: valid
manifests with parts replaced by random values. Whatever comes in: never a 5xx, every error a
Status, nothing stored on a 4xx (tests/integration/test_api_fuzz.py's checks)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from control.redis_store import RedisStore
from tests.integration.conftest import Api
from tests.integration.test_api_fuzz import (
    CONTENT_TYPES,
    FUZZ,
    _paths,
    check,
    encode,
    queries,
    text,
    values,
)

NS = "/api/v1/namespaces/default"
SLICES = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"
PATHS = [f"{NS}/endpoints", f"{NS}/endpoints/seed", SLICES, f"{SLICES}/seed"]
SLICE: dict[str, Any] = {
    "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
    "metadata": {"name": "seed", "labels": {"kubernetes.io/service-name": "web"}},
    "addressType": "IPv4",
    "endpoints": [{"addresses": ["10.244.0.5"], "conditions": {"ready": True},
                   "targetRef": {"kind": "Pod", "name": "p"}, "nodeName": "n1",
                   "hints": {"forZones": [{"name": "z"}]}}],
    "ports": [{"name": "http", "port": 8080, "protocol": "TCP", "appProtocol": "http"}],
}  # fmt: skip
ENDPOINTS: dict[str, Any] = {
    "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "seed"},
    "subsets": [{"addresses": [{"ip": "10.244.0.5", "hostname": "h", "nodeName": "n1"}],
                 "notReadyAddresses": [{"ip": "10.244.0.6"}],
                 "ports": [{"name": "a", "port": 80}, {"name": "b", "port": 81}]}],
}  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    base = json.loads(json.dumps(draw(st.sampled_from([SLICE, ENDPOINTS]))))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(base)))
        if not path:
            return draw(values)
        parent = base
        for step in path[:-1]:
            parent = parent[step]
        if isinstance(parent, dict) and draw(st.booleans()):
            parent[draw(text)] = draw(values)
        else:
            parent[path[-1]] = draw(values)
    return base


def seed(api: Api) -> None:
    api.call("POST", SLICES, SLICE)
    api.call("POST", f"{NS}/endpoints", ENDPOINTS)


@FUZZ
@given(
    method=st.sampled_from(["POST", "PUT", "PATCH"]),
    path=st.sampled_from(PATHS),
    body=mutated(),
    ctype=st.sampled_from(CONTENT_TYPES),
    query=queries,
)
def test_mutated_endpoint_manifests(
    api: Api, store: RedisStore, method: str, path: str, body: Any, ctype: str,
    query: dict[str, str],
) -> None:  # fmt: skip
    seed(api)
    if ctype == "application/json-patch+json" and isinstance(body, dict):
        body = [{"op": "replace", "path": "/endpoints", "value": body.get("endpoints")}]
    check(api, store, method, path, encode(body, ctype), ctype, query)
