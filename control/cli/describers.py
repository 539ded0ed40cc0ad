"""``describe`` text per resource type, in kubectl's layout (``kubectl/pkg/describe/describe.go``):
tab-separated lines laid out by Go's tabwriter (padding 2). Pure: objects, events and ``now`` in.

``DESCRIBERS`` maps a plural to its function; other modules add theirs with ``register``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from common.humanize import age, rfc1123z, until
from common.printers import node_roles
from common.tabwriter import tabwrite
from control.cli.nodedescribe import lease_section, pods_section
from control.cli.probedesc import probe_lines

Obj = Mapping[str, Any]
Describer = Callable[[Obj, Sequence[Obj] | None, dt.datetime], str]
# describe's tabwriter: tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
PADDING = 2
MAX_ANNOTATION_LEN = 140
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


class Text:
    """kubectl's PrefixWriter: lines indented two spaces per level, flushed through tabwriter."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.done: list[str] = []

    def write(self, level: int, text: str) -> None:
        self.parts.append("  " * level + text)

    def flush(self) -> None:
        self.done.append(tabwrite("".join(self.parts), 0, PADDING))
        self.parts = []

    def text(self) -> str:
        self.flush()
        return "".join(self.done)


def _m(obj: Obj, key: str) -> Obj:
    value = obj.get(key)
    return value if isinstance(value, Mapping) else {}


def _labels(w: Text, title: str, labels: object) -> None:
    w.write(0, f"{title}:\t")
    if not isinstance(labels, Mapping) or not labels:
        w.write(0, "<none>\n")
        return
    for i, key in enumerate(sorted(labels)):
        w.write(0, f"{'' if i == 0 else chr(9)}{key}={labels[key]}\n")


def _annotations(w: Text, annotations: object) -> None:
    w.write(0, "Annotations:\t")
    items = dict(annotations) if isinstance(annotations, Mapping) else {}
    items.pop(LAST_APPLIED, None)
    if not items:
        w.write(0, "<none>\n")
        return
    for i, key in enumerate(sorted(items)):
        if i:
            w.write(0, "\t")
        value = str(items[key]).removesuffix("\n")
        if len(value) + len(key) + 2 > MAX_ANNOTATION_LEN or "\n" in value:
            w.write(0, f"{key}:\n")
            for line in value.split("\n"):
                short = line if len(line) <= MAX_ANNOTATION_LEN - 2 else line[:138] + "..."
                w.write(0, f"\t  {short}\n")
        else:
            w.write(0, f"{key}: {value}\n")


def _tolerations(w: Text, tolerations: object) -> None:
    w.write(0, "Tolerations:\t")
    items = list(tolerations) if isinstance(tolerations, list) else []
    if not items:
        w.write(0, "<none>\n")
        return
    for i, t in enumerate(items):
        text = ("\t" if i else "") + str(t.get("key") or "")
        text += f"={t['value']}" if t.get("value") else ""
        text += f":{t['effect']}" if t.get("effect") else ""
        if t.get("operator") == "Exists" and not t.get("value"):
            text += " op=Exists" if t.get("key") or t.get("effect") else "op=Exists"
        if t.get("tolerationSeconds") is not None:
            text += f" for {t['tolerationSeconds']}s"
        w.write(0, text + "\n")


def events_section(w: Text, events: Sequence[Obj] | None, now: dt.datetime) -> None:
    """The ``Events:`` table (``DescribeEvents``), oldest last-seen first."""
    if events is None:
        return
    if not events:
        w.write(0, "Events:\t<none>\n")
        return
    w.flush()
    w.write(0, "Events:\n  Type\tReason\tAge\tFrom\tMessage\n")
    w.write(1, "----\t------\t----\t----\t-------\n")
    for e in sorted(events, key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or "")):
        first = age(e.get("eventTime") or e.get("firstTimestamp"), now)
        count = int(e.get("count") or 0)
        interval = first
        if count > 1:
            interval = f"{age(e.get('lastTimestamp'), now)} (x{count} over {first})"
        source = _m(e, "source").get("component") or e.get("reportingComponent") or ""
        message = str(e.get("message") or "").strip()
        w.write(1, f"{e.get('type', '')}\t{e.get('reason', '')}\t{interval}\t{source}\t{message}\n")


# -- pods -----------------------------------------------------------------------------------------


def _ports(ports: Sequence[Obj], key: str) -> str:
    return ", ".join(f"{p.get(key, 0)}/{p.get('protocol') or 'TCP'}" for p in ports)


