"""Server-side printing: the Table kube-apiserver answers for each resource type, and the
negotiation that decides between a Table, plain JSON and 406."""

from __future__ import annotations

import datetime as dt

import pytest

from common import errors
from common.resources import ResourceType, must
from control.apiserver.negotiation import NOT_ACCEPTABLE, MediaType, negotiate
from control.apiserver.tables import check_include_object, to_table

NOW = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)
KUBECTL_GET = (
    "application/json;as=Table;v=v1;g=meta.k8s.io,"
    "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
)


def pod(name: str = "web", phase: str = "Running", **status: object) -> dict[str, object]:
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {"name": name, "namespace": "default", "resourceVersion": "7",
                     "creationTimestamp": "2026-01-01T11:55:00Z", "labels": {"app": "web"}},
        "spec": {"nodeName": "node-1", "containers": [{"name": "web", "image": "tinykube/web:1"}]},
        "status": {"phase": phase, "podIP": "10.244.0.5", **status,
                   "containerStatuses": [{"name": "web", "ready": phase == "Running",
                                          "restartCount": 2, "state": {"running": {}},
                                          "lastState": {"terminated": {
                                              "finishedAt": "2026-01-01T11:58:00Z"}}}]},
    }  # fmt: skip


def pod_list(*items: dict[str, object]) -> dict[str, object]:
    return {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "42"},
            "items": list(items)}  # fmt: skip


def test_pod_list_table_has_kubectl_columns_and_cells() -> None:
    table = to_table(must("pods"), pod_list(pod()), NOW)
    assert (table["kind"], table["apiVersion"]) == ("Table", "meta.k8s.io/v1")
    assert table["metadata"] == {"resourceVersion": "42"}
    cols = table["columnDefinitions"]
    assert [c["name"] for c in cols] == [
        "Name", "Ready", "Status", "Restarts", "Age",
        "IP", "Node", "Nominated Node", "Readiness Gates",
    ]  # fmt: skip
    assert [c["priority"] for c in cols] == [0] * 5 + [1] * 4
    assert set(cols[0]) == {"name", "type", "format", "description", "priority"}
    (row,) = table["rows"]
    assert row["cells"] == [
        "web", "1/1", "Running", "2 (2m ago)", "5m", "10.244.0.5", "node-1", "<none>", "<none>",
    ]  # fmt: skip
    assert "conditions" not in row


def test_rows_carry_partial_metadata_by_default() -> None:
    table = to_table(must("pods"), pod_list(pod()), NOW)
    obj = table["rows"][0]["object"]
    assert obj["kind"] == "PartialObjectMetadata"
    assert obj["apiVersion"] == "meta.k8s.io/v1"
    assert obj["metadata"]["labels"] == {"app": "web"}
    assert set(obj) == {"kind", "apiVersion", "metadata"}


@pytest.mark.parametrize(
    ("include", "expected"),
    [("Object", "Pod"), ("None", None), ("Metadata", "PartialObjectMetadata")],
)
def test_include_object(include: str, expected: str | None) -> None:
    row = to_table(must("pods"), pod(), NOW, include=include)["rows"][0]
    assert (row["object"] or {}).get("kind") == expected
    if include == "Object":
        assert row["object"]["spec"]["nodeName"] == "node-1"


def test_include_object_is_validated() -> None:
    assert check_include_object("") == "Metadata"
    with pytest.raises(errors.BadRequestError, match='Unsupported value: "All"'):
        check_include_object("All")


def test_one_object_and_v1beta1_and_no_headers() -> None:
    table = to_table(must("pods"), pod(), NOW, version="v1beta1", headers=False)
    assert table["apiVersion"] == "meta.k8s.io/v1beta1"
    assert table["metadata"] == {"resourceVersion": "7"}
    assert table["columnDefinitions"] is None
    assert len(table["rows"]) == 1
    assert table["rows"][0]["object"]["apiVersion"] == "meta.k8s.io/v1beta1"
    with pytest.raises(errors.NotAcceptableError):
        to_table(must("pods"), pod(), NOW, version="v2")


def test_finished_pods_are_completed_rows() -> None:
    rows = to_table(must("pods"), pod_list(pod("a", "Succeeded"), pod("b", "Failed")), NOW)["rows"]
    assert [r["conditions"][0]["reason"] for r in rows] == ["Succeeded", "Failed"]
    assert rows[0]["conditions"][0] == {
        "type": "Completed", "status": "True", "reason": "Succeeded",
        "message": "The pod has completed successfully.",
    }  # fmt: skip


