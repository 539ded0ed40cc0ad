"""The pure rollout logic of tkctl: template equality ignoring the hash, new/old ReplicaSets,
revision choice for undo, history rows, Go durations."""

from __future__ import annotations

from typing import Any

import pytest

from control.cli.output import CliError
from control.cli.revisions import (
    equal_ignore_hash,
    history_rows,
    owned,
    rollback_target,
    split_new_old,
)
from control.cli.rollout import parse_duration


def rs(name: str, rev: int | None, image: str, owner: str = "u1", created: str = "") -> Any:
    annotations = {"deployment.kubernetes.io/revision": str(rev)} if rev is not None else {}
    return {
        "metadata": {"name": name, "annotations": annotations, "creationTimestamp": created,
                     "ownerReferences": [{"uid": owner, "controller": True}]},
        "spec": {"template": {"metadata": {"labels": {"app": "w", "pod-template-hash": name}},
                              "spec": {"containers": [{"name": "c", "image": image}]}}},
    }  # fmt: skip


DEPLOY = {
    "metadata": {"name": "w", "uid": "u1"},
    "spec": {"template": {"metadata": {"labels": {"app": "w"}, "annotations": {}},
                          "spec": {"containers": [{"name": "c", "image": "v2", "env": []}]}}},
}  # fmt: skip


def test_equal_ignore_hash_treats_empty_as_unset() -> None:
    assert equal_ignore_hash(rs("a", 1, "v2")["spec"]["template"], DEPLOY["spec"]["template"])
    assert not equal_ignore_hash(rs("a", 1, "v1")["spec"]["template"], DEPLOY["spec"]["template"])


def test_owned_new_and_old() -> None:
    rses = [rs("b", 2, "v2", created="2024-01-02"), rs("a", 1, "v1", created="2024-01-01"),
            rs("x", 5, "v2", owner="other")]  # fmt: skip
    mine = owned(DEPLOY, rses)
    assert [r["metadata"]["name"] for r in mine] == ["a", "b"]
    new, old = split_new_old(DEPLOY, mine)
    assert new is not None and new["metadata"]["name"] == "b"
    assert [r["metadata"]["name"] for r in old] == ["a"]


def test_rollback_target_defaults_to_the_second_newest_revision() -> None:
    rses = [rs("a", 1, "v1"), rs("c", 3, "v3"), rs("b", 2, "v2"), rs("n", None, "v0")]
    assert rollback_target(DEPLOY, rses, 0)["metadata"]["name"] == "b"
    assert rollback_target(DEPLOY, rses, 1)["metadata"]["name"] == "a"
    with pytest.raises(CliError, match="unable to find specified revision 4 in history"):
        rollback_target(DEPLOY, rses, 4)
    with pytest.raises(CliError, match='no rollout history found for deployment "w"'):
        rollback_target(DEPLOY, [rs("a", 1, "v1")], 0)


def test_history_rows_sorted_with_change_cause() -> None:
    b = rs("b", 10, "v2")
    b["metadata"]["annotations"]["kubernetes.io/change-cause"] = "bump"
    assert history_rows([b, rs("a", 9, "v1"), rs("n", None, "v0")]) == [
        (9, "<none>"), (10, "bump")]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0", 0.0), ("90s", 90.0), ("1m30s", 90.0), ("500ms", 0.5), ("2h", 7200.0), ("1.5s", 1.5)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["5", "s", "1x", "1m x", "-1s"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(CliError, match="invalid duration"):
        parse_duration(text)
