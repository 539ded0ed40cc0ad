"""``pods/NAME/log``: the API server asks the pod's node agent for the container's log and streams
it back, as kube-apiserver proxies to the kubelet. It authenticates to the agent with that node's
own token, which only the node and the API server hold."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import requests
from flask import Response, current_app, request, stream_with_context

from common import errors, podrefs
from common.resources import must
from control.apiserver import clientconn
from control.apiserver.auth import NODE_PREFIX, TokenAuthenticator

log = logging.getLogger(__name__)

LOG_PARAMS = ("tailLines", "follow", "previous", "timestamps", "sinceSeconds", "limitBytes")


def node_endpoint(node: dict[str, Any]) -> str:
    status = node.get("status") or {}
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")
    addresses = {a.get("type"): a.get("address") for a in status.get("addresses") or []}
    host = addresses.get("InternalIP") or addresses.get("Hostname")
    if not port or not host:
        raise errors.ServiceUnavailableError(
            f'node "{node["metadata"]["name"]}" does not publish an endpoint for logs'
        )
    if ":" in str(host):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def container_of(pod: dict[str, Any], requested: str | None) -> str:
    """The container a log, exec or attach is for: any kind of container may be named (the
    debugging one kubectl debug attaches to is ephemeral); unnamed, the only regular one."""
    spec = pod.get("spec") or {}
    regular = [str(c["name"]) for c in spec.get("containers") or []]
    names = [str(c["name"]) for key in podrefs.CONTAINER_LISTS for c in spec.get(key) or []]
    name = pod["metadata"]["name"]
    if requested:
        if requested not in names:
            raise errors.BadRequestError(f"container {requested} is not valid for pod {name}")
        return requested
    if len(regular) == 1:
        return regular[0]
    raise errors.BadRequestError(
        f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]"
    )


def previous_container(pod: dict[str, Any], container: str) -> str:
    """The container ``logs --previous`` reads: the kubelet serves the one its status reports in
    ``lastState.terminated``, whatever else the runtime still holds."""
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    for s in statuses:
        if s.get("name") == container:
            terminated = (s.get("lastState") or {}).get("terminated") or {}
            if terminated.get("containerID"):
                return str(terminated["containerID"])
    name = pod["metadata"]["name"]
    raise errors.BadRequestError(
        f'previous terminated container "{container}" in pod "{name}" not found'
    )


def proxy(namespace: str, name: str, auth: TokenAuthenticator) -> Response:
    reg = current_app.extensions["tinykube"]["registry"]
    pod = reg.get(must("pods"), namespace, name)
    container = container_of(pod, request.args.get("container"))
    node_name = (pod.get("spec") or {}).get("nodeName")
    if not node_name:
        raise errors.BadRequestError(
            f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating'
        )
    node = reg.get(must("nodes"), "", node_name)
    token = auth.token_of(NODE_PREFIX + node_name)
    url = f"{node_endpoint(node)}/containerLogs/{namespace}/{name}/{container}"
    params = {k: request.args[k] for k in LOG_PARAMS if k in request.args}
    if request.args.get("previous", "").lower() in ("true", "1"):
        params["containerID"] = previous_container(pod, container)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        upstream = requests.get(url, params=params, headers=headers, stream=True, timeout=(5, None))
    except requests.RequestException as e:
        raise errors.ServiceUnavailableError(
            f'unable to reach the agent of node "{node_name}": {e}'
        ) from e
    if upstream.status_code >= 400:
        text = upstream.text.strip()
        upstream.close()
        err = errors.from_status({"code": upstream.status_code, "message": text})
        raise err
    environ = request.environ
    relayed = _relay(upstream, lambda: clientconn.client_of(environ))
    return Response(stream_with_context(relayed), mimetype="text/plain")


def _relay(
    upstream: requests.Response, client_of: Callable[[], clientconn.Client]
) -> Iterator[bytes]:
    """The agent's log until it ends it or the client closes its connection: a followed log
    of a quiet container ends (and lets go of the agent's connection) the moment its client
    closes, not at the container's next line."""
    client = client_of()  # in the greenlet that serves the stream, once it is served
    chunks = upstream.iter_content(chunk_size=None)
    try:
        while True:
            with client.waiting():
                chunk = next(chunks, None)
            if chunk is None or client.gone:
                return
            yield chunk
    except clientconn.ClientGone:
        return
    except requests.RequestException as e:
        log.info("log stream from agent ended: %s", e)
    finally:
        client.close()
        upstream.close()
