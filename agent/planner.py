"""Decide what must change for one pod on this node: the kubelet's ``computePodActions``.

Given the pod, the runtime's view of its containers, the time, the CrashLoopBackOff memory and the
probe results, ``compute_pod_actions`` says which sandbox to create, which containers to start,
kill (a failed liveness probe) or remove, and which wait in back-off (and for how long). The
shell (``sync``) applies it. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agent import initplan, podspec
from agent.backoff import BackoffEntry as BackoffEntry
from agent.backoff import BackoffPolicy as BackoffPolicy
from agent.backoff import backoff_key as backoff_key
from agent.backoff import go_duration as go_duration
from agent.backoff import next_backoff as next_backoff
from agent.backoff import remaining_backoff as remaining_backoff
from agent.prober import ContainerProbes
from agent.runtime import ContainerInfo

TERMINAL_PHASES = ("Succeeded", "Failed")
# Exited containers kept per container name: the state's and the lastState's (logs --previous).
KEPT_EXITED = 2


@dataclass(frozen=True)
class ContainerToStart:
    container: dict[str, Any]
    restart_count: int
    # An ephemeral container's target: the running container whose PID namespace it joins.
    target_id: str | None = None

    @property
    def name(self) -> str:
        return str(self.container["name"])


@dataclass(frozen=True)
class ContainerToKill:
    info: ContainerInfo
    message: str
    grace: float | None = None  # overrides the pod's grace period (a probe's own)


@dataclass(frozen=True)
class Waiting:
    reason: str
    message: str


@dataclass
class PodActions:
    create_sandbox: bool = False
    sandbox_attempt: int = 0
    sandbox: ContainerInfo | None = None  # the running sandbox to keep, if any
    kill_pod: bool = False  # the pod is being deleted or is terminal: stop everything
    to_kill: list[ContainerToKill] = field(default_factory=list)
    to_start: list[ContainerToStart] = field(default_factory=list)
    to_remove: list[ContainerInfo] = field(default_factory=list)
    waiting: dict[str, Waiting] = field(default_factory=dict)
    backoff_updates: dict[str, BackoffEntry] = field(default_factory=dict)
    requeue_after: float | None = None

    def requeue(self, seconds: float) -> None:
        if self.requeue_after is None or seconds < self.requeue_after:
            self.requeue_after = seconds


def _newest_first(items: list[ContainerInfo]) -> list[ContainerInfo]:
    return sorted(items, key=lambda c: (c.attempt, c.created_at or datetime.min), reverse=True)


def _status_by_name(pod: dict[str, Any]) -> dict[str, dict[str, Any]]:
    status = pod.get("status") or {}
    statuses = [*(status.get("initContainerStatuses") or []),
                *(status.get("containerStatuses") or [])]  # fmt: skip
    return {str(s.get("name")): s for s in statuses}


def next_restart_count(records: list[ContainerInfo], status: dict[str, Any] | None) -> int:
    """The attempt number of the next container: after every record and the reported count."""
    from_records = max((r.attempt for r in records), default=-1) + 1
    from_status = 0
    if status:
        from_status = int(status.get("restartCount") or 0) + (1 if status.get("containerID") else 0)
    return max(from_records, from_status)


def _succeeded(records: list[ContainerInfo]) -> bool:
    return bool(records) and records[0].state == "exited" and records[0].exit_code == 0


def compute_pod_actions(
    pod: dict[str, Any],
    containers: list[ContainerInfo],
    now: datetime,
    backoff_state: Mapping[str, BackoffEntry],
    policy: BackoffPolicy | None = None,
    probes: Mapping[str, ContainerProbes] | None = None,
) -> PodActions:
    """What to do so that the runtime matches ``pod``; see the module docstring. ``probes``
    (container id → probe view) marks containers whose liveness or startup probe failed."""
    policy = policy or BackoffPolicy()
    uid = pod["metadata"]["uid"]
    mine = [c for c in containers if c.pod_uid == uid]
    sandboxes = _newest_first([c for c in mine if c.role == "sandbox"])
    apps = [c for c in mine if c.role == "app"]
    actions = PodActions()
    phase = (pod.get("status") or {}).get("phase")
    if pod["metadata"].get("deletionTimestamp") or phase in TERMINAL_PHASES:
        actions.kill_pod = True
        for c in [*apps, *sandboxes]:
            if c.state == "running":
                actions.to_kill.append(ContainerToKill(c, "Stopping container"))
        return actions

    running_sandboxes = [s for s in sandboxes if s.state == "running"]
    for extra in running_sandboxes[1:]:
        actions.to_kill.append(ContainerToKill(extra, "duplicate pod sandbox"))
    current = running_sandboxes[0] if running_sandboxes else None
    actions.sandbox = current
    if current is None:
        _plan_new_sandbox(pod, sandboxes, apps, actions)
    else:
        _plan_containers(pod, current, apps, now, backoff_state, policy, actions, probes or {})
    _plan_garbage(pod, current, sandboxes, apps, actions)
    return actions


def _plan_new_sandbox(
    pod: dict[str, Any],
    sandboxes: list[ContainerInfo],
    apps: list[ContainerInfo],
    actions: PodActions,
) -> None:
    """No running sandbox: kill what is left and start every container that should run again."""
    spec = pod.get("spec") or {}
    restart_policy = spec.get("restartPolicy") or "Always"
    for c in apps:
        if c.state == "running":
            msg = "Pod sandbox changed, it will be killed and re-created."
            actions.to_kill.append(ContainerToKill(c, msg))
    if restart_policy == "Never" and apps:
        return  # the pod already ran; it must not run again
    statuses = _status_by_name(pod)
    first_init = initplan.first_to_start(pod)
    wanted = [first_init] if first_init is not None else spec.get("containers") or []
    for container in wanted:
        records = _newest_first([c for c in apps if c.container_name == container["name"]])
        if first_init is None and restart_policy == "OnFailure" and _succeeded(records):
            continue
        count = next_restart_count(records, statuses.get(container["name"]))
        actions.to_start.append(ContainerToStart(container, count))
    if actions.to_start:
        actions.create_sandbox = True
        actions.sandbox_attempt = max((s.attempt for s in sandboxes), default=-1) + 1


def _should_restart(restart_policy: str, exit_code: int | None) -> bool:
    if restart_policy == "Never":
        return False
    return restart_policy == "Always" or exit_code != 0


@dataclass(frozen=True)
class _Context:
    pod: dict[str, Any]
    sandbox: ContainerInfo
    apps: list[ContainerInfo]
    now: datetime
    backoff_state: Mapping[str, BackoffEntry]
    policy: BackoffPolicy
    probes: Mapping[str, ContainerProbes]
    statuses: dict[str, dict[str, Any]]


def _plan_containers(
    pod: dict[str, Any],
    sandbox: ContainerInfo,
    apps: list[ContainerInfo],
    now: datetime,
    backoff_state: Mapping[str, BackoffEntry],
    policy: BackoffPolicy,
    actions: PodActions,
    probes: Mapping[str, ContainerProbes],
) -> None:
    spec = pod.get("spec") or {}
    restart_policy = spec.get("restartPolicy") or "Always"
    ctx = _Context(pod, sandbox, apps, now, backoff_state, policy, probes, _status_by_name(pod))
    progress = initplan.init_progress(pod, sandbox.id, apps, probes)
    for container in progress.ensure:
        sidecar = initplan.is_sidecar(container)
        policy_here = "Always" if sidecar else restart_policy
        _plan_container(ctx, container, policy_here, actions, this_sandbox=True)
    if progress.initialized:
        for container in spec.get("containers") or []:
            _plan_container(ctx, container, restart_policy, actions)
        _plan_ephemeral(spec, apps, actions)
    _plan_done(pod, progress, sandbox, apps, actions)


def _plan_container(
    ctx: _Context,
    container: dict[str, Any],
    restart_policy: str,
    actions: PodActions,
    this_sandbox: bool = False,
) -> None:
    """Keep one container as its restart policy says: start, restart after back-off, or replace.
    With ``this_sandbox`` (init containers) a run in an earlier sandbox does not count."""
    name = container["name"]
    every = _newest_first([c for c in ctx.apps if c.container_name == name])
    records = [c for c in every if not this_sandbox or c.sandbox_id == ctx.sandbox.id]
    running = [r for r in records if r.state == "running"]
    for dup in running[1:]:
        actions.to_kill.append(ContainerToKill(dup, f"duplicate container {name}"))
    count = next_restart_count(every, ctx.statuses.get(name))
    if running:
        _plan_running(ctx, container, running[0], restart_policy, count, actions)
        return
    latest = records[0] if records else None
    if latest is None or latest.state == "created":
        # No runtime record (never started, or removed): start it whatever the policy.
        actions.to_start.append(ContainerToStart(container, count))
        return
    if not _should_restart(restart_policy, latest.exit_code):
        return
    key = backoff_key(name, latest.spec_hash)
    entry = ctx.backoff_state.get(key)
    finished = latest.finished_at or ctx.now
    remaining = remaining_backoff(entry, finished, ctx.now, ctx.policy)
    if remaining > 0 and entry is not None:
        meta = ctx.pod["metadata"]
        actions.waiting[name] = Waiting(
            "CrashLoopBackOff",
            f"back-off {go_duration(entry.delay)} restarting failed container={name} "
            f"pod={meta['name']}_{meta['namespace']}({meta['uid']})",
        )
        actions.requeue(remaining)
        return
    actions.backoff_updates[key] = next_backoff(entry, finished, ctx.policy)
    actions.to_start.append(ContainerToStart(container, count))


def _plan_running(
    ctx: _Context,
    container: dict[str, Any],
    keep: ContainerInfo,
    restart_policy: str,
    count: int,
    actions: PodActions,
) -> None:
    """A running container is replaced when a probe failed, its spec or its sandbox changed."""
    name = container["name"]
    failed = ctx.probes.get(keep.id, ContainerProbes()).failed
    if failed is not None:
        _plan_probe_restart(keep, failed, ctx.probes[keep.id].grace, restart_policy, count,
                            container, actions)  # fmt: skip
        return
    if keep.spec_hash != podspec.container_hash(container):
        msg = f"Container {name} definition changed, will be restarted"
    elif keep.sandbox_id != ctx.sandbox.id:
        msg = "Pod sandbox changed, it will be killed and re-created."
    else:
        return
    actions.to_kill.append(ContainerToKill(keep, msg))
    actions.to_start.append(ContainerToStart(container, count))


def _plan_ephemeral(spec: dict[str, Any], apps: list[ContainerInfo], actions: PodActions) -> None:
    """Ephemeral containers start once, in the running sandbox, and are never restarted; one
    with a ``targetContainerName`` waits until that container runs, to join its PID namespace."""
    for container in spec.get("ephemeralContainers") or []:
        name = container["name"]
        if any(c.container_name == name for c in apps):
            continue
        target_id = None
        if target := container.get("targetContainerName"):
            running = [c for c in apps if c.container_name == target and c.state == "running"]
            if not running:
                continue
            target_id = _newest_first(running)[0].id
        actions.to_start.append(ContainerToStart(container, 0, target_id))


def _plan_probe_restart(
    keep: ContainerInfo,
    failed: str,
    grace: float | None,
    restart_policy: str,
    count: int,
    container: dict[str, Any],
    actions: PodActions,
) -> None:
    """A failed liveness or startup probe kills the container; it starts again at once unless
    the policy is Never (the kubelet's ``computePodActions``: no back-off for this restart)."""
    message = f"Container {keep.container_name} failed {failed} probe"
    restart = restart_policy != "Never"
    if restart:
        message += ", will be restarted"
    actions.to_kill.append(ContainerToKill(keep, message, grace))
    if restart:
        actions.to_start.append(ContainerToStart(container, count))


def _plan_done(
    pod: dict[str, Any],
    progress: initplan.InitProgress,
    sandbox: ContainerInfo,
    apps: list[ContainerInfo],
    actions: PodActions,
) -> None:
    """A pod whose containers all ended for good no longer needs its sandbox, nor its sidecars
    (they serve the others: still running, or waiting to restart, they do not count)."""
    restart_policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
    if restart_policy == "Always" or not (progress.initialized or progress.failed):
        return
    sidecars = {c["name"] for c in initplan.sidecars(pod)}
    if any(s.name not in sidecars for s in actions.to_start):
        return
    if any(name not in sidecars for name in actions.waiting):
        return
    killed = {k.info.id for k in actions.to_kill}
    alive = [c for c in apps if c.state == "running" and c.id not in killed]
    if any(c.container_name not in sidecars for c in alive):
        return
    actions.to_start = []
    actions.waiting = {}
    for c in alive:
        actions.to_kill.append(ContainerToKill(c, "Stopping container"))
    actions.to_kill.append(ContainerToKill(sandbox, "all containers have ended"))


def _plan_garbage(
    pod: dict[str, Any],
    current: ContainerInfo | None,
    sandboxes: list[ContainerInfo],
    apps: list[ContainerInfo],
    actions: PodActions,
) -> None:
    """Remove dead containers, keeping the two newest exited ones per name: ``logs --previous``
    reads the ``lastState`` one, which is the newest while the container backs off and the one
    before it once the newest has ended for good (and is the ``state``)."""
    spec = pod.get("spec") or {}
    names = {
        c["name"]
        for key in ("initContainers", "containers", "ephemeralContainers")
        for c in spec.get(key) or []
    }
    killed = {k.info.id for k in actions.to_kill}
    by_name: dict[str, list[ContainerInfo]] = {}
    for c in apps:
        by_name.setdefault(c.container_name, []).append(c)
    for name, records in by_name.items():
        if name not in names:
            for c in records:
                if c.state == "running" and c.id not in killed:
                    actions.to_kill.append(
                        ContainerToKill(c, f"container {name} is not in the pod")
                    )
                elif c.state != "running":
                    actions.to_remove.append(c)
            continue
        dead = [c for c in _newest_first(records) if c.state != "running"]
        exited = [c.id for c in dead if c.state == "exited"][:KEPT_EXITED]
        actions.to_remove.extend(c for c in dead if c.id not in exited)
    dead_sandboxes = [s for s in sandboxes if s.state != "running"]
    keep_sandbox = None if current is not None or not dead_sandboxes else dead_sandboxes[0].id
    actions.to_remove.extend(s for s in dead_sandboxes if s.id != keep_sandbox)
