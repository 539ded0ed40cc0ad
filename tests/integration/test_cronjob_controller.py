"""CronJobs over the real API server and Redis: the API (discovery, defaults, a bad schedule
refused with the field named and nothing stored, the server-side Table) and the controller
driven step by step with an injected clock (informers pumped, queue drained): Jobs per
schedule time, Forbid, Replace, history limits, one catch-up run after downtime, and a restart
that lost its status write."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from common import meta
from common.metrics import REGISTRY
from common.resources import must
from common.wellknown import CRONJOB_SCHEDULED_TIMESTAMP
from control.controllers import writes
from control.controllers.cronjob import CronJobController
from control.informers import SharedInformers
from control.registry.registry import Registry
from tests.integration.conftest import Api
from tests.integration.informerpump import drain, pump

CRONJOBS, JOBS, EVENTS = must("cronjobs"), must("jobs"), must("events")
PATH = "/apis/batch/v1/namespaces/default/cronjobs"
SKEW = "cronjob_controller_job_creation_skew_duration_seconds_count"
Obj = dict[str, Any]


def cronjob(name: str = "tick", **spec: Any) -> Obj:
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name},
        "spec": {
            "schedule": "*/1 * * * *",
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "OnFailure",
                            "containers": [{"name": "tick", "image": "tinykube/sleeper:1"}],
                        }
                    }
                }
            },
            **spec,
        },
    }


# -- the API -----------------------------------------------------------------------------------


def test_discovery_lists_cronjobs(api: Api) -> None:
    code, resources = api.call("GET", "/apis/batch/v1")
    assert code == 200
    names = {r["name"]: r for r in resources["resources"]}
    assert names["cronjobs"]["kind"] == "CronJob"
    assert names["cronjobs"]["shortNames"] == ["cj"]
    assert "cronjobs/status" in names


def test_create_defaults(api: Api) -> None:
    code, obj = api.call("POST", PATH, cronjob())
    assert code == 201, obj
    spec = obj["spec"]
    assert spec["concurrencyPolicy"] == "Allow" and spec["suspend"] is False
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (3, 1)
    assert obj["status"] == {}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"schedule": "bad"},
            'CronJob.batch "tick" is invalid: spec.schedule: Invalid value: "bad": expected '
            "exactly 5 fields, found 1: [bad]",
        ),
        (
            {"timeZone": "Mars/Olympus"},
            'CronJob.batch "tick" is invalid: spec.timeZone: Invalid value: "Mars/Olympus": '
            "unknown time zone Mars/Olympus",
        ),
    ],
)
def test_bad_cronjobs_get_422_and_store_nothing(api: Api, spec: Obj, message: str) -> None:
    code, status = api.call("POST", PATH, cronjob(**spec))
    assert code == 422, status
    assert status["reason"] == "Invalid"
    assert status["message"] == message
    assert status["details"]["causes"][0]["field"] == next(
        f"spec.{k}" for k in ("schedule", "timeZone") if k in spec
    )
    code, _ = api.call("GET", f"{PATH}/tick")
    assert code == 404


def test_unknown_field_is_400(api: Api) -> None:
    code, status = api.call("POST", PATH, cronjob(every="minute"))
    assert code == 400, status
    code, _ = api.call("GET", f"{PATH}/tick")
    assert code == 404


def test_table_has_kubectls_columns(api: Api) -> None:
    api.call("POST", PATH, cronjob(timeZone="Europe/Berlin"))
    headers = {**api.headers, "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}
    resp = api.client.get(PATH, headers=headers)
    assert resp.status_code == 200, resp.get_data()
    table = resp.get_json()
    names = [c["name"] for c in table["columnDefinitions"] if c["priority"] == 0]
    assert names == ["Name", "Schedule", "Timezone", "Suspend", "Active", "Last Schedule", "Age"]
    cells = table["rows"][0]["cells"]
    assert cells[:6] == ["tick", "*/1 * * * *", "Europe/Berlin", "False", 0, "<none>"]


# -- the controller ----------------------------------------------------------------------------


class Plane:
    """One controller process with a clock the test moves."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.now = meta.now()
        self.informers = SharedInformers(registry)
        self.controller = CronJobController(registry, self.informers, clock=lambda: self.now)
        self.requeues: list[float] = []
        add_after = self.controller.queue.add_after

        def record(key: str, delay: float) -> None:
            self.requeues.append(delay)
            add_after(key, delay)

        self.controller.queue.add_after = record  # type: ignore[method-assign]

    def step(self, times: int = 3) -> None:
        for _ in range(times):
            pump(self.informers)
            drain(self.controller)

    def at(self, cj: Obj, seconds: float) -> None:
        """Move the clock to ``seconds`` after the first schedule time of ``cj``."""
        created = meta.parse_time(cj["metadata"]["creationTimestamp"])
        assert created is not None
        first = created.replace(second=0) + dt.timedelta(minutes=1)
        self.now = first + dt.timedelta(seconds=seconds)
        for key in self.controller._all_keys():
            self.controller.queue.add(key)  # the timers of add_after went off meanwhile


