"""Hypothesis over the HTTP API, on the real app and a real Redis: requests built from valid
manifests with parts replaced by random values, raw bytes, YAML, patches and random query
parameters. Whatever comes in: never a 5xx, every error a Status, nothing stored on a 4xx (the
store's revision does not move)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from control.redis_store import RedisStore
from tests.integration.conftest import Api

NS = "/api/v1/namespaces/default"
PATHS = [f"{NS}/pods", f"{NS}/pods/seed", f"{NS}/pods/seed/status", f"{NS}/pods/seed/binding",
         f"{NS}/events", "/api/v1/nodes", "/api/v1/nodes/n1", "/api/v1/namespaces",
         "/apis/coordination.k8s.io/v1/namespaces/default/leases",
         "/apis/apps/v1/namespaces/default/deployments",
         "/apis/apps/v1/namespaces/default/deployments/d1/scale",
         "/apis/apps/v1/namespaces/default/replicasets"]  # fmt: skip
CONTENT_TYPES = ["application/json", "application/yaml", "application/merge-patch+json",
                 "application/strategic-merge-patch+json", "application/json-patch+json",
                 "text/plain"]  # fmt: skip
PARAMS = ["watch", "timeoutSeconds", "limit", "gracePeriodSeconds", "propagationPolicy",
          "resourceVersion", "fieldValidation", "labelSelector", "fieldSelector", "dryRun",
          "orphanDependents", "allowWatchBookmarks", "pretty", "tailLines"]  # fmt: skip
POD: dict[str, Any] = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "f", "labels": {"app": "f"}, "annotations": {"a": "b"}},
    "spec": {"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80}],
                             "env": [{"name": "A", "value": "b"}]}],
             "tolerations": [{"key": "k", "operator": "Exists"}]},
}  # fmt: skip
DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d1"},
    "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "d"}},
             "template": {"metadata": {"labels": {"app": "d"}}, "spec": POD["spec"]}},
}  # fmt: skip
NODE: dict[str, Any] = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
                        "spec": {"taints": [{"key": "k", "effect": "NoSchedule"}]}}  # fmt: skip
EVENT: dict[str, Any] = {"metadata": {"name": "e"}, "involvedObject": {"namespace": "default"},
                         "reason": "R", "message": "m"}  # fmt: skip

text = st.text(st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ["", "a", "My_Pod", "a\nb", "..", "-1", "1e9", "\x00", "*", "abc", "true", "0", "a/b"]
)
scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | text
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=12,
)


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    """A valid manifest with a few of its parts replaced by (or given) random values."""
    base = json.loads(json.dumps(draw(st.sampled_from([POD, DEPLOYMENT, NODE, EVENT]))))
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


def encode(value: Any, content_type: str) -> bytes:
    if content_type == "application/yaml":
        import yaml

        return yaml.safe_dump(value).encode()
    return json.dumps(value).encode()


raw_bodies = st.binary(max_size=64) | st.sampled_from([
    b"[" * 5000, b'{"a":' * 3000, b'{"metadata": {"name": "x", "name": "y"}}',
    b'\xef\xbb\xbf{}', b'{"a": "\\ud800"}', b"a: &a [*a]", b"{} junk", b"a: !!python/none x",
    b"x0: &a [1,1,1,1,1,1,1,1,1,1]\nx1: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    b"x2: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nx3: [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n",
])  # fmt: skip
queries = st.dictionaries(st.sampled_from(PARAMS), text, max_size=3)


def revision(store: RedisStore) -> int:
    return store.list("pods")[1]


def seed(api: Api) -> None:
    for path, obj in ((f"{NS}/pods", {**POD, "metadata": {"name": "seed"}}),
                      ("/api/v1/nodes", NODE),
                      ("/apis/apps/v1/namespaces/default/deployments", DEPLOYMENT)):  # fmt: skip
        api.call("POST", path, obj)


def check(api: Api, store: RedisStore, method: str, path: str, body: bytes, ctype: str,
          query: dict[str, str]) -> None:  # fmt: skip
    before = revision(store)
    resp = api.client.open(path, method=method, data=body, query_string=query,
                           headers={**api.headers, "Content-Type": ctype})  # fmt: skip
    code = resp.status_code
    status = resp.get_json(silent=True) if code >= 400 else None
    resp.close()
    assert code < 500, (method, path, query, body[:200], status)
    if code >= 400:
        assert isinstance(status, dict) and status.get("kind") == "Status", (code, status)
        assert revision(store) == before, ("stored on a 4xx", method, path, body[:200])


FUZZ = settings(max_examples=150, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])  # fmt: skip


@pytest.fixture
def seeded(api: Api, store: RedisStore) -> tuple[Api, RedisStore]:
    seed(api)
    return api, store


@FUZZ
@given(
    method=st.sampled_from(["POST", "PUT", "PATCH"]),
    path=st.sampled_from(PATHS),
    body=mutated(),
    ctype=st.sampled_from(CONTENT_TYPES),
    query=queries,
)
def test_mutated_manifests(
    seeded: tuple[Api, RedisStore], method: str, path: str, body: Any, ctype: str,
    query: dict[str, str],
) -> None:  # fmt: skip
    api, store = seeded
    if ctype == "application/json-patch+json" and isinstance(body, dict):
        body = [{"op": "replace", "path": "/metadata", "value": body.get("metadata")}]
    check(api, store, method, path, encode(body, ctype), ctype, query)
    seed(api)


@FUZZ
@given(
    method=st.sampled_from(["POST", "PUT", "PATCH", "DELETE", "GET"]),
    path=st.sampled_from(PATHS),
    body=raw_bodies,
    ctype=st.sampled_from(CONTENT_TYPES),
    query=queries,
)
def test_raw_bodies_and_query_parameters(
    seeded: tuple[Api, RedisStore], method: str, path: str, body: bytes, ctype: str,
    query: dict[str, str],
) -> None:  # fmt: skip
    api, store = seeded
    if query.get("watch") and method == "GET":
        query["timeoutSeconds"] = "0"
    check(api, store, method, path, body, ctype, query)
    seed(api)
