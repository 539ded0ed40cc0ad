"""tkctl's StatefulSet commands against the real API server (Flask app over a real Redis,
served over HTTP in a thread) with the StatefulSet controller stepped by hand: get, describe,
scale and rollout status/history/undo/restart, with kubectl's words."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from werkzeug.serving import make_server

from control.cli.main import cli
from control.cli.session import Session
from control.registry.registry import Registry
from tests.integration.conftest import ADMIN_TOKEN
from tests.integration.test_statefulsets import NS, REVISIONS, STS, Harness, statefulset


@pytest.fixture
def tk(app: Any, tmp_path: Path) -> Iterator[Any]:
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    server = f"http://127.0.0.1:{httpd.server_port}"

    def run(*args: str, input: str | None = None) -> Result:
        session = Session(server=server, token=ADMIN_TOKEN, env={}, home=str(tmp_path))
        return CliRunner().invoke(cli, list(args), obj=session, input=input)

    try:
        yield run
    finally:
        httpd.shutdown()
        thread.join(10)


@pytest.fixture
def cluster(app: Any) -> Harness:
    registry: Registry = app.extensions["tinykube"]["registry"]
    return Harness(registry)


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return str(result.output)


def test_get_describe_and_scale(tk: Any, cluster: Harness) -> None:
    manifest = yaml.safe_dump(statefulset(replicas=2))
    assert ok(tk("apply", "-f", "-", input=manifest)) == "statefulset.apps/web created\n"
    cluster.bring_up(["web-0", "web-1"])
    lines = ok(tk("get", "sts")).splitlines()
    assert lines[0].split() == ["NAME", "READY", "AGE"]
    assert lines[1].split()[:2] == ["web", "2/2"]
    wide = ok(tk("get", "statefulsets", "-o", "wide")).splitlines()
    assert wide[0].split() == ["NAME", "READY", "AGE", "CONTAINERS", "IMAGES"]
    text = ok(tk("describe", "sts", "web"))
    for line in (
        "Replicas:           2 desired | 2 total",
        "Update Strategy:    RollingUpdate",
        "  Partition:        0",
        "  MaxUnavailable:   1",
        "Pods Status:        2 Running / 0 Waiting / 0 Succeeded / 0 Failed",
        "Volume Claims:",
        "  Name:          www",
        "  Capacity:      1Mi",
        "  Access Modes:  [ReadWriteOnce]",
    ):
        assert line in text, text
    assert "create Pod web-0 in StatefulSet web successful" in text
    assert ok(tk("scale", "sts", "web", "--replicas=1")) == "statefulset.apps/web scaled\n"
    assert cluster.registry.get(STS, NS, "web")["spec"]["replicas"] == 1


def _set_image(cluster: Harness, image: str) -> None:
    sts = cluster.registry.get(STS, NS, "web")
    sts["spec"]["template"]["spec"]["containers"][0]["image"] = image
    cluster.registry.replace(STS, NS, "web", sts)


def _roll(cluster: Harness) -> None:
    """Step the rolling update through: each replaced pod made Ready."""
    for _ in range(12):
        cluster.step()
        cluster.finish_deletions()
        cluster.step()
        for name in ("web-0", "web-1"):
            pods = cluster.pods()
            if name in pods and cluster.pod(name)["status"].get("phase") != "Running":
                cluster.ready(name)


def _image(cluster: Harness) -> str:
    sts = cluster.registry.get(STS, NS, "web")
    return str(sts["spec"]["template"]["spec"]["containers"][0]["image"])


def test_rollout_status_history_undo_restart(tk: Any, cluster: Harness) -> None:
    cluster.registry.create(STS, NS, statefulset(replicas=2))
    cluster.bring_up(["web-0", "web-1"])
    assert ok(tk("rollout", "status", "sts/web")) == (
        "partitioned roll out complete: 2 new pods have been updated...\n"
    )
    _set_image(cluster, "tinykube/web:2")
    _roll(cluster)
    assert [cluster.pod(n)["spec"]["containers"][0]["image"] for n in ("web-0", "web-1")] == [
        "tinykube/web:2",
        "tinykube/web:2",
    ]
    history = ok(tk("rollout", "history", "statefulset/web")).splitlines()
    assert history[0] == "statefulset.apps/web "
    assert [line.split() for line in history[1:4]] == [
        ["REVISION", "CHANGE-CAUSE"],
        ["1", "<none>"],
        ["2", "<none>"],
    ]
    one = ok(tk("rollout", "history", "sts/web", "--revision=1"))
    assert one.startswith("statefulset.apps/web with revision #1\nPod Template:")
    assert "tinykube/web:1" in one and "tinykube/web:2" not in one
    assert ok(tk("rollout", "undo", "sts/web")) == "statefulset.apps/web rolled back\n"
    assert _image(cluster) == "tinykube/web:1"
    cluster.step()
    revisions = cluster.registry.list(REVISIONS, NS)["items"]
    assert sorted(int(r["revision"]) for r in revisions) == [2, 3], "revision 1 renumbered"
    skipped = ok(tk("rollout", "undo", "sts/web", "--to-revision=3"))
    assert skipped == (
        "statefulset.apps/web skipped rollback (current template already matches revision 3)\n"
    )
    bad = tk("rollout", "undo", "sts/web", "--to-revision=9")
    assert bad.exit_code == 1
    assert "unable to find specified revision 9 in history" in bad.output
    assert ok(tk("rollout", "restart", "sts/web")) == "statefulset.apps/web restarted\n"
    annotations = cluster.registry.get(STS, NS, "web")["spec"]["template"]["metadata"]
    assert "kubectl.kubernetes.io/restartedAt" in annotations["annotations"]


def test_rollout_status_waits_and_refuses_on_delete(tk: Any, cluster: Harness) -> None:
    cluster.registry.create(STS, NS, statefulset(replicas=2))
    cluster.step()
    out = tk("rollout", "status", "sts/web", "--watch=false")
    assert ok(out) == "Waiting for 2 pods to be ready...\n"
    sts = cluster.registry.get(STS, NS, "web")
    sts["spec"]["updateStrategy"] = {"type": "OnDelete"}
    cluster.registry.replace(STS, NS, "web", sts)
    refused = tk("rollout", "status", "sts/web")
    assert refused.exit_code == 1
    assert "rollout status is only available for RollingUpdate strategy type" in refused.output
    paused = tk("rollout", "pause", "sts/web")
    assert paused.exit_code == 1
