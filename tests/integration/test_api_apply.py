"""Server-side apply and managedFields over HTTP on a real Redis: apply creates and re-applies,
conflicts are kube-apiserver's 409, force moves ownership, dropped fields go away, kubectl takes
over a client-side apply's fields, dry runs store nothing, every write records its manager."""

from __future__ import annotations

import json
from typing import Any

import yaml

from control.redis_store import RedisStore
from tests.integration.conftest import Api

DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"
PODS = "/api/v1/namespaces/default/pods"
APPLY = "application/apply-patch+yaml"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def _deployment(replicas: int = 1, image: str = "tinykube/web:1", **extra: Any) -> dict[str, Any]:
    labels = {"app": "web"}
    spec: dict[str, Any] = {
        "replicas": replicas,
        "selector": {"matchLabels": labels},
        "template": {
            "metadata": {"labels": labels},
            "spec": {"containers": [{"name": "web", "image": image, **extra}]},
        },
    }
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": spec}  # fmt: skip


def _apply(api: Api, body: Any, manager: str = "kubectl", **query: Any) -> tuple[int, Any]:
    raw = yaml.safe_dump(body).encode()
    return api.call("PATCH", f"{DEPLOYS}/web", raw=raw, content_type=APPLY,
                    fieldManager=manager, **query)  # fmt: skip


def _entries(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["manager"]: e for e in obj["metadata"].get("managedFields", [])}


def test_apply_creates_then_reapplies(api: Api) -> None:
    code, created = _apply(api, _deployment())
    assert code == 201, created
    entry = _entries(created)["kubectl"]
    assert entry["operation"] == "Apply" and entry["fieldsType"] == "FieldsV1"
    assert entry["apiVersion"] == "apps/v1" and entry["time"].endswith("Z")
    containers = entry["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]
    assert containers == {'k:{"name":"web"}': {".": {}, "f:image": {}, "f:name": {}}}
    assert entry["fieldsV1"]["f:metadata"] == {} or "f:name" not in entry["fieldsV1"]
    code, again = _apply(api, _deployment())
    assert code == 200
    assert again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_apply_needs_a_field_manager_and_a_known_format(api: Api) -> None:
    raw = yaml.safe_dump(_deployment()).encode()
    code, status = api.call("PATCH", f"{DEPLOYS}/web", raw=raw, content_type=APPLY)
    assert code == 422
    assert status["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for '
        "apply patch"
    )
    code, status = api.call("PATCH", f"{DEPLOYS}/web", {"spec": {}}, force="true",
                            content_type="application/merge-patch+json")  # fmt: skip
    assert code == 422 and "force: Forbidden" in status["message"]
    code, status = api.call("PATCH", f"{DEPLOYS}/web", raw=b"- 1\n", content_type=APPLY,
                            fieldManager="x")  # fmt: skip
    assert code == 400


def test_cbor_is_refused_as_kube_apiserver_refuses_it_by_default(api: Api) -> None:
    """CBOR bodies need kube-apiserver's CBORServingAndStorage gate (alpha, off in 1.35): an
    apply in CBOR finds no PATCH route (go-restful's 415, before the options are looked at),
    and a CBOR object is a body in an unknown format. Nothing is stored."""
    unrouted = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "415: Unsupported Media Type", "reason": "UnsupportedMediaType",
                "details": {}, "code": 415}  # fmt: skip
    cbor_apply = b"\xa1dspec\xa1hreplicas\x02"
    for content_type in ("application/apply-patch+cbor", "application/cbor", "text/plain"):
        code, status = api.call("PATCH", f"{DEPLOYS}/web", raw=cbor_apply, dryRun="bogus",
                                content_type=content_type)  # fmt: skip
        assert (code, status) == (415, unrouted)
    code, status = api.call("POST", DEPLOYS, raw=b"\xa0", content_type="application/cbor")
    assert code == 415 and status["reason"] == "UnsupportedMediaType"
    assert status["message"] == (
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json, application/yaml, application/vnd.kubernetes.protobuf"
    )
    assert api.call("GET", f"{DEPLOYS}/web")[0] == 404
    code, _ = api.call("PATCH", f"{DEPLOYS}/web", raw=b"{}",
                       content_type="application/merge-patch+json; charset=utf-8")  # fmt: skip
    assert code == 404  # a known patch type with parameters is routed


