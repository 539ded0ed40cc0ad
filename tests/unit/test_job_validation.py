"""batch/v1 Job: the v1 defaults, the generated selector and labels, and kube-apiserver's
validation messages on create, update and status."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from common.batch import default_job
from common.fielderrors import aggregate
from common.resources import lookup
from control.registry.strategies import strategy
from control.validation import decode_object, validate

Obj = dict[str, Any]
RT = lookup("jobs")
assert RT is not None
NOW = dt.datetime(2026, 12, 5, tzinfo=dt.UTC)


def job(**spec: Any) -> Obj:
    base: Obj = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "pi", "namespace": "default"},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "pi", "image": "perl:5"}],
                }
            }
        },
    }
    base["spec"].update(spec)
    return base


def created(obj: Obj) -> Obj:
    assert RT is not None
    strategy(RT).prepare_create(RT, obj, NOW)
    return obj


def errors_of(obj: Obj, old: Obj | None = None) -> str:
    causes = validate("Job", obj, old)
    return aggregate(causes) if causes else ""


def test_defaults_are_kubernetes_v1_defaults() -> None:
    obj = job()
    default_job(obj)
    spec = obj["spec"]
    assert (spec["completions"], spec["parallelism"], spec["backoffLimit"]) == (1, 1, 6)
    assert spec["completionMode"] == "NonIndexed"
    assert spec["suspend"] is False
    assert spec["podReplacementPolicy"] == "TerminatingOrFailed"
    per_index = job(backoffLimitPerIndex=1, completionMode="Indexed", completions=2)
    default_job(per_index)
    assert per_index["spec"]["backoffLimit"] == 2**31 - 1
    parallel = job(parallelism=3)
    default_job(parallel)
    assert parallel["spec"].get("completions") is None  # a work queue: no completions
    with_policy = job(
        podFailurePolicy={"rules": [{"action": "Ignore", "onPodConditions": [{"type": "X"}]}]}
    )
    default_job(with_policy)
    assert with_policy["spec"]["podReplacementPolicy"] == "Failed"
    assert with_policy["spec"]["podFailurePolicy"]["rules"][0]["onPodConditions"][0] == {
        "type": "X",
        "status": "True",
    }


def test_create_generates_the_selector_and_the_four_labels() -> None:
    obj = created(job())
    uid = obj["metadata"]["uid"]
    labels = obj["spec"]["template"]["metadata"]["labels"]
    assert labels == {
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": "pi",
        "controller-uid": uid,
        "job-name": "pi",
    }
    assert obj["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    assert obj["metadata"]["labels"] == labels  # the Job's labels default to its template's
    assert obj["status"] == {}
    assert errors_of(obj) == ""


def test_a_manual_selector_is_kept_and_must_match_the_template() -> None:
    obj = job(manualSelector=True, selector={"matchLabels": {"app": "x"}})
    obj["spec"]["template"]["metadata"] = {"labels": {"app": "y"}}
    created(obj)
    assert "controller-uid" not in obj["spec"]["template"]["metadata"]["labels"]
    assert errors_of(obj) == (
        'spec.template.metadata.labels: Invalid value: {"app":"y"}: '
        "`selector` does not match template `labels`"
    )


def test_a_conflicting_generated_label_is_refused() -> None:
    obj = job()
    obj["spec"]["template"]["metadata"] = {"labels": {"job-name": "other"}}
    created(obj)
    assert errors_of(obj) == (
        "spec.template.metadata.labels[job-name]: Invalid value: \"other\": must be 'pi'"
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"parallelism": -1},
            "spec.parallelism: Invalid value: -1: must be greater than or equal to 0",
        ),
        (
            {"backoffLimit": -2},
            "spec.backoffLimit: Invalid value: -2: must be greater than or equal to 0",
        ),
        (
            {"completionMode": "Sometimes"},
            'spec.completionMode: Unsupported value: "Sometimes": supported values: '
            '"NonIndexed", "Indexed"',
        ),
        (
            {"completionMode": "Indexed", "parallelism": 2, "completions": None},
            "spec.completions: Required value: when completion mode is Indexed",
        ),
        (
            {"backoffLimitPerIndex": 1},
            "spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode",
        ),
        (
            {"podReplacementPolicy": "Sometimes"},
            'spec.podReplacementPolicy: Unsupported value: "Sometimes": supported values: '
            '"Failed", "TerminatingOrFailed"',
        ),
        (
            {
                "podFailurePolicy": {
                    "rules": [
                        {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [0]}}
                    ]
                }
            },
            "spec.podFailurePolicy.rules[0].onExitCodes.values[0]: Invalid value: 0: "
            "must not be 0 for the In operator",
        ),
        (
            {
                "podFailurePolicy": {
                    "rules": [
                        {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [3, 2]}}
                    ]
                }
            },
            "spec.podFailurePolicy.rules[0].onExitCodes.values: Invalid value: [3,2]: "
            "must be ordered",
        ),
        (
            {
                "podFailurePolicy": {
                    "rules": [
                        {"action": "Explode", "onExitCodes": {"operator": "In", "values": [1]}}
                    ]
                }
            },
            'spec.podFailurePolicy.rules[0].action: Unsupported value: "Explode": supported '
            'values: "Count", "FailIndex", "FailJob", "Ignore"',
        ),
        (
            {"podFailurePolicy": {"rules": [{"action": "Ignore"}]}},
            "spec.podFailurePolicy.rules[0]: Invalid value: "
            "specifying one of OnExitCodes and OnPodConditions is required",
        ),
        (
            {
                "podFailurePolicy": {
                    "rules": [
                        {"action": "FailIndex", "onExitCodes": {"operator": "In", "values": [1]}}
                    ]
                }
            },
            'spec.podFailurePolicy.rules[0].action: Invalid value: "FailIndex": '
            "requires the backoffLimitPerIndex to be set",
        ),
    ],
)
def test_bad_specs_get_kubernetes_messages(spec: Obj, message: str) -> None:
    assert errors_of(created(job(**spec))) == message


def test_restart_policy_must_be_on_failure_or_never() -> None:
    obj = job()
    del obj["spec"]["template"]["spec"]["restartPolicy"]  # defaults to Always
    assert errors_of(created(obj)) == (
        'spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"'
    )
    obj = job(
        podFailurePolicy={
            "rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]
        }
    )
    obj["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
    assert errors_of(created(obj)) == (
        'spec.template.spec.restartPolicy: Invalid value: "OnFailure": '
        'only "Never" is supported when podFailurePolicy is specified'
    )


def test_an_indexed_job_name_must_make_valid_hostnames() -> None:
    obj = job(completionMode="Indexed", completions=10)
    obj["metadata"]["name"] = "a" * 62
    assert "will not able to create pod with invalid DNS label: " + "a" * 62 + "-9" in errors_of(
        created(obj)
    )


def test_the_template_and_completions_are_immutable_suspend_is_not() -> None:
    old = created(job())
    old["metadata"]["resourceVersion"] = "7"
    new = copy.deepcopy(old)
    new["spec"]["suspend"] = True
    new["spec"]["parallelism"] = 3
    assert errors_of(new, old) == ""
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "perl:6"
    assert "spec.template: Invalid value: " in errors_of(new, old)
    assert errors_of(new, old).endswith("field is immutable")
    new = copy.deepcopy(old)
    new["spec"]["completions"] = 4
    assert errors_of(new, old) == "spec.completions: Invalid value: 4: field is immutable"


def test_status_counters_never_go_down_and_terminal_conditions_stay() -> None:
    assert RT is not None
    st = strategy(RT)
    old = created(job())
    old["status"] = {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}
    new = copy.deepcopy(old)
    new["status"] = {
        "succeeded": 0,
        "active": -1,
        "uncountedTerminatedPods": {"succeeded": ["a"], "failed": ["a"]},
    }
    assert aggregate(st.validate_status(new, old)) == (
        "[status.active: Invalid value: -1: must be greater than or equal to 0, "
        'status.uncountedTerminatedPods.failed[0]: Duplicate value: "a", '
        "status.succeeded: Invalid value: 0: cannot decrease the succeeded counter, "
        "status.conditions: Invalid value: cannot disable the terminal Complete=True condition]"
    )


def test_the_schema_refuses_unknown_fields() -> None:
    body = job(completionz=1)
    with pytest.raises(Exception, match="completionz"):
        decode_object("Job", body)


def test_managed_by_must_be_a_domain_prefixed_path() -> None:
    assert errors_of(created(job(managedBy="example.com/queue"))) == ""
    assert errors_of(created(job(managedBy="queue"))) == (
        'spec.managedBy: Invalid value: "queue": must be a domain-prefixed path '
        '(such as "acme.io/foo")'
    )


def _indexed(**spec: Any) -> Obj:
    return job(completionMode="Indexed", completions=4, parallelism=4, **spec)


def stored(obj: Obj) -> Obj:
    out = created(obj)
    out["metadata"]["resourceVersion"] = "7"
    return out


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        (
            {"rules": []},
            "spec.successPolicy.rules: Required value: at least one rules must be specified "
            "when the successPolicy is specified",
        ),
        (
            {"rules": [{"succeededCount": 1}] * 21},
            "spec.successPolicy.rules: Too many: 21: must have at most 20 items",
        ),
        (
            {"rules": [{}]},
            "spec.successPolicy.rules[0]: Required value: at least one of succeededCount or "
            "succeededIndexes must be specified",
        ),
        (
            {"rules": [{"succeededIndexes": "0,4"}]},
            'spec.successPolicy.rules[0].succeededIndexes: Invalid value: "0,4": error parsing '
            'succeededIndexes: too large index: "4"',
        ),
        (
            {"rules": [{"succeededIndexes": "2,1"}]},
            'spec.successPolicy.rules[0].succeededIndexes: Invalid value: "2,1": error parsing '
            "succeededIndexes: non-increasing order, previous: 2, current: 1",
        ),
        (
            {"rules": [{"succeededIndexes": "1-0"}]},
            'spec.successPolicy.rules[0].succeededIndexes: Invalid value: "1-0": error parsing '
            "succeededIndexes: non-increasing order, previous: 1, current: 0",
        ),
        (
            {"rules": [{"succeededIndexes": "a"}]},
            'spec.successPolicy.rules[0].succeededIndexes: Invalid value: "a": error parsing '
            'succeededIndexes: cannot convert string to integer for index: "a"',
        ),
        (
            {"rules": [{"succeededIndexes": "0-1-2"}]},
            'spec.successPolicy.rules[0].succeededIndexes: Invalid value: "0-1-2": error parsing '
            'succeededIndexes: the fragment "0-1-2" violates the requirement that an index '
            "interval can have at most two parts separated by '-'",
        ),
        (
            {"rules": [{"succeededCount": 5}]},
            "spec.successPolicy.rules[0].succeededCount: Invalid value: 5: must be less than or "
            "equal to 4 (the number of specified completions)",
        ),
        (
            {"rules": [{"succeededIndexes": "0,2", "succeededCount": 3}]},
            "spec.successPolicy.rules[0].succeededCount: Invalid value: 3: must be less than or "
            "equal to 2 (the number of indexes in the specified succeededIndexes field)",
        ),
        (
            {"rules": [{"succeededCount": -1}]},
            "spec.successPolicy.rules[0].succeededCount: Invalid value: -1: must be greater "
            "than or equal to 0",
        ),
    ],
)
def test_success_policy_gets_kubernetes_messages(policy: Obj, message: str) -> None:
    assert errors_of(created(_indexed(successPolicy=policy))) == message


def test_success_policy_needs_an_indexed_job_and_is_immutable() -> None:
    policy = {"rules": [{"succeededIndexes": "0-1,3", "succeededCount": 2}]}
    assert errors_of(created(_indexed(successPolicy=policy))) == ""
    assert errors_of(created(job(successPolicy={"rules": [{"succeededCount": 1}]}))) == (
        'spec.successPolicy: Invalid value: {"rules":[{"succeededCount":1}]}: '
        "requires indexed completion mode"
    )
    old = stored(_indexed(successPolicy=policy))
    new = copy.deepcopy(old)
    new["spec"]["successPolicy"] = {"rules": [{"succeededCount": 1}]}
    assert errors_of(new, old) == (
        'spec.successPolicy: Invalid value: {"rules":[{"succeededCount":1}]}: field is immutable'
    )


def test_an_indexed_job_scales_completions_only_with_parallelism() -> None:
    old = stored(_indexed())
    both = copy.deepcopy(old)
    both["spec"].update(completions=6, parallelism=6)
    assert errors_of(both, old) == ""
    alone = copy.deepcopy(old)
    alone["spec"].update(completions=2)
    assert errors_of(alone, old) == (
        "spec.completions: Invalid value: 2: can only be modified in tandem with spec.parallelism"
    )
    plain = stored(job(completions=4, parallelism=4))
    scaled = copy.deepcopy(plain)
    scaled["spec"].update(completions=6, parallelism=6)
    assert errors_of(scaled, plain) == "spec.completions: Invalid value: 6: field is immutable"


def test_status_rules_of_success_criteria_and_scaled_down_indexed_jobs() -> None:
    assert RT is not None
    st = strategy(RT)
    old = created(_indexed(successPolicy={"rules": [{"succeededCount": 1}]}))
    old["status"] = {"succeeded": 3, "completedIndexes": "0-2"}
    down = copy.deepcopy(old)  # completions == parallelism: an elastic Job may scale down
    down["status"] = {"succeeded": 1, "completedIndexes": "0"}
    assert st.validate_status(down, old) == []
    met = {"type": "SuccessCriteriaMet", "status": "True"}
    bad = copy.deepcopy(old)
    bad["status"] = {
        "succeeded": 3,
        "conditions": [met, {"type": "FailureTarget", "status": "True"}],
    }
    assert aggregate(st.validate_status(bad, old)) == (
        "status.conditions: Invalid value: cannot set SuccessCriteriaMet=True and "
        "FailureTarget=true conditions"
    )
    complete = copy.deepcopy(old)
    complete["status"] = {"succeeded": 3, "conditions": [{"type": "Complete", "status": "True"}]}
    assert aggregate(st.validate_status(complete, old)) == (
        "status.conditions: Invalid value: cannot set Complete=True for Job with SuccessPolicy "
        "unless SuccessCriteriaMet=True"
    )
    was = copy.deepcopy(old)
    was["status"] = {"succeeded": 3, "conditions": [met]}
    gone = copy.deepcopy(old)
    assert aggregate(st.validate_status(gone, was)) == (
        "status.conditions: Invalid value: cannot disable the SuccessCriteriaMet=True condition"
    )
    fixed = created(job(completions=2, parallelism=1))
    fixed["status"] = {"succeeded": 2}
    fewer = copy.deepcopy(fixed)
    fewer["status"] = {"succeeded": 1}
    assert "cannot decrease the succeeded counter" in aggregate(st.validate_status(fewer, fixed))
