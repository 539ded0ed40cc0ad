"""tkctl over DaemonSets against the real API server (Flask over Redis, served over HTTP) with
the DaemonSet controller stepped by the test: ``get ds`` and ``describe ds`` as kubectl prints
them, and ``rollout status|history|undo|restart ds/NAME`` over its ControllerRevisions."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.appsfake import PODS
from tests.integration.daemonsfake import DAEMONSETS, REVISIONS, Daemons
from tests.integration.test_tkctl_apps import tk  # noqa: F401  (the tkctl fixture)

MANIFEST = """apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: logs
spec:
  selector:
    matchLabels: {app: logs}
  template:
    metadata:
      labels: {app: logs}
    spec:
      containers:
      - name: main
        image: tinykube/sleeper:1
"""


@pytest.fixture
def cluster(app: Any) -> Daemons:
    return Daemons(app.extensions["tinykube"]["registry"])


def images(cluster: Daemons) -> set[str]:
    return {p["spec"]["containers"][0]["image"] for p in cluster.live()}


def test_get_describe_and_rollout(tk: Any, cluster: Daemons) -> None:  # noqa: F811
    r = tk("apply", "-f", "-", input=MANIFEST)
    assert r.exit_code == 0 and r.stdout == "daemonset.apps/logs created\n", r.output
    r = tk("rollout", "status", "ds/logs", "--watch=false")
    assert r.stdout == "Waiting for daemon set spec update to be observed...\n"
    cluster.settle(cluster.rolled_out)
    lines = tk("get", "ds").stdout.splitlines()
    assert lines[0].split() == ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE",
                                "AVAILABLE", "NODE", "SELECTOR", "AGE"]  # fmt: skip
    assert lines[1].split()[:7] == ["logs", "3", "3", "3", "3", "3", "<none>"]
    described = tk("describe", "daemonset", "logs").stdout
    for line in ("Node-Selector:  <none>", "Desired Number of Nodes Scheduled: 3",
                 "Number of Nodes Scheduled with Up-to-date Pods: 3",
                 "Number of Nodes Misscheduled: 0",
                 "Pods Status:  3 Running / 0 Waiting / 0 Succeeded / 0 Failed",
                 "    Image:         tinykube/sleeper:1"):  # fmt: skip
        assert line in described.splitlines(), described
    assert "SuccessfulCreate" in described
    r = tk("rollout", "status", "daemonset/logs")
    assert r.stdout == 'daemon set "logs" successfully rolled out\n'

    r = tk("set", "image", "ds/logs", "main=tinykube/web:1")
    assert r.exit_code == 0, r.output
    cluster.settle(lambda: cluster.rolled_out() and images(cluster) == {"tinykube/web:1"})
    r = tk("rollout", "history", "ds/logs")
    assert r.stdout == (
        "daemonset.apps/logs \nREVISION  CHANGE-CAUSE\n1         <none>\n2         <none>\n\n"
    )
    r = tk("rollout", "history", "ds/logs", "--revision=1")
    assert r.stdout.startswith("daemonset.apps/logs with revision #1\nPod Template:\n")
    assert "tinykube/sleeper:1" in r.stdout
    r = tk("rollout", "undo", "ds/logs")
    assert r.stdout == "daemonset.apps/logs rolled back\n", r.output
    cluster.settle(lambda: cluster.rolled_out() and images(cluster) == {"tinykube/sleeper:1"})
    revisions = sorted(r["revision"] for r in cluster.items(REVISIONS))
    assert revisions == [2, 3]
    r = tk("rollout", "undo", "ds/logs", "--to-revision=3")
    assert r.stdout == (
        "daemonset.apps/logs skipped rollback (current template already matches revision 3)\n"
    )
    r = tk("rollout", "undo", "ds/logs", "--to-revision=7")
    assert r.exit_code == 1
    assert r.stderr == "error: unable to find specified revision 7 in history\n"

    before = {p["metadata"]["name"] for p in cluster.items(PODS)}
    r = tk("rollout", "restart", "ds/logs")
    assert r.stdout == "daemonset.apps/logs restarted\n"
    cluster.settle(lambda: cluster.rolled_out() and not before & {
        p["metadata"]["name"] for p in cluster.live()})  # fmt: skip


def test_rollout_status_needs_rolling_update(tk: Any, cluster: Daemons) -> None:  # noqa: F811
    tk("apply", "-f", "-", input=MANIFEST.replace("spec:\n  selector", "spec:\n  updateStrategy:"
                                                   " {type: OnDelete}\n  selector", 1))  # fmt: skip
    ds = cluster.get(DAEMONSETS, "logs")
    assert ds is not None and ds["spec"]["updateStrategy"] == {"type": "OnDelete"}
    r = tk("rollout", "status", "ds/logs")
    assert r.exit_code == 1
    assert r.stderr == "error: rollout status is only available for RollingUpdate strategy type\n"
