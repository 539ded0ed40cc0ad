"""Scale with hollow nodes, as kubemark: N nodes run by the agent's own code over a fake runtime
in K processes of their own (``--hollow-procs``, one per 100 nodes by default), against a real
``tinykube up --agents 0``; M plain pods, spread over namespaces, created at a fixed rate; then
latency pods, one at a time, as ClusterLoader2's density test; the same run against the control
plane of an earlier commit.

For each N (default 100, 500, 1000; 10 pods per node) it starts a fresh cluster, registers the
hollow nodes (``bench/_hollow.py``: registration, lease, node status, pod watch, sync loop, pod
status and events, all the agent's code; the fake runtime runs no container; in child processes,
``bench/_hollowprocs.py``, that report back live), waits for every node Ready, creates the
saturation pods at --rate a second (or as fast as the server answers, 32 at once) until every
one is reported Running, then the latency pods at --latency-rate a second (CL2: max(500, N) at
5/s), then, once the nodes have done their work (the events of the pods they run, sent at
their low priority, may come long after), runs for --idle seconds with nothing changing.

Figures, from the first create to the last saturation pod Running:
- creates/s, binds/s: pods created (answered) and seen bound by a watch of all pods, per second
  since the first create was sent; all pods Running: until the last node reported its pod.
- saturation pods startup p50/p99: creationTimestamp (it has a second's resolution, so the
  moment the create was sent stands for it, which counts the create's own round trip too) to
  the answer to the node's status write saying phase Running. Latency pods startup p50/p99:
  the same for the latency pods, created into the full cluster; Kubernetes' pod startup SLO
  (p99 <= 5 s) is measured on these, and so is the target.
- GET of a random created pod (every 50 ms) and LIST of all pods (5 s apart), timed by a
  process of the harness that does nothing else (``bench/_sampler.py``: timed in the busy main
  process, a call also waited for its GIL), which still shares the cores with everything else;
  the GETs' p99 also apart, those sent while pods were still being created (200/s, every
  process busy) and those sent after the last create (the nodes starting their pods); and GET
  pod p99 as the server timed every GET of a pod (``apiserver_request_duration_seconds``, to
  its bucket's bound).
- lease renewal p99 and failed renewals (the agent's LeaseKeeper, as timed by the hollow
  nodes), the lowest count of Ready nodes (a watch of nodes), pods evicted (any pod deleted:
  the benchmark deletes none), 5xx answers to any client of the harness or its nodes.
- control plane: its processes (the ``control`` command and all it started: API workers,
  controller process) from /proc: RSS peak, PSS peak (RSS counts the pages the forked workers
  share with the master once in each), CPU seconds, CPU share of one core when idle (with the
  lease renewals/s then, and how long after the last pod Running the nodes had done their
  work); Redis ``used_memory``.
- the harness's own CPU seconds (this process and every hollow-node process): what it took from
  the cores the control plane also runs on; the lag of the nodes' timers says when they fell
  behind. Below the table, each point's targets (the scale table's row for its N): missed, held.
- the machine: the share of the cores' time its host gave to something else while the pods were
  created (steal, ``/proc/stat``). A virtual machine whose host is busy runs the same work
  slower, and the control plane's CPU seconds for the same work say so too: runs are compared
  within a run (the "before" column) or on a machine whose figures agree.

The "before" column installs --before-commit in a venv of its own (``bench/_before.py``) and runs
the same points against it, each capped at --before-cap seconds; a point that does not finish
says how far it got. Needs no Docker. Raises the open-file limit to its hard limit (inherited by
the cluster it starts).
Usage: python bench/scale.py [--nodes 100,500,1000] [--pods-per-node 10] [--rate 200]
       [--hollow-procs K] [--latency-pods M] [--latency-rate 5]
       [--before-commit 837c272 | --no-before] [--before-cap 300] [--keep-logs DIR] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import _before
from bench._cluster import BIN, cluster
from bench._creator import LATENCY_RATE, Creator, default_namespaces, latency_pods
from bench._hollow import token_rows
from bench._hollowprocs import HollowProcs, Pools, default_procs
from bench._observe import (
    API_WORKERS,
    CONTROLLERS,
    MASTER,
    Answers,
    ControlPlane,
    NodeWatch,
    PodWatch,
    SamplerProcess,
    redis_used_memory,
    server_buckets,
)
from bench._scalestats import (
    Point,
    Progress,
    bucket_pct,
    cpu_ticks,
    format_table,
    pct,
    rate,
    startups,
    steal_pct,
    verdict,
)
from common import errors
from common.client import ApiClient
from common.resources import must

NAMESPACES = must("namespaces")
# The hollow nodes stand for machines of their own (kubemark runs them on other machines than the
# control plane's): on the same cores, they take the CPU the control plane leaves. Without it, at
# 500 nodes their 3,000 threads took 1.6 cores and left the control plane a tenth of one. The
# lowest priority there is: each hollow-node process has a session of its own (autogroup), and at
# niceness 10 the ten sessions of 1,000 nodes weighed as much as the control plane's one.
HOLLOW_NICE = 19
# The idle window starts once the nodes have had nothing to do for SETTLED seconds, or after
# SETTLE_CAP seconds (then they never settled: the table says so).
SETTLED, SETTLE_CAP = 2.0, 300.0


@dataclass(frozen=True)
class Settings:
    pods_per_node: int
    rate: float
    namespaces: int
    idle: float
    pools: Pools
    nice: int
    procs: int
    latency_pods: int
    latency_rate: float
    verbose: bool
    keep_logs: Path | None = None


def keep_logs(data: Path, into: Path, plane: str, nodes: int) -> Path:
    """Copy a point's control-plane logs (its data dir's ``logs``) to ``into/<plane>-<N>`` before
    the cluster and its data dir go away; the copy's directory."""
    dest = into / f"{plane.replace(' ', '-')}-{nodes}"
    shutil.copytree(data / "logs", dest, dirs_exist_ok=True)
    return dest


