"""Who may join under a node name: the machine that joined before, or nobody while the name is
held by a static token's node or by a Ready node that never joined."""

from __future__ import annotations

from typing import Any

import pytest

from control.apiserver.nodetokens import join_refusal, new_credential

OURS, THEIRS = "p" * 32, "q" * 32
JOINED = new_credential("n1", OURS)


def node(ready: str | None) -> dict[str, Any]:
    conditions = [{"type": "Ready", "status": ready}] if ready else []
    return {"metadata": {"name": "n1"}, "status": {"conditions": conditions}}


@pytest.mark.parametrize(
    ("password", "old", "current", "static", "refused"),
    [
        (OURS, None, None, False, None),  # a new name
        (OURS, None, node("Unknown"), False, None),  # a node gone silent, which never joined
        (OURS, None, node(None), False, None),  # registered, never Ready
        (OURS, JOINED, node("True"), False, None),  # the same machine, back again
        (THEIRS, JOINED, None, False, None),  # its Node deleted: the name is free
        (THEIRS, JOINED, node("Unknown"), False, "another machine"),
        (THEIRS, None, node("True"), False, 'status "Ready" already exists'),
        (OURS, None, None, True, "static token file"),
        (OURS, JOINED, node("True"), True, "static token file"),
    ],
)
def test_join_refusal(
    password: str, old: Any, current: Any, static: bool, refused: str | None
) -> None:
    reason = join_refusal("n1", password, old, current, static)
    if refused is None:
        assert reason is None
    else:
        assert reason is not None and refused in reason and 'node "n1"' in reason