def _state(w: Text, title: str, state: Obj) -> None:
    if isinstance(state.get("running"), Mapping):
        w.write(2, f"{title}:\tRunning\n")
        w.write(3, f"Started:\t{rfc1123z(state['running'].get('startedAt'))}\n")
    elif isinstance(state.get("terminated"), Mapping):
        t = state["terminated"]
        w.write(2, f"{title}:\tTerminated\n")
        if t.get("reason"):
            w.write(3, f"Reason:\t{t['reason']}\n")
        if t.get("message"):
            w.write(3, f"Message:\t{t['message']}\n")
        w.write(3, f"Exit Code:\t{t.get('exitCode', 0)}\n")
        if t.get("signal"):
            w.write(3, f"Signal:\t{t['signal']}\n")
        w.write(3, f"Started:\t{rfc1123z(t.get('startedAt'))}\n")
        w.write(3, f"Finished:\t{rfc1123z(t.get('finishedAt'))}\n")
    else:
        w.write(2, f"{title}:\tWaiting\n")
        reason = _m(state, "waiting").get("reason")
        if reason:
            w.write(3, f"Reason:\t{reason}\n")


def _ports_and_command(w: Text, c: Obj) -> None:
    """A container's Port, Host Port, Command and Args lines (pods and pod templates)."""
    ports = [p for p in c.get("ports") or [] if isinstance(p, Mapping)]
    port, host = _ports(ports, "containerPort"), _ports(ports, "hostPort")
    w.write(2, f"{'Ports' if ',' in port else 'Port'}:\t{port or '<none>'}\n")
    w.write(2, f"{'Host Ports' if ',' in host else 'Host Port'}:\t{host or '<none>'}\n")
    for title, key in (("Command", "command"), ("Args", "args")):
        if c.get(key):
            w.write(2, f"{title}:\n")
            for arg in c[key]:
                for line in str(arg).split("\n"):
                    w.write(3, f"{line}\n")


def _container(w: Text, c: Obj, status: Obj | None) -> None:
    w.write(1, f"{c.get('name', '')}:\n")
    if status is not None:
        w.write(2, f"Container ID:\t{status.get('containerID', '')}\n")
    w.write(2, f"Image:\t{c.get('image', '')}\n")
    if status is not None:
        w.write(2, f"Image ID:\t{status.get('imageID', '')}\n")
    _ports_and_command(w, c)
    if status is not None:
        _state(w, "State", _m(status, "state"))
        if isinstance(_m(status, "lastState").get("terminated"), Mapping):
            _state(w, "Last State", _m(status, "lastState"))
        w.write(2, f"Ready:\t{'True' if status.get('ready') else 'False'}\n")
        w.write(2, f"Restart Count:\t{status.get('restartCount', 0)}\n")
    _container_config(w, c)


def _container_config(w: Text, c: Obj) -> None:
    """Resources, environment and mounts of a container."""
    resources = _m(c, "resources")
    for title, key in (("Limits", "limits"), ("Requests", "requests")):
        if _m(resources, key):
            w.write(2, f"{title}:\n")
            for name, qty in sorted(_m(resources, key).items()):
                w.write(3, f"{name}:\t{qty}\n")
    for title, text in probe_lines(c):
        w.write(2, f"{title}:\t{text}\n")
    env = [e for e in c.get("env") or [] if isinstance(e, Mapping)]
    w.write(2, "Environment:" + ("" if env else "\t<none>") + "\n")
    for e in env:
        if "valueFrom" in e:
            w.write(3, f"{e.get('name', '')}:\t<set from {next(iter(_m(e, 'valueFrom')), '?')}>\n")
            continue
        for i, line in enumerate(str(e.get("value", "")).split("\n")):
            w.write(3, f"{e.get('name', '')}:\t{line}\n" if i == 0 else f"\t{line}\n")
    mounts = [m for m in c.get("volumeMounts") or [] if isinstance(m, Mapping)]
    w.write(2, "Mounts:" + ("" if mounts else "\t<none>") + "\n")
    for m in mounts:
        mode = "ro" if m.get("readOnly") else "rw"
        w.write(3, f"{m.get('mountPath', '')} from {m.get('name', '')} ({mode})\n")


def _qos(pod: Obj) -> str:
    qos = _m(pod, "status").get("qosClass")
    if qos:
        return str(qos)
    containers = [c for c in _m(pod, "spec").get("containers") or [] if isinstance(c, Mapping)]
    resources = [_m(c, "resources") for c in containers]
    if not any(_m(r, "requests") or _m(r, "limits") for r in resources):
        return "BestEffort"
    guaranteed = all(
        all(k in _m(r, "limits") for k in ("cpu", "memory"))
        and all(_m(r, "requests").get(k, v) == v for k, v in _m(r, "limits").items())
        for r in resources
    )
    return "Guaranteed" if guaranteed else "Burstable"