def wait_until(done: Callable[[], bool], deadline: float) -> None:
    while not done() and time.monotonic() < deadline:
        time.sleep(0.2)


def run_point(plane: str, bin_dir: Path, nodes: int, s: Settings, cap: float | None) -> Point:
    pods = nodes * s.pods_per_node
    point = Point(plane, nodes, pods)
    token = secrets.token_hex(16)

    def seed(data: Path) -> None:
        (data / "tokens.csv").write_text(token_rows(nodes, token))

    print(f"-- {point.title}: {pods} pods, starting the cluster", file=sys.stderr, flush=True)
    try:
        with cluster(0, bin_dir=bin_dir, seed=seed) as (admin, data):
            try:
                measure(point, admin, data, token, s, cap)
            finally:
                if s.keep_logs is not None:
                    kept = keep_logs(data, s.keep_logs, plane, nodes)
                    print(f"   control-plane logs kept in {kept}", file=sys.stderr, flush=True)
    except subprocess.CalledProcessError as e:
        point.outcome = f"did not finish: the cluster did not come up ({e.stderr!r:.200})"
    except errors.ApiError as e:  # the benchmark's own setup calls (namespaces) failed
        point.outcome = f"did not finish: {e}"
    print(f"-- {point.title}: {point.outcome}", file=sys.stderr, flush=True)
    return point


