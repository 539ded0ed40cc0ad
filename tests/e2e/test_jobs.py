"""Jobs on real Docker: an Indexed Job of 5 completions, 2 at a time, whose pods each print
their index and hostname, checked through ``tkctl wait``, ``get jobs`` and the pods' logs; and a
Job whose controller process is killed with SIGKILL in the middle, which ends with exactly its
completions, no pod more; and the real kubectl's create job, wait, get jobs and logs job/NAME."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Cluster, wait_for
from tests.e2e.test_kubectl import kubectl_bin  # noqa: F401  (the real kubectl, a fixture)
from tests.e2e.test_process_faults import children

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


@pytest.fixture(scope="module")
def namespace(cluster: Cluster) -> Iterator[str]:
    cluster.tkctl("create", "namespace", NAMESPACE)
    yield NAMESPACE
    cluster.tkctl("delete", "namespace", NAMESPACE, "--wait=false")


def test_indexed_job_runs_each_index_once(cluster: Cluster, namespace: str) -> None:
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


COUNTED = """\
apiVersion: batch/v1
kind: Job
metadata: {name: counted, namespace: jobs-e2e}
spec:
  completions: 6
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 0
      containers:
      - name: work
        image: tinykube/sleeper:1
        command: ["sh", "-c", "sleep 1; echo done"]
"""


def controller_process(cluster: Cluster) -> int:
    """The controller process: the child of the API server's master running the controllers."""
    master = cluster.state()["processes"]["control"]
    for pid in children(master):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"control.controllerprocess" in cmdline:
            return pid
    raise AssertionError("no controller process under the API server's master")


def test_a_killed_controller_process_neither_loses_nor_repeats_a_completion(
    cluster: Cluster, namespace: str
) -> None:
    cluster.tkctl("apply", "-f", "-", stdin=COUNTED)

    def succeeded() -> int:
        job = cluster.json("get", "job", "counted", *NS)
        return int(job.get("status", {}).get("succeeded") or 0)

    wait_for("a first completion", lambda: succeeded() >= 1, timeout=120)
    victim = controller_process(cluster)
    os.kill(victim, signal.SIGKILL)
    wait_for("a new controller process",
             lambda: controller_process(cluster) != victim, timeout=60)  # fmt: skip
    r = cluster.tkctl("wait", "--for=condition=complete", "job/counted", "--timeout=150s",
                      *NS, timeout=180)  # fmt: skip
    assert r.returncode == 0
    job = cluster.json("get", "job", "counted", *NS)
    assert job["status"]["succeeded"] == 6, job["status"]
    assert job["status"].get("failed", 0) == 0, job["status"]
    assert job["status"].get("uncountedTerminatedPods", {}) == {}
    pods = [
        p
        for p in json.loads(cluster.tkctl("get", "pods", *NS, "-o", "json").stdout)["items"]
        if p["metadata"]["labels"].get("job-name") == "counted"
    ]
    phases = [(p["metadata"]["name"], p["status"].get("phase")) for p in pods]
    assert len(pods) == 6, phases  # not one pod more than the completions
    assert all(p["status"]["phase"] == "Succeeded" for p in pods)


def test_the_real_kubectl_creates_waits_for_and_reads_a_job(
    cluster: Cluster,
    namespace: str,
    kubectl_bin: Path,  # noqa: F811  (the fixture imported above)
) -> None:
    def kubectl(*args: str) -> str:
        out = subprocess.run(
            [str(kubectl_bin), "--kubeconfig", str(cluster.kubeconfig), "-n", namespace, *args],
            capture_output=True, text=True, timeout=180, check=False,
        )  # fmt: skip
        assert out.returncode == 0, f"kubectl {' '.join(args)}: {out.stderr}"
        return out.stdout

    created = kubectl("create", "job", "hello", "--image=tinykube/sleeper:1",
                      "--", "sh", "-c", "echo hello from a job")  # fmt: skip
    assert created == "job.batch/hello created\n"
    waited = kubectl("wait", "--for=condition=complete", "job/hello", "--timeout=150s")
    assert waited == "job.batch/hello condition met\n"
    table = kubectl("get", "jobs", "hello").splitlines()
    assert table[0].split() == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert table[1].split()[:3] == ["hello", "Complete", "1/1"]
    assert kubectl("logs", "job/hello") == "hello from a job\n"


EARLY = """\
apiVersion: batch/v1
kind: Job
metadata: {name: early, namespace: jobs-e2e}
spec:
  completions: 3
  parallelism: 3
  completionMode: Indexed
  successPolicy:
    rules: [{succeededIndexes: "0"}]
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers:
      - name: work
        image: tinykube/sleeper:1
        command: ["sh", "-c", "if [ $JOB_COMPLETION_INDEX = 0 ]; then sleep 2; else sleep 600; fi"]
"""


def test_a_success_policy_completes_an_indexed_job_while_its_other_pods_run(
    cluster: Cluster, namespace: str
) -> None:
    cluster.tkctl("apply", "-f", "-", stdin=EARLY)
    r = cluster.tkctl("wait", "--for=condition=complete", "job/early", "--timeout=150s",
                      *NS, timeout=180)  # fmt: skip
    assert r.stdout == "job.batch/early condition met\n", r.stderr
    status = cluster.json("get", "job", "early", *NS)["status"]
    reasons = {c["type"]: (c["reason"], c["message"]) for c in status["conditions"]}
    assert reasons["SuccessCriteriaMet"] == ("SuccessPolicy", "Matched rules at index 0")
    assert reasons["Complete"] == ("SuccessPolicy", "Matched rules at index 0")
    assert (status["succeeded"], status.get("failed", 0)) == (1, 0), status
    assert (status["completedIndexes"], status["active"], status["terminating"]) == ("0", 0, 0)
    pods = [
        p
        for p in json.loads(cluster.tkctl("get", "pods", *NS, "-o", "json").stdout)["items"]
        if p["metadata"]["labels"].get("job-name") == "early"
    ]
    assert [p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
            for p in pods] == ["0"]  # the others were stopped and removed  # fmt: skip
    assert pods[0]["status"]["phase"] == "Succeeded"
