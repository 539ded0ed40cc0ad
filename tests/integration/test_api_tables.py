"""Server-side printing over HTTP: the Table answers ``kubectl get`` asks for, on lists, single
objects, writes and watches, and the negotiation between a Table, plain JSON and 406."""

from __future__ import annotations

import json
from typing import Any

import yaml

from control.redis_store import RedisStore
from tests.integration.conftest import Api, pod_manifest

PODS = "/api/v1/namespaces/default/pods"
DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"
KUBECTL_GET = (
    "application/json;as=Table;v=v1;g=meta.k8s.io,"
    "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
)


def get(api: Api, path: str, accept: str, **query: Any) -> tuple[int, Any, str]:
    resp = api.client.get(path, headers={**api.headers, "Accept": accept}, query_string=query)
    body = resp.get_data(as_text=True)
    data = yaml.safe_load(body) if resp.mimetype == "application/yaml" else json.loads(body)
    return resp.status_code, data, resp.mimetype


def deployment(name: str) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels},
                         "spec": {"containers": [{"name": "web", "image": "tinykube/web:1"}]}},
        },
    }  # fmt: skip


def test_list_as_table(api: Api) -> None:
    api.call("POST", PODS, pod_manifest("a"))
    api.call("POST", PODS, pod_manifest("b"))
    code, table, _ = get(api, PODS, KUBECTL_GET)
    assert code == 200
    assert (table["kind"], table["apiVersion"]) == ("Table", "meta.k8s.io/v1")
    plain = api.call("GET", PODS)[1]
    assert table["metadata"]["resourceVersion"] == plain["metadata"]["resourceVersion"]
    assert [c["name"] for c in table["columnDefinitions"]][:5] == [
        "Name", "Ready", "Status", "Restarts", "Age",
    ]  # fmt: skip
    assert [r["cells"][:4] for r in table["rows"]] == [
        ["a", "0/1", "Pending", "0"],
        ["b", "0/1", "Pending", "0"],
    ]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    assert table["rows"][0]["object"]["metadata"]["uid"] == plain["items"][0]["metadata"]["uid"]


def test_one_object_as_table_with_include_object(api: Api) -> None:
    api.call("POST", PODS, pod_manifest("a"))
    accept = "application/json;as=Table;v=v1beta1;g=meta.k8s.io"
    code, table, _ = get(api, f"{PODS}/a", accept, includeObject="Object")
    assert code == 200
    assert table["apiVersion"] == "meta.k8s.io/v1beta1"
    (row,) = table["rows"]
    assert row["cells"][0] == "a"
    assert row["object"]["kind"] == "Pod"
    assert row["object"]["spec"]["containers"][0]["image"] == "tinykube/web:1"
    code, table, _ = get(api, f"{PODS}/a", accept, includeObject="None")
    assert table["rows"][0]["object"] is None
    code, status, _ = get(api, f"{PODS}/a", accept, includeObject="Everything")
    assert (code, status["reason"]) == (400, "BadRequest")
    assert "includeObject" in status["message"]


def test_workload_tables(api: Api) -> None:
    api.call("POST", DEPLOYS, deployment("web"))
    _, table, _ = get(api, DEPLOYS, KUBECTL_GET)
    assert [c["name"] for c in table["columnDefinitions"]][:5] == [
        "Name", "Ready", "Up-to-date", "Available", "Age",
    ]  # fmt: skip
    assert table["rows"][0]["cells"][:4] == ["web", "0/2", 0, 0]
    _, nodes, _ = get(api, "/api/v1/nodes", KUBECTL_GET)
    assert [c["name"] for c in nodes["columnDefinitions"]][:5] == [
        "Name", "Status", "Roles", "Age", "Version",
    ]  # fmt: skip
    _, leases, _ = get(api, "/apis/coordination.k8s.io/v1/leases", KUBECTL_GET)
    assert [c["name"] for c in leases["columnDefinitions"]] == ["Name", "Holder", "Age"]