def measure(
    point: Point, admin: ApiClient, data: Path, token: str, s: Settings, cap: float | None
) -> None:
    state = json.loads((data / "state.json").read_text())
    verify = admin.session.verify
    ca = verify if isinstance(verify, str) else None
    answers = Answers()
    answers.hook(admin)
    plane = ControlPlane(int(state["processes"]["control"]))
    pod_watch = PodWatch(answers.hook(admin.with_timeout(400)))
    node_watch = NodeWatch(answers.hook(admin.with_timeout(400)))
    hollow = HollowProcs(admin.server, ca, token, point.nodes, procs=s.procs, nice=s.nice,
                         pools=s.pools, verbose=s.verbose)  # fmt: skip
    keys = [f"bench-{i % s.namespaces}/pod-{i}" for i in range(point.pods)]
    creator = Creator(admin, keys, s.rate)
    slow = [f"bench-{i % s.namespaces}/latency-{i}" for i in range(s.latency_pods)]
    latency = Creator(admin, slow, s.latency_rate, group="latency")
    sampler: SamplerProcess | None = None
    t0 = time.monotonic()
    deadline = t0 + cap if cap is not None else float("inf")

    def progress() -> Progress:
        running = hollow.running()
        return Progress(point.nodes, point.pods, len(node_watch.ready), len(creator.created),
                        sum(1 for k in keys if k in pod_watch.bound),
                        sum(1 for k in keys if k in running),
                        len(slow), sum(1 for k in slow if k in running))  # fmt: skip

    def until(done: Callable[[Progress], bool]) -> None:
        wait_until(lambda: done(progress()) or hollow.failure() is not None, deadline)

    try:
        for i in range(s.namespaces):
            admin.create(NAMESPACES, {"metadata": {"name": f"bench-{i}"}})
        hollow.start(deadline)
        until(lambda p: p.nodes_ready >= p.nodes)
        begin = snapshot(plane, hollow)
        if progress().nodes_ready >= point.nodes:
            node_watch.arm()  # the fewest Ready from here on; "-" if they never all were
            print(f"   {point.nodes} nodes Ready after {time.monotonic() - t0:.0f} s; creating",
                  file=sys.stderr, flush=True)  # fmt: skip
            sampler = SamplerProcess(admin, lambda: list(creator.created), answers)
            threading.Thread(target=creator.run, daemon=True).start()
            until(lambda p: p.running >= p.pods)
        end = snapshot(plane, hollow, sampler)
        creator.stop.set()
        if sampler is not None:
            sampler.finish()
        figures = point.figures
        figures.update(window_figures(begin, end, creator, pod_watch, hollow, sampler))
        if progress().running >= point.pods and slow:
            print(f"   all Running after {time.monotonic() - t0:.0f} s; {len(slow)} latency "
                  f"pods at {s.latency_rate:g}/s", file=sys.stderr, flush=True)  # fmt: skip
            threading.Thread(target=latency.run, daemon=True).start()
            until(lambda p: p.latency_running >= p.latency)
        figures.update(latency_figures(latency, hollow.running()))
        point.outcome = verdict(progress(), time.monotonic() - t0, cap, hollow.failure())
        latency.stop.set()
        figures.update(health_figures(admin, answers, hollow, node_watch, pod_watch))
        figures["cp_processes"] = end["processes"]
        figures["cp_rss_mb"] = max(plane.peak_rss, end["rss"]) / 2**20
        figures["cp_pss_mb"] = plane.peak_pss / 2**20
        for key, name in (("master_rss_mb", MASTER), ("workers_rss_mb", API_WORKERS),
                          ("controllers_rss_mb", CONTROLLERS)):  # fmt: skip
            figures[key] = plane.peak_by_role.get(name, 0) / 2**20
        if point.outcome == "finished" and s.idle > 0:
            figures.update(idle_figures(plane, hollow, s.idle))
        used = redis_used_memory(data, int(state["redis_port"]))
        figures["redis_mb"] = None if used is None else used / 2**20
    finally:
        creator.stop.set()
        latency.stop.set()
        hollow.stop_all()
        pod_watch.stop.set()
        node_watch.stop.set()
        plane.stop.set()
        if sampler is not None:
            with contextlib.suppress(Exception):  # a point that failed: its figures are lost
                sampler.finish()


