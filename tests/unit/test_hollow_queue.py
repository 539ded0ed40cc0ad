"""The hollow nodes' work queue: each node's view of one queue shared by every node's pods."""

from __future__ import annotations

from bench._hollow import NodeQueue, token_rows
from common.workqueue import WorkQueue


def test_each_node_queues_under_its_name_and_one_stopping_leaves_the_others() -> None:
    shared = WorkQueue()
    a, b = NodeQueue(shared, "hollow-1"), NodeQueue(shared, "hollow-2")
    a.add("u1")
    b.add("u1")
    a.add("u1")  # deduplicated, as on a queue of its own
    assert [shared.get(timeout=0), shared.get(timeout=0)] == ["hollow-1/u1", "hollow-2/u1"]
    a.add("u1")  # while being processed: handed out again once done
    assert shared.get(timeout=0) is None
    a.done("u1")
    a.shutdown()
    assert shared.get(timeout=0) == "hollow-1/u1"
    b.add_after("u2", 0)
    assert shared.get(timeout=0) == "hollow-2/u2"


def test_every_hollow_node_has_a_node_token_row() -> None:
    rows = token_rows(2, "t").splitlines()
    assert rows == [
        't-1,system:node:hollow-1,system:node:hollow-1,"system:nodes"',
        't-2,system:node:hollow-2,system:node:hollow-2,"system:nodes"',
    ]
