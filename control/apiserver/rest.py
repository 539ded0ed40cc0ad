"""The REST routes of every resource: Kubernetes paths parsed into (resource, namespace, name,
subresource), authorized, then handed to the registry. Watches stream newline-delimited JSON."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, cast

from flask import Blueprint, Response, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue

from common import errors
from common.resources import ResourceType, by_plural, must
from common.selectors import parse_field_selector
from control.apiserver import (
    clientconn,
    logs,
    nodegraph,
    output,
    parking,
    protobody,
    query,
    writeoptions,
)
from control.apiserver.auth import Attributes, authorize, object_name
from control.apiserver.body import Body, decode_json, decode_yaml
from control.cache.ring import Delivered
from control.registry import eviction, freshness, managedfields, noderestriction, reads, recorder
from control.registry import strategies as st
from control.registry.dryrun import ALL as DRY_RUN_ALL
from control.registry.registry import Registry

blueprint = Blueprint("rest", __name__)

VERBS = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
PODS = must("pods")
# Subresources that a PUT/PATCH may target, and those served by other handlers.
WRITABLE_SUBRESOURCES = ("status", "scale", "finalize", "ephemeralcontainers")
# Subresources of namespaces, which would otherwise read as a resource inside a namespace.
NAMESPACE_SUBRESOURCES = ("status", "finalize")
# The values of the fieldValidation query parameter (kube-apiserver's, sorted as it lists them).
FIELD_VALIDATION = ("", "Ignore", "Strict", "Warn")


@dataclass(frozen=True)
class Target:
    rt: ResourceType
    namespace: str
    name: str
    sub: str


def parse_target(group: str, version: str, parts: list[str]) -> Target:
    """``[namespaces/NS/]RESOURCE[/NAME[/SUB]]`` → Target, Kubernetes' path grammar."""
    namespace = ""
    if (
        len(parts) >= 3
        and parts[0] == "namespaces"
        and not (len(parts) == 3 and parts[2] in NAMESPACE_SUBRESOURCES)
    ):
        namespace, parts = parts[1], parts[2:]
    if not parts or len(parts) > 3 or any(not p for p in parts):
        raise errors.NotFoundError("the server could not find the requested resource")
    rt = by_plural(group, version, parts[0])
    if rt is None or (namespace and not rt.namespaced):
        raise errors.NotFoundError("the server could not find the requested resource")
    name = parts[1] if len(parts) > 1 else ""
    sub = parts[2] if len(parts) > 2 else ""
    if sub and sub not in rt.subresources:
        raise errors.NotFoundError("the server could not find the requested resource")
    return Target(rt, namespace, name, sub)


def registry() -> Registry:
    reg: Registry = current_app.extensions["tinykube"]["registry"]
    return reg


@blueprint.route("/api/v1/<path:rest>", methods=METHODS)
def core(rest: str) -> ResponseReturnValue:
    return dispatch(parse_target("", "v1", rest.split("/")))


@blueprint.route("/apis/<group>/<version>/<path:rest>", methods=METHODS)
def grouped(group: str, version: str, rest: str) -> ResponseReturnValue:
    return dispatch(parse_target(group, version, rest.split("/")))


def dispatch(t: Target) -> ResponseReturnValue:
    req = request._get_current_object()  # type: ignore[attr-defined]
    method, args, user = req.method, req.args, g.user
    watching = method == "GET" and query.flag(args, "watch")
    verb = VERBS[method]
    if method == "GET" and not t.name:
        verb = "watch" if watching else "list"
    if method == "DELETE" and not t.name:
        verb = "deletecollection"
    if t.sub == "binding":
        verb = "create"
    attrs = Attributes(
        verb=verb,
        resource=t.rt.plural,
        group=t.rt.group,
        subresource=t.sub,
        namespace=t.namespace,
        name=t.name or _created_name(),
        field_selector=_equalities(t.rt, args.get("fieldSelector", "")),
    )
    obj = _stored_for_authorization(t)
    related = nodegraph.related(user.node, t.rt, t.namespace, object_name(attrs))
    authorize(user, attrs, obj, related)
    query.check(args)  # after authorization, as kube-apiserver decodes its options
    if t.sub == "log":
        return logs.proxy(t.namespace, t.name, current_app.extensions["tinykube"]["auth"])
    if t.sub == "token":
        from control.apiserver import tokens  # imports this module: served from there

        return tokens.token_request(t.namespace, t.name)
    if t.sub in ("exec", "attach", "portforward"):
        raise errors.MethodNotAllowedError(f"{t.sub} is not supported by this server yet")
    out = output.negotiated(t.rt, t.sub)
    agent = req.headers.get("User-Agent", "")
    manager = writeoptions.field_manager(method, args, agent)
    with (
        recorder.recording(),
        noderestriction.requested_by(user.node),
        managedfields.managing(manager),
    ):
        if t.rt.deprecation:
            recorder.add(t.rt.deprecation)
        if not t.name:
            return collection(t, watching, out)
        return item(t, out)


