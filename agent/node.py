"""Register this node's Node object, post its status when it changes and renew its Lease.

As the kubelet: the status is computed every node-status interval but posted only when it
changed (``status_changed``) or when the last report is older than the report interval (its
nodeStatusReportFrequency, 5 minutes); liveness is the Lease, renewed at a quarter of the duration
the API server writes into it (``common.heartbeat``), so the server sets the pace.
``build_node``/``build_node_status``/``build_lease``/``status_changed`` are pure;
``NodeRegistrar`` and ``LeaseKeeper`` do the API calls (create-or-update, CAS retried on 409).
Effectful shell.
"""

from __future__ import annotations

import copy
import logging
import platform
import random
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.apis import LEASES, NODES
from agent.runtime import EngineInfo
from common import conditions, errors
from common.client import ApiClient
from common.heartbeat import renew_interval
from common.wellknown import HOSTNAME_LABEL, LOCAL_PATH_DIR_ANNOTATION, NODE_LEASE_NAMESPACE

log = logging.getLogger(__name__)

KUBELET_VERSION = "v1.35.0-tinykube"
LEASE_NAMESPACE = NODE_LEASE_NAMESPACE
# The kubelet's nodeStatusReportFrequency: an unchanged status is posted again this often.
STATUS_REPORT_SECONDS = 300.0
# The first periodic report after registration comes up to this part of the interval sooner.
FIRST_REPORT_EARLY = 0.9
MAX_PODS = "110"
_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def utcnow() -> datetime:
    return datetime.now(UTC)


def fmt_seconds(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def fmt_micro(t: datetime) -> str:
    """RFC3339 with microseconds, as ``metav1.MicroTime`` (a Lease's renewTime)."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def go_arch(machine: str) -> str:
    return _ARCH.get(machine.lower(), machine.lower())


def primary_ip() -> str:
    """The address this host uses to reach the outside (no packet is sent), else loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: routing lookup only
            return str(s.getsockname()[0])
        except OSError:
            return "127.0.0.1"


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


@dataclass(frozen=True)
class HostFacts:
    """What the Node reports about its machine; read once by ``host_facts``."""

    hostname: str
    ip: str
    machine_id: str
    system_uuid: str
    boot_id: str
    engine: EngineInfo


def host_facts(engine: EngineInfo, node_ip: str | None, hostname: str | None = None) -> HostFacts:
    machine_id = _read("/etc/machine-id")
    return HostFacts(
        hostname=hostname or socket.gethostname(),
        ip=node_ip or primary_ip(),
        machine_id=machine_id,
        system_uuid=_read("/sys/class/dmi/id/product_uuid") or machine_id,
        boot_id=_read("/proc/sys/kernel/random/boot_id"),
        engine=engine,
    )


def node_labels(name: str, facts: HostFacts) -> dict[str, str]:
    return {
        HOSTNAME_LABEL: name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": go_arch(facts.engine.architecture or platform.machine()),
        "beta.kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": go_arch(facts.engine.architecture or platform.machine()),
        "tinykube.io/node": "true",
    }


def build_node(
    name: str, facts: HostFacts, api_endpoint: str, storage_dir: str = ""
) -> dict[str, Any]:
    """The Node object to create (its status is written separately through ``/status``); the
    local-path provisioner makes this node's volumes under ``storage_dir``."""
    annotations = {"tinykube.io/node-api": api_endpoint}
    if storage_dir:
        annotations[LOCAL_PATH_DIR_ANNOTATION] = storage_dir
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": node_labels(name, facts), "annotations": annotations},
        "spec": {},
    }


def _condition(
    old: dict[str, dict[str, Any]], ctype: str, status: str, reason: str, message: str, now: str
) -> dict[str, Any]:
    return conditions.build(ctype, status, now, reason, message, previous=old.get(ctype),
                            keep_empty=True, lastHeartbeatTime=now)  # fmt: skip


def allocatable(engine: EngineInfo) -> dict[str, str]:
    """What the node offers pods (capacity: nothing is reserved)."""
    return {
        "cpu": str(engine.cpus),
        "memory": f"{engine.memory_bytes // 1024}Ki",
        "pods": MAX_PODS,
    }


