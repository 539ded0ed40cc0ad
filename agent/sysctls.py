"""Which pod sysctls this node admits: the kubelet's safe set plus ``--allowed-unsafe-sysctls``.

As the kubelet's sysctl admission: a pod naming a sysctl outside the allowlist is rejected before
anything starts (phase Failed, reason ``SysctlForbidden``); an allowlist entry must be a sysctl
(or a ``prefix*`` pattern) the kernel namespaces, since only those can be set for one pod. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from common.sysctls import SAFE_SYSCTLS, namespaced_by, to_dots

FORBIDDEN_REASON = "SysctlForbidden"
# The kubelet's safe set (pkg/kubelet/sysctl/safe_sysctls.go), the one Pod Security's baseline
# level allows: namespaced, and without effect on any other pod of the node.
SAFE = tuple(sorted(SAFE_SYSCTLS))


@dataclass(frozen=True)
class Allowlist:
    """Sysctl names and ``prefix*`` patterns a pod may set, each with its namespace."""

    names: dict[str, str] = field(default_factory=dict)
    prefixes: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, unsafe: Iterable[str] = ()) -> Allowlist:
        """The safe set plus ``unsafe``; ValueError names an entry the kernel does not
        namespace."""
        names: dict[str, str] = {}
        prefixes: dict[str, str] = {}
        for pattern in (*SAFE, *unsafe):
            pattern = to_dots(pattern.strip())
            target, key = (prefixes, pattern[:-1]) if pattern.endswith("*") else (names, pattern)
            ns = namespaced_by(key)
            if not ns:
                what = "sysctls" if target is prefixes else "sysctl"
                raise ValueError(f'the {what} "{pattern}" are not known to be namespaced')
            target[key] = ns
        return cls(names, prefixes)

    def refusal(self, name: str, host_network: bool, host_ipc: bool) -> str | None:
        """Why ``name`` may not be set (the kubelet's wording), or None."""
        name = to_dots(name)
        ns = self.names.get(name)
        if ns is None:
            ns = next((n for p, n in self.prefixes.items() if name.startswith(p)), None)
        if ns is None:
            return f'"{name}" not allowlisted'
        if (ns == "ipc" and host_ipc) or (ns == "net" and host_network):
            return f'"{name}" not allowed with host {ns} enabled'
        return None

    def admit(self, pod: Mapping[str, Any]) -> str | None:
        """The pod's rejection message (reason ``SysctlForbidden``), or None to admit it."""
        spec = pod.get("spec") or {}
        for item in (spec.get("securityContext") or {}).get("sysctls") or []:
            if not isinstance(item, Mapping) or not item.get("name"):
                continue
            why = self.refusal(
                str(item["name"]), spec.get("hostNetwork") is True, spec.get("hostIPC") is True
            )
            if why is not None:
                return f"forbidden sysctl: {why}"
        return None
