"""Jobs on real Docker: an Indexed Job of 5 completions, 2 at a time, whose pods each print
their index and hostname; checked through ``tkctl wait``, ``get jobs`` and the pods' logs."""

from __future__ import annotations

import json

from tests.e2e.conftest import Cluster

NAMESPACE = "jobs-e2e"
NS = ("-n", NAMESPACE)

INDEXED = """\
apiVersion: batch/v1
kind: Job
metadata: {name: indexed, namespace: jobs-e2e}
spec:
  completions: 5
  parallelism: 2
  completionMode: Indexed
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 0
      containers:
      - name: work
        image: tinykube/sleeper:1
        command: ["sh", "-c", "echo index=$JOB_COMPLETION_INDEX host=$(hostname)"]
"""


def test_indexed_job_runs_each_index_once(cluster: Cluster) -> None:
    cluster.tkctl("create", "namespace", NAMESPACE)
    cluster.tkctl("apply", "-f", "-", stdin=INDEXED)
    r = cluster.tkctl("wait", "--for=condition=complete", "job/indexed", "--timeout=150s",
                      *NS, timeout=180)  # fmt: skip
    assert r.stdout == "job.batch/indexed condition met\n"
    job = cluster.json("get", "job", "indexed", *NS)
    assert job["status"]["succeeded"] == 5
    assert job["status"]["completedIndexes"] == "0-4"
    assert job["status"].get("failed", 0) == 0
    table = cluster.tkctl("get", "jobs", *NS).stdout.splitlines()
    assert table[0].split() == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert table[1].split()[:3] == ["indexed", "Complete", "5/5"]
    pods = json.loads(cluster.tkctl("get", "pods", *NS, "-o", "json").stdout)["items"]
    assert len(pods) == 5  # one pod per index, none extra
    seen = set()
    for pod in pods:
        index = pod["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
        assert pod["status"]["phase"] == "Succeeded"
        assert "batch.kubernetes.io/job-tracking" not in (pod["metadata"].get("finalizers") or [])
        log = cluster.tkctl("logs", pod["metadata"]["name"], *NS).stdout
        assert log == f"index={index} host=indexed-{index}\n"
        seen.add(index)
    assert seen == {"0", "1", "2", "3", "4"}
    one = cluster.tkctl("logs", "job/indexed", *NS).stdout
    assert one.startswith("index=") and one.strip().split()[1].startswith("host=indexed-")
    cluster.tkctl("delete", "namespace", NAMESPACE, "--wait=false")
