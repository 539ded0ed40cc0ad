"""The pure prober (thresholds, gating, targets) and what its results do to the plan and status."""

from __future__ import annotations

from typing import Any

import pytest

from agent import prober
from agent.prober import ContainerProbes, ProbeSpec, WorkerState
from agent.status import StatusExtra, compute_pod_status
from tests.unit.test_agent_planner import T0 as PLAN_T0
from tests.unit.test_agent_planner import WEB, app, killed, make_pod, sandbox, started
from tests.unit.test_agent_status import NOW, cond
from tests.unit.test_agent_status import app as status_app
from tests.unit.test_agent_status import make_pod as status_pod
from tests.unit.test_agent_status import sandbox as status_sandbox


def spec(kind: prober.Kind = "liveness", **kw: Any) -> ProbeSpec:
    return ProbeSpec(kind, "tcpSocket", {"port": 80}, **kw)


def run(s: ProbeSpec, outcomes: str) -> list[str]:
    """Feed outcomes (S, F, U) one by one; the published result after each."""
    state = prober.initial_state(s.kind)
    seen = []
    for o in outcomes:
        outcome: prober.Result = {"S": "Success", "F": "Failure", "U": "Unknown"}[o]
        state = prober.observe(s, state, outcome)
        seen.append(state.result[0])
    return seen


def test_probe_spec_reads_kubernetes_fields_and_defaults() -> None:
    container = {
        "name": "web",
        "livenessProbe": {
            "httpGet": {"path": "/healthz", "port": 80},
            "initialDelaySeconds": 3,
            "periodSeconds": 2,
            "failureThreshold": 1,
            "terminationGracePeriodSeconds": 5,
        },
        "readinessProbe": {"exec": {"command": ["cat", "/tmp/ready"]}},
    }
    live = prober.probe_spec(container, "liveness")
    assert live == ProbeSpec("liveness", "httpGet", {"path": "/healthz", "port": 80}, 3, 2, 1, 1, 1,
                             5.0)  # fmt: skip
    ready = prober.probe_spec(container, "readiness")
    assert ready is not None and ready.handler == "exec"
    assert (ready.period, ready.timeout, ready.success_threshold, ready.failure_threshold) == (
        10.0,
        1.0,
        1,
        3,
    )
    assert prober.probe_spec(container, "startup") is None
    assert [s.kind for s in prober.probe_specs(container)] == ["liveness", "readiness"]


@pytest.mark.parametrize(
    ("kind", "thresholds", "outcomes", "published"),
    [
        # Readiness starts Failure; one success (threshold 1) makes it Success.
        ("readiness", (1, 3), "SFFF", "SSSF"),
        # successThreshold 2: two successes in a row are needed, a failure resets the run.
        ("readiness", (2, 1), "SFSSF", "FFFSF"),
        # Liveness starts Success and fails after failureThreshold consecutive failures.
        ("liveness", (1, 3), "FFSFFF", "SSSSSF"),
        # Unknown (the probe itself errored) is thrown away.
        ("liveness", (1, 2), "FUF", "SSF"),
        # Startup starts Unknown.
        ("startup", (1, 2), "FS", "US"),
    ],
)
def test_thresholds(
    kind: prober.Kind, thresholds: tuple[int, int], outcomes: str, published: str
) -> None:
    s = spec(kind, success_threshold=thresholds[0], failure_threshold=thresholds[1])
    assert "".join(run(s, outcomes)) == published


def test_failed_liveness_puts_the_worker_on_hold() -> None:
    s = spec("liveness", failure_threshold=1)
    state = prober.observe(s, prober.initial_state("liveness"), "Failure")
    assert state == WorkerState("Failure", "Failure", 0, True)
    assert not prober.should_probe(s, state, seconds_running=100, started=True)
    # A failed readiness probe keeps probing: readiness comes back by itself.
    r = spec("readiness", failure_threshold=1)
    rstate = prober.observe(r, prober.initial_state("readiness"), "Failure")
    assert not rstate.on_hold
    assert prober.should_probe(r, rstate, seconds_running=100, started=True)


def test_initial_delay_and_startup_gating() -> None:
    live = spec("liveness", initial_delay=5)
    idle = prober.initial_state("liveness")
    assert not prober.should_probe(live, idle, seconds_running=4.9, started=True)
    assert prober.should_probe(live, idle, seconds_running=5, started=True)
    # Until the startup probe succeeds only it runs; afterwards only the others do.
    assert not prober.should_probe(live, idle, seconds_running=60, started=False)
    boot = spec("startup")
    assert prober.should_probe(boot, prober.initial_state("startup"), seconds_running=0,
                               started=False)  # fmt: skip
    assert not prober.should_probe(boot, WorkerState("Success"), seconds_running=9, started=True)


def test_targets() -> None:
    container = {"name": "web", "ports": [{"name": "http", "containerPort": 8080}]}
    target = prober.http_target(
        {"port": "http", "path": "ready", "httpHeaders": [{"name": "X-A", "value": "1"}]},
        "10.88.0.3",
        container,
    )
    assert target.url == "http://10.88.0.3:8080/ready"
    assert target.headers == {"X-A": "1"}
    assert prober.http_target({"port": 80, "host": "::1"}, "10.0.0.1", container).url == (
        "http://[::1]:80/"
    )
    assert prober.tcp_target({"port": "8080"}, "10.88.0.3", container) == ("10.88.0.3", 8080)
    with pytest.raises(ValueError, match="unable to find port 'nope'"):
        prober.tcp_target({"port": "nope"}, "10.88.0.3", container)


