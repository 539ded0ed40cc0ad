"""Which pods ``tkctl drain`` deletes, skips or refuses, with kubectl's filters and wording
(``kubectl/pkg/drain/filters.go``): DaemonSet pods, mirror pods, pods with local storage and pods
that declare no controller. Pure: pods and flags in, a plan out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from common.humanize import parse_time

Obj = dict[str, Any]

DAEMONSET_FATAL = "DaemonSet-managed Pods (use --ignore-daemonsets to ignore)"
DAEMONSET_WARNING = "ignoring DaemonSet-managed Pods"
LOCAL_STORAGE_FATAL = "Pods with local storage (use --delete-emptydir-data to override)"
LOCAL_STORAGE_WARNING = "deleting Pods with local storage"
UNMANAGED_FATAL = "cannot delete Pods that declare no controller (use --force to override)"
UNMANAGED_WARNING = "deleting Pods that declare no controller"
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"

OKAY, SKIP, WARNING, ERROR = "Okay", "Skip", "Warning", "Error"


@dataclass(frozen=True)
class DrainOptions:
    force: bool = False
    ignore_daemonsets: bool = False
    delete_emptydir_data: bool = False
    skip_wait_for_delete_timeout: int = 0  # seconds; 0: never skip deleting pods
    # The DaemonSets ("namespace/name") of the pods that exist (None: all are taken to exist).
    daemonsets: frozenset[str] | None = None


@dataclass(frozen=True)
class Status:
    delete: bool
    reason: str = OKAY
    message: str = ""


@dataclass(frozen=True)
class DrainPlan:
    pods: list[Obj]  # to delete
    warnings: str  # kubectl's ``Warning: ...`` text, or ""
    errors: list[str]  # why the node cannot be drained without more flags

    @property
    def blocked(self) -> bool:
        return bool(self.errors)


def _controller(pod: Obj) -> Obj | None:
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def _finished(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def _skip_deleted(pod: Obj, o: DrainOptions, now: dt.datetime) -> Status:
    deleted = parse_time((pod.get("metadata") or {}).get("deletionTimestamp"))
    timeout = o.skip_wait_for_delete_timeout
    if timeout > 0 and deleted is not None and (now - deleted).total_seconds() > timeout:
        return Status(False, SKIP)
    return Status(True)


def daemonset_of(pod: Obj) -> str | None:
    """``namespace/name`` of the DaemonSet controlling the pod, if one does."""
    ref = _controller(pod)
    if ref is None or ref.get("kind") != "DaemonSet":
        return None
    return f"{(pod.get('metadata') or {}).get('namespace', '')}/{ref.get('name', '')}"


def _daemonset(pod: Obj, o: DrainOptions, now: dt.datetime) -> Status:
    """daemonSetFilter: a finished pod goes; a running one of a DaemonSet is refused (or with
    --ignore-daemonsets skipped: its DaemonSet would start it again); an orphan of a deleted
    DaemonSet goes only with --force."""
    owner = daemonset_of(pod)
    if owner is None or _finished(pod):
        return Status(True)
    if o.daemonsets is not None and owner not in o.daemonsets:
        message = f'daemonsets.apps "{owner.split("/", 1)[1]}" not found'
        return Status(True, WARNING, message) if o.force else Status(False, ERROR, message)
    if not o.ignore_daemonsets:
        return Status(False, ERROR, DAEMONSET_FATAL)
    return Status(False, WARNING, DAEMONSET_WARNING)


def _mirror(pod: Obj, o: DrainOptions, now: dt.datetime) -> Status:
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    return Status(False, SKIP) if MIRROR_ANNOTATION in annotations else Status(True)


def _local_storage(pod: Obj, o: DrainOptions, now: dt.datetime) -> Status:
    volumes = (pod.get("spec") or {}).get("volumes") or []
    if not any("emptyDir" in v for v in volumes) or _finished(pod):
        return Status(True)
    if not o.delete_emptydir_data:
        return Status(False, ERROR, LOCAL_STORAGE_FATAL)
    return Status(True, WARNING, LOCAL_STORAGE_WARNING)


def _unreplicated(pod: Obj, o: DrainOptions, now: dt.datetime) -> Status:
    if _finished(pod) or _controller(pod) is not None:
        return Status(True)
    if o.force:
        return Status(True, WARNING, UNMANAGED_WARNING)
    return Status(False, ERROR, UNMANAGED_FATAL)


FILTERS: tuple[Callable[[Obj, DrainOptions, dt.datetime], Status], ...] = (
    _skip_deleted, _daemonset, _mirror, _local_storage, _unreplicated,
)  # fmt: skip


def pod_status(pod: Obj, options: DrainOptions, now: dt.datetime) -> Status:
    """The filters in kubectl's order; the first that keeps the pod decides."""
    status = Status(True)
    for f in FILTERS:
        status = f(pod, options, now)
        if not status.delete:
            break
    return status


def _ref(pod: Obj) -> str:
    m = pod.get("metadata") or {}
    return f"{m.get('namespace', '')}/{m.get('name', '')}"


def _grouped(items: Sequence[tuple[str, Obj]]) -> list[tuple[str, str]]:
    groups: dict[str, list[str]] = {}
    for message, pod in items:
        groups.setdefault(message, []).append(_ref(pod))
    return [(message, ", ".join(pods)) for message, pods in sorted(groups.items())]


def plan_drain(pods: Sequence[Obj], options: DrainOptions, now: dt.datetime) -> DrainPlan:
    """kubectl's ``GetPodsForDeletion``: the pods to delete, the warnings and the errors."""
    keep: list[Obj] = []
    warned: list[tuple[str, Obj]] = []
    failed: list[tuple[str, Obj]] = []
    for pod in sorted(pods, key=_ref):
        status = pod_status(pod, options, now)
        if status.delete:
            keep.append(pod)
        if status.reason == WARNING:
            warned.append((status.message, pod))
        elif status.reason == ERROR:
            failed.append((status.message, pod))
    warnings = "; ".join(f"{message}: {refs}" for message, refs in _grouped(warned))
    # kubectl really prefixes "cannot delete" to every message, doubling it for unmanaged pods.
    errors = [f"cannot delete {message}: {refs}" for message, refs in _grouped(failed)]
    return DrainPlan(keep, warnings, errors)
