"""Sysctls as Kubernetes sees them: the safe set (namespaced to one pod and without effect on any
other pod of the node, by the version that first allowed it: Pod Security's baseline admits them,
the kubelet's sysctl admission allows the newest set by default), the kernel namespace a sysctl
lives in, and its dotted name. Pure.
"""

from __future__ import annotations

SAFE_SYSCTLS_1_0 = frozenset(
    [
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_unprivileged_port_start",
    ]
)
SAFE_SYSCTLS_1_27 = SAFE_SYSCTLS_1_0 | {"net.ipv4.ip_local_reserved_ports"}
SAFE_SYSCTLS_1_29 = SAFE_SYSCTLS_1_27 | {
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
SAFE_SYSCTLS_1_32 = SAFE_SYSCTLS_1_29 | {"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"}
SAFE_SYSCTLS_1_37 = SAFE_SYSCTLS_1_32 | {
    "net.ipv4.tcp_slow_start_after_idle",
    "net.ipv4.tcp_notsent_lowat",
}
# The newest set: what a node admits without --allowed-unsafe-sysctls.
SAFE_SYSCTLS = SAFE_SYSCTLS_1_37

# The namespace a sysctl lives in (component-helpers' NamespacedBy): exact names, then prefixes.
_NAMESPACES = {"kernel.sem": "ipc", "kernel.domainname": "uts", "kernel.hostname": "uts"}
_PREFIXES = {"kernel.shm": "ipc", "kernel.msg": "ipc", "fs.mqueue.": "ipc", "net.": "net"}


def to_dots(name: str) -> str:
    """``net/ipv4/conf/eth0.100/rp_filter`` -> ``net.ipv4.conf.eth0/100.rp_filter``: a name
    whose first separator is a slash has its slashes and dots swapped (NormalizeName)."""
    first = next((char for char in name if char in "./"), ".")
    return name if first == "." else name.translate(str.maketrans("./", "/."))


def namespaced_by(name: str) -> str:
    """``ipc``, ``net`` or ``uts``; "" when the kernel does not namespace it."""
    if name in _NAMESPACES:
        return _NAMESPACES[name]
    return next((ns for prefix, ns in _PREFIXES.items() if name.startswith(prefix)), "")
