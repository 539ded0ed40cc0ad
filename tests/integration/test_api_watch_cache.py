"""The watch cache through the real app on a real Redis: paged lists (limit, continue,
remainingItemCount, 410 for a token older than the cache), consistent reads that see a write
made by another store client, node-bound watches, bookmarks at the cache's revision, and a
watcher that does not keep up being closed."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from common.resources import must
from control.cache import WatchCache, pages
from control.redis_store import RedisStore
from tests.integration.conftest import Api, pod_manifest

PODS = "/api/v1/namespaces/default/pods"


def lines(resp: Any) -> Iterator[dict[str, Any]]:
    for chunk in resp.response:
        for part in chunk.decode().splitlines() if isinstance(chunk, bytes) else chunk.splitlines():
            if part.strip():
                yield json.loads(part)


def names(listing: dict[str, Any]) -> list[str]:
    return [o["metadata"]["name"] for o in listing["items"]]


@pytest.fixture
def other(redis_url: str, key_prefix: str) -> Iterator[RedisStore]:
    """Another client of the same store: what a second API server process writes with."""
    s = RedisStore(redis_url, prefix=key_prefix)
    yield s
    s.close()


def stored_pod(name: str, node: str = "", **labels: str) -> dict[str, Any]:
    obj = pod_manifest(name, **labels)
    obj["metadata"].update(namespace="default", uid=f"uid-{name}")
    if node:
        obj["spec"]["nodeName"] = node
    return obj


def test_a_list_is_paged_at_the_revision_of_its_first_page(api: Api) -> None:
    for name in ("a", "b", "c", "d", "e"):
        assert api.call("POST", PODS, pod_manifest(name))[0] == 201
    code, first = api.call("GET", PODS, limit="2")
    assert code == 200, first
    assert names(first) == ["a", "b"]
    assert first["metadata"]["remainingItemCount"] == 3
    token = first["metadata"]["continue"]
    assert pages.decode(token) == pages.Continue(int(first["metadata"]["resourceVersion"]), "b\x00")
    api.call("DELETE", f"{PODS}/c")
    api.call("POST", PODS, pod_manifest("bb"))
    code, second = api.call("GET", PODS, limit="2", **{"continue": token})
    assert code == 200, second
    assert names(second) == ["c", "d"]  # as they were when the first page was read
    assert second["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    code, last = api.call("GET", PODS, limit="2", **{"continue": second["metadata"]["continue"]})
    assert names(last) == ["e"] and "continue" not in last["metadata"]
    code, web = api.call("GET", "/api/v1/pods", limit="1", labelSelector="app in (a,d)")
    assert names(web) == ["a"] and "remainingItemCount" not in web["metadata"]
    assert pages.decode(web["metadata"]["continue"]).start == "default/a\x00"
    code, rest = api.call("GET", "/api/v1/pods", labelSelector="app in (a,d)",
                          **{"continue": web["metadata"]["continue"]})  # fmt: skip
    assert names(rest) == ["d"]


def test_a_table_page_keeps_its_continue_and_remaining_count(api: Api) -> None:
    for name in ("a", "b", "c"):
        api.call("POST", PODS, pod_manifest(name))
    resp = api.client.get(PODS, query_string={"limit": "1"}, headers={
        **api.headers, "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})  # fmt: skip
    table = resp.get_json()
    assert table["kind"] == "Table" and len(table["rows"]) == 1
    assert table["metadata"]["remainingItemCount"] == 2
    assert pages.decode(table["metadata"]["continue"]).start == "a\x00"


def test_resource_version_zero_ignores_the_limit(api: Api) -> None:
    for name in ("a", "b", "c"):
        api.call("POST", PODS, pod_manifest(name))
    code, listing = api.call("GET", PODS, limit="1", resourceVersion="0")
    assert code == 200 and names(listing) == ["a", "b", "c"]
    assert "continue" not in listing["metadata"]


def test_a_token_older_than_the_cache_is_410_with_one_to_go_on(api: Api) -> None:
    for name in ("a", "b", "c"):
        api.call("POST", PODS, pod_manifest(name))
    assert api.call("GET", PODS)[0] == 200  # the cache starts after those writes
    code, status = api.call("GET", PODS, **{"continue": pages.encode(2, "a\x00")})
    assert code == 410, status
    assert status["reason"] == "Expired"
    assert status["message"].startswith(
        "The provided continue parameter is too old to display a consistent list result."
    )
    inconsistent = status["metadata"]["continue"]
    assert pages.decode(inconsistent) == pages.Continue(-1, "a\x00")
    code, rest = api.call("GET", PODS, **{"continue": inconsistent})
    assert code == 200 and names(rest) == ["b", "c"]


@pytest.mark.parametrize(
    ("query", "code", "message"),
    [
        ({"continue": "%%%"}, 400, "invalid continue token: continue key is not valid"),
        ({"continue": pages.encode(5, "a"), "resourceVersion": "5"}, 400,
         "specifying resource version is not allowed when using continue"),
        ({"continue": pages.encode(5, "a"), "resourceVersion": "5",
          "resourceVersionMatch": "NotOlderThan"}, 422,
         "resourceVersionMatch is forbidden when continue is provided"),
        ({"limit": "-1"}, 400, "limit: Invalid value"),
    ],
)  # fmt: skip
def test_bad_paging_is_refused(api: Api, query: dict[str, str], code: int, message: str) -> None:
    got, status = api.call("GET", PODS, **query)
    assert got == code, status
    assert message in status["message"]


def test_a_consistent_read_sees_what_another_client_just_wrote(api: Api, other: RedisStore) -> None:
    assert api.call("GET", PODS)[0] == 200  # the cache is running
    for i in range(15):
        other.create("pods", stored_pod(f"p{i:02}"))
        other.create("nodes", {"metadata": {"name": f"n{i}"}})  # the revision moves past it
        code, listing = api.call("GET", PODS)
        assert code == 200 and names(listing)[-1] == f"p{i:02}"
        assert int(listing["metadata"]["resourceVersion"]) >= other.revision()
        code, found = api.call("GET", "/api/v1/nodes", resourceVersion=str(other.revision()),
                               resourceVersionMatch="NotOlderThan")  # fmt: skip
        assert code == 200 and f"n{i}" in names(found)


def test_a_watch_from_before_the_cache_started_is_served(api: Api) -> None:
    _, first = api.call("POST", PODS, pod_manifest("first", app="web"))
    api.call("PATCH", f"{PODS}/first", {"metadata": {"labels": {"app": "db"}}},
             content_type="application/merge-patch+json")  # fmt: skip
    api.call("POST", PODS, pod_manifest("second", app="web"))
    resp = api.client.get(PODS, headers=api.headers, query_string={
        "watch": "1", "resourceVersion": first["metadata"]["resourceVersion"],
        "timeoutSeconds": "1", "labelSelector": "app=web"})  # fmt: skip
    got = [(e["type"], e["object"]["metadata"]["name"]) for e in lines(resp)]
    assert got == [("DELETED", "first"), ("ADDED", "second")]


def test_a_node_bound_watch_sees_only_its_node(api: Api, other: RedisStore) -> None:
    rv = api.call("GET", "/api/v1/pods")[1]["metadata"]["resourceVersion"]
    other.create("pods", stored_pod("elsewhere", node="node-2"))
    moving = other.create("pods", stored_pod("moving", node="node-1"))
    other.create("pods", stored_pod("stays", node="node-1"))
    moving["spec"]["nodeName"] = "node-2"
    other.update("pods", moving)
    resp = api.client.get("/api/v1/pods", headers=api.headers, query_string={
        "watch": "1", "resourceVersion": rv, "timeoutSeconds": "2",
        "fieldSelector": "spec.nodeName=node-1"})  # fmt: skip
    got = [(e["type"], e["object"]["metadata"]["name"]) for e in lines(resp)]
    assert got == [("ADDED", "moving"), ("ADDED", "stays"), ("DELETED", "moving")]


def test_bookmarks_carry_the_cache_revision(api: Api) -> None:
    rv = api.call("GET", PODS)[1]["metadata"]["resourceVersion"]
    resp = api.client.get(PODS, headers=api.headers, query_string={
        "watch": "1", "resourceVersion": rv, "timeoutSeconds": "3",
        "allowWatchBookmarks": "true", "labelSelector": "app=nothing"})  # fmt: skip
    marks: list[int] = []
    written = 0
    for event in lines(resp):
        assert event["type"] == "BOOKMARK"
        marks.append(int(event["object"]["metadata"]["resourceVersion"]))
        if not written:
            written = int(api.call("POST", PODS, pod_manifest("unseen"))[1]["metadata"][
                "resourceVersion"])  # fmt: skip
        if marks[-1] >= written:
            break
    resp.close()
    assert marks[0] >= int(rv) and marks[-1] == written  # past what the filter let through


def test_a_watcher_that_does_not_keep_up_is_closed(api: Api, app: Any, other: RedisStore) -> None:
    registry = app.extensions["tinykube"]["registry"]
    registry.cache = WatchCache(registry.store, buffer=2)
    api.call("POST", PODS, pod_manifest("first"))
    resp = api.client.get(PODS, headers=api.headers,
                          query_string={"watch": "1", "timeoutSeconds": "30"})  # fmt: skip
    events = lines(resp)
    assert next(events)["object"]["metadata"]["name"] == "first"  # registered, then not read
    for i in range(5):
        other.create("pods", stored_pod(f"p{i}"))
    cacher = registry.cache.cacher(must("pods"))
    deadline = time.monotonic() + 10
    while cacher.rv < other.revision():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    t0 = time.monotonic()
    rest = [e["object"]["metadata"]["name"] for e in events]
    assert rest == ["p0", "p1"]  # what it held, then the end: the client watches again
    assert time.monotonic() - t0 < 10
    registry.cache.stop()


def test_a_watch_gets_a_bookmark_two_seconds_before_its_deadline(app: Any, api: Api) -> None:
    # The bookmark period is far longer than the watch: the only BOOKMARK is the one sent 2 s
    # before the deadline, so a client resumes from a fresh revision.
    tk = app.extensions["tinykube"]
    tk["config"] = dataclasses.replace(tk["config"], watch_poll=60.0)
    rv = api.call("GET", PODS)[1]["metadata"]["resourceVersion"]
    resp = api.client.get(PODS, headers=api.headers, query_string={
        "watch": "1", "resourceVersion": rv, "timeoutSeconds": "3",
        "allowWatchBookmarks": "true"})  # fmt: skip
    assert [e["type"] for e in lines(resp)] == ["BOOKMARK"]
