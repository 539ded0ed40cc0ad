"""batch/v1 Jobs over the real API server and Redis: discovery, defaults and the generated
selector, validation messages (nothing stored on bad input), the immutable template, the status
subresource and the ``status.successful`` field selector."""

from __future__ import annotations

import copy
from typing import Any

from tests.integration.conftest import Api

JOBS = "/apis/batch/v1/namespaces/default/jobs"


def job(name: str = "pi", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "pi", "image": "tinykube/sleeper:1"}],
                }
            },
            **spec,
        },
    }


def test_discovery_lists_batch_v1_jobs(api: Api) -> None:
    code, groups = api.call("GET", "/apis")
    assert code == 200
    assert "batch" in [g["name"] for g in groups["groups"]]
    code, resources = api.call("GET", "/apis/batch/v1")
    assert code == 200
    names = {r["name"]: r for r in resources["resources"]}
    assert names["jobs"]["kind"] == "Job" and names["jobs"]["namespaced"] is True
    assert "jobs/status" in names


def test_create_defaults_and_generates_the_selector(api: Api) -> None:
    body = job()
    body["status"] = {"succeeded": 9}
    code, obj = api.call("POST", JOBS, body)
    assert code == 201, obj
    uid = obj["metadata"]["uid"]
    spec = obj["spec"]
    assert (spec["completions"], spec["parallelism"], spec["backoffLimit"]) == (1, 1, 6)
    assert spec["completionMode"] == "NonIndexed" and spec["suspend"] is False
    assert spec["podReplacementPolicy"] == "TerminatingOrFailed"
    assert spec["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    assert spec["template"]["metadata"]["labels"]["job-name"] == "pi"
    assert obj["metadata"]["labels"]["batch.kubernetes.io/job-name"] == "pi"
    assert obj["status"] == {}


def test_bad_jobs_get_422_and_store_nothing(api: Api) -> None:
    bad = job()
    bad["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    code, status = api.call("POST", JOBS, bad)
    assert code == 422
    assert status["message"] == (
        'Job.batch "pi" is invalid: spec.template.spec.restartPolicy: Required value: '
        'valid values: "OnFailure", "Never"'
    )
    code, status = api.call("POST", JOBS, job(completionz=1))
    assert code == 400
    assert api.call("GET", f"{JOBS}/pi")[0] == 404


def test_the_template_is_immutable_and_suspend_is_not(api: Api) -> None:
    code, obj = api.call("POST", JOBS, job())
    assert code == 201
    changed = copy.deepcopy(obj)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "tinykube/web:1"
    code, status = api.call("PUT", f"{JOBS}/pi", changed)
    assert code == 422
    assert status["details"]["causes"][0]["field"] == "spec.template"
    assert status["message"].endswith("field is immutable")
    obj["spec"]["suspend"] = True
    code, updated = api.call("PUT", f"{JOBS}/pi", obj)
    assert code == 200, updated
    assert updated["spec"]["suspend"] is True


def test_status_subresource_and_field_selector(api: Api) -> None:
    code, obj = api.call("POST", JOBS, job())
    assert code == 201
    obj["status"] = {"succeeded": 1, "active": 0}
    code, updated = api.call("PUT", f"{JOBS}/pi/status", obj)
    assert code == 200, updated
    assert updated["status"]["succeeded"] == 1
    updated["status"]["succeeded"] = 0
    code, status = api.call("PUT", f"{JOBS}/pi/status", updated)
    assert code == 422
    assert "cannot decrease the succeeded counter" in status["message"]
    code, listed = api.call("GET", JOBS, fieldSelector="status.successful=1")
    assert [j["metadata"]["name"] for j in listed["items"]] == ["pi"]
    code, listed = api.call("GET", JOBS, fieldSelector="status.successful=0")
    assert listed["items"] == []


def test_kubectl_table_has_the_job_columns(api: Api) -> None:
    assert api.call("POST", JOBS, job())[0] == 201
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    resp = api.client.get(JOBS, headers={**api.headers, "Accept": accept})
    table = resp.get_json()
    assert resp.status_code == 200 and table["kind"] == "Table"
    names = [c["name"] for c in table["columnDefinitions"] if c["priority"] == 0]
    assert names == ["Name", "Status", "Completions", "Duration", "Age"]
    assert table["rows"][0]["cells"][:4] == ["pi", "Running", "0/1", ""]
