"""Validation by kind, and the 422 ``Invalid`` error that reports it.

``validate(kind, obj, old)`` runs the kind's registered validator (create when ``old`` is None,
update otherwise) and returns field errors; ``invalid_error`` words them as
``apierrors.NewInvalid`` does. New kinds plug in with ``register_validator``. Pure: no I/O.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from common import errors
from common.defaults import default_pod
from common.errors import Cause
from common.fielderrors import aggregate
from common.resources import RESOURCES
from control.validation.kinds import (
    validate_delete_options,
    validate_event,
    validate_lease,
    validate_namespace,
    validate_node,
)
from control.validation.pod import validate_pod_create
from control.validation.podupdate import validate_pod_update

Validator = Callable[[Mapping[str, Any], Mapping[str, Any] | None], list[Cause]]


def _validate_pod(pod: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[Cause]:
    if old is not None:
        return validate_pod_update(pod, old)
    # The API server always defaults before it validates; doing it here on a copy means a
    # caller that forgot cannot get errors Kubernetes would never show ("restartPolicy: "").
    defaulted = copy.deepcopy(dict(pod))
    default_pod(defaulted)
    return validate_pod_create(defaulted)


VALIDATORS: dict[str, Validator] = {
    "Pod": _validate_pod,
    "Node": validate_node,
    "Namespace": validate_namespace,
    "Event": validate_event,
    "Lease": validate_lease,
    "DeleteOptions": validate_delete_options,
}
# API groups of kinds not in common.resources ("" is the core group).
GROUPS: dict[str, str] = {"DeleteOptions": "meta.k8s.io"}


def register_validator(kind: str, validator: Validator, group: str | None = None) -> None:
    """Make ``validate`` know a new kind (Deployment, ReplicaSet, ...)."""
    VALIDATORS[kind] = validator
    if group is not None:
        GROUPS[kind] = group


def validate(
    kind: str,
    obj: Mapping[str, Any],
    old: Mapping[str, Any] | None = None,
    *,
    defaulted: bool = False,
) -> list[Cause]:
    """The field errors of ``obj`` (a create) or of changing ``old`` into ``obj`` (an update).

    An empty list means valid. Call it on a decoded object; pods are validated as defaulted
    (``common.defaults.default_pod``), as the API server defaults before validating. A caller
    whose new pod is defaulted already says ``defaulted`` (no copy is defaulted again).
    """
    if defaulted and kind == "Pod" and old is None:
        causes = validate_pod_create(obj)
    else:
        causes = VALIDATORS[kind](obj, old)
    # Kubernetes prints each distinct error once; keep the causes in step with the message.
    return list(dict.fromkeys(causes))


def group_of(kind: str) -> str:
    if kind in GROUPS:
        return GROUPS[kind]
    for rt in RESOURCES:
        if rt.kind == kind:
            return rt.group
    return ""


def invalid_error(kind: str, name: str, causes: list[Cause]) -> errors.InvalidError:
    """``Pod "x" is invalid: <field>: <error>`` (several errors: ``is invalid: [e1, e2]``), 422,
    with ``details`` {name, group, kind, causes} as the real API server fills them."""
    group = group_of(kind)
    qualified = f"{kind}.{group}" if group else kind
    message = f'{qualified} "{name}" is invalid'
    if causes:
        message += ": " + aggregate(causes)
    details: dict[str, Any] = {"name": name, "kind": kind}
    if group:
        details["group"] = group
    return errors.InvalidError(message, list(causes), details)
