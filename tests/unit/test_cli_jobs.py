"""tkctl and Jobs: ``create job``, ``get jobs`` columns, ``describe job``, ``wait
--for=condition=complete`` and ``logs job/NAME`` (against the in-memory FAKE API)."""

from __future__ import annotations

from typing import Any

import pytest

from common.printers import PRINTERS, headers, row
from tests.unit.cli_fake import NOW, FakeApi, tk, ts


@pytest.fixture
def api() -> FakeApi:
    return FakeApi()


def job(name: str = "pi", **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "uid": "u1", "labels": {"job-name": name}},
        "spec": {
            "completions": 1,
            "parallelism": 1,
            "backoffLimit": 6,
            "completionMode": "NonIndexed",
            "suspend": False,
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}},
            "template": {
                "metadata": {"labels": {"job-name": name}},
                "spec": {"restartPolicy": "Never",
                         "containers": [{"name": name, "image": "perl:5"}]},
            },
        },
        "status": status,
    }  # fmt: skip


def test_create_job_builds_what_kubectl_builds(api: FakeApi) -> None:
    r = tk(api, "create", "job", "pi", "--image=perl:5", "--", "perl", "-e", "print 1")
    assert (r.exit_code, r.stdout) == (0, "job.batch/pi created\n"), r.output
    body = api.calls[-1][2]
    assert body["apiVersion"] == "batch/v1" and body["metadata"]["name"] == "pi"
    assert body["spec"]["template"]["spec"] == {
        "containers": [{"name": "pi", "image": "perl:5", "command": ["perl", "-e", "print 1"]}],
        "restartPolicy": "Never",
    }
    r = tk(api, "create", "job", "pi")
    assert r.exit_code == 1 and "either --image or --from must be specified" in r.output


def test_get_jobs_columns_are_kubectls() -> None:
    printer = PRINTERS["jobs"]
    assert headers(printer) == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    done = job(succeeded=1, startTime=ts(60), completionTime=ts(52),
               conditions=[{"type": "Complete", "status": "True"}])  # fmt: skip
    done["metadata"]["creationTimestamp"] = ts(62)
    assert row(printer, done, NOW) == ["pi", "Complete", "1/1", "8s", "62s"]
    running = job(active=1, startTime=ts(30))
    running["metadata"]["creationTimestamp"] = ts(31)
    running["spec"]["completions"] = None
    running["spec"]["parallelism"] = 3
    assert row(printer, running, NOW) == ["pi", "Running", "0/1 of 3", "30s", "31s"]
    failed = job(failed=7, conditions=[{"type": "FailureTarget", "status": "True"},
                                       {"type": "Failed", "status": "True"}])  # fmt: skip
    failed["metadata"]["creationTimestamp"] = ts(5)
    assert row(printer, failed, NOW)[1:3] == ["Failed", "0/1"]


def test_describe_job(api: FakeApi) -> None:
    api.add("jobs", job(active=1, ready=1, succeeded=2, failed=1, startTime=ts(30)))
    r = tk(api, "describe", "job", "pi")
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert "Completion Mode:  NonIndexed" in out
    assert "Backoff Limit:    6" in out
    assert "Pods Statuses:    1 Active (1 Ready) / 2 Succeeded / 1 Failed" in out
    assert "Pod Template:" in out


def test_wait_for_condition_complete(api: FakeApi) -> None:
    api.add("jobs", job(conditions=[{"type": "Complete", "status": "True"}]))
    r = tk(api, "wait", "--for=condition=complete", "job/pi")
    assert (r.exit_code, r.stdout) == (0, "job.batch/pi condition met\n"), r.output
    api.add("jobs", job("slow"))
    r = tk(api, "wait", "--for=condition=complete", "job/slow", "--timeout=0s")
    assert r.exit_code == 1
    assert "error: timed out waiting for the condition on jobs/slow" in r.output
    r = tk(api, "wait", "--for=readiness", "job/pi")
    assert r.exit_code == 1 and "unrecognized condition" in r.output


def test_logs_job_picks_a_pod_of_the_job(api: FakeApi) -> None:
    api.add("jobs", job())
    api.add("pods", {"metadata": {"name": "pi-abc", "labels": {
        "batch.kubernetes.io/controller-uid": "u1"}},
        "spec": {"containers": [{"name": "pi", "image": "perl:5"}], "nodeName": "n1"},
        "status": {"phase": "Succeeded"}})  # fmt: skip
    api.log_chunks = [b"3.14\n"]
    r = tk(api, "logs", "job/pi")
    assert (r.exit_code, r.stdout) == (0, "3.14\n"), r.output
    assert "/pods/pi-abc/log" in api.calls[-1][1]
