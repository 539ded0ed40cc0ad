"""The agent's kube-proxy: informers on Services and EndpointSlices (cluster-wide) and a sync that
rewrites the cluster's iptables chains when they change, at most once per ``min_sync`` seconds
(kube-proxy's minSyncPeriod) and at least once per ``sync_period`` (repairing what someone else
flushed). The agents of one cluster that share a network namespace (``tinykube up --agents 2``)
agree through an flock that one of them programs it; another takes over when it dies. Where
iptables is not usable the proxy says so (log, node condition) and does nothing. Effectful shell.
"""

from __future__ import annotations

import dataclasses
import fcntl
import logging
import os
import threading
import time
from pathlib import Path
from typing import IO, Any

from agent.apis import ENDPOINT_SLICES, NODES, SERVICES
from agent.proxy import model, rules
from agent.proxy.netfilter import (
    ROUTE_LOCALNET,
    RUN_DIR,
    Netfilter,
    NetfilterError,
    RouteLocalnet,
    conntrack_liberal,
    local_ipv4,
    netns_id,
    set_hairpin,
)
from common import metrics
from common.client import ApiClient
from common.informer import ApiListerWatcher, Handler, Informer, key_of
from common.wellknown import SERVICE_PROXY_UNAVAILABLE

log = logging.getLogger(__name__)

# kube-proxy's defaults are 1 s and 30 s; a shorter minimum keeps the time from a pod turning
# Ready to its rule being live well under a second, and one restore costs a few milliseconds.
MIN_SYNC_SECONDS = 0.5
SYNC_PERIOD_SECONDS = 30.0
# How often an agent that does not hold the namespace's lock tries to take it.
LOCK_POLL_SECONDS = 1.0


def internal_ip(node: dict[str, Any]) -> str:
    for address in (node.get("status") or {}).get("addresses") or []:
        if address.get("type") == "InternalIP":
            return str(address.get("address") or "")
    return ""


def by_service(slice_: dict[str, Any]) -> list[str]:
    """The ``namespace/name`` of the Service an EndpointSlice belongs to."""
    owner = model.slice_service(slice_)
    return [f"{owner[0]}/{owner[1]}"] if owner else []


def lock_path(run_dir: Path, prefix: str) -> Path:
    """One lock per cluster and network namespace: its holder programs that namespace."""
    return run_dir / f"proxy-{prefix}.{netns_id()}.lock"


