"""A CronJob on real Docker, firing every minute with ``concurrencyPolicy: Forbid``: the first
scheduled time starts one Job (named after its minute, annotated, owned) whose pod runs; the
next minute finds it still running and starts nothing (``JobAlreadyActive``); ``get cronjobs``
shows kubectl's columns and ``create job --from=cronjob/NAME`` makes a Job by hand."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from common import meta
from tests.e2e.conftest import Cluster, wait_for

NAMESPACE = "cronjobs-e2e"
NS = ("-n", NAMESPACE)

CRONJOB = """\
apiVersion: batch/v1
kind: CronJob
metadata: {name: tick, namespace: cronjobs-e2e}
spec:
  schedule: "*/1 * * * *"
  concurrencyPolicy: Forbid
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 0
          containers:
          - name: tick
            image: tinykube/sleeper:1
            command: ["sh", "-c", "echo tick; sleep 3600"]
"""


def _jobs(cluster: Cluster) -> list[dict[str, Any]]:
    return list(cluster.json("get", "jobs", *NS)["items"])


def _reasons(cluster: Cluster) -> list[str]:
    return [e.get("reason", "") for e in cluster.json("get", "events", *NS)["items"]]


def test_cronjob_every_minute_with_forbid(cluster: Cluster) -> None:
    cluster.tkctl("create", "namespace", NAMESPACE)
    cluster.tkctl("apply", "-f", "-", stdin=CRONJOB)
    (job,) = wait_for("the first scheduled Job", lambda: _jobs(cluster), timeout=100, every=1)
    name = job["metadata"]["name"]
    assert re.fullmatch(r"tick-\d+", name)
    stamp = job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
    scheduled = meta.parse_time(stamp)
    assert scheduled is not None and int(scheduled.timestamp()) // 60 == int(name[5:])
    owner = job["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("CronJob", "tick", True)

    def running_pod() -> str:
        pods = cluster.json("get", "pods", *NS, "-l", f"job-name={name}")["items"]
        ok = [p for p in pods if p["status"].get("phase") == "Running"]
        return str(ok[0]["metadata"]["name"]) if ok else ""

    pod = wait_for("the Job's pod to run", running_pod, timeout=90, every=1)
    logs = wait_for("its output", lambda: cluster.tkctl("logs", pod, *NS).stdout, timeout=30)
    assert logs == "tick\n"
    status = cluster.json("get", "cronjob", "tick", *NS)["status"]
    assert [a["name"] for a in status["active"]] == [name]
    assert status["lastScheduleTime"] == stamp
    table = cluster.tkctl("get", "cronjobs", *NS).stdout.splitlines()
    assert table[0].split() == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST",
                                "SCHEDULE", "AGE"]  # fmt: skip
    assert table[1].split()[:7] == ["tick", "*/1", "*", "*", "*", "*", "<none>"]
    assert table[1].split()[7:9] == ["False", "1"]

    # The next minute: the Job still runs, so Forbid starts nothing.
    wait_for("the next minute to be skipped", lambda: "JobAlreadyActive" in _reasons(cluster),
             timeout=100, every=1)  # fmt: skip
    assert dt.datetime.now(dt.UTC) > scheduled + dt.timedelta(minutes=1)
    assert [j["metadata"]["name"] for j in _jobs(cluster)] == [name]

    out = cluster.tkctl("create", "job", "by-hand", "--from=cronjob/tick", *NS).stdout
    assert out == "job.batch/by-hand created\n"
    manual = cluster.json("get", "job", "by-hand", *NS)
    assert manual["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    cluster.tkctl("delete", "namespace", NAMESPACE, "--wait=false")