def collection(t: Target, watching: bool, out: output.Output) -> ResponseReturnValue:
    reg = registry()
    args = request.args
    if request.method == "GET":
        if t.rt.namespaced is False and t.namespace:
            raise errors.NotFoundError("the server could not find the requested resource")
        if watching:
            return watch(t, out)
        options = reads.ListOptions(
            resource_version=args.get("resourceVersion", ""),
            match=args.get("resourceVersionMatch", ""),
            limit=query.integer(args, "limit") or 0,
            continue_token=args.get("continue", ""),
        )
        freshness.minimum_revision(options.resource_version, options.match,
                                   continue_token=options.continue_token)  # fmt: skip
        listing = reg.list(
            t.rt,
            t.namespace,
            label_selector=args.get("labelSelector", ""),
            field_selector=args.get("fieldSelector", ""),
            options=options,
            verbatim=out.verbatim,
        )
        return out.respond(listing)
    if request.method == "POST":
        if t.rt.namespaced and not t.namespace:
            raise errors.NotFoundError("the server could not find the requested resource")
        reg = _writer(reg, _dry_run())
        b = request_body()
        obj, warnings = reg.create(t.rt, t.namespace, b.value, field_validation=_field_validation(),
                                   duplicates=b.duplicates, owned=True)  # fmt: skip
        for w in warnings:
            recorder.add(w)  # sent with the others, one Warning header each
        return out.respond(obj, 201)
    if request.method == "DELETE" and t.rt.namespaced and t.namespace:
        options = _delete_options()
        deleted = _writer(reg, _dry(options)).delete_collection(
            t.rt, t.namespace, options, label_selector=args.get("labelSelector", ""),
            field_selector=args.get("fieldSelector", ""),
        )  # fmt: skip
        return out.respond(deleted)
    raise errors.MethodNotAllowedError(
        f"the server does not allow this method on the requested resource ({request.method})"
    )


def item(t: Target, out: output.Output) -> ResponseReturnValue:
    reg = registry()
    method = request.method
    if t.sub and t.sub not in WRITABLE_SUBRESOURCES and t.sub not in ("binding", "eviction"):
        raise errors.NotFoundError("the server could not find the requested resource")
    if t.sub == "eviction":
        return _evict(reg, t)
    if t.sub == "binding":
        if method != "POST":
            raise errors.MethodNotAllowedError("bindings can only be created")
        return out.respond(_writer(reg, _dry_run()).bind(t.namespace, t.name, body()), 201)
    if method == "GET":
        _wait_fresh("")  # GetOptions has no resourceVersionMatch
        if t.sub == "scale":
            return out.respond(reg.get_scale(t.rt, t.namespace, t.name))
        cached = request.args.get("resourceVersion") == "0"
        return out.respond(reg.get(t.rt, t.namespace, t.name, cached=cached))
    if method == "DELETE" and not t.sub:
        options = _delete_options()
        return out.respond(_writer(reg, _dry(options)).delete(t.rt, t.namespace, t.name, options))
    if method == "PATCH":
        writeoptions.check_patch_type(request.headers.get("Content-Type"))
    reg = _writer(reg, _dry_run())
    if method == "PUT":
        b = request_body()
        return out.respond(reg.replace(t.rt, t.namespace, t.name, b.value, sub=t.sub,
                                       field_validation=_field_validation(),
                                       duplicates=b.duplicates, owned=True))  # fmt: skip
    if method == "PATCH":
        patched, created = _patch(reg, t)
        return out.respond(patched, 201 if created else 200)
    raise errors.MethodNotAllowedError(
        f"the server does not allow this method on the requested resource ({method})"
    )


def _evict(reg: Registry, t: Target) -> ResponseReturnValue:
    if request.method != "POST":
        raise errors.MethodNotAllowedError(
            f"the server does not allow this method on the requested resource ({request.method})"
        )
    evicting = reg.dry_running() if _dry_run() else reg
    status, code = eviction.evict(evicting, t.namespace, t.name, body())
    return jsonify(status), code


