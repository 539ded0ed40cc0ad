"""The served OpenAPI schemas against the validation they describe: each field's type accepts
what decoding accepts and refuses what it refuses, each required field is refused when missing,
every reference resolves, and each kind carries its group-version-kind."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from common import errors
from common.resources import RESOURCES
from control.apiserver import openapischema as oas
from control.memory_store import MemoryStore
from control.registry.registry import Registry
from control.validation import SCHEMAS, decode_object
from control.validation.schema import K8sModel
from control.validation.schema_pod import ContainerPort

DEFS, NAMES = oas.definitions(oas.V3)
PREFIX = oas.V3.ref_prefix
# A value of each schema type that decoding accepts, and one it refuses.
GOOD_BAD: dict[str, tuple[Any, Any]] = {
    "string": ("x", 1),
    "byte": ("eA==", 1),
    "integer": (1, "x"),
    "boolean": (True, "x"),
    "array": ([], "x"),
    "object": ({}, "x"),
    oas.QUANTITY: ("1", True),
    oas.INT_OR_STRING: (1, True),
    f"{oas.META}.Time": ("2024-01-02T03:04:05Z", 1),
    f"{oas.META}.MicroTime": ("2024-01-02T03:04:05.000001Z", 1),
}


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    if "allOf" in schema:
        schema = schema["allOf"][0]
    return schema


def _kind_of(schema: dict[str, Any]) -> str:
    schema = _resolve(schema)
    ref = schema.get("$ref", "")
    if ref:
        name = ref[len(PREFIX) :]
        return name if name in GOOD_BAD else "object"
    return "byte" if schema.get("format") == "byte" else str(schema["type"])


def _fields(
    name: str, path: tuple[Any, ...], seen: frozenset[str]
) -> Iterator[tuple[tuple[Any, ...], dict[str, Any]]]:
    """Every (JSON path, property schema) under a definition, each definition entered once per
    branch; list items are at index 0."""
    for field, prop in DEFS[name].get("properties", {}).items():
        here = (*path, field)
        yield here, prop
        inner = _resolve(prop)
        if inner.get("type") == "array":
            inner, here = _resolve(inner["items"]), (*here, 0)
            if "$ref" not in inner:
                yield here, inner
        ref = inner.get("$ref", "")[len(PREFIX) :]
        if ref in DEFS and ref not in seen and ref not in GOOD_BAD:
            yield from _fields(ref, here, seen | {ref})


def _placed(path: tuple[Any, ...], value: Any) -> Any:
    out: Any = value
    for step in reversed(path):
        out = [out] if isinstance(step, int) else {step: out}
    return out


def _decodes(kind: str, obj: Any) -> bool:
    try:
        decode_object(kind, obj)
    except errors.ApiError:
        return False
    return True


def _served() -> list[str]:
    return [rt.kind for rt in RESOURCES if rt.kind in SCHEMAS]


@pytest.mark.parametrize("kind", _served())
def test_each_field_type_is_the_one_decoding_checks(kind: str) -> None:
    checked = 0
    for path, prop in _fields(NAMES[kind], (), frozenset({NAMES[kind]})):
        if not set(_resolve(prop)) & {"type", "$ref"}:
            assert _decodes(kind, _placed(path, "x")) and _decodes(kind, _placed(path, 1)), path
            continue  # any JSON value
        good, bad = GOOD_BAD[_kind_of(prop)]
        assert _decodes(kind, _placed(path, good)), path
        assert not _decodes(kind, _placed(path, bad)), path
        checked += 1
    assert checked > 5


def test_maps_of_strings_refuse_other_values() -> None:
    labels = DEFS[f"{oas.META}.ObjectMeta"]["properties"]["labels"]
    assert labels["additionalProperties"] == {"type": "string"}
    assert not _decodes("Pod", {"metadata": {"labels": {"a": 1}}})


def test_every_reference_resolves_and_every_model_is_defined() -> None:
    for flavor in (oas.V2, oas.V3):
        defs, _ = oas.definitions(flavor)
        text = json.dumps(defs)
        for ref in text.split('"$ref": "')[1:]:
            assert ref.split('"')[0][len(flavor.ref_prefix) :] in defs
    for kind in _served():
        assert NAMES[kind] in DEFS and NAMES[kind] + "List" in DEFS


def test_kinds_carry_their_group_version_kind_and_kubernetes_names() -> None:
    for rt in RESOURCES:
        if rt.kind not in SCHEMAS:
            continue
        gvk = DEFS[NAMES[rt.kind]]["x-kubernetes-group-version-kind"]
        assert gvk == [{"group": rt.group, "kind": rt.kind, "version": rt.version}]
    assert NAMES["Pod"] == "io.k8s.api.core.v1.Pod"
    assert NAMES["Deployment"] == "io.k8s.api.apps.v1.Deployment"
    assert NAMES["Lease"] == "io.k8s.api.coordination.v1.Lease"
    assert "io.k8s.api.core.v1.PodTemplateSpec" in DEFS
    assert "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" in DEFS


def test_keyed_lists_carry_their_patch_strategy() -> None:
    containers = DEFS["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-strategy"] == "merge"
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-list-map-keys"] == ["name"]
    ports = DEFS["io.k8s.api.core.v1.Container"]["properties"]["ports"]
    assert ports["x-kubernetes-patch-merge-key"] == "containerPort"
    args = DEFS["io.k8s.api.core.v1.Container"]["properties"]["args"]
    assert "x-kubernetes-patch-strategy" not in args


def test_a_merge_key_is_claimed_only_for_items_that_have_it() -> None:
    class Other(K8sModel):
        number: int | None = None

    assert oas._list_extensions("X", "ports", list[Other] | None) == {}
    keyed = oas._list_extensions("Container", "ports", list[ContainerPort] | None)
    assert keyed["x-kubernetes-patch-merge-key"] == "containerPort"


def test_list_types_are_the_field_managers() -> None:
    """The list types published are those server-side apply merges with (common.patch)."""
    ports = DEFS["io.k8s.api.core.v1.Container"]["properties"]["ports"]
    assert ports["x-kubernetes-list-map-keys"] == ["containerPort", "protocol"]
    service_ports = DEFS["io.k8s.api.core.v1.ServiceSpec"]["properties"]["ports"]
    assert service_ports["x-kubernetes-list-map-keys"] == ["port", "protocol"]
    assert service_ports["x-kubernetes-patch-merge-key"] == "port"
    tolerations = DEFS["io.k8s.api.core.v1.PodSpec"]["properties"]["tolerations"]
    assert tolerations["x-kubernetes-list-type"] == "atomic"
    finalizers = DEFS["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"]["finalizers"]
    assert finalizers["x-kubernetes-list-type"] == "set"
    node_selector = DEFS["io.k8s.api.core.v1.PodSpec"]["properties"]["nodeSelector"]
    assert node_selector["x-kubernetes-map-type"] == "atomic"
    selector = DEFS["io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"]
    assert selector["x-kubernetes-map-type"] == "atomic"


CONTAINER = {
    "name": "main",
    "image": "tinykube/web:1",
    "ports": [{"containerPort": 80}],
    "env": [{"name": "A", "value": "b"}],
    "volumeMounts": [{"name": "data", "mountPath": "/data"}],
    "livenessProbe": {"httpGet": {"port": 80}},
    "readinessProbe": {"tcpSocket": {"port": 80}},
}
POD_SPEC = {
    "containers": [CONTAINER],
    "volumes": [{"name": "data", "emptyDir": {}}],
    "securityContext": {"sysctls": [{"name": "net.ipv4.ip_local_port_range", "value": "1 2"}]},
}
SELECTOR = {
    "matchLabels": {"app": "x"},
    "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a"]}],
}
TEMPLATE = {"metadata": {"labels": {"app": "x", "tier": "a"}}, "spec": POD_SPEC}
OWNER = {"apiVersion": "v1", "kind": "Node", "name": "n", "uid": "1"}
SAMPLES: dict[str, dict[str, Any]] = {
    "Pod": {"metadata": {"name": "p", "ownerReferences": [OWNER]}, "spec": POD_SPEC},
    "Deployment": {"metadata": {"name": "d"},
                   "spec": {"selector": SELECTOR, "template": TEMPLATE}},
    "ReplicaSet": {"metadata": {"name": "r"}, "spec": {"selector": SELECTOR, "template": TEMPLATE}},
    "Node": {"metadata": {"name": "n"},
             "spec": {"taints": [{"key": "k", "effect": "NoSchedule"}]}},
}  # fmt: skip


def _instances(name: str, obj: Any, path: tuple[Any, ...]) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """(definition, path) of every object of the sample, the sample itself first."""
    yield name, path
    for field, prop in DEFS[name].get("properties", {}).items():
        if not isinstance(obj, dict) or field not in obj:
            continue
        inner = _resolve(prop)
        values: list[tuple[Any, tuple[Any, ...]]] = [(obj[field], (*path, field))]
        if inner.get("type") == "array":
            inner = _resolve(inner["items"])
            values = [(v, (*path, field, i)) for i, v in enumerate(obj[field])]
        ref = inner.get("$ref", "")[len(PREFIX) :]
        if ref in DEFS and ref not in GOOD_BAD:
            for value, here in values:
                yield from _instances(ref, value, here)


def _at(obj: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        obj = obj[step]
    return obj


def _removed(obj: Any, path: tuple[Any, ...]) -> Any:
    out = copy.deepcopy(obj)
    del _at(out, path[:-1])[path[-1]]
    return out


def _set(obj: Any, path: tuple[Any, ...], value: Any) -> Any:
    out = copy.deepcopy(obj)
    _at(out, path[:-1])[path[-1]] = value
    return out


@pytest.fixture
def dry() -> Registry:
    real = Registry(MemoryStore())
    real.ensure_namespaces()
    return real.dry_running()


def _short(definition: str, field: str) -> str:
    return f"{definition.rsplit('.', 1)[1]}.{field}"


def test_each_required_field_is_refused_when_missing(dry: Registry) -> None:
    exercised = set()
    for kind, sample in SAMPLES.items():
        rt = next(rt for rt in RESOURCES if rt.kind == kind)
        dry.create(rt, "default", copy.deepcopy(sample))  # the sample itself is valid
        for name, path in _instances(NAMES[kind], sample, ()):
            for field in DEFS[name].get("required", []):
                if field in _at(sample, path):
                    with pytest.raises((errors.InvalidError, errors.BadRequestError)):
                        dry.create(rt, "default", _removed(sample, (*path, field)))
                    exercised.add(_short(name, field))
    claimed = {f"{model}.{field}" for model, field in oas.REQUIRED}
    assert claimed <= exercised, claimed - exercised


def _unsupported(dry: Registry, rt: Any, obj: Any) -> list[str]:
    """The fields validation refuses as an unsupported value."""
    try:
        dry.create(rt, "default", obj)
    except errors.InvalidError as e:
        return [c.field for c in e.causes if c.reason == "FieldValueNotSupported"]
    return []


def test_each_enum_is_the_set_validation_accepts(dry: Registry) -> None:
    """Any other value is refused wherever the field is; each listed value is accepted in some
    object (a Deployment's pod template takes only ``restartPolicy: Always``, as Kubernetes')."""
    claimed: dict[str, set[str]] = {}
    accepted: dict[str, set[str]] = {}
    for kind, sample in SAMPLES.items():
        rt = next(rt for rt in RESOURCES if rt.kind == kind)
        for name, path in _instances(NAMES[kind], sample, ()):
            for field, prop in DEFS[name].get("properties", {}).items():
                if "enum" not in prop:
                    continue
                here, key = (*path, field), _short(name, field)
                assert _unsupported(dry, rt, _set(sample, here, "Bogus")), here
                claimed[key] = set(prop["enum"])
                for value in prop["enum"]:
                    if not _unsupported(dry, rt, _set(sample, here, value)):
                        accepted.setdefault(key, set()).add(value)
    assert set(claimed) >= {f"{model}.{field}" for model, field in oas.ENUMS}
    assert accepted == claimed