def _volumes(w: Text, volumes: object) -> None:
    items = (
        [v for v in volumes or [] if isinstance(v, Mapping)] if isinstance(volumes, list) else []
    )
    if not items:
        w.write(0, "Volumes:\t<none>\n")
        return
    w.write(0, "Volumes:\n")
    for v in items:
        w.write(1, f"{v.get('name', '')}:\n")
        kind = next((k for k in v if k != "name"), "")
        w.write(2, f"Type:\t{kind}\n")
        for key, value in sorted(_m(v, kind).items()):
            w.write(2, f"{key[:1].upper() + key[1:]}:\t{value}\n")


def _pod_ips(w: Text, status: Obj) -> None:
    w.write(0, f"IP:\t{status.get('podIP', '')}\n")
    ips = [p.get("ip") for p in status.get("podIPs") or [] if isinstance(p, Mapping)]
    ips = ips or ([status["podIP"]] if status.get("podIP") else [])
    if ips:
        w.write(0, "IPs:\n")
        for ip in ips:
            w.write(1, f"IP:\t{ip}\n")
    else:
        w.write(0, "IPs:\t<none>\n")


def _pod_status(w: Text, meta: Obj, status: Obj, now: dt.datetime) -> None:
    if meta.get("deletionTimestamp") and status.get("phase") not in ("Failed", "Succeeded"):
        w.write(0, f"Status:\tTerminating (lasts {until(meta['deletionTimestamp'], now)})\n")
        grace = meta.get("deletionGracePeriodSeconds")
        w.write(0, f"Termination Grace Period:\t{grace if grace is not None else 0}s\n")
    else:
        w.write(0, f"Status:\t{status.get('phase', '')}\n")
    for key, title in (("reason", "Reason"), ("message", "Message")):
        if status.get(key):
            w.write(0, f"{title}:\t{status[key]}\n")


def describe_pod(pod: Obj, events: Sequence[Obj] | None, now: dt.datetime) -> str:
    meta, spec, status = _m(pod, "metadata"), _m(pod, "spec"), _m(pod, "status")
    w = Text()
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    w.write(0, f"Namespace:\t{meta.get('namespace', '')}\n")
    w.write(0, f"Priority:\t{spec.get('priority', 0)}\n")
    if spec.get("priorityClassName"):
        w.write(0, f"Priority Class Name:\t{spec['priorityClassName']}\n")
    if spec.get("serviceAccountName"):
        w.write(0, f"Service Account:\t{spec['serviceAccountName']}\n")
    node = spec.get("nodeName")
    w.write(0, f"Node:\t{node}/{status.get('hostIP', '')}\n" if node else "Node:\t<none>\n")
    if status.get("startTime"):
        w.write(0, f"Start Time:\t{rfc1123z(status['startTime'])}\n")
    _labels(w, "Labels", meta.get("labels"))
    _annotations(w, meta.get("annotations"))
    _pod_status(w, meta, status, now)
    _pod_ips(w, status)
    owner = next((o for o in meta.get("ownerReferences") or [] if o.get("controller")), None)
    if owner:
        w.write(0, f"Controlled By:\t{owner.get('kind', '')}/{owner.get('name', '')}\n")
    if status.get("nominatedNodeName"):
        w.write(0, f"NominatedNodeName:\t{status['nominatedNodeName']}\n")
    for title, key, skey in (
        ("Init Containers", "initContainers", "initContainerStatuses"),
        ("Containers", "containers", "containerStatuses"),
    ):
        containers = [c for c in spec.get(key) or [] if isinstance(c, Mapping)]
        if not containers and key == "initContainers":
            continue
        statuses = {s.get("name"): s for s in status.get(skey) or [] if isinstance(s, Mapping)}
        w.write(0, f"{title}:\n")
        for c in containers:
            _container(w, c, statuses.get(c.get("name")))
    conditions = [c for c in status.get("conditions") or [] if isinstance(c, Mapping)]
    if conditions:
        w.write(0, "Conditions:\n  Type\tStatus\n")
        for c in conditions:
            w.write(1, f"{c.get('type', '')} \t{c.get('status', '')} \n")
    _volumes(w, spec.get("volumes"))
    w.write(0, f"QoS Class:\t{_qos(pod)}\n")
    _labels(w, "Node-Selectors", spec.get("nodeSelector"))
    _tolerations(w, spec.get("tolerations"))
    events_section(w, events, now)
    return w.text()


# -- nodes and anything else ---------------------------------------------------------------------


