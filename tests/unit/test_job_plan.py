"""The Job controller's pure decisions: pods to create, counting through uncounted pods and
the tracking finalizer, indexes, the failure policy, back-off and terminal conditions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from control.controllers.job_count import flush_uncounted
from control.controllers.job_plan import finish, plan_job
from control.controllers.job_pods import format_indexes, parse_indexes

NOW = dt.datetime(2026, 12, 5, 8, 0, tzinfo=dt.UTC)
Obj = dict[str, Any]
FIN = "batch.kubernetes.io/job-tracking"


def job(status: Obj | None = None, **spec: Any) -> Obj:
    base = {"completions": 1, "parallelism": 1, "backoffLimit": 6, "completionMode": "NonIndexed",
            "suspend": False, "podReplacementPolicy": "TerminatingOrFailed",
            "template": {"spec": {"restartPolicy": "Never",
                                  "containers": [{"name": "main", "image": "x"}]}}}  # fmt: skip
    base.update(spec)
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "pi", "namespace": "default", "uid": "j1"},
            "spec": base, "status": status or {}}  # fmt: skip


def pod(uid: str, phase: str = "Running", index: int | None = None, code: int = 1) -> Obj:
    m: Obj = {"name": f"pi-{uid}", "namespace": "default", "uid": uid, "finalizers": [FIN]}
    if index is not None:
        m["annotations"] = {"batch.kubernetes.io/job-completion-index": str(index)}
    st: Obj = {"phase": phase}
    if phase == "Failed":
        st["containerStatuses"] = [{"name": "main", "state": {"terminated": {"exitCode": code}}}]
    return {"metadata": m, "status": st}


def test_indexes_round_trip_in_kubernetes_interval_form() -> None:
    assert format_indexes({0, 1, 2, 5, 7, 8}) == "0-2,5,7-8"
    assert parse_indexes("0-2,5,7-8") == {0, 1, 2, 5, 7, 8}
    assert format_indexes(set()) == "" and parse_indexes("") == set()


def test_creates_up_to_parallelism_within_completions() -> None:
    plan = plan_job(job(completions=5, parallelism=3), [pod("a")], NOW)
    assert len(plan.create) == 2
    assert plan.create[0]["metadata"]["finalizers"] == [FIN]
    assert plan.create[0]["metadata"]["ownerReferences"][0]["uid"] == "j1"
    assert plan.status["active"] == 1 and plan.status["startTime"]


def test_a_finished_pod_is_listed_uncounted_then_counted_once() -> None:
    plan = plan_job(job(completions=2), [pod("a", "Succeeded")], NOW)
    assert plan.status["uncountedTerminatedPods"] == {"succeeded": ["a"]}
    assert plan.status["succeeded"] == 0
    assert [p["metadata"]["uid"] for p in plan.finalize] == ["a"]
    counted = flush_uncounted(plan.status, still_tracked=set())
    assert counted["succeeded"] == 1 and counted["uncountedTerminatedPods"] == {}
    kept = flush_uncounted(plan.status, still_tracked={"a"})  # finalizer not removed yet
    assert kept["succeeded"] == 0 and kept["uncountedTerminatedPods"] == {"succeeded": ["a"]}
    # A pod already counted (no finalizer) is never counted again.
    done = pod("a", "Succeeded")
    done["metadata"]["finalizers"] = []
    again = plan_job(job({"succeeded": 1}, completions=2), [done], NOW)
    assert again.status["succeeded"] == 1 and again.status["uncountedTerminatedPods"] == {}


def test_indexed_jobs_create_the_lowest_pending_indexes() -> None:
    j = job({"completedIndexes": "0"}, completions=4, parallelism=2, completionMode="Indexed")
    plan = plan_job(j, [pod("a", index=1)], NOW)
    assert [p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
            for p in plan.create] == ["2"]  # fmt: skip
    assert plan.create[0]["spec"]["hostname"] == "pi-2"
    assert plan.create[0]["metadata"]["generateName"] == "pi-2-"


def test_the_backoff_limit_sets_failure_target_then_failed() -> None:
    plan = plan_job(job(backoffLimit=0), [pod("a", "Failed")], NOW)
    kinds = [c["type"] for c in plan.status["conditions"]]
    assert kinds == ["FailureTarget"]
    assert plan.create == []
    final = finish(flush_uncounted(plan.status, set()), plan, NOW)
    failed = next(c for c in final["conditions"] if c["type"] == "Failed")
    assert failed["reason"] == "BackoffLimitExceeded" and final["failed"] == 1


def test_the_failure_policy_ignores_or_fails() -> None:
    ignore = {"action": "Ignore", "onExitCodes": {"operator": "In", "values": [3]}}
    fail = {"action": "FailJob", "onExitCodes": {"operator": "NotIn", "values": [3]}}
    policy = {"rules": [ignore, fail]}
    ignored = plan_job(job(podFailurePolicy=policy), [pod("a", "Failed", code=3)], NOW)
    assert ignored.status["uncountedTerminatedPods"] == {} and len(ignored.create) == 1
    failed = plan_job(job(podFailurePolicy=policy), [pod("a", "Failed", code=4)], NOW)
    target = failed.status["conditions"][0]
    assert target["reason"] == "PodFailurePolicy"
    assert "failed with exit code 4 matching FailJob rule at index 1" in target["message"]


def test_backoff_delays_the_replacement() -> None:
    failed = pod("a", "Failed")
    failed["status"]["containerStatuses"][0]["state"]["terminated"]["finishedAt"] = (
        "2026-12-05T07:59:55Z"
    )
    plan = plan_job(job(), [failed], NOW, backoff_base=10)
    assert plan.create == [] and plan.requeue_after == 5.0


def test_the_deadline_fails_the_job() -> None:
    j = job({"startTime": "2026-12-05T07:59:00Z"}, activeDeadlineSeconds=30)
    plan = plan_job(j, [pod("a")], NOW)
    assert plan.status["conditions"][0]["reason"] == "DeadlineExceeded"
    assert [p["metadata"]["uid"] for p in plan.delete] == ["a"]


def test_suspended_jobs_delete_their_pods() -> None:
    plan = plan_job(job({"startTime": "2026-12-05T07:00:00Z"}, suspend=True), [pod("a")], NOW)
    assert "startTime" not in plan.status
    assert [p["metadata"]["uid"] for p in plan.delete] == ["a"]
    assert plan.status["conditions"][0]["reason"] == "JobSuspended"
    assert plan.create == []


def test_backoff_limit_per_index_fails_only_that_index() -> None:
    j = job(completions=3, parallelism=3, completionMode="Indexed", backoffLimitPerIndex=1,
            backoffLimit=2**31 - 1)  # fmt: skip
    first = pod("a", "Failed", index=1)
    plan = plan_job(j, [first, pod("b", index=0), pod("c", index=2)], NOW)
    assert plan.status["failedIndexes"] == ""  # one failure: the index is retried
    assert [p["metadata"]["annotations"] for p in plan.create] == [
        {"batch.kubernetes.io/job-completion-index": "1",
         "batch.kubernetes.io/job-index-failure-count": "1"}
    ]  # fmt: skip
    second = pod("d", "Failed", index=1)
    second["metadata"]["annotations"]["batch.kubernetes.io/job-index-failure-count"] = "1"
    plan = plan_job(j, [second, pod("b", index=0), pod("c", index=2)], NOW)
    assert plan.status["failedIndexes"] == "1" and plan.create == []
    assert "conditions" not in plan.status  # the other indexes still run
    done = {"completedIndexes": "0,2", "failedIndexes": "1", "failed": 2}
    plan = plan_job({**j, "status": done}, [], NOW)
    target = plan.status["conditions"][0]
    assert (target["type"], target["reason"]) == ("FailureTarget", "FailedIndexes")
    most = plan_job(
        {**j, "spec": {**j["spec"], "maxFailedIndexes": 0}, "status": {"failedIndexes": "1"}},
        [pod("b", index=0)],
        NOW,
    )
    assert most.status["conditions"][0]["reason"] == "MaxFailedIndexesExceeded"
    assert most.status["conditions"][0]["message"] == (
        "Job has exceeded the specified maximal number of failed indexes"
    )


def test_a_fail_index_rule_fails_the_index_at_its_first_failure() -> None:
    rule = {"action": "FailIndex", "onExitCodes": {"operator": "In", "values": [42]}}
    j = job(completions=2, parallelism=2, completionMode="Indexed", backoffLimitPerIndex=5,
            backoffLimit=2**31 - 1, podFailurePolicy={"rules": [rule]})  # fmt: skip
    plan = plan_job(j, [pod("a", "Failed", index=0, code=42), pod("b", index=1)], NOW)
    assert plan.status["failedIndexes"] == "0" and plan.create == []
    retried = plan_job(j, [pod("a", "Failed", index=0, code=1), pod("b", index=1)], NOW)
    assert retried.status["failedIndexes"] == "" and len(retried.create) == 1


def _uids(pods: list[Obj]) -> list[str]:
    return sorted(p["metadata"]["uid"] for p in pods)


def _indexed(status: Obj | None = None, **spec: Any) -> Obj:
    return job(status, completionMode="Indexed", **spec)


def test_a_success_policy_met_ends_the_job_and_its_other_pods_are_not_failures() -> None:
    policy = {"rules": [{"succeededIndexes": "0"}]}
    j = _indexed(completions=3, parallelism=3, successPolicy=policy)
    pods = [pod("a", "Succeeded", index=0), pod("b", index=1), pod("c", index=2)]
    plan = plan_job(j, pods, NOW)
    met = plan.status["conditions"][0]
    assert (met["type"], met["status"], met["reason"], met["message"]) == (
        "SuccessCriteriaMet", "True", "SuccessPolicy", "Matched rules at index 0"
    )  # fmt: skip
    assert _uids(plan.delete) == ["b", "c"] and not plan.release and plan.create == []
    assert _uids(plan.finalize) == ["a", "b", "c"]  # none of them is counted as failed
    assert plan.status["uncountedTerminatedPods"] == {"succeeded": ["a"]}
    assert plan.status["terminating"] == 2 and plan.terminal is None
    # The pods still terminate (no finalizer now): no Complete yet, no failure counted.
    status = flush_uncounted(plan.status, set())
    leaving = [pod("b", index=1), pod("c", "Failed", index=2)]
    for p in leaving:
        p["metadata"].update(finalizers=[], deletionTimestamp="2026-12-05T08:00:00Z")
    later = plan_job({**j, "status": status}, leaving, NOW)
    assert later.terminal is None and later.status["failed"] == 0 and later.delete == []
    gone = plan_job({**j, "status": later.status}, [], NOW)
    assert gone.terminal == ("Complete", "SuccessPolicy", "Matched rules at index 0")
    final = finish(flush_uncounted(gone.status, set()), gone, NOW)
    kinds = [(c["type"], c["reason"]) for c in final["conditions"]]
    assert kinds == [("SuccessCriteriaMet", "SuccessPolicy"), ("Complete", "SuccessPolicy")]
    assert final["succeeded"] == 1 and final["completedIndexes"] == "0"


def test_success_policy_counts_and_rules_in_order() -> None:
    by_count = {"rules": [{"succeededIndexes": "0-3", "succeededCount": 2}]}
    j = _indexed({"completedIndexes": "1"}, completions=5, parallelism=5, successPolicy=by_count)
    one = plan_job(j, [pod("a", "Succeeded", index=4), pod("b", index=0)], NOW)
    assert "conditions" not in one.status  # 4 is not among 0-3: one of two
    two = plan_job(j, [pod("a", "Succeeded", index=3), pod("b", index=0)], NOW)
    assert two.status["conditions"][0]["message"] == "Matched rules at index 0"
    rules = {"rules": [{"succeededIndexes": "4"}, {"succeededCount": 2}]}
    j = _indexed({"completedIndexes": "1"}, completions=5, parallelism=5, successPolicy=rules)
    second = plan_job(j, [pod("a", "Succeeded", index=2)], NOW)
    assert second.status["conditions"][0]["message"] == "Matched rules at index 1"


def test_once_success_criteria_are_met_failures_no_longer_fail_the_job() -> None:
    met = {"type": "SuccessCriteriaMet", "status": "True", "reason": "SuccessPolicy",
           "message": "Matched rules at index 0"}  # fmt: skip
    policy = {"rules": [{"succeededCount": 1}]}
    j = _indexed({"completedIndexes": "0", "succeeded": 1, "conditions": [met]}, completions=2,
                 parallelism=2, backoffLimit=0, successPolicy=policy)  # fmt: skip
    plan = plan_job(j, [pod("b", "Failed", index=1)], NOW)
    assert [c["type"] for c in plan.status["conditions"]] == ["SuccessCriteriaMet"]
    assert plan.terminal == ("Complete", "SuccessPolicy", "Matched rules at index 0")


def test_an_elastic_indexed_job_scaled_down_drops_the_indexes_beyond_completions() -> None:
    j = _indexed({"completedIndexes": "0,3", "succeeded": 2}, completions=2, parallelism=2)
    failed = pod("f", "Failed", index=3)
    plan = plan_job(j, [pod("b", index=1), pod("c", index=2), failed], NOW)
    assert _uids(plan.delete) == ["c"] and plan.release and plan.create == []
    assert plan.status["completedIndexes"] == "0" and plan.status["succeeded"] == 1
    assert _uids(plan.finalize) == ["f"] and plan.status["uncountedTerminatedPods"] == {}
    assert plan.status["active"] == 1 and plan.status["terminating"] == 1


def test_an_elastic_indexed_job_scaled_up_starts_the_new_indexes() -> None:
    j = _indexed({"completedIndexes": "0-1", "succeeded": 2}, completions=4, parallelism=4)
    plan = plan_job(j, [], NOW)
    assert [p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
            for p in plan.create] == ["2", "3"]  # fmt: skip
    assert "conditions" not in plan.status


def test_duplicate_indexes_and_excess_parallelism_are_released_not_failed() -> None:
    j = _indexed(completions=3, parallelism=1)
    plan = plan_job(j, [pod("a", index=0), pod("b", index=0), pod("c", index=1)], NOW)
    assert _uids(plan.delete) == ["b", "c"] and plan.release and plan.create == []
    plain = plan_job(job(completions=5, parallelism=1), [pod("a"), pod("b")], NOW)
    assert len(plain.delete) == 1 and plain.release


def test_only_failed_pods_replaced_waits_for_a_terminating_index() -> None:
    stopping = pod("b", index=1)
    stopping["metadata"]["deletionTimestamp"] = "2026-12-05T07:59:59Z"
    pods = [pod("a", index=0), stopping]
    failed_only = _indexed(completions=3, parallelism=3, podReplacementPolicy="Failed")
    plan = plan_job(failed_only, pods, NOW)
    assert [p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
            for p in plan.create] == ["2"]  # fmt: skip
    assert plan.status["terminating"] == 1 and plan.status["uncountedTerminatedPods"] == {}
    either = plan_job(_indexed(completions=3, parallelism=3), pods, NOW)
    assert [p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
            for p in either.create] == ["1", "2"]  # fmt: skip
    assert either.status["uncountedTerminatedPods"] == {"failed": ["b"]}
    plain = plan_job(job(completions=3, parallelism=2, podReplacementPolicy="Failed"),
                     [pod("a"), {**stopping, "metadata": {**stopping["metadata"], "uid": "c"}}],
                     NOW)  # fmt: skip
    assert plain.create == [] and plain.status["terminating"] == 1


def test_a_finished_job_keeps_its_pod_counts() -> None:
    done = {"succeeded": 1, "active": 0, "terminating": 0,
            "conditions": [{"type": "Complete", "status": "True"}]}  # fmt: skip
    leaving = pod("a")
    leaving["metadata"].update(finalizers=[], deletionTimestamp="2026-12-05T07:59:59Z")
    plan = plan_job(job(done), [leaving, pod("b")], NOW)
    assert (plan.status["active"], plan.status["terminating"]) == (0, 0)
    assert plan.create == [] and plan.delete == []
