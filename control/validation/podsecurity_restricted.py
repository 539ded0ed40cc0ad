"""The checks the Pod Security Standards' ``restricted`` level adds to ``baseline``, word for word
as k8s.io/pod-security-admission's policy package reports them; same shape as
``podsecurity_checks``. Pure: no I/O.
"""

from __future__ import annotations

from control.validation.podsecurity_checks import (
    OTHER_VOLUME_TYPES,
    RESTRICTED_VOLUME_TYPES,
    Meta,
    Result,
    Spec,
    containers,
    dict_of,
    is_windows,
    list_of,
    name_of,
    named,
    plural,
    quote,
    seccomp_profile,
    security_context,
    setters,
    user_namespaced,
)


def allow_privilege_escalation(meta: Meta, spec: Spec, windows_exempt: bool = False) -> Result:
    if windows_exempt and is_windows(spec):
        return None
    bad = [
        name_of(c)
        for c in containers(spec)
        if security_context(c).get("allowPrivilegeEscalation") is not False
    ]
    if not bad:
        return None
    return (
        "allowPrivilegeEscalation != false",
        f"{named('container', 'containers', bad)} must set "
        "securityContext.allowPrivilegeEscalation=false",
    )


def capabilities_restricted(meta: Meta, spec: Spec, windows_exempt: bool = False) -> Result:
    if windows_exempt and is_windows(spec):
        return None
    missing_drop: list[str] = []
    adding: list[str] = []
    caps: set[str] = set()
    for c in containers(spec):
        capabilities = security_context(c).get("capabilities")
        if capabilities is None:
            missing_drop.append(name_of(c))
            continue
        capabilities = dict_of(capabilities)
        if "ALL" not in [str(d) for d in list_of(capabilities.get("drop"))]:
            missing_drop.append(name_of(c))
        extra = [str(a) for a in list_of(capabilities.get("add")) if a != "NET_BIND_SERVICE"]
        if extra:
            adding.append(name_of(c))
            caps.update(extra)
    details = []
    if missing_drop:
        details.append(
            f"{named('container', 'containers', missing_drop)} must set "
            'securityContext.capabilities.drop=["ALL"]'
        )
    if adding:
        details.append(
            f"{named('container', 'containers', adding)} must not include "
            f"{quote(sorted(caps))} in securityContext.capabilities.add"
        )
    return ("unrestricted capabilities", "; ".join(details)) if details else None


def _volume_type(volume: dict[str, object] | object) -> str | None:
    """None for an allowed volume, else the restricted type it uses."""
    v = dict_of(volume)
    if any(v.get(t) is not None for t in RESTRICTED_VOLUME_TYPES):
        return None
    return next((t for t in OTHER_VOLUME_TYPES if v.get(t) is not None), "unknown")


def restricted_volumes(meta: Meta, spec: Spec) -> Result:
    bad: list[str] = []
    kinds: set[str] = set()
    for volume in list_of(spec.get("volumes")):
        kind = _volume_type(volume)
        if kind is not None:
            bad.append(str(dict_of(volume).get("name") or ""))
            kinds.add(kind)
    if not bad:
        return None
    return (
        "restricted volume types",
        f"{named('volume', 'volumes', bad)} {plural('uses', 'use', len(bad))} "
        f"{plural('restricted volume type', 'restricted volume types', len(kinds))} "
        f"{quote(sorted(kinds))}",
    )


def run_as_non_root(meta: Meta, spec: Spec, relax_for_user_namespaces: bool = False) -> Result:
    if relax_for_user_namespaces and user_namespaced(spec):
        return None
    pod_value = security_context(spec).get("runAsNonRoot")
    explicit: list[str] = []
    implicit: list[str] = []
    for c in containers(spec):
        value = security_context(c).get("runAsNonRoot")
        if value is not None:
            if value is False:
                explicit.append(name_of(c))
        elif pod_value is not True:
            implicit.append(name_of(c))
    who = setters(pod_value is False, explicit)
    if who:
        detail = f"{' and '.join(who)} must not set securityContext.runAsNonRoot=false"
        return "runAsNonRoot != true", detail
    if implicit:
        return (
            "runAsNonRoot != true",
            f"pod or {named('container', 'containers', implicit)} must set "
            "securityContext.runAsNonRoot=true",
        )
    return None


def run_as_user(meta: Meta, spec: Spec, relax_for_user_namespaces: bool = False) -> Result:
    if relax_for_user_namespaces and user_namespaced(spec):
        return None

    def root(obj: Meta) -> bool:
        value = security_context(obj).get("runAsUser")
        return value == 0 and not isinstance(value, bool)

    who = setters(root(spec), [name_of(c) for c in containers(spec) if root(c)])
    if not who:
        return None
    return "runAsUser=0", f"{' and '.join(who)} must not set runAsUser=0"


def seccomp_profile_restricted(meta: Meta, spec: Spec) -> Result:
    """The restricted seccomp check from v1.25: pods declared for Windows are exempt."""
    return None if is_windows(spec) else seccomp_profile(meta, spec, required=True)