def test_conflict_then_force_moves_ownership(api: Api) -> None:
    assert _apply(api, _deployment(1))[0] in (200, 201)
    code, _ = api.call("PATCH", f"{DEPLOYS}/web", {"spec": {"replicas": 3}},
                       content_type="application/merge-patch+json",
                       fieldManager="kubectl-scale")  # fmt: skip
    assert code == 200
    code, status = _apply(api, _deployment(2))
    assert code == 409
    assert status["reason"] == "Conflict"
    assert status["message"] == (
        'Apply failed with 1 conflict: conflict with "kubectl-scale" using apps/v1: .spec.replicas'
    )
    assert status["details"]["causes"] == [{
        "reason": "FieldManagerConflict", "message": 'conflict with "kubectl-scale" using apps/v1',
        "field": ".spec.replicas",
    }]  # fmt: skip
    # Applying the value it has is no conflict: the field becomes shared.
    code, shared = _apply(api, _deployment(3))
    assert code == 200
    assert "f:replicas" in _entries(shared)["kubectl-scale"]["fieldsV1"]["f:spec"]
    code, forced = _apply(api, _deployment(2), force="true")
    assert code == 200 and forced["spec"]["replicas"] == 2
    assert "kubectl-scale" not in _entries(forced)


def test_two_managers_and_dropped_fields(api: Api) -> None:
    mine = _deployment()
    mine["metadata"]["labels"] = {"a": "1", "b": "2"}
    assert _apply(api, mine)[0] in (200, 201)
    theirs = {"apiVersion": "apps/v1", "kind": "Deployment",
              "metadata": {"name": "web", "labels": {"b": "2", "c": "3"}}}  # fmt: skip
    code, both = _apply(api, theirs, manager="other")
    assert code == 200
    assert both["metadata"]["labels"] == {"a": "1", "b": "2", "c": "3"}
    # Dropping a and b: a is nobody else's and goes; b is still "other"'s and stays.
    mine["metadata"]["labels"] = {}
    code, after = _apply(api, mine)
    assert code == 200
    assert after["metadata"]["labels"] == {"b": "2", "c": "3"}
    code, conflict = _apply(api, {**theirs, "metadata": {"name": "web", "labels": {"c": "9"}}},
                            manager="third")  # fmt: skip
    assert code == 409
    assert conflict["message"] == (
        'Apply failed with 1 conflict: conflict with "other": .metadata.labels.c'
    )


def test_multiple_conflicts_are_listed_by_manager(api: Api) -> None:
    assert _apply(api, _deployment(1), manager="first")[0] in (200, 201)
    code, status = _apply(api, _deployment(5, image="tinykube/web:2"), manager="second")
    assert code == 409
    assert status["message"] == (
        'Apply failed with 2 conflicts: conflicts with "first":\n- .spec.replicas\n'
        '- .spec.template.spec.containers[name="web"].image'
    )


