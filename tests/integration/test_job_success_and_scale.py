"""A Job's success policy and elastic Indexed Jobs over the real API server and Redis: the
controller driven step by step (informers pumped, queue drained), pod phases and the agent's
final removal of a stopped pod written through the API; and kube-apiserver's messages for a bad
success policy or completions changed alone, with nothing stored."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from common.resources import must
from control.registry.registry import Registry
from tests.integration.conftest import Api
from tests.integration.test_job_controller import (
    FINALIZER,
    Plane,
    active,
    condition,
    finish,
    job,
    pods,
    status,
)

JOBS, PODS = must("jobs"), must("pods")
URL = "/apis/batch/v1/namespaces/default/jobs"
INDEX = "batch.kubernetes.io/job-completion-index"
Obj = dict[str, Any]


@pytest.fixture
def registry(app: Any) -> Registry:
    reg: Registry = app.extensions["tinykube"]["registry"]
    return reg


def by_index(reg: Registry) -> dict[int, Obj]:
    return {int(p["metadata"]["annotations"][INDEX]): p for p in active(reg)}


def placed(reg: Registry) -> None:
    """What the scheduler does: bind each new pod (a bound pod is deleted gracefully)."""
    for pod in active(reg):
        if not pod["spec"].get("nodeName"):
            name = pod["metadata"]["name"]
            node = {"apiVersion": "v1", "kind": "Node", "name": "node-1"}
            binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
                       "target": node}  # fmt: skip
            reg.bind("default", name, binding)


def stopped(reg: Registry) -> None:
    """What the agent does once a deleted pod's containers have stopped: remove it."""
    for pod in pods(reg):
        if pod["metadata"].get("deletionTimestamp"):
            reg.delete(PODS, "default", pod["metadata"]["name"], {"gracePeriodSeconds": 0})


def scale(reg: Registry, count: int) -> None:
    obj = reg.get(JOBS, "default", "pi")
    obj["spec"].update(completions=count, parallelism=count)
    reg.replace(JOBS, "default", "pi", obj)


def test_a_success_policy_completes_the_job_while_other_indexes_run(registry: Registry) -> None:
    plane = Plane(registry)
    policy = {"rules": [{"succeededIndexes": "0"}]}
    spec = {"completions": 3, "parallelism": 3, "completionMode": "Indexed"}
    registry.create(JOBS, "default", job(successPolicy=policy, **spec))
    plane.step()
    placed(registry)
    running = by_index(registry)
    assert sorted(running) == [0, 1, 2]
    finish(registry, running[0], "Succeeded")
    plane.step()
    met = condition(registry, "SuccessCriteriaMet")
    assert met is not None and (met["status"], met["reason"], met["message"]) == (
        "True", "SuccessPolicy", "Matched rules at index 0"
    )  # fmt: skip
    assert condition(registry, "Complete") is None  # two pods still stopping
    leaving = [p for p in pods(registry) if p["metadata"].get("deletionTimestamp")]
    assert len(leaving) == 2
    assert all(FINALIZER not in (p["metadata"].get("finalizers") or []) for p in leaving)
    st = status(registry)
    assert (st["terminating"], st["active"], st["succeeded"]) == (2, 0, 1)
    stopped(registry)
    plane.step()
    complete = condition(registry, "Complete")
    assert complete is not None and (complete["reason"], complete["message"]) == (
        "SuccessPolicy", "Matched rules at index 0"
    )  # fmt: skip
    st = status(registry)
    assert (st["succeeded"], st.get("failed", 0), st["completedIndexes"]) == (1, 0, "0")
    assert st["completionTime"] and st["terminating"] == 0
    assert len(pods(registry)) == 1  # no replacement for the stopped ones


def test_an_elastic_indexed_job_scales_down_then_up(registry: Registry) -> None:
    plane = Plane(registry)
    registry.create(JOBS, "default", job(completions=3, parallelism=3, completionMode="Indexed"))
    plane.step()
    placed(registry)
    finish(registry, by_index(registry)[2], "Succeeded")
    plane.step()
    assert status(registry)["completedIndexes"] == "2"
    scale(registry, 1)
    plane.step()
    assert sorted(by_index(registry)) == [0]  # index 1 is removed, index 2 forgotten
    st = status(registry)
    assert (st["completedIndexes"], st["succeeded"], st.get("failed", 0)) == ("", 0, 0)
    gone = [p for p in pods(registry) if p["metadata"].get("deletionTimestamp")]
    assert [p["metadata"]["annotations"][INDEX] for p in gone] == ["1"]
    assert FINALIZER not in (gone[0]["metadata"].get("finalizers") or [])
    stopped(registry)
    scale(registry, 4)
    plane.step()
    assert sorted(by_index(registry)) == [0, 1, 2, 3]
    for pod in active(registry):
        finish(registry, pod, "Succeeded")
    plane.step()
    st = status(registry)
    assert (st["completedIndexes"], st["succeeded"], st.get("failed", 0)) == ("0-3", 4, 0)
    assert condition(registry, "Complete") is not None


def test_bad_success_policies_and_lone_completions_changes_are_refused(api: Api) -> None:
    body = job(completions=2, parallelism=2, completionMode="Indexed",
               successPolicy={"rules": [{"succeededIndexes": "1-2"}]})  # fmt: skip
    code, st = api.call("POST", URL, body)
    assert code == 422
    assert st["message"] == (
        'Job.batch "pi" is invalid: spec.successPolicy.rules[0].succeededIndexes: Invalid '
        'value: "1-2": error parsing succeededIndexes: too large index: "2"'
    )
    assert api.call("GET", f"{URL}/pi")[0] == 404
    body["spec"]["successPolicy"] = {"rules": [{"succeededCount": 1}]}
    code, obj = api.call("POST", URL, body)
    assert code == 201, obj
    alone = copy.deepcopy(obj)
    alone["spec"]["completions"] = 5
    code, st = api.call("PUT", f"{URL}/pi", alone)
    assert code == 422
    assert st["details"]["causes"][0]["field"] == "spec.completions"
    assert st["message"].endswith("can only be modified in tandem with spec.parallelism")
    obj["spec"].update(completions=5, parallelism=5)
    code, updated = api.call("PUT", f"{URL}/pi", obj)
    assert code == 200, updated
    assert updated["spec"]["completions"] == 5
