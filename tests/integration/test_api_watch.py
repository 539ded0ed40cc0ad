"""Watches over HTTP: ordered events from a resourceVersion, selectors, 410 on compaction."""

from __future__ import annotations

import json
from typing import Any

from control.redis_store import RedisStore
from tests.integration.conftest import Api, pod_manifest

PODS = "/api/v1/namespaces/default/pods"


def events(api: Api, path: str, n: int, **query: Any) -> list[dict[str, Any]]:
    resp = api.client.get(
        path, headers=api.headers, query_string={"watch": "true", "timeoutSeconds": "2", **query}
    )
    assert resp.status_code == 200, resp.get_data()
    out = []
    for line in resp.response:  # type: ignore[attr-defined]
        for part in line.decode().splitlines() if isinstance(line, bytes) else line.splitlines():
            if part.strip():
                event = json.loads(part)
                if event["type"] != "BOOKMARK":
                    out.append(event)
        if len(out) >= n:
            break
    resp.close()
    return out


def test_watch_from_list_revision(api: Api) -> None:
    rv = api.call("GET", PODS)[1]["metadata"]["resourceVersion"]
    _, pod = api.call("POST", PODS, pod_manifest("web"))
    api.call(
        "PATCH",
        f"{PODS}/web",
        {"metadata": {"labels": {"x": "y"}}},
        content_type="application/merge-patch+json",
    )
    api.call("DELETE", f"{PODS}/web")
    got = events(api, PODS, 3, resourceVersion=rv)
    assert [e["type"] for e in got] == ["ADDED", "MODIFIED", "DELETED"]
    assert got[0]["object"]["metadata"]["uid"] == pod["metadata"]["uid"]
    assert got[0]["object"]["kind"] == "Pod"


def test_watch_without_revision_starts_with_current_objects(api: Api) -> None:
    api.call("POST", PODS, pod_manifest("a"))
    api.call("POST", PODS, pod_manifest("b"))
    got = events(api, PODS, 2)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in got] == [
        ("ADDED", "a"),
        ("ADDED", "b"),
    ]


def test_field_selector_watch_sees_pods_entering_and_leaving(api: Api) -> None:
    rv = api.call("GET", PODS)[1]["metadata"]["resourceVersion"]
    api.call("POST", PODS, pod_manifest("web"))
    api.call("POST", f"{PODS}/web/binding", {"target": {"kind": "Node", "name": "node-1"}})
    api.call(
        "PATCH",
        f"{PODS}/web",
        {"metadata": {"labels": {"a": "b"}}},
        content_type="application/merge-patch+json",
    )
    got = events(api, "/api/v1/pods", 2, resourceVersion=rv, fieldSelector="spec.nodeName=node-1")
    assert [e["type"] for e in got] == ["ADDED", "MODIFIED"]
    assert got[0]["object"]["spec"]["nodeName"] == "node-1"
    rv2 = got[1]["object"]["metadata"]["resourceVersion"]
    api.call(
        "PATCH",
        f"{PODS}/web",
        {"metadata": {"labels": {"app": "other"}}},
        content_type="application/merge-patch+json",
    )
    left = events(api, PODS, 1, resourceVersion=rv2, labelSelector="app=web")
    assert [e["type"] for e in left] == ["DELETED"]


def test_watch_from_compacted_revision_gets_410_event(api: Api, store: RedisStore) -> None:
    store.history = 10
    for i in range(260):
        api.call(
            "POST",
            "/api/v1/namespaces/default/events",
            {
                "metadata": {"name": f"e{i}"},
                "involvedObject": {"kind": "Pod", "name": "x"},
                "reason": "R",
                "message": "m",
                "type": "Normal",
            },
        )
    got = events(api, "/api/v1/namespaces/default/events", 1, resourceVersion="1")
    assert got[0]["type"] == "ERROR"
    assert got[0]["object"]["code"] == 410 and got[0]["object"]["reason"] == "Expired"


def test_bad_selector_is_400_before_streaming(api: Api) -> None:
    code, status = api.call("GET", PODS, watch="true", labelSelector="app in (")
    assert code == 400 and status["reason"] == "BadRequest"
    code, status = api.call("GET", PODS, fieldSelector="spec.nope=1")
    assert code == 400 and "field label not supported" in status["message"]
