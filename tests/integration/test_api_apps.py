"""apps/v1 over the real API server and Redis: Deployment and ReplicaSet defaults, validation
messages, generation, the scale subresource, discovery, and deletion with finalizers."""

from __future__ import annotations

import time
from typing import Any

from control.redis_store import RedisStore
from tests.integration.conftest import Api

DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"
RSES = "/apis/apps/v1/namespaces/default/replicasets"


def deployment(name: str = "web", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": "tinykube/web:1"}]},
            },
            **spec,
        },
    }


def test_create_applies_defaults_and_resets_status(api: Api) -> None:
    body = deployment()
    body["status"] = {"replicas": 7}
    code, obj = api.call("POST", DEPLOYS, body)
    assert code == 201, obj
    spec = obj["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
    }
    assert spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600
    pod_spec = spec["template"]["spec"]
    assert pod_spec["restartPolicy"] == "Always"
    assert pod_spec["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    assert obj["status"] == {}
    assert obj["metadata"]["generation"] == 1


def test_validation_messages_match_kubernetes(api: Api) -> None:
    bad = deployment()
    bad["spec"]["template"]["metadata"]["labels"] = {"app": "x"}
    code, status = api.call("POST", DEPLOYS, bad)
    assert code == 422
    assert status["message"] == (
        'Deployment.apps "web" is invalid: spec.template.metadata.labels: Invalid value: '
        '{"app":"x"}: `selector` does not match template `labels`'
    )
    assert status["details"]["causes"][0]["field"] == "spec.template.metadata.labels"

    zero = deployment(strategy={"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}})
    code, status = api.call("POST", DEPLOYS, zero)
    assert code == 422
    assert (
        'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "0": may not be 0 '
        in (status["message"])
    )

    rs = deployment(replicas=-1)
    rs.update(kind="ReplicaSet")
    rs["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    code, status = api.call("POST", RSES, rs)
    assert code == 422
    assert status["message"] == (
        'ReplicaSet.apps "web" is invalid: [spec.replicas: Invalid value: -1: must be greater '
        'than or equal to 0, spec.template.spec.restartPolicy: Unsupported value: "Never": '
        'supported values: "Always"]'
    )

    code, status = api.call("POST", DEPLOYS, deployment(selector={}))
    assert code == 422
    assert (
        "spec.selector: Invalid value: {}: empty selector is invalid for deployment"
        in (status["message"])
    )


def test_selector_is_immutable_and_generation_counts_spec_changes(api: Api) -> None:
    code, obj = api.call("POST", DEPLOYS, deployment())
    assert code == 201
    obj["metadata"]["labels"] = {"team": "a"}
    code, obj = api.call("PUT", f"{DEPLOYS}/web", obj)
    assert code == 200 and obj["metadata"]["generation"] == 1  # metadata only
    obj["spec"]["replicas"] = 3
    code, obj = api.call("PUT", f"{DEPLOYS}/web", obj)
    assert code == 200 and obj["metadata"]["generation"] == 2
    obj["spec"]["selector"] = {"matchLabels": {"app": "web", "v": "2"}}
    obj["spec"]["template"]["metadata"]["labels"]["v"] = "2"
    code, status = api.call("PUT", f"{DEPLOYS}/web", obj)
    assert code == 422
    assert status["message"] == (
        'Deployment.apps "web" is invalid: spec.selector: Invalid value: '
        '{"matchLabels":{"app":"web","v":"2"}}: field is immutable'
    )


def test_scale_subresource_reads_and_writes_replicas(api: Api) -> None:
    api.call("POST", DEPLOYS, deployment(replicas=2))
    code, scale = api.call("GET", f"{DEPLOYS}/web/scale")
    assert code == 200
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"] == {"replicas": 2}
    assert scale["status"] == {"replicas": 0, "selector": "app=web"}
    code, scale = api.call(
        "PATCH",
        f"{DEPLOYS}/web/scale",
        {"spec": {"replicas": 5}},
        content_type="application/merge-patch+json",
    )
    assert code == 200 and scale["spec"]["replicas"] == 5
    code, obj = api.call("GET", f"{DEPLOYS}/web")
    assert obj["spec"]["replicas"] == 5 and obj["metadata"]["generation"] == 2
    stale = {**scale, "metadata": {**scale["metadata"], "resourceVersion": "1"}}
    code, status = api.call("PUT", f"{DEPLOYS}/web/scale", {**stale, "spec": {"replicas": 1}})
    assert code == 409, status
    scale["spec"]["replicas"] = -1
    code, status = api.call("PUT", f"{DEPLOYS}/web/scale", scale)
    assert code == 422
    assert status["message"] == (
        'Scale.autoscaling "web" is invalid: spec.replicas: Invalid value: -1: must be greater '
        "than or equal to 0"
    )


def test_discovery_lists_apps_with_scale(api: Api) -> None:
    code, listing = api.call("GET", "/apis/apps/v1")
    assert code == 200
    by_name = {r["name"]: r for r in listing["resources"]}
    assert by_name["deployments"]["shortNames"] == ["deploy"]
    assert by_name["deployments"]["categories"] == ["all"]
    assert by_name["replicasets"]["shortNames"] == ["rs"]
    scale = by_name["deployments/scale"]
    assert (scale["kind"], scale["group"], scale["version"]) == ("Scale", "autoscaling", "v1")
    assert "deployments/status" in by_name and "replicasets/scale" in by_name


def test_finalizers_keep_a_deleted_object_until_cleared(api: Api) -> None:
    body = deployment()
    body["metadata"]["finalizers"] = ["example.com/hold"]
    api.call("POST", DEPLOYS, body)
    code, obj = api.call("DELETE", f"{DEPLOYS}/web")
    assert code == 200
    assert obj["metadata"]["deletionTimestamp"]
    assert obj["metadata"]["deletionGracePeriodSeconds"] == 0
    code, obj = api.call("GET", f"{DEPLOYS}/web")
    assert code == 200 and obj["metadata"]["finalizers"] == ["example.com/hold"]
    obj["metadata"]["finalizers"] = []
    code, _ = api.call("PUT", f"{DEPLOYS}/web", obj)
    assert code == 200
    code, _ = api.call("GET", f"{DEPLOYS}/web")
    assert code == 404


def _changes(store: RedisStore, resource: str, since: int) -> list[str]:
    until = time.monotonic() + 0.5
    return [e.type for e in store.watch(resource, since, poll=0.1, until=until) if e is not None]


def test_removing_the_last_finalizer_removes_the_object_in_one_write(
    api: Api, store: RedisStore
) -> None:
    body = deployment()
    body["metadata"]["finalizers"] = ["example.com/hold"]
    api.call("POST", DEPLOYS, body)
    code, obj = api.call("DELETE", f"{DEPLOYS}/web")
    assert code == 200
    since = int(obj["metadata"]["resourceVersion"])
    obj["metadata"]["finalizers"] = []
    code, answer = api.call("PUT", f"{DEPLOYS}/web", obj)
    assert code == 200, answer
    # No version without the finalizer is ever stored: another write (a controller's status)
    # could otherwise land on it and leave the object deleted, finalized and kept for ever.
    assert _changes(store, "deployments", since) == ["DELETED"]
    assert answer["metadata"]["finalizers"] == ["example.com/hold"]  # as last stored
    assert api.call("GET", f"{DEPLOYS}/web")[0] == 404


def test_a_stale_removal_of_the_last_finalizer_is_a_conflict(api: Api) -> None:
    body = deployment()
    body["metadata"]["finalizers"] = ["example.com/hold"]
    api.call("POST", DEPLOYS, body)
    _, obj = api.call("DELETE", f"{DEPLOYS}/web")
    code, _ = api.call("PUT", f"{DEPLOYS}/web/status", {**obj, "status": {"replicas": 1}})
    assert code == 200
    obj["metadata"]["finalizers"] = []
    code, status = api.call("PUT", f"{DEPLOYS}/web", obj)
    assert code == 409, status
    assert api.call("GET", f"{DEPLOYS}/web")[1]["metadata"]["finalizers"] == ["example.com/hold"]


def test_any_write_removes_a_deleted_object_left_without_finalizers(
    api: Api, store: RedisStore
) -> None:
    _, obj = api.call("POST", DEPLOYS, deployment())
    obj["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    obj["metadata"]["deletionGracePeriodSeconds"] = 0
    stored = store.update("deployments", obj)  # as an older server could leave it
    code, _ = api.call("PUT", f"{DEPLOYS}/web/status", {**stored, "status": {"replicas": 1}})
    assert code == 200
    assert api.call("GET", f"{DEPLOYS}/web")[0] == 404


def test_propagation_policies_set_gc_finalizers(api: Api) -> None:
    api.call("POST", DEPLOYS, deployment("fg"))
    api.call("POST", DEPLOYS, deployment("orph"))
    api.call("POST", DEPLOYS, deployment("bg"))
    code, obj = api.call("DELETE", f"{DEPLOYS}/fg", {"propagationPolicy": "Foreground"})
    assert code == 200 and obj["metadata"]["finalizers"] == ["foregroundDeletion"]
    code, obj = api.call("DELETE", f"{DEPLOYS}/orph", propagationPolicy="Orphan")
    assert code == 200 and obj["metadata"]["finalizers"] == ["orphan"]
    code, obj = api.call("DELETE", f"{DEPLOYS}/bg")
    assert code == 200
    assert api.call("GET", f"{DEPLOYS}/bg")[0] == 404
    # A second DELETE may change its mind: Background drops the GC finalizer and removes it.
    code, _ = api.call("DELETE", f"{DEPLOYS}/orph", {"propagationPolicy": "Background"})
    assert api.call("GET", f"{DEPLOYS}/orph")[0] == 404
    code, status = api.call("DELETE", f"{DEPLOYS}/fg", {"propagationPolicy": "Sideways"})
    assert code == 422
    assert 'propagationPolicy: Unsupported value: "Sideways"' in status["message"]


def test_namespace_delete_terminates_then_finalize_removes_it(api: Api) -> None:
    api.call("POST", "/api/v1/namespaces", {"metadata": {"name": "team"}})
    code, ns = api.call("DELETE", "/api/v1/namespaces/team")
    assert code == 200
    assert ns["status"]["phase"] == "Terminating" and ns["metadata"]["deletionTimestamp"]
    assert ns["spec"]["finalizers"] == ["kubernetes"]
    code, _ = api.call("POST", "/apis/apps/v1/namespaces/team/deployments", deployment())
    assert code == 403
    ns["spec"]["finalizers"] = []
    code, _ = api.call("PUT", "/api/v1/namespaces/team/finalize", ns)
    assert code == 200
    assert api.call("GET", "/api/v1/namespaces/team")[0] == 404
