"""kubectl's table printing: HumanDuration ages, pod STATUS/READY/RESTARTS rules, node and event
cells, and Go tabwriter layout."""

from __future__ import annotations

import datetime as dt

import pytest

from common.humanize import age, human_duration, parse_time, rfc1123z
from common.printers import (
    PRINTERS,
    column_definitions,
    deployment_row,
    event_row,
    format_labels,
    format_selector,
    format_table,
    headers,
    namespace_row,
    node_row,
    node_status,
    pod_ready,
    pod_restarts,
    pod_row,
    pod_status,
    printer_for,
)
from common.tabwriter import tabwrite

NOW = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)
MIN, HOUR, DAY = 60, 3600, 86400


def ts(seconds_ago: float) -> str:
    return (NOW - dt.timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- AGE ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "want"),
    [
        # the cases of apimachinery's duration_test.go
        (1, "1s"),
        (70, "70s"),
        (190, "3m10s"),
        (70 * MIN, "70m"),
        (47 * HOUR, "47h"),
        (49 * HOUR, "2d1h"),
        ((8 * 24 + 2) * HOUR, "8d"),
        (367 * DAY, "367d"),
        ((365 * 2 * 24 + 25) * HOUR, "2y1d"),
        ((365 * 8 * 24 + 2) * HOUR, "8y"),
        # boundaries of each band
        (0, "0s"),
        (119.9, "119s"),
        (120, "2m"),
        (150, "2m30s"),
        (599, "9m59s"),
        (600, "10m"),
        (3 * HOUR - 1, "179m"),
        (3 * HOUR, "3h"),
        (3 * HOUR + 20 * MIN, "3h20m"),
        (8 * HOUR - 1, "7h59m"),
        (8 * HOUR, "8h"),
        (48 * HOUR - 1, "47h"),
        (48 * HOUR, "2d"),
        (3 * DAY + 4 * HOUR, "3d4h"),
        (8 * DAY - 1, "7d23h"),
        (2 * 365 * DAY - 1, "729d"),
        (2 * 365 * DAY, "2y"),
        (20 * 365 * DAY, "20y"),
        # clock skew: up to 1s ahead is "now", more is invalid
        (-0.5, "0s"),
        (-1.9, "0s"),
        (-2, "<invalid>"),
        (-300, "<invalid>"),
    ],
)
def test_human_duration(seconds: float, want: str) -> None:
    assert human_duration(seconds) == want


def test_age_of_timestamps() -> None:
    assert age(ts(312), NOW) == "5m12s"
    assert age(None, NOW) == "<unknown>"
    assert age("", NOW) == "<unknown>"
    assert age("2024-05-01T11:59:59.999999999Z", NOW) == "0s"


def test_parse_time_forms() -> None:
    want = dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.UTC)
    assert parse_time("2024-05-01T10:00:00Z") == want
    assert parse_time("2024-05-01T12:00:00+02:00") == want
    assert parse_time("2024-05-01T10:00:00.5Z") == want + dt.timedelta(milliseconds=500)
    assert parse_time("not a time") is None
    assert rfc1123z("2024-05-01T10:00:00Z") == "Wed, 01 May 2024 10:00:00 +0000"


# -- pods -----------------------------------------------------------------------------------------


def cs(name: str = "app", ready: bool = True, restarts: int = 0, **state: object) -> dict:
    if not state:
        state = {"running": {"startedAt": ts(60)}}
    return {"name": name, "ready": ready, "restartCount": restarts, "state": state}


def pod(statuses: list[dict] | None = None, phase: str = "Running", **extra: object) -> dict:
    statuses = statuses if statuses is not None else [cs()]
    names = [s["name"] for s in statuses] or ["app"]
    p: dict = {
        "metadata": {"name": "web", "namespace": "default", "creationTimestamp": ts(300)},
        "spec": {"containers": [{"name": n, "image": "img"} for n in names]},
        "status": {"phase": phase, "containerStatuses": statuses},
    }
    for key, value in extra.items():
        section, _, field = key.partition("__")
        p[section][field] = value
    return p


