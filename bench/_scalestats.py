"""The figures of ``bench/scale.py`` and how they are printed: percentiles, what a point reached
and whether it finished within its cap, and the table with one column per point (nodes, control
plane). Pure: no I/O, no clock."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

# (key, row label, format of the value); a missing value prints as "-".
ROWS: tuple[tuple[str, str, str], ...] = (
    ("creates_per_s", "creates/s", "{:.1f}"),
    ("binds_per_s", "binds/s", "{:.1f}"),
    ("all_running_s", "all pods Running (s)", "{:.1f}"),
    ("startup_p50_s", "pod startup p50 (s)", "{:.2f}"),
    ("startup_p99_s", "pod startup p99 (s)", "{:.2f}"),
    ("get_p50_ms", "GET pod p50 (ms)", "{:.0f}"),
    ("get_p99_ms", "GET pod p99 (ms)", "{:.0f}"),
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
    ("cp_cpu_s", "control-plane CPU (s)", "{:.1f}"),
    ("cp_idle_cpu_pct", "idle control-plane CPU (% core)", "{:.0f}"),
    ("idle_renewals_per_s", "lease renewals/s when idle", "{:.0f}"),
    ("redis_mb", "Redis used_memory (MB)", "{:.1f}"),
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


def rate(count: int, seconds: float) -> float | None:
    return count / seconds if count and seconds > 0 else None


@dataclass(frozen=True)
class Progress:
    """How far a point got: nodes Ready out of those asked, pods created, bound and Running."""

    nodes: int
    pods: int
    nodes_ready: int = 0
    created: int = 0
    bound: int = 0
    running: int = 0

    @property
    def finished(self) -> bool:
        return self.nodes_ready >= self.nodes and self.running >= self.pods

    def reached(self) -> str:
        if self.nodes_ready < self.nodes and not self.created:
            return f"{self.nodes_ready}/{self.nodes} nodes Ready"
        return f"{self.created}/{self.pods} created, {self.bound} bound, {self.running} Running"


def over_cap(elapsed: float, cap: float | None) -> bool:
    """A point with a cap stops once it has run that long; without a cap it runs to the end."""
    return cap is not None and elapsed >= cap


def verdict(progress: Progress, elapsed: float, cap: float | None) -> str:
    """Either "finished", or "did not finish" with what the point reached and when it stopped."""
    if progress.finished:
        return "finished"
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
    return "\n".join(lines)