class NamespaceLock:
    """An exclusive flock; the kernel frees it when the holder dies, however it dies."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] | None = None

    def try_acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = open(self.path, "ab")  # noqa: SIM115 (held open for the life of the agent)
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            return False
        f.truncate(0)
        f.write(f"{os.getpid()}\n".encode())
        f.flush()
        self._file = f
        return True

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class ServiceProxy:
    """kube-proxy for one agent. ``start`` returns at once; ``condition`` feeds the Node."""

    def __init__(
        self,
        client: ApiClient,
        cluster_id: str,
        node: str,
        *,
        node_ip: str = "",
        netfilter: Netfilter | None = None,
        pod_bridge: str = "docker0",
        run_dir: Path = RUN_DIR,
        min_sync: float = MIN_SYNC_SECONDS,
        sync_period: float = SYNC_PERIOD_SECONDS,
    ) -> None:
        self.client = client
        self.node = node
        self.node_ip = node_ip
        self.netfilter = netfilter or Netfilter()
        self.prefix = rules.chain_prefix(cluster_id)
        self.opts = rules.Options(
            prefix=self.prefix,
            cluster_id=cluster_id,
            local_nodes=frozenset({node}),
            pod_bridge=pod_bridge,
            conntrack_liberal=conntrack_liberal(),
        )
        self.run_dir = run_dir
        self.min_sync = min_sync
        self.sync_period = sync_period
        self.lock = NamespaceLock(lock_path(run_dir, self.prefix))
        self.services = Informer(ApiListerWatcher(client, SERVICES), name="services")
        self.nodes = Informer(ApiListerWatcher(client, NODES), name="nodes")
        self.slices = Informer(
            ApiListerWatcher(client, ENDPOINT_SLICES),
            {"service": by_service},
            name="endpointslices",
        )
        self.dirty = threading.Event()
        self.problem: str | None = None
        self.holder = False
        self.syncs = 0  # successful syncs, for tests and debugging
        self.last_sync = 0.0

    # -- the node's view ---------------------------------------------------------------------

    def check(self) -> str | None:
        """Whether iptables is usable here; logs why not. Called once, before ``start``."""
        self.problem = self.netfilter.unusable()
        if self.problem is not None:
            log.warning(
                "kube-proxy: iptables is not usable on this node (%s): Services will not be "
                "reachable from it; everything else keeps working",
                self.problem,
            )
        return self.problem

    def condition(self) -> tuple[str, str, str, str]:
        """``(type, status, reason, message)`` of the node's ServiceProxyUnavailable condition."""
        if self.problem is not None:
            return (
                SERVICE_PROXY_UNAVAILABLE,
                "True",
                "IptablesUnavailable",
                f"kube-proxy cannot program iptables: {self.problem}",
            )
        return (
            SERVICE_PROXY_UNAVAILABLE,
            "False",
            "IptablesAvailable",
            "kube-proxy programs Services into this node's iptables",
        )

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, stop: threading.Event) -> None:
        if self.problem is not None:
            return
        threading.Thread(target=self.run, args=(stop,), name="kube-proxy", daemon=True).start()

    def run(self, stop: threading.Event) -> None:
        """Wait for the namespace's lock, then program the rules until ``stop``."""
        logged = False
        while not self._try_lock():
            if self.problem is not None:
                return
            if not logged:
                log.info("kube-proxy: another agent of this cluster programs this network "
                         "namespace; standing by")  # fmt: skip
                logged = True
            if stop.wait(LOCK_POLL_SECONDS):
                return
        self.holder = True
        log.info("kube-proxy: programming this network namespace (chains %s-*)", self.prefix)
        try:
            self._serve(stop)
        finally:
            self.lock.release()
            self.holder = False

    def _try_lock(self) -> bool:
        try:
            return self.lock.try_acquire()
        except OSError as e:  # no lock, no writer: two could write one chain
            self.problem = f"cannot take {self.lock.path}: {e.strerror or e}"
            log.warning("kube-proxy: %s; not programming iptables", self.problem)
            return False

    def _serve(self, stop: threading.Event) -> None:
        try:
            RouteLocalnet(self.prefix, self.run_dir).enable()
        except OSError as e:
            log.warning("kube-proxy: cannot set route_localnet, no NodePorts on 127.0.0.1: %s", e)
            self.opts = dataclasses.replace(self.opts, localhost_nodeports=False)
        wake = Handler(
            on_add=lambda o: self.dirty.set(),
            on_update=lambda o, n: self.dirty.set(),
            on_delete=lambda o: self.dirty.set(),
        )
        # A Node matters only by its address (which nodes share this namespace): its status
        # heartbeats are no reason to rewrite the rules.
        moved = Handler(
            on_add=lambda o: self.dirty.set(),
            on_update=self._node_updated,
            on_delete=lambda o: self.dirty.set(),
        )
        informers = (self.services, self.slices, self.nodes)
        for informer in informers:
            informer.add_handler(moved if informer is self.nodes else wake)
            informer.start(stop)
        while not stop.is_set():  # nothing is written before the caches hold a full list
            if all(i.wait_for_sync(0.5) for i in informers):
                break
        self.dirty.set()
        while not stop.is_set():
            self.dirty.wait(self.sync_period)
            wait = self.last_sync + self.min_sync - time.monotonic()
            if wait > 0 and stop.wait(wait):
                return
            self.dirty.clear()
            self.sync_once()

    def _node_updated(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        if internal_ip(old) != internal_ip(new):
            self.dirty.set()

    def sync_once(self) -> bool:
        """Build and write the whole ruleset now; False (and logged) if iptables refused it."""
        start = time.perf_counter()
        try:
            text = self.ruleset(rules.parse_chains(self.netfilter.save()).get("nat", []))
            self.netfilter.restore(text)
            self.netfilter.ensure_jumps(rules.jumps(self.opts))
        except NetfilterError as e:  # retried at the next change or after sync_period
            log.warning("kube-proxy: sync failed: %s", e)
            metrics.IPTABLES_RESTORE_FAILURES.inc()
            self.last_sync = time.monotonic()
            return False
        set_hairpin(self.opts.pod_bridge)
        self.last_sync = time.monotonic()
        self.syncs += 1
        metrics.SYNC_PROXY_RULES_DURATION.observe(metrics.since(start))
        metrics.SYNC_PROXY_RULES_LAST.set_to_current_time()
        return True

    def local_nodes(self) -> frozenset[str]:
        """This node and the others in its network namespace: the agents of one host share it
        and report the same InternalIP (``tinykube up --agents 2``: 127.0.0.1 for all)."""
        same = {
            str(n["metadata"]["name"])
            for n in self.nodes.store.objects()
            if self.node_ip and internal_ip(n) == self.node_ip
        }
        return frozenset({self.node, *same})

    def ruleset(self, existing_nat: list[str]) -> str:
        self.opts = dataclasses.replace(
            self.opts,
            local_nodes=self.local_nodes(),
            local_ips=local_ipv4(self.netfilter.runner),
        )
        ports = []
        for service in self.services.store.objects():
            slices = self.slices.store.by_index("service", key_of(service))
            for sp in model.service_ports(service):
                found = model.endpoints_of(sp, slices)
                ports.append((sp, model.categorize(sp, found, self.opts.local_nodes)))
        return rules.build_ruleset(ports, self.opts, existing_nat)


def cleanup(cluster_id: str | None, *, netfilter: Netfilter | None = None,
            run_dir: Path = RUN_DIR, sysctl: Path = ROUTE_LOCALNET) -> int:  # fmt: skip
    """Remove a cluster's chains and the jumps into them (every tinykube cluster's with None)
    and put route_localnet back; how many chains went."""
    prefix = rules.chain_prefix(cluster_id) if cluster_id else None
    removed = (netfilter or Netfilter()).remove(prefix)
    prefixes = [prefix] if prefix else _recorded_prefixes(run_dir)
    for p in prefixes:
        try:
            RouteLocalnet(p, run_dir, sysctl).restore()
        except OSError as e:
            log.warning("route_localnet: %s", e)
    # The agents are gone: their locks go too (every namespace's, for this cluster).
    for lock in run_dir.glob(f"proxy-{prefix or 'TK*'}.*.lock"):
        lock.unlink(missing_ok=True)
    return removed


def _recorded_prefixes(run_dir: Path) -> list[str]:
    try:
        names = [p.name for p in (run_dir / "route_localnet").iterdir()]
    except OSError:
        return []
    return sorted({n.split(".", 1)[0] for n in names})
