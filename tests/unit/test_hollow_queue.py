"""The hollow nodes' work queue: each node's view of one queue shared by every node's pods."""

from __future__ import annotations

from collections.abc import Iterator

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


def test_a_lease_keeper_asks_again_while_the_server_is_busy() -> None:
    """With ``ONLY``, a node's renewals start once its Node is found: a busy server's answer
    (503, 429, a timeout) is asked again, as the Node's absence is, not the end of that node."""
    import types

    import requests

    from bench._hollow import ONLY, HollowNodes
    from bench._observe import Answers
    from common import errors

    answers: Iterator[Exception | dict[str, object]] = iter([
        errors.ServiceUnavailableError("busy"),
        errors.ServerTimeoutError("slow"),
        errors.TooManyRequestsError("later"),
        errors.NotFoundError("not yet"),
        {"metadata": {"uid": "u1"}},
    ])  # fmt: skip

    def get(_rt: object, _name: str) -> dict[str, object]:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    uids: list[str] = []

    def lease_loop(node_uid: object, reconnected: object) -> object:
        uids.append(node_uid())  # type: ignore[operator]
        return types.SimpleNamespace(first_delay=60.0)

    agent = types.SimpleNamespace(
        config=types.SimpleNamespace(node_name="hollow-1"),
        client=types.SimpleNamespace(get=get),
        heartbeat_client=types.SimpleNamespace(session=requests.Session()),
        lease_loop=lease_loop,
    )
    nodes = HollowNodes("https://127.0.0.1:1", None, "t", 1, Answers(), workers=0,
                        timer_threads=1, senders=1, leases=ONLY)  # fmt: skip
    try:
        nodes._keep_lease(agent)  # type: ignore[arg-type]
        assert uids == ["u1"]
        assert list(nodes.agents) == ["hollow-1"]
    finally:
        nodes.stop.set()
