"""OpenAPI documents: ``/openapi/v3`` lists one document per group version, each describing the
operations tinykube serves on its resources (paths, verbs, the query parameters honoured, request
and response bodies, kube-apiserver's ``x-kubernetes-action`` and
``x-kubernetes-group-version-kind``) with the schemas of every kind in ``components``;
``/openapi/v2`` is the same as one Swagger 2.0 document. The schemas are generated from the
models the server decodes with (``control.apiserver.openapischema``).

kubectl reads v3 for ``explain``, for the patch strategy of ``apply`` and to learn that the
server validates fields itself (the ``fieldValidation`` parameter of a kind's PATCH). v2 is served
as JSON, or in the protobuf encoding client-go's ``OpenAPISchema`` asks for
(``control.apiserver.openapiproto``). Pure, but for the blueprint's routes.
"""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Any

from flask import Blueprint, Response, request

from common import errors
from common.resources import ResourceType
from control.apiserver import openapiproto
from control.apiserver import openapischema as oas
from control.apiserver.discovery import KUBERNETES_VERSION, group_versions
from control.registry.registry import PATCHERS

blueprint = Blueprint("openapi", __name__)

OPENAPI_VERSION = "3.0.0"
_FIELD_VALIDATION = {
    "name": "fieldValidation",
    "in": "query",
    "description": "How the server handles fields of the body it does not know: Ignore drops "
    "them, Warn drops them and answers a Warning header for each, Strict (the default) rejects "
    "the request with a BadRequest naming them.",
    "schema": {"type": "string", "uniqueItems": True},
}
_DRY_RUN = {
    "name": "dryRun",
    "in": "query",
    "description": "When present, indicates that modifications should not be persisted. An "
    "invalid or unrecognized dryRun directive will result in an error response and no further "
    "processing of the request. Valid values are: - All: all dry run stages will be processed",
    "schema": {"type": "string", "uniqueItems": True},
}
_QUERY = {
    "list": ("labelSelector", "fieldSelector", "watch", "resourceVersion", "timeoutSeconds",
             "allowWatchBookmarks"),
    "delete": ("gracePeriodSeconds", "propagationPolicy"),
    "deletecollection": ("labelSelector", "fieldSelector", "gracePeriodSeconds",
                         "propagationPolicy"),
}  # fmt: skip


def _param(name: str, where: str = "query") -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "in": where, "schema": {"type": "string"}}
    if where == "path":
        out["required"] = True
    return out


# Subresources described, and the kind their bodies are (None: the resource's own kind).
SUBRESOURCES: dict[str, str | None] = {"status": None, "scale": "Scale"}
WRITES = ("post", "put", "patch", "delete", "deletecollection")


def _gvk(rt: ResourceType, sub: str = "") -> dict[str, str]:
    if SUBRESOURCES.get(sub) == "Scale":
        return {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    return {"group": rt.group, "version": rt.version, "kind": rt.kind}


def _content(schema: dict[str, Any], types: tuple[str, ...] = ("application/json",)) -> Any:
    return {t: {"schema": schema} for t in types}


def _operation(
    rt: ResourceType, verb: str, action: str, namespaced: bool, sub: str = ""
) -> dict[str, Any]:
    group = rt.group.split(".")[0].capitalize() if rt.group else "Core"
    if action == "list" and rt.namespaced and not namespaced:
        noun = f"{rt.kind}ForAllNamespaces"
    else:
        noun = ("Namespaced" if namespaced else "") + rt.kind + sub.capitalize()
    params = [_FIELD_VALIDATION] if action in ("post", "put", "patch") else []
    if action in WRITES:
        params.append(_DRY_RUN)
    params += [_param(p) for p in _QUERY.get(action, ())]
    names = _kind_names()
    body = oas.V3.ref(names[SUBRESOURCES.get(sub) or rt.kind])
    listed = action in ("list", "deletecollection")
    returned = oas.V3.ref(names[rt.kind] + "List") if listed else body
    out: dict[str, Any] = {
        "operationId": f"{verb}{group}{rt.version.capitalize()}{noun}",
        "parameters": params,
        "responses": {"200": {"description": "OK", "content": _content(returned)}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": _gvk(rt, sub),
    }
    if action in ("post", "put"):
        out["requestBody"] = {"content": _content(body), "required": True}
    elif action == "patch":
        patch = {"type": "object"}
        out["requestBody"] = {"content": _content(patch, tuple(PATCHERS)), "required": True}
    elif action in ("delete", "deletecollection"):
        options = oas.V3.ref(names["DeleteOptions"])
        out["requestBody"] = {"content": _content(options)}
    return out


def _kind_names() -> dict[str, str]:
    return oas.definitions(oas.V3)[1]


def _paths(rt: ResourceType) -> dict[str, Any]:
    base = f"/apis/{rt.group}/{rt.version}" if rt.group else f"/api/{rt.version}"
    scoped = f"{base}/namespaces/{{namespace}}" if rt.namespaced else base
    scoped += f"/{rt.plural}"
    path_params = [_param("namespace", "path")] if rt.namespaced else []
    ns = rt.namespaced
    out: dict[str, Any] = {
        scoped: {
            "get": _operation(rt, "list", "list", ns),
            "post": _operation(rt, "create", "post", ns),
            "parameters": path_params,
        },
        f"{scoped}/{{name}}": {
            "get": _operation(rt, "read", "get", ns),
            "put": _operation(rt, "replace", "put", ns),
            "patch": _operation(rt, "patch", "patch", ns),
            "delete": _operation(rt, "delete", "delete", ns),
            "parameters": [_param("name", "path"), *path_params],
        },
    }
    if ns:
        out[scoped]["delete"] = _operation(rt, "deletecollection", "deletecollection", ns)
        out[f"{base}/{rt.plural}"] = {"get": _operation(rt, "list", "list", False)}
    for sub in SUBRESOURCES:
        if sub in rt.subresources:
            out[f"{scoped}/{{name}}/{sub}"] = {
                "get": _operation(rt, "read", "get", ns, sub),
                "put": _operation(rt, "replace", "put", ns, sub),
                "patch": _operation(rt, "patch", "patch", ns, sub),
                "parameters": [_param("name", "path"), *path_params],
            }
    return out


def document(api_version: str) -> dict[str, Any]:
    """The OpenAPI v3 document of one group version (``v1``, ``apps/v1``)."""
    paths: dict[str, Any] = {}
    for rt in group_versions().get(api_version, []):
        paths.update(_paths(rt))
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION[2]},
        "paths": paths,
        "components": {"schemas": oas.definitions(oas.V3)[0]},
    }


