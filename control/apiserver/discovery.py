"""API discovery: ``/version``, ``/api``, ``/apis`` and the resource list of each group version,
built from ``common.resources`` so every served type is discoverable (kubectl's short names come
from here)."""

from __future__ import annotations

import platform
from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from common.resources import RESOURCES, ResourceType
from control.apiserver.resourcemetrics import METRICS
from control.apiserver.reviews import REVIEWS
from control.apiserver.tokens import TOKEN_REVIEW

blueprint = Blueprint("discovery", __name__)

KUBERNETES_VERSION = ("1", "35", "v1.35.0-tinykube")
VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]
SUBRESOURCE_KINDS = {"log": "Pod", "exec": "PodExecOptions", "portforward": "PodPortForwardOptions",
                     "attach": "PodAttachOptions",
                     "binding": "Binding", "status": None, "scale": "Scale",
                     "eviction": "Eviction", "ephemeralcontainers": "Pod",
                     "token": "TokenRequest"}  # fmt: skip
SUBRESOURCE_VERBS = {"log": ["get"], "exec": ["create", "get"], "portforward": ["create", "get"],
                     "attach": ["create", "get"],
                     "binding": ["create"], "status": ["get", "patch", "update"],
                     "scale": ["get", "patch", "update"], "finalize": ["update"],
                     "eviction": ["create"], "token": ["create"],
                     "ephemeralcontainers": ["get", "patch", "update"]}  # fmt: skip
# Resources served by routes of their own, not stored: (type, verbs).
UNSTORED: tuple[tuple[ResourceType, list[str]], ...] = (
    *((r, ["create"]) for r in REVIEWS),
    (TOKEN_REVIEW, ["create"]),
    *((m, ["get", "list"]) for m in METRICS),
)
# Subresources served in another group version than their parent (group, version).
SUBRESOURCE_GROUPS = {"scale": ("autoscaling", "v1"), "eviction": ("policy", "v1"),
                      "token": ("authentication.k8s.io", "v1")}  # fmt: skip


def group_versions() -> dict[str, list[ResourceType]]:
    out: dict[str, list[ResourceType]] = {}
    for rt in RESOURCES:
        out.setdefault(rt.api_version, []).append(rt)
    return out


def served_versions() -> list[str]:
    """Every group version discovery lists: the stored kinds', then the others'."""
    versions = list(group_versions()) + [r.api_version for r, _ in UNSTORED]
    return list(dict.fromkeys(versions))


def resource_list(api_version: str) -> dict[str, Any]:
    resources: list[dict[str, Any]] = []
    for rt in group_versions().get(api_version, []):
        entry: dict[str, Any] = {
            "name": rt.plural,
            "singularName": rt.singular,
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": VERBS + (["deletecollection"] if rt.namespaced else []),
        }
        if rt.short_names:
            entry["shortNames"] = list(rt.short_names)
        if rt.categories:
            entry["categories"] = list(rt.categories)
        resources.append(entry)
        for sub in rt.subresources:
            resources.append({
                "name": f"{rt.plural}/{sub}",
                "singularName": "",
                "namespaced": rt.namespaced,
                **_group_version(sub),
                "kind": SUBRESOURCE_KINDS.get(sub) or rt.kind,
                "verbs": SUBRESOURCE_VERBS.get(sub, ["get"]),
            })  # fmt: skip
    resources.extend({"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
                      "kind": r.kind, "verbs": verbs}
                     for r, verbs in UNSTORED if r.api_version == api_version)  # fmt: skip
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": api_version,
            "resources": resources}  # fmt: skip


def _group_version(sub: str) -> dict[str, str]:
    if sub not in SUBRESOURCE_GROUPS:
        return {}
    group, version = SUBRESOURCE_GROUPS[sub]
    return {"group": group, "version": version}


@blueprint.get("/version")
@blueprint.get("/version/", endpoint="version_slash")  # the Python client's VersionApi asks so
def version() -> ResponseReturnValue:
    major, minor, git = KUBERNETES_VERSION
    machine = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    return jsonify({"major": major, "minor": minor, "gitVersion": git, "gitCommit": "",
                    "gitTreeState": "clean", "buildDate": "", "goVersion": "",
                    "compiler": "cpython", "platform": f"linux/{machine}"})  # fmt: skip


@blueprint.get("/api")
def api() -> ResponseReturnValue:
    return jsonify({"kind": "APIVersions", "versions": ["v1"],
                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                                    "serverAddress": request.host}]})  # fmt: skip


@blueprint.get("/apis")
def apis() -> ResponseReturnValue:
    groups = []
    for api_version in served_versions():
        if "/" not in api_version:
            continue
        group, ver = api_version.split("/")
        gv = {"groupVersion": api_version, "version": ver}
        groups.append({"name": group, "versions": [gv], "preferredVersion": gv})
    return jsonify({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})


@blueprint.get("/api/v1")
def core_v1() -> ResponseReturnValue:
    return jsonify(resource_list("v1"))


@blueprint.get("/apis/<group>/<version>")
def group_version(group: str, version: str) -> ResponseReturnValue:
    listing = resource_list(f"{group}/{version}")
    if not listing["resources"]:
        return jsonify({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                        "message": "the server could not find the requested resource",
                        "reason": "NotFound", "code": 404}), 404  # fmt: skip
    return jsonify(listing)


@blueprint.get("/apis/<group>")
def group(group: str) -> ResponseReturnValue:
    versions = [{"groupVersion": gv, "version": gv.split("/")[1]}
                for gv in served_versions() if gv.startswith(group + "/")]  # fmt: skip
    if not versions:
        return jsonify({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                        "message": "the server could not find the requested resource",
                        "reason": "NotFound", "code": 404}), 404  # fmt: skip
    return jsonify({"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": versions,
                    "preferredVersion": versions[0]})  # fmt: skip
