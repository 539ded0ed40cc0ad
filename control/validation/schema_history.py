"""The JSON schema of apps/v1 ControllerRevision as a strict pydantic model named after its Go
type (k8s.io/api/apps/v1/types.go). Used only to check request bodies. Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from control.validation.schema import Int64, ObjectMeta, TypeMeta


class ControllerRevision(TypeMeta):
    metadata: ObjectMeta | None = None
    # runtime.RawExtension: any JSON value, kept as it is.
    data: Any = None
    revision: Int64 | None = None