@pytest.fixture
def registry(app: Any) -> Registry:
    reg: Registry = app.extensions["tinykube"]["registry"]
    return reg


@pytest.fixture
def plane(registry: Registry) -> Plane:
    return Plane(registry)


def create(reg: Registry, **spec: Any) -> Obj:
    obj, _ = reg.create(CRONJOBS, "default", cronjob(**spec))
    return obj


def jobs(reg: Registry) -> list[Obj]:
    return sorted(reg.list(JOBS, "default")["items"], key=lambda j: j["metadata"]["name"])


def status(reg: Registry) -> Obj:
    return dict(reg.get(CRONJOBS, "default", "tick").get("status") or {})


def reasons(reg: Registry) -> list[str]:
    return [e["reason"] for e in reg.list(EVENTS, "default")["items"]]


def finish(reg: Registry, job: Obj, condition: str = "Complete") -> None:
    fresh = reg.get(JOBS, "default", job["metadata"]["name"])
    stamp = meta.timestamp()
    fresh["status"] = {
        "startTime": stamp,
        "completionTime": stamp,
        "conditions": [{"type": condition, "status": "True", "lastTransitionTime": stamp}],
    }
    if condition == "Complete":
        fresh["status"]["succeeded"] = 1
    else:
        del fresh["status"]["completionTime"]
    reg.replace(JOBS, "default", fresh["metadata"]["name"], fresh, sub="status")


def minute_name(cj: Obj, when: dt.datetime) -> str:
    return f"{cj['metadata']['name']}-{int(when.timestamp()) // 60}"


