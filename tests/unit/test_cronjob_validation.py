"""batch/v1 CronJob: the v1 defaults and kube-apiserver's validation messages (the schedule in
robfig/cron's words, the time zone, the policy, the job template, the 52-character name)."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from common import errors
from common.fielderrors import aggregate
from common.resources import lookup
from control.registry.strategies import strategy
from control.validation import decode_object, validate

Obj = dict[str, Any]
RT = lookup("cronjobs")
assert RT is not None
NOW = dt.datetime(2026, 12, 5, tzinfo=dt.UTC)


def cronjob(name: str = "tick", **spec: Any) -> Obj:
    base: Obj = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "schedule": "*/1 * * * *",
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "OnFailure",
                            "containers": [{"name": "tick", "image": "busybox"}],
                        }
                    }
                }
            },
        },
    }
    base["spec"].update(spec)
    return base


def errors_of(obj: Obj, old: Obj | None = None) -> str:
    causes = validate("CronJob", obj, old)
    return aggregate(causes) if causes else ""


def test_lookup_names() -> None:
    assert RT is not None
    assert (RT.kind, RT.api_version, RT.short_names) == ("CronJob", "batch/v1", ("cj",))
    assert lookup("cj") is RT and lookup("cronjob") is RT


def test_defaults_on_create() -> None:
    assert RT is not None
    obj = cronjob()
    strategy(RT).prepare_create(RT, obj, NOW)
    spec = obj["spec"]
    assert spec["concurrencyPolicy"] == "Allow"
    assert spec["suspend"] is False
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (3, 1)
    pod_spec = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert pod_spec["dnsPolicy"] == "ClusterFirst"
    assert obj["status"] == {}


def test_defaults_keep_what_is_set() -> None:
    assert RT is not None
    obj = cronjob(concurrencyPolicy="Forbid", suspend=True, successfulJobsHistoryLimit=0)
    strategy(RT).default(obj)
    assert obj["spec"]["concurrencyPolicy"] == "Forbid"
    assert obj["spec"]["suspend"] is True
    assert obj["spec"]["successfulJobsHistoryLimit"] == 0


def test_a_good_cronjob_is_valid() -> None:
    assert errors_of(cronjob()) == ""
    assert errors_of(cronjob(schedule="@hourly", timeZone="Europe/Berlin")) == ""


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"schedule": ""}, "spec.schedule: Required value"),
        (
            {"schedule": "bad"},
            'spec.schedule: Invalid value: "bad": expected exactly 5 fields, found 1: [bad]',
        ),
        (
            {"schedule": "61 * * * *"},
            'spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61',
        ),
        (
            {"schedule": "@fortnightly"},
            'spec.schedule: Invalid value: "@fortnightly": unrecognized descriptor: @fortnightly',
        ),
        (
            {"schedule": "TZ=UTC 0 * * * *"},
            'spec.schedule: Invalid value: "TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in '
            "schedule, use timeZone field instead",
        ),
        (
            {"timeZone": "Mars/Olympus"},
            'spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus',
        ),
        (
            {"timeZone": ""},
            'spec.timeZone: Invalid value: "": timeZone must be nil or non-empty string',
        ),
        (
            {"timeZone": "Local"},
            'spec.timeZone: Invalid value: "Local": timeZone must be an explicit time zone as '
            "defined in https://www.iana.org/time-zones",
        ),
        (
            {"concurrencyPolicy": "Sometimes"},
            'spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: '
            '"Allow", "Forbid", "Replace"',
        ),
        (
            {"startingDeadlineSeconds": -1},
            "spec.startingDeadlineSeconds: Invalid value: -1: must be greater than or equal to 0",
        ),
    ],
)
def test_bad_specs_name_the_field(spec: Obj, message: str) -> None:
    assert errors_of(cronjob(**spec)) == message


def test_job_template_is_a_job_spec_with_a_generated_selector() -> None:
    obj = cronjob()
    template = obj["spec"]["jobTemplate"]["spec"]
    template["template"]["spec"]["restartPolicy"] = "Always"
    template["selector"] = {"matchLabels": {"a": "b"}}
    text = errors_of(obj)
    assert "spec.jobTemplate.spec.template.spec.restartPolicy: Required value" in text
    assert 'spec.jobTemplate.spec.selector: Invalid value: {"matchLabels":{"a":"b"}}: ' in text
    assert "`selector` will be auto-generated" in text


def test_job_template_fields_are_not_defaulted_as_a_jobs() -> None:
    obj = cronjob()
    obj["spec"]["jobTemplate"]["spec"]["completionMode"] = "Indexed"
    assert errors_of(obj) == (
        "spec.jobTemplate.spec.completions: Required value: when completion mode is Indexed"
    )
    assert RT is not None
    strategy(RT).default(obj)
    assert "completions" not in obj["spec"]["jobTemplate"]["spec"]


def test_name_leaves_room_for_the_job_suffix() -> None:
    assert errors_of(cronjob("a" * 52)) == ""
    assert errors_of(cronjob("a" * 53)) == (
        f'metadata.name: Invalid value: "{"a" * 53}": must be no more than 52 characters'
    )


def test_update_keeps_an_old_tz_schedule_and_skips_the_name_length() -> None:
    old = cronjob("a" * 60, schedule="TZ=UTC 0 * * * *")
    old["metadata"]["resourceVersion"] = "7"
    new = copy.deepcopy(old)
    new["spec"]["suspend"] = True
    assert errors_of(new, old) == ""
    new["spec"]["timeZone"] = "UTC"
    assert "cannot use both timeZone field and TZ or CRON_TZ in schedule" in errors_of(new, old)


def test_unknown_fields_are_refused() -> None:
    obj = cronjob(every="minute")
    with pytest.raises(errors.BadRequestError, match="every"):
        decode_object("CronJob", obj)