def snapshot(
    plane: ControlPlane, hollow: HollowProcs, sampler: SamplerProcess | None = None
) -> dict[str, Any]:
    processes, cpu, rss = plane.now()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    own = usage.ru_utime + usage.ru_stime + hollow.cpu_seconds()
    if sampler is not None:
        own += sampler.cpu_seconds()
    return {"t": time.monotonic(), "processes": processes, "cpu": cpu, "rss": rss,
            "self": own, "ticks": cpu_ticks(Path("/proc/stat").read_text())}  # fmt: skip


def window_figures(
    begin: dict[str, Any],
    end: dict[str, Any],
    creator: Creator,
    pod_watch: PodWatch,
    hollow: HollowProcs,
    sampler: SamplerProcess | None,
) -> dict[str, float | None]:
    """The figures of the run from the first create to the last saturation pod Running (or the
    cap); of a point that did not finish, those of the pods that got so far."""
    t0, t1, keys = creator.started, end["t"], creator.keys
    created = dict(creator.created)
    running = {k: t for k, t in hollow.running().items() if k in created}
    bound = list(pod_watch.bound.values())
    startup = startups(dict(creator.sent), running)
    ticks = [t for t in hollow.ticks if begin["t"] <= t.start <= t1]
    lease = [t.seconds for t in ticks if t.loop == "lease" and not t.failed]
    get = sampler.get if sampler else []
    lst = sampler.list if sampler else []
    # Sent while pods were still being created, and after (the pods' startup only).
    last_create = max(created.values(), default=t0)
    timed = list(zip(sampler.get_at, get, strict=True)) if sampler else []
    creating = [s for at, s in timed if at <= last_create]
    after = [s for at, s in timed if at > last_create]
    out: dict[str, float | None] = {
        "creates_per_s": rate(len(created), last_create - t0),
        "binds_per_s": rate(len(bound), max(bound, default=t0) - t0),
        "all_running_s": max(running.values()) - t0 if len(running) >= len(keys) else None,
        "startup_p50_s": pct(startup, 50),
        "startup_p99_s": pct(startup, 99),
        "get_p50_ms": _scale(pct(get, 50), 1000),
        "get_p99_ms": _scale(pct(get, 99), 1000),
        "get_p99_creating_ms": _scale(pct(creating, 99), 1000),
        "get_p99_after_ms": _scale(pct(after, 99), 1000),
        "list_p50_s": pct(lst, 50),
        "list_p99_s": pct(lst, 99),
        "lease_p99_ms": _scale(pct(lease, 99), 1000),
        "cp_cpu_s": end["cpu"] - begin["cpu"],
        "steal_pct": steal_pct(begin["ticks"], end["ticks"]),
        "harness_cpu_s": end["self"] - begin["self"],
        "hollow_procs": len(hollow.children),
        "timer_lag_p99_s": pct([t.start - t.due for t in ticks], 99),
    }
    if not created:  # the run stopped before it created anything
        out["cp_cpu_s"] = out["harness_cpu_s"] = None
    return out


def latency_figures(latency: Creator, running: dict[str, float]) -> dict[str, float | None]:
    """Pod startup of the latency pods: Kubernetes' SLO figure, as ClusterLoader2 measures it."""
    startup = startups(dict(latency.sent), running)
    return {"latency_pods": len(startup) if latency.created else None,
            "latency_p50_s": pct(startup, 50), "latency_p99_s": pct(startup, 99)}  # fmt: skip


