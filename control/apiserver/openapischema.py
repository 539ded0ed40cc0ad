"""The OpenAPI schemas of the served kinds, generated from the pydantic models the API server
decodes request bodies with (``control.validation.SCHEMAS``), so the two cannot drift: every
model becomes a definition named as Kubernetes names it (``io.k8s.api.core.v1.Pod``), with the
Kubernetes description of its common fields, the required fields validation enforces, and the
``x-kubernetes-*`` extensions (the group-version-kind of each kind; the patch strategy, merge key
and list type of the lists strategic merge patch merges by key). A kind registered with a schema
appears here with no other change. Pure.
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from common.patch import ATOMIC_MAPS, ATOMIC_STRUCTS, MERGE_KEYS, OTHER_KEYS, list_type
from common.resources import RESOURCES, ResourceType
from control.apiserver import openapidocs
from control.validation import SCHEMAS, container, kinds, pod
from control.validation.decode import unwrap
from control.validation.schema import GoType

Schema = dict[str, Any]

META = "io.k8s.apimachinery.pkg.apis.meta.v1"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
CORE = "io.k8s.api.core.v1"
# The module of the shared models (ObjectMeta, LabelSelector...): apimachinery's meta/v1.
META_MODULE = "control.validation.schema"
# Models whose Go package is not the one of the kind that first uses them.
PACKAGES = {
    "ObjectReference": CORE,
    "PodTemplateSpec": CORE,
    "LocalObjectReference": CORE,
    "Scale": "io.k8s.api.autoscaling.v1",
    "ScaleSpec": "io.k8s.api.autoscaling.v1",
    "ScaleStatus": "io.k8s.api.autoscaling.v1",
    "DeleteOptions": META,
    "Preconditions": META,
}
# Go types written as a JSON string, each with its own definition (as kube-openapi's).
SCALARS: dict[str, tuple[str, Schema, Schema]] = {
    # Go type: (definition, OpenAPI v2 schema, OpenAPI v3 schema)
    "resource.Quantity": (QUANTITY, {"type": "string"},
                          {"oneOf": [{"type": "string"}, {"type": "number"}]}),
    "intstr.IntOrString": (INT_OR_STRING, {"type": "string", "format": "int-or-string"},
                           {"x-kubernetes-int-or-string": True}),
    "v1.Time": (f"{META}.Time", {"type": "string", "format": "date-time"},
                {"type": "string", "format": "date-time"}),
    "v1.MicroTime": (f"{META}.MicroTime", {"type": "string", "format": "date-time"},
                     {"type": "string", "format": "date-time"}),
}  # fmt: skip
INTEGERS = {"int32": "int32", "int64": "int64"}
# Other Go types of values a custom validator checks, written as JSON strings.
STRINGS = {"[]byte": "byte"}
# Kinds served inside other resources (a subresource's body), with their group and version.
OTHER_KINDS = {"Scale": ("autoscaling", "v1")}
# The required fields kube-apiserver's validation refuses a write without (a test removes each
# from a valid object and expects the write to be refused): (model, JSON field name).
REQUIRED: frozenset[tuple[str, str]] = frozenset({
    ("Container", "name"),
    ("ContainerPort", "containerPort"),
    ("EnvVar", "name"),
    ("VolumeMount", "name"),
    ("VolumeMount", "mountPath"),
    ("Volume", "name"),
    ("PodSpec", "containers"),
    ("HTTPGetAction", "port"),
    ("TCPSocketAction", "port"),
    ("Sysctl", "name"),
    ("Taint", "key"),
    ("Taint", "effect"),
    ("DeploymentSpec", "selector"),
    ("DeploymentSpec", "template"),
    ("ReplicaSetSpec", "selector"),
    ("LabelSelectorRequirement", "key"),
    ("LabelSelectorRequirement", "operator"),
    ("OwnerReference", "apiVersion"),
    ("OwnerReference", "kind"),
    ("OwnerReference", "name"),
    ("OwnerReference", "uid"),
})  # fmt: skip


# The values validation accepts for a field (kube-openapi lists them as ``enum``, sorted); each
# is checked by a test against the validation it names.
ENUMS: dict[tuple[str, str], tuple[str, ...]] = {
    ("PodSpec", "restartPolicy"): pod.RESTART_POLICIES,
    ("PodSpec", "dnsPolicy"): pod.DNS_POLICIES,
    ("Container", "imagePullPolicy"): container.PULL_POLICIES,
    ("Container", "terminationMessagePolicy"): container.TERMINATION_MESSAGE_POLICIES,
    ("ContainerPort", "protocol"): container.PROTOCOLS,
    ("HTTPGetAction", "scheme"): container.HTTP_SCHEMES,
    ("Taint", "effect"): kinds.TAINT_EFFECTS,
}


@dataclass(frozen=True)
class Flavor:
    """What differs between the OpenAPI v2 and v3 documents: where definitions live and how
    the string-encoded Go types are written."""

    ref_prefix: str
    v3: bool

    def ref(self, name: str) -> Schema:
        return {"$ref": self.ref_prefix + name}


V2 = Flavor("#/definitions/", v3=False)
V3 = Flavor("#/components/schemas/", v3=True)


def fields(model: type[BaseModel]) -> Iterator[tuple[str, Any]]:
    """The model's (JSON name, annotation with its GoType) pairs, in declaration order."""
    for name, info in model.model_fields.items():
        go = [m for m in info.metadata if isinstance(m, GoType)]
        yield info.alias or name, typing.Annotated[info.annotation, *go] if go else info.annotation


