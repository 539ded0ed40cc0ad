"""The parts of ``describe node`` that need more than the Node: its Lease, the table of its
non-terminated pods with their requests and limits, and the resources they take from the node
(kubectl's ``describeNodeResource``). Pure: objects in, lines written to a describe writer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from common.humanize import age, rfc1123z
from common.quantity import parse_bytes, parse_cpu_millis

Obj = Mapping[str, Any]
_BINARY = (("Ei", 1 << 60), ("Pi", 1 << 50), ("Ti", 1 << 40), ("Gi", 1 << 30), ("Mi", 1 << 20),
           ("Ki", 1 << 10))  # fmt: skip
_DECIMAL = (("E", 10**18), ("P", 10**15), ("T", 10**12), ("G", 10**9), ("M", 10**6), ("k", 10**3))
RESOURCES = ("cpu", "memory", "ephemeral-storage")


class Writer(Protocol):
    def write(self, level: int, text: str) -> None: ...


def lease_section(w: Writer, lease: Obj | None) -> None:
    """``Lease:`` with the holder and times of ``kube-node-lease/<node>`` (``<unset>`` if none)."""
    spec = (lease or {}).get("spec") or {}
    w.write(0, "Lease:\n")
    w.write(1, f"HolderIdentity:\t{spec.get('holderIdentity') or '<unset>'}\n")
    for title, key in (("AcquireTime", "acquireTime"), ("RenewTime", "renewTime")):
        w.write(1, f"{title}:\t{rfc1123z(spec[key]) if spec.get(key) else '<unset>'}\n")


def format_cpu(millis: int) -> str:
    """A CPU quantity the way Kubernetes prints a sum: ``0``, ``250m``, ``2``."""
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def format_bytes(value: int, binary: bool = True) -> str:
    """A byte quantity in its canonical form: the largest suffix that keeps it whole."""
    for suffix, unit in _BINARY if binary else _DECIMAL:
        if value and value % unit == 0:
            return f"{value // unit}{suffix}"
    return str(value)


def _is_binary(quantity: object) -> bool:
    return str(quantity).strip().endswith("i")


class Usage:
    """Requests and limits of some pods, remembering the first quantity's format (binary or
    decimal) per resource, as Kubernetes' quantity sums do."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], int] = {}
        self.binary: dict[str, bool] = {}

    def add(self, kind: str, resource: str, quantity: object) -> None:
        if resource == "cpu":
            amount = parse_cpu_millis(str(quantity))
        else:
            amount = parse_bytes(str(quantity))
            self.binary.setdefault(resource, _is_binary(quantity))
        self.values[(kind, resource)] = self.values.get((kind, resource), 0) + amount

    def merge(self, other: Usage) -> None:
        for (kind, resource), amount in other.values.items():
            self.values[(kind, resource)] = self.values.get((kind, resource), 0) + amount
        for resource, binary in other.binary.items():
            self.binary.setdefault(resource, binary)

    def get(self, kind: str, resource: str) -> int:
        return self.values.get((kind, resource), 0)

    def text(self, kind: str, resource: str) -> str:
        amount = self.get(kind, resource)
        if resource == "cpu":
            return format_cpu(amount)
        return format_bytes(amount, self.binary.get(resource, True))


def pod_usage(pod: Obj) -> Usage:
    """``PodRequestsAndLimits``: the containers' sum, or an init container's if larger; a limit
    without a request counts as the request, as the API server defaults it."""
    spec = pod.get("spec") or {}
    total = _containers_usage(spec.get("containers") or [])
    for init in spec.get("initContainers") or []:
        one = _containers_usage([init])
        for (kind, resource), amount in one.values.items():
            if amount > total.get(kind, resource):
                total.values[(kind, resource)] = amount
                total.binary.setdefault(resource, one.binary.get(resource, True))
    return total


def _containers_usage(containers: Sequence[Obj]) -> Usage:
    usage = Usage()
    for c in containers:
        res = c.get("resources") or {}
        limits = res.get("limits") or {}
        requests = {**limits, **(res.get("requests") or {})}
        for kind, values in (("requests", requests), ("limits", limits)):
            for resource in RESOURCES:
                if resource in values:
                    usage.add(kind, resource, values[resource])
    return usage


def _allocatable(node: Obj) -> tuple[int, int, int]:
    status = node.get("status") or {}
    values = status.get("allocatable") or status.get("capacity") or {}
    return (
        parse_cpu_millis(str(values.get("cpu", "0"))),
        parse_bytes(str(values.get("memory", "0"))),
        parse_bytes(str(values.get("ephemeral-storage", "0"))),
    )


def _percent(amount: int, total: int) -> int:
    return int(amount / total * 100) if total else 0


def pods_section(w: Writer, node: Obj, pods: Sequence[Obj], now: dt.datetime) -> None:
    """``Non-terminated Pods:`` and ``Allocated resources:`` as kubectl writes them."""
    cpu_total, memory_total, storage_total = _allocatable(node)
    w.write(0, f"Non-terminated Pods:\t({len(pods)} in total)\n")
    w.write(1, "Namespace\tName\t\tCPU Requests\tCPU Limits\tMemory Requests\tMemory Limits\tAge\n")
    w.write(1, "---------\t----\t\t------------\t----------\t---------------\t-------------\t---\n")
    total = Usage()
    for pod in pods:
        u = pod_usage(pod)
        total.merge(u)
        m = pod.get("metadata") or {}
        cells = [
            f"{u.text(kind, r)} ({_percent(u.get(kind, r), whole)}%)"
            for r, whole in (("cpu", cpu_total), ("memory", memory_total))
            for kind in ("requests", "limits")
        ]
        w.write(1, f"{m.get('namespace', '')}\t{m.get('name', '')}\t\t{chr(9).join(cells)}\t"
                   f"{age(m.get('creationTimestamp'), now)}\n")  # fmt: skip
    w.write(0, "Allocated resources:\n  (Total limits may be over 100 percent, i.e., "
               "overcommitted.)\n")  # fmt: skip
    w.write(1, "Resource\tRequests\tLimits\n")
    w.write(1, "--------\t--------\t------\n")
    for resource, whole in zip(RESOURCES, (cpu_total, memory_total, storage_total), strict=True):
        cells = [
            f"{total.text(kind, resource)} ({_percent(total.get(kind, resource), whole)}%)"
            for kind in ("requests", "limits")
        ]
        w.write(1, f"{resource}\t{cells[0]}\t{cells[1]}\n")


def non_terminated(pods: Sequence[Obj]) -> list[Obj]:
    """The pods kubectl lists (``status.phase!=Succeeded,status.phase!=Failed``), by name."""
    keep = [p for p in pods if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
    return sorted(keep, key=lambda p: (str((p.get("metadata") or {}).get("namespace", "")),
                                       str((p.get("metadata") or {}).get("name", ""))))  # fmt: skip
