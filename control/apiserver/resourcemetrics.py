"""``metrics.k8s.io/v1beta1``: NodeMetrics and PodMetrics, as metrics-server serves them for
``kubectl top``. Each read asks the agents of the Ready nodes concerned for their resource
metrics (``/stats/resource`` of the node API: CPU as a rate over the agent's last window, memory
as the working set; ``agent.resourcemetrics``), at once and with a short timeout; a node that
does not answer is left out, as metrics-server leaves out a node it could not scrape. Shell: the
blueprint's routes; ``node_metrics`` and ``pod_metrics`` are pure.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
from flask import Blueprint, Response, current_app, g, jsonify, request

from common import conditions, errors
from common.resources import ResourceType, must
from common.wellknown import READY
from control.apiserver.auth import NODE_PREFIX, Attributes, authorize
from control.apiserver.logs import node_endpoint

log = logging.getLogger(__name__)

blueprint = Blueprint("resourcemetrics", __name__)

Obj = dict[str, Any]

GROUP, VERSION = "metrics.k8s.io", "v1beta1"
API_VERSION = f"{GROUP}/{VERSION}"
NODE_METRICS = ResourceType("NodeMetrics", "nodes", "", GROUP, VERSION, False)
POD_METRICS = ResourceType("PodMetrics", "pods", "", GROUP, VERSION, True)
# Discovery lists them with the verbs they take.
METRICS = (NODE_METRICS, POD_METRICS)
SCRAPE_TIMEOUT = 5.0  # metrics-server's default --kubelet-request-timeout (10 s), halved


def cpu(nanocores: int) -> str:
    return f"{nanocores}n"


def memory(bytes_: int) -> str:
    return f"{bytes_ // 1024}Ki"


def window(seconds: float) -> str:
    return f"{seconds:g}s"


def node_metrics(node: Obj, summary: Obj) -> Obj:
    meta = node.get("metadata") or {}
    return {
        "metadata": {
            "name": meta.get("name"),
            "creationTimestamp": summary["timestamp"],
            "labels": dict(meta.get("labels") or {}),
        },
        "timestamp": summary["timestamp"],
        "window": window(summary["windowSeconds"]),
        "usage": {"cpu": cpu(summary["cpuNanoCores"]), "memory": memory(summary["memoryBytes"])},
    }


def pod_metrics(pod: Obj, summary: Obj) -> Obj | None:
    """The PodMetrics of ``pod`` from its node's summary; None when the node has no reading of
    it (not running yet, or a single reading so far)."""
    meta = pod.get("metadata") or {}
    found = next((p for p in summary.get("pods") or [] if p.get("uid") == meta.get("uid")), None)
    if found is None:
        return None
    return {
        "metadata": {
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
            "creationTimestamp": summary["timestamp"],
            "labels": dict(meta.get("labels") or {}),
        },
        "timestamp": summary["timestamp"],
        "window": window(summary["windowSeconds"]),
        "containers": [
            {
                "name": c["name"],
                "usage": {"cpu": cpu(c["cpuNanoCores"]), "memory": memory(c["memoryBytes"])},
            }
            for c in found.get("containers") or []
        ],
    }


def _summaries(nodes: list[Obj]) -> dict[str, Obj]:
    """Each Ready node's summary from its agent, by node name (the silent ones left out)."""
    auth = current_app.extensions["tinykube"]["auth"]
    ready = [n for n in nodes if conditions.is_true(n, READY)]

    def scrape(node: Obj) -> tuple[str, Obj | None]:
        name = str(node["metadata"]["name"])
        token = auth.token_of(NODE_PREFIX + name)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            resp = requests.get(
                f"{node_endpoint(node)}/stats/resource", headers=headers, timeout=SCRAPE_TIMEOUT
            )
            if resp.status_code == 200:
                body: Obj = resp.json()
                return name, body
            log.info("resource metrics of node %s: HTTP %d", name, resp.status_code)
        except (requests.RequestException, ValueError, errors.ApiError) as e:
            log.info("resource metrics of node %s: %s", name, e)
        return name, None

    if not ready:
        return {}
    with ThreadPoolExecutor(max_workers=min(16, len(ready))) as pool:
        return {name: s for name, s in pool.map(scrape, ready) if s is not None}


