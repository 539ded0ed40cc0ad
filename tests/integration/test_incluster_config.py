"""The kubernetes Python client's ``load_incluster_config()`` over the files a pod gets (token,
ca.crt, the Service variables) against the real app served over HTTPS with the cluster's kind of
CA: the client verifies the server and is the pod's service account. Skipped where the client is
not installed (it is not a dependency of tinykube)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from control import tls
from tests.integration.conftest import Api, pod_manifest
from tests.integration.test_api_serviceaccounts import PODS, SA, admin_api, issuer, sa_app

kubernetes = pytest.importorskip("kubernetes")

__all__ = ["admin_api", "issuer", "sa_app"]  # fixtures


@pytest.fixture
def https(sa_app: Any, tmp_path: Path) -> Iterator[tuple[int, Path]]:
    now = dt.datetime.now(dt.UTC)
    ca_pem, ca_key = tls.make_ca(now)
    cert, key = tls.make_serving(ca_pem, ca_key, ["127.0.0.1"], now)
    (tmp_path / "ca.crt").write_bytes(ca_pem)
    (tmp_path / "tls.crt").write_bytes(cert)
    (tmp_path / "tls.key").write_bytes(key)
    pair = (str(tmp_path / "tls.crt"), str(tmp_path / "tls.key"))
    httpd = make_server("127.0.0.1", 0, sa_app, threaded=True, ssl_context=pair)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        yield httpd.server_port, tmp_path
    finally:
        httpd.shutdown()
        t.join(timeout=5)


def test_load_incluster_config_from_the_pod_files(admin_api: Api, https: tuple[int, Path]) -> None:
    port, files = https
    assert admin_api.call("GET", f"{SA}/default")[0] == 200  # made with the namespace
    code, pod = admin_api.call("POST", PODS, pod_manifest("web"))
    assert code == 201
    ref = {"kind": "Pod", "name": "web", "uid": pod["metadata"]["uid"]}
    code, answer = admin_api.call(
        "POST", f"{SA}/default/token", {"spec": {"boundObjectRef": ref, "expirationSeconds": 3607}}
    )
    assert code == 201
    (files / "token").write_text(answer["status"]["token"])
    loader = kubernetes.config.incluster_config.InClusterConfigLoader(
        token_filename=str(files / "token"),
        cert_filename=str(files / "ca.crt"),
        environ={"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(port)},
    )
    configuration = kubernetes.client.Configuration()
    loader.load_and_set(configuration)
    with kubernetes.client.ApiClient(configuration) as client:
        pods = kubernetes.client.CoreV1Api(client).list_namespaced_pod("default")
        assert [p.metadata.name for p in pods.items] == ["web"]
        review = kubernetes.client.AuthenticationV1Api(client).create_self_subject_review(
            kubernetes.client.V1SelfSubjectReview()
        )
        assert review.status.user_info.username == "system:serviceaccount:default:default"
        with pytest.raises(kubernetes.client.ApiException) as refused:
            kubernetes.client.CoreV1Api(client).list_namespaced_pod("kube-system")
        assert refused.value.status == 403
