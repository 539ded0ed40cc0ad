"""What ``tkctl rollout`` reads from a Deployment and its ReplicaSets, as kubectl computes it
(``kubectl/pkg/polymorphichelpers``, ``deployment_util.go``): the status line of a rollout, the
revision history, the ReplicaSet to roll back to and the patch that does it. Pure.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from common.wellknown import REVISION, REVISION_HISTORY, TEMPLATE_HASH_LABEL
from control.cli.output import CliError

Obj = Mapping[str, Any]

DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
CHANGE_CAUSE = "kubernetes.io/change-cause"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
ROLLBACK_TO = "deprecated.deployment.rollback.to"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
HASH_LABEL = TEMPLATE_HASH_LABEL
# Annotations of the Deployment that a rollback keeps instead of taking the ReplicaSet's.
ANNOTATIONS_TO_SKIP = frozenset(
    {LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, ROLLBACK_TO}
)
TIMED_OUT_REASON = "ProgressDeadlineExceeded"


def _m(obj: object, key: str) -> Obj:
    value = obj.get(key) if isinstance(obj, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def name_of(obj: Obj) -> str:
    return str(_m(obj, "metadata").get("name") or "")


def revision(obj: Obj) -> int | None:
    """The ``deployment.kubernetes.io/revision`` of an object, ``None`` if absent or bad."""
    text = _m(_m(obj, "metadata"), "annotations").get(REVISION)
    try:
        return int(str(text))
    except (TypeError, ValueError):
        return None


# -- rollout status -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    message: str
    done: bool


def rollout_status(deploy: Obj, want_revision: int = 0) -> Status:
    """kubectl's ``DeploymentStatusViewer.Status``: the line to print and whether it is done;
    ``CliError`` when the rollout cannot succeed (deadline exceeded, another revision)."""
    name = name_of(deploy)
    meta, spec, status = _m(deploy, "metadata"), _m(deploy, "spec"), _m(deploy, "status")
    if want_revision > 0:
        have = revision(deploy) or 0
        if have != want_revision:
            raise CliError(
                f"desired revision ({want_revision}) is different from the running revision "
                f"({have})"
            )
    if int(meta.get("generation") or 0) > int(status.get("observedGeneration") or 0):
        return Status("Waiting for deployment spec update to be observed...", False)
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Progressing" and cond.get("reason") == TIMED_OUT_REASON:
            raise CliError(f'deployment "{name}" exceeded its progress deadline')
    replicas = int(spec.get("replicas", 1) or 0)
    updated = int(status.get("updatedReplicas") or 0)
    total = int(status.get("replicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    waiting = f'Waiting for deployment "{name}" rollout to finish: '
    if updated < replicas:
        text = f"{updated} out of {replicas} new replicas have been updated..."
        return Status(waiting + text, False)
    if total > updated:
        return Status(f"{waiting}{total - updated} old replicas are pending termination...", False)
    if available < updated:
        return Status(f"{waiting}{available} of {updated} updated replicas are available...", False)
    return Status(f'deployment "{name}" successfully rolled out', True)


# -- the ReplicaSets of a Deployment --------------------------------------------------------------


def controller_uid(obj: Obj) -> str | None:
    for ref in _m(obj, "metadata").get("ownerReferences") or []:
        if isinstance(ref, Mapping) and ref.get("controller"):
            return str(ref.get("uid") or "")
    return None


def owned(deploy: Obj, rses: Sequence[Obj]) -> list[Obj]:
    """The ReplicaSets controlled by ``deploy`` (by owner UID), oldest revision first."""
    uid = _m(deploy, "metadata").get("uid")
    mine = [rs for rs in rses if uid and controller_uid(rs) == uid]
    return sorted(mine, key=lambda rs: (revision(rs) or 0, name_of(rs)))


def _normalized(value: Any) -> Any:
    """Drop empty maps, lists and nulls: Kubernetes' semantic equality treats them as unset."""
    if isinstance(value, Mapping):
        out = {k: _normalized(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in ({}, [], None)}
    if isinstance(value, list):
        return [_normalized(v) for v in value]
    return value


def equal_ignore_hash(a: object, b: object) -> bool:
    """Kubernetes' ``EqualIgnoreHash``: templates equal once ``pod-template-hash`` is dropped."""
    ta, tb = (copy.deepcopy(dict(t)) if isinstance(t, Mapping) else {} for t in (a, b))
    for t in (ta, tb):
        labels = _m(t, "metadata").get("labels")
        if isinstance(labels, dict):
            labels.pop(HASH_LABEL, None)
    return bool(_normalized(ta) == _normalized(tb))


def split_new_old(deploy: Obj, rses: Sequence[Obj]) -> tuple[Obj | None, list[Obj]]:
    """The new ReplicaSet (template equal to the Deployment's, the oldest such) and the old ones."""
    template = _m(deploy, "spec").get("template")
    new: Obj | None = None
    old: list[Obj] = []
    by_age = sorted(
        rses, key=lambda rs: (str(_m(rs, "metadata").get("creationTimestamp") or ""), name_of(rs))
    )
    for rs in by_age:
        if new is None and equal_ignore_hash(_m(rs, "spec").get("template"), template):
            new = rs
        else:
            old.append(rs)
    return new, old


# -- rollout history / undo ---------------------------------------------------------------------


def history(rses: Sequence[Obj]) -> dict[int, Obj]:
    """Revision → the ReplicaSet's pod template, its change-cause copied into the template's
    annotations as kubectl shows it."""
    out: dict[int, Obj] = {}
    for rs in rses:
        rev = revision(rs)
        if rev is None:
            continue
        template = copy.deepcopy(dict(_m(_m(rs, "spec"), "template")))
        cause = _m(_m(rs, "metadata"), "annotations").get(CHANGE_CAUSE)
        if cause:
            meta = template.setdefault("metadata", {})
            meta["annotations"] = {**(meta.get("annotations") or {}), CHANGE_CAUSE: cause}
        out[rev] = template
    return out


def history_rows(rses: Sequence[Obj]) -> list[tuple[int, str]]:
    """``(revision, change-cause or <none>)``, by revision."""
    found = history(rses)
    rows = []
    for rev in sorted(found):
        cause = _m(_m(found[rev], "metadata"), "annotations").get(CHANGE_CAUSE)
        rows.append((rev, str(cause) if cause else "<none>"))
    return rows


def rollback_target(deploy: Obj, rses: Sequence[Obj], to_revision: int) -> Obj:
    """The ReplicaSet of ``to_revision``, or with 0 the one before the latest (kubectl's
    ``deploymentRevision``)."""
    if to_revision < 0:
        raise CliError(f"unable to find specified revision {to_revision} in history")
    numbered = [(rev, rs) for rs in rses if (rev := revision(rs)) is not None]
    if to_revision > 0:
        for rev, rs in numbered:
            if rev == to_revision:
                return rs
        raise CliError(f"unable to find specified revision {to_revision} in history")
    ordered = sorted(numbered, key=lambda p: p[0])
    if len(ordered) < 2:
        raise CliError(f'no rollout history found for deployment "{name_of(deploy)}"')
    return ordered[-2][1]


def rollback_patch(deploy: Obj, rs: Obj) -> list[dict[str, Any]]:
    """kubectl's JSON patch: the ReplicaSet's template without the hash label, and the
    Deployment's annotations (kept ones) plus the ReplicaSet's (the others)."""
    template = copy.deepcopy(dict(_m(_m(rs, "spec"), "template")))
    labels = _m(template, "metadata").get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH_LABEL, None)
    mine = _m(_m(deploy, "metadata"), "annotations")
    annotations = {k: v for k, v in mine.items() if k in ANNOTATIONS_TO_SKIP}
    theirs = _m(_m(rs, "metadata"), "annotations")
    annotations.update({k: v for k, v in theirs.items() if k not in ANNOTATIONS_TO_SKIP})
    # "replace" as kubectl sends it; "add" (which also replaces) if there is nothing to replace.
    op = "replace" if "annotations" in _m(deploy, "metadata") else "add"
    return [
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": op, "path": "/metadata/annotations", "value": annotations},
    ]


def restart_patch(when: str) -> dict[str, Any]:
    """The strategic merge patch of ``rollout restart``: a new template annotation."""
    return {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: when}}}}}
