"""What tkctl reads from a StatefulSet and its ControllerRevisions: kubectl's status lines,
history rows, the revision to roll back to."""

from __future__ import annotations

from typing import Any

import pytest

from control.cli.output import CliError
from control.cli.revisionhistory import (
    controlled,
    find,
    matches,
    rows,
    set_patch,
    statefulset_status,
)

Obj = dict[str, Any]


def sts(status: Obj, *, generation: int = 2, partition: int | None = 0, **spec: Any) -> Obj:
    strategy: Obj = {"type": "RollingUpdate"}
    if partition is not None:
        strategy["rollingUpdate"] = {"partition": partition}
    return {
        "metadata": {"name": "web", "uid": "u1", "generation": generation},
        "spec": {"replicas": 3, "updateStrategy": strategy, "template": {"spec": {}}, **spec},
        "status": {"observedGeneration": 2, **status},
    }


@pytest.mark.parametrize(
    ("obj", "message", "done"),
    [
        (sts({}, generation=3), "Waiting for statefulset spec update to be observed...", False),
        (sts({"readyReplicas": 1}), "Waiting for 2 pods to be ready...", False),
        (
            sts({"readyReplicas": 3, "updatedReplicas": 1}, partition=1),
            "Waiting for partitioned roll out to finish: 1 out of 2 new pods have been updated...",
            False,
        ),
        (
            sts({"readyReplicas": 3, "updatedReplicas": 3}),
            "partitioned roll out complete: 3 new pods have been updated...",
            True,
        ),
        (
            sts(
                {
                    "readyReplicas": 3,
                    "updatedReplicas": 1,
                    "currentRevision": "a",
                    "updateRevision": "b",
                },
                partition=None,
            ),
            "waiting for statefulset rolling update to complete 1 pods at revision b...",
            False,
        ),
        (
            sts(
                {
                    "readyReplicas": 3,
                    "currentReplicas": 3,
                    "currentRevision": "b",
                    "updateRevision": "b",
                },
                partition=None,
            ),
            "statefulset rolling update complete 3 pods at revision b...",
            True,
        ),
    ],
)
def test_status_lines_are_kubectls(obj: Obj, message: str, done: bool) -> None:
    status = statefulset_status(obj)
    assert (status.message, status.done) == (message, done)


def test_status_of_on_delete_is_refused() -> None:
    obj = sts({})
    obj["spec"]["updateStrategy"] = {"type": "OnDelete"}
    with pytest.raises(CliError, match="only available for RollingUpdate strategy type"):
        statefulset_status(obj)


def revision(n: int, owner: str = "u1", cause: str = "") -> Obj:
    m: Obj = {"name": f"web-{n}", "ownerReferences": [{"uid": owner, "controller": True}]}
    if cause:
        m["annotations"] = {"kubernetes.io/change-cause": cause}
    return {"metadata": m, "revision": n, "data": {"spec": {"template": {"n": n}}}}


def test_history_is_the_sets_own_revisions_in_order() -> None:
    owner = sts({})
    found = controlled(owner, [revision(3), revision(1, cause="first"), revision(2, "other")])
    assert rows(found) == [(1, "first"), (3, "<none>")]


def test_the_revision_to_roll_back_to() -> None:
    history = [revision(1), revision(2), revision(3)]
    assert find(history, 0)["revision"] == 2
    assert find(history, 1)["revision"] == 1
    with pytest.raises(CliError, match="unable to find specified revision 7 in history"):
        find(history, 7)
    with pytest.raises(CliError, match="no last revision to roll back to"):
        find(history[:1], 0)


def test_a_set_matches_the_revision_of_its_template() -> None:
    obj = sts({})
    same = {"data": set_patch(obj)}
    assert matches(obj, same)
    assert not matches(obj, revision(1))