def _patch(reg: Registry, t: Target) -> tuple[dict[str, Any], bool]:
    """(the patched object, whether an apply created it)."""
    content_type = request.headers.get("Content-Type", "application/merge-patch+json")
    applying = content_type.split(";")[0].strip() == writeoptions.APPLY_PATCH
    writeoptions.check_patch_options(applying, request.args)
    b = request_body()
    if applying:
        force = query.flag(request.args, "force")
        return reg.apply(t.rt, t.namespace, t.name, b.value, force=force, sub=t.sub)
    # Repeated keys of the patch itself are listed first; a JSON patch's name its operations.
    prefix = "json patch " if content_type.startswith("application/json-patch") else ""
    dups = [replace(d, order=(), prefix=prefix) for d in b.duplicates]
    patched = reg.patch(t.rt, t.namespace, t.name, b.value, content_type, sub=t.sub,
                        field_validation=_field_validation(), duplicates=dups)  # fmt: skip
    return patched, False


def _delete_options() -> Any:
    """The DeleteOptions of the body, with those of the query (which win, as in Kubernetes)."""
    options = body(optional=True)
    if options is None:
        options = {}
    if not isinstance(options, dict):
        return options  # refused by the DeleteOptions decoder
    if request.args.get("gracePeriodSeconds"):
        options["gracePeriodSeconds"] = query.integer(request.args, "gracePeriodSeconds")
    if "propagationPolicy" in request.args:
        options["propagationPolicy"] = request.args["propagationPolicy"]
    if "dryRun" in request.args:
        options["dryRun"] = request.args.getlist("dryRun")
    return options


def watch(t: Target, out: output.Output) -> Response:
    args = request.args
    if query.flag(args, "sendInitialEvents"):
        raise errors.InvalidError(
            "sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled",
            [errors.Cause("sendInitialEvents", "FieldValueForbidden", "Forbidden")],
        )
    config = current_app.extensions["tinykube"]["config"]
    timeout = float(query.integer(args, "timeoutSeconds", 0) or config.watch_timeout)
    bookmarks = query.flag(args, "allowWatchBookmarks")
    freshness.minimum_revision(args.get("resourceVersion", ""),
                               args.get("resourceVersionMatch", ""), watch=True)  # fmt: skip
    # A bad selector or a store down fails here, as a Status; what happens once the 200 is sent
    # (an expired or too large resourceVersion) is an ERROR event, as Kubernetes answers it.
    environ = request.environ
    # A watched client ends the watch the moment it closes: no quiet wake-up is needed for it.
    quiet = timeout if clientconn.watchable(environ) else clientconn.CHECK_SECONDS
    # Once its first events are out, a watch of JSON lines waits for the next ones in the event
    # loop, not in a greenlet of its own, where the server can do that (parking).
    park = parking.available(environ) and not out.media.table_version
    if park:
        environ[parking.PARKS_KEY] = True
    events = registry().watch(
        t.rt,
        t.namespace,
        resource_version=args.get("resourceVersion", ""),
        label_selector=args.get("labelSelector", ""),
        field_selector=args.get("fieldSelector", ""),
        poll=min(quiet, config.watch_poll, timeout),
        timeout=timeout,
        bookmarks=config.watch_poll if bookmarks else None,
        park=park,
    )
    if out.media.table_version:
        events = out.events(events)
    stream = _stream(events, timeout, lambda: clientconn.client_of(environ))
    # A Parked item is for the server (``httpworker.Parkable``), which only then is asked for it.
    return Response(cast(Iterator[bytes], stream), mimetype="application/json")


def _stream(
    events: Iterator[Mapping[str, Any] | reads.Parked | None],
    timeout: float,
    client_of: Callable[[], clientconn.Client],
) -> Iterator[bytes | reads.Parked]:
    """The watch's lines until its timeout, an ERROR, or its client closing the connection
    (which ends a wait for the next event at once where the client is watched; else a ``None``
    from ``events``, a quiet moment, is the time to look at it). An event of the watch cache is
    encoded once for all its watchers. A ``Parked`` watch is yielded to the server with its
    client, and the stream is closed when the server ends the watch."""
    deadline = time.monotonic() + timeout
    yield b""  # the status line and headers go out now, not with the first event
    client = client_of()  # in the greenlet that serves the stream, once it is served
    del client_of  # nor is the request's environ kept for the watch's life
    try:
        while True:
            with client.waiting():
                event = next(events, _END)
            if event is _END or client.gone:
                return
            if isinstance(event, reads.Parked):
                event.client = client
                yield event
                return
            if isinstance(event, Delivered):
                yield event.line()
            elif event is not None:
                yield (json.dumps(event, separators=(",", ":")) + "\n").encode()
            event = None  # not kept through the wait for the next one
            if time.monotonic() >= deadline:
                return
    except clientconn.ClientGone:
        return
    except (errors.GoneError, errors.ServiceUnavailableError, errors.ServerTimeoutError) as e:
        yield (json.dumps({"type": "ERROR", "object": e.to_status()}) + "\n").encode()
    finally:
        client.close()


# The end of a watch's events.
_END: Any = object()


