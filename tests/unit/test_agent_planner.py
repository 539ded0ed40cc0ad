"""compute_pod_actions: given a pod and its containers, what the agent must do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agent import podspec
from agent import runtime as rt
from agent.planner import (
    BackoffEntry,
    BackoffPolicy,
    backoff_key,
    compute_pod_actions,
    go_duration,
    next_backoff,
    remaining_backoff,
)
from agent.runtime import ContainerInfo

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
UID = "uid-1"
WEB = {"name": "web", "image": "tinykube/web:1"}
SIDE = {"name": "side", "image": "tinykube/sleeper:1"}


def make_pod(*containers: dict[str, Any], policy: str = "Always", **meta: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "namespace": "default", "uid": UID, **meta},
        "spec": {"containers": list(containers or [WEB]), "restartPolicy": policy},
        "status": {},
    }


def sandbox(cid: str = "sb0", attempt: int = 0, state: rt.State = "running") -> ContainerInfo:
    return ContainerInfo(
        id=cid,
        name=f"k8s_POD_p_default_{UID}_{attempt}",
        pod_uid=UID,
        pod_name="p",
        pod_namespace="default",
        container_name="POD",
        attempt=attempt,
        role="sandbox",
        state=state,
        exit_code=None if state == "running" else 137,
        created_at=T0 + timedelta(seconds=attempt),
        ip="10.88.0.2",
    )


def app(
    cid: str,
    attempt: int = 0,
    state: rt.State = "running",
    exit_code: int | None = None,
    spec: dict[str, Any] = WEB,
    sandbox_id: str = "sb0",
    finished: datetime | None = None,
) -> ContainerInfo:
    return ContainerInfo(
        id=cid,
        name=f"k8s_{spec['name']}_p_default_{UID}_{attempt}",
        pod_uid=UID,
        pod_name="p",
        pod_namespace="default",
        container_name=spec["name"],
        attempt=attempt,
        role="app",
        state=state,
        exit_code=exit_code,
        created_at=T0 + timedelta(seconds=attempt),
        started_at=T0,
        finished_at=finished or (T0 if state == "exited" else None),
        labels={
            rt.SANDBOX_ID: sandbox_id,
            rt.CONTAINER_HASH: podspec.container_hash(spec),
        },
    )


def plan(pod: dict[str, Any], containers: list[ContainerInfo], now: datetime = T0, **kw: Any):
    return compute_pod_actions(pod, containers, now, kw.pop("backoff", {}), kw.pop("policy", None))


def started(actions: Any) -> list[tuple[str, int]]:
    return [(s.name, s.restart_count) for s in actions.to_start]


def killed(actions: Any) -> list[str]:
    return sorted(k.info.id for k in actions.to_kill)


def test_new_pod_creates_sandbox_and_starts_everything() -> None:
    actions = plan(make_pod(WEB, SIDE), [])
    assert actions.create_sandbox and actions.sandbox_attempt == 0
    assert started(actions) == [("web", 0), ("side", 0)]
    assert not actions.to_kill and not actions.to_remove


def test_steady_state_does_nothing() -> None:
    actions = plan(make_pod(), [sandbox(), app("c0")])
    assert not actions.create_sandbox
    assert actions.sandbox is not None and actions.sandbox.id == "sb0"
    assert not actions.to_start and not actions.to_kill and not actions.to_remove
    assert actions.requeue_after is None


@pytest.mark.parametrize("policy", ["Always", "OnFailure", "Never"])
def test_missing_container_starts_whatever_the_policy(policy: str) -> None:
    """After `docker rm -f` there is no record: start it again, counting from the status."""
    pod = make_pod(policy=policy)
    pod["status"] = {
        "containerStatuses": [{"name": "web", "restartCount": 2, "containerID": "docker://gone"}]
    }
    actions = plan(pod, [sandbox()])
    assert started(actions) == [("web", 3)]


@pytest.mark.parametrize(
    ("policy", "exit_code", "restarts"),
    [
        ("Always", 0, True),
        ("Always", 1, True),
        ("OnFailure", 0, False),
        ("OnFailure", 2, True),
        ("Never", 0, False),
        ("Never", 1, False),
    ],
)
def test_exited_container_follows_restart_policy(
    policy: str, exit_code: int, restarts: bool
) -> None:
    actions = plan(make_pod(policy=policy), [sandbox(), app("c0", 0, "exited", exit_code)])
    assert started(actions) == ([("web", 1)] if restarts else [])
    # The finished container is kept for `logs --previous`.
    assert not actions.to_remove
    if not restarts:
        assert killed(actions) == ["sb0"]  # nothing will run again: the sandbox goes


def test_first_restart_is_immediate_then_backoff_doubles_to_cap() -> None:
    policy = BackoffPolicy(base=10, cap=40, reset=600)
    key = backoff_key("web", podspec.container_hash(WEB))
    state: dict[str, BackoffEntry] = {}
    now = T0
    delays = []
    for attempt in range(5):
        finished = now
        containers = [sandbox(), app(f"c{attempt}", attempt, "exited", 1, finished=finished)]
        actions = plan(make_pod(), containers, now, backoff=state, policy=policy)
        if attempt == 0:
            assert started(actions) == [("web", 1)]
        else:
            assert not actions.to_start
            wait = actions.waiting["web"]
            assert wait.reason == "CrashLoopBackOff"
            assert "restarting failed container=web pod=p_default(uid-1)" in wait.message
            delays.append(actions.requeue_after)
            now = finished + timedelta(seconds=actions.requeue_after or 0)
            actions = plan(make_pod(), containers, now, backoff=state, policy=policy)
            assert started(actions) == [("web", attempt + 1)]
        state.update(actions.backoff_updates)
        assert key in state
        now = now + timedelta(seconds=1)
    assert delays == [10, 20, 40, 40]


def test_backoff_message_uses_go_durations() -> None:
    entry = BackoffEntry(80.0, T0 - timedelta(seconds=5))
    key = backoff_key("web", podspec.container_hash(WEB))
    containers = [sandbox(), app("c3", 3, "exited", 1, finished=T0)]
    actions = plan(make_pod(), containers, T0 + timedelta(seconds=1), backoff={key: entry})
    assert actions.waiting["web"].message.startswith("back-off 1m20s restarting")
    assert actions.requeue_after == pytest.approx(79.0)


def test_backoff_resets_after_a_long_run() -> None:
    policy = BackoffPolicy(base=10, cap=300, reset=600)
    entry = BackoffEntry(160.0, T0)
    finished = T0 + timedelta(seconds=601)
    assert remaining_backoff(entry, finished, finished, policy) == 0
    assert next_backoff(entry, finished, policy).delay == 10
    assert next_backoff(entry, T0 + timedelta(seconds=30), policy).delay == 300


def test_go_duration() -> None:
    assert [go_duration(s) for s in (10, 40, 80, 300, 0.2, 1.5)] == [
        "10s",
        "40s",
        "1m20s",
        "5m0s",
        "200ms",
        "1.5s",
    ]


def test_sandbox_gone_kills_and_restarts_all() -> None:
    containers = [sandbox("sb0", 0, "exited"), app("c0", 0, sandbox_id="sb0")]
    actions = plan(make_pod(), containers)
    assert actions.create_sandbox and actions.sandbox_attempt == 1
    assert killed(actions) == ["c0"]
    assert started(actions) == [("web", 1)]


def test_sandbox_gone_under_never_after_a_run_does_not_recreate() -> None:
    containers = [app("c0", 0, "exited", 0)]
    actions = plan(make_pod(policy="Never"), containers)
    assert not actions.create_sandbox and not actions.to_start


def test_sandbox_gone_under_onfailure_skips_succeeded_containers() -> None:
    containers = [app("c0", 0, "exited", 0), app("s0", 0, "exited", 1, spec=SIDE)]
    actions = plan(make_pod(WEB, SIDE, policy="OnFailure"), containers)
    assert actions.create_sandbox
    assert started(actions) == [("side", 1)]


def test_container_on_an_old_sandbox_is_replaced() -> None:
    containers = [sandbox("sb1", 1), app("c0", 0, sandbox_id="sb0")]
    actions = plan(make_pod(), containers)
    assert killed(actions) == ["c0"]
    assert started(actions) == [("web", 1)]


def test_deletion_kills_everything() -> None:
    pod = make_pod(deletionTimestamp="2026-01-01T12:00:30Z", deletionGracePeriodSeconds=30)
    actions = plan(pod, [sandbox(), app("c0"), app("c1", 1, "exited", 1)])
    assert actions.kill_pod
    assert killed(actions) == ["c0", "sb0"]
    assert not actions.to_start and not actions.create_sandbox


def test_terminal_pod_kills_and_never_starts() -> None:
    pod = make_pod(policy="Never")
    pod["status"] = {"phase": "Failed"}
    actions = plan(pod, [sandbox(), app("c0")])
    assert actions.kill_pod and killed(actions) == ["c0", "sb0"]
    assert not actions.to_start


def test_spec_hash_change_restarts_the_container() -> None:
    new_web = {**WEB, "image": "tinykube/web:2"}
    actions = plan(make_pod(new_web), [sandbox(), app("c0", 0)])
    assert killed(actions) == ["c0"]
    assert started(actions) == [("web", 1)]
    assert "definition changed" in actions.to_kill[0].message


def test_old_exited_containers_are_removed_keeping_the_two_latest() -> None:
    """The newest exited one is the lastState while the container backs off; the one before it
    is the lastState once the newest has ended for good: logs --previous reads either."""
    containers = [
        sandbox("sb1", 1),
        sandbox("sb0", 0, "exited"),
        app("c0", 0, "exited", 1),
        app("c1", 1, "exited", 1),
        app("c2", 2, "exited", 1),
        app("c3", 3, sandbox_id="sb1"),
    ]
    actions = plan(make_pod(), containers)
    assert sorted(c.id for c in actions.to_remove) == ["c0", "sb0"]
    assert not actions.to_start and not actions.to_kill


def test_duplicates_keep_the_newest_attempt() -> None:
    containers = [sandbox("sb0", 0), sandbox("sb1", 1), app("c0", 0, sandbox_id="sb1")]
    containers += [app("c1", 1, sandbox_id="sb1")]
    actions = plan(make_pod(), containers)
    assert actions.sandbox is not None and actions.sandbox.id == "sb1"
    assert killed(actions) == ["c0", "sb0"]
    assert not actions.to_start


def test_created_but_never_started_is_replaced() -> None:
    actions = plan(make_pod(), [sandbox(), app("c0", 0, "created")])
    assert started(actions) == [("web", 1)]
    assert [c.id for c in actions.to_remove] == ["c0"]


def test_other_pods_containers_are_ignored() -> None:
    other = ContainerInfo(
        id="x", name="k8s_POD_q", pod_uid="other", pod_name="q", pod_namespace="default",
        container_name="POD", attempt=0, role="sandbox", state="running",
    )  # fmt: skip
    actions = plan(make_pod(), [other])
    assert actions.create_sandbox
    assert "x" not in killed(actions)
