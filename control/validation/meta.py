"""Validation of ``metadata`` on create and update, as k8s.io/apimachinery/pkg/api/validation does.

Names, generateName, namespace, labels, annotations (keys and 256 KiB total), ownerReferences,
finalizers, and the immutable fields of an update. Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from common import names
from common.errors import Cause
from common.fielderrors import (
    forbidden,
    invalid,
    required,
    too_long,
    validate_label_name,
    validate_labels,
)

NameFn = Callable[[str, bool], list[str]]

TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024  # bytes of all keys and values together
FIELD_IMMUTABLE = "field is immutable"
IS_NEGATIVE = "must be greater than or equal to 0"
# Finalizers the API server knows by their bare name; others must be domain-qualified.
STANDARD_FINALIZERS = frozenset({"kubernetes", "orphan", "foregroundDeletion"})


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def validate_nonnegative(value: Any, path: str) -> list[Cause]:
    return [invalid(path, value, IS_NEGATIVE)] if isinstance(value, int) and value < 0 else []


def validate_annotations(annotations: Mapping[str, Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    for key in annotations:
        # Annotation keys follow the label-key rule, case-insensitively.
        causes.extend(invalid(path, key, m) for m in names.is_qualified_name(key.lower()))
    total = sum(len(k.encode()) + len(str(v).encode()) for k, v in annotations.items())
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        causes.append(too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT))
    return causes


def validate_owner_references(refs: list[Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    first_controller = ""
    for ref in refs:
        ref = _dict(ref)
        api_version = ref.get("apiVersion") or ""
        version = api_version.split("/", 1)[1] if "/" in api_version else api_version
        if not version:
            causes.append(invalid(f"{path}.apiVersion", api_version, "version must not be empty"))
        for name in ("kind", "name", "uid"):
            if not ref.get(name):
                causes.append(invalid(f"{path}.{name}", ref.get(name) or "", "must not be empty"))
        if api_version == "v1" and ref.get("kind") == "Event":
            causes.append(invalid(path, ref, "/v1, Kind=Event is disallowed from being an owner"))
        if ref.get("controller") is True:
            current = f"{ref.get('kind') or ''}/{ref.get('name') or ''}"
            if first_controller:
                causes.append(
                    invalid(
                        path,
                        refs,
                        'Only one reference can have Controller set to true. Found "true" in '
                        f"references for {first_controller} and {current}",
                    )
                )
            else:
                first_controller = current
    return causes


def validate_kube_finalizer_name(value: str, path: str) -> list[Cause]:
    causes = validate_label_name(value, path)
    if not causes and "/" not in value and value not in STANDARD_FINALIZERS:
        causes.append(
            invalid(
                path, value, "name is neither a standard finalizer name nor is it fully qualified"
            )
        )
    return causes


def validate_finalizers(finalizers: list[Any], path: str, kube: bool = True) -> list[Cause]:
    """ValidateFinalizers, plus (``kube``) the core API's check of each name by index."""
    causes: list[Cause] = []
    for value in finalizers:
        causes.extend(validate_label_name(str(value), path))
    if "orphan" in finalizers and "foregroundDeletion" in finalizers:
        causes.append(
            invalid(path, finalizers, "finalizer orphan and foregroundDeletion cannot be both set")
        )
    if kube:
        for i, value in enumerate(finalizers):
            causes.extend(validate_kube_finalizer_name(str(value), f"{path}[{i}]"))
    return causes


def _common(meta: Mapping[str, Any], namespaced: bool, path: str, kube: bool) -> list[Cause]:
    causes: list[Cause] = []
    namespace = meta.get("namespace") or ""
    if namespaced:
        if not namespace:
            causes.append(required(_child(path, "namespace")))
        else:
            causes.extend(
                invalid(_child(path, "namespace"), namespace, m)
                for m in names.name_is_dns_label(namespace)
            )
    causes.extend(validate_nonnegative(meta.get("generation"), _child(path, "generation")))
    causes.extend(validate_labels(_dict(meta.get("labels")), _child(path, "labels")))
    causes.extend(validate_annotations(_dict(meta.get("annotations")), _child(path, "annotations")))
    refs = meta.get("ownerReferences") or []
    causes.extend(validate_owner_references(refs, _child(path, "ownerReferences")))
    finalizers = meta.get("finalizers") or []
    causes.extend(validate_finalizers(finalizers, _child(path, "finalizers"), kube))
    return causes


def validate_object_meta(
    meta: Any, namespaced: bool, name_fn: NameFn, path: str = "metadata", kube: bool = True
) -> list[Cause]:
    """ValidateObjectMeta for a create. Call it after the server has generated the name.

    A cluster-scoped object's namespace is not checked: the server drops it, as Kubernetes does.
    """
    meta = _dict(meta)
    causes: list[Cause] = []
    generate_name = meta.get("generateName") or ""
    if generate_name:
        causes.extend(
            invalid(_child(path, "generateName"), generate_name, m)
            for m in name_fn(generate_name, True)
        )
    name = meta.get("name") or ""
    if not name:
        if not generate_name:
            causes.append(required(_child(path, "name"), "name or generateName is required"))
    else:
        causes.extend(invalid(_child(path, "name"), name, m) for m in name_fn(name, False))
    return causes + _common(meta, namespaced, path, kube)


def _same(new: Any, old: Any) -> bool:
    # Absent, null and "" are the same to Go's decoder for string fields.
    return (new or None) == (old or None)


def validate_object_meta_update(
    new: Any, old: Any, path: str = "metadata", kube: bool = True
) -> list[Cause]:
    """ValidateObjectMetaUpdate: immutable identity fields, a resourceVersion, no new finalizers
    on an object being deleted, and the create-time checks of labels, annotations, refs."""
    new, old = _dict(new), _dict(old)
    causes: list[Cause] = []
    if old.get("deletionTimestamp"):
        added = sorted(set(new.get("finalizers") or []) - set(old.get("finalizers") or []))
        if added:
            shown = "[]string{" + ", ".join(json.dumps(f) for f in added) + "}"
            causes.append(
                forbidden(
                    _child(path, "finalizers"),
                    "no new finalizers can be added if the object is being deleted, found new "
                    f"finalizers {shown}",
                )
            )
    if not new.get("resourceVersion"):
        causes.append(
            invalid(_child(path, "resourceVersion"), "", "must be specified for an update")
        )
    if (new.get("generation") or 0) < (old.get("generation") or 0):
        causes.append(
            invalid(_child(path, "generation"), new.get("generation"), "must not be decremented")
        )
    for name in (
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    ):
        if not _same(new.get(name), old.get(name)):
            causes.append(invalid(_child(path, name), new.get(name), FIELD_IMMUTABLE))
    causes.extend(validate_labels(_dict(new.get("labels")), _child(path, "labels")))
    causes.extend(validate_annotations(_dict(new.get("annotations")), _child(path, "annotations")))
    refs = new.get("ownerReferences") or []
    causes.extend(validate_owner_references(refs, _child(path, "ownerReferences")))
    causes.extend(
        validate_finalizers(new.get("finalizers") or [], _child(path, "finalizers"), kube)
    )
    return causes