def test_removed_container_field_and_list_item(api: Api) -> None:
    body = _deployment(command=["sleep", "1"])
    body["spec"]["template"]["spec"]["containers"].append({"name": "side", "image": "x:1"})
    assert _apply(api, body)[0] in (200, 201)
    code, after = _apply(api, _deployment())
    assert code == 200
    containers = after["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["web"]
    assert "command" not in containers[0]


def test_updates_record_their_manager(api: Api) -> None:
    code, created = api.call("POST", DEPLOYS, _deployment(), fieldManager="kubectl-create")
    assert code == 201
    entry = _entries(created)["kubectl-create"]
    assert entry["operation"] == "Update"
    fields = entry["fieldsV1"]
    assert (
        fields["f:metadata"] == {"f:labels": {".": {}, "f:app": {}}}
        or "f:labels" not in (fields["f:metadata"])
    )
    assert "f:replicas" in fields["f:spec"]
    code, patched = api.call("PATCH", f"{DEPLOYS}/web", {"metadata": {"labels": {"x": "y"}}},
                             content_type="application/merge-patch+json")  # fmt: skip
    assert code == 200
    # No fieldManager: the user agent's product (Werkzeug/3.x) names the manager.
    fields = _entries(patched)["Werkzeug"]["fieldsV1"]
    assert fields == {"f:metadata": {"f:labels": {".": {}, "f:x": {}}}}


def test_status_writes_are_the_status_subresource_manager(api: Api) -> None:
    code, _ = api.call("POST", DEPLOYS, _deployment(), fieldManager="maker")
    assert code == 201
    code, got = api.call("GET", f"{DEPLOYS}/web")
    got["status"] = {"observedGeneration": 1, "replicas": 0}
    code, written = api.call("PUT", f"{DEPLOYS}/web/status", got, fieldManager="ctrl")
    assert code == 200, written
    entry = _entries(written)["ctrl"]
    assert entry["subresource"] == "status"
    assert set(entry["fieldsV1"]) == {"f:status"}
    assert "f:status" not in _entries(written)["maker"]["fieldsV1"]


def test_take_over_from_client_side_apply(api: Api) -> None:
    body = _deployment(2)
    body["metadata"]["annotations"] = {LAST_APPLIED: json.dumps(_deployment(2))}
    code, _ = api.call("POST", DEPLOYS, body, fieldManager="kubectl-client-side-apply")
    assert code == 201
    # Another manager applying a new value conflicts with the client-side apply's field...
    code, status = _apply(api, _deployment(3), manager="someone")
    assert code == 409
    assert (
        'conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas'
        in (status["message"])
    )
    # ...kubectl takes it over, and keeps the last-applied annotation in step.
    code, taken = _apply(api, _deployment(3))
    assert code == 200, taken
    assert taken["spec"]["replicas"] == 3
    assert "f:replicas" not in str(_entries(taken).get("kubectl-client-side-apply", {}))
    last = json.loads(taken["metadata"]["annotations"][LAST_APPLIED])
    assert last["spec"]["replicas"] == 3


def test_apply_dry_run_stores_nothing(api: Api, store: RedisStore) -> None:
    before = store.revision()
    code, created = _apply(api, _deployment(), dryRun="All")
    assert code in (200, 201)
    assert _entries(created)["kubectl"]["operation"] == "Apply"
    assert store.revision() == before
    assert api.call("GET", f"{DEPLOYS}/web")[0] == 404


def test_apply_of_a_pod_keys_ports_by_port_and_protocol(api: Api) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "c", "image": "tinykube/web:1",
                                    "ports": [{"containerPort": 80}]}]}}  # fmt: skip
    code, created = api.call("PATCH", f"{PODS}/p", raw=yaml.safe_dump(pod).encode(),
                             content_type=APPLY, fieldManager="me")  # fmt: skip
    assert code in (200, 201), created
    fields = _entries(created)["me"]["fieldsV1"]["f:spec"]["f:containers"]['k:{"name":"c"}']
    assert 'k:{"containerPort":80,"protocol":"TCP"}' in fields["f:ports"]


