"""``pods/NAME/ephemeralcontainers`` as kube-apiserver serves it: GET gives the pod, PUT and
PATCH change only ``spec.ephemeralContainers``, entries are only added, each validated as an
EphemeralContainer (no ports, probes, resources or lifecycle) and defaulted."""

from __future__ import annotations

from typing import Any

from tests.integration.conftest import Api, pod_manifest

PODS = "/api/v1/namespaces/default/pods"
SUB = f"{PODS}/web/ephemeralcontainers"
SMP = "application/strategic-merge-patch+json"


def debugger(name: str = "debugger-1", **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": "tinykube/sleeper:1", "stdin": True, "tty": True, **extra}


def add(api: Api, *containers: dict[str, Any]) -> tuple[int, Any]:
    patch = {"spec": {"ephemeralContainers": list(containers)}}
    return api.call("PATCH", SUB, patch, content_type=SMP)


def test_get_and_add_with_a_strategic_merge_patch(api: Api) -> None:
    api.call("POST", PODS, pod_manifest("web"))
    code, pod = api.call("GET", SUB)
    assert (code, pod["kind"], pod["metadata"]["name"]) == (200, "Pod", "web")
    code, pod = add(api, debugger(targetContainerName="web"))
    assert code == 200, pod
    (made,) = pod["spec"]["ephemeralContainers"]
    assert made == {
        **debugger(targetContainerName="web"),
        "imagePullPolicy": "IfNotPresent",
        "resources": {},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    }
    code, pod = add(api, debugger("debugger-2"))
    assert code == 200
    names = [c["name"] for c in pod["spec"]["ephemeralContainers"]]
    assert names == ["debugger-1", "debugger-2"]


def test_only_ephemeral_containers_change(api: Api) -> None:
    api.call("POST", PODS, pod_manifest("web"))
    _, pod = api.call("GET", SUB)
    pod["spec"]["ephemeralContainers"] = [debugger()]
    pod["spec"]["containers"][0]["image"] = "tinykube/other:1"
    pod["metadata"]["labels"] = {"changed": "yes"}
    code, put = api.call("PUT", SUB, pod)
    assert code == 200, put
    assert put["spec"]["containers"][0]["image"] == "tinykube/web:1"
    assert put["metadata"]["labels"] == {"app": "web"}
    assert [c["name"] for c in put["spec"]["ephemeralContainers"]] == ["debugger-1"]


def test_existing_entries_are_neither_removed_nor_changed(api: Api) -> None:
    api.call("POST", PODS, pod_manifest("web"))
    add(api, debugger())
    _, pod = api.call("GET", SUB)
    pod["spec"]["ephemeralContainers"] = []
    code, status = api.call("PUT", SUB, pod)
    assert (code, status["reason"]) == (422, "Invalid")
    assert status["message"] == (
        'Pod "web" is invalid: spec.ephemeralContainers: Forbidden: existing ephemeral '
        'containers "debugger-1" may not be removed\n'
    )
    _, pod = api.call("GET", SUB)
    pod["spec"]["ephemeralContainers"][0]["image"] = "tinykube/web:1"
    code, status = api.call("PUT", SUB, pod)
    assert code == 422
    assert 'existing ephemeral containers "debugger-1" may not be changed' in status["message"]


def test_what_an_ephemeral_container_may_not_set(api: Api) -> None:
    api.call("POST", PODS, pod_manifest("web"))
    bad = debugger(
        "web",
        ports=[{"containerPort": 80}],
        resources={"limits": {"cpu": "1"}},
        readinessProbe={"exec": {"command": ["true"]}},
        lifecycle={"postStart": {"exec": {"command": ["true"]}}},
        targetContainerName="nope",
        volumeMounts=[{"name": "v", "mountPath": "/v", "subPath": "x"}],
    )
    code, status = add(api, bad)
    assert (code, status["reason"]) == (422, "Invalid")
    fields = [c["field"] for c in status["details"]["causes"]]
    for path in (
        "spec.ephemeralContainers[0].name",  # a duplicate of a regular container's name
        "spec.ephemeralContainers[0].targetContainerName",
        "spec.ephemeralContainers[0].ports",
        "spec.ephemeralContainers[0].resources",
        "spec.ephemeralContainers[0].readinessProbe",
        "spec.ephemeralContainers[0].lifecycle",
        "spec.ephemeralContainers[0].volumeMounts[0].subPath",
    ):
        assert path in fields, status["message"]
    messages = status["message"]
    assert "spec.ephemeralContainers[0].ports: Forbidden: cannot be set for an Ephemeral " in (
        messages
    )
    assert 'spec.ephemeralContainers[0].name: Duplicate value: "web"' in messages
    assert 'spec.ephemeralContainers[0].targetContainerName: Not found: "nope"' in messages
    _, pod = api.call("GET", f"{PODS}/web")
    assert "ephemeralContainers" not in pod["spec"]  # nothing stored


def test_a_plain_update_may_not_add_one_and_create_may_not_set_one(api: Api) -> None:
    manifest = pod_manifest("web")
    manifest["spec"]["ephemeralContainers"] = [debugger()]
    code, status = api.call("POST", PODS, manifest)
    assert code == 422
    assert "spec.ephemeralContainers: Forbidden: cannot be set on create" in status["message"]
    api.call("POST", PODS, pod_manifest("web"))
    code, status = api.call("PATCH", f"{PODS}/web", {"spec": {"ephemeralContainers": [debugger()]}},
                            content_type=SMP)  # fmt: skip
    assert code == 422
    assert "pod updates may not change fields other than" in status["message"]


def test_other_methods_and_a_missing_pod(api: Api) -> None:
    code, status = api.call("POST", SUB, {})
    assert code in (404, 405), status
    code, status = add(api, debugger())
    assert (code, status["reason"]) == (404, "NotFound")
    assert status["details"] == {"name": "web", "kind": "pods"}
    api.call("POST", PODS, pod_manifest("web"))
    code, status = api.call("DELETE", SUB)
    assert (code, status["reason"]) == (405, "MethodNotAllowed")
    code, status = api.call("PATCH", SUB, "not an object", content_type=SMP)
    assert code == 400
