"""bench/scale.py's options: hollow-node processes and latency pods by default."""

from __future__ import annotations

from pathlib import Path

from bench.scale import keep_logs, parse_args, settings, settle


def test_by_default_a_process_per_hundred_nodes_and_cl2s_latency_pods() -> None:
    args = parse_args(["--nodes", "100,1000"])
    small, big = settings(args, 100), settings(args, 1000)
    assert (small.procs, small.latency_pods, small.latency_rate) == (1, 500, 5.0)
    assert (big.procs, big.latency_pods, big.latency_rate) == (10, 1000, 5.0)


def test_the_options_override_the_defaults() -> None:
    args = parse_args(["--hollow-procs", "2", "--latency-pods", "20", "--latency-rate", "2"])
    s = settings(args, 500)
    assert (s.procs, s.latency_pods, s.latency_rate) == (2, 20, 2.0)
    assert settings(parse_args(["--latency-pods", "0"]), 100).latency_pods == 0


def test_a_quick_run_has_a_few_latency_pods() -> None:
    args = parse_args(["--quick"])
    assert (args.nodes, args.pods, args.no_before) == ("20", 200, True)
    assert settings(args, 20).latency_pods == 20


def test_by_default_a_namespace_per_hundred_nodes_as_cl2s_density() -> None:
    args = parse_args(["--nodes", "20,100,150,1000"])
    assert [settings(args, n).namespaces for n in (20, 100, 150, 1000)] == [1, 1, 2, 10]
    assert settings(parse_args(["--namespaces", "3"]), 1000).namespaces == 3


def test_kept_logs_are_copied_per_point_before_the_data_dir_goes(tmp_path: Path) -> None:
    assert settings(parse_args([]), 100).keep_logs is None
    into = tmp_path / "kept"
    assert settings(parse_args(["--keep-logs", str(into)]), 100).keep_logs == into
    data = tmp_path / "data"
    (data / "logs").mkdir(parents=True)
    (data / "logs" / "control.log").write_text("node-7: lease expired\n")
    kept = keep_logs(data, into, "this tree", 500)
    assert kept == into / "this-tree-500"
    assert (kept / "control.log").read_text() == "node-7: lease expired\n"


class _Nodes:
    """Hollow nodes reporting the work they have yet to do, one figure a look."""

    def __init__(self, *pending: int) -> None:
        self.left = list(pending)

    def pending(self) -> int:
        return self.left.pop(0) if len(self.left) > 1 else self.left[0]


def test_the_idle_window_waits_for_the_nodes_to_have_done_their_work() -> None:
    nodes = _Nodes(40, 3, 0, 5, 0)  # work done, then more (events of a late sync), then done
    waited = settle(nodes, cap=5.0, quiet=0.1, step=0.02)  # type: ignore[arg-type]
    assert waited is not None and waited >= 0.15  # quiet counted from the last look with work
    assert nodes.left == [0]


def test_nodes_that_never_finish_their_work_are_said_so() -> None:
    assert settle(_Nodes(1), cap=0.2, quiet=0.05, step=0.02) is None  # type: ignore[arg-type]
