"""The API server's own metrics: every request counted and timed as kube-apiserver's
``apiserver_request_total`` and ``apiserver_request_duration_seconds``, open watches and streams
in ``apiserver_longrunning_requests``, and ``GET /metrics`` (admins only, as kube-apiserver's
``system:monitoring`` path). ``request_info`` is pure; ``install`` wires the hooks."""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, Response, g, request

from common import errors, metrics
from control.apiserver import query
from control.apiserver.auth import MASTERS_GROUP
from control.apiserver.inflight import LONG_RUNNING_SUBRESOURCES, Kind, classify
from control.apiserver.rest import parse_target

blueprint = Blueprint("metrics", __name__)
# Subresources served as a stream over an upgraded connection: kube-apiserver's CONNECT verb.
CONNECT_SUBRESOURCES = LONG_RUNNING_SUBRESOURCES - {"log"}
APPLY_PATCH = "application/apply-patch+yaml"
# Label sets whose series are kept at hand (the verbs, resources, scopes and codes in use).
SERIES_CACHE = 4096


@dataclass(frozen=True)
class Info:
    """The labels of one request (kube-apiserver's RequestInfo, cleaned as its metrics do)."""

    verb: str
    dry_run: str = ""
    group: str = ""
    version: str = ""
    resource: str = ""
    subresource: str = ""
    scope: str = ""

    def labels(self) -> tuple[str, ...]:
        return (self.verb, self.dry_run, self.group, self.version, self.resource,
                self.subresource, self.scope)  # fmt: skip


def request_info(method: str, path: str, args: Mapping[str, str], content_type: str = "") -> Info:
    """The request's labels. A path that names no served resource is counted as a non-resource
    request (verb = the HTTP method, no resource), so no client can make up label values."""
    parts = path.strip("/").split("/")
    if parts[:2] == ["api", "v1"]:
        group, version, rest = "", "v1", parts[2:]
    elif parts[0] == "apis" and len(parts) > 3:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return Info(method.upper())
    try:
        t = parse_target(group, version, rest)
    except errors.ApiError:
        return Info(method.upper())
    scope = "resource" if t.name else "namespace" if t.namespace else "cluster"
    return Info(
        _verb(method, bool(t.name), t.sub, args, content_type),
        "All" if args.get("dryRun") == "All" else "",
        t.rt.group,
        t.rt.version,
        t.rt.plural,
        t.sub,
        scope,
    )


def _verb(method: str, named: bool, sub: str, args: Mapping[str, str], content_type: str) -> str:
    if sub in CONNECT_SUBRESOURCES:
        return "CONNECT"
    if method == "GET" and not named:
        try:
            return "WATCH" if query.flag(args, "watch") else "LIST"
        except errors.BadRequestError:
            return "LIST"
    if method == "DELETE" and not named:
        return "DELETECOLLECTION"
    if method == "PATCH" and content_type.split(";")[0].strip() == APPLY_PATCH:
        return "APPLY"
    return method.upper()


def install(app: Flask) -> None:
    """Time every request (register before authentication, so refusals count too)."""

    @app.before_request
    def start() -> None:
        g.metrics_start = time.perf_counter()

    @app.after_request
    def record(resp: Response) -> Response:
        start = g.pop("metrics_start", None)
        if start is None:
            return resp
        req = request._get_current_object()  # type: ignore[attr-defined]
        method, path, args = req.method, req.path, req.args
        info = request_info(method, path, args, req.content_type or "")
        code = str(resp.status_code)
        long_running = classify(method, path, args) is Kind.LONG_RUNNING
        if resp.is_streamed and long_running:
            gauge = metrics.APISERVER_LONGRUNNING.labels(
                info.verb, info.group, info.version, info.resource, info.subresource, info.scope,
                "apiserver",
            )  # fmt: skip
            gauge.inc()

            def closed() -> None:
                gauge.dec()
                metrics.APISERVER_REQUESTS.labels(*info.labels(), "apiserver", code).inc()

            resp.call_on_close(closed)
            return resp
        counter, timer = _series(info, code)
        counter.inc()
        timer.observe(metrics.since(start))
        return resp

    app.register_blueprint(blueprint)


@functools.lru_cache(maxsize=SERIES_CACHE)
def _series(info: Info, code: str) -> tuple[Any, Any]:
    """The counter and histogram series of a request's labels, looked up once per label set
    (prometheus-client's ``labels`` validates and locks on every call)."""
    labels = info.labels()
    return (
        metrics.APISERVER_REQUESTS.labels(*labels, "apiserver", code),
        metrics.APISERVER_REQUEST_DURATION.labels(*labels, "apiserver"),
    )


@blueprint.get("/metrics")
def serve() -> Response:
    user = g.get("user")
    if user is None or MASTERS_GROUP not in user.groups:
        name = user.name if user is not None else "system:anonymous"
        raise errors.ForbiddenError(f'forbidden: User "{name}" cannot get path "/metrics"')
    return Response(metrics.exposition(), mimetype=None, content_type=metrics.CONTENT_TYPE)
