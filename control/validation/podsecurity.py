"""Pod Security Admission's policy, as k8s.io/pod-security-admission defines it: the levels
(privileged, baseline, restricted) and versions (``latest``, ``v1.x``), the namespace labels
``pod-security.kubernetes.io/{enforce,audit,warn}[-version]`` read over the cluster defaults,
and the evaluation of a pod spec against a level, which runs the checks that level had at that
version. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from common import sysctls
from common.errors import Cause
from common.fielderrors import invalid
from control.validation import podsecurity_checks as base
from control.validation import podsecurity_restricted as strict
from control.validation.podsecurity_checks import BASELINE, RESTRICTED, CheckFn, Meta, Spec

PRIVILEGED = "privileged"
LEVELS = (PRIVILEGED, BASELINE, RESTRICTED)
LABEL_PREFIX = "pod-security.kubernetes.io/"
MODES = ("enforce", "audit", "warn")
# ``latest``: newer than any v1.x, so it always selects the newest version of every check.
LATEST = 1 << 30
AUDIT_VIOLATIONS = LABEL_PREFIX + "audit-violations"


def version_string(minor: int) -> str:
    return "latest" if minor == LATEST else f"v1.{minor}"


@dataclass(frozen=True)
class LevelVersion:
    level: str = PRIVILEGED
    version: int = LATEST

    def __str__(self) -> str:
        return f"{self.level}:{version_string(self.version)}"


@dataclass(frozen=True)
class Policy:
    enforce: LevelVersion = LevelVersion()
    audit: LevelVersion = LevelVersion()
    warn: LevelVersion = LevelVersion()

    def fully_privileged(self) -> bool:
        return all(lv.level == PRIVILEGED for lv in (self.enforce, self.audit, self.warn))


def parse_level(value: str) -> tuple[str, str]:
    """(level, error); an unknown level reads as ``restricted``, as Kubernetes fails closed."""
    if value in LEVELS:
        return value, ""
    return RESTRICTED, "must be one of " + ", ".join(LEVELS)


def parse_version(value: str) -> tuple[int, str]:
    """(minor version or LATEST, error); an unknown version reads as ``latest``."""
    if value == "latest":
        return LATEST, ""
    digits = value[3:] if value.startswith("v1.") else ""
    if digits.isascii() and digits.isdigit() and (digits == "0" or not digits.startswith("0")):
        return int(digits), ""
    return LATEST, 'must be "latest" or "v1.x"'


def _compare(a: str, b: str) -> int:
    return LEVELS.index(a) - LEVELS.index(b)


def policy_from_labels(
    labels: Mapping[str, Any], defaults: Policy, path: str = "metadata.labels"
) -> tuple[Policy, list[Cause]]:
    """The namespace's policy (PolicyToEvaluate) and the errors of its pod-security labels.

    A bad enforce level reads as restricted; a bad audit or warn level as privileged; a bad
    version as latest. Without its own warn label, warn is raised to a stricter enforce level.
    """
    modes = {m: getattr(defaults, m) for m in MODES}
    causes: list[Cause] = []
    explicit: set[str] = set()
    for mode in MODES:
        level_key, version_key = LABEL_PREFIX + mode, f"{LABEL_PREFIX}{mode}-version"
        if level_key in labels:
            value = str(labels[level_key])
            level, err = parse_level(value)
            if err:
                causes.append(invalid(f"{path}[{level_key}]", value, err))
                level = RESTRICTED if mode == "enforce" else PRIVILEGED
            else:
                explicit.add(mode)
            modes[mode] = replace(modes[mode], level=level)
        if version_key in labels:
            value = str(labels[version_key])
            version, err = parse_version(value)
            if err:
                causes.append(invalid(f"{path}[{version_key}]", value, err))
            else:
                explicit.add(mode + "-version")
            modes[mode] = replace(modes[mode], version=version)
    enforce, warn = modes["enforce"], modes["warn"]
    explicit_warn = LABEL_PREFIX + "warn" in labels
    if not explicit_warn and "enforce" in explicit and _compare(enforce.level, warn.level) > 0:
        has_version = f"{LABEL_PREFIX}warn-version" in labels
        modes["warn"] = LevelVersion(
            enforce.level, warn.version if has_version else enforce.version
        )
    return Policy(**modes), causes


def parse_defaults(text: str) -> Policy:
    """The cluster defaults from ``enforce=baseline,warn=restricted,warn-version=v1.30`` (the keys
    of kube-apiserver's PodSecurityConfiguration ``defaults``); ValueError names a bad entry."""
    modes = {m: LevelVersion() for m in MODES}
    for item in (i.strip() for i in text.split(",")):
        if not item:
            continue
        key, sep, value = item.partition("=")
        mode = key.removesuffix("-version")
        if not sep or mode not in MODES:
            raise ValueError(
                f'defaults: Unsupported value: "{key}": supported keys: '
                "enforce, enforce-version, audit, audit-version, warn, warn-version"
            )
        if key.endswith("-version"):
            version, err = parse_version(value)
            modes[mode] = replace(modes[mode], version=version)
        else:
            level, err = parse_level(value)
            modes[mode] = replace(modes[mode], level=level)
        if err:
            raise ValueError(f'defaults.{key}: Invalid value: "{value}": {err}')
    return Policy(**modes)


# tinykube's cluster default: stricter than Kubernetes' and k3s' (privileged), so that a pod
# escaping its container needs a namespace labelled privileged (and --allow-privileged).
DEFAULTS = "enforce=baseline"
DEFAULT_POLICY = Policy(enforce=LevelVersion(BASELINE))


# -- checks by level and version -------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    since: int  # the minor version from which this variant applies
    check: CheckFn
    overrides: tuple[str, ...] = ()  # baseline check ids a restricted check replaces


@dataclass(frozen=True)
class Check:
    id: str
    level: str
    variants: tuple[Variant, ...]


def _v(since: int, fn: Callable[..., Any], overrides: tuple[str, ...] = (), **kw: Any) -> Variant:
    return Variant(since, partial(fn, **kw) if kw else fn, overrides)


CHECKS = (
    Check("appArmorProfile", BASELINE, (_v(0, base.app_armor_profile),)),
    Check("capabilities_baseline", BASELINE, (_v(0, base.capabilities_baseline),)),
    Check("hostNamespaces", BASELINE, (_v(0, base.host_namespaces),)),
    Check("hostPathVolumes", BASELINE, (_v(0, base.host_path_volumes),)),
    Check("hostPorts", BASELINE, (_v(0, base.host_ports),)),
    Check("hostProbesAndHostLifecycle", BASELINE, (_v(34, base.host_probes_and_lifecycle),)),
    Check("privileged", BASELINE, (_v(0, base.privileged),)),
    Check(
        "procMount",
        BASELINE,
        (_v(0, base.proc_mount), _v(35, base.proc_mount, relax_for_user_namespaces=True)),
    ),
    Check(
        "seLinuxOptions",
        BASELINE,
        (
            _v(0, base.se_linux_options, allowed_types=base.SELINUX_TYPES_1_0),
            _v(31, base.se_linux_options, allowed_types=base.SELINUX_TYPES_1_31),
        ),
    ),
    Check(
        "seccompProfile_baseline",
        BASELINE,
        (_v(0, base.seccomp_profile_annotations), _v(19, base.seccomp_profile)),
    ),
    Check(
        "sysctls",
        BASELINE,
        tuple(
            _v(since, base.sysctls, allowed=allowed)
            for since, allowed in (
                (0, sysctls.SAFE_SYSCTLS_1_0),
                (27, sysctls.SAFE_SYSCTLS_1_27),
                (29, sysctls.SAFE_SYSCTLS_1_29),
                (32, sysctls.SAFE_SYSCTLS_1_32),
                (37, sysctls.SAFE_SYSCTLS_1_37),
            )
        ),
    ),
    Check("windowsHostProcess", BASELINE, (_v(0, base.windows_host_process),)),
    Check(
        "allowPrivilegeEscalation",
        RESTRICTED,
        (
            _v(8, strict.allow_privilege_escalation),
            _v(25, strict.allow_privilege_escalation, windows_exempt=True),
        ),
    ),
    Check(
        "capabilities_restricted",
        RESTRICTED,
        (
            _v(22, strict.capabilities_restricted, ("capabilities_baseline",)),
            _v(25, strict.capabilities_restricted, ("capabilities_baseline",), windows_exempt=True),
        ),
    ),
    Check("procMount_restricted", RESTRICTED, (_v(35, base.proc_mount, ("procMount",)),)),
    Check(
        "restrictedVolumes", RESTRICTED, (_v(0, strict.restricted_volumes, ("hostPathVolumes",)),)
    ),
    Check(
        "runAsNonRoot",
        RESTRICTED,
        (
            _v(0, strict.run_as_non_root),
            _v(35, strict.run_as_non_root, relax_for_user_namespaces=True),
        ),
    ),
    Check(
        "runAsUser",
        RESTRICTED,
        (_v(23, strict.run_as_user), _v(35, strict.run_as_user, relax_for_user_namespaces=True)),
    ),
    Check(
        "seccompProfile_restricted",
        RESTRICTED,
        (
            _v(19, base.seccomp_profile, ("seccompProfile_baseline",), required=True),
            _v(25, strict.seccomp_profile_restricted, ("seccompProfile_baseline",)),
        ),
    ),
)


def _variant(check: Check, version: int) -> Variant | None:
    """The newest variant of a check that applies at a version (None: not yet in that version)."""
    chosen = None
    for variant in check.variants:
        if variant.since <= version:
            chosen = variant
    return chosen


def checks_for(lv: LevelVersion) -> list[CheckFn]:
    """The checks of a level at a version, baseline ones first, each group by check id."""
    if lv.level == PRIVILEGED:
        return []
    levels = (BASELINE,) if lv.level == BASELINE else (BASELINE, RESTRICTED)
    chosen = {
        c.id: (c.level, v)
        for c in CHECKS
        if c.level in levels and (v := _variant(c, lv.version)) is not None
    }
    overridden = {o for level, v in chosen.values() if level == RESTRICTED for o in v.overrides}
    ordered = sorted(chosen.items(), key=lambda item: (item[1][0] != BASELINE, item[0]))
    return [v.check for cid, (_, v) in ordered if cid not in overridden]


def evaluate(lv: LevelVersion, meta: Meta, spec: Spec) -> list[tuple[str, str]]:
    """The (reason, detail) of every check of ``lv`` the pod (or pod template) fails."""
    return [r for check in checks_for(lv) if (r := check(meta, spec)) is not None]


def describe(results: list[tuple[str, str]]) -> str:
    """``reason (detail), reason (detail)``: AggregateCheckResult.ForbiddenDetail."""
    return ", ".join(f"{reason} ({detail})" if detail else reason for reason, detail in results)
