"""tkctl and CronJobs: ``create cronjob``, ``create job --from=cronjob/NAME`` and the
``get cronjobs`` columns (against the in-memory FAKE API)."""

from __future__ import annotations

from typing import Any

import pytest

from common.printers import PRINTERS, headers, row
from tests.unit.cli_fake import NOW, FakeApi, tk, ts


@pytest.fixture
def api() -> FakeApi:
    return FakeApi()


def test_create_cronjob_builds_what_kubectl_builds(api: FakeApi) -> None:
    r = tk(api, "create", "cronjob", "tick", "--image=busybox", "--schedule=*/1 * * * *",
           "--", "date")  # fmt: skip
    assert (r.exit_code, r.stdout) == (0, "cronjob.batch/tick created\n"), r.output
    body = api.calls[-1][2]
    assert body["apiVersion"] == "batch/v1" and body["kind"] == "CronJob"
    assert body["spec"] == {
        "schedule": "*/1 * * * *",
        "jobTemplate": {
            "metadata": {"name": "tick"},
            "spec": {
                "template": {
                    "spec": {
                        "containers": [{"name": "tick", "image": "busybox", "command": ["date"]}],
                        "restartPolicy": "OnFailure",
                    }
                }
            },
        },
    }


def test_create_cj_alias_and_restart_flag(api: FakeApi) -> None:
    r = tk(api, "create", "cj", "tick", "--image=busybox", "--schedule=@hourly",
           "--restart=Never")  # fmt: skip
    assert r.exit_code == 0, r.output
    pod_spec = api.calls[-1][2]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod_spec["restartPolicy"] == "Never"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--schedule=@hourly",), 'required flag(s) "image" not set'),
        (("--image=busybox",), 'required flag(s) "schedule" not set'),
        ((), 'required flag(s) "image", "schedule" not set'),
    ],
)
def test_create_cronjob_needs_image_and_schedule(
    api: FakeApi, args: tuple[str, ...], message: str
) -> None:
    r = tk(api, "create", "cronjob", "tick", *args)
    assert r.exit_code == 1 and message in r.output


def cronjob() -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "tick", "uid": "cj-uid"},
        "spec": {
            "schedule": "*/1 * * * *",
            "timeZone": "Europe/Berlin",
            "suspend": False,
            "jobTemplate": {
                "metadata": {"labels": {"app": "tick"}, "annotations": {"team": "a"}},
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [{"name": "tick", "image": "busybox"}],
                            "restartPolicy": "OnFailure",
                        }
                    }
                },
            },
        },
        "status": {
            "active": [{"name": "tick-1", "uid": "j1"}],
            "lastScheduleTime": ts(45),
        },
    }


def test_create_job_from_cronjob(api: FakeApi) -> None:
    api.add("cronjobs", cronjob())
    r = tk(api, "create", "job", "by-hand", "--from=cronjob/tick")
    assert (r.exit_code, r.stdout) == (0, "job.batch/by-hand created\n"), r.output
    body = api.calls[-1][2]
    assert body["kind"] == "Job"
    assert body["metadata"]["annotations"] == {
        "cronjob.kubernetes.io/instantiate": "manual",
        "team": "a",
    }
    assert body["metadata"]["labels"] == {"app": "tick"}
    assert body["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "name": "tick",
            "uid": "cj-uid",
            "controller": True,
        }
    ]
    assert body["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--from=cronjob/missing",), 'cronjobs.batch "missing" not found'),
        (("--from=deployment/web",), "error: unknown object type *v1.Deployment"),
        (("--from=cronjob/tick", "--image=busybox"), "either --image or --from must be specified"),
        (("--from=cronjob/tick", "--", "date"), "error: cannot specify --from and command"),
    ],
)
def test_create_job_from_refusals(api: FakeApi, args: tuple[str, ...], message: str) -> None:
    api.add("cronjobs", cronjob())
    r = tk(api, "create", "job", "by-hand", *args)
    assert r.exit_code == 1 and message in r.output, r.output


def test_get_cronjobs_columns_are_kubectls() -> None:
    printer = PRINTERS["cronjobs"]
    assert headers(printer) == [
        "NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE",
    ]  # fmt: skip
    obj = cronjob()
    obj["metadata"]["creationTimestamp"] = ts(600)
    assert row(printer, obj, NOW) == [
        "tick", "*/1 * * * *", "Europe/Berlin", "False", "1", "45s", "10m",
    ]  # fmt: skip
    assert row(printer, obj, NOW, wide=True)[7:] == ["tick", "busybox", "<none>"]
    fresh = {"metadata": {"name": "x", "creationTimestamp": ts(5)}, "spec": {"schedule": "@daily"}}
    assert row(printer, fresh, NOW) == ["x", "@daily", "<none>", "<unset>", "0", "<none>", "5s"]


def test_get_cronjobs_prints_the_table(api: FakeApi) -> None:
    obj = cronjob()
    obj["metadata"]["creationTimestamp"] = ts(600)
    api.add("cronjobs", obj)
    r = tk(api, "get", "cj")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST",
                                "SCHEDULE", "AGE"]  # fmt: skip
    assert "Europe/Berlin" in lines[1]


def test_describe_cronjob(api: FakeApi) -> None:
    obj = cronjob()
    obj["spec"].update(concurrencyPolicy="Forbid", successfulJobsHistoryLimit=3)
    api.add("cronjobs", obj)
    r = tk(api, "describe", "cronjob", "tick")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[:2] == ["Name:                          tick",
                         "Namespace:                     default"]  # fmt: skip
    out = r.stdout
    assert "Schedule:                      */1 * * * *" in out
    assert "Concurrency Policy:            Forbid" in out
    assert "Suspend:                       False" in out
    assert "Successful Job History Limit:  3" in out
    assert "Failed Job History Limit:      <unset>" in out
    assert "Starting Deadline Seconds:     <unset>" in out
    assert "Selector:                      <unset>" in out
    assert "Pod Template:" in out
    assert "Last Schedule Time:  Wed, 01 May 2024 11:59:15 +0000" in out
    assert "Active Jobs:         tick-1" in out
