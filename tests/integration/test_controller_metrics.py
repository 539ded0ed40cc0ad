"""The controller process's /metrics: Prometheus text with its work queues, for the admins of
the token file only (401 without a known token, 403 for a node), and a taken port is not fatal."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

from common.workqueue import WorkQueue
from control import metricsserver

TOKENS = "admin-token,admin,admin,system:masters\nnode-token,system:node:n1,n1,system:nodes\n"


def get(url: str, token: str | None) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_metrics_for_admins_only(tmp_path: Path) -> None:
    (tmp_path / "tokens.csv").write_text(TOKENS)
    server = metricsserver.start("127.0.0.1:0", tmp_path / "tokens.csv")
    assert server is not None
    base = f"http://127.0.0.1:{server.port}"
    try:
        queue = WorkQueue(name="probe-controller")
        queue.add("default/web")
        assert get(f"{base}/healthz", None) == (200, "ok")
        assert get(f"{base}/metrics", None)[0] == 401
        assert get(f"{base}/metrics", "wrong")[0] == 401
        code, body = get(f"{base}/metrics", "node-token")
        assert code == 403
        assert json.loads(body)["message"] == (
            'forbidden: User "system:node:n1" cannot get path "/metrics"'
        )
        code, text = get(f"{base}/metrics", "admin-token")
        assert code == 200
        assert 'workqueue_adds_total{name="probe-controller"} 1.0' in text
        assert "process_resident_memory_bytes" in text
        assert get(f"{base}/other", "admin-token")[0] == 404
    finally:
        server.stop()


def test_a_taken_port_or_no_address_serves_nothing(tmp_path: Path) -> None:
    first = metricsserver.start("127.0.0.1:0", None)
    assert first is not None
    try:
        assert metricsserver.start(f"127.0.0.1:{first.port}", None) is None
        assert metricsserver.start("", None) is None
    finally:
        first.stop()
