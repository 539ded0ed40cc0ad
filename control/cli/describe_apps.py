"""``describe`` for Deployments and ReplicaSets in kubectl's layout (``describeDeployment``,
``describeReplicaSet``, ``DescribePodTemplate``). The describers are pure; ``BINDERS`` holds, per
type, the function that reads the related objects (the Deployment's ReplicaSets, the ReplicaSet's
pods) and returns a describer bound to them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from common import errors
from common.humanize import rfc1123z
from common.printers import format_selector
from common.resources import lookup
from control.cli.describers import (
    Describer,
    Obj,
    Text,
    _annotations,
    _container_config,
    _labels,
    _ports_and_command,
    _tolerations,
    events_section,
    register,
)
from control.cli.nodes import bind_node
from control.cli.revisions import controller_uid, split_new_old
from control.cli.session import Client

DEFAULT_MAX = "25%"
# A describer given the pods its object controls (``None``: not known).
PodsDescriber = Callable[[Obj, Sequence[Obj] | None, dt.datetime, Sequence[Obj] | None], str]


def _m(obj: object, key: str) -> Obj:
    value = obj.get(key) if isinstance(obj, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def _template_container(w: Text, c: Obj) -> None:
    w.write(1, f" {c.get('name', '')}:\n")
    w.write(2, f"Image:\t{c.get('image', '')}\n")
    _ports_and_command(w, c)
    _container_config(w, c)


def describe_pod_template(w: Text, template: Obj) -> None:
    """kubectl's ``DescribePodTemplate``: the ``Pod Template:`` block, indented by two."""
    meta, spec = _m(template, "metadata"), _m(template, "spec")
    w.write(0, "Pod Template:\n")
    _labels(w, "  Labels", meta.get("labels"))
    if meta.get("annotations"):
        w.write(0, "  ")
        _annotations(w, meta.get("annotations"))
    if spec.get("serviceAccountName"):
        w.write(1, f"Service Account:\t{spec['serviceAccountName']}\n")
    for title, key in (("Init Containers", "initContainers"), ("Containers", "containers")):
        containers = [c for c in spec.get(key) or [] if isinstance(c, Mapping)]
        if not containers and key == "initContainers":
            continue
        w.write(0, f"  {title}:{'' if containers else ' <none>'}\n")
        for c in containers:
            _template_container(w, c)
    volumes = [v for v in spec.get("volumes") or [] if isinstance(v, Mapping)]
    w.write(0, "  Volumes:\n" if volumes else "  Volumes:\t<none>\n")
    for v in volumes:
        kind = next((k for k in v if k != "name"), "")
        w.write(1, f" {v.get('name', '')}:\n")
        w.write(2, f"Type:\t{kind}\n")
    _labels(w, "  Node-Selectors", spec.get("nodeSelector"))
    w.write(0, "  ")
    _tolerations(w, spec.get("tolerations"))


def _conditions(w: Text, status: Obj) -> None:
    conditions = [c for c in status.get("conditions") or [] if isinstance(c, Mapping)]
    if conditions:
        w.write(0, "Conditions:\n  Type\tStatus\tReason\n")
        w.write(1, "----\t------\t------\n")
        for c in conditions:
            w.write(1, f"{c.get('type', '')} \t{c.get('status', '')}\t{c.get('reason', '')}\n")


def _rs_list(rses: Sequence[Obj]) -> str:
    """``web-7d4b9c8f5d (3/3 replicas created)``, comma-separated; ``<none>`` if empty."""
    parts = [
        f"{_m(rs, 'metadata').get('name', '')} ({int(_m(rs, 'status').get('replicas') or 0)}/"
        f"{int(_m(rs, 'spec').get('replicas', 1) or 0)} replicas created)"
        for rs in rses
    ]
    return ", ".join(parts) or "<none>"


