"""Resource metrics of the node and of its pods' containers, as the kubelet's resource metrics
endpoint feeds metrics-server: every interval the agent reads the cumulative CPU time and the
memory working set of the node and of each running container, and the CPU usage is the rate
between the last two readings (``window`` is the time between them). The API server's
metrics.k8s.io serves what this holds (``kubectl top``). Pure but for ``Sampler.sample`` and the
host readers.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent import runtime as rt

Obj = dict[str, Any]

DEFAULT_INTERVAL = 10.0  # the kubelet's housekeeping interval


@dataclass(frozen=True)
class Reading:
    """Cumulative CPU seconds and the memory working set (bytes) at one moment."""

    cpu_seconds: float
    memory_bytes: int
    at: float  # time.monotonic()


@dataclass(frozen=True)
class ContainerKey:
    namespace: str
    pod: str
    pod_uid: str
    container: str


def usage(before: Reading, now: Reading) -> tuple[int, int] | None:
    """(CPU nanocores, memory bytes) over the window between two readings; None when the
    counter went back (a restarted container: a new counter) or no time passed."""
    elapsed = now.at - before.at
    used = now.cpu_seconds - before.cpu_seconds
    if elapsed <= 0 or used < 0:
        return None
    return round(used / elapsed * 1e9), now.memory_bytes


def working_set(memory_stats: Obj) -> int:
    """cAdvisor's working set: the usage minus the inactive file cache (cgroup v1 or v2)."""
    used = int(memory_stats.get("usage") or 0)
    stats = memory_stats.get("stats") or {}
    inactive = stats.get("total_inactive_file", stats.get("inactive_file", 0)) or 0
    return max(0, used - int(inactive))


def host_cpu_seconds(stat: str) -> float:
    """Busy CPU seconds of the host from ``/proc/stat``'s first line (idle and iowait aside)."""
    fields = [int(f) for f in stat.splitlines()[0].split()[1:]]
    busy = sum(fields[:8]) - fields[3] - (fields[4] if len(fields) > 4 else 0)
    return busy / os.sysconf("SC_CLK_TCK")


def host_working_set(meminfo: str) -> int:
    """Memory in use on the host: total minus available (``/proc/meminfo``, in bytes)."""
    values = {}
    for line in meminfo.splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts:
            values[name] = int(parts[0]) * 1024
    return max(0, values.get("MemTotal", 0) - values.get("MemAvailable", 0))


def read_host(proc: Path = Path("/proc")) -> Reading:
    return Reading(
        host_cpu_seconds((proc / "stat").read_text()),
        host_working_set((proc / "meminfo").read_text()),
        time.monotonic(),
    )


class Sampler:
    """The node's resource metrics: ``sample`` reads everything once (called every interval);
    ``summary`` is what the node API serves (None until two readings exist)."""

    def __init__(
        self,
        runtime: rt.Runtime,
        cluster: str,
        node: str,
        *,
        host: Callable[[], Reading] = read_host,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.runtime, self.cluster, self.node = runtime, cluster, node
        self.host, self.clock = host, clock
        self._lock = threading.Lock()
        self._node: Reading | None = None
        self._containers: dict[str, tuple[ContainerKey, Reading]] = {}
        self._summary: Obj | None = None

    def sample(self) -> None:
        node_now = self.host()
        readings: dict[str, tuple[ContainerKey, Reading]] = {}
        for info in self.runtime.list_containers(self.cluster, self.node):
            if info.role != "app" or info.state != "running":
                continue
            found = self.runtime.usage(info.id)
            if found is None:
                continue
            key = ContainerKey(info.pod_namespace, info.pod_name, info.pod_uid, info.container_name)
            readings[info.id] = (key, Reading(found[0], found[1], time.monotonic()))
        with self._lock:
            before_node, before = self._node, self._containers
            self._node, self._containers = node_now, readings
            if before_node is not None:
                self._summary = self._summarize(before_node, node_now, before, readings)

    def summary(self) -> Obj | None:
        with self._lock:
            return self._summary

    def _summarize(
        self,
        before_node: Reading,
        node_now: Reading,
        before: dict[str, tuple[ContainerKey, Reading]],
        now: dict[str, tuple[ContainerKey, Reading]],
    ) -> Obj:
        pods: dict[tuple[str, str, str], list[Obj]] = {}
        for cid, (key, reading) in now.items():
            previous = before.get(cid)
            found = usage(previous[1], reading) if previous else None
            if found is None:
                continue  # a container needs two readings for a rate
            entry = {"name": key.container, "cpuNanoCores": found[0], "memoryBytes": found[1]}
            pods.setdefault((key.namespace, key.pod, key.pod_uid), []).append(entry)
        node_usage = usage(before_node, node_now) or (0, node_now.memory_bytes)
        return {
            "node": self.node,
            "timestamp": self.clock().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "windowSeconds": round(node_now.at - before_node.at, 3),
            "cpuNanoCores": node_usage[0],
            "memoryBytes": node_usage[1],
            "pods": [
                {"namespace": ns, "name": name, "uid": uid, "containers": _by_name(cs)}
                for (ns, name, uid), cs in sorted(pods.items())
            ],
        }


def _by_name(containers: list[Obj]) -> list[Obj]:
    return sorted(containers, key=lambda c: str(c["name"]))
