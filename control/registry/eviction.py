"""The ``eviction`` subresource of pods: ``POST pods/NAME/eviction`` with a policy/v1 Eviction,
as kube-apiserver's EvictionREST (pkg/registry/core/pod/storage/eviction.go). A pod that is not
running (pending, finished or already deleting) is deleted at once; any other must be allowed by
the one PodDisruptionBudget covering it, whose ``disruptionsAllowed`` is checked and decremented
in one compare-and-set write of its status (retried on conflict) before the graceful delete.
The pod gets the ``DisruptionTarget`` condition first. Goes through the registry.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from common import budgets, conditions, errors, meta
from common.resources import must
from common.wellknown import (
    ALWAYS_ALLOW,
    DISRUPTION_BUDGET_CAUSE,
    DISRUPTION_TARGET,
    EVICTION_BY_API,
)
from control.registry import answers
from control.validation import decode_object, invalid_error, validate

if TYPE_CHECKING:
    from control.registry.registry import Registry

Obj = dict[str, Any]
PODS, PDBS = must("pods"), must("poddisruptionbudgets")
# The versions of Eviction kube-apiserver accepts on pods/eviction.
EVICTION_VERSIONS = ("policy/v1", "policy/v1beta1")
# EvictionsRetry: compare-and-set attempts on a contended budget (or pod) before giving up.
ATTEMPTS = 20
# MaxDisruptedPodSize: approved evictions the controller has not confirmed yet, at most.
MAX_DISRUPTED_PODS = 2000
VIOLATION = "Cannot evict pod as it would violate the pod's disruption budget."
MULTIPLE = (
    "This pod has more than one PodDisruptionBudget, which the eviction subresource does not "
    "support."
)
# How long a client is told to wait for a budget the controller has not seen yet.
PROCESSING_RETRY_SECONDS = 10
SUCCESS: Obj = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "code": 201}  # fmt: skip


def _options(body: Any, name: str) -> Obj:
    """The Eviction's ``deleteOptions`` after kube-apiserver's checks of the body."""
    if not isinstance(body, dict):
        raise errors.BadRequestError(f"not a Eviction object: {type(body).__name__}")
    kind, version = body.get("kind"), body.get("apiVersion")
    if (kind or version) and (kind != "Eviction" or version not in EVICTION_VERSIONS):
        raise errors.BadRequestError(
            f'{kind or "Object"} in version "{version}" cannot be handled as a Eviction'
        )
    metadata = body.get("metadata")
    if not isinstance(metadata, dict) or metadata.get("name") != name:
        raise errors.BadRequestError("name in URL does not match name in Eviction object")
    options = body.get("deleteOptions")
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise errors.BadRequestError("deleteOptions: expected an object")
    # Checked before the budget is touched: bad options must not spend a disruption.
    decode_object("DeleteOptions", options)
    causes = validate("DeleteOptions", options)
    if causes:
        raise invalid_error("DeleteOptions", "", causes)
    return dict(options)


def evict(reg: Registry, namespace: str, name: str, body: Any) -> tuple[Obj, int]:
    """Evict the pod as the Eviction says; the Status to answer and its HTTP code."""
    options = _options(body, name)
    if options.get("dryRun"):  # its values are validated with the other DeleteOptions
        reg = reg.dry_running()
    elif reg.dry_run:  # propagateDryRun: the request's dryRun=All is the options' too
        options["dryRun"] = ["All"]
    rv_given = bool((options.get("preconditions") or {}).get("resourceVersion"))
    pod = reg.get(PODS, namespace, name)
    for attempt in range(ATTEMPTS):
        if not can_ignore_budget(pod):
            break
        try:
            _delete(reg, pod, _pinned(options, pod) if _must_pin(pod) else options)
            return dict(SUCCESS), 201
        except errors.ConflictError:
            if rv_given or attempt == ATTEMPTS - 1:
                raise
        pod = reg.get(PODS, namespace, name)
    return _evict_running(reg, pod, options, rv_given)


def _evict_running(reg: Registry, pod: Obj, options: Obj, rv_given: bool) -> tuple[Obj, int]:
    namespace, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
    covering = [p for p in reg.list(PDBS, namespace)["items"] if budgets.covers(p, pod)]
    if len(covering) > 1:
        failure = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                   "message": MULTIPLE, "code": 500}  # fmt: skip
        return failure, 500
    pin = False
    if covering:
        pdb = covering[0]
        if _unhealthy_may_go(pod, pdb):
            pin = True
        else:
            _take_disruption(reg, pdb, name, bool(options.get("dryRun")))
    try:
        _delete(reg, pod, _pinned(options, pod) if pin else options)
    except errors.ConflictError:
        if pin and not rv_given:
            # The pod changed (it may have become ready) since the budget was read.
            raise _too_many(covering[0]["metadata"]["name"]) from None
        raise
    return dict(SUCCESS), 201


def can_ignore_budget(pod: Obj) -> bool:
    """canIgnorePDB: a pending or finished pod, or one already deleting, disrupts nothing."""
    phase = (pod.get("status") or {}).get("phase")
    deleting = bool(pod["metadata"].get("deletionTimestamp"))
    return phase in ("Succeeded", "Failed", "Pending") or deleting


def _must_pin(pod: Obj) -> bool:
    """shouldEnforceResourceVersion: a pending pod is deleted only as it was read (it might
    be becoming ready meanwhile)."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not pod["metadata"].get("deletionTimestamp")


def _pinned(options: Obj, pod: Obj) -> Obj:
    """The options with a resourceVersion precondition of the pod as read (unless given)."""
    pre = dict(options.get("preconditions") or {})
    if pre.get("resourceVersion"):
        return options
    pre["resourceVersion"] = pod["metadata"]["resourceVersion"]
    return {**options, "preconditions": pre}


