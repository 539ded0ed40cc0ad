"""What a hollow-node process reports to bench/scale.py, and how the reports add up."""

from __future__ import annotations

import json
from collections import Counter

from bench._hollowprocs import Pools, default_procs
from bench._hollowwire import Inbox, Outbox, Tick, split


def test_the_nodes_are_split_evenly_and_no_process_is_empty() -> None:
    assert split(10, 3) == [(1, 4), (5, 3), (8, 3)]
    assert split(1000, 10) == [(1 + 100 * k, 100) for k in range(10)]
    assert split(2, 5) == [(1, 1), (2, 1)]
    assert split(7, 1) == [(1, 7)]
    assert split(7, 0) == [(1, 7)]


def test_one_process_per_hundred_nodes_by_default() -> None:
    assert [default_procs(n) for n in (1, 20, 100, 101, 500, 1000)] == [1, 1, 1, 2, 5, 10]


def test_each_process_takes_its_share_of_the_pools_of_all_the_nodes() -> None:
    assert Pools().share(100, 100) == {"workers": 256, "timer_threads": 200, "senders": 64}
    assert Pools().share(10, 10) == {"workers": 160, "timer_threads": 20, "senders": 10}
    assert Pools().share(100, 1000) == {"workers": 26, "timer_threads": 200, "senders": 7}
    assert Pools().share(10, 20) == {"workers": 128, "timer_threads": 20, "senders": 10}
    assert Pools(8, 4, 2).share(100, 1000) == {"workers": 1, "timer_threads": 1, "senders": 1}
    assert Pools(8, 4, 2).share(500, 1000) == {"workers": 4, "timer_threads": 2, "senders": 1}


def test_a_report_holds_only_what_is_new_since_the_last() -> None:
    out = Outbox()
    running = [("ns/a", 1.0)]
    ticks = [Tick("lease", 1.0, 1.1, 0.01, False)]
    kinds: Counter[str] = Counter({"503 PUT leases": 2})
    first = json.loads(out.line(running, ticks, kinds, {"503 PUT leases": "busy"}, 0.5, 40, 7))
    assert first == {
        "cpu": 0.5,
        "threads": 40,
        "pending": 7,
        "running": [["ns/a", 1.0]],
        "ticks": [["lease", 1.0, 1.1, 0.01, False]],
        "5xx": {"503 PUT leases": 2},
        "messages": {"503 PUT leases": "busy"},
    }
    assert json.loads(out.line(running, ticks, kinds, {"503 PUT leases": "busy"}, 0.7, 41)) == {
        "cpu": 0.7,
        "threads": 41,
        "pending": 0,
    }
    running.append(("ns/b", 2.0))
    kinds["503 PUT leases"] += 1
    again = json.loads(out.line(running, ticks, kinds, {"503 PUT leases": "busy"}, 0.9, 39))
    assert again == {"cpu": 0.9, "threads": 39, "pending": 0, "running": [["ns/b", 2.0]],
                     "5xx": {"503 PUT leases": 1}}  # fmt: skip


def test_the_reports_of_every_process_add_up() -> None:
    inbox = Inbox()
    one, two = Outbox(), Outbox()
    kinds: Counter[str] = Counter({"503 PUT leases": 2})
    inbox.take(1, one.line([("ns/a", 1.0)], [], kinds, {"503 PUT leases": "first"}, 1.5, 30))
    more = kinds + Counter({"503 PUT leases": 1})
    inbox.take(1, one.line([("ns/a", 1.0)], [], more, {}, 2.0, 20, 3))
    ticks = [Tick("lease", 1.0, 1.2, 0.02, True), Tick("node-status", 2.0, 2.0, 0.1, False)]
    inbox.take(2, two.line([("ns/b", 3.0), ("ns/a", 9.0)], ticks, kinds,
                           {"503 PUT leases": "second"}, 4.0, 25))  # fmt: skip
    assert inbox.running == {"ns/a": 1.0, "ns/b": 3.0}  # the first Running report stands
    assert inbox.ticks == ticks
    assert inbox.by_kind == Counter({"503 PUT leases": 5}) and inbox.errors_5xx == 5
    assert inbox.first_message == {"503 PUT leases": "first"}
    assert inbox.cpu == {1: 2.0, 2: 4.0} and inbox.cpu_seconds == 6.0
    assert inbox.threads == {1: 30, 2: 25} and inbox.threads_peak == 30  # the most each had
    assert inbox.pending == {1: 3, 2: 0}  # what each has yet to do, as it last said
    assert inbox.errors == []


def test_a_bad_line_or_an_error_report_is_a_failure_to_read() -> None:
    inbox = Inbox()
    inbox.take(3, "Traceback (most recent call last):\n")
    inbox.take(3, "[1, 2]\n")
    inbox.take(4, json.dumps({"error": "the nodes could not be started: boom"}))
    assert len(inbox.errors) == 3
    assert inbox.errors[0].startswith("hollow process 3 sent a bad report")
    assert inbox.errors[2] == "hollow process 4: the nodes could not be started: boom"
    assert Inbox().threads_peak is None
