"""ControllerRevisions over HTTP: created, refused with Kubernetes' messages and nothing stored,
``data`` immutable while ``revision`` may change, and the Table kubectl gets."""

from __future__ import annotations

from typing import Any

from tests.integration.conftest import Api

CRS = "/apis/apps/v1/namespaces/default/controllerrevisions"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"


def revision(name: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {"name": name},
        "data": {"spec": {"template": {"$patch": "replace"}}},
        "revision": 1,
    }
    body.update(extra)
    return body


def test_create_update_and_table(api: Api) -> None:
    status, created = api.call("POST", CRS, revision("logs-abc"))
    assert status == 201, created
    assert created["revision"] == 1 and "generation" not in created["metadata"]
    created["revision"] = 2
    status, updated = api.call("PUT", f"{CRS}/logs-abc", created)
    assert status == 200 and updated["revision"] == 2
    updated["data"] = {"other": True}
    status, body = api.call("PUT", f"{CRS}/logs-abc", updated)
    assert status == 422
    assert body["message"] == (
        'ControllerRevision.apps "logs-abc" is invalid: '
        'data: Invalid value: {"other":true}: field is immutable'
    )
    resp = api.client.get(CRS, headers={**api.headers, "Accept": TABLE})
    table = resp.get_json()
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name", "Controller", "Revision", "Age",
    ]  # fmt: skip
    assert table["rows"][0]["cells"][:3] == ["logs-abc", "<none>", 2]


def test_bad_revisions_are_refused_and_not_stored(api: Api) -> None:
    status, body = api.call("POST", CRS, revision("no-data", data=None))
    assert status == 422
    assert body["message"] == (
        'ControllerRevision.apps "no-data" is invalid: data: Required value: data is mandatory'
    )
    status, body = api.call("POST", CRS, revision("negative", revision=-1))
    assert status == 422 and "revision: Invalid value: -1" in body["message"]
    status, body = api.call("POST", CRS, revision("extra", spec={}))
    assert status == 400 and 'unknown field "spec"' in body["message"]
    status, listed = api.call("GET", CRS)
    assert status == 200 and listed["items"] == []
