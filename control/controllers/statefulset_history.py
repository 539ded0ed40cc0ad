"""A StatefulSet's ControllerRevisions, as stateful_set_utils.go keeps them: a revision holds
the pod template as a patch that restores it (``{"spec": {"template": {..., "$patch":
"replace"}}}``), ``apply_revision`` gives the set as a revision has it, and ``update_revision``
decides (getStatefulSetRevisions) whether the set's template is the latest revision, an older
one to renumber (a rollback) or a new one to create. Pure: revisions in, decisions out.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from control.controllers.history import (
    equal_revision,
    find_equal_revisions,
    new_controller_revision,
    next_revision,
)

Obj = dict[str, Any]
PATCH_DIRECTIVE = "$patch"


def revision_data(sts: Mapping[str, Any]) -> Obj:
    """getPatch: the template, to be put back whole."""
    template = copy.deepcopy(dict((sts.get("spec") or {}).get("template") or {}))
    template[PATCH_DIRECTIVE] = "replace"
    return {"spec": {"template": template}}


def new_revision(sts: Mapping[str, Any], revision: int, collision_count: int) -> Obj:
    """newRevision: a ControllerRevision of the set's template, labelled as the template."""
    labels = (((sts.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels")
    return new_controller_revision(sts, labels, revision_data(sts), revision, collision_count)


def apply_revision(sts: Mapping[str, Any], revision: Mapping[str, Any] | None) -> Obj:
    """applyRevision: a copy of the set with the revision's template."""
    out = copy.deepcopy(dict(sts))
    data = (revision or {}).get("data") or {}
    template = ((data.get("spec") or {}).get("template")) if isinstance(data, Mapping) else None
    if isinstance(template, Mapping):
        template = {k: copy.deepcopy(v) for k, v in template.items() if k != PATCH_DIRECTIVE}
        out.setdefault("spec", {})["template"] = template
    return out


@dataclass(frozen=True)
class UpdateRevision:
    """``revision``: the update revision as it must be stored; ``write``: "" (it is already),
    "renumber" (an older equal revision gets the next number) or "create"."""

    revision: Obj
    write: str


def update_revision(
    sts: Mapping[str, Any], revisions: list[Obj], collision_count: int
) -> UpdateRevision:
    """The update revision of the set given its revisions, sorted oldest first."""
    candidate = new_revision(sts, next_revision(revisions), collision_count)
    equal = find_equal_revisions(revisions, candidate)
    if equal and revisions and equal_revision(revisions[-1], equal[-1]):
        return UpdateRevision(revisions[-1], "")
    if equal:
        renumbered = copy.deepcopy(equal[-1])
        renumbered["revision"] = candidate["revision"]
        return UpdateRevision(renumbered, "renumber")
    return UpdateRevision(candidate, "create")


def current_revision(
    sts: Mapping[str, Any], revisions: list[Obj], update: Mapping[str, Any]
) -> Mapping[str, Any]:
    """The revision named by ``status.currentRevision``, else the update revision."""
    name = (sts.get("status") or {}).get("currentRevision")
    for cr in revisions:
        if (cr.get("metadata") or {}).get("name") == name:
            return cr
    return update