def test_integer_cells_are_numbers_as_kube_apiserver_prints_them() -> None:
    rs = {
        "metadata": {"name": "web-1", "creationTimestamp": "2026-01-01T11:00:00Z"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}},
        "status": {"replicas": 3, "readyReplicas": 2},
    }
    rs_row = to_table(must("rs"), rs, NOW)["rows"][0]["cells"]
    assert rs_row[:5] == ["web-1", 3, 3, 2, "60m"]
    deploy = {**rs, "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}}
    assert to_table(must("deploy"), deploy, NOW)["rows"][0]["cells"][:5] == [
        "web-1", "2/3", 3, 2, "60m",
    ]  # fmt: skip
    event = {"metadata": {"name": "e1"}, "count": 4, "involvedObject": {"kind": "Pod"}}
    assert to_table(must("events"), event, NOW)["rows"][0]["cells"][8] == 4


def test_other_types_columns() -> None:
    lease = {"metadata": {"name": "node-1", "creationTimestamp": "2026-01-01T11:59:00Z"},
             "spec": {"holderIdentity": "node-1"}}  # fmt: skip
    table = to_table(must("leases"), lease, NOW)
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Holder", "Age"]
    assert table["rows"][0]["cells"] == ["node-1", "node-1", "60s"]
    node = {"metadata": {"name": "n1"}, "status": {"conditions": [{"type": "Ready",
            "status": "True"}], "nodeInfo": {"kubeletVersion": "v1.35.0"}}}  # fmt: skip
    assert to_table(must("nodes"), node, NOW)["rows"][0]["cells"][:5] == [
        "n1", "Ready", "<none>", "<unknown>", "v1.35.0",
    ]  # fmt: skip


def test_a_type_without_printer_gets_name_and_created_at() -> None:
    widgets = ResourceType("Widget", "widgets", "widget", "example.com", "v1", True)
    obj = {"metadata": {"name": "w", "creationTimestamp": "2026-01-01T11:00:00Z"}}
    table = to_table(widgets, obj, NOW)
    assert [(c["name"], c["type"]) for c in table["columnDefinitions"]] == [
        ("Name", "string"), ("Created At", "date"),
    ]  # fmt: skip
    assert table["rows"][0]["cells"] == ["w", "2026-01-01T11:00:00Z"]


# -- negotiation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "table_ok", "expected"),
    [
        ("", True, MediaType()),
        ("*/*", True, MediaType()),
        ("application/json", True, MediaType()),
        ("application/yaml", True, MediaType("application/yaml")),
        (KUBECTL_GET, True, MediaType(table_version="v1")),
        ("application/json;as=Table;v=v1beta1;g=meta.k8s.io", True, MediaType("application/json",
                                                                             "v1beta1")),
        # The endpoint has no Table (scale, binding): kubectl's list falls back to JSON.
        (KUBECTL_GET, False, MediaType()),
        # An unknown transformation is skipped, like an unknown version of Table.
        ("application/json;as=Foo;v=v1;g=meta.k8s.io,application/json", True, MediaType()),
        ("application/json;as=Table;v=v9;g=meta.k8s.io,application/yaml", True,
         MediaType("application/yaml")),
        ("application/vnd.kubernetes.protobuf,application/json", True, MediaType()),
        ("application/json;q=0.5,application/yaml", True, MediaType("application/yaml")),
    ],
)  # fmt: skip
def test_negotiate(accept: str, table_ok: bool, expected: MediaType) -> None:
    assert negotiate(accept, table_ok) == expected


@pytest.mark.parametrize(
    ("accept", "table_ok"),
    [
        ("application/json;as=Table;v=v1;g=meta.k8s.io", False),
        ("application/json;as=Foo;v=v1;g=meta.k8s.io", True),
        ("application/vnd.kubernetes.protobuf", True),
        ("text/html", True),
        ("application/json;q=0", True),
    ],
)
def test_not_acceptable(accept: str, table_ok: bool) -> None:
    with pytest.raises(errors.NotAcceptableError) as info:
        negotiate(accept, table_ok)
    assert info.value.message == NOT_ACCEPTABLE
    assert info.value.to_status()["code"] == 406