def test_event_messages() -> None:
    assert prober.event_message(
        "liveness", "Failure", "HTTP probe failed with statuscode: 500"
    ) == ("Liveness probe failed: HTTP probe failed with statuscode: 500")
    assert prober.event_message("readiness", "Unknown", "boom") == "Readiness probe errored: boom"


def test_container_view() -> None:
    ready = spec("readiness")
    live = spec("liveness", grace=2)
    view = prober.container_probes(
        {
            "readiness": (ready, WorkerState("Success", "Success", 1)),
            "liveness": (live, WorkerState("Failure", "Failure", 0, True)),
        }
    )
    assert view == ContainerProbes(ready=True, started=None, failed="liveness", grace=2)
    assert prober.container_probes({}) == ContainerProbes()
    # A readiness probe that has not run yet says nothing (None), not "unready".
    fresh = {"readiness": (ready, prober.initial_state("readiness"))}
    assert prober.container_probes(fresh).ready is None


# -- what the planner does with a failed probe --------------------------------------------------


@pytest.mark.parametrize(("policy", "restart"), [("Always", True), ("OnFailure", True),
                                                 ("Never", False)])  # fmt: skip
def test_failed_liveness_kills_and_restarts_unless_never(policy: str, restart: bool) -> None:
    from agent.planner import compute_pod_actions

    pod = make_pod(WEB, policy=policy)
    probes = {"c0": ContainerProbes(failed="liveness", grace=3)}
    actions = compute_pod_actions(pod, [sandbox(), app("c0")], PLAN_T0, {}, None, probes)
    # Under Never nothing runs afterwards, so the sandbox goes too.
    assert killed(actions) == (["c0"] if restart else ["c0", "sb0"])
    kill = actions.to_kill[0]
    suffix = ", will be restarted" if restart else ""
    assert kill.message == f"Container web failed liveness probe{suffix}"
    assert kill.grace == 3
    assert started(actions) == ([("web", 1)] if restart else [])
    assert actions.waiting == {}  # no back-off for this restart
    # Results of another container id (the one before) change nothing.
    quiet = compute_pod_actions(pod, [sandbox(), app("c1", 1)], PLAN_T0, {}, None, probes)
    assert not quiet.to_kill and not quiet.to_start


def test_failed_startup_probe_restarts_too() -> None:
    from agent.planner import compute_pod_actions

    probes = {"c0": ContainerProbes(started=False, failed="startup")}
    actions = compute_pod_actions(make_pod(WEB), [sandbox(), app("c0")], PLAN_T0, {}, None, probes)
    assert actions.to_kill[0].message == "Container web failed startup probe, will be restarted"


# -- what status does with the results ----------------------------------------------------------


def probed_pod(**probes: Any) -> dict[str, Any]:
    pod = status_pod()
    pod["spec"]["containers"][0].update(probes)
    return pod


def test_readiness_gates_ready_and_the_conditions() -> None:
    pod = probed_pod(readinessProbe={"httpGet": {"port": 80}})
    containers = [status_sandbox(), status_app()]
    cid = containers[1].id
    for results, ready in (({}, False), ({cid: ContainerProbes(ready=False)}, False),
                           ({cid: ContainerProbes(ready=True)}, True)):  # fmt: skip
        status = compute_pod_status(pod, containers, NOW, StatusExtra("192.168.1.5", {}, results))
        (cs,) = status["containerStatuses"]
        assert (cs["ready"], cs["started"]) == (ready, True)
        assert status["phase"] == "Running"
        assert cond(status, "Ready")["status"] == cond(status, "ContainersReady")["status"]
        assert cond(status, "Ready")["status"] == str(ready)
        if not ready:
            assert cond(status, "Ready")["message"] == "containers with unready status: [web]"


def test_startup_probe_gates_started_and_ready() -> None:
    pod = probed_pod(startupProbe={"exec": {"command": ["true"]}})
    containers = [status_sandbox(), status_app()]
    cid = containers[1].id
    status = compute_pod_status(pod, containers, NOW, StatusExtra("h", {}, {}))
    assert (status["containerStatuses"][0]["started"], status["containerStatuses"][0]["ready"]) == (
        False,
        False,
    )
    done = {cid: ContainerProbes(started=True)}
    status = compute_pod_status(pod, containers, NOW, StatusExtra("h", {}, done))
    assert (status["containerStatuses"][0]["started"], status["containerStatuses"][0]["ready"]) == (
        True,
        True,
    )


def test_a_probe_not_run_yet_keeps_what_was_reported_for_that_container() -> None:
    """After an agent restart the workers start over; a ready container stays ready meanwhile."""
    pod = probed_pod(readinessProbe={"httpGet": {"port": 80}})
    containers = [status_sandbox(), status_app()]
    cid = containers[1].id
    pending = {cid: ContainerProbes(ready=None)}
    for prev_id, prev_ready, ready in (
        (f"docker://{cid}", True, True),
        (f"docker://{cid}", False, False),
        ("docker://another", True, False),
    ):
        pod["status"] = {
            "containerStatuses": [
                {"name": "web", "containerID": prev_id, "ready": prev_ready, "started": True}
            ]
        }
        status = compute_pod_status(pod, containers, NOW, StatusExtra("h", {}, pending))
        assert status["containerStatuses"][0]["ready"] is ready
