"""The CronJob controller's decisions with an injected clock: given a CronJob, its Jobs and
``now`` -> the Jobs to start and delete, the status, the events and when to look again."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from common import meta
from common.wellknown import CRONJOB_SCHEDULED_TIMESTAMP
from control.controllers.cronjob_plan import (
    CronJobPlan,
    history_deletes,
    job_name,
    plan_cronjob,
    started,
)

Obj = dict[str, Any]
CREATED = dt.datetime(2026, 12, 5, 8, 0, 0, tzinfo=dt.UTC)


def at(minutes: float, seconds: float = 0) -> dt.datetime:
    return CREATED + dt.timedelta(minutes=minutes, seconds=seconds)


def cronjob(status: Obj | None = None, **spec: Any) -> Obj:
    base: Obj = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {
            "name": "tick",
            "namespace": "default",
            "uid": "cj-uid",
            "creationTimestamp": meta.timestamp(CREATED),
        },
        "spec": {
            "schedule": "*/1 * * * *",
            "concurrencyPolicy": "Allow",
            "suspend": False,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 1,
            "jobTemplate": {
                "metadata": {"labels": {"app": "tick"}, "annotations": {"team": "a"}},
                "spec": {"template": {"spec": {"restartPolicy": "OnFailure"}}},
            },
        },
        "status": status or {},
    }
    base["spec"].update(spec)
    return base


def job(name: str, uid: str, condition: str = "", **status: Any) -> Obj:
    out: Obj = {
        "metadata": {"name": name, "namespace": "default", "uid": uid, "resourceVersion": "5"},
        "status": dict(status),
    }
    if condition:
        out["status"]["conditions"] = [{"type": condition, "status": "True"}]
    return out


def ref(name: str, uid: str) -> Obj:
    return {"apiVersion": "batch/v1", "kind": "Job", "name": name, "namespace": "default",
            "uid": uid, "resourceVersion": "5"}  # fmt: skip


def reasons(plan: CronJobPlan) -> list[str]:
    return [e.reason for e in plan.events]


def test_nothing_is_due_before_the_first_time() -> None:
    plan = plan_cronjob(cronjob(), [], at(0, 30))
    assert plan.create is None and plan.delete == () and plan.events == ()
    assert plan.requeue_after == pytest.approx(30.1)


def test_the_due_time_starts_a_job_named_after_its_minute() -> None:
    plan = plan_cronjob(cronjob(), [], at(1, 5))
    assert plan.scheduled == at(1)
    created = plan.create
    assert created is not None
    minutes = int(at(1).timestamp()) // 60
    assert created["metadata"]["name"] == f"tick-{minutes}" == job_name(cronjob(), at(1))
    assert created["metadata"]["labels"] == {"app": "tick"}
    assert created["metadata"]["annotations"] == {
        "team": "a",
        CRONJOB_SCHEDULED_TIMESTAMP: "2026-12-05T08:01:00Z",
    }
    assert created["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "name": "tick",
            "uid": "cj-uid",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert created["spec"] == {"template": {"spec": {"restartPolicy": "OnFailure"}}}
    # The next look is at the next minute (from the time just met), plus the skew padding.
    assert plan.requeue_after == pytest.approx(55.1)


def test_started_adds_the_job_and_the_schedule_time() -> None:
    status = started({}, job("tick-1", "u1"), at(1))
    assert status == {"active": [ref("tick-1", "u1")], "lastScheduleTime": "2026-12-05T08:01:00Z"}


def test_a_time_already_met_is_not_started_again() -> None:
    cj = cronjob({"lastScheduleTime": meta.timestamp(at(1))})
    plan = plan_cronjob(cj, [], at(1, 30))
    assert plan.create is None
    assert plan.requeue_after == pytest.approx(30.1)


def test_a_job_of_that_name_in_active_is_not_started_again() -> None:
    name = job_name(cronjob(), at(1))
    cj = cronjob({"active": [ref(name, "u1")]})
    plan = plan_cronjob(cj, [job(name, "u1")], at(1, 30))
    assert plan.create is None


def test_after_downtime_only_the_most_recent_missed_time_runs() -> None:
    cj = cronjob({"lastScheduleTime": meta.timestamp(at(1))})
    plan = plan_cronjob(cj, [], at(7, 20))
    assert plan.scheduled == at(7)
    assert plan.create is not None
    assert reasons(plan) == []


def test_every_counts_from_the_creation_time() -> None:
    plan = plan_cronjob(cronjob(schedule="@every 5m"), [], at(12))
    assert plan.scheduled == at(10)
    assert plan.requeue_after == pytest.approx(3 * 60 + 0.1)


def test_more_than_100_missed_times_warn_and_still_start_the_last() -> None:
    plan = plan_cronjob(cronjob(), [], at(150, 10))
    assert plan.scheduled == at(150)
    assert plan.events[0].type == "Warning"
    assert plan.events[0].reason == "TooManyMissedTimes"
    assert plan.events[0].message == (
        "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check "
        "clock skew"
    )


def test_a_starting_deadline_bounds_the_missed_times_counted() -> None:
    plan = plan_cronjob(cronjob(startingDeadlineSeconds=300), [], at(150, 10))
    assert plan.scheduled == at(150)
    assert reasons(plan) == []


def test_a_time_past_its_starting_deadline_is_missed() -> None:
    cj = cronjob(startingDeadlineSeconds=10)
    plan = plan_cronjob(cj, [], at(1, 30))
    assert plan.create is None
    assert plan.requeue_after == pytest.approx(30.1)
    within = plan_cronjob(cronjob(startingDeadlineSeconds=60), [], at(1, 30))
    assert within.scheduled == at(1)


def test_an_hourly_time_older_than_the_deadline_waits_for_the_next_hour() -> None:
    cj = cronjob(startingDeadlineSeconds=45, schedule="0 * * * *")
    plan = plan_cronjob(cj, [], at(60, 50))
    assert plan.create is None and plan.events == ()
    assert plan.requeue_after == pytest.approx(60 * 60 - 50 + 0.1)


def test_forbid_skips_while_a_job_runs() -> None:
    cj = cronjob({"active": [ref("tick-1", "u1")]}, concurrencyPolicy="Forbid")
    plan = plan_cronjob(cj, [job("tick-1", "u1")], at(2, 1))
    assert plan.create is None
    assert reasons(plan) == ["JobAlreadyActive"]
    assert plan.events[0].message == (
        "Not starting job because prior execution is running and concurrency policy is Forbid"
    )
    assert plan.requeue_after == pytest.approx(59.1)


def test_forbid_starts_once_the_job_finished() -> None:
    cj = cronjob({"active": [ref("tick-1", "u1")]}, concurrencyPolicy="Forbid")
    plan = plan_cronjob(cj, [job("tick-1", "u1", "Complete")], at(2, 1))
    assert plan.create is not None
    assert reasons(plan) == ["SawCompletedJob"]
    assert plan.events[0].message == "Saw completed job: tick-1, condition: Complete"
    assert "active" not in plan.status


def test_allow_runs_jobs_side_by_side() -> None:
    cj = cronjob({"active": [ref("tick-1", "u1")]})
    plan = plan_cronjob(cj, [job("tick-1", "u1")], at(2, 1))
    assert plan.create is not None and plan.delete == ()
    assert plan.status["active"] == [ref("tick-1", "u1")]


def test_replace_deletes_the_running_job_first() -> None:
    running = job("tick-1", "u1")
    cj = cronjob({"active": [ref("tick-1", "u1")]}, concurrencyPolicy="Replace")
    plan = plan_cronjob(cj, [running], at(2, 1))
    assert plan.delete == ((running, "replace"),)
    assert plan.create is not None


def test_suspend_starts_nothing_and_waits_for_an_update() -> None:
    plan = plan_cronjob(cronjob(suspend=True), [], at(5))
    assert plan.create is None and plan.requeue_after is None


def test_a_deleted_cronjob_only_updates_its_status() -> None:
    cj = cronjob({"active": [ref("tick-1", "u1")]})
    cj["metadata"]["deletionTimestamp"] = meta.timestamp(at(1))
    plan = plan_cronjob(cj, [job("tick-1", "u1", "Failed")], at(5))
    assert plan.create is None and plan.requeue_after is None
    assert "active" not in plan.status


def test_last_successful_time_follows_the_newest_completion() -> None:
    jobs = [
        job("tick-1", "u1", "Complete", completionTime="2026-12-05T08:01:30Z"),
        job("tick-2", "u2", "Complete", completionTime="2026-12-05T08:02:30Z"),
        job("tick-3", "u3", "Failed", completionTime="2026-12-05T08:03:30Z"),
    ]
    cj = cronjob({"lastSuccessfulTime": "2026-12-05T08:00:30Z"})
    plan = plan_cronjob(cj, jobs, at(3, 40))
    assert plan.status["lastSuccessfulTime"] == "2026-12-05T08:02:30Z"


def test_an_unexpected_running_job_is_reported() -> None:
    plan = plan_cronjob(cronjob({"lastScheduleTime": meta.timestamp(at(1))}),
                        [job("manual", "u9")], at(1, 30))  # fmt: skip
    assert reasons(plan) == ["UnexpectedJob"]
    assert plan.events[0].message == (
        "Saw a job that the controller did not create or forgot: manual"
    )


def test_an_active_job_gone_for_good_leaves_the_list() -> None:
    cj = cronjob({"active": [ref("tick-1", "u1")], "lastScheduleTime": meta.timestamp(at(1))})
    kept = plan_cronjob(cj, [], at(1, 30))
    assert kept.status["active"] == [ref("tick-1", "u1")]  # not confirmed gone: kept
    plan = plan_cronjob(cj, [], at(1, 30), gone={"u1"})
    assert "active" not in plan.status
    assert reasons(plan) == ["MissingJob"]
    assert plan.events[0].message == "Active job went missing: tick-1"


def test_history_limits_delete_the_oldest_finished_jobs() -> None:
    succeeded = [
        job(f"ok-{i}", f"s{i}", "Complete", startTime=meta.timestamp(at(i))) for i in range(5)
    ]
    failed = [job(f"bad-{i}", f"f{i}", "Failed", startTime=meta.timestamp(at(i))) for i in range(3)]
    unstarted = job("bad-never", "f9", "Failed")
    running = job("run", "r1")
    jobs = [*reversed(succeeded), unstarted, *failed, running]
    doomed = history_deletes(cronjob(), jobs)
    assert [j["metadata"]["name"] for j in doomed] == ["ok-0", "ok-1", "bad-0", "bad-1", "bad-2"]
    plan = plan_cronjob(cronjob(), jobs, at(4, 30))
    assert [(j["metadata"]["name"], why) for j, why in plan.delete][:2] == [
        ("ok-0", "history"),
        ("ok-1", "history"),
    ]


def test_history_limit_zero_keeps_no_finished_job() -> None:
    jobs = [job("ok", "s1", "Complete"), job("bad", "f1", "Failed")]
    cj = cronjob(successfulJobsHistoryLimit=0, failedJobsHistoryLimit=0)
    assert [j["metadata"]["name"] for j in history_deletes(cj, jobs)] == ["ok", "bad"]


def test_time_zone_moves_the_schedule_and_the_annotation() -> None:
    cj = cronjob(schedule="0 3 * * *", timeZone="America/New_York")
    # 03:00 in New York is 08:00 UTC on 5 December 2026.
    plan = plan_cronjob(cj, [], dt.datetime(2026, 12, 5, 8, 0, 20, tzinfo=dt.UTC))
    assert plan.create is None  # created at 08:00:00: that time is not after creation
    cj["metadata"]["creationTimestamp"] = "2026-12-05T07:59:00Z"
    plan = plan_cronjob(cj, [], dt.datetime(2026, 12, 5, 8, 0, 20, tzinfo=dt.UTC))
    assert plan.create is not None
    annotation = plan.create["metadata"]["annotations"][CRONJOB_SCHEDULED_TIMESTAMP]
    assert annotation == "2026-12-05T03:00:00-05:00"


def test_an_unknown_time_zone_starts_nothing() -> None:
    plan = plan_cronjob(cronjob(timeZone="Mars/Olympus"), [], at(5))
    assert plan.create is None and plan.requeue_after is None
    assert reasons(plan) == ["UnknownTimeZone"]
    assert (
        plan.events[0].message == 'invalid timeZone: "Mars/Olympus": unknown time zone Mars/Olympus'
    )


def test_an_unparseable_schedule_starts_nothing() -> None:
    plan = plan_cronjob(cronjob(schedule="bad"), [], at(5))
    assert plan.create is None and plan.requeue_after is None
    assert plan.events[0].message == (
        'unparseable schedule: "bad" : expected exactly 5 fields, found 1: [bad]'
    )


def test_a_schedule_that_never_comes_is_invalid() -> None:
    plan = plan_cronjob(cronjob(schedule="0 0 31 2 *"), [], at(5))
    assert plan.create is None and plan.requeue_after is None
    assert reasons(plan) == ["InvalidSchedule"]


def test_a_tz_schedule_is_read_in_its_zone_with_a_warning() -> None:
    cj = cronjob(schedule="TZ=America/New_York 0 3 * * *")
    cj["metadata"]["creationTimestamp"] = "2026-12-05T07:59:00Z"
    plan = plan_cronjob(cj, [], dt.datetime(2026, 12, 5, 8, 0, 20, tzinfo=dt.UTC))
    assert plan.create is not None
    assert reasons(plan) == ["UnsupportedSchedule"]
