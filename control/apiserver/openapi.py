"""OpenAPI v3 documents: ``/openapi/v3`` lists one document per group version, and each document
describes the operations tinykube serves on its resources (paths, verbs, the query parameters
honoured, kube-apiserver's ``x-kubernetes-action`` and ``x-kubernetes-group-version-kind``).

kubectl reads them to learn that the server validates fields itself (the ``fieldValidation``
parameter of a kind's PATCH), and then skips its client-side schema validation. No schemas are
served (``components`` is empty, operations have no request or response body schema): tinykube
validates with its own models, and a document must not claim schemas it does not check. Without
request body content types, kubectl computes apply patches from its built-in types, as it does
with no OpenAPI at all. Pure, but for the blueprint's two routes.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from flask import Blueprint, Response

from common import errors
from common.resources import ResourceType
from control.apiserver.discovery import KUBERNETES_VERSION, group_versions

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
_QUERY = {
    "list": ("labelSelector", "fieldSelector", "watch", "resourceVersion", "timeoutSeconds",
             "allowWatchBookmarks"),
    "delete": ("gracePeriodSeconds", "propagationPolicy"),
}  # fmt: skip


def _param(name: str, where: str = "query") -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "in": where, "schema": {"type": "string"}}
    if where == "path":
        out["required"] = True
    return out


def _gvk(rt: ResourceType) -> dict[str, str]:
    return {"group": rt.group, "version": rt.version, "kind": rt.kind}


def _operation(rt: ResourceType, verb: str, action: str, namespaced: bool) -> dict[str, Any]:
    group = rt.group.split(".")[0].capitalize() if rt.group else "Core"
    if action == "list" and rt.namespaced and not namespaced:
        noun = f"{rt.kind}ForAllNamespaces"
    else:
        noun = ("Namespaced" if namespaced else "") + rt.kind
    params = [_FIELD_VALIDATION] if action in ("post", "put", "patch") else []
    params += [_param(p) for p in _QUERY.get(action, ())]
    return {
        "operationId": f"{verb}{group}{rt.version.capitalize()}{noun}",
        "parameters": params,
        "responses": {"200": {"description": "OK"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": _gvk(rt),
    }


def _paths(rt: ResourceType) -> dict[str, Any]:
    base = f"/apis/{rt.group}/{rt.version}" if rt.group else f"/api/{rt.version}"
    scoped = f"{base}/namespaces/{{namespace}}" if rt.namespaced else base
    scoped += f"/{rt.plural}"
    path_params = [_param("namespace", "path")] if rt.namespaced else []
    out: dict[str, Any] = {
        scoped: {
            "get": _operation(rt, "list", "list", rt.namespaced),
            "post": _operation(rt, "create", "post", rt.namespaced),
            "parameters": path_params,
        },
        f"{scoped}/{{name}}": {
            "get": _operation(rt, "read", "get", rt.namespaced),
            "put": _operation(rt, "replace", "put", rt.namespaced),
            "patch": _operation(rt, "patch", "patch", rt.namespaced),
            "delete": _operation(rt, "delete", "delete", rt.namespaced),
            "parameters": [_param("name", "path"), *path_params],
        },
    }
    if rt.namespaced:
        out[f"{base}/{rt.plural}"] = {"get": _operation(rt, "list", "list", False)}
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
        "components": {"schemas": {}},
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
        digest = hashlib.sha512(_encoded(document(api_version))).hexdigest().upper()
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
    return Response(_encoded(document(api_version)), mimetype="application/json")