def health_figures(
    admin: ApiClient, answers: Answers, hollow: HollowProcs, nodes: NodeWatch, pods: PodWatch
) -> dict[str, float | None]:
    """Over the whole point: the fewest Ready nodes, pods evicted, 5xx answers to the harness
    and to every hollow node (printed by kind with the server's first message), lease failures."""
    with hollow.lock:
        by_kind = answers.by_kind + hollow.inbox.by_kind
        messages = {**hollow.inbox.first_message, **answers.first_message}
    if by_kind:
        print(f"   5xx answers: {dict(by_kind.most_common())}", file=sys.stderr)
        for kind, message in messages.items():
            print(f"     {kind}: {message}", file=sys.stderr)
    lease = bucket_pct(server_buckets(admin, "PUT", "leases"), 99)
    get = bucket_pct(server_buckets(admin, "GET", "pods"), 99)
    return {
        "lowest_ready": nodes.lowest,
        "evictions": len(pods.deleted),
        "answers_5xx": sum(by_kind.values()),
        "server_lease_p99_ms": _scale(lease, 1000),
        "server_get_p99_ms": _scale(get, 1000),
        "lease_failures": sum(1 for t in hollow.ticks if t.failed and t.loop == "lease"),
        "hollow_threads": hollow.inbox.threads_peak,
    }


def _scale(value: float | None, by: float) -> float | None:
    return None if value is None else value * by


def settle(
    hollow: HollowProcs, cap: float = SETTLE_CAP, quiet: float = SETTLED, step: float = 0.25
) -> float | None:
    """Wait until the nodes have no work left (no pod sync queued, no event waiting to be sent,
    for ``quiet`` seconds): at a low priority they may still be posting the events of the pods
    they run long after the last pod is Running. The seconds waited; None after ``cap``."""
    t0 = since = time.monotonic()
    while (now := time.monotonic()) - t0 < cap:
        if hollow.pending():
            since = now
        elif now - since >= quiet:
            return now - t0
        time.sleep(step)
    return None


def idle_figures(
    plane: ControlPlane, hollow: HollowProcs, seconds: float
) -> dict[str, float | None]:
    """Nothing changing but heartbeats, once the nodes have done their work (``settle``): the
    control plane's share of one core, and the lease renewals a second the nodes make
    meanwhile."""
    settled = settle(hollow)
    begin = snapshot(plane, hollow)
    time.sleep(seconds)
    end = snapshot(plane, hollow)
    renewals = sum(1 for t in hollow.ticks
                   if t.loop == "lease" and begin["t"] <= t.start < end["t"])  # fmt: skip
    elapsed = end["t"] - begin["t"]
    return {"cp_idle_cpu_pct": 100 * (end["cpu"] - begin["cpu"]) / elapsed,
            "idle_renewals_per_s": renewals / elapsed, "settle_s": settled}  # fmt: skip


def raise_open_files() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--nodes", default="100,500,1000", help="comma-separated node counts")
    p.add_argument("--pods-per-node", type=int, default=10)
    p.add_argument("--pods", type=int, help="pods per point (default: nodes x pods-per-node)")
    p.add_argument("--rate", type=float, default=200.0, help="creates a second at most")
    p.add_argument("--namespaces", type=int, default=0,
                   help="the pods are spread over them (0: one per 100 nodes, as CL2)")  # fmt: skip
    p.add_argument("--before-commit", default="837c272")
    p.add_argument("--no-before", action="store_true", help="skip the earlier control plane")
    p.add_argument("--before-dir", type=Path, help="install the earlier commit here (kept)")
    p.add_argument("--before-cap", type=float, default=300.0, metavar="S",
                   help="seconds a 'before' point may run (registration included)")  # fmt: skip
    p.add_argument("--cap", type=float, default=900.0, metavar="S",
                   help="the same for this tree's points")  # fmt: skip
    p.add_argument("--idle", type=float, default=60.0, metavar="S",
                   help="seconds of idle cluster measured once the nodes have done their work "
                        "after all pods Running")  # fmt: skip
    p.add_argument("--workers", type=int, default=0,
                   help="shared pod workers, all processes together (0: auto)")  # fmt: skip
    p.add_argument("--timer-threads", type=int, default=0,
                   help="for periodic loops, all processes together (0: auto)")  # fmt: skip
    p.add_argument("--senders", type=int, default=0,
                   help="event senders, all processes together (0: auto)")  # fmt: skip
    p.add_argument("--hollow-nice", type=int, default=HOLLOW_NICE, metavar="N",
                   help="niceness of the hollow nodes' threads and sessions (default "
                   "%(default)s; 0: as the control plane)")  # fmt: skip
    p.add_argument("--hollow-procs", type=int, default=0, metavar="K",
                   help="processes the hollow nodes run in (0: one per 100 nodes)")  # fmt: skip
    p.add_argument("--latency-pods", type=int, metavar="M",
                   help="pods created one by one once all are Running, whose startup is the "
                   "SLO figure (default: max(500, nodes), as ClusterLoader2's density "
                   "test)")  # fmt: skip
    p.add_argument("--latency-rate", type=float, default=LATENCY_RATE, metavar="R",
                   help="latency pods created a second (default %(default)g, CL2's)")  # fmt: skip
    p.add_argument("--quick", action="store_true",
                   help="smoke run: N=20, 200 pods, 20 latency pods, no before, "
                   "3 s idle")  # fmt: skip
    p.add_argument("-v", "--verbose", action="store_true", help="the agents' warnings too")
    p.add_argument("--keep-logs", type=Path, metavar="DIR",
                   help="copy each point's control-plane logs to DIR/<plane>-<N> before its "
                   "cluster goes down")  # fmt: skip
    args = p.parse_args(argv)
    if args.quick:
        args.nodes, args.pods, args.no_before, args.idle = "20", 200, True, 3.0
        args.latency_pods = 20 if args.latency_pods is None else args.latency_pods
    return args


