"""Sync one pod: read its containers, plan, apply the plan, report status and events.

``PodSyncer`` is the kubelet's ``SyncPod``: it asks the pure planner what to do (with the probe
results), performs it through the ``Runtime`` (images, create, start, stop, remove), hands the
running containers to the ``Prober``, computes the status with the pure ``status`` module and
PUTs it (``statuswriter``: CAS, retried on 409, skipped when unchanged). It also finishes
deletions and removes containers of pods that no longer exist. Effectful (runtime + API).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from agent import planner, podspec, seccomp, securitycontext, sysctls
from agent import runtime as rt
from agent.apis import PODS
from agent.events import NORMAL, WARNING, EventRecorder
from agent.hooks import HookRunner
from agent.images import ImagePuller
from agent.planner import BackoffEntry, BackoffPolicy, PodActions, Waiting
from agent.podconfig import PodConfig
from agent.probes import Prober
from agent.resolvconf import PodDns
from agent.runtime import ContainerInfo, CreateSpec, Runtime
from agent.status import StatusExtra, compute_pod_status
from agent.statuswriter import StatusWriter
from agent.stopper import ContainerStopper
from agent.termination import TerminationMessages
from common import errors
from common.client import ApiClient

log = logging.getLogger(__name__)

# Retry delay after a failure that is not a back-off (sandbox creation, runtime hiccup).
RETRY_SECONDS = 2.0
# A pod whose volume failed, or whose objects are not watched yet, is synced again this soon.
CONFIG_POLL = 1.0
# How many finished deletions to remember (only to skip a second DELETE from a stale copy).
FINISHED_MEMORY = 1024


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class SyncResult:
    requeue_after: float | None = None
    deleted: bool = False
    pod: dict[str, Any] | None = None  # the pod as stored after the status write, if any


def _ref(pod: dict[str, Any]) -> str:
    return f"{pod['metadata'].get('namespace')}/{pod['metadata'].get('name')}"


class PodSyncer:
    """Makes one node's containers match its pods; safe for several threads on distinct pods."""

    def __init__(
        self,
        client: ApiClient,
        runtime: Runtime,
        recorder: EventRecorder,
        *,
        node: str,
        cluster: str,
        host_ip: str,
        policy: BackoffPolicy | None = None,
        clock: Callable[[], datetime] = utcnow,
        prober: Prober | None = None,
        seccomp_root: str = seccomp.DEFAULT_ROOT,
        sysctl_allowlist: sysctls.Allowlist | None = None,
        config: PodConfig | None = None,
        dns: Callable[[dict[str, Any]], PodDns] | None = None,
    ) -> None:
        self.client = client
        self.runtime = runtime
        self.recorder = recorder
        self.node = node
        self.cluster = cluster
        self.host_ip = host_ip
        self.policy = policy or BackoffPolicy()
        self.clock = clock
        self._lock = threading.Lock()
        self._backoff: dict[str, dict[str, BackoffEntry]] = {}
        self.images = ImagePuller(runtime, recorder, self.policy, clock)
        self.hooks = HookRunner(runtime, recorder)
        self.stopper = ContainerStopper(runtime, self.hooks)
        self.messages = TerminationMessages(runtime)
        self.prober = prober
        self.seccomp_root = seccomp_root
        allowlist = sysctl_allowlist or sysctls.Allowlist.of()
        self.status = StatusWriter(client, recorder, allowlist, clock)
        self.write_status = self.status.write
        self.config = config or PodConfig(None, None, host_ip=host_ip)
        self.dns = dns or (lambda pod: PodDns(None))  # the pod's resolv.conf (agent.clusterdns)
        # Pods whose deletion this agent finished: a stale cached copy must not DELETE again.
        self._finished: OrderedDict[str, None] = OrderedDict()

    # -- entry points ------------------------------------------------------------------------

    def sync(self, pod: dict[str, Any]) -> SyncResult:
        uid = pod["metadata"]["uid"]
        containers = self.runtime.list_containers(self.cluster, self.node, pod_uid=uid)
        if pod["metadata"].get("deletionTimestamp"):
            with self._lock:
                finished = uid in self._finished
            if not (finished and not containers):
                self._terminate(pod, containers)
            return SyncResult(deleted=True)
        if not containers and self.status.reject(pod):
            return SyncResult()
        with self._lock:
            backoff = dict(self._backoff.get(uid, {}))
        probes = self.prober.view(uid) if self.prober is not None else {}
        pod = self.status.past_deadline(pod)
        actions = planner.compute_pod_actions(
            pod, containers, self.clock(), backoff, self.policy, probes
        )
        result = SyncResult(actions.requeue_after)
        waiting = dict(actions.waiting)
        if self._volumes_ready(pod, result):
            self._apply(pod, actions, containers, waiting, result)
        with self._lock:
            self._backoff.setdefault(uid, {}).update(actions.backoff_updates)
        containers = self.runtime.list_containers(self.cluster, self.node, pod_uid=uid)
        if self.prober is not None:
            self.prober.update(pod, containers)
            probes = self.prober.view(uid)

        messages = self.messages.collect(pod, containers)

        def make_status(current: dict[str, Any]) -> dict[str, Any]:
            extra = StatusExtra(self.host_ip, waiting, probes, messages)
            return compute_pod_status(current, containers, self.clock(), extra)

        result.pod = self.write_status(pod, make_status)
        left = self.status.deadline_left(result.pod)
        if left is not None:  # synced again when the deadline passes
            result.requeue_after = min(result.requeue_after or left, left)
        return result

    def remove_pod_containers(self, uid: str, containers: list[ContainerInfo]) -> None:
        """Stop (with each container's recorded grace) and remove every container of a pod."""
        mine = [c for c in containers if c.pod_uid == uid and uid]
        running = [c for c in mine if c.role == "app" and c.state == "running"]
        self.stopper.stop_all(None, [(c, podspec.label_grace(c)) for c in running])
        for c in mine:
            self.runtime.remove(c.id)
        self.forget(uid)

    def cleanup_orphans(self, known_uids: set[str]) -> int:
        """Remove this node's containers whose pod is no longer bound here; return how many pods."""
        containers = self.runtime.list_containers(self.cluster, self.node)
        orphans = {c.pod_uid for c in containers if c.pod_uid and c.pod_uid not in known_uids}
        for uid in orphans:
            log.info("pod uid %s: no longer bound to this node, removing its containers", uid)
            self.remove_pod_containers(uid, containers)
        return len(orphans)

    def forget(self, uid: str) -> None:
        self.config.forget(uid)
        with self._lock:
            self._backoff.pop(uid, None)
        self.images.forget(uid)
        self.messages.forget(uid)
        if self.prober is not None:
            self.prober.forget(uid)

    def _volumes_ready(self, pod: dict[str, Any], result: SyncResult) -> bool:
        """Set the volumes up (each sync: updates reach the files); a failed one holds the pod."""
        if (pod.get("status") or {}).get("phase") in planner.TERMINAL_PHASES:
            return True  # nothing will start again: its volumes are left as they are
        failed = self.config.prepare(pod)
        for message in failed.values():
            self.recorder.record(pod, "FailedMount", message, WARNING)
        if failed or not self.config.watching(pod):
            # Retried; a watched object that appears or changes queues the pod at once anyway.
            delay = RETRY_SECONDS if failed else CONFIG_POLL
            result.requeue_after = min(result.requeue_after or delay, delay)
        return not failed

    # -- applying a plan ---------------------------------------------------------------------

    def _apply(
        self,
        pod: dict[str, Any],
        actions: PodActions,
        containers: list[ContainerInfo],
        waiting: dict[str, Waiting],
        result: SyncResult,
    ) -> None:
        self._kill(pod, actions.to_kill)
        for dead in actions.to_remove:
            self.runtime.remove(dead.id)
        if actions.kill_pod:
            return
        sandbox_id = actions.sandbox.id if actions.sandbox else None
        if actions.create_sandbox:
            if any(c.role == "sandbox" for c in containers):
                msg = "Pod sandbox changed, it will be killed and re-created."
                self.recorder.record(pod, "SandboxChanged", msg, NORMAL)
            sandbox_id = self._create_sandbox(pod, actions.sandbox_attempt)
            if sandbox_id is None:
                result.requeue_after = RETRY_SECONDS
                return
        for name, wait in actions.waiting.items():
            msg = f"Back-off restarting failed container {name} in pod {_pod_id(pod)}"
            self.recorder.record(pod, "BackOff", msg, WARNING, name)
            log.debug("pod %s: container %s waits: %s", _ref(pod), name, wait.message)
        if sandbox_id is None:
            return
        for start in actions.to_start:
            delay = self._start_container(pod, start, sandbox_id, waiting)
            if delay is not None:
                result.requeue_after = min(result.requeue_after or delay, delay)

    def _kill(self, pod: dict[str, Any], to_kill: list[planner.ContainerToKill]) -> None:
        grace = podspec.grace_seconds(pod)
        kills = []
        for kill in to_kill:
            if kill.info.role == "app":
                message = kill.message
                if kill.message == "Stopping container" or "sandbox changed" in kill.message:
                    message = f"Stopping container {kill.info.container_name}"
                self.recorder.record(pod, "Killing", message, NORMAL, kill.info.container_name)
            seconds = grace if kill.grace is None else kill.grace
            kills.append((kill.info, float(seconds if kill.info.role == "app" else 0)))
        self.stopper.stop_all(pod, kills)

    def _create_sandbox(self, pod: dict[str, Any], attempt: int) -> str | None:
        try:
            image = self.runtime.ensure_sandbox_image()
            dns = self.dns(pod)
            for reason, message in dns.warnings:
                self.recorder.record(pod, reason, message, WARNING)
            spec = podspec.sandbox_spec(pod, attempt, self.node, self.cluster, image, dns.config)
            sandbox_id = self.runtime.create_container(spec)
            self.runtime.start(sandbox_id)
        except rt.ContainerRuntimeError as e:
            log.warning("pod %s: sandbox not created: %s", _ref(pod), e)
            self.recorder.record(
                pod, "FailedCreatePodSandBox", f"Failed to create pod sandbox: {e}", WARNING
            )
            return None
        log.info("pod %s: sandbox %s started", _ref(pod), sandbox_id[:12])
        return sandbox_id

    def _start_container(
        self,
        pod: dict[str, Any],
        start: planner.ContainerToStart,
        sandbox_id: str,
        waiting: dict[str, Waiting],
    ) -> float | None:
        """Pull, create and start one container; return a requeue delay if it could not."""
        name = start.name
        image = str(start.container.get("image", ""))
        pull = self.config.pull_credentials(pod, image)
        if pull.warning is not None:
            self.recorder.record(pod, "FailedToRetrieveImagePullSecret", pull.warning, WARNING)
        policy = podspec.pull_policy(start.container)
        delay = self.images.ensure(pod, name, image, policy, waiting, pull.auth)
        if delay is not None:
            return delay
        try:
            cid = self.runtime.create_container(self._app_spec(pod, start, sandbox_id))
        except rt.ContainerRuntimeError as e:
            self.recorder.record(pod, "Failed", f"Error: {e}", WARNING, name)
            config = isinstance(e, rt.ContainerConfigError)
            waiting[name] = Waiting(e.reason if config else "CreateContainerError", str(e))
            return RETRY_SECONDS
        self.recorder.record(pod, "Created", f"Created container: {name}", NORMAL, name)
        try:
            self.runtime.start(cid)
        except rt.ContainerRuntimeError as e:
            self.recorder.record(pod, "Failed", f"Error: {e}", WARNING, name)
            waiting[name] = Waiting("RunContainerError", str(e))
            return RETRY_SECONDS
        self.recorder.record(pod, "Started", f"Started container {name}", NORMAL, name)
        log.info("pod %s: container %s started (attempt %d)", _ref(pod), name, start.restart_count)
        if (start.container.get("lifecycle") or {}).get("postStart"):
            self._post_start(pod, start, cid, sandbox_id, waiting)
        return None

    def _post_start(
        self,
        pod: dict[str, Any],
        start: planner.ContainerToStart,
        cid: str,
        sandbox_id: str,
        waiting: dict[str, Waiting],
    ) -> None:
        """A failed postStart hook kills the container (then restarted per the policy)."""
        try:
            ip = self.runtime.inspect(sandbox_id).ip or ""
        except rt.ContainerRuntimeError:
            ip = ""
        message = self.hooks.post_start(pod, start.container, cid, ip)
        if message is None:
            return
        waiting[start.name] = Waiting("PostStartHookError", message)
        info = self.runtime.inspect(cid)
        self.recorder.record(pod, "Killing", "FailedPostStartHook", NORMAL, start.name)
        self.stopper.stop_one(pod, info, float(podspec.grace_seconds(pod)))

    def _app_spec(
        self, pod: dict[str, Any], start: planner.ContainerToStart, sandbox_id: str
    ) -> CreateSpec:
        """The container's create spec with its securityContext: the image's USER when it
        matters, runAsNonRoot verified (ContainerConfigError), a Localhost profile read."""
        container = start.container
        image_user = ""
        if securitycontext.needs_image_user(pod, container):
            try:
                image_user = self.runtime.image_user(str(container.get("image", "")))
            except rt.ContainerRuntimeError as e:
                raise rt.ContainerConfigError(str(e)) from e
        problem = securitycontext.run_as_non_root_error(pod, container, image_user)
        if problem is not None:
            raise rt.ContainerConfigError(problem)
        relative = securitycontext.localhost_profile(pod, container)
        profile = None if relative is None else seccomp.load_profile(self.seccomp_root, relative)
        security = securitycontext.container_args(pod, container, image_user, profile)
        config = self.config.container(pod, container, lambda: self.runtime.inspect(sandbox_id).ip,
                                       start.restart_count)  # fmt: skip
        for reason, message in config.warnings:
            self.recorder.record(pod, reason, message, WARNING)
        return podspec.app_spec(pod, container, start.restart_count, sandbox_id, self.node,
                                self.cluster, security, env=config.env, mounts=config.mounts,
                                target_id=start.target_id)  # fmt: skip

    # -- deletion ----------------------------------------------------------------------------

    def _terminate(self, pod: dict[str, Any], containers: list[ContainerInfo]) -> None:
        """Stop the pod's containers within its grace period, remove them, delete the pod."""
        meta = pod["metadata"]
        uid = meta["uid"]
        grace = meta.get("deletionGracePeriodSeconds")
        grace = podspec.grace_seconds(pod) if grace is None else int(grace)
        running = [c for c in containers if c.role == "app" and c.state == "running"]
        for c in running:
            msg = f"Stopping container {c.container_name}"
            self.recorder.record(pod, "Killing", msg, NORMAL, c.container_name)
        self.stopper.stop_all(pod, [(c, float(grace)) for c in running])
        for c in containers:
            if c.pod_uid == uid:
                self.runtime.remove(c.id)
        self.forget(uid)
        try:
            self.client.delete(
                PODS,
                meta["name"],
                meta["namespace"],
                grace_period_seconds=0,
                preconditions={"uid": uid},
            )
            log.info("pod %s: containers removed, deletion finished", _ref(pod))
        except (errors.NotFoundError, errors.ConflictError, errors.ForbiddenError):
            # A node may not even read a pod that is gone: 403 means "not ours any more" here.
            log.debug("pod %s: already gone", _ref(pod))
        with self._lock:
            self._finished[uid] = None
            while len(self._finished) > FINISHED_MEMORY:
                self._finished.popitem(last=False)


def _pod_id(pod: dict[str, Any]) -> str:
    meta = pod["metadata"]
    return f"{meta['name']}_{meta['namespace']}({meta['uid']})"
