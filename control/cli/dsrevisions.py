"""What ``tkctl rollout`` reads from a DaemonSet and its ControllerRevisions, as kubectl
computes it (``kubectl/pkg/polymorphichelpers``: DaemonSetStatusViewer, DaemonSetHistoryViewer,
DaemonSetRollbacker): the status line, the revision history and the revision to roll back to,
whose ``data`` is the patch that restores its template. Pure.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from common.workloads import ROLLING_UPDATE, daemonset_revision_data
from control.cli.output import CliError
from control.cli.revisions import CHANGE_CAUSE, Status, controller_uid, name_of

Obj = Mapping[str, Any]


def _m(obj: object, key: str) -> Obj:
    value = obj.get(key) if isinstance(obj, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def daemonset_status(ds: Obj) -> Status:
    """DaemonSetStatusViewer.Status: the line to print and whether the rollout is done."""
    if _m(_m(ds, "spec"), "updateStrategy").get("type") != ROLLING_UPDATE:
        raise CliError(f"rollout status is only available for {ROLLING_UPDATE} strategy type")
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


def owned_revisions(ds: Obj, revisions: Sequence[Obj]) -> list[Obj]:
    """The DaemonSet's ControllerRevisions (by owner UID), by revision."""
    uid = _m(ds, "metadata").get("uid")
    mine = [cr for cr in revisions if uid and controller_uid(cr) == uid]
    return sorted(mine, key=lambda cr: int(cr.get("revision") or 0))


def templates(revisions: Sequence[Obj]) -> dict[int, Obj]:
    """Revision → the pod template it restores (applyDaemonSetHistory)."""
    out: dict[int, Obj] = {}
    for cr in revisions:
        template = dict(copy.deepcopy(_m(_m(_m(cr, "data"), "spec"), "template")))
        template.pop("$patch", None)
        out[int(cr.get("revision") or 0)] = template
    return out


def history_rows(revisions: Sequence[Obj]) -> list[tuple[int, str]]:
    """``(revision, change-cause or <none>)``, by revision (printHistory)."""
    causes = {
        int(cr.get("revision") or 0): _m(_m(cr, "metadata"), "annotations").get(CHANGE_CAUSE)
        for cr in revisions
    }
    return [(r, str(causes[r]) if causes[r] else "<none>") for r in sorted(causes)]


def rollback_target(revisions: Sequence[Obj], to_revision: int) -> Obj:
    """findHistory: ``to_revision``'s ControllerRevision, or with 0 the one before the latest."""
    if to_revision < 0:
        raise CliError(f"unable to find specified revision {to_revision} in history")
    if to_revision == 0:
        if len(revisions) <= 1:
            raise CliError("no last revision to roll back to")
        return sorted(revisions, key=lambda cr: int(cr.get("revision") or 0))[-2]
    for cr in revisions:
        if int(cr.get("revision") or 0) == to_revision:
            return cr
    raise CliError(f"unable to find specified revision {to_revision} in history")


def matches(ds: Obj, revision: Obj) -> bool:
    """daemonSetMatch: the DaemonSet's template is the revision's already."""
    return bool(revision.get("data") == daemonset_revision_data(ds))