def _unhealthy_may_go(pod: Obj, pdb: Obj) -> bool:
    """A pod that is not ready does not count as healthy: with ``AlwaysAllow``, or while the
    budget is met (``IfHealthyBudget``, the default), it goes without taking a disruption."""
    if budgets.pod_ready(pod):
        return False
    if (pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy") == ALWAYS_ALLOW:
        return True
    status = pdb.get("status") or {}
    desired = int(status.get("desiredHealthy") or 0)
    return int(status.get("currentHealthy") or 0) >= desired > 0


def _take_disruption(reg: Registry, pdb: Obj, pod_name: str, dry_run: bool) -> None:
    """checkAndDecrement, retried with a fresh read while another writer wins the race (each
    conflict means another write succeeded); the last conflict is the answer once the attempts
    are spent, as client-go's retry.OnError returns it."""
    m = pdb["metadata"]
    for attempt in range(ATTEMPTS):
        try:
            _check_and_decrement(reg, pdb, pod_name, dry_run)
            return
        except errors.ConflictError:
            if attempt == ATTEMPTS - 1:
                raise
            pdb = reg.get(PDBS, m["namespace"], m["name"])


def _check_and_decrement(reg: Registry, pdb: Obj, pod_name: str, dry_run: bool) -> None:
    name = pdb["metadata"]["name"]
    status = copy.deepcopy(pdb.get("status") or {})
    if int(status.get("observedGeneration") or 0) < int(pdb["metadata"].get("generation") or 0):
        raise _too_many(name)
    allowed = int(status.get("disruptionsAllowed") or 0)
    if allowed < 0:
        raise _forbidden(name, "pdb disruptions allowed is negative")
    if len(status.get("disruptedPods") or {}) > MAX_DISRUPTED_PODS:
        raise _forbidden(
            name, "DisruptedPods map too big - too many evictions not confirmed by PDB controller"
        )
    if allowed == 0:
        why = (
            f"The disruption budget {name} needs {int(status.get('desiredHealthy') or 0)} "
            f"healthy pods and has {int(status.get('currentHealthy') or 0)} currently"
        )
        raise errors.TooManyRequestsError(
            VIOLATION, [errors.Cause("", DISRUPTION_BUDGET_CAUSE, why)]
        )
    status["disruptionsAllowed"] = allowed - 1
    if dry_run:
        return
    stamp = meta.timestamp(reg.clock())
    if allowed == 1:
        budgets.set_condition(status, budgets.allowed_condition(status, stamp))
    # The controller then counts the pod as gone until it is, or for 2 minutes.
    status["disruptedPods"] = {**(status.get("disruptedPods") or {}), pod_name: stamp}
    body = {**pdb, "status": status}
    reg.replace(PDBS, pdb["metadata"]["namespace"], name, body, sub="status")


def _too_many(name: str) -> errors.TooManyRequestsError:
    """createTooManyRequestsError: the budget is not observed yet; come back in 10 s."""
    why = f"The disruption budget {name} is still being processed by the server."
    return errors.TooManyRequestsError(
        VIOLATION,
        [errors.Cause("", DISRUPTION_BUDGET_CAUSE, why)],
        {"retryAfterSeconds": PROCESSING_RETRY_SECONDS},
    )


def _forbidden(name: str, why: str) -> errors.ForbiddenError:
    """NewForbidden(policy.Resource("poddisruptionbudget"), ...): the singular, as written."""
    return errors.ForbiddenError(
        f'poddisruptionbudget.policy "{name}" is forbidden: {why}',
        details={"name": name, "group": "policy", "kind": "poddisruptionbudget"},
    )


def _delete(reg: Registry, pod: Obj, options: Obj) -> None:
    """addConditionAndDeletePod: mark the pod DisruptionTarget (not in a dry run), then delete
    it gracefully; a resourceVersion precondition follows the pod through the status write."""
    m = pod["metadata"]
    if not options.get("dryRun"):
        pod = _mark_target(reg, pod, options)
        pre = options.get("preconditions") or {}
        if pre.get("resourceVersion"):
            options = {
                **options,
                "preconditions": {**pre, "resourceVersion": pod["metadata"]["resourceVersion"]},
            }
    reg.delete(PODS, m["namespace"], m["name"], dict(options))


def _mark_target(reg: Registry, pod: Obj, options: Obj) -> Obj:
    """The latest pod with ``DisruptionTarget=True``, written as GuaranteedUpdate writes it:
    a write that loses to another (the agent's status) is made again on the newer pod; a pod
    that no longer meets the preconditions is a conflict."""
    pre = options.get("preconditions") or {}
    m = pod["metadata"]
    lost = 0
    while True:
        latest = reg.get(PODS, m["namespace"], m["name"])
        answers.check_preconditions(PODS, latest, pre)
        try:
            return reg.replace(
                PODS, m["namespace"], m["name"], _targeted(latest, reg), sub="status"
            )
        except errors.ConflictError:
            lost += 1
            if lost >= ATTEMPTS:
                raise


def _targeted(pod: Obj, reg: Registry) -> Obj:
    status = pod.setdefault("status", {})
    conds = list(status.get("conditions") or [])
    cond = conditions.build(DISRUPTION_TARGET, "True", meta.timestamp(reg.clock()),
                            EVICTION_BY_API, "Eviction API: evicting",
                            previous=conditions.find(conds, DISRUPTION_TARGET),
                            lastProbeTime=None)  # fmt: skip
    conditions.upsert(conds, cond)
    status["conditions"] = conds
    return pod
