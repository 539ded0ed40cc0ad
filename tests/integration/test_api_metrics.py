"""``GET /metrics`` of the API server: Prometheus text, for admins only, counting every request
with kube-apiserver's labels, and never taking a label value from an unknown path."""

from __future__ import annotations

import re

from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import Api, pod_manifest

PODS = "/api/v1/namespaces/default/pods"


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    out: dict[tuple[tuple[str, str], ...], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name:
                out[tuple(sorted(s.labels.items()))] = s.value
    return out


def count(text: str, **labels: str) -> float:
    return sum(
        v
        for k, v in samples(text, "apiserver_request_total").items()
        if labels.items() <= dict(k).items()
    )


def test_requests_are_counted_with_kubernetes_labels(api: Api) -> None:
    before = api.call("GET", "/metrics")[1]
    assert api.call("POST", PODS, pod_manifest("web"))[0] == 201
    assert api.call("GET", PODS)[0] == 200
    assert api.call("GET", f"{PODS}/web")[0] == 200
    assert api.call("GET", f"{PODS}/missing")[0] == 404
    code, text = api.call("GET", "/metrics")
    assert code == 200 and isinstance(text, str)
    pods = {"resource": "pods", "group": "", "version": "v1", "component": "apiserver"}
    expected = [("POST", "namespace", "201"), ("LIST", "namespace", "200"),
                ("GET", "resource", "200"), ("GET", "resource", "404")]  # fmt: skip
    for verb, scope, status in expected:
        labels = {**pods, "verb": verb, "scope": scope, "code": status}
        assert count(text, **labels) - count(before, **labels) == 1, labels
    durations = samples(text, "apiserver_request_duration_seconds_count")
    assert any(
        dict(k).get("verb") == "LIST" and dict(k).get("resource") == "pods" for k in durations
    )
    assert "process_resident_memory_bytes" in text


def test_unknown_paths_add_no_label_values(api: Api) -> None:
    for i in range(5):
        assert api.call("GET", f"/api/v1/made-up-{i}")[0] == 404
        assert api.call("GET", f"/apis/nothing.example/v9/things-{i}")[0] == 404
    text = api.call("GET", "/metrics")[1]
    assert not re.search(r"made-up|things-|nothing\.example", text)
    assert count(text, verb="GET", resource="", code="404") >= 10


def test_metrics_are_for_admins_only(node_api: Api) -> None:
    code, status = node_api.call("GET", "/metrics")
    assert code == 403
    assert status["reason"] == "Forbidden"
    assert status["message"] == 'forbidden: User "system:node:node-1" cannot get path "/metrics"'


def test_anonymous_gets_401(app: object) -> None:
    client = app.test_client()  # type: ignore[attr-defined]
    assert client.get("/metrics").status_code == 401
