"""The figures of ``bench/scale.py`` and how they are printed: percentiles, what a point reached
and whether it finished within its cap, and the table with one column per point (nodes, control
plane). Pure: no I/O, no clock."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

# (key, row label, format of the value); a missing value prints as "-".
ROWS: tuple[tuple[str, str, str], ...] = (
    ("creates_per_s", "creates/s", "{:.1f}"),
    ("binds_per_s", "binds/s", "{:.1f}"),
    ("all_running_s", "all pods Running (s)", "{:.1f}"),
    ("startup_p50_s", "saturation pods startup p50 (s)", "{:.2f}"),
    ("startup_p99_s", "saturation pods startup p99 (s)", "{:.2f}"),
    ("latency_pods", "latency pods", "{:.0f}"),
    ("latency_p50_s", "latency pods startup p50 (s)", "{:.2f}"),
    ("latency_p99_s", "latency pods startup p99 (s)", "{:.2f}"),
    ("get_p50_ms", "GET pod p50 (ms)", "{:.0f}"),
    ("get_p99_ms", "GET pod p99 (ms)", "{:.0f}"),
    ("get_p99_creating_ms", "GET pod p99 while creating (ms)", "{:.0f}"),
    ("get_p99_after_ms", "GET pod p99 after the creates (ms)", "{:.0f}"),
    ("server_get_p99_ms", "GET pod p99 at the server (ms)", "{:.0f}"),
    ("list_p50_s", "LIST all pods p50 (s)", "{:.2f}"),
    ("list_p99_s", "LIST all pods p99 (s)", "{:.2f}"),
    ("lease_p99_ms", "lease renewal p99 (ms)", "{:.0f}"),
    ("server_lease_p99_ms", "lease p99 at the server (ms)", "{:.0f}"),
    ("lease_failures", "lease renewals failed", "{:.0f}"),
    ("lowest_ready", "lowest Ready node count", "{:.0f}"),
    ("evictions", "pods evicted", "{:.0f}"),
    ("answers_5xx", "5xx answers", "{:.0f}"),
    ("cp_processes", "control-plane processes", "{:.0f}"),
    ("cp_rss_mb", "control-plane RSS peak (MB)", "{:.0f}"),
    ("cp_pss_mb", "control-plane PSS peak (MB)", "{:.0f}"),
    ("master_rss_mb", "RSS peak: gunicorn master (MB)", "{:.0f}"),
    ("workers_rss_mb", "RSS peak: API workers (MB)", "{:.0f}"),
    ("controllers_rss_mb", "RSS peak: controllers (MB)", "{:.0f}"),
    ("cp_cpu_s", "control-plane CPU (s)", "{:.1f}"),
    ("steal_pct", "CPU stolen by the host (%)", "{:.1f}"),
    ("settle_s", "nodes' work done after (s)", "{:.0f}"),
    ("cp_idle_cpu_pct", "idle control-plane CPU (% core)", "{:.0f}"),
    ("idle_renewals_per_s", "lease renewals/s when idle", "{:.0f}"),
    ("redis_mb", "Redis used_memory (MB)", "{:.1f}"),
    ("hollow_procs", "hollow-node processes", "{:.0f}"),
    ("hollow_threads", "hollow process threads, peak", "{:.0f}"),
    ("harness_cpu_s", "hollow nodes + harness CPU (s)", "{:.1f}"),
    ("timer_lag_p99_s", "harness timer lag p99 (s)", "{:.2f}"),
)
LABEL_WIDTH = 34
COLUMN_WIDTH = 16


def bucket_pct(buckets: Sequence[tuple[float, float]], p: float) -> float | None:
    """The upper bound of the histogram bucket holding the p-th percentile, from a Prometheus
    histogram's cumulative ``(le, count)`` pairs; None when it counted nothing."""
    ordered = sorted(buckets)
    total = ordered[-1][1] if ordered else 0
    if not total:
        return None
    return next(le for le, count in ordered if count >= total * p / 100)