def build_node_status(
    name: str,
    facts: HostFacts,
    api_port: int,
    old_status: dict[str, Any],
    now: datetime,
    extra: Sequence[tuple[str, str, str, str]] = (),
) -> dict[str, Any]:
    """Capacity, addresses, nodeInfo and the Ready/pressure conditions of this node, then the
    ``extra`` ones (type, status, reason, message), e.g. the node's kube-proxy's."""
    engine = facts.engine
    ts = fmt_seconds(now)
    old = {str(c.get("type")): c for c in old_status.get("conditions") or []}
    resources = allocatable(engine)
    conditions = [
        _condition(old, "MemoryPressure", "False", "KubeletHasSufficientMemory",
                   "kubelet has sufficient memory available", ts),
        _condition(old, "DiskPressure", "False", "KubeletHasNoDiskPressure",
                   "kubelet has no disk pressure", ts),
        _condition(old, "PIDPressure", "False", "KubeletHasSufficientPID",
                   "kubelet has sufficient PID available", ts),
        _condition(old, "Ready", "True", "KubeletReady", "kubelet is posting ready status", ts),
    ]  # fmt: skip
    conditions += [_condition(old, t, st, reason, msg, ts) for t, st, reason, msg in extra]
    version = engine.version.split("+", 1)[0].split("-", 1)[0]
    return {
        "capacity": dict(resources),
        "allocatable": dict(resources),
        "conditions": conditions,
        "addresses": [
            {"type": "InternalIP", "address": facts.ip},
            {"type": "Hostname", "address": facts.hostname},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": api_port}},
        "nodeInfo": {
            "machineID": facts.machine_id,
            "systemUUID": facts.system_uuid,
            "bootID": facts.boot_id,
            "kernelVersion": engine.kernel,
            "osImage": engine.os,
            "containerRuntimeVersion": f"docker://{version}",
            "kubeletVersion": KUBELET_VERSION,
            "kubeProxyVersion": KUBELET_VERSION,
            "operatingSystem": "linux",
            "architecture": go_arch(engine.architecture or platform.machine()),
        },
    }


def _conditions_by_type(status: dict[str, Any]) -> dict[Any, dict[str, Any]]:
    return {
        c.get("type"): {k: v for k, v in c.items() if k != "lastHeartbeatTime"}
        for c in status.get("conditions") or []
    }


def status_changed(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """The kubelet's nodeStatusHasChanged: anything but the conditions' heartbeat times (and
    their order) is a change worth posting."""
    if len(old.get("conditions") or []) != len(new.get("conditions") or []):
        return True
    if _conditions_by_type(old) != _conditions_by_type(new):
        return True
    return {**old, "conditions": None} != {**new, "conditions": None}


def build_lease(node: str, node_uid: str | None, now: datetime) -> dict[str, Any]:
    """The Lease to create; its duration is the API server's to set."""
    meta: dict[str, Any] = {"name": node, "namespace": LEASE_NAMESPACE}
    if node_uid:
        meta["ownerReferences"] = [
            {"apiVersion": "v1", "kind": "Node", "name": node, "uid": node_uid}
        ]
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": meta,
        "spec": {"holderIdentity": node, "renewTime": fmt_micro(now)},
    }


class NodeRegistrar:
    """Creates or adopts the Node object and keeps its status current."""

    def __init__(
        self,
        client: ApiClient,
        name: str,
        facts: HostFacts,
        api_port: int,
        api_endpoint: str,
        clock: Callable[[], datetime] = utcnow,
        *,
        report_interval: float = STATUS_REPORT_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
        storage_dir: str = "",
        spread: Callable[[], float] = random.random,
    ) -> None:
        self.client = client
        self.storage_dir = storage_dir
        self.name = name
        self.facts = facts
        self.api_port = api_port
        self.api_endpoint = api_endpoint
        self.clock = clock
        self.report_interval = report_interval
        self.monotonic = monotonic
        self.uid: str | None = None
        self.reported: float | None = None  # monotonic time of the last status posted
        # The first unchanged report after a post comes sooner, by a random part of the interval
        # (at most 90 %), once: nodes registered together (a new cluster, every agent restarted)
        # would otherwise all report in the same minute every interval. Later reports keep the
        # spread; a changed status is posted at once whatever the time.
        self._early: float = FIRST_REPORT_EARLY * min(max(spread(), 0.0), 1.0) * report_interval
        self.looks = 0  # statuses computed by ``heartbeat``, for tests and debugging
        self.posts = 0  # status writes made
        # More conditions to report, asked for at each status (the node's kube-proxy's).
        self.extra_conditions: Callable[[], list[tuple[str, str, str, str]]] = list
        # The Node as the agent's own watch of it has it (None: not listed yet, or gone): the
        # kubelet's node lister. Without it, each look reads the Node from the server's cache.
        self.cached: Callable[[], dict[str, Any] | None] = lambda: None

    def register(self) -> dict[str, Any]:
        """Create the Node, or merge our labels into the existing one; then post its status."""
        wanted = build_node(self.name, self.facts, self.api_endpoint, self.storage_dir)
        try:
            node = self.client.create(NODES, wanted)
            log.info("node %s: registered", self.name)
        except errors.AlreadyExistsError:
            node = self._adopt(wanted)
            log.info("node %s: already registered, adopted", self.name)
        self.uid = node["metadata"].get("uid")
        return self.update_status(node) or node

    def _adopt(self, wanted: dict[str, Any]) -> dict[str, Any]:
        for _ in range(5):
            node = self.client.get(NODES, self.name)
            meta = node["metadata"]
            labels = {**(meta.get("labels") or {}), **wanted["metadata"]["labels"]}
            annotations = {**(meta.get("annotations") or {}), **wanted["metadata"]["annotations"]}
            if labels == meta.get("labels") and annotations == meta.get("annotations"):
                return node
            body = {**node, "metadata": {**meta, "labels": labels, "annotations": annotations}}
            try:
                return self.client.update(NODES, body)
            except errors.ConflictError:
                continue
        raise errors.ConflictError(f"node {self.name}: could not update its labels")

    def heartbeat(self) -> dict[str, Any] | None:
        """Compute the status against the Node as the agent's watch of it has it (``cached``,
        as the kubelet reads its node lister: a GET every 10 s from each node was most of an
        idle large cluster's requests), so a condition the node controller turned Unknown is
        seen, and post it only if it changed or the last report is too old. A write that
        conflicts reads the Node afresh (``update_status``)."""
        try:
            node = self._current()
        except errors.NotFoundError:
            log.warning("node %s: deleted from the API, registering again", self.name)
            return self.register()
        old = node.get("status") or {}
        status = build_node_status(
            self.name, self.facts, self.api_port, old, self.clock(), self.extra_conditions()
        )
        self.looks += 1
        due = (
            self.reported is None
            or self.monotonic() - self.reported >= self.report_interval - self._early
        )
        if not due and not status_changed(old, status):
            return None
        return self.update_status(node)

    def _current(self) -> dict[str, Any]:
        cached = self.cached()
        if cached is not None:
            return copy.deepcopy(cached)
        path = NODES.path(None, self.name)
        return dict(self.client.request_json("GET", path, params={"resourceVersion": "0"}))

    def update_status(self, node: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """PUT the node's status, re-reading the Node after a 409."""
        for _ in range(5):
            try:
                if node is None:
                    node = self.client.get(NODES, self.name)
                old = node.get("status") or {}
                status = build_node_status(
                    self.name, self.facts, self.api_port, old, self.clock(), self.extra_conditions()
                )
                written = self.client.update(NODES, {**node, "status": status}, sub="status")
                if self.reported is not None:
                    self._early = 0.0  # the spread is made: later reports a full interval apart
                self.reported = self.monotonic()
                self.posts += 1
                return written
            except errors.ConflictError:
                node = None
            except errors.NotFoundError:
                log.warning("node %s: deleted from the API, registering again", self.name)
                return self.register()
        return None


# The kubelet's maxUpdateRetries: attempts of one renewal.
RENEW_ATTEMPTS = 5
# Failures worth an immediate new attempt: the server did not answer in time, is busy or cannot
# be reached for now.
TRANSIENT = (errors.ServerTimeoutError, errors.ServiceUnavailableError, errors.TooManyRequestsError)


class LeaseKeeper:
    """Creates ``kube-node-lease/<node>`` and renews it; the node controller reads renewTime.
    ``interval`` is how long to wait before the next renewal: a quarter of the duration the API
    server wrote into the Lease, or ``default`` while it has written none."""

    def __init__(
        self,
        client: ApiClient,
        node: str,
        node_uid: Callable[[], str | None],
        clock: Callable[[], datetime] = utcnow,
        *,
        default: float = 2.0,
    ) -> None:
        self.client = client
        self.node = node
        self.node_uid = node_uid
        self.clock = clock
        self.default = default
        self._lease: dict[str, Any] | None = None

    @property
    def interval(self) -> float:
        duration = ((self._lease or {}).get("spec") or {}).get("leaseDurationSeconds")
        if isinstance(duration, int) and not isinstance(duration, bool) and duration > 0:
            return renew_interval(duration)
        return self.default

    def renew(self) -> dict[str, Any]:
        """Create the lease, or PUT a fresh ``renewTime`` on it (re-reading it after a 409). The
        rest of the Lease goes back as the server answered it, so the server can take the renewal
        as such (one write, no read). As the kubelet's lease controller (retryUpdateLease), a
        renewal that times out or is refused for now is sent again at once, up to 5 attempts in
        all: one slow answer from a busy server is not a missed heartbeat."""
        failure: errors.ApiError | None = None
        for _ in range(RENEW_ATTEMPTS):
            try:
                return self._attempt()
            except errors.ConflictError:
                self._lease = self._get()
            except errors.NotFoundError:
                self._lease = None
            except TRANSIENT as e:
                failure = e
        if failure is not None:
            raise failure
        raise errors.ConflictError(f"lease {LEASE_NAMESPACE}/{self.node}: renewal kept failing")

    def _attempt(self) -> dict[str, Any]:
        if self._lease is None:
            try:
                lease = build_lease(self.node, self.node_uid(), self.clock())
                self._lease = self.client.create(LEASES, lease, LEASE_NAMESPACE)
                return self._lease
            except errors.AlreadyExistsError:
                self._lease = self._get()
                if self._lease is None:
                    raise errors.ConflictError("the lease was deleted as it was created") from None
        spec = {
            **(self._lease.get("spec") or {}),
            "holderIdentity": self.node,
            "renewTime": fmt_micro(self.clock()),
        }
        self._lease = self.client.update(LEASES, {**self._lease, "spec": spec}, LEASE_NAMESPACE)
        return self._lease

    def _get(self) -> dict[str, Any] | None:
        try:
            return self.client.get(LEASES, self.node, LEASE_NAMESPACE)
        except errors.NotFoundError:
            return None