def _url_path(api_version: str) -> str:
    """``api/v1`` or ``apis/GROUP/VERSION``: the names kubectl looks documents up by."""
    return f"apis/{api_version}" if "/" in api_version else f"api/{api_version}"


def _encoded(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


def index() -> dict[str, Any]:
    """``/openapi/v3``: each document's URL, with a hash of its content (as kube-apiserver's,
    so clients may cache a document for as long as its URL does not change)."""
    paths = {}
    for api_version in group_versions():
        digest = hashlib.sha512(_document_bytes(api_version)).hexdigest().upper()
        url = f"/openapi/v3/{_url_path(api_version)}?hash={digest}"
        paths[_url_path(api_version)] = {"serverRelativeURL": url}
    return {"paths": paths}


@blueprint.get("/openapi/v3")
def openapi_index() -> Response:
    return Response(_encoded(index()), mimetype="application/json")


@blueprint.get("/openapi/v3/api/<version>")
@blueprint.get("/openapi/v3/apis/<group>/<version>")
def openapi_document(version: str, group: str = "") -> Response:
    api_version = f"{group}/{version}" if group else version
    if api_version not in group_versions():
        raise errors.NotFoundError("the server could not find the requested resource")
    return Response(_document_bytes(api_version), mimetype="application/json")


@functools.cache
def _document_bytes(api_version: str) -> bytes:
    """A group version's document, encoded once (the served kinds do not change)."""
    return _encoded(document(api_version))


def swagger() -> dict[str, Any]:
    """``/openapi/v2``: every group version's paths and every schema, as Swagger 2.0."""
    paths: dict[str, Any] = {}
    for api_version in group_versions():
        for path, item in document(api_version)["paths"].items():
            paths[path] = {verb: _v2_operation(op) if isinstance(op, dict) else
                           [_v2_param(p) for p in op] for verb, op in item.items()}  # fmt: skip
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION[2]},
        "paths": paths,
        "definitions": oas.definitions(oas.V2)[0],
    }


def _v2_ref(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref", "")
    return oas.V2.ref(ref.rsplit("/", 1)[1]) if ref else schema


def _v2_param(param: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in param.items() if k != "schema"}
    out.update(param.get("schema") or {})
    return out


def _v2_operation(op: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in op.items() if k not in ("requestBody", "responses", "parameters")}
    params = [_v2_param(p) for p in op.get("parameters", [])]
    body = op.get("requestBody")
    if body:
        content = body["content"]
        first = next(iter(content.values()))["schema"]
        params.append({"name": "body", "in": "body", "required": bool(body.get("required")),
                       "schema": _v2_ref(first)})  # fmt: skip
        out["consumes"] = list(content)
    out["parameters"] = params
    ok: dict[str, Any] = {"description": "OK"}
    for media in op["responses"]["200"].get("content", {}).values():
        ok["schema"] = _v2_ref(media["schema"])
    out["responses"] = {"200": ok}
    out["produces"] = ["application/json", "application/yaml"]
    return out


JSON_TYPES = ("application/json", "*/*", "application/*")


def _v2_media_type() -> str:
    """The first encoding of ``/openapi/v2`` the request accepts: JSON or gnostic's protobuf
    (client-go's ``OpenAPISchema`` asks for the latter only); 406 for anything else."""
    accept = request.headers.get("Accept", "") or "application/json"
    for part in accept.split(","):
        media = part.split(";")[0].strip()
        if media in JSON_TYPES:
            return "application/json"
        if media in openapiproto.ACCEPTED:
            return openapiproto.MEDIA_TYPE
    raise errors.NotAcceptableError(
        "only the following media types are accepted: application/json, " + openapiproto.MEDIA_TYPE
    )


@functools.cache
def _v2_encoded(media_type: str) -> bytes:
    """The document in one encoding, made once (the served kinds do not change)."""
    doc = swagger()
    return _encoded(doc) if media_type == "application/json" else openapiproto.document(doc)


@blueprint.get("/openapi/v2")
def openapi_v2() -> Response:
    media_type = _v2_media_type()
    return Response(_v2_encoded(media_type), mimetype=media_type)
