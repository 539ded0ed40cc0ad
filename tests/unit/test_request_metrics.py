# ruff: noqa: E501  (one request per line reads as a table)
"""The labels the API server's request metrics give each request (kube-apiserver's
RequestInfo, cleaned as its metrics do)."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from control.apiserver.metrics import Info, request_info

NS = "/api/v1/namespaces/default"
V1 = ("", "v1")  # group, version of the core API


@pytest.mark.parametrize(
    ("method", "path", "args", "ctype", "want"),
    [
        ("GET", f"{NS}/pods", {}, "", Info("LIST", "", *V1, "pods", "", "namespace")),
        ("GET", "/api/v1/pods", {"watch": "true"}, "", Info("WATCH", "", *V1, "pods", "", "cluster")),
        ("GET", f"{NS}/pods/web", {}, "", Info("GET", "", *V1, "pods", "", "resource")),
        ("GET", f"{NS}/pods/web/log", {}, "", Info("GET", "", *V1, "pods", "log", "resource")),
        ("POST", f"{NS}/pods/web/exec", {}, "", Info("CONNECT", "", *V1, "pods", "exec", "resource")),
        ("POST", f"{NS}/pods", {"dryRun": "All"}, "", Info("POST", "All", *V1, "pods", "", "namespace")),
        ("PATCH", "/apis/apps/v1/namespaces/d/deployments/x", {}, "application/apply-patch+yaml",
         Info("APPLY", "", "apps", "v1", "deployments", "", "resource")),
        ("DELETE", f"{NS}/pods", {}, "", Info("DELETECOLLECTION", "", *V1, "pods", "", "namespace")),
        ("DELETE", f"{NS}/pods/x", {}, "", Info("DELETE", "", *V1, "pods", "", "resource")),
        ("GET", "/api/v1/nodes", {}, "", Info("LIST", "", *V1, "nodes", "", "cluster")),
        ("GET", "/healthz", {}, "", Info("GET")),
        ("GET", "/api/v1/namespaces/default/made-up", {}, "", Info("GET")),
        ("PUT", "/apis/nothing.example/v1/things/x", {}, "", Info("PUT")),
    ],
)  # fmt: skip
def test_request_info(method: str, path: str, args: dict[str, str], ctype: str, want: Info) -> None:
    assert request_info(method, path, MultiDict(args), ctype) == want
