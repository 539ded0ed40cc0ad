"""The pure parts of bench/scale.py: percentiles, what a point reached, the cap, the table."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench._observe import API_WORKERS, CONTROLLERS, MASTER, _cpu_and_rss, _pss, role
from bench._scalestats import (
    ROWS,
    Point,
    Progress,
    bucket_pct,
    cpu_ticks,
    format_table,
    format_targets,
    over_cap,
    pct,
    rate,
    startups,
    steal_pct,
    target_checks,
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
    assert lines[-4:-2] == [
        "this tree N=100: finished",
        "837c272 N=100: did not finish: 10/100 nodes Ready after the 300 s cap",
    ]
    assert lines[-2].startswith("this tree N=100 targets: none missed (not measured: binds/s")
    assert lines[-1].startswith("837c272 N=100 targets: MISSED all pods Running")
    assert len({len(line) for line in lines[: 3 + len(ROWS)]}) == 1  # columns line up


def test_bucket_pct_is_the_bound_of_the_bucket_holding_the_percentile() -> None:
    buckets = [(0.005, 90.0), (0.025, 99.0), (0.05, 100.0), (float("inf"), 100.0)]
    assert bucket_pct(buckets, 50) == 0.005
    assert bucket_pct(buckets, 99) == 0.025
    assert bucket_pct(buckets, 100) == 0.05
    assert bucket_pct(list(reversed(buckets)), 99) == 0.025
    assert bucket_pct([(0.005, 0.0), (float("inf"), 0.0)], 99) is None
    assert bucket_pct([], 99) is None


def test_startup_counts_only_the_pods_of_one_creator_seen_running() -> None:
    created = {"ns/latency-0": 10.0, "ns/latency-1": 11.0, "ns/latency-2": 12.0}
    running = {"ns/latency-0": 10.5, "ns/latency-1": 14.0, "ns/pod-0": 1.0}
    assert sorted(startups(created, running)) == [0.5, 3.0]
    assert startups({}, running) == []


def test_a_point_waits_for_its_latency_pods_too() -> None:
    saturated = Progress(10, 100, 10, 100, 100, 100, latency=500, latency_running=499)
    assert not saturated.finished
    assert saturated.reached() == (
        "100/100 created, 100 bound, 100 Running; latency pods 499/500 Running"
    )
    assert Progress(10, 100, 10, 100, 100, 100, latency=500, latency_running=500).finished
    assert Progress(10, 100, 10, 100, 100, 99, latency=500).reached() == (
        "100/100 created, 100 bound, 99 Running"
    )


def test_a_point_whose_hollow_nodes_failed_says_why() -> None:
    creating = Progress(20, 100, nodes_ready=20, created=100, bound=90, running=80)
    failed = "hollow process 2 (nodes 11-20) exited with code -9: (no output)"
    assert verdict(creating, 8.2, 900.0, failed) == (
        f"did not finish: {failed}; 100/100 created, 90 bound, 80 Running after 8 s"
    )
    done = Progress(20, 100, nodes_ready=20, created=100, bound=100, running=100)
    assert verdict(done, 8.2, 900.0, failed) == "finished"


def _held(point: Point) -> dict[str, bool | None]:
    return {what.split(" (")[0].split(" <=")[0]: ok for what, ok in target_checks(point)}


def test_the_startup_target_is_checked_on_the_latency_pods() -> None:
    figures: dict[str, float | None] = {
        "creates_per_s": 200.0, "binds_per_s": 195.0, "startup_p99_s": 40.0,
        "latency_p99_s": 1.2, "lease_failures": 0, "lowest_ready": 100, "evictions": 0,
        "answers_5xx": 0,
    }  # fmt: skip
    point = Point("this tree", 100, 1000, "finished", figures)
    assert all(ok for _, ok in target_checks(point))
    line = format_targets(point)
    assert line == (
        "this tree N=100 targets: all held; saturation pods startup p99 40.00 s "
        "(not the SLO's figure)"
    )
    slow = Point("this tree", 100, 1000, "finished", {**figures, "latency_p99_s": 5.5})
    assert _held(slow)["latency pods startup p99"] is False
    assert "MISSED latency pods startup p99 (s) <= 5 (5.50)" in format_targets(slow)


def test_targets_follow_the_row_of_the_point_and_say_what_was_not_measured() -> None:
    point = Point("this tree", 500, 5000, "did not finish: x", {"binds_per_s": 80.0,
                  "creates_per_s": 200.0, "get_p99_ms": 150.0, "lowest_ready": 499})  # fmt: skip
    held = _held(point)
    assert held["all pods Running"] is False
    assert held["binds/s >= 0.9 x creates/s and >= 100"] is False
    assert held["no node NotReady"] is False
    assert held["GET pod p99"] is False and held["LIST all pods p99"] is None
    assert held["latency pods startup p99"] is None
    assert "not measured: " in format_targets(point)
    idle = {"cp_rss_mb": 900.0, "cp_idle_cpu_pct": 31.0, "lowest_ready": 1000, "answers_5xx": 0}
    big = _held(Point("this tree", 1000, 10000, "finished", dict(idle)))
    assert big == {"all pods Running": True, "no node NotReady": True, "5xx answers": True,
                   "control-plane RSS peak": True, "idle control-plane CPU": False}  # fmt: skip


def test_pss_counts_a_page_shared_with_a_child_as_half_of_it() -> None:
    """The control plane's forked workers share pages with the master: PSS splits them."""
    mine = _pss(os.getpid())
    assert 0 < mine <= _cpu_and_rss(os.getpid())[1]
    child = os.fork()
    if child == 0:
        signal.pause()
        os._exit(0)
    try:
        assert _pss(os.getpid()) < mine
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
    assert _pss(-1) == 0


def test_the_roles_of_the_control_planes_processes() -> None:
    """Its command is gunicorn's master; the process started with ``control.controllerprocess``
    runs the controllers; any other child is an API worker."""
    controllers = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)", "control.controllerprocess"]
    )
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        # Until a child has exec'd, its command line is still this process's.
        for child in (controllers, worker):
            deadline = time.monotonic() + 10
            while b"time.sleep" not in Path(f"/proc/{child.pid}/cmdline").read_bytes():
                assert time.monotonic() < deadline, "the child never started its command"
                time.sleep(0.01)
        root = os.getpid()
        assert role(root, root) == MASTER
        assert role(root, controllers.pid) == CONTROLLERS
        assert role(root, worker.pid) == API_WORKERS
    finally:
        for p in (controllers, worker):
            p.kill()
            p.wait()


def test_the_hosts_steal_is_read_from_the_cpu_line_of_proc_stat() -> None:
    stat = "cpu  100 5 30 800 10 0 5 50 7 0\ncpu0 50 2 15 400 5 0 2 25 3 0\n"
    assert cpu_ticks(stat) == (1000, 50)  # guest time (7) is in user already
    assert steal_pct((1000, 50), (3000, 250)) == 10.0
    assert steal_pct((1000, 50), (1000, 50)) is None  # no time went by
    with pytest.raises(ValueError):
        cpu_ticks("intr 1 2 3\n")
    assert cpu_ticks(Path("/proc/stat").read_text())[0] > 0
