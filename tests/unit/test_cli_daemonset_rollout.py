"""What tkctl's rollout commands read from a DaemonSet and its ControllerRevisions: kubectl's
status lines, and the shared history functions (rows, revision to roll back to, its errors)
over a DaemonSet's revisions, whose data is the controller's."""

from __future__ import annotations

from typing import Any

import pytest

from common.workloads import daemonset_revision_data
from control.cli import revisionhistory as rh
from control.cli.output import CliError

Obj = dict[str, Any]


def ds(generation: int = 2, strategy: str = "RollingUpdate", **status: Any) -> Obj:
    return {
        "metadata": {"name": "logs", "uid": "u1", "generation": generation},
        "spec": {"updateStrategy": {"type": strategy},
                 "template": {"spec": {"containers": [{"name": "a", "image": "a:1"}]}}},
        "status": {"observedGeneration": 2, **status},
    }  # fmt: skip


@pytest.mark.parametrize(
    ("obj", "line", "done"),
    [
        (ds(generation=3), "Waiting for daemon set spec update to be observed...", False),
        (ds(desiredNumberScheduled=3, updatedNumberScheduled=1),
         'Waiting for daemon set "logs" rollout to finish: 1 out of 3 new pods have been '
         "updated...", False),
        (ds(desiredNumberScheduled=3, updatedNumberScheduled=3, numberAvailable=2),
         'Waiting for daemon set "logs" rollout to finish: 2 of 3 updated pods are available...',
         False),
        (ds(desiredNumberScheduled=3, updatedNumberScheduled=3, numberAvailable=3),
         'daemon set "logs" successfully rolled out', True),
    ],
)  # fmt: skip
def test_status_lines(obj: Obj, line: str, done: bool) -> None:
    status = rh.daemonset_status(obj)
    assert (status.message, status.done) == (line, done)


def test_status_needs_rolling_update() -> None:
    with pytest.raises(CliError, match="only available for RollingUpdate strategy type"):
        rh.daemonset_status(ds(strategy="OnDelete"))


def cr(revision: int, owner: str = "u1", cause: str | None = None) -> Obj:
    meta: Obj = {"name": f"logs-{revision}",
                 "ownerReferences": [{"uid": owner, "controller": True}]}  # fmt: skip
    if cause:
        meta["annotations"] = {"kubernetes.io/change-cause": cause}
    template = {
        "$patch": "replace",
        "spec": {"containers": [{"name": "a", "image": f"a:{revision}"}]},
    }
    return {"metadata": meta, "revision": revision, "data": {"spec": {"template": template}}}


def test_history_and_rollback_target_of_a_daemonset() -> None:
    revisions = rh.controlled(ds(), [cr(2, cause="set image"), cr(1), cr(9, owner="other")])
    assert [r["revision"] for r in revisions] == [1, 2]
    assert rh.rows(revisions) == [(1, "<none>"), (2, "set image")]
    assert rh.template_of(revisions[0]) == {"spec": {"containers": [{"name": "a", "image": "a:1"}]}}
    assert rh.find(revisions, 0)["revision"] == 1
    assert rh.find(revisions, 2)["revision"] == 2
    with pytest.raises(CliError, match="unable to find specified revision 5 in history"):
        rh.find(revisions, 5)
    with pytest.raises(CliError, match="no last revision to roll back to"):
        rh.find(revisions[:1], 0)


def test_a_daemonset_matches_the_revision_of_its_template() -> None:
    obj = ds()
    assert rh.matches(obj, {"data": daemonset_revision_data(obj)})
    assert rh.matches(obj, cr(1)) and not rh.matches(obj, cr(2))