def settings(args: argparse.Namespace, nodes: int) -> Settings:
    per_node = args.pods // nodes if args.pods else args.pods_per_node
    return Settings(
        pods_per_node=max(1, per_node),
        rate=args.rate,
        namespaces=args.namespaces or default_namespaces(nodes),
        idle=args.idle,
        pools=Pools(args.workers, args.timer_threads, args.senders),
        nice=args.hollow_nice,
        procs=args.hollow_procs or default_procs(nodes),
        latency_pods=latency_pods(nodes) if args.latency_pods is None else args.latency_pods,
        latency_rate=args.latency_rate,
        verbose=args.verbose,
        keep_logs=args.keep_logs,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # A SIGTERM (a time limit) stops the run as Ctrl-C does: the hollow-node processes and the
    # cluster are stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    logging.basicConfig(level=logging.WARNING if args.verbose else logging.ERROR,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")  # fmt: skip
    files = raise_open_files()
    sizes = [int(n) for n in args.nodes.split(",")]
    before_bin: Path | None = None
    keep: tempfile.TemporaryDirectory[str] | None = None
    if not args.no_before:
        if args.before_dir is None:
            keep = tempfile.TemporaryDirectory(prefix="tinykube-before-")
        where = args.before_dir or Path(keep.name)  # type: ignore[union-attr]
        print(f"-- installing {args.before_commit} in {where}", file=sys.stderr, flush=True)
        before_bin = _before.install(args.before_commit, where)
    points: list[Point] = []
    try:
        for nodes in sizes:
            s = settings(args, nodes)
            points.append(run_point("this tree", BIN, nodes, s, args.cap))
            if before_bin is not None:
                points.append(run_point(args.before_commit, before_bin, nodes, s, args.before_cap))
            print(format_table(points), file=sys.stderr, flush=True)
    finally:
        if keep is not None:
            keep.cleanup()
    s = settings(args, sizes[-1])
    print(f"hollow nodes: {s.pods_per_node} pods per node, plain pods over {s.namespaces} "
          f"namespaces created at {s.rate:.0f}/s at most; open files {files}; hollow nodes' "
          f"niceness {s.nice}, in {s.procs} processes; {s.latency_pods} latency pods at "
          f"{s.latency_rate:g}/s; before: "
          f"{'none' if before_bin is None else args.before_commit}, capped at "
          f"{args.before_cap:g} s; this tree capped at {args.cap:g} s")  # fmt: skip
    print(format_table(points))
    return 0


if __name__ == "__main__":
    sys.exit(main())
