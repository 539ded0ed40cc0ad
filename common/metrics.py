"""Prometheus metrics of every tinykube process, with Kubernetes' names where one exists
(apiserver_*, workqueue_*, scheduler_*, kubelet_*), and their text exposition for ``/metrics``.

Each process has one registry, with the process collector (``process_resident_memory_bytes``,
``process_cpu_seconds_total``). When ``PROMETHEUS_MULTIPROC_DIR`` is set before this module is
imported (the API server with several worker processes), values live in files there and the
exposition sums them over the live processes, as prometheus-client's multiprocess mode does."""

from __future__ import annotations

import os
import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess
from prometheus_client import values as _values

from common import processid

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

REGISTRY = CollectorRegistry(auto_describe=True)
if not os.environ.get(MULTIPROC_ENV):
    ProcessCollector(registry=REGISTRY)
else:
    # Each value checks on each update whether the process forked (its file is per process):
    # with the id kept across forks, not asked of the kernel every time. Set before any
    # metric exists, this module's being the only ones.
    _values.ValueClass = _values.MultiProcessValue(  # type: ignore[no-untyped-call]
        process_identifier=processid.pid
    )

REQUEST_BUCKETS = (0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3,
                   4, 5, 6, 8, 10, 15, 20, 30, 45, 60)  # fmt: skip
POD_START_BUCKETS = (0.5, 1, 2, 3, 4, 5, 6, 8, 10, 20, 30, 45, 60, 120, 180, 240, 300, 360,
                     480, 600, 900, 1200, 1800, 2700, 3600)  # fmt: skip


