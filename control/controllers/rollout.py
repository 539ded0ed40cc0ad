"""The arithmetic of a Deployment rollout over its ReplicaSets, as Kubernetes'
deployment/util/deployment_util.go and sync.go compute it: which ReplicaSet is new, how far the
new one may grow (``NewRSNewReplicas``), proportional shares when scaling several at once and the
revision annotations (the status is ``deployment_status``). Pure: dicts in, numbers and dicts out
(the ``set_*`` helpers change the dict they are given and say whether it changed).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping
from typing import Any

from common.wellknown import (
    DESIRED_REPLICAS,
    LAST_APPLIED,
    MAX_REPLICAS,
    REVISION,
    REVISION_HISTORY,
    TEMPLATE_HASH_LABEL,
)
from common.workloads import MAX_INT32, is_rolling, max_surge, replicas_of

Obj = dict[str, Any]
# Annotations of a Deployment that are not copied to its ReplicaSets.
SKIPPED_ANNOTATIONS = frozenset(
    {
        LAST_APPLIED,
        REVISION,
        REVISION_HISTORY,
        DESIRED_REPLICAS,
        MAX_REPLICAS,
        "deprecated.deployment.rollback.to",
    }
)
# Longest revision-history annotation kept (Kubernetes: about 100 revisions).
MAX_REVISION_HISTORY_CHARS = 2000


def spec_of(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("spec") or {}


def status_count(obj: Mapping[str, Any] | None, key: str) -> int:
    return int((obj.get("status") or {}).get(key) or 0) if obj else 0


def total(rss: Iterable[Obj | None], key: str = "") -> int:
    """Σ spec.replicas (``key`` empty) or Σ status.<key> over the ReplicaSets."""
    return sum((status_count(rs, key) if key else replicas_of(rs)) for rs in rss if rs)


def active(rss: Iterable[Obj | None]) -> list[Obj]:
    """FilterActiveReplicaSets: those with spec.replicas > 0."""
    return [rs for rs in rss if rs and replicas_of(rs) > 0]


def _created(rs: Mapping[str, Any]) -> str:
    return str((rs.get("metadata") or {}).get("creationTimestamp") or "")


def _name(rs: Mapping[str, Any]) -> str:
    return str((rs.get("metadata") or {}).get("name") or "")


def by_creation(rss: Iterable[Obj]) -> list[Obj]:
    """ReplicaSetsByCreationTimestamp: oldest first, then by name."""
    return sorted(rss, key=lambda rs: (_created(rs), _name(rs)))


def by_size(rss: Iterable[Obj], newer_first: bool) -> list[Obj]:
    """ReplicaSetsBySizeNewer/Older: larger first; equal sizes newer (or older) first."""
    ordered = by_creation(rss)
    if newer_first:
        ordered.reverse()
    return sorted(ordered, key=lambda rs: -replicas_of(rs))


def revision(rs: Mapping[str, Any]) -> int:
    value = ((rs.get("metadata") or {}).get("annotations") or {}).get(REVISION)
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


def by_revision(rss: Iterable[Obj]) -> list[Obj]:
    return sorted(by_creation(rss), key=revision)


def _without_hash(template: Any) -> Any:
    t = copy.deepcopy(template) if isinstance(template, Mapping) else {}
    labels = (t.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(TEMPLATE_HASH_LABEL, None)
    return _semantic(t)


def _semantic(value: Any) -> Any:
    """Go's semantic equality treats an empty map or list like an absent one."""
    if isinstance(value, Mapping):
        return {k: _semantic(v) for k, v in value.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_semantic(v) for v in value]
    return value


def equal_ignore_hash(a: Any, b: Any) -> bool:
    """EqualIgnoreHash: the same pod template once ``pod-template-hash`` is ignored."""
    return bool(_without_hash(a) == _without_hash(b))


def find_new(deployment: Mapping[str, Any], rss: Iterable[Obj]) -> Obj | None:
    """FindNewReplicaSet: the oldest ReplicaSet whose template is the Deployment's."""
    template = spec_of(deployment).get("template")
    for rs in by_creation(rss):
        if equal_ignore_hash(spec_of(rs).get("template"), template):
            return rs
    return None


def new_rs_new_replicas(deployment: Mapping[str, Any], all_rss: list[Obj], new: Obj) -> int:
    """NewRSNewReplicas: Recreate takes all at once; a rolling update grows the new ReplicaSet
    up to replicas + maxSurge pods in all, never beyond replicas."""
    replicas = replicas_of(deployment)
    if not is_rolling(deployment):
        return replicas
    ceiling = replicas + max_surge(deployment)
    current = total(all_rss)
    if current >= ceiling:
        return replicas_of(new)
    return replicas_of(new) + min(ceiling - current, replicas - replicas_of(new))


def annotation_int(rs: Mapping[str, Any], key: str) -> int | None:
    value = ((rs.get("metadata") or {}).get("annotations") or {}).get(key)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def is_saturated(deployment: Mapping[str, Any], rs: Obj | None) -> bool:
    """IsSaturated: the new ReplicaSet has, wants and makes available all the replicas."""
    if rs is None:
        return False
    replicas = replicas_of(deployment)
    return (
        replicas_of(rs) == replicas
        and annotation_int(rs, DESIRED_REPLICAS) == replicas
        and status_count(rs, "availableReplicas") == replicas
    )