def test_managed_fields_sent_are_taken_and_garbage_never_fails(api: Api) -> None:
    code, created = api.call("POST", DEPLOYS, _deployment(), fieldManager="maker")
    assert code == 201, created
    # An update that sends managedFields and changes nothing else replaces them (as kubectl's
    # migration from client-side apply does); what is not a field path is dropped.
    created["metadata"]["managedFields"] = [
        {"manager": "importer", "operation": "Update", "apiVersion": "apps/v1",
         "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}, "": {}, "zz": 1}},
        {"fieldsV1": []},
    ]  # fmt: skip
    code, replaced = api.call("PUT", f"{DEPLOYS}/web", created, fieldManager="maker")
    assert code == 200, replaced
    entries = _entries(replaced)
    assert set(entries) == {"importer"}
    assert entries["importer"]["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    code, status = _apply(api, _deployment(4), manager="other")
    assert code == 409 and '"importer" using apps/v1: .spec.replicas' in status["message"]
    code, status = _apply(api, {"apiVersion": "v1", "kind": "Pod"})
    assert code == 400
    assert status["message"] == (
        "Incorrect version specified in apply patch. Specified patch version: v1, expected: apps/v1"
    )
    code, status = _apply(api, {"apiVersion": "apps/v1", "kind": "Pod"})
    assert code == 400 and "does not match the expected kind" in status["message"]
    code, status = api.call("PUT", f"{DEPLOYS}/web",
                            {**replaced, "metadata": {**replaced["metadata"],
                                                     "managedFields": ["nonsense"]}})  # fmt: skip
    assert code == 400
    code, status = api.call("PATCH", f"{DEPLOYS}/web", raw=b"{{{", content_type=APPLY,
                            fieldManager="x")  # fmt: skip
    assert code == 400


def test_apply_refusals(api: Api) -> None:
    raw = yaml.safe_dump(_deployment()).encode()
    code, status = api.call("PATCH", f"{DEPLOYS}/web/status", raw=raw, content_type=APPLY,
                            fieldManager="x")  # fmt: skip
    assert code == 404 and status["reason"] == "NotFound"
    code, status = api.call("PATCH", f"{DEPLOYS}/other", raw=raw, content_type=APPLY,
                            fieldManager="x")  # fmt: skip
    assert code == 400
    assert status["message"] == (
        "the name of the object (web) does not match the name on the URL (other)"
    )
    for metadata in ("x", ["x"]):  # the object does not exist: an apply would create it
        code, status = _apply(api, {"apiVersion": "apps/v1", "kind": "Deployment",
                                    "metadata": metadata})  # fmt: skip
        assert code == 400 and "cannot be handled as a Deployment" in status["message"]
    code, status = _apply(api, _deployment(), manager="m" * 129)
    assert code == 422
    assert status["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Too long: may not be more than '
        "128 bytes"
    )
    code, status = api.call("POST", DEPLOYS, _deployment(), fieldManager="m" * 129)
    assert code == 422 and status["message"].startswith('CreateOptions.meta.k8s.io "" is invalid')
    code, status = _apply(api, {**_deployment(), "spec": {"replicas": -1}})
    assert code == 422 and status["reason"] == "Invalid"
    assert api.call("GET", f"{DEPLOYS}/web")[0] == 404


def test_cleared_managed_fields_and_before_first_apply(api: Api) -> None:
    code, created = api.call("POST", DEPLOYS, _deployment(1), fieldManager="maker")
    assert code == 201
    created["metadata"]["managedFields"] = [{}]  # kube's way to clear them
    code, cleared = api.call("PUT", f"{DEPLOYS}/web", created)
    assert code == 200 and "managedFields" not in cleared["metadata"]
    code, status = _apply(api, _deployment(2))
    assert code == 409
    assert status["message"] == (
        'Apply failed with 1 conflict: conflict with "before-first-apply" using apps/v1: '
        ".spec.replicas"
    )
    code, applied = _apply(api, _deployment(1))
    assert code == 200
    assert set(_entries(applied)) == {"before-first-apply", "kubectl"}


def test_an_applied_status_is_nobodys_field(api: Api) -> None:
    body = {**_deployment(), "status": {"replicas": 7}}
    code, created = _apply(api, body)
    assert code == 201
    assert "f:status" not in _entries(created)["kubectl"]["fieldsV1"]
    assert (created.get("status") or {}).get("replicas") != 7


def test_apply_of_a_service_merges_ports_by_port_and_protocol(api: Api) -> None:
    services = "/api/v1/namespaces/default/services"
    spec = {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": spec}
    raw = yaml.safe_dump(svc).encode()
    code, created = api.call("PATCH", f"{services}/s", raw=raw, content_type=APPLY,
                             fieldManager="me")  # fmt: skip
    assert code == 201, created
    ports = _entries(created)["me"]["fieldsV1"]["f:spec"]["f:ports"]
    assert list(ports) == ['k:{"port":80,"protocol":"TCP"}']
    svc["spec"]["ports"].append({"port": 443, "name": "https"})
    svc["spec"]["ports"][0]["name"] = "http"
    code, again = api.call("PATCH", f"{services}/s", raw=yaml.safe_dump(svc).encode(),
                           content_type=APPLY, fieldManager="me")  # fmt: skip
    assert code == 200, again
    assert [p["port"] for p in again["spec"]["ports"]] == [80, 443]
    assert again["spec"]["clusterIP"] == created["spec"]["clusterIP"]


def test_apply_to_the_status_subresource(api: Api) -> None:
    assert _apply(api, _deployment())[0] == 201
    status = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
              "spec": {"replicas": 9}, "status": {"observedGeneration": 1}}  # fmt: skip
    raw = yaml.safe_dump(status).encode()
    code, applied = api.call("PATCH", f"{DEPLOYS}/web/status", raw=raw, content_type=APPLY,
                             fieldManager="ctrl")  # fmt: skip
    assert code == 200, applied
    assert applied["status"]["observedGeneration"] == 1 and applied["spec"]["replicas"] == 1
    entry = _entries(applied)["ctrl"]
    assert (entry["operation"], entry["subresource"]) == ("Apply", "status")
    assert entry["fieldsV1"] == {"f:status": {"f:observedGeneration": {}}}


def test_a_resource_version_in_the_configuration_is_a_precondition(api: Api) -> None:
    code, created = _apply(api, _deployment())
    assert code == 201
    stale = _deployment(2)
    stale["metadata"]["resourceVersion"] = str(int(created["metadata"]["resourceVersion"]) - 1)
    code, status = _apply(api, stale)
    assert code == 409
    assert status["message"] == (
        'Operation cannot be fulfilled on deployments.apps "web": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    stale["metadata"]["resourceVersion"] = created["metadata"]["resourceVersion"]
    assert _apply(api, stale)[0] == 200
