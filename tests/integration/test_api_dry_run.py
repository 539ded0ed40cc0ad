"""``dryRun=All`` over HTTP on a real Redis: every write answers as a real one would, with the same
errors, and leaves the store, its revision and its watchers untouched."""

from __future__ import annotations

from typing import Any

import pytest

from control.redis_store import RedisStore
from tests.integration.conftest import Api

NS = "/api/v1/namespaces/default"
DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"


def _pod(name: str = "web", **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, **meta} if name else meta,
        "spec": {"containers": [{"name": "main", "image": "tinykube/web:1"}]},
    }


def _deployment(name: str = "d") -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": _pod()["spec"]},
        },
    }


@pytest.fixture
def unchanged(store: RedisStore) -> Any:
    """Asserts, after the test, that no revision was consumed (nothing written, nothing watched)."""
    before = store.revision()
    yield store
    assert store.revision() == before


def test_dry_run_create_defaults_and_stores_nothing(api: Api, store: RedisStore) -> None:
    before = store.revision()
    code, pod = api.call("POST", f"{NS}/pods", _pod("", generateName="web-"), dryRun="All")
    assert code == 201
    m = pod["metadata"]
    assert m["name"].startswith("web-") and len(m["name"]) == 9
    assert m["uid"] and m["creationTimestamp"] and "resourceVersion" not in m
    assert pod["spec"]["restartPolicy"] == "Always"  # defaulted as a real create
    assert pod["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    assert store.revision() == before
    code, _ = api.call("GET", f"{NS}/pods/{m['name']}")
    assert code == 404
    code, listing = api.call("GET", f"{NS}/pods")
    assert listing["items"] == []


def test_dry_run_create_has_the_real_errors(api: Api, unchanged: RedisStore) -> None:
    bad = _pod("Bad_Name")
    code, status = api.call("POST", f"{NS}/pods", bad, dryRun="All")
    assert (code, status["reason"]) == (422, "Invalid")
    code, status = api.call("POST", "/api/v1/namespaces/nowhere/pods", _pod(), dryRun="All")
    assert (code, status["message"]) == (404, 'namespaces "nowhere" not found')
    unknown = {**_pod(), "spec": {**_pod()["spec"], "bogus": 1}}
    code, status = api.call("POST", f"{NS}/pods", unknown, dryRun="All")
    assert code == 400 and 'unknown field "spec.bogus"' in status["message"]


def test_dry_run_create_of_an_existing_name_conflicts(api: Api, store: RedisStore) -> None:
    assert api.call("POST", f"{NS}/pods", _pod())[0] == 201
    before = store.revision()
    code, status = api.call("POST", f"{NS}/pods", _pod(), dryRun="All")
    assert (code, status["reason"], status["message"]) == (
        409, "AlreadyExists", 'pods "web" already exists')  # fmt: skip
    assert store.revision() == before


def test_dry_run_update_and_patch_answer_the_new_object(api: Api, store: RedisStore) -> None:
    code, created = api.call("POST", DEPLOYS, _deployment())
    assert code == 201
    rv = created["metadata"]["resourceVersion"]
    before = store.revision()
    changed = {**created, "spec": {**created["spec"], "replicas": 3}}
    code, out = api.call("PUT", f"{DEPLOYS}/d", changed, dryRun="All")
    assert code == 200
    assert out["spec"]["replicas"] == 3 and out["metadata"]["generation"] == 2
    assert out["metadata"]["resourceVersion"] == rv
    code, out = api.call("PATCH", f"{DEPLOYS}/d", {"metadata": {"labels": {"a": "b"}}},
                         content_type="application/merge-patch+json", dryRun="All")  # fmt: skip
    assert (code, out["metadata"]["labels"]) == (200, {"a": "b"})
    code, out = api.call("PATCH", f"{DEPLOYS}/d/scale", {"spec": {"replicas": 5}},
                         content_type="application/merge-patch+json", dryRun="All")  # fmt: skip
    assert (code, out["kind"], out["spec"]["replicas"]) == (200, "Scale", 5)
    code, out = api.call("PUT", f"{DEPLOYS}/d/status",
                         {**created, "status": {"replicas": 1}}, dryRun="All")  # fmt: skip
    assert (code, out["status"]["replicas"]) == (200, 1)
    assert store.revision() == before
    code, stored = api.call("GET", f"{DEPLOYS}/d")
    assert stored == created


def test_dry_run_update_has_the_real_errors(api: Api, store: RedisStore) -> None:
    code, created = api.call("POST", DEPLOYS, _deployment())
    before = store.revision()
    stale = {**created, "metadata": {**created["metadata"], "resourceVersion": "1"}}
    code, status = api.call("PUT", f"{DEPLOYS}/d", stale, dryRun="All")
    assert (code, status["reason"]) == (409, "Conflict")
    moved = {**created, "spec": {**created["spec"], "selector": {"matchLabels": {"x": "y"}}}}
    code, status = api.call("PUT", f"{DEPLOYS}/d", moved, dryRun="All")
    assert (code, status["reason"]) == (422, "Invalid")
    code, status = api.call("PATCH", f"{DEPLOYS}/missing", {"spec": {}},
                            content_type="application/merge-patch+json", dryRun="All")  # fmt: skip
    assert (code, status["reason"]) == (404, "NotFound")
    assert store.revision() == before


def test_dry_run_delete_keeps_the_object(api: Api, store: RedisStore) -> None:
    assert api.call("POST", DEPLOYS, _deployment())[0] == 201
    assert api.call("POST", f"{NS}/pods", _pod())[0] == 201
    binding = {"target": {"kind": "Node", "name": "node-1"}, "metadata": {"name": "web"}}
    assert api.call("POST", f"{NS}/pods/web/binding", binding)[0] == 201
    code, status = api.call("POST", f"{NS}/pods/web/binding", binding, dryRun="All")
    assert (code, status["reason"]) == (409, "Conflict")  # already bound, as a real bind says
    before = store.revision()
    code, out = api.call("DELETE", f"{DEPLOYS}/d", dryRun="All")
    assert (code, out["metadata"]["name"]) == (200, "d")
    # A bound pod waits for its grace period: the answer shows the deletion as it would be marked.
    code, out = api.call("DELETE", f"{NS}/pods/web", {"dryRun": ["All"]})
    assert code == 200 and out["metadata"]["deletionTimestamp"]
    code, status = api.call("DELETE", f"{NS}/pods/web", {"preconditions": {"uid": "other"}},
                            dryRun="All")  # fmt: skip
    assert (code, status["reason"]) == (409, "Conflict")
    assert store.revision() == before
    assert api.call("GET", f"{DEPLOYS}/d")[0] == 200
    code, pod = api.call("GET", f"{NS}/pods/web")
    assert code == 200 and "deletionTimestamp" not in pod["metadata"]


def test_dry_run_values_other_than_all_are_refused(api: Api, unchanged: RedisStore) -> None:
    code, status = api.call("POST", f"{NS}/pods", _pod(), dryRun="Some")
    assert (code, status["message"]) == (
        422,
        'CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: []string{"Some"}: '
        'supported values: "All"',
    )
    code, status = api.call("PATCH", f"{NS}/pods/web", {}, dryRun="x",
                            content_type="application/merge-patch+json")  # fmt: skip
    assert code == 422 and status["message"].startswith("PatchOptions.meta.k8s.io")
    code, status = api.call("DELETE", f"{NS}/pods/web", {"dryRun": ["x"]})
    assert code == 422 and status["details"]["kind"] == "DeleteOptions"


def test_delete_collection_deletes_what_the_selector_matches(api: Api, store: RedisStore) -> None:
    for name, tier in (("a", "web"), ("b", "web"), ("c", "db")):
        assert api.call("POST", f"{NS}/pods", _pod(name, labels={"tier": tier}))[0] == 201
    before = store.revision()
    code, out = api.call("DELETE", f"{NS}/pods", labelSelector="tier=web", dryRun="All")
    assert (code, out["kind"]) == (200, "PodList")
    assert sorted(p["metadata"]["name"] for p in out["items"]) == ["a", "b"]
    assert store.revision() == before
    assert len(api.call("GET", f"{NS}/pods")[1]["items"]) == 3
    code, out = api.call("DELETE", f"{NS}/pods", labelSelector="tier=web")
    assert code == 200 and len(out["items"]) == 2
    assert [p["metadata"]["name"] for p in api.call("GET", f"{NS}/pods")[1]["items"]] == ["c"]


def test_delete_collection_refusals(api: Api, unchanged: RedisStore) -> None:
    code, status = api.call("DELETE", "/api/v1/nodes")
    assert (code, status["reason"]) == (405, "MethodNotAllowed")
    code, status = api.call("DELETE", "/api/v1/pods")
    assert (code, status["reason"]) == (405, "MethodNotAllowed")
    code, status = api.call("DELETE", f"{NS}/pods", {"propagationPolicy": "Sometimes"})
    assert (code, status["reason"]) == (422, "Invalid")
    code, status = api.call("DELETE", f"{NS}/pods", labelSelector="a in in")
    assert (code, status["reason"]) == (400, "BadRequest")


def test_dry_run_renewal_of_a_node_lease_writes_nothing(api: Api, store: RedisStore) -> None:
    leases = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
    spec = {"holderIdentity": "node-1", "renewTime": "2026-01-01T00:00:00.000000Z"}
    lease = {"metadata": {"name": "node-1"}, "spec": spec}
    code, created = api.call("POST", leases, lease)
    assert code == 201
    before = store.revision()
    renewed = {**created, "spec": {**created["spec"], "renewTime": "2026-01-01T00:00:10.000000Z"}}
    code, out = api.call("PUT", f"{leases}/node-1", renewed, dryRun="All")
    assert (code, out["spec"]["renewTime"]) == (200, "2026-01-01T00:00:10.000000Z")
    assert store.revision() == before
    # The next real renewal starts from the stored Lease, not from the dry run's answer.
    code, out = api.call("PUT", f"{leases}/node-1", renewed)
    assert code == 200 and int(out["metadata"]["resourceVersion"]) > before


def test_dry_run_service_allocates_but_takes_nothing(api: Api, store: RedisStore) -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
           "spec": {"type": "NodePort", "selector": {"app": "web"},
                    "ports": [{"port": 80, "nodePort": 30080}]}}  # fmt: skip
    before = store.revision()
    code, planned = api.call("POST", f"{NS}/services", svc, dryRun="All")
    assert code == 201, planned
    assert planned["spec"]["clusterIP"].startswith("10.")  # allocated as a real create would
    assert store.claimed("serviceips") == set() and store.claimed("nodeports") == set()
    assert store.revision() == before
    code, real = api.call("POST", f"{NS}/services", svc)
    assert code == 201, real
    # A requested node port that is taken fails the dry run as it fails a real create.
    svc["metadata"]["name"] = "other"
    code, status = api.call("POST", f"{NS}/services", svc, dryRun="All")
    assert code == 422, status
    assert (
        "spec.ports[0].nodePort" in status["message"] and "already allocated" in status["message"]
    )
    # Its own values are no conflict: a dry-run update of the real Service keeps them.
    real["metadata"]["labels"] = {"tier": "web"}
    code, updated = api.call("PUT", f"{NS}/services/web", real, dryRun="All")
    assert code == 200, updated
    assert updated["spec"]["clusterIP"] == real["spec"]["clusterIP"]
