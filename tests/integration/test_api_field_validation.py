"""fieldValidation on writes over HTTP: kube-apiserver's Strict, Warn and Ignore, and the 422 for
another value."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import Api, pod_manifest

PODS = "/api/v1/namespaces/default/pods"


def with_unknown_field(name: str) -> dict[str, Any]:
    pod = pod_manifest(name)
    pod["spec"]["containers"][0]["bogus"] = 1
    return pod


def write(api: Api, method: str, path: str, body: Any, **query: str) -> tuple[int, Any, list[str]]:
    content_type = "application/merge-patch+json" if method == "PATCH" else "application/json"
    resp = api.client.open(
        path, method=method, json=body, query_string=query,
        headers={**api.headers, "Content-Type": content_type},
    )  # fmt: skip
    return resp.status_code, resp.get_json(), resp.headers.getlist("Warning")


def test_strict_rejects_unknown_fields(api: Api) -> None:
    for query in ({}, {"fieldValidation": "Strict"}):
        code, status, _ = write(api, "POST", PODS, with_unknown_field("a"), **query)
        assert (code, status["reason"]) == (400, "BadRequest")
        assert status["message"].endswith('strict decoding error: unknown field '
                                          '"spec.containers[0].bogus"')  # fmt: skip


def test_warn_drops_them_with_a_warning(api: Api) -> None:
    code, pod, warnings = write(api, "POST", PODS, with_unknown_field("a"), fieldValidation="Warn")
    assert code == 201
    assert "bogus" not in pod["spec"]["containers"][0]
    assert warnings == ['299 - "unknown field \\"spec.containers[0].bogus\\""']
    patch = {"metadata": {"labels": {"x": "y"}, "nope": 1}}
    code, pod, warnings = write(api, "PATCH", f"{PODS}/a", patch, fieldValidation="Warn")
    assert (code, pod["metadata"]["labels"]["x"]) == (200, "y")
    assert warnings == ['299 - "unknown field \\"metadata.nope\\""']


def test_ignore_drops_them_silently(api: Api) -> None:
    code, pod, warnings = write(
        api, "POST", PODS, with_unknown_field("a"), fieldValidation="Ignore"
    )
    assert (code, warnings) == (201, [])
    pod["spec"]["containers"][0]["bogus"] = 2
    code, _, warnings = write(api, "PUT", f"{PODS}/a", pod, fieldValidation="Ignore")
    assert (code, warnings) == (200, [])


@pytest.mark.parametrize(("method", "options"), [("POST", "CreateOptions"),
                                                 ("PATCH", "PatchOptions")])  # fmt: skip
def test_another_value_is_invalid(api: Api, method: str, options: str) -> None:
    path = PODS if method == "POST" else f"{PODS}/a"
    if method == "PATCH":
        api.call("POST", PODS, pod_manifest("a"))
    code, status, _ = write(api, method, path, pod_manifest("a"), fieldValidation="Loose")
    assert (code, status["reason"]) == (422, "Invalid")
    assert status["message"] == (
        f'{options}.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "Loose": '
        'supported values: "", "Ignore", "Strict", "Warn"'
    )