def test_a_job_per_schedule_time_and_none_twice(registry: Registry, plane: Plane) -> None:
    cj = create(registry)
    plane.at(cj, -1)
    plane.step()
    assert jobs(registry) == []
    assert plane.requeues[-1] == pytest.approx(1.1)
    skews = REGISTRY.get_sample_value(SKEW) or 0.0
    plane.at(cj, 2)
    plane.step()
    (made,) = jobs(registry)
    assert REGISTRY.get_sample_value(SKEW) == skews + 1
    scheduled = plane.now.replace(second=0)
    assert made["metadata"]["name"] == minute_name(cj, scheduled)
    assert made["metadata"]["annotations"][CRONJOB_SCHEDULED_TIMESTAMP] == meta.timestamp(scheduled)
    ref = made["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["uid"], ref["controller"]) == ("CronJob", cj["metadata"]["uid"], True)
    st = status(registry)
    assert [a["name"] for a in st["active"]] == [made["metadata"]["name"]]
    assert st["lastScheduleTime"] == meta.timestamp(scheduled)
    assert "SuccessfulCreate" in reasons(registry)
    assert plane.requeues[-1] == pytest.approx(58.1)
    plane.step()
    assert len(jobs(registry)) == 1
    plane.at(cj, 61)
    plane.step()
    assert len(jobs(registry)) == 2


def test_forbid_waits_for_the_running_job(registry: Registry, plane: Plane) -> None:
    cj = create(registry, concurrencyPolicy="Forbid")
    plane.at(cj, 1)
    plane.step()
    (first,) = jobs(registry)
    plane.at(cj, 61)
    plane.step()
    assert len(jobs(registry)) == 1
    assert "JobAlreadyActive" in reasons(registry)
    finish(registry, first)
    plane.step()
    assert len(jobs(registry)) == 2
    st = status(registry)
    assert [a["name"] for a in st["active"]] == [jobs(registry)[1]["metadata"]["name"]]
    assert "lastSuccessfulTime" in st
    assert "SawCompletedJob" in reasons(registry)


def test_replace_deletes_the_running_job(registry: Registry, plane: Plane) -> None:
    cj = create(registry, concurrencyPolicy="Replace")
    plane.at(cj, 1)
    plane.step()
    (first,) = jobs(registry)
    plane.at(cj, 61)
    plane.step()
    names = [j["metadata"]["name"] for j in jobs(registry)]
    assert first["metadata"]["name"] not in names and len(names) == 1
    assert [a["name"] for a in status(registry)["active"]] == names
    assert "SuccessfulDelete" in reasons(registry)


def test_history_limit_deletes_the_oldest_finished(registry: Registry, plane: Plane) -> None:
    cj = create(registry, successfulJobsHistoryLimit=1)
    for minute in range(3):
        plane.at(cj, 60 * minute + 1)
        plane.step()
        finish(registry, jobs(registry)[-1])
    plane.step()
    (kept,) = jobs(registry)
    plane.at(cj, 121)
    assert kept["metadata"]["name"] == minute_name(cj, plane.now.replace(second=0))
    assert "active" not in status(registry)


def test_one_catch_up_run_after_downtime(registry: Registry, plane: Plane) -> None:
    cj = create(registry)
    plane.at(cj, 10 * 60 + 5)
    plane.step()
    (made,) = jobs(registry)
    assert made["metadata"]["name"] == minute_name(cj, plane.now.replace(second=0))


def test_a_restart_that_lost_the_status_adopts_its_job(registry: Registry, plane: Plane) -> None:
    cj = create(registry)
    plane.at(cj, 1)
    plane.step()
    (made,) = jobs(registry)
    fresh = registry.get(CRONJOBS, "default", "tick")
    fresh["status"] = {}
    registry.replace(CRONJOBS, "default", "tick", fresh, sub="status")
    restarted = Plane(registry)
    restarted.now = plane.now
    restarted.step()
    assert [j["metadata"]["uid"] for j in jobs(registry)] == [made["metadata"]["uid"]]
    assert [a["uid"] for a in status(registry)["active"]] == [made["metadata"]["uid"]]


def test_suspended_cronjob_starts_nothing(registry: Registry, plane: Plane) -> None:
    cj = create(registry, suspend=True)
    plane.at(cj, 5)
    plane.step()
    assert jobs(registry) == []


def test_a_new_schedule_waits_for_its_own_next_time(registry: Registry, plane: Plane) -> None:
    cj = create(registry, schedule="0 * * * *")
    plane.at(cj, 30)
    plane.step()
    assert jobs(registry) == []
    fresh = registry.get(CRONJOBS, "default", "tick")
    fresh["spec"]["schedule"] = "*/1 * * * *"
    registry.replace(CRONJOBS, "default", "tick", fresh)
    plane.requeues.clear()
    pump(plane.informers)
    assert plane.requeues == [pytest.approx(30.1)]
    assert drain(plane.controller) == []  # nothing due before that time
    assert jobs(registry) == []


def test_a_job_the_api_refuses_is_an_event_and_a_retry(registry: Registry, plane: Plane) -> None:
    obj = cronjob()
    template = obj["spec"]["jobTemplate"]["spec"]["template"]
    template["metadata"] = {"labels": {"controller-uid": "mine"}}  # the Job generates this one
    registry.create(CRONJOBS, "default", obj)
    cj = registry.get(CRONJOBS, "default", "tick")
    plane.at(cj, 1)
    pump(plane.informers)
    with pytest.raises(writes.SyncError, match="is invalid"):
        plane.controller.sync("default/tick")
    assert jobs(registry) == []
    assert "FailedCreate" in reasons(registry)
    assert "lastScheduleTime" not in status(registry)