WAIT = "waiting"
TERM = "terminated"


@pytest.mark.parametrize(
    ("p", "want"),
    [
        (pod(), "Running"),
        (pod([], phase="Pending"), "Pending"),
        (pod([cs(ready=False, waiting={"reason": "ContainerCreating"})], "Pending"),
         "ContainerCreating"),
        (pod([cs(ready=False, restarts=3, waiting={"reason": "CrashLoopBackOff"})]),
         "CrashLoopBackOff"),
        (pod([cs(ready=False, waiting={"reason": "ImagePullBackOff"})], "Pending"),
         "ImagePullBackOff"),
        (pod([cs(ready=False, terminated={"exitCode": 0, "reason": "Completed"})], "Succeeded"),
         "Completed"),
        (pod([cs(ready=False, terminated={"exitCode": 1, "reason": "Error"})], "Failed"), "Error"),
        (pod([cs(ready=False, terminated={"exitCode": 137, "reason": "OOMKilled"})], "Failed"),
         "OOMKilled"),
        (pod([cs(ready=False, terminated={"exitCode": 3})], "Failed"), "ExitCode:3"),
        (pod([cs(ready=False, terminated={"exitCode": 0, "signal": 9})], "Failed"), "Signal:9"),
        # the first container wins: containers are walked last to first
        (pod([cs("a", ready=False, waiting={"reason": "ErrImagePull"}),
              cs("b", ready=False, waiting={"reason": "ContainerCreating"})], "Pending"),
         "ErrImagePull"),
        # Completed but another container still runs: Running if Ready, else NotReady
        (pod([cs("a", ready=False, terminated={"exitCode": 0, "reason": "Completed"}),
              cs("b")], status__conditions=[{"type": "Ready", "status": "True"}]), "Running"),
        (pod([cs("a", ready=False, terminated={"exitCode": 0, "reason": "Completed"}), cs("b")]),
         "NotReady"),
        (pod(metadata__deletionTimestamp=ts(-30)), "Terminating"),
        (pod([cs(ready=False, terminated={"exitCode": 0, "reason": "Completed"})], "Succeeded",
             metadata__deletionTimestamp=ts(-30)), "Completed"),
        (pod(metadata__deletionTimestamp=ts(-30), status__reason="NodeLost"), "Unknown"),
        (pod([], phase="Failed", status__reason="Evicted"), "Evicted"),
        (pod([], phase="Pending", status__conditions=[
            {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]),
         "SchedulingGated"),
    ],
)  # fmt: skip
def test_pod_status(p: dict, want: str) -> None:
    assert pod_status(p) == want


def test_pod_status_init_containers() -> None:
    p = pod([cs(ready=False, waiting={"reason": "PodInitializing"})], "Pending")
    p["spec"]["initContainers"] = [{"name": "i1"}, {"name": "i2"}]
    p["status"]["initContainerStatuses"] = [
        cs("i1", ready=False, terminated={"exitCode": 0, "reason": "Completed"}),
        cs("i2", ready=False),
    ]
    assert pod_status(p) == "Init:1/2"
    p["status"]["initContainerStatuses"][1] = cs("i2", ready=False, terminated={"exitCode": 2})
    assert pod_status(p) == "Init:ExitCode:2"
    crashing = cs("i2", ready=False, waiting={"reason": "CrashLoopBackOff"})
    p["status"]["initContainerStatuses"][1] = crashing
    assert pod_status(p) == "Init:CrashLoopBackOff"


def test_ready_counts_running_ready_containers() -> None:
    assert pod_ready(pod([cs("a"), cs("b", ready=False)])) == "1/2"
    assert pod_ready(pod([], phase="Pending")) == "0/1"
    waiting_but_ready = cs("a", ready=True, waiting={"reason": "ContainerCreating"})
    assert pod_ready(pod([waiting_but_ready])) == "0/1"


def test_restarts_with_last_termination_age() -> None:
    crashed = cs(ready=False, restarts=3, waiting={"reason": "CrashLoopBackOff"})
    crashed["lastState"] = {"terminated": {"exitCode": 1, "finishedAt": ts(45)}}
    other = cs("b", restarts=2)
    other["lastState"] = {"terminated": {"exitCode": 1, "finishedAt": ts(600)}}
    assert pod_restarts(pod([crashed, other]), NOW) == "5 (45s ago)"
    assert pod_restarts(pod([cs(restarts=2)]), NOW) == "2"  # no lastState: no "ago"
    assert pod_restarts(pod(), NOW) == "0"


def test_pod_row_wide() -> None:
    p = pod(spec__nodeName="node-1", status__podIP="10.0.0.5")
    assert pod_row(p, NOW) == ["web", "1/1", "Running", "0", "5m"]
    assert pod_row(p, NOW, wide=True) == [
        "web", "1/1", "Running", "0", "5m", "10.0.0.5", "node-1", "<none>", "<none>",
    ]  # fmt: skip
    p["status"]["podIPs"] = [{"ip": "10.0.0.6"}]
    p["spec"]["readinessGates"] = [{"conditionType": "x"}]
    p["status"]["conditions"] = [{"type": "x", "status": "True"}]
    assert pod_row(p, NOW, wide=True)[5:] == ["10.0.0.6", "node-1", "<none>", "1/1"]


# -- other types ----------------------------------------------------------------------------------


def node(ready: str | None = "True", **extra: object) -> dict:
    n: dict = {
        "metadata": {"name": "node-1", "creationTimestamp": ts(2 * DAY), "labels": {}},
        "spec": {},
        "status": {"nodeInfo": {"kubeletVersion": "v1.35.0-tinykube"}},
    }
    if ready is not None:
        n["status"]["conditions"] = [{"type": "MemoryPressure", "status": "False"},
                                     {"type": "Ready", "status": ready}]  # fmt: skip
    n.update(extra)
    return n


@pytest.mark.parametrize(
    ("ready", "unschedulable", "want"),
    [
        ("True", False, "Ready"),
        ("False", False, "NotReady"),
        ("Unknown", False, "NotReady"),
        (None, False, "Unknown"),
        ("True", True, "Ready,SchedulingDisabled"),
    ],
)
def test_node_status(ready: str | None, unschedulable: bool, want: str) -> None:
    assert node_status(node(ready, spec={"unschedulable": unschedulable})) == want


def test_node_row_roles_and_wide() -> None:
    n = node()
    n["metadata"]["labels"] = {
        "node-role.kubernetes.io/control-plane": "",
        "node-role.kubernetes.io/worker": "true",
        "kubernetes.io/role": "edge",
    }
    n["status"]["addresses"] = [{"type": "InternalIP", "address": "172.18.0.2"}]
    assert node_row(n, NOW) == ["node-1", "Ready", "control-plane,edge,worker", "2d",
                                "v1.35.0-tinykube"]  # fmt: skip
    assert node_row(n, NOW, wide=True)[5:] == [
        "172.18.0.2", "<none>", "<unknown>", "<unknown>", "<unknown>",
    ]  # fmt: skip
    n["metadata"]["labels"] = {}
    assert node_row(n, NOW)[2] == "<none>"


def test_namespace_and_event_rows() -> None:
    ns = {"metadata": {"name": "default", "creationTimestamp": ts(3 * HOUR)},
          "status": {"phase": "Active"}}  # fmt: skip
    assert namespace_row(ns, NOW) == ["default", "Active", "3h"]
    ev = {
        "metadata": {"name": "web.17a"},
        "involvedObject": {"kind": "Pod", "name": "web"},
        "type": "Normal",
        "reason": "Scheduled",
        "message": "Successfully assigned default/web to node-1 \n",
        "source": {"component": "default-scheduler"},
        "firstTimestamp": ts(90),
        "lastTimestamp": ts(30),
        "count": 4,
    }
    assert event_row(ev, NOW) == ["30s", "Normal", "Scheduled", "pod/web",
                                  "Successfully assigned default/web to node-1"]  # fmt: skip
    assert event_row(ev, NOW, wide=True)[4:] == [
        "", "default-scheduler", "Successfully assigned default/web to node-1", "90s", "4",
        "web.17a",
    ]  # fmt: skip
    del ev["lastTimestamp"]
    assert event_row(ev, NOW)[0] == "90s"


def test_deployment_row_and_selector() -> None:
    d = {
        "metadata": {"name": "web", "creationTimestamp": ts(60)},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"},
                         "matchExpressions": [{"key": "tier", "operator": "In",
                                               "values": ["b", "a"]}]},
            "template": {"spec": {"containers": [{"name": "c", "image": "nginx:1"}]}},
        },
        "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
    }  # fmt: skip
    assert deployment_row(d, NOW, wide=True) == [
        "web", "2/3", "3", "2", "60s", "c", "nginx:1", "app=web,tier in (a,b)",
    ]  # fmt: skip
    assert format_selector({}) == "<none>"
    assert format_selector({"matchExpressions": [{"key": "x", "operator": "DoesNotExist"}]}) == "!x"


