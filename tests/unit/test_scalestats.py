"""The pure parts of bench/scale.py: percentiles, what a point reached, the cap, the table."""

from __future__ import annotations

import pytest

from bench._scalestats import (
    ROWS,
    Point,
    Progress,
    bucket_pct,
    format_table,
    over_cap,
    pct,
    rate,
    verdict,
)


def test_percentiles_by_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100, shuffled order must not matter
    values.reverse()
    assert pct(values, 50) == 51.0 and pct(values, 99) == 99.0 and pct(values, 100) == 100.0
    assert pct([0.3], 99) == 0.3
    assert pct([], 50) is None


def test_a_rate_needs_something_counted_over_some_time() -> None:
    assert rate(200, 2.0) == 100.0
    assert rate(0, 2.0) is None and rate(5, 0.0) is None


def test_a_point_finishes_when_every_node_is_ready_and_every_pod_running() -> None:
    assert Progress(10, 100, nodes_ready=10, created=100, bound=100, running=100).finished
    assert not Progress(10, 100, nodes_ready=10, created=100, bound=100, running=99).finished
    assert not Progress(10, 100, nodes_ready=9, created=100, bound=100, running=100).finished


@pytest.mark.parametrize(
    ("cap", "elapsed", "over"), [(None, 1e9, False), (300.0, 299.9, False), (300.0, 300.0, True)]
)
def test_the_cap(cap: float | None, elapsed: float, over: bool) -> None:
    assert over_cap(elapsed, cap) is over


def test_what_a_point_that_did_not_finish_reached() -> None:
    registering = Progress(500, 5000, nodes_ready=131)
    assert verdict(registering, 300.0, 300.0) == (
        "did not finish: 131/500 nodes Ready after the 300 s cap"
    )
    creating = Progress(100, 1000, nodes_ready=100, created=1000, bound=950, running=918)
    assert verdict(creating, 300.4, 300.0) == (
        "did not finish: 1000/1000 created, 950 bound, 918 Running after the 300 s cap"
    )
    assert verdict(creating, 42.0, None) == (
        "did not finish: 1000/1000 created, 950 bound, 918 Running after 42 s"
    )
    done = Progress(100, 1000, nodes_ready=100, created=1000, bound=1000, running=1000)
    assert verdict(done, 400.0, 300.0) == "finished"


def test_the_table_has_a_column_per_point_and_every_row() -> None:
    after = Point("this tree", 100, 1000, "finished", {"creates_per_s": 199.94, "evictions": 0})
    before = Point("837c272", 100, 1000, "did not finish: 10/100 nodes Ready after the 300 s cap")
    lines = format_table([after, before]).splitlines()
    assert lines[0].split() == ["this", "tree", "N=100", "837c272", "N=100"]
    assert lines[1].split() == ["pods", "1000", "1000"]
    assert lines[2].split() == ["finished", "yes", "NO"]
    rows = {line[:34].strip(): line[34:].split() for line in lines[3 : 3 + len(ROWS)]}
    assert list(rows) == [label for _, label, _ in ROWS]
    assert rows["creates/s"] == ["199.9", "-"]
    assert rows["pods evicted"] == ["0", "-"]
    assert rows["5xx answers"] == ["-", "-"]
    assert lines[-2:] == [
        "this tree N=100: finished",
        "837c272 N=100: did not finish: 10/100 nodes Ready after the 300 s cap",
    ]
    assert len({len(line) for line in lines[: 3 + len(ROWS)]}) == 1  # columns line up


def test_bucket_pct_is_the_bound_of_the_bucket_holding_the_percentile() -> None:
    buckets = [(0.005, 90.0), (0.025, 99.0), (0.05, 100.0), (float("inf"), 100.0)]
    assert bucket_pct(buckets, 50) == 0.005
    assert bucket_pct(buckets, 99) == 0.025
    assert bucket_pct(buckets, 100) == 0.05
    assert bucket_pct(list(reversed(buckets)), 99) == 0.025
    assert bucket_pct([(0.005, 0.0), (float("inf"), 0.0)], 99) is None
    assert bucket_pct([], 99) is None
