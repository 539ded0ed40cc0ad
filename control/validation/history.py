"""Validation of apps/v1 ControllerRevision as pkg/apis/apps/validation does it
(ValidateControllerRevision, ValidateControllerRevisionUpdate): a valid name, ``data`` required
and immutable, ``revision`` not negative. Registers its schema and validator. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from common import names
from common.errors import Cause
from common.fielderrors import invalid, required
from control.validation.decode import register_schema
from control.validation.dispatch import register_validator
from control.validation.meta import (
    FIELD_IMMUTABLE,
    validate_nonnegative,
    validate_object_meta,
    validate_object_meta_update,
)
from control.validation.schema_history import ControllerRevision

Obj = Mapping[str, Any]


def validate_controller_revision_fields(obj: Obj) -> list[Cause]:
    """ValidateControllerRevision."""
    causes = validate_object_meta(obj.get("metadata"), True, names.name_is_dns_subdomain)
    if obj.get("data") is None:
        causes.append(required("data", "data is mandatory"))
    causes.extend(validate_nonnegative(obj.get("revision"), "revision"))
    return causes


def validate_controller_revision(obj: Obj, old: Obj | None = None) -> list[Cause]:
    if old is None:
        return validate_controller_revision_fields(obj)
    causes = validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
    causes.extend(validate_controller_revision_fields(obj))
    if obj.get("data") != old.get("data"):
        causes.append(invalid("data", obj.get("data"), FIELD_IMMUTABLE))
    return causes


register_schema("ControllerRevision", ControllerRevision)
register_validator("ControllerRevision", validate_controller_revision)
