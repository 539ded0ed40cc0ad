"""The JSON schema of Kubernetes objects as strict pydantic models: base, primitives, ObjectMeta.

Models are used only to *check* request bodies (unknown fields, JSON types); objects stay plain
dicts everywhere. Class names are the Go type names so error messages can say
``Go struct field ContainerPort.spec.containers.ports.containerPort``. Pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainValidator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from common.quantity import parse_quantity

# Error type for messages that must be shown verbatim (quantities, timestamps).
K8S_MESSAGE = "k8s_message"
# Error type for a JSON value of the wrong type caught by a custom validator.
JSON_TYPE = "json_type"


class GoType:
    """Annotation marker: the Go type name to print for a field (``int32``, ``v1.Affinity``)."""

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return f"GoType({self.name!r})"


class K8sModel(BaseModel):
    """Strict: unknown fields and wrong JSON types are errors; camelCase JSON names only."""

    model_config = ConfigDict(extra="forbid", strict=True, alias_generator=to_camel)


Int32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1), GoType("int32")]
Int64 = Annotated[int, Field(ge=-(2**63), le=2**63 - 1), GoType("int64")]
StrMap = dict[str, str]
StrList = list[str]
FreeForm = dict[str, Any]


def _quantity(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise PydanticCustomError(JSON_TYPE, "quantity", {"go_type": "resource.Quantity"})
    try:
        parse_quantity(value)
    except ValueError as e:
        raise PydanticCustomError(K8S_MESSAGE, str(e)) from None
    return value


def _int_or_string(value: Any) -> Any:
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise PydanticCustomError(JSON_TYPE, "int or string", {"go_type": "intstr.IntOrString"})


_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def _time(value: Any) -> Any:
    if not isinstance(value, str):
        raise PydanticCustomError(JSON_TYPE, "time", {"go_type": "string"})
    ok = _RFC3339.fullmatch(value) is not None
    if ok:
        try:
            dt.datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
        except ValueError:
            ok = False
    if not ok:
        raise PydanticCustomError(
            K8S_MESSAGE,
            f'parsing time "{value}" as "2006-01-02T15:04:05Z07:00": cannot parse '
            f'"{value}" as "2006"',
        )
    return value


Quantity = Annotated[Any, PlainValidator(_quantity), GoType("resource.Quantity")]
ResourceList = dict[str, Quantity]
IntOrString = Annotated[Any, PlainValidator(_int_or_string), GoType("intstr.IntOrString")]
Time = Annotated[Any, PlainValidator(_time), GoType("v1.Time")]
MicroTime = Annotated[Any, PlainValidator(_time), GoType("v1.MicroTime")]


class OwnerReference(K8sModel):
    api_version: str | None = None
    kind: str | None = None
    name: str | None = None
    uid: str | None = None
    controller: bool | None = None
    block_owner_deletion: bool | None = None


class ObjectMeta(K8sModel):
    name: str | None = None
    generate_name: str | None = None
    namespace: str | None = None
    self_link: str | None = None
    uid: str | None = None
    resource_version: str | None = None
    generation: Int64 | None = None
    creation_timestamp: Time | None = None
    deletion_timestamp: Time | None = None
    deletion_grace_period_seconds: Int64 | None = None
    labels: StrMap | None = None
    annotations: StrMap | None = None
    owner_references: list[OwnerReference] | None = None
    finalizers: StrList | None = None
    managed_fields: list[FreeForm] | None = None


class TypeMeta(K8sModel):
    """``kind`` and ``apiVersion``, shared by every top-level object."""

    kind: str | None = None
    api_version: str | None = None


class LabelSelectorRequirement(K8sModel):
    key: str | None = None
    operator: str | None = None
    values: StrList | None = None


class LabelSelector(K8sModel):
    match_labels: StrMap | None = None
    match_expressions: list[LabelSelectorRequirement] | None = None


class ObjectReference(K8sModel):
    kind: str | None = None
    namespace: str | None = None
    name: str | None = None
    uid: str | None = None
    api_version: str | None = None
    resource_version: str | None = None
    field_path: str | None = None


class Preconditions(K8sModel):
    uid: str | None = None
    resource_version: str | None = None


class DeleteOptions(TypeMeta):
    grace_period_seconds: Int64 | None = None
    preconditions: Preconditions | None = None
    orphan_dependents: bool | None = None
    propagation_policy: str | None = None
    dry_run: StrList | None = None
    ignore_store_read_error_with_cluster_breaking_potential: bool | None = None