def _listing(kind: str, items: list[Obj]) -> Response:
    return jsonify(
        {"kind": f"{kind}List", "apiVersion": API_VERSION, "metadata": {}, "items": items}
    )


def _item(kind: str, item: Obj) -> Response:
    return jsonify({"kind": kind, "apiVersion": API_VERSION, **item})


def _not_found(rt: ResourceType, name: str, namespace: str = "") -> errors.ApiError:
    """metrics-server's answers: the object itself missing (``pods "x" not found``), or no
    metrics of it yet (``pods.metrics.k8s.io "default/x" not found``)."""
    if rt.group != GROUP:
        return errors.NotFoundError(f'{rt.plural} "{name}" not found',
                                    details={"name": name, "kind": rt.plural})  # fmt: skip
    shown = f"{namespace}/{name}" if namespace else name
    return errors.NotFoundError(
        f'{rt.plural}.{GROUP} "{shown}" not found',
        details={"name": shown, "group": GROUP, "kind": rt.plural},
    )


def _list(rt: ResourceType, namespace: str, *, selected: bool) -> list[Obj]:
    """The objects of ``rt`` (a consistent read of the watch cache); ``selected``: only those
    the request's ``labelSelector`` and ``fieldSelector`` select."""
    reg = current_app.extensions["tinykube"]["registry"]
    args = request.args if selected else {}
    listing = reg.list(
        rt,
        namespace,
        label_selector=args.get("labelSelector", ""),
        field_selector=args.get("fieldSelector", ""),
    )
    items: list[Obj] = listing["items"]
    return items


@blueprint.get(f"/apis/{GROUP}/{VERSION}/nodes")
@blueprint.get(f"/apis/{GROUP}/{VERSION}/nodes/<name>")
def nodes(name: str = "") -> Response:
    authorize(g.user, Attributes("get" if name else "list", "nodes", GROUP, name=name))
    found = _list(must("nodes"), "", selected=True)
    if name:
        found = [n for n in found if n["metadata"]["name"] == name]
        if not found:
            raise _not_found(must("nodes"), name)
    summaries = _summaries(found)
    items = [
        node_metrics(n, summaries[n["metadata"]["name"]])
        for n in found
        if n["metadata"]["name"] in summaries
    ]
    if name:
        if not items:
            raise _not_found(NODE_METRICS, name)
        return _item("NodeMetrics", items[0])
    return _listing("NodeMetrics", items)


@blueprint.get(f"/apis/{GROUP}/{VERSION}/pods")
@blueprint.get(f"/apis/{GROUP}/{VERSION}/namespaces/<namespace>/pods")
@blueprint.get(f"/apis/{GROUP}/{VERSION}/namespaces/<namespace>/pods/<name>")
def pods(namespace: str = "", name: str = "") -> Response:
    verb = "get" if name else "list"
    authorize(g.user, Attributes(verb, "pods", GROUP, namespace=namespace, name=name))
    found = _list(must("pods"), namespace, selected=True)
    if name:
        found = [p for p in found if p["metadata"]["name"] == name]
        if not found:
            raise _not_found(must("pods"), name)
    found = [p for p in found if (p.get("status") or {}).get("phase") == "Running"]
    on = {str((p.get("spec") or {}).get("nodeName") or "") for p in found} - {""}
    nodes = [n for n in _list(must("nodes"), "", selected=False) if n["metadata"]["name"] in on]
    summaries = _summaries(nodes)
    items = []
    for pod in found:
        summary = summaries.get(str((pod.get("spec") or {}).get("nodeName") or ""))
        metrics = pod_metrics(pod, summary) if summary is not None else None
        if metrics is not None:
            items.append(metrics)
    if name:
        if not items:
            raise _not_found(POD_METRICS, name, namespace)
        return _item("PodMetrics", items[0])
    return _listing("PodMetrics", items)
