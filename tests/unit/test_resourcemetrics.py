"""Resource metrics, pure parts: CPU rates between two readings, cAdvisor's working set, the
host's /proc figures, the node's summary from a pretend engine, and the metrics.k8s.io objects
made from it."""

from __future__ import annotations

import datetime as dt
import os

from agent import resourcemetrics as rm
from agent import runtime as rt
from agent.fake_runtime import FakeRuntime
from agent.runtime import CreateSpec
from control.apiserver.resourcemetrics import node_metrics, pod_metrics

STAT = "cpu  100 5 50 1000 20 3 2 0 0 0\ncpu0 50 2 25 500 10 1 1 0 0 0\n"
MEMINFO = "MemTotal:       16000000 kB\nMemFree:         1000000 kB\nMemAvailable:    6000000 kB\n"


def test_usage_is_a_rate_over_the_window() -> None:
    assert rm.usage(rm.Reading(2.0, 10, 100.0), rm.Reading(3.5, 20, 103.0)) == (500_000_000, 20)
    assert rm.usage(rm.Reading(9.0, 10, 100.0), rm.Reading(1.0, 20, 110.0)) is None  # restarted
    assert rm.usage(rm.Reading(1.0, 10, 100.0), rm.Reading(1.0, 20, 100.0)) is None  # no time


def test_working_set_leaves_out_inactive_file_cache() -> None:
    v1 = {"usage": 10_000, "stats": {"total_inactive_file": 4_000, "inactive_file": 1}}
    v2 = {"usage": 10_000, "stats": {"inactive_file": 3_000}}
    assert rm.working_set(v1) == 6_000
    assert rm.working_set(v2) == 7_000
    assert rm.working_set({}) == 0
    assert rm.working_set({"usage": 5, "stats": {"inactive_file": 9}}) == 0


def test_host_figures_from_proc() -> None:
    busy_ticks = 100 + 5 + 50 + 3 + 2  # user nice system irq softirq (idle, iowait aside)
    assert rm.host_cpu_seconds(STAT) * os.sysconf("SC_CLK_TCK") == busy_ticks
    assert rm.host_working_set(MEMINFO) == (16_000_000 - 6_000_000) * 1024


def running_container(fake: FakeRuntime, pod: str, name: str) -> str:
    fake.add_image("img:1")
    labels = {rt.CLUSTER_LABEL: "c1", rt.NODE_LABEL: "node-1", rt.POD_UID: f"u-{pod}",
              rt.POD_NAME: pod, rt.POD_NAMESPACE: "default", rt.CONTAINER_NAME: name}  # fmt: skip
    sandbox = fake.create_container(CreateSpec(f"tk_{pod}_POD", "img:1", labels, "sandbox"))
    fake.start(sandbox)
    app = {**labels, rt.SANDBOX_ID: sandbox}
    cid = fake.create_container(CreateSpec(f"tk_{pod}_{name}", "img:1", app, "app"))
    fake.start(cid)
    return cid


def test_the_sampler_reports_rates_once_it_has_two_readings() -> None:
    fake = FakeRuntime()
    hosts = iter([rm.Reading(10.0, 1000, 0.0), rm.Reading(11.0, 2000, 2.0)])
    sampler = rm.Sampler(fake, "c1", "node-1", host=lambda: next(hosts),
                         clock=lambda: dt.datetime(2026, 1, 1, tzinfo=dt.UTC))  # fmt: skip
    cid = running_container(fake, "web", "main")
    fake.usages[cid] = (1.0, 4096)
    sampler.sample()
    assert sampler.summary() is None
    fake.usages[cid] = (1.0, 8192)
    sampler.sample()
    summary = sampler.summary()
    assert summary is not None
    assert summary["cpuNanoCores"] == 500_000_000 and summary["memoryBytes"] == 2000
    assert summary["windowSeconds"] == 2.0 and summary["timestamp"] == "2026-01-01T00:00:00Z"
    (pod,) = summary["pods"]
    assert (pod["namespace"], pod["name"], pod["uid"]) == ("default", "web", "u-web")
    assert pod["containers"] == [{"name": "main", "cpuNanoCores": 0, "memoryBytes": 8192}]


def test_metrics_objects_as_metrics_server_writes_them() -> None:
    summary = {"node": "node-1", "timestamp": "2026-01-01T00:00:00Z", "windowSeconds": 10.5,
               "cpuNanoCores": 250_000_000, "memoryBytes": 3 * 2**20,
               "pods": [{"namespace": "default", "name": "web", "uid": "u1",
                         "containers": [{"name": "main", "cpuNanoCores": 1000,
                                         "memoryBytes": 2048}]}]}  # fmt: skip
    node = {"metadata": {"name": "node-1", "labels": {"a": "b"}}}
    assert node_metrics(node, summary) == {
        "metadata": {"name": "node-1", "creationTimestamp": "2026-01-01T00:00:00Z",
                     "labels": {"a": "b"}},
        "timestamp": "2026-01-01T00:00:00Z", "window": "10.5s",
        "usage": {"cpu": "250000000n", "memory": "3072Ki"},
    }  # fmt: skip
    pod = {"metadata": {"name": "web", "namespace": "default", "uid": "u1"}}
    made = pod_metrics(pod, summary)
    assert made is not None
    assert made["containers"] == [{"name": "main", "usage": {"cpu": "1000n", "memory": "2Ki"}}]
    other = {"metadata": {"name": "web", "namespace": "default", "uid": "u2"}}
    assert pod_metrics(other, summary) is None  # another pod of that name: not measured yet