def pct(values: Sequence[float], p: float) -> float | None:
    """The p-th percentile by nearest rank (as the other benchmarks), None without values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def cpu_ticks(stat: str) -> tuple[int, int]:
    """The cores' time so far and the part of it the host ran something else (steal), in
    ticks, from the ``cpu`` line of ``/proc/stat``: user, nice, system, idle, iowait, irq,
    softirq, steal (guest time is counted in user already)."""
    fields = stat.split("\n", 1)[0].split()
    if not fields or fields[0] != "cpu" or len(fields) < 9:
        raise ValueError(f"not the cpu line of /proc/stat: {stat[:60]!r}")
    ticks = [int(v) for v in fields[1:9]]
    return sum(ticks), ticks[7]


def steal_pct(begin: tuple[int, int], end: tuple[int, int]) -> float | None:
    """The share of the cores' time between two ``cpu_ticks`` readings the host gave to
    something else: a machine whose host is busy runs the same work slower."""
    total = end[0] - begin[0]
    return 100 * (end[1] - begin[1]) / total if total > 0 else None


def rate(count: int, seconds: float) -> float | None:
    return count / seconds if count and seconds > 0 else None


def startups(sent: Mapping[str, float], running: Mapping[str, float]) -> list[float]:
    """Seconds from each pod's create (when it was sent) to its node's status write saying
    Running, for the pods both created (by the one creator ``sent`` comes from) and seen
    Running."""
    return [running[k] - t for k, t in sent.items() if k in running]


@dataclass(frozen=True)
class Progress:
    """How far a point got: nodes Ready out of those asked, pods created, bound and Running."""

    nodes: int
    pods: int
    nodes_ready: int = 0
    created: int = 0
    bound: int = 0
    running: int = 0
    latency: int = 0  # latency pods asked for, created once every saturation pod is Running
    latency_running: int = 0

    @property
    def finished(self) -> bool:
        return (
            self.nodes_ready >= self.nodes
            and self.running >= self.pods
            and self.latency_running >= self.latency
        )

    def reached(self) -> str:
        if self.nodes_ready < self.nodes and not self.created:
            return f"{self.nodes_ready}/{self.nodes} nodes Ready"
        out = f"{self.created}/{self.pods} created, {self.bound} bound, {self.running} Running"
        if self.latency and self.running >= self.pods:
            out += f"; latency pods {self.latency_running}/{self.latency} Running"
        return out


def over_cap(elapsed: float, cap: float | None) -> bool:
    """A point with a cap stops once it has run that long; without a cap it runs to the end."""
    return cap is not None and elapsed >= cap


def verdict(
    progress: Progress, elapsed: float, cap: float | None, failure: str | None = None
) -> str:
    """Either "finished", or "did not finish" with what the point reached and when it stopped
    (and why, when the hollow nodes failed: ``failure``)."""
    if progress.finished:
        return "finished"
    if failure:
        return f"did not finish: {failure}; {progress.reached()} after {elapsed:.0f} s"
    if over_cap(elapsed, cap):
        return f"did not finish: {progress.reached()} after the {cap:g} s cap"
    return f"did not finish: {progress.reached()} after {elapsed:.0f} s"


@dataclass
class Point:
    """One run: N hollow nodes, M pods, against one control plane (this tree or before)."""

    plane: str
    nodes: int
    pods: int
    outcome: str = ""
    figures: dict[str, float | None] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return f"{self.plane} N={self.nodes}"


def cell(value: float | None, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


def format_table(points: Sequence[Point]) -> str:
    """Rows of figures, a column per point; the outcome of each point below the table, since a
    "did not finish" says more than a column can hold."""

    def row(label: str, cells: list[str]) -> str:
        return f"{label:<{LABEL_WIDTH}}" + "".join(f"{c:>{COLUMN_WIDTH}}" for c in cells)

    lines = [
        row("", [p.title for p in points]),
        row("pods", [str(p.pods) for p in points]),
        row("finished", ["yes" if p.outcome == "finished" else "NO" for p in points]),
    ]
    for key, label, fmt in ROWS:
        lines.append(row(label, [cell(p.figures.get(key), fmt) for p in points]))
    for p in points:
        lines.append(f"{p.title}: {p.outcome or 'not run'}")
    lines += [format_targets(p) for p in points if p.outcome]
    return "\n".join(lines)


# The targets of the scale table (issue: 100 and 500 nodes, then 1,000), as (figure, bound,
# what it says). Pod startup is Kubernetes' SLO, measured as ClusterLoader2's density test does:
# on the latency pods, created slowly into the full cluster, not on the saturation pods.
SLO_STARTUP_S = 5.0


def target_checks(point: Point) -> list[tuple[str, bool | None]]:
    """Each target of the scale table for the point's node count: held (True), missed (False)
    or not measured (None), with what it says and the figure."""
    f = point.figures
    checks: list[tuple[str, bool | None]] = [("all pods Running", point.outcome == "finished")]

    def most(key: str, bound: float, what: str, fmt: str = "{:.2f}") -> None:
        value = f.get(key)
        checks.append((f"{what} <= {bound:g} ({cell(value, fmt)})",
                       None if value is None else value <= bound))  # fmt: skip

    def none_of(key: str, what: str) -> None:
        most(key, 0, what, "{:.0f}")

    if point.nodes < 1000:
        creates, binds = f.get("creates_per_s"), f.get("binds_per_s")
        ok = None if creates is None or binds is None else binds >= max(0.9 * creates, 100.0)
        checks.append((f"binds/s >= 0.9 x creates/s and >= 100 ({cell(binds, '{:.1f}')} vs "
                       f"{cell(creates, '{:.1f}')})", ok))  # fmt: skip
        most("latency_p99_s", SLO_STARTUP_S, "latency pods startup p99 (s)")
        none_of("lease_failures", "lease renewals failed")
    lowest = f.get("lowest_ready")
    checks.append((f"no node NotReady (lowest Ready {cell(lowest, '{:.0f}')}/{point.nodes})",
                   None if lowest is None else lowest >= point.nodes))  # fmt: skip
    if point.nodes < 1000:
        none_of("evictions", "pods evicted")
    none_of("answers_5xx", "5xx answers")
    if 500 <= point.nodes < 1000:
        most("get_p99_ms", 100, "GET pod p99 (ms)", "{:.0f}")
        most("list_p99_s", 2, "LIST all pods p99 (s)")
    if point.nodes >= 1000:
        most("cp_rss_mb", 1024, "control-plane RSS peak (MB)", "{:.0f}")
        most("cp_idle_cpu_pct", 30, "idle control-plane CPU (% core)", "{:.0f}")
    return checks


def format_targets(point: Point) -> str:
    """One line per point: the targets missed and those not measured, else that all held; the
    saturation pods' startup beside, since it is not the SLO's figure."""
    checks = target_checks(point)
    missed = [what for what, ok in checks if ok is False]
    unknown = [what for what, ok in checks if ok is None]
    head = f"{point.title} targets: " + ("MISSED " + "; ".join(missed) if missed else "all held"
                                        if not unknown else "none missed")  # fmt: skip
    if unknown:
        head += " (not measured: " + "; ".join(unknown) + ")"
    sat = point.figures.get("startup_p99_s")
    return head + f"; saturation pods startup p99 {cell(sat, '{:.2f}')} s (not the SLO's figure)"