# kube-apiserver (staging/src/k8s.io/apiserver/pkg/endpoints/metrics/metrics.go).
REQUEST_LABELS = ("verb", "dry_run", "group", "version", "resource", "subresource", "scope")
APISERVER_REQUESTS = Counter(
    "apiserver_request_total",
    "Counter of apiserver requests broken out for each verb, dry run value, group, version, "
    "resource, scope, component, and HTTP response code.",
    (*REQUEST_LABELS, "component", "code"),
    registry=REGISTRY,
)
APISERVER_REQUEST_DURATION = Histogram(
    "apiserver_request_duration_seconds",
    "Response latency distribution in seconds for each verb, dry run value, group, version, "
    "resource, subresource, scope and component.",
    (*REQUEST_LABELS, "component"),
    buckets=REQUEST_BUCKETS,
    registry=REGISTRY,
)
APISERVER_LONGRUNNING = Gauge(
    "apiserver_longrunning_requests",
    "Gauge of all active long-running apiserver requests broken out by verb, group, version, "
    "resource, scope and component. Not all requests are tracked this way.",
    ("verb", "group", "version", "resource", "subresource", "scope", "component"),
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
APISERVER_WATCH_EVENTS = Counter(
    "apiserver_watch_events_total",
    "Number of events sent in watch clients",
    ("group", "version", "resource"),
    registry=REGISTRY,
)

# kube-apiserver's API Priority and Fairness (apiserver/pkg/util/flowcontrol/metrics).
FLOWCONTROL_NOMINAL_SEATS = Gauge(
    "apiserver_flowcontrol_nominal_limit_seats",
    "Nominal number of execution seats configured for each priority level",
    ("priority_level",), multiprocess_mode="livesum", registry=REGISTRY,
)  # fmt: skip
FLOWCONTROL_EXECUTING = Gauge(
    "apiserver_flowcontrol_current_executing_requests",
    "Number of requests in initial (for a WATCH) or any (for a non-WATCH) execution stage in "
    "the API Priority and Fairness subsystem",
    ("priority_level", "flow_schema"), multiprocess_mode="livesum", registry=REGISTRY,
)  # fmt: skip
FLOWCONTROL_INQUEUE = Gauge(
    "apiserver_flowcontrol_current_inqueue_requests",
    "Number of requests currently pending in queues of the API Priority and Fairness subsystem",
    ("priority_level", "flow_schema"), multiprocess_mode="livesum", registry=REGISTRY,
)  # fmt: skip
FLOWCONTROL_REJECTED = Counter(
    "apiserver_flowcontrol_rejected_requests_total",
    "Number of requests rejected by API Priority and Fairness subsystem",
    ("priority_level", "flow_schema", "reason"), registry=REGISTRY,
)  # fmt: skip
FLOWCONTROL_WAIT = Histogram(
    "apiserver_flowcontrol_request_wait_duration_seconds",
    "Length of time a request spent waiting in its queue",
    ("priority_level", "flow_schema", "execute"),
    buckets=(0, 0.005, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30), registry=REGISTRY,
)  # fmt: skip

# client-go workqueues (component-base/metrics/prometheus/workqueue).
_SECONDS_BUCKETS = tuple(10.0**e for e in range(-8, 4))  # 10 ns ... 1000 s, by tens
WORKQUEUE_DEPTH = Gauge(
    "workqueue_depth", "Current depth of workqueue", ("name",),
    multiprocess_mode="livesum", registry=REGISTRY,
)  # fmt: skip
WORKQUEUE_ADDS = Counter(
    "workqueue_adds_total", "Total number of adds handled by workqueue", ("name",),
    registry=REGISTRY,
)  # fmt: skip
WORKQUEUE_QUEUE_DURATION = Histogram(
    "workqueue_queue_duration_seconds",
    "How long in seconds an item stays in workqueue before being requested.",
    ("name",), buckets=_SECONDS_BUCKETS, registry=REGISTRY,
)  # fmt: skip
WORKQUEUE_WORK_DURATION = Histogram(
    "workqueue_work_duration_seconds",
    "How long in seconds processing an item from workqueue takes.",
    ("name",), buckets=_SECONDS_BUCKETS, registry=REGISTRY,
)  # fmt: skip
WORKQUEUE_RETRIES = Counter(
    "workqueue_retries_total", "Total number of retries handled by workqueue", ("name",),
    registry=REGISTRY,
)  # fmt: skip

# kube-scheduler (pkg/scheduler/metrics).
SCHEDULE_ATTEMPTS = Counter(
    "scheduler_schedule_attempts_total",
    "Number of attempts to schedule pods, by the result. 'unschedulable' means a pod could not "
    "be scheduled, while 'error' means an internal scheduler problem.",
    ("result", "profile"),
    registry=REGISTRY,
)
POD_SCHEDULING_DURATION = Histogram(
    "scheduler_pod_scheduling_duration_seconds",
    "E2e latency for a pod being scheduled which may include multiple scheduling attempts.",
    ("attempts",),
    buckets=tuple(0.01 * 2**i for i in range(20)),
    registry=REGISTRY,
)

# kubelet (pkg/kubelet/metrics).
POD_START_DURATION = Histogram(
    "kubelet_pod_start_duration_seconds",
    "Duration in seconds from kubelet seeing a pod for the first time to the pod starting to run",
    buckets=POD_START_BUCKETS,
    registry=REGISTRY,
)

# kube-proxy (pkg/proxy/metrics).
SYNC_PROXY_RULES_DURATION = Histogram(
    "kubeproxy_sync_proxy_rules_duration_seconds",
    "SyncProxyRules latency in seconds",
    buckets=tuple(0.001 * 2**i for i in range(15)),
    registry=REGISTRY,
)
SYNC_PROXY_RULES_LAST = Gauge(
    "kubeproxy_sync_proxy_rules_last_timestamp_seconds",
    "The last time proxy rules were successfully synced",
    registry=REGISTRY,
)
IPTABLES_RESTORE_FAILURES = Counter(
    "kubeproxy_sync_proxy_rules_iptables_restore_failures_total",
    "Cumulative proxy iptables restore failures",
    registry=REGISTRY,
)


def exposition() -> bytes:
    """The text format of every metric of this process (of all workers in multiprocess mode)."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        _multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry) + _own_process()
    return generate_latest(REGISTRY)


def _own_process() -> bytes:
    """Process figures of the whole server (the parent and its worker processes), which
    prometheus-client's multiprocess mode leaves out."""
    pids = [os.getppid(), *_children(os.getppid())]
    rss = cpu = 0.0
    for pid in pids:
        r, c = _proc_usage(pid)
        rss, cpu = rss + r, cpu + c
    return (
        "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
        "# TYPE process_resident_memory_bytes gauge\n"
        f"process_resident_memory_bytes {rss:.1f}\n"
        "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
        "# TYPE process_cpu_seconds_total counter\n"
        f"process_cpu_seconds_total {cpu:.2f}\n"
    ).encode()


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except (OSError, ValueError):
        return []


def _proc_usage(pid: int) -> tuple[float, float]:
    """(resident bytes, CPU seconds) of a process, zeros if it is gone."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            rss = float(f.read().split()[1]) * PAGE_SIZE
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
        return rss, (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    except (OSError, ValueError, IndexError):
        return 0.0, 0.0


def since(start: float) -> float:
    """Seconds since a ``time.perf_counter()`` reading."""
    return max(0.0, time.perf_counter() - start)


def process_exited(pid: int) -> None:
    """A worker process ended: its live gauges no longer count (multiprocess mode only)."""
    if os.environ.get(MULTIPROC_ENV):
        _multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


# CoreDNS's (plugin/metrics/vars), for the agent's node-local cluster DNS server.
DNS_BUCKETS = tuple(
    0.00025 * 2**i for i in range(16)
)  # CoreDNS: ExponentialBuckets(0.00025, 2, 16)
DNS_REQUESTS = Counter(
    "coredns_dns_requests_total", "Counter of DNS requests made per zone, protocol and family.",
    ("server", "zone", "proto", "type"), registry=REGISTRY,
)  # fmt: skip
DNS_RESPONSES = Counter(
    "coredns_dns_responses_total", "Counter of response status codes.",
    ("server", "zone", "rcode"), registry=REGISTRY,
)  # fmt: skip
DNS_REQUEST_DURATION = Histogram(
    "coredns_dns_request_duration_seconds",
    "Histogram of the time (in seconds) each request took per zone.",
    ("server", "zone", "type"), buckets=DNS_BUCKETS, registry=REGISTRY,
)  # fmt: skip
# pkg/controller/cronjob/metrics: ExponentialBuckets(1, 2, 10).
CRONJOB_CREATION_SKEW = Histogram(
    "cronjob_controller_job_creation_skew_duration_seconds",
    "Time between when a cronjob is scheduled to be run, and when the corresponding job is "
    "created",
    buckets=tuple(float(2**i) for i in range(10)), registry=REGISTRY,
)  # fmt: skip
