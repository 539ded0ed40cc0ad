"""Optimistic concurrency through the HTTP API: a precondition that does not match the stored
resourceVersion is 409 Conflict, also when the write would change nothing (kube-apiserver checks
the precondition before it short-circuits a no-op update)."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from typing import Any

import requests

from tests.integration.conftest import ADMIN_TOKEN, Api, pod_manifest

POD = "/api/v1/namespaces/default/pods/web"
DEPLOY = "/apis/apps/v1/namespaces/default/deployments/web"
CLIENTS = 20
INCREMENTS = 50
COUNTER = "example.com/counter"
MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"


def _increment(base: str, acked: list[str], conflicts: list[int], failures: list[str]) -> None:
    """Read-modify-write the counter INCREMENTS times, retrying each on 409 as a client should."""
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
    for _ in range(INCREMENTS):
        for attempt in range(10_000):
            pod = s.get(base + POD, timeout=30).json()
            notes = pod["metadata"].setdefault("annotations", {})
            notes[COUNTER] = str(int(notes.get(COUNTER, "0")) + 1)
            r = s.put(base + POD, json=pod, timeout=30)
            if r.status_code == 200:
                acked.append(r.json()["metadata"]["resourceVersion"])
                break
            if r.status_code != 409 or r.json().get("reason") != "Conflict":
                failures.append(f"{r.status_code} {r.text[:200]}")
                return
            conflicts.append(1)
            # Back off, jittered and doubling, as a client that retries on conflict should.
            time.sleep(random.uniform(0, min(0.002 * 2**attempt, 0.2)))


def test_concurrent_increments_lose_nothing(api: Api, server: str) -> None:
    assert api.call("POST", "/api/v1/namespaces/default/pods", pod_manifest())[0] == 201
    acked: list[str] = []
    conflicts: list[int] = []
    failures: list[str] = []
    threads = [
        threading.Thread(target=_increment, args=(server, acked, conflicts, failures))
        for _ in range(CLIENTS)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    _, pod = api.call("GET", POD)
    counter = pod["metadata"]["annotations"][COUNTER]
    shared = [rv for rv, n in Counter(acked).items() if n > 1]
    print(
        f"{len(acked)} updates acknowledged, {len(conflicts)} conflicts retried, counter "
        f"{counter}, {len(shared)} resourceVersions acknowledged more than once"
    )
    assert not failures
    assert len(acked) == CLIENTS * INCREMENTS
    # Every acknowledged update is its own write: no resourceVersion was handed out twice.
    assert shared == []
    assert counter == str(CLIENTS * INCREMENTS)


def _stored(api: Api) -> dict[str, Any]:
    code, pod = api.call("POST", "/api/v1/namespaces/default/pods", pod_manifest())
    assert code == 201
    # One write so that the first resourceVersion is stale.
    code, pod = api.call("PATCH", POD, {"metadata": {"labels": {"v": "2"}}}, content_type=MERGE)
    assert code == 200
    return pod


def _stale(obj: dict[str, Any], rv: str) -> dict[str, Any]:
    return {**obj, "metadata": {**obj["metadata"], "resourceVersion": rv}}


def _assert_conflict(code: int, status: Any) -> None:
    assert code == 409, status
    assert status["reason"] == "Conflict"
    assert "the object has been modified" in status["message"]


def test_noop_put_with_a_stale_resource_version_is_409(api: Api) -> None:
    pod = _stored(api)
    old_rv = str(int(pod["metadata"]["resourceVersion"]) - 1)
    code, status = api.call("PUT", POD, _stale(pod, old_rv))
    _assert_conflict(code, status)
    code, status = api.call("PUT", POD + "/status", _stale(pod, old_rv))
    _assert_conflict(code, status)


def test_noop_put_with_the_current_or_no_resource_version_returns_the_stored_object(
    api: Api,
) -> None:
    pod = _stored(api)
    code, same = api.call("PUT", POD, pod)
    assert code == 200 and same == pod
    unconditional = {**pod, "metadata": {k: v for k, v in pod["metadata"].items()
                                         if k != "resourceVersion"}}  # fmt: skip
    code, same = api.call("PUT", POD, unconditional)
    assert code == 200 and same == pod


def test_noop_patches_with_a_stale_precondition_are_409(api: Api) -> None:
    pod = _stored(api)
    rv = pod["metadata"]["resourceVersion"]
    old_rv = str(int(rv) - 1)
    noop = {"metadata": {"resourceVersion": old_rv, "labels": {"v": "2"}}}
    for content_type in (MERGE, STRATEGIC):
        code, status = api.call("PATCH", POD, noop, content_type=content_type)
        _assert_conflict(code, status)
    code, same = api.call("PATCH", POD, {"metadata": {"resourceVersion": rv}}, content_type=MERGE)
    assert code == 200 and same["metadata"]["resourceVersion"] == rv


def test_patch_with_a_stale_precondition_changes_nothing(api: Api) -> None:
    pod = _stored(api)
    old_rv = str(int(pod["metadata"]["resourceVersion"]) - 1)
    patch = {"metadata": {"resourceVersion": old_rv, "labels": {"v": "3"}}}
    code, status = api.call("PATCH", POD, patch, content_type=MERGE)
    _assert_conflict(code, status)
    assert api.call("GET", POD)[1] == pod


def test_delete_with_a_stale_resource_version_precondition_is_409(api: Api) -> None:
    pod = _stored(api)
    old_rv = str(int(pod["metadata"]["resourceVersion"]) - 1)
    options = {"preconditions": {"resourceVersion": old_rv}}
    code, status = api.call("DELETE", POD, options)
    assert code == 409 and status["reason"] == "Conflict", status
    assert api.call("GET", POD)[1] == pod
    code, _ = api.call(
        "DELETE", POD, {"preconditions": {"resourceVersion": pod["metadata"]["resourceVersion"]}}
    )
    assert code == 200
    assert api.call("GET", POD)[0] == 404


def test_scale_with_a_stale_resource_version_is_409(api: Api) -> None:
    deploy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "tinykube/web:1"}]},
            },
        },
    }
    assert api.call("POST", "/apis/apps/v1/namespaces/default/deployments", deploy)[0] == 201
    code, scale = api.call("GET", DEPLOY + "/scale")
    assert code == 200
    code, _ = api.call("PATCH", DEPLOY, {"metadata": {"labels": {"v": "2"}}}, content_type=MERGE)
    assert code == 200
    # The same replicas (a no-op) with the resourceVersion read before the label change.
    code, status = api.call("PUT", DEPLOY + "/scale", scale)
    _assert_conflict(code, status)
