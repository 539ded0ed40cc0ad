"""The safe sysctls: namespaced to one pod and without effect on any other pod of the node, by
the Kubernetes version that first allowed them. Pod Security's baseline level admits them (by
its version) and the kubelet's sysctl admission allows the newest set by default. Pure data.
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