def _taints(w: Text, taints: Sequence[Obj]) -> None:
    w.write(0, "Taints:\t")
    if not taints:
        w.write(0, "<none>\n")
    for i, t in enumerate(taints):
        value = f"={t['value']}" if t.get("value") else ""
        w.write(0, f"{chr(9) if i else ''}{t.get('key', '')}{value}:{t.get('effect', '')}\n")


def describe_node(
    node: Obj,
    events: Sequence[Obj] | None,
    now: dt.datetime,
    *,
    lease: Obj | None = None,
    pods: Sequence[Obj] | None = None,
) -> str:
    """With ``pods`` (its non-terminated pods, read by the caller) it shows the Lease (``None``:
    ``<unset>``) and the pods' requests and limits, as kubectl does."""
    meta, spec, status = _m(node, "metadata"), _m(node, "spec"), _m(node, "status")
    w = Text()
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    w.write(0, f"Roles:\t{node_roles(node)}\n")
    _labels(w, "Labels", meta.get("labels"))
    _annotations(w, meta.get("annotations"))
    w.write(0, f"CreationTimestamp:\t{rfc1123z(meta.get('creationTimestamp'))}\n")
    _taints(w, [t for t in spec.get("taints") or [] if isinstance(t, Mapping)])
    w.write(0, f"Unschedulable:\t{'true' if spec.get('unschedulable') else 'false'}\n")
    if pods is not None:
        lease_section(w, lease)
    conditions = [c for c in status.get("conditions") or [] if isinstance(c, Mapping)]
    if conditions:
        w.write(
            0,
            "Conditions:\n  Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage\n",
        )
        w.write(1, "----\t------\t-----------------\t------------------\t------\t-------\n")
        for c in conditions:
            w.write(1, f"{c.get('type', '')} \t{c.get('status', '')} \t"
                    f"{rfc1123z(c.get('lastHeartbeatTime'))} \t"
                    f"{rfc1123z(c.get('lastTransitionTime'))} \t{c.get('reason', '')} \t"
                    f"{c.get('message', '')}\n")  # fmt: skip
    addresses = [a for a in status.get("addresses") or [] if isinstance(a, Mapping)]
    w.write(0, "Addresses:\n" if addresses else "Addresses:\t<none>\n")
    for a in addresses:
        w.write(1, f"{a.get('type', '')}:\t{a.get('address', '')}\n")
    for title in ("Capacity", "Allocatable"):
        values = _m(status, title.lower())
        if values:
            w.write(0, f"{title}:\n")
            for key in sorted(values):
                w.write(1, f"{key}:\t{values[key]}\n")
    info = _m(status, "nodeInfo")
    if info:
        w.write(0, "System Info:\n")
        for title, key in _NODE_INFO:
            w.write(1, f"{title}:\t{info.get(key, '')}\n")
    if spec.get("podCIDR"):
        w.write(0, f"PodCIDR:\t{spec['podCIDR']}\n")
    if pods is not None:
        pods_section(w, node, pods, now)
    events_section(w, events, now)
    return w.text()


_NODE_INFO = (
    ("Machine ID", "machineID"), ("System UUID", "systemUUID"), ("Boot ID", "bootID"),
    ("Kernel Version", "kernelVersion"), ("OS Image", "osImage"),
    ("Operating System", "operatingSystem"), ("Architecture", "architecture"),
    ("Container Runtime Version", "containerRuntimeVersion"),
    ("Kubelet Version", "kubeletVersion"),
)  # fmt: skip


def describe_generic(obj: Obj, events: Sequence[Obj] | None, now: dt.datetime) -> str:
    """Types without a describer of their own: metadata, then spec and status as YAML."""
    import yaml

    meta = _m(obj, "metadata")
    w = Text()
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    if meta.get("namespace"):
        w.write(0, f"Namespace:\t{meta['namespace']}\n")
    _labels(w, "Labels", meta.get("labels"))
    _annotations(w, meta.get("annotations"))
    w.write(0, f"API Version:\t{obj.get('apiVersion', '')}\n")
    w.write(0, f"Kind:\t{obj.get('kind', '')}\n")
    w.flush()
    for key in sorted(k for k in obj if k not in ("apiVersion", "kind", "metadata")):
        body = yaml.safe_dump({key: obj[key]}, default_flow_style=False, sort_keys=True)
        w.done.append(body)
    events_section(w, events, now)
    return w.text()


DESCRIBERS: dict[str, Describer] = {"pods": describe_pod, "nodes": describe_node}


def register(plural: str, describer: Describer) -> None:
    """Add (or replace) the describer of a resource type."""
    DESCRIBERS[plural] = describer


def describer_for(plural: str) -> Describer:
    return DESCRIBERS.get(plural, describe_generic)