def test_labels_column() -> None:
    assert format_labels({"b": "2", "a": "1"}) == "a=1,b=2"
    assert format_labels({}) == "<none>"
    assert format_labels(None) == "<none>"


def test_headers_and_column_definitions() -> None:
    assert headers(PRINTERS["pods"]) == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert headers(PRINTERS["pods"], wide=True)[5:] == [
        "IP", "NODE", "NOMINATED NODE", "READINESS GATES",
    ]  # fmt: skip
    assert headers(PRINTERS["events"]) == ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert headers(printer_for("leases")) == ["NAME", "HOLDER", "AGE"]
    assert headers(printer_for("widgets")) == ["NAME", "AGE"]
    defs = column_definitions(PRINTERS["pods"])
    assert defs[0]["name"] == "Name"
    assert (defs[0]["type"], defs[0]["format"], defs[0]["priority"]) == ("string", "name", 0)
    assert defs[0]["description"].startswith("Name must be unique within a namespace.")
    assert [d["priority"] for d in defs] == [0, 0, 0, 0, 0, 1, 1, 1, 1]


# -- layout ---------------------------------------------------------------------------------------


def test_table_layout_is_widest_cell_plus_three() -> None:
    text = format_table(
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        [["web-7d4b9c8f5d-x2k9p", "1/1", "Running", "0", "5m12s"],
         ["db", "0/1", "CrashLoopBackOff", "12 (3m ago)", "2d"]],
    )  # fmt: skip
    assert text == (
        "NAME                   READY   STATUS             RESTARTS      AGE\n"
        "web-7d4b9c8f5d-x2k9p   1/1     Running            0             5m12s\n"
        "db                     0/1     CrashLoopBackOff   12 (3m ago)   2d\n"
    )


def test_table_min_width_and_no_headers() -> None:
    # Go's tabwriter minwidth 6: a one-character column still takes 6 columns.
    assert format_table(["A", "B"], [["1", "x"]], no_headers=True) == "1     x\n"
    assert format_table(["A", "B"], []) == "A     B\n"


def test_tabwrite_blocks_end_at_lines_without_the_cell() -> None:
    text = "Name:\tweb\nLabels:\tapp=web\nIPs:\n  IP:\t10.0.0.5\nA-long-key:\tv\n"
    assert tabwrite(text, 0, 2) == (
        "Name:    web\nLabels:  app=web\nIPs:\n  IP:        10.0.0.5\nA-long-key:  v\n"
    )
    # trailing text after the last tab is never padded; empty cells are
    assert tabwrite("a\t\tc\nbb\tx\t\n", 0, 1) == "a    c\nbb x \n"
