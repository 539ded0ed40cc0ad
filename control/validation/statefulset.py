"""Validation of apps/v1 StatefulSet as pkg/apis/apps/validation does it (ValidateStatefulSet,
ValidateStatefulSetUpdate), with kube-apiserver's messages; registers the schema and validator.

The pod template is checked with its claim templates' volumes in place (what each pod gets), so
a mount of a claim template is not "Not found". Objects are validated as defaulted. Pure.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from common import names
from common.errors import Cause
from common.fielderrors import forbidden, invalid, not_supported, required
from common.statefulsets import (
    ON_DELETE,
    POD_MANAGEMENT_POLICIES,
    RETENTION_POLICIES,
    ROLLING_UPDATE,
    UPDATE_STRATEGIES,
    default_statefulset,
)
from control.validation.apps import validate_template
from control.validation.decode import register_schema
from control.validation.dispatch import register_validator
from control.validation.intorpercent import (
    int_or_percent_value,
    not_over_100_percent,
    positive_int_or_percent,
)
from control.validation.meta import (
    validate_nonnegative,
)
from control.validation.schema_statefulset import StatefulSet
from control.validation.workload import as_dict as _dict
from control.validation.workload import normalized as _normalized
from control.validation.workload import parsed_selector, validate_meta, validate_selector

Obj = Mapping[str, Any]
# The spec fields an update may change (ValidateStatefulSetUpdate), and kube-apiserver's words.
MUTABLE = (
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "revisionHistoryLimit",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
)
FORBIDDEN_UPDATE = (
    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
    "'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and "
    "'minReadySeconds' are forbidden"
)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _validate_policy(spec: Obj, path: str) -> list[Cause]:
    policy = spec.get("podManagementPolicy")
    if not policy:
        return [required(f"{path}.podManagementPolicy")]
    if policy not in POD_MANAGEMENT_POLICIES:
        return [not_supported(f"{path}.podManagementPolicy", policy, POD_MANAGEMENT_POLICIES)]
    return []


def _validate_update_strategy(spec: Obj, path: str) -> list[Cause]:
    strategy = _dict(spec.get("updateStrategy"))
    kind, rolling = strategy.get("type"), strategy.get("rollingUpdate")
    spath = f"{path}.updateStrategy"
    if not kind:
        return [required(spath)]
    if kind == ON_DELETE:
        if rolling is not None:
            msg = f"only allowed for updateStrategy '{ROLLING_UPDATE}'"
            return [invalid(f"{spath}.rollingUpdate", rolling, msg)]
        return []
    if kind != ROLLING_UPDATE:
        return [not_supported(spath, kind, UPDATE_STRATEGIES)]
    return _validate_rolling_update(_dict(rolling), f"{spath}.rollingUpdate")


def _validate_rolling_update(rolling: Obj, path: str) -> list[Cause]:
    """validateRollingUpdateStatefulSet: ``partition`` >= 0; ``maxUnavailable`` a positive int
    or percent, not 0, not over 100%."""
    causes = validate_nonnegative(rolling.get("partition"), f"{path}.partition")
    unavailable = rolling.get("maxUnavailable")
    if unavailable is None:
        return causes
    upath = f"{path}.maxUnavailable"
    causes += positive_int_or_percent(unavailable, upath)
    if int_or_percent_value(unavailable) == 0:
        causes.append(invalid(upath, unavailable, "cannot be 0"))
    return causes + not_over_100_percent(unavailable, upath)


def _validate_retention(spec: Obj, path: str) -> list[Cause]:
    policy = spec.get("persistentVolumeClaimRetentionPolicy")
    if policy is None:
        return []
    causes: list[Cause] = []
    ppath = f"{path}.persistentVolumeClaimRetentionPolicy"
    for key in ("whenDeleted", "whenScaled"):
        value = _dict(policy).get(key)
        if value not in RETENTION_POLICIES:
            # Kubernetes lists them from a sorted set.
            causes.append(not_supported(f"{ppath}.{key}", value, sorted(RETENTION_POLICIES)))
    return causes


def with_claim_volumes(template: Any, claims: list[Any]) -> dict[str, Any]:
    """The template as its pods get it: a PVC volume per claim template (updateStorage), in
    place of any volume of the same name."""
    out = copy.deepcopy(dict(_dict(template)))
    spec = out.setdefault("spec", {})
    if not isinstance(spec, dict):
        return out
    names_ = [str(_dict(_dict(c).get("metadata")).get("name") or "") for c in claims]
    kept = [v for v in _list(spec.get("volumes")) if _dict(v).get("name") not in names_]
    claimed = [{"name": n, "persistentVolumeClaim": {"claimName": n}} for n in names_ if n]
    spec["volumes"] = claimed + kept
    return out


def _validate_template(spec: Obj, path: str) -> list[Cause]:
    selector, bad = parsed_selector(spec, path)
    if selector is None:
        return bad
    template = with_claim_volumes(spec.get("template"), _list(spec.get("volumeClaimTemplates")))
    pod_spec = template.get("spec")
    deadline = pod_spec.pop("activeDeadlineSeconds", None) if isinstance(pod_spec, dict) else None
    causes = validate_template(template, selector, f"{path}.template")
    if deadline is not None:
        causes.append(
            forbidden(
                f"{path}.template.spec.activeDeadlineSeconds",
                "activeDeadlineSeconds in StatefulSet is not Supported",
            )
        )
    return causes


def _validate_claim_templates(spec: Obj, path: str) -> list[Cause]:
    causes: list[Cause] = []
    for i, claim in enumerate(_list(spec.get("volumeClaimTemplates"))):
        name = str(_dict(_dict(claim).get("metadata")).get("name") or "")
        npath = f"{path}.volumeClaimTemplates[{i}].metadata.name"
        if not name:
            causes.append(required(npath, "name or generateName is required"))
            continue
        causes.extend(invalid(npath, name, m) for m in names.name_is_dns_subdomain(name, False))
    return causes


def validate_statefulset_spec(spec: Any, path: str = "spec") -> list[Cause]:
    """ValidateStatefulSetSpec, in Kubernetes' order."""
    spec = _dict(spec)
    causes = _validate_policy(spec, path)
    causes.extend(_validate_update_strategy(spec, path))
    causes.extend(_validate_retention(spec, path))
    causes.extend(validate_nonnegative(spec.get("replicas"), f"{path}.replicas"))
    causes.extend(validate_nonnegative(spec.get("minReadySeconds"), f"{path}.minReadySeconds"))
    start = _dict(spec.get("ordinals")).get("start")
    causes.extend(validate_nonnegative(start, f"{path}.ordinals.start"))
    limit = spec.get("revisionHistoryLimit")
    causes.extend(validate_nonnegative(limit, f"{path}.revisionHistoryLimit"))
    causes.extend(validate_selector(spec, path, "statefulset"))
    causes.extend(_validate_template(spec, path))
    causes.extend(_validate_claim_templates(spec, path))
    return causes


def _forbidden_changes(spec: Obj, old: Obj) -> list[Cause]:
    fixed = {k: v for k, v in spec.items() if k not in MUTABLE}
    was = {k: v for k, v in old.items() if k not in MUTABLE}
    if _normalized(fixed) == _normalized(was):
        return []
    return [forbidden("spec", FORBIDDEN_UPDATE)]


def _defaulted(obj: Obj) -> dict[str, Any]:
    out = copy.deepcopy(dict(obj))
    default_statefulset(out)
    return out


def validate_statefulset(obj: Obj, old: Obj | None = None) -> list[Cause]:
    """ValidateStatefulSet, or ValidateStatefulSetUpdate when ``old`` is given."""
    obj = _defaulted(obj)
    spec = _dict(obj.get("spec"))
    if old is None:
        return validate_meta(obj, None) + validate_statefulset_spec(spec)
    old = _defaulted(old)
    causes = validate_meta(obj, old)
    causes.extend(_forbidden_changes(spec, _dict(old.get("spec"))))
    return causes + validate_statefulset_spec(spec)


register_schema("StatefulSet", StatefulSet)
register_validator("StatefulSet", validate_statefulset)