def find_active_or_latest(new: Obj | None, olds: list[Obj]) -> Obj | None:
    """FindActiveOrLatest: the only active ReplicaSet, else the newest if none is active,
    else None (several active: scale them proportionally)."""
    if new is None and not olds:
        return None
    newest_first = list(reversed(by_creation(olds)))
    running = active([*newest_first, new])
    if not running:
        return new if new is not None else newest_first[0]
    return running[0] if len(running) == 1 else None


def _round(x: float) -> int:
    """Go's math.Round: halves away from zero."""
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


def replica_set_fraction(rs: Obj, deployment: Mapping[str, Any]) -> int:
    """getReplicaSetFraction: this ReplicaSet's change when the Deployment is resized."""
    if replicas_of(deployment) == 0:
        return -replicas_of(rs)
    deployment_replicas = replicas_of(deployment) + max_surge(deployment)
    annotated = annotation_int(rs, MAX_REPLICAS)
    if annotated is None:
        annotated = status_count(deployment, "replicas")
    if annotated == 0:
        return 0
    return _round(replicas_of(rs) * deployment_replicas / annotated) - replicas_of(rs)


def proportion(rs: Obj, deployment: Mapping[str, Any], to_add: int, added: int) -> int:
    """GetProportion: the share of ``to_add`` (the part not yet ``added``) this one takes."""
    if replicas_of(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction = replica_set_fraction(rs, deployment)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def proportional_sizes(
    deployment: Mapping[str, Any], rss: list[Obj]
) -> tuple[list[Obj], dict[str, int], str]:
    """The ``scale`` step of sync.go for several active ReplicaSets: (order, new sizes, "up" or
    "down" or "")."""
    allowed = replicas_of(deployment) + max_surge(deployment) if replicas_of(deployment) > 0 else 0
    to_add = allowed - total(rss)
    operation = "up" if to_add > 0 else ("down" if to_add < 0 else "")
    ordered = by_size(rss, newer_first=to_add > 0) if to_add else list(rss)
    sizes: dict[str, int] = {}
    added = 0
    for rs in ordered:
        share = proportion(rs, deployment, to_add, added) if to_add else 0
        sizes[_name(rs)] = replicas_of(rs) + share
        added += share
    if ordered and to_add:
        first = _name(ordered[0])
        sizes[first] = max(0, sizes[first] + to_add - added)
    return ordered, sizes, operation


# -- annotations ---------------------------------------------------------------------------------


def _annotations(obj: Obj) -> dict[str, str]:
    m = obj.setdefault("metadata", {})
    if not isinstance(m.get("annotations"), dict):
        m["annotations"] = {}
    annotations: dict[str, str] = m["annotations"]
    return annotations


def set_replicas_annotations(rs: Obj, desired: int, maximum: int) -> bool:
    ann = _annotations(rs)
    changed = False
    for key, value in ((DESIRED_REPLICAS, str(desired)), (MAX_REPLICAS, str(maximum))):
        if ann.get(key) != value:
            ann[key] = value
            changed = True
    return changed


def replicas_annotations_need_update(rs: Mapping[str, Any], desired: int, maximum: int) -> bool:
    ann = (rs.get("metadata") or {}).get("annotations") or {}
    return bool(ann.get(DESIRED_REPLICAS) != str(desired) or ann.get(MAX_REPLICAS) != str(maximum))


def set_new_rs_annotations(
    deployment: Mapping[str, Any], rs: Obj, new_revision: int, exists: bool
) -> bool:
    """SetNewReplicaSetAnnotations: copy the Deployment's annotations, raise the revision (keeping
    the old number in revision-history when a ReplicaSet is reused), add the replica counts to a
    ReplicaSet about to be created. True if anything changed."""
    ann = _annotations(rs)
    changed = False
    for key, value in ((deployment.get("metadata") or {}).get("annotations") or {}).items():
        if key not in SKIPPED_ANNOTATIONS and ann.get(key) != value:
            ann[key] = value
            changed = True
    had = REVISION in ann
    old = ann.get(REVISION, "")
    try:
        old_revision = int(old) if old else 0
    except ValueError:
        return False
    if old_revision < new_revision:
        ann[REVISION] = str(new_revision)
        changed = True
        if had:
            _push_history(ann, old)
    replicas = replicas_of(deployment)
    if not exists and set_replicas_annotations(rs, replicas, replicas + max_surge(deployment)):
        changed = True
    return changed


def _push_history(ann: dict[str, str], old: str) -> None:
    history = ann.get(REVISION_HISTORY, "")
    olds = history.split(",")
    if not olds[0]:
        ann[REVISION_HISTORY] = old
        return
    length, start = len(history) + len(old) + 1, 0
    while length > MAX_REVISION_HISTORY_CHARS and start < len(olds):
        length -= len(olds[start]) + 1
        start += 1
    if length <= MAX_REVISION_HISTORY_CHARS:
        ann[REVISION_HISTORY] = ",".join([*olds[start:], old])


def has_progress_deadline(deployment: Mapping[str, Any]) -> bool:
    deadline = spec_of(deployment).get("progressDeadlineSeconds")
    return deadline is not None and deadline != MAX_INT32


def has_revision_history_limit(deployment: Mapping[str, Any]) -> bool:
    limit = spec_of(deployment).get("revisionHistoryLimit")
    return limit is not None and limit != MAX_INT32
