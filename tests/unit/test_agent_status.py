"""compute_pod_status: phase rule, conditions, container states and the rm -f interim status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agent import runtime as rt
from agent.planner import Waiting
from agent.runtime import ContainerInfo
from agent.status import StatusExtra, compute_phase, compute_pod_status

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
NOW = T0 + timedelta(minutes=1)
UID = "uid-1"
CID = "a" * 64


def make_pod(names: tuple[str, ...] = ("web",), policy: str = "Always", **status: Any):
    return {
        "metadata": {"name": "p", "namespace": "default", "uid": UID},
        "spec": {
            "containers": [{"name": n, "image": f"tinykube/{n}:1"} for n in names],
            "restartPolicy": policy,
        },
        "status": dict(status),
    }


def sandbox(state: rt.State = "running") -> ContainerInfo:
    return ContainerInfo(
        id="sb", name="k8s_POD", pod_uid=UID, pod_name="p", pod_namespace="default",
        container_name="POD", attempt=0, role="sandbox", state=state, ip="10.88.0.7",
    )  # fmt: skip


def app(
    name: str = "web",
    attempt: int = 0,
    state: rt.State = "running",
    exit_code: int | None = None,
    cid: str = CID,
    oom: bool = False,
) -> ContainerInfo:
    return ContainerInfo(
        id=cid,
        name=f"k8s_{name}",
        pod_uid=UID,
        pod_name="p",
        pod_namespace="default",
        container_name=name,
        attempt=attempt,
        role="app",
        state=state,
        exit_code=exit_code,
        created_at=T0 + timedelta(seconds=attempt),
        started_at=T0,
        finished_at=T0 + timedelta(seconds=5) if state == "exited" else None,
        image=f"tinykube/{name}:1",
        image_id="sha256:" + "b" * 64,
        oom_killed=oom,
    )


def status_of(pod: dict[str, Any], containers: list[ContainerInfo], **waiting: Waiting):
    return compute_pod_status(pod, containers, NOW, StatusExtra("192.168.1.5", waiting))


def cond(status: dict[str, Any], ctype: str) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == ctype)


def test_running_pod() -> None:
    status = status_of(make_pod(), [sandbox(), app()])
    assert status["phase"] == "Running"
    assert status["podIP"] == "10.88.0.7" and status["podIPs"] == [{"ip": "10.88.0.7"}]
    assert status["hostIP"] == "192.168.1.5"
    assert status["startTime"] == "2026-01-01T12:01:00Z"
    assert status["qosClass"] == "BestEffort"
    (cs,) = status["containerStatuses"]
    assert cs["state"] == {"running": {"startedAt": "2026-01-01T12:00:00Z"}}
    assert cs["ready"] is True and cs["started"] is True and cs["restartCount"] == 0
    assert cs["containerID"] == f"docker://{CID}"
    assert cs["imageID"] == "docker://sha256:" + "b" * 64
    assert cs["image"] == "tinykube/web:1"
    for ctype in ("Initialized", "Ready", "ContainersReady", "PodScheduled"):
        assert cond(status, ctype)["status"] == "True"


def test_pending_pod_is_container_creating() -> None:
    status = status_of(make_pod(), [sandbox()])
    assert status["phase"] == "Pending"
    (cs,) = status["containerStatuses"]
    assert cs["state"] == {"waiting": {"reason": "ContainerCreating"}}
    assert cs["ready"] is False and cs["restartCount"] == 0
    ready = cond(status, "Ready")
    assert ready["status"] == "False" and ready["reason"] == "ContainersNotReady"
    assert ready["message"] == "containers with unready status: [web]"


def test_image_pull_error_is_pending_with_reason() -> None:
    w = Waiting("ErrImagePull", "dial tcp 127.0.0.1:1: connection refused")
    status = status_of(make_pod(), [sandbox()], web=w)
    assert status["phase"] == "Pending"
    assert status["containerStatuses"][0]["state"]["waiting"] == {
        "reason": "ErrImagePull",
        "message": "dial tcp 127.0.0.1:1: connection refused",
    }


def test_crash_loop_is_running_with_last_state() -> None:
    w = Waiting("CrashLoopBackOff", "back-off 10s restarting failed container=web pod=p")
    status = status_of(make_pod(), [sandbox(), app(attempt=2, state="exited", exit_code=1)], web=w)
    assert status["phase"] == "Running"
    (cs,) = status["containerStatuses"]
    assert cs["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    term = cs["lastState"]["terminated"]
    assert term["exitCode"] == 1 and term["reason"] == "Error"
    assert term["finishedAt"] == "2026-01-01T12:00:05Z"
    assert cs["restartCount"] == 2


@pytest.mark.parametrize(
    ("policy", "codes", "phase"),
    [
        ("Never", (0, 0), "Succeeded"),
        ("Never", (0, 1), "Failed"),
        ("OnFailure", (0, 0), "Succeeded"),
        ("OnFailure", (0, 1), "Running"),
        ("Always", (0, 0), "Running"),
    ],
)
def test_phase_when_all_stopped(policy: str, codes: tuple[int, int], phase: str) -> None:
    containers = [
        app("a", state="exited", exit_code=codes[0], cid="1" * 64),
        app("b", state="exited", exit_code=codes[1], cid="2" * 64),
    ]
    status = status_of(make_pod(("a", "b"), policy), containers)
    assert status["phase"] == phase
    reasons = [cs["state"]["terminated"]["reason"] for cs in status["containerStatuses"]]
    assert reasons == ["Completed" if c == 0 else "Error" for c in codes]
    if phase in ("Succeeded", "Failed"):
        assert cond(status, "Ready")["reason"] == "PodCompleted"


def test_one_waiting_container_keeps_pod_pending() -> None:
    status = status_of(make_pod(("a", "b")), [sandbox(), app("a")])
    assert status["phase"] == "Pending"


def test_terminal_phase_never_changes_back() -> None:
    pod = make_pod(policy="Never", phase="Succeeded")
    assert compute_phase(pod, [{"state": {"running": {}}}]) == "Succeeded"
    status = status_of(pod, [sandbox(), app()])
    assert status["phase"] == "Succeeded"


def test_oom_killed_reason() -> None:
    status = status_of(make_pod(policy="Never"), [app(state="exited", exit_code=137, oom=True)])
    assert status["containerStatuses"][0]["state"]["terminated"]["reason"] == "OOMKilled"
    assert status["phase"] == "Failed"


def test_rm_f_of_running_container_gives_interim_unknown_status() -> None:
    old = {
        "name": "web",
        "state": {"running": {"startedAt": "2026-01-01T12:00:00Z"}},
        "lastState": {},
        "restartCount": 0,
        "containerID": f"docker://{CID}",
        "ready": True,
    }
    pod = make_pod(phase="Running", containerStatuses=[old], startTime="2026-01-01T11:59:59Z")
    status = status_of(pod, [sandbox()])
    (cs,) = status["containerStatuses"]
    assert cs["state"] == {"waiting": {"reason": "ContainerCreating"}}
    assert cs["restartCount"] == 1
    term = cs["lastState"]["terminated"]
    assert term["exitCode"] == 137
    assert term["reason"] == "ContainerStatusUnknown"
    assert term["message"].startswith("The container could not be located")
    assert term["containerID"] == f"docker://{CID}"
    assert "containerID" not in cs
    assert status["startTime"] == "2026-01-01T11:59:59Z"
    # Once the replacement runs, the unknown termination stays as its lastState.
    pod2 = make_pod(phase="Running", containerStatuses=[cs])
    status2 = status_of(pod2, [sandbox(), app(attempt=1, cid="c" * 64)])
    (cs2,) = status2["containerStatuses"]
    assert cs2["restartCount"] == 1
    assert cs2["lastState"]["terminated"]["reason"] == "ContainerStatusUnknown"
    assert "running" in cs2["state"]


def test_replacement_after_rm_f_in_one_sync_reports_unknown_last_state() -> None:
    old = {
        "name": "web",
        "state": {"running": {"startedAt": "2026-01-01T12:00:00Z"}},
        "restartCount": 0,
        "containerID": f"docker://{CID}",
    }
    pod = make_pod(phase="Running", containerStatuses=[old])
    status = status_of(pod, [sandbox(), app(attempt=1, cid="c" * 64)])
    (cs,) = status["containerStatuses"]
    assert cs["restartCount"] == 1
    assert cs["lastState"]["terminated"]["reason"] == "ContainerStatusUnknown"


def test_last_state_from_previous_attempt() -> None:
    containers = [
        sandbox(),
        app(attempt=1, cid="c" * 64),
        app(attempt=0, state="exited", exit_code=2),
    ]
    (cs,) = status_of(make_pod(), containers)["containerStatuses"]
    assert cs["lastState"]["terminated"]["exitCode"] == 2
    assert cs["lastState"]["terminated"]["containerID"] == f"docker://{CID}"


def test_transition_times_are_kept_when_unchanged() -> None:
    first = status_of(make_pod(), [sandbox(), app()])
    pod = make_pod(**first)
    later = compute_pod_status(pod, [sandbox(), app()], NOW + timedelta(minutes=5), StatusExtra())
    assert cond(later, "Ready")["lastTransitionTime"] == cond(first, "Ready")["lastTransitionTime"]
    assert later["startTime"] == first["startTime"]


def test_scheduler_condition_and_foreign_fields_are_kept() -> None:
    sched = {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2025-12-31T00:00:00Z"}
    other = {"type": "DisruptionTarget", "status": "True"}
    pod = make_pod(conditions=[sched, other], nominatedNodeName="n1")
    status = status_of(pod, [sandbox(), app()])
    assert cond(status, "PodScheduled") == sched
    assert cond(status, "DisruptionTarget") == other
    assert status["nominatedNodeName"] == "n1"


def test_repo_digest_image_id() -> None:
    c = app()
    c = ContainerInfo(**{**c.__dict__, "repo_digest": "tinykube/web@sha256:" + "d" * 64})
    (cs,) = status_of(make_pod(), [sandbox(), c])["containerStatuses"]
    assert cs["imageID"] == "docker-pullable://tinykube/web@sha256:" + "d" * 64


def test_the_qos_class_set_at_creation_is_kept() -> None:
    pod = make_pod(qosClass="Burstable")  # the API server's class; the spec says BestEffort
    assert status_of(pod, [sandbox(), app()])["qosClass"] == "Burstable"


def test_ephemeral_containers_have_statuses_of_their_own_never_ready() -> None:
    pod = make_pod()
    pod["spec"]["ephemeralContainers"] = [{"name": "debugger", "image": "tinykube/sleeper:1"}]
    status = status_of(pod, [sandbox(), app(), app("debugger", cid="d" * 64)])
    assert [s["name"] for s in status["containerStatuses"]] == ["web"]
    [debug] = status["ephemeralContainerStatuses"]
    assert debug["state"] == {"running": {"startedAt": "2026-01-01T12:00:00Z"}}
    assert (debug["ready"], debug["containerID"]) == (False, "docker://" + "d" * 64)
    assert cond(status, "Ready")["status"] == "True"  # the pod never waits for one
    status = status_of(pod, [sandbox(), app()])
    assert status["ephemeralContainerStatuses"][0]["state"] == {
        "waiting": {"reason": "ContainerCreating"}
    }
    assert "ephemeralContainerStatuses" not in status_of(make_pod(), [sandbox(), app()])


def test_a_host_network_pod_has_the_nodes_address() -> None:
    pod = make_pod()
    pod["spec"]["hostNetwork"] = True
    host_sandbox = ContainerInfo(
        id="sb", name="k8s_POD", pod_uid=UID, pod_name="p", pod_namespace="default",
        container_name="POD", attempt=0, role="sandbox", state="running", ip="",
    )  # fmt: skip
    status = status_of(pod, [host_sandbox, app()])
    assert (status["podIP"], status["podIPs"]) == ("192.168.1.5", [{"ip": "192.168.1.5"}])
