"""The pod that ``logs``, ``exec`` and ``port-forward`` attach to: ``NAME``, ``pod/NAME`` or a
workload (``deploy/NAME``, ``rs/NAME``, ``svc/NAME``) resolved through its selector to its most
active pod, ranked as kubectl ranks them (assigned, Running, Ready the longest, most restarts,
oldest; for a Service, a ready endpoint first); and the WebSocket stream to one of its
subresources (``exec``, ``portforward``). ``attach_rank`` and ``pick`` are pure;
``resolve_pod`` and ``open_stream`` talk to the server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from common.printers import NONE, format_selector
from common.resources import lookup
from common.wellknown import SLICE_SERVICE_LABEL
from control.cli.output import CliError
from control.cli.session import Client, Session
from control.cli.targets import resource_type

if TYPE_CHECKING:
    from common.wsclient import ChannelClient

# kubectl's order of phases for attaching: Running first, then Unknown, then Pending.
_PHASE_RANK = {"Running": 0, "Unknown": 1, "Pending": 2}


def _ready_since(pod: dict[str, Any]) -> str | None:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready" and cond.get("status") == "True":
            return str(cond.get("lastTransitionTime") or "")
    return None


def attach_rank(pod: dict[str, Any]) -> tuple[Any, ...]:
    """Sort key: the pod kubectl would pick first sorts first (``ByLogging``/``ActivePods``)."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    ready = _ready_since(pod)
    restarts = sum(int(s.get("restartCount") or 0) for s in status.get("containerStatuses") or [])
    created = str((pod.get("metadata") or {}).get("creationTimestamp") or "~")
    return (
        not spec.get("nodeName"),
        _PHASE_RANK.get(str(status.get("phase")), 3),
        ready is None,
        ready or "~",  # ready for longer (an earlier time) first
        -restarts,
        created,
        str((pod.get("metadata") or {}).get("name")),
    )


def resolve_pod(client: Client, target: str, namespace: str) -> dict[str, Any]:
    """The pod named by ``target`` (see the module docstring)."""
    kind, _, name = target.rpartition("/")
    if not name:
        raise CliError("arguments in resource/name form must have a single resource and name")
    pods = lookup("pods")
    assert pods is not None
    rt = resource_type(kind) if kind else pods
    obj = client.get(rt, name, namespace)
    if rt.plural == "pods":
        return obj
    if rt.plural == "services":
        return service_pod(client, obj)
    selector = format_selector((obj.get("spec") or {}).get("selector"))
    if selector == NONE:
        raise CliError(f"cannot attach to {rt.kind_prefix}/{name}: selector for {rt.kind} is empty")
    items: list[dict[str, Any]] = (
        client.list(pods, namespace, label_selector=selector).get("items") or []
    )
    if not items:
        raise CliError(f"no pods found for {rt.kind_prefix}/{name}")
    return min(items, key=attach_rank)


def service_pod(client: Client, svc: dict[str, Any]) -> dict[str, Any]:
    """The pod a Service's traffic would reach: its selector's pods, those its EndpointSlices
    list as ready endpoints first (kubectl ranks the selector's pods only)."""
    meta = svc.get("metadata") or {}
    name, namespace = str(meta.get("name")), str(meta.get("namespace") or "")
    labels = (svc.get("spec") or {}).get("selector") or {}
    if not labels:
        raise CliError(f"invalid service '{name}': Service is defined without a selector")
    pods, slices = lookup("pods"), lookup("endpointslices")
    assert pods is not None and slices is not None
    selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    items: list[dict[str, Any]] = (
        client.list(pods, namespace, label_selector=selector).get("items") or []
    )
    if not items:
        raise CliError(f"no pods found for service/{name}")
    found = client.list(slices, namespace, label_selector=f"{SLICE_SERVICE_LABEL}={name}")
    return pick(items, ready_endpoints(found.get("items") or []))


def ready_endpoints(slices: list[dict[str, Any]]) -> set[str]:
    """Names of the pods EndpointSlices list as ready (an unset condition means ready)."""
    out = set()
    for s in slices:
        for ep in s.get("endpoints") or []:
            ref = ep.get("targetRef") or {}
            ready = (ep.get("conditions") or {}).get("ready")
            if ref.get("kind") == "Pod" and ref.get("name") and ready in (None, True):
                out.add(str(ref["name"]))
    return out


def pick(pods: list[dict[str, Any]], preferred: set[str]) -> dict[str, Any]:
    """The best ranked of ``pods`` among ``preferred`` names, else of them all."""
    chosen = [p for p in pods if (p.get("metadata") or {}).get("name") in preferred]
    return min(chosen or pods, key=attach_rank)


def open_stream(
    session: Session, pod: dict[str, Any], sub: str, params: dict[str, Any]
) -> ChannelClient:
    """Open the WebSocket of ``pods/NAME/<sub>`` with the session's server and credentials."""
    from common.wsclient import ChannelClient  # only the streaming commands pay for it

    pods = lookup("pods")
    assert pods is not None
    meta = pod.get("metadata") or {}
    path = pods.path(str(meta.get("namespace") or session.default_namespace), meta["name"], sub)
    cfg = session.config()
    return ChannelClient.connect(
        cfg.server,
        path,
        params,
        token=cfg.token,
        ca_file=cfg.ca_file,
        ca_data=cfg.ca_data,
        insecure=cfg.insecure,
    )