def body(optional: bool = False) -> Any:
    return request_body(optional).value


def request_body(optional: bool = False) -> Body:
    """The request's body as a JSON value (decoded once per request)."""
    cached: Body | None = g.get("tinykube_body")
    if cached is not None:
        return cached
    raw = request.get_data(cache=True)
    if not raw:
        if optional:
            return Body(None)
        raise errors.BadRequestError("the request body is empty")
    content_type = request.headers.get("Content-Type", "application/json")
    if content_type.split(";")[0].strip() == protobody.MEDIA_TYPE:
        decoded = Body(protobody.decode(raw))
    elif "protobuf" in content_type or "cbor" in content_type:
        raise errors.UnsupportedMediaTypeError(
            "the body of the request was in an unknown format - accepted media types include: "
            f"application/json, application/yaml, {protobody.MEDIA_TYPE}"
        )
    elif "yaml" in content_type:
        decoded = decode_yaml(raw)
    else:
        decoded = decode_json(raw)
    g.tinykube_body = decoded
    return decoded


def _stored_for_authorization(t: Target) -> dict[str, Any] | None:
    """Node users are authorized against the stored pod (is it bound to them?): as the watch
    cache holds it when it is bound to them there (a pod's node never changes, and a status
    write is judged again against the stored pod by NodeRestriction), else, and for a delete,
    as the store holds it."""
    node = g.user.node
    if node is None or t.rt.plural != "pods" or not t.name:
        return None
    if request.method != "DELETE":
        cached = registry().cache.cacher(t.rt).peek(t.namespace, t.name)
        if cached is not None and (cached.get("spec") or {}).get("nodeName") == node:
            return cached
    try:
        return registry().get(t.rt, t.namespace, t.name)
    except errors.NotFoundError:
        return None


def _created_name() -> str:
    """A create names its object in the body; authorizers judge it by that name."""
    if request.method != "POST":
        return ""
    data = body(optional=True)
    meta = data.get("metadata") if isinstance(data, dict) else None
    name = meta.get("name") if isinstance(meta, dict) else None
    return name if isinstance(name, str) else ""


def _equalities(rt: ResourceType, text: str) -> dict[str, str]:
    if not text:
        return {}
    selector = parse_field_selector(text, st.selectable_fields(rt), rt.kind)
    out = {}
    for f in st.selectable_fields(rt):
        value = selector.requirement(f)
        if value is not None:
            out[f] = value
    return out


def _field_validation() -> str:
    """The ``fieldValidation`` of a write: Strict (also when absent), Warn or Ignore."""
    value = request.args.get("fieldValidation", "")
    if value not in FIELD_VALIDATION:
        options = {"PUT": "UpdateOptions", "PATCH": "PatchOptions"}.get(request.method)
        supported = ", ".join(f'"{v}"' for v in FIELD_VALIDATION)
        message = f'Unsupported value: "{value}": supported values: {supported}'
        raise errors.InvalidError(
            f'{options or "CreateOptions"}.meta.k8s.io "" is invalid: fieldValidation: {message}',
            [errors.Cause("fieldValidation", "FieldValueNotSupported", message)],
        )
    return value or "Strict"


def _wait_fresh(match: str) -> int:
    """A GET or LIST at a resourceVersion is served no older than it (waiting up to 3 s)."""
    wanted = freshness.minimum_revision(request.args.get("resourceVersion", ""), match)
    if wanted:
        freshness.wait_fresh(registry().store, wanted)
    return wanted


def _dry_run() -> bool:
    """Whether a create, update or patch is ``dryRun=All`` (any other value is refused, as
    kube-apiserver validates its CreateOptions, UpdateOptions and PatchOptions)."""
    values = request.args.getlist("dryRun")
    if any(v != DRY_RUN_ALL for v in values):
        options = {"PUT": "UpdateOptions", "PATCH": "PatchOptions"}.get(request.method)
        shown = ", ".join(f'"{v}"' for v in values)
        message = f'Unsupported value: []string{{{shown}}}: supported values: "{DRY_RUN_ALL}"'
        raise errors.InvalidError(
            f'{options or "CreateOptions"}.meta.k8s.io "" is invalid: dryRun: {message}',
            [errors.Cause("dryRun", "FieldValueNotSupported", message)],
        )
    return bool(values)


def _dry(delete_options: Any) -> bool:
    """Whether DeleteOptions ask for a dry run (their values are validated by the delete)."""
    return isinstance(delete_options, dict) and bool(delete_options.get("dryRun"))


def _writer(reg: Registry, dry_run: bool) -> Registry:
    """The registry a write goes through: with ``dryRun=All``, one that stores nothing."""
    return reg.dry_running() if dry_run else reg