def models_of(annotation: Any) -> Iterator[type[BaseModel]]:
    """The models a field refers to (directly, or as list items or map values)."""
    bare, _ = unwrap(annotation)
    if isinstance(bare, type) and issubclass(bare, BaseModel):
        yield bare
    for arg in typing.get_args(bare):
        yield from models_of(arg)


class Definitions:
    """Every model reachable from the served kinds, named by its Go package and type."""

    def __init__(self, kinds: dict[str, tuple[ResourceType | None, type[BaseModel]]]) -> None:
        self.kinds = kinds
        self.names: dict[type[BaseModel], str] = {}
        for rt, model in kinds.values():
            package = _package(rt) if rt else META
            self._name_all(model, package)

    def _name_all(self, model: type[BaseModel], package: str) -> None:
        if model in self.names:
            return
        own = PACKAGES.get(model.__name__)
        if own is None and model.__module__ == META_MODULE:
            own = META
        package = own or package
        self.names[model] = f"{package}.{model.__name__}"
        for _, annotation in fields(model):
            for inner in models_of(annotation):
                self._name_all(inner, package)

    def schemas(self, flavor: Flavor) -> dict[str, Schema]:
        out: dict[str, Schema] = {}
        for model, name in self.names.items():
            out[name] = self.model_schema(model, flavor)
        for definition, v2, v3 in SCALARS.values():
            out[definition] = {**(v3 if flavor.v3 else v2)}
            described = openapidocs.describe(definition.rsplit(".", 1)[1])
            if described:
                out[definition]["description"] = described
        for rt, model in self.kinds.values():
            if rt is not None:
                out[f"{self.names[model]}List"] = _list_schema(rt, self.names[model], flavor)
        out[f"{META}.ListMeta"] = _list_meta()
        return out

    def model_schema(self, model: type[BaseModel], flavor: Flavor) -> Schema:
        struct = model.__name__
        props: dict[str, Schema] = {}
        for name, annotation in fields(model):
            prop = self.type_schema(annotation, flavor)
            prop.update(_list_extensions(struct, name, annotation))
            if (struct, name) in ENUMS:
                prop["enum"] = sorted(ENUMS[struct, name])
            text = openapidocs.field(struct, name)
            if text and "$ref" in prop and flavor.v3:
                # A $ref may have no siblings in OpenAPI 3.0: wrapped, as kube-openapi does.
                prop = {"allOf": [prop], "description": text}
            elif text:
                prop = {"description": text, **prop}  # v2: a sibling, as Kubernetes serves it
            props[name] = prop
        out: Schema = {"type": "object", "properties": props}
        text = openapidocs.describe(struct)
        if text:
            out["description"] = text
        required = [name for name, _ in fields(model) if (struct, name) in REQUIRED]
        if required:
            out["required"] = required
        if struct in ATOMIC_STRUCTS:
            out["x-kubernetes-map-type"] = "atomic"
        gvk = self._gvk(model)
        if gvk:
            out["x-kubernetes-group-version-kind"] = [gvk]
        return out

    def _gvk(self, model: type[BaseModel]) -> dict[str, str] | None:
        for rt, kind_model in self.kinds.values():
            if kind_model is model and rt is not None:
                return {"group": rt.group, "kind": rt.kind, "version": rt.version}
        if model.__name__ in OTHER_KINDS:
            group, version = OTHER_KINDS[model.__name__]
            return {"group": group, "kind": model.__name__, "version": version}
        return None

    def type_schema(self, annotation: Any, flavor: Flavor) -> Schema:
        bare, go_name = unwrap(annotation)
        if go_name in SCALARS:
            return flavor.ref(SCALARS[go_name][0])
        if go_name in STRINGS:
            return {"type": "string", "format": STRINGS[go_name]}
        origin = typing.get_origin(bare)
        if origin is list:
            return {"type": "array", "items": self.type_schema(typing.get_args(bare)[0], flavor)}
        if origin is dict:
            value = typing.get_args(bare)[1]
            if value is Any:
                return {"type": "object"}
            return {"type": "object", "additionalProperties": self.type_schema(value, flavor)}
        if isinstance(bare, type) and issubclass(bare, BaseModel):
            return flavor.ref(self.names[bare])
        if bare is bool:
            return {"type": "boolean"}
        if bare is str:
            return {"type": "string"}
        if bare is int:
            return {"type": "integer", "format": INTEGERS.get(go_name or "", "int64")}
        if bare is float:
            return {"type": "number", "format": "double"}
        return {} if bare is Any else {"type": "object"}  # Any: any JSON value


