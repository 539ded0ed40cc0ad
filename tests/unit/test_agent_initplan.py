"""Init containers and native sidecars in the pure planner and status: one at a time, in order,
to success before the app containers; sidecars started in order and kept running."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from agent.planner import BackoffEntry, backoff_key, compute_pod_actions
from agent.prober import ContainerProbes
from agent.runtime import ContainerInfo
from agent.status import StatusExtra, compute_pod_status
from common.podstatus import summarize
from tests.unit.test_agent_planner import T0, WEB, app, make_pod, sandbox

INIT1 = {"name": "init1", "image": "tinykube-test/busybox:1", "command": ["true"]}
INIT2 = {"name": "init2", "image": "tinykube-test/busybox:1", "command": ["true"]}
SIDECAR = {"name": "proxy", "image": "tinykube/web:1", "restartPolicy": "Always"}
SLOW_SIDECAR = {**SIDECAR, "startupProbe": {"exec": {"command": ["true"]}}}


def pod_with(*inits: dict[str, Any], policy: str = "Always") -> dict[str, Any]:
    pod = make_pod(WEB, policy=policy)
    pod["spec"]["initContainers"] = list(inits)
    return pod


def plan(pod: dict[str, Any], *containers: ContainerInfo, **kw: Any) -> Any:
    return compute_pod_actions(pod, [sandbox(), *containers], T0, kw.pop("backoff", {}), **kw)


def started(actions: Any) -> list[str]:
    return [s.name for s in actions.to_start]


def status(pod: dict[str, Any], *containers: ContainerInfo, **kw: Any) -> dict[str, Any]:
    return compute_pod_status(pod, [sandbox(), *containers], T0, StatusExtra(**kw))


def cond(st: dict[str, Any], ctype: str) -> dict[str, Any]:
    return next(c for c in st["conditions"] if c["type"] == ctype)


def test_a_new_sandbox_starts_only_the_first_init_container() -> None:
    actions = compute_pod_actions(pod_with(INIT1, INIT2), [], T0, {})
    assert actions.create_sandbox and started(actions) == ["init1"]


def test_init_containers_run_one_at_a_time_in_order() -> None:
    pod = pod_with(INIT1, INIT2)
    assert started(plan(pod)) == ["init1"]
    assert started(plan(pod, app("i1", spec=INIT1))) == []  # still running: wait
    done1 = app("i1", state="exited", exit_code=0, spec=INIT1)
    assert started(plan(pod, done1)) == ["init2"]
    done2 = app("i2", state="exited", exit_code=0, spec=INIT2)
    assert started(plan(pod, done1, done2)) == ["web"]


def test_init_records_of_another_sandbox_do_not_count() -> None:
    old = app("i1", state="exited", exit_code=0, spec=INIT1, sandbox_id="sb-old")
    assert started(plan(pod_with(INIT1), old)) == ["init1"]


def test_a_pod_whose_app_container_ran_is_initialized_for_good() -> None:
    # The finished init containers' records were removed: they do not run again.
    actions = plan(pod_with(INIT1), app("w", state="exited", exit_code=1))
    assert started(actions) == ["web"]


def test_a_failed_init_container_is_restarted_with_back_off() -> None:
    pod = pod_with(INIT1, INIT2, policy="OnFailure")
    failed = app("i1", state="exited", exit_code=1, spec=INIT1)
    actions = plan(pod, failed)
    assert started(actions) == ["init1"]
    assert actions.to_start[0].restart_count == 1
    key = backoff_key("init1", failed.spec_hash)
    entry = BackoffEntry(10.0, T0)
    waiting = plan(pod, failed, backoff={key: entry})
    assert started(waiting) == []
    assert waiting.waiting["init1"].reason == "CrashLoopBackOff"


def test_a_failed_init_container_under_never_fails_the_pod() -> None:
    pod = pod_with(INIT1, INIT2, policy="Never")
    failed = app("i1", state="exited", exit_code=1, spec=INIT1)
    actions = plan(pod, failed)
    assert started(actions) == []
    assert any(k.info.role == "sandbox" for k in actions.to_kill)
    st = status(pod, failed)
    assert st["phase"] == "Failed"
    assert summarize({**pod, "status": st}).reason == "Init:Error"


def test_sidecars_start_in_order_and_gate_the_next_container() -> None:
    pod = pod_with(INIT1, SLOW_SIDECAR, INIT2)
    done1 = app("i1", state="exited", exit_code=0, spec=INIT1)
    assert started(plan(pod, done1)) == ["proxy"]
    side = app("s1", spec=SLOW_SIDECAR)
    assert started(plan(pod, done1, side)) == []  # its startup probe has not passed
    ok = {"s1": ContainerProbes(started=True)}
    assert started(plan(pod, done1, side, probes=ok)) == ["init2"]


def test_an_exited_sidecar_is_restarted_even_under_never() -> None:
    pod = pod_with(SIDECAR, policy="Never")
    side = app("s1", state="exited", exit_code=0, spec=SIDECAR)
    actions = plan(pod, side, app("w"))
    assert started(actions) == ["proxy"]


def test_init_and_sidecar_records_are_kept_not_garbage() -> None:
    pod = pod_with(INIT1, SIDECAR)
    records = [app("i1", state="exited", exit_code=0, spec=INIT1), app("s1", spec=SIDECAR),
               app("w")]  # fmt: skip
    actions = plan(pod, *records)
    assert actions.to_remove == [] and actions.to_kill == [] and actions.to_start == []


def test_status_while_the_first_init_container_runs() -> None:
    pod = pod_with(INIT1, INIT2)
    st = status(pod, app("i1", spec=INIT1))
    assert st["phase"] == "Pending"
    init = cond(st, "Initialized")
    assert init["status"] == "False" and init["reason"] == "ContainersNotInitialized"
    assert init["message"] == "containers with incomplete status: [init1 init2]"
    assert [s["state"] for s in st["initContainerStatuses"]][1] == {
        "waiting": {"reason": "PodInitializing"}
    }
    assert st["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    assert summarize({**pod, "status": st}).reason == "Init:0/2"


def test_status_once_initialized_and_the_app_is_being_created() -> None:
    pod = pod_with(INIT1, INIT2)
    records = [app("i1", state="exited", exit_code=0, spec=INIT1),
               app("i2", state="exited", exit_code=0, spec=INIT2)]  # fmt: skip
    st = status(pod, *records)
    assert cond(st, "Initialized")["status"] == "True"
    assert [s["ready"] for s in st["initContainerStatuses"]] == [True, True]
    assert summarize({**pod, "status": st}).reason == "PodInitializing"
    st = status(pod, *records, app("w"))
    assert st["phase"] == "Running"
    assert summarize({**pod, "status": st}).reason == "Running"


def test_init_crash_loop_status() -> None:
    pod = pod_with(INIT1, policy="OnFailure")
    failed = app("i1", state="exited", exit_code=1, spec=INIT1)
    from agent.planner import Waiting

    st = status(pod, failed, waiting={"init1": Waiting("CrashLoopBackOff", "back-off 10s")})
    assert st["phase"] == "Pending"
    assert summarize({**pod, "status": st}).reason == "Init:CrashLoopBackOff"
    assert st["initContainerStatuses"][0]["lastState"]["terminated"]["exitCode"] == 1


@pytest.mark.parametrize(("ready", "column", "condition"), [(True, "2/2", "True"),
                                                            (False, "1/2", "False")])  # fmt: skip
def test_a_sidecar_counts_in_ready(ready: bool, column: str, condition: str) -> None:
    pod = pod_with({**SIDECAR, "readinessProbe": {"exec": {"command": ["true"]}}})
    probes = {"s1": ContainerProbes(ready=ready)}
    st = status(pod, app("s1", spec=pod["spec"]["initContainers"][0]), app("w"), probes=probes)
    s = summarize({**pod, "status": st})
    assert f"{s.ready}/{s.total}" == column
    assert cond(st, "ContainersReady")["status"] == condition
    assert st["initContainerStatuses"][0]["started"] is True


def test_initialized_says_pod_completed_once_succeeded() -> None:
    pod = pod_with(INIT1, policy="Never")
    done = [app("i1", state="exited", exit_code=0, spec=INIT1),
            app("w", state="exited", exit_code=0, finished=T0 + timedelta(seconds=1))]  # fmt: skip
    st = status(pod, *done)
    assert st["phase"] == "Succeeded"
    assert cond(st, "Initialized")["reason"] == "PodCompleted"


def test_sidecars_are_stopped_once_the_app_containers_ended_for_good() -> None:
    pod = pod_with(SIDECAR, policy="Never")
    side = app("s1", spec=SIDECAR)
    actions = plan(pod, side, app("w", state="exited", exit_code=0))
    killed = [k.info.id for k in actions.to_kill]
    assert killed == ["s1", "sb0"] and actions.to_start == []
    # An exited sidecar is not restarted either.
    gone = app("s1", state="exited", exit_code=143, spec=SIDECAR)
    actions = plan(pod, gone, app("w", state="exited", exit_code=0))
    assert actions.to_start == [] and [k.info.id for k in actions.to_kill] == ["sb0"]


def test_a_sidecar_waiting_for_its_startup_probe_is_not_stopped() -> None:
    pod = pod_with(SLOW_SIDECAR, policy="Never")
    actions = plan(pod, app("s1", spec=SLOW_SIDECAR))
    assert actions.to_kill == [] and actions.to_start == []


def test_tkctl_and_the_server_side_table_print_the_agents_init_status() -> None:
    from common.printers import pod_row
    from common.resources import must
    from control.apiserver.tables import to_table

    pod = pod_with(SIDECAR, INIT1)
    pod["metadata"]["creationTimestamp"] = "2026-01-01T11:59:00Z"
    st = status(pod, app("s1", spec=SIDECAR), app("i1", spec=INIT1))
    shown = {**pod, "status": st}
    assert pod_row(shown, T0)[1:3] == ["1/2", "Init:1/2"]
    (row,) = to_table(must("pods"), shown, T0)["rows"]
    assert row["cells"][1:3] == ["1/2", "Init:1/2"]


def test_a_new_sandbox_runs_every_init_container_again() -> None:
    pod = pod_with(INIT1, INIT2, policy="OnFailure")
    old = [app("i1", state="exited", exit_code=0, spec=INIT1, sandbox_id="sb-old"),
           app("i2", state="exited", exit_code=0, spec=INIT2, sandbox_id="sb-old")]  # fmt: skip
    again = app("i1b", attempt=1, state="exited", exit_code=0, spec=INIT1)
    actions = plan(pod, *old, again)
    assert started(actions) == ["init2"]
    assert actions.to_start[0].restart_count == 1  # a new name beside the old record
