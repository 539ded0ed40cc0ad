"""What ``tkctl rollout`` reads from a workload whose history is kept in ControllerRevisions
(StatefulSets and DaemonSets; kubectl's ``StatefulSetHistoryViewer``/``StatefulSetRollbacker``,
``DaemonSetHistoryViewer``/``DaemonSetRollbacker`` and their status viewers): the revisions it
controls, the template of one, the revision to roll back to and whether the workload already
has it (both keep the template as the same patch), and the status line of a rollout. Pure.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from typing import Any

from control.cli.output import CliError
from control.cli.revisions import CHANGE_CAUSE, Status, controller_uid, name_of

Obj = Mapping[str, Any]
PATCH_DIRECTIVE = "$patch"


def _m(obj: object, key: str) -> Obj:
    value = obj.get(key) if isinstance(obj, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def revision_number(cr: Obj) -> int:
    return int(cr.get("revision") or 0)


def controlled(owner: Obj, revisions: Sequence[Obj]) -> list[Obj]:
    """``controlledHistories``: the revisions ``owner`` controls, by revision number."""
    uid = _m(owner, "metadata").get("uid")
    mine = [cr for cr in revisions if uid and controller_uid(cr) == uid]
    return sorted(mine, key=lambda cr: (revision_number(cr), name_of(cr)))


def rows(revisions: Sequence[Obj]) -> list[tuple[int, str]]:
    """``(revision, change-cause or <none>)`` of each revision."""
    out = []
    for cr in revisions:
        cause = _m(_m(cr, "metadata"), "annotations").get(CHANGE_CAUSE)
        out.append((revision_number(cr), str(cause) if cause else "<none>"))
    return out


def template_of(cr: Obj) -> dict[str, Any]:
    """The pod template a revision restores (its patch's ``spec.template``)."""
    template = _m(_m(cr.get("data"), "spec"), "template")
    return {k: copy.deepcopy(v) for k, v in template.items() if k != PATCH_DIRECTIVE}


def find(revisions: Sequence[Obj], to_revision: int) -> Obj:
    """``findHistory``: revision ``to_revision``, or with 0 the one before the latest."""
    if to_revision < 0:
        raise CliError(f"unable to find specified revision {to_revision} in history")
    if to_revision == 0:
        if len(revisions) <= 1:
            raise CliError("no last revision to roll back to")
        return sorted(revisions, key=revision_number)[-2]
    for cr in revisions:
        if revision_number(cr) == to_revision:
            return cr
    raise CliError(f"unable to find specified revision {to_revision} in history")


def set_patch(sts: Obj) -> dict[str, Any]:
    """``getStatefulSetPatch``: the set's template as a revision holds it."""
    template = copy.deepcopy(dict(_m(_m(sts, "spec"), "template")))
    template[PATCH_DIRECTIVE] = "replace"
    return {"spec": {"template": template}}


def matches(sts: Obj, cr: Obj) -> bool:
    """``statefulsetMatch``: the set already has the revision's template."""
    dump = json.dumps
    return dump(set_patch(sts), sort_keys=True) == dump(cr.get("data"), sort_keys=True)


def statefulset_status(sts: Obj) -> Status:
    """kubectl's ``StatefulSetStatusViewer.Status``."""
    meta, spec, status = _m(sts, "metadata"), _m(sts, "spec"), _m(sts, "status")
    strategy = _m(spec, "updateStrategy")
    if strategy.get("type") != "RollingUpdate":
        raise CliError("rollout status is only available for RollingUpdate strategy type")
    observed = int(status.get("observedGeneration") or 0)
    if observed == 0 or int(meta.get("generation") or 0) > observed:
        return Status("Waiting for statefulset spec update to be observed...", False)
    replicas = int(spec.get("replicas", 1) or 0)
    ready, updated = int(status.get("readyReplicas") or 0), int(status.get("updatedReplicas") or 0)
    if ready < replicas:
        return Status(f"Waiting for {replicas - ready} pods to be ready...", False)
    rolling = strategy.get("rollingUpdate")
    if isinstance(rolling, Mapping):
        partition = rolling.get("partition")
        if partition is not None and updated < replicas - int(partition):
            return Status(
                "Waiting for partitioned roll out to finish: "
                f"{updated} out of {replicas - int(partition)} new pods have been updated...",
                False,
            )
        return Status(
            f"partitioned roll out complete: {updated} new pods have been updated...", True
        )
    current, update = status.get("currentRevision"), status.get("updateRevision")
    if update != current:
        return Status(
            f"waiting for statefulset rolling update to complete {updated} pods at revision "
            f"{update}...",
            False,
        )
    return Status(
        f"statefulset rolling update complete {int(status.get('currentReplicas') or 0)} pods at "
        f"revision {current}...",
        True,
    )


def daemonset_status(ds: Obj) -> Status:
    """kubectl's ``DaemonSetStatusViewer.Status``."""
    if _m(_m(ds, "spec"), "updateStrategy").get("type") != "RollingUpdate":
        raise CliError("rollout status is only available for RollingUpdate strategy type")
    name, status = name_of(ds), _m(ds, "status")
    if int(_m(ds, "metadata").get("generation") or 0) > int(status.get("observedGeneration") or 0):
        return Status("Waiting for daemon set spec update to be observed...", False)
    desired = int(status.get("desiredNumberScheduled") or 0)
    updated = int(status.get("updatedNumberScheduled") or 0)
    available = int(status.get("numberAvailable") or 0)
    waiting = f'Waiting for daemon set "{name}" rollout to finish: '
    if updated < desired:
        return Status(f"{waiting}{updated} out of {desired} new pods have been updated...", False)
    if available < desired:
        return Status(f"{waiting}{available} of {desired} updated pods are available...", False)
    return Status(f'daemon set "{name}" successfully rolled out', True)