def _package(rt: ResourceType) -> str:
    group = rt.group.split(".")[0] if rt.group else "core"
    return f"io.k8s.api.{group}.{rt.version}"


def _list_extensions(struct: str, name: str, annotation: Any) -> Schema:
    """A list as strategic merge patch merges it (item by item on a key, or replaced) and as
    server-side apply does (``common.patch.list_type``: the same table as the field manager's)."""
    bare, _ = unwrap(annotation)
    if typing.get_origin(bare) is dict and (struct, name) in ATOMIC_MAPS:
        return {"x-kubernetes-map-type": "atomic"}
    if typing.get_origin(bare) is not list:
        return {}
    kind, keys = list_type(struct, name)
    if kind == "set":
        return {"x-kubernetes-list-type": "set"}
    if name not in MERGE_KEYS:
        return {}
    key = MERGE_KEYS[name]
    item, _ = unwrap(typing.get_args(bare)[0])
    keyed = not isinstance(item, type) or not issubclass(item, BaseModel)
    item_fields = () if keyed else [field for field, _ in fields(item)]
    if not keyed and key not in item_fields:
        key = OTHER_KEYS.get(name, key)  # a Service's ports merge on ``port``
        if key not in item_fields:
            return {}  # a list of another name's items (kubectl refuses items without the key)
    out: Schema = {"x-kubernetes-list-type": kind}
    if kind == "map":
        out["x-kubernetes-list-map-keys"] = list(keys)
    out["x-kubernetes-patch-merge-key"] = key
    out["x-kubernetes-patch-strategy"] = "merge"
    return dict(sorted(out.items()))


def _list_meta() -> Schema:
    string = {"type": "string"}
    return {
        "type": "object",
        "description": openapidocs.describe("ListMeta"),
        "properties": {
            "continue": string,
            "remainingItemCount": {"type": "integer", "format": "int64"},
            "resourceVersion": string,
            "selfLink": string,
        },
    }


def _list_schema(rt: ResourceType, item: str, flavor: Flavor) -> Schema:
    return {
        "type": "object",
        "description": f"{rt.kind}List is a list of {rt.kind} objects.",
        "required": ["items"],
        "properties": {
            "apiVersion": {"type": "string", "description": openapidocs.field("", "apiVersion")},
            "items": {"type": "array", "items": flavor.ref(item)},
            "kind": {"type": "string", "description": openapidocs.field("", "kind")},
            "metadata": flavor.ref(f"{META}.ListMeta"),
        },
        "x-kubernetes-group-version-kind": [
            {"group": rt.group, "kind": rt.list_kind, "version": rt.version}
        ],
    }


def served_kinds() -> dict[str, tuple[ResourceType | None, type[BaseModel]]]:
    """Each kind with a schema: the served resources, and the shared option kinds."""
    out: dict[str, tuple[ResourceType | None, type[BaseModel]]] = {}
    for rt in RESOURCES:
        if rt.kind in SCHEMAS:
            out[rt.kind] = (rt, SCHEMAS[rt.kind])
    for kind in ("DeleteOptions", "Scale"):
        if kind in SCHEMAS:
            out[kind] = (None, SCHEMAS[kind])
    return out


@functools.cache
def definitions(flavor: Flavor) -> tuple[dict[str, Schema], dict[str, str]]:
    """(every definition by name, the definition name of each kind), made once (kinds register
    their schemas when their modules are imported, before the first request). Never to be
    changed."""
    defs = Definitions(served_kinds())
    names = {kind: defs.names[model] for kind, (_, model) in defs.kinds.items()}
    return defs.schemas(flavor), names
