"""Validation of Node, Namespace, Event, Lease and DeleteOptions, as Kubernetes validates them.

Each ``validate_<kind>(obj, old)`` returns the field errors of a create (``old`` is None) or an
update. Pure: no I/O.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from common import names
from common.errors import Cause
from common.fielderrors import (
    duplicate,
    forbidden,
    invalid,
    not_supported,
    required,
    validate_label_name,
)
from common.quantity import parse_quantity
from control.validation.meta import (
    IS_NEGATIVE,
    validate_kube_finalizer_name,
    validate_object_meta,
    validate_object_meta_update,
)

TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
PROPAGATION_POLICIES = ("Foreground", "Background", "Orphan", "nil")
LEASE_STRATEGIES = ("OldestEmulationVersion",)
EVENT_REPORTING_INSTANCE_MAX = 128
EVENT_ACTION_MAX = 128
EVENT_REASON_MAX = 128
EVENT_NOTE_MAX = 1024


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _meta(
    obj: Mapping[str, Any],
    old: Mapping[str, Any] | None,
    namespaced: bool,
    name_fn: Any,
    kube: bool = True,
) -> list[Cause]:
    if old is None:
        return validate_object_meta(obj.get("metadata"), namespaced, name_fn, kube=kube)
    return validate_object_meta_update(obj.get("metadata"), old.get("metadata"), kube=kube)


def _validate_taints(taints: list[Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    seen: set[tuple[str, str]] = set()
    for i, taint in enumerate(taints):
        taint, tpath = _dict(taint), f"{path}[{i}]"
        key, value, effect = taint.get("key") or "", taint.get("value") or "", taint.get("effect")
        causes.extend(validate_label_name(key, f"{tpath}.key"))
        msgs = names.is_label_value(value)
        if msgs:
            causes.append(invalid(f"{tpath}.value", value, ";".join(msgs)))
        if not effect:
            causes.append(required(f"{tpath}.effect"))
        elif effect not in TAINT_EFFECTS:
            causes.append(not_supported(f"{tpath}.effect", effect, TAINT_EFFECTS))
        if (key, effect or "") in seen:
            dup = duplicate(tpath, dict(taint))
            causes.append(
                Cause(
                    dup.field,
                    dup.reason,
                    dup.message + ": taints must be unique by key and effect pair",
                )
            )
            continue
        seen.add((key, effect or ""))
    return causes


def _validate_cidrs(cidrs: list[Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    families = []
    for i, cidr in enumerate(cidrs):
        try:
            families.append(ipaddress.ip_network(str(cidr), strict=False).version)
        except ValueError:
            causes.append(
                invalid(
                    f"{path}[{i}]",
                    cidr,
                    "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
                )
            )
    if len(cidrs) > 1 and (len(cidrs) > 2 or len(set(families)) != 2):
        causes.append(invalid(path, cidrs, "may specify no more than one CIDR for each IP family"))
    return causes


def _validate_node_resources(status: Mapping[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    for part in ("capacity", "allocatable"):
        for name, quantity in _dict(status.get(part)).items():
            path = f"status.{part}[{name}]"
            causes.extend(validate_label_name(name, path))
            try:
                negative = parse_quantity(quantity) < 0
            except ValueError as e:
                causes.append(invalid(path, quantity, str(e)))
                continue
            if negative:
                causes.append(invalid(path, str(quantity), IS_NEGATIVE))
    return causes


def validate_node(node: Mapping[str, Any], old: Mapping[str, Any] | None = None) -> list[Cause]:
    causes = _meta(node, old, False, names.name_is_dns_subdomain)
    spec = _dict(node.get("spec"))
    # Kubernetes reports taint errors under metadata.taints; kept so messages match.
    causes.extend(_validate_taints(_list(spec.get("taints")), "metadata.taints"))
    causes.extend(_validate_node_resources(_dict(node.get("status"))))
    causes.extend(_validate_cidrs(_list(spec.get("podCIDRs")), "spec.podCIDRs"))
    if old is not None:
        old_spec = _dict(old.get("spec"))
        for key, label in (("podCIDRs", "podCIDR"), ("providerID", "providerID")):
            if old_spec.get(key) and spec.get(key) != old_spec.get(key):
                causes.append(
                    forbidden(
                        f"spec.{key}",
                        f'node updates may not change {label} except from "" to valid',
                    )
                )
    return causes


def validate_namespace(ns: Mapping[str, Any], old: Mapping[str, Any] | None = None) -> list[Cause]:
    causes = _meta(ns, old, False, names.name_is_dns_label)
    for finalizer in _list(_dict(ns.get("spec")).get("finalizers")):
        causes.extend(validate_kube_finalizer_name(str(finalizer), "spec.finalizers"))
    return causes


def _too_long(path: str, value: str, limit: int) -> list[Cause]:
    if len(value) <= limit:
        return []
    return [invalid(path, "", f"can have at most {limit} characters")]


def _legacy_event(ev: Mapping[str, Any]) -> list[Cause]:
    """legacyValidateEvent: what every core/v1 Event must satisfy."""
    causes: list[Cause] = []
    namespace = _dict(ev.get("metadata")).get("namespace") or ""
    involved_ns = _dict(ev.get("involvedObject")).get("namespace") or ""
    mismatch = invalid("involvedObject.namespace", involved_ns, "does not match event.namespace")
    if not ev.get("eventTime"):
        if (not involved_ns and namespace not in ("", "default")) or (
            involved_ns and namespace != involved_ns
        ):
            causes.append(mismatch)
    else:
        if not involved_ns and namespace not in ("default", "kube-system"):
            causes.append(mismatch)
        controller = ev.get("reportingComponent") or ""
        if not controller:
            causes.append(required("reportingController"))
        causes.extend(validate_label_name(controller, "reportingController"))
        for key, limit in (
            ("reportingInstance", EVENT_REPORTING_INSTANCE_MAX),
            ("action", EVENT_ACTION_MAX),
            ("reason", EVENT_REASON_MAX),
        ):
            value = ev.get(key) or ""
            if not value:
                causes.append(required(key))
            causes.extend(_too_long(key, value, limit))
        causes.extend(_too_long("message", ev.get("message") or "", EVENT_NOTE_MAX))
    causes.extend(invalid("namespace", namespace, m) for m in names.is_dns1123_subdomain(namespace))
    return causes


def validate_event(ev: Mapping[str, Any], old: Mapping[str, Any] | None = None) -> list[Cause]:
    """Core/v1 events get only the legacy checks, then the API server's generic metadata checks
    (names need only be usable in a URL path, and hold no control character)."""
    causes = _legacy_event(ev)
    if causes:
        return causes
    return _meta(ev, old, True, names.event_name, kube=False)


def validate_lease(lease: Mapping[str, Any], old: Mapping[str, Any] | None = None) -> list[Cause]:
    causes = _meta(lease, old, True, names.name_is_dns_subdomain, kube=False)
    spec = _dict(lease.get("spec"))
    duration = spec.get("leaseDurationSeconds")
    if duration is not None and duration <= 0:
        causes.append(invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
    transitions = spec.get("leaseTransitions")
    if transitions is not None and transitions < 0:
        causes.append(invalid("spec.leaseTransitions", transitions, IS_NEGATIVE))
    strategy = spec.get("strategy")
    if strategy and strategy not in LEASE_STRATEGIES:
        causes.append(not_supported("spec.strategy", strategy, LEASE_STRATEGIES))
    if spec.get("preferredHolder") and not strategy:
        causes.append(
            forbidden("spec.preferredHolder", "may only be specified if `strategy` is defined")
        )
    return causes


def validate_delete_options(
    opts: Mapping[str, Any], old: Mapping[str, Any] | None = None
) -> list[Cause]:
    causes: list[Cause] = []
    policy = opts.get("propagationPolicy")
    if opts.get("orphanDependents") is not None and policy is not None:
        causes.append(
            invalid(
                "propagationPolicy",
                policy,
                "orphanDependents and deletionPropagation cannot be both set",
            )
        )
    if policy is not None and policy not in PROPAGATION_POLICIES[:3]:
        causes.append(not_supported("propagationPolicy", policy, PROPAGATION_POLICIES))
    dry_run = _list(opts.get("dryRun"))
    if any(v != "All" for v in dry_run):
        causes.append(not_supported("dryRun", dry_run, ("All",)))
    return causes