def describe_deployment(
    d: Obj, events: Sequence[Obj] | None, now: dt.datetime, rses: Sequence[Obj] | None = None
) -> str:
    """``rses``: the ReplicaSets the Deployment controls (``None``: not known, no RS lines)."""
    meta, spec, status = _m(d, "metadata"), _m(d, "spec"), _m(d, "status")
    w = Text()
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    w.write(0, f"Namespace:\t{meta.get('namespace', '')}\n")
    w.write(0, f"CreationTimestamp:\t{rfc1123z(meta.get('creationTimestamp'))}\n")
    _labels(w, "Labels", meta.get("labels"))
    _annotations(w, meta.get("annotations"))
    w.write(0, f"Selector:\t{format_selector(spec.get('selector'))}\n")
    w.write(
        0,
        f"Replicas:\t{int(spec.get('replicas', 1) or 0)} desired | "
        f"{int(status.get('updatedReplicas') or 0)} updated | "
        f"{int(status.get('replicas') or 0)} total | "
        f"{int(status.get('availableReplicas') or 0)} available | "
        f"{int(status.get('unavailableReplicas') or 0)} unavailable\n",
    )
    strategy = _m(spec, "strategy")
    w.write(0, f"StrategyType:\t{strategy.get('type', '')}\n")
    w.write(0, f"MinReadySeconds:\t{int(spec.get('minReadySeconds') or 0)}\n")
    if strategy.get("type", "RollingUpdate") == "RollingUpdate" and "rollingUpdate" in strategy:
        ru = _m(strategy, "rollingUpdate")
        w.write(
            0,
            f"RollingUpdateStrategy:\t{ru.get('maxUnavailable', DEFAULT_MAX)} max unavailable, "
            f"{ru.get('maxSurge', DEFAULT_MAX)} max surge\n",
        )
    describe_pod_template(w, _m(spec, "template"))
    _conditions(w, status)
    if rses is not None:
        new, old = split_new_old(d, rses)
        active_old = [rs for rs in old if int(_m(rs, "spec").get("replicas", 1) or 0) != 0]
        w.write(0, f"OldReplicaSets:\t{_rs_list(active_old)}\n")
        w.write(0, f"NewReplicaSet:\t{_rs_list([new] if new is not None else [])}\n")
    events_section(w, events, now)
    return w.text()


def pod_counts(pods: Sequence[Obj]) -> str:
    """``3 Running / 0 Waiting / 0 Succeeded / 0 Failed`` (Pending counts as Waiting)."""
    phases = [str(_m(p, "status").get("phase") or "") for p in pods]
    running, waiting = phases.count("Running"), phases.count("Pending")
    return (
        f"{running} Running / {waiting} Waiting / {phases.count('Succeeded')} Succeeded / "
        f"{phases.count('Failed')} Failed"
    )


def describe_replicaset(
    rs: Obj, events: Sequence[Obj] | None, now: dt.datetime, pods: Sequence[Obj] | None = None
) -> str:
    """``pods``: the pods the ReplicaSet controls (``None``: not known)."""
    meta, spec, status = _m(rs, "metadata"), _m(rs, "spec"), _m(rs, "status")
    w = Text()
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    w.write(0, f"Namespace:\t{meta.get('namespace', '')}\n")
    w.write(0, f"Selector:\t{format_selector(spec.get('selector'))}\n")
    _labels(w, "Labels", meta.get("labels"))
    _annotations(w, meta.get("annotations"))
    owner = next((o for o in meta.get("ownerReferences") or [] if o.get("controller")), None)
    if owner:
        w.write(0, f"Controlled By:\t{owner.get('kind', '')}/{owner.get('name', '')}\n")
    w.write(
        0,
        f"Replicas:\t{int(status.get('replicas') or 0)} current / "
        f"{int(spec.get('replicas', 1) or 0)} desired\n",
    )
    pod_status_section(w, spec, pods)
    _conditions(w, status)
    events_section(w, events, now)
    return w.text()


def pod_status_section(w: Text, spec: Obj, pods: Sequence[Obj] | None) -> None:
    """A pod-owning workload's ``Pods Status`` line (from the pods it controls) and its pod
    template."""
    w.write(0, f"Pods Status:\t{pod_counts(pods or [])}\n")
    describe_pod_template(w, _m(spec, "template"))


# -- reading the related objects ------------------------------------------------------------------


def _controlled(client: Client, plural: str, owner: Obj) -> list[dict[str, Any]] | None:
    """The objects of ``plural`` matching the owner's selector and controlled by it."""
    rt = lookup(plural)
    meta = _m(owner, "metadata")
    if rt is None:
        return None
    selector = format_selector(_m(owner, "spec").get("selector"))
    try:
        listing = client.list(
            rt, meta.get("namespace"), label_selector=None if selector == "<none>" else selector
        )
    except errors.ApiError:
        return None
    items = [o for o in listing.get("items") or [] if isinstance(o, dict)]
    return [o for o in items if controller_uid(o) == meta.get("uid")]


def bind_deployment(client: Client, d: Obj) -> Describer:
    rses = _controlled(client, "replicasets", d)

    def describer(obj: Obj, events: Sequence[Obj] | None, now: dt.datetime) -> str:
        return describe_deployment(obj, events, now, rses)

    return describer


def with_pods(describe: PodsDescriber) -> Callable[[Client, Obj], Describer]:
    """The binder of a pod-owning workload's describer: it reads the pods the workload
    controls, then describes with them."""

    def bind(client: Client, owner: Obj) -> Describer:
        pods = _controlled(client, "pods", owner)

        def describer(obj: Obj, events: Sequence[Obj] | None, now: dt.datetime) -> str:
            return describe(obj, events, now, pods)

        return describer

    return bind


bind_replicaset = with_pods(describe_replicaset)


BINDERS: dict[str, Callable[[Client, Obj], Describer]] = {
    "deployments": bind_deployment,
    "replicasets": bind_replicaset,
    "nodes": bind_node,
}
register("deployments", describe_deployment)
register("replicasets", describe_replicaset)