def test_endpoints_without_table_fall_back_or_refuse(api: Api) -> None:
    api.call("POST", DEPLOYS, deployment("web"))
    code, scale, _ = get(api, f"{DEPLOYS}/web/scale", KUBECTL_GET)
    assert (code, scale["kind"]) == (200, "Scale")
    code, status, _ = get(
        api, f"{DEPLOYS}/web/scale", "application/json;as=Table;v=v1;g=meta.k8s.io"
    )
    assert (code, status["reason"]) == (406, "NotAcceptable")
    assert status["message"] == (
        "only the following media types are accepted: application/json, application/yaml"
    )


def test_unknown_transformations_and_media_types(api: Api) -> None:
    api.call("POST", PODS, pod_manifest("a"))
    code, obj, _ = get(api, f"{PODS}/a", "application/json;as=Foo;v=v1;g=meta.k8s.io,*/*")
    assert (code, obj["kind"]) == (200, "Pod")
    code, status, _ = get(api, f"{PODS}/a", "application/json;as=Table;v=v2;g=meta.k8s.io")
    assert (code, status["code"]) == (406, 406)
    code, status, _ = get(api, f"{PODS}/a", "application/vnd.kubernetes.protobuf")
    assert code == 406
    code, obj, mimetype = get(api, f"{PODS}/a", "application/yaml")
    assert (code, mimetype, obj["metadata"]["name"]) == (200, "application/yaml", "a")


def test_writes_answer_in_the_negotiated_form(api: Api) -> None:
    resp = api.client.post(
        PODS,
        headers={**api.headers, "Accept": KUBECTL_GET},
        json=pod_manifest("a"),
    )
    assert resp.status_code == 201
    assert resp.get_json()["kind"] == "Table"
    assert resp.get_json()["rows"][0]["cells"][0] == "a"


def watch_tables(api: Api, n: int, **query: Any) -> list[dict[str, Any]]:
    resp = api.client.get(
        PODS,
        headers={**api.headers, "Accept": KUBECTL_GET},
        query_string={"watch": "true", "timeoutSeconds": "2", **query},
    )
    assert resp.status_code == 200
    out: list[dict[str, Any]] = []
    for chunk in resp.response:  # type: ignore[attr-defined]
        text = chunk.decode() if isinstance(chunk, bytes) else chunk
        out.extend(json.loads(line) for line in text.splitlines() if line.strip())
        if len(out) >= n:
            break
    resp.close()
    return [e for e in out if e["type"] != "BOOKMARK"]


def test_watch_events_are_one_row_tables_with_headers_once(api: Api) -> None:
    rv = api.call("GET", PODS)[1]["metadata"]["resourceVersion"]
    api.call("POST", PODS, pod_manifest("a"))
    api.call(
        "PATCH",
        f"{PODS}/a",
        {"metadata": {"labels": {"x": "y"}}},
        content_type="application/merge-patch+json",
    )
    api.call("DELETE", f"{PODS}/a")
    got = watch_tables(api, 3, resourceVersion=rv)
    assert [e["type"] for e in got] == ["ADDED", "MODIFIED", "DELETED"]
    assert all(e["object"]["kind"] == "Table" for e in got)
    assert all(len(e["object"]["rows"]) == 1 for e in got)
    assert got[0]["object"]["columnDefinitions"][0]["name"] == "Name"
    assert [e["object"]["columnDefinitions"] for e in got[1:]] == [None, None]
    revisions = [e["object"]["metadata"]["resourceVersion"] for e in got]
    assert revisions == sorted(revisions, key=int) and len(set(revisions)) == 3


def test_expired_watch_error_stays_a_status(api: Api, store: RedisStore) -> None:
    store.history = 10
    for i in range(260):
        api.call("POST", PODS, pod_manifest(f"p{i}"))
    got = watch_tables(api, 1, resourceVersion="1")
    assert got[0]["type"] == "ERROR"
    assert (got[0]["object"]["kind"], got[0]["object"]["code"]) == ("Status", 410)
