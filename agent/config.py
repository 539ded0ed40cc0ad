"""The agent's settings (``tinykube agent`` flags become an ``AgentConfig``). Pure data."""

from __future__ import annotations

from dataclasses import dataclass, field

from agent import join, seccomp
from agent.node import STATUS_REPORT_SECONDS
from agent.planner import BackoffPolicy

# Periodic full relist of pods and containers: a missed event costs at most this long.
RESYNC_SECONDS = 60.0
# Pods synced at once. The kubelet runs a worker per pod; Docker starts containers faster with
# many requests in flight (bench/deploy_converge.py: 30 pods Ready in about half the time of 4).
DEFAULT_WORKERS = 16


@dataclass(frozen=True)
class DnsConfig:
    """Cluster DNS: the kubelet's --cluster-dns/--cluster-domain/--resolv-conf, and the server."""

    cluster_dns: tuple[str, ...] = ("10.96.0.10",)  # the kube-dns Service's ClusterIP
    cluster_domain: str = "cluster.local"
    resolv_conf: str = "/etc/resolv.conf"
    upstreams: tuple[str, ...] = ()  # "IP[:PORT]"; none: the host's resolv.conf
    serve: bool = False  # run the node-local server: the agent process does, in-process ones not
    port: int = 53


@dataclass
class AgentConfig:
    server: str
    token: str
    node_name: str
    node_ip: str | None = None
    node_api_address: str | None = None
    node_api_port: int = 10250
    lease_renew_interval: float = 2.0  # until the API server hands out its own
    node_status_interval: float = 10.0  # how often the status is computed
    node_status_report_interval: float = STATUS_REPORT_SECONDS  # unchanged: posted this often
    resync_interval: float = RESYNC_SECONDS
    resource_metrics_interval: float = 10.0  # 0: no resource metrics (kubectl top)
    workers: int = DEFAULT_WORKERS
    backoff: BackoffPolicy = field(default_factory=BackoffPolicy)
    seccomp_profile_root: str = seccomp.DEFAULT_ROOT
    allowed_unsafe_sysctls: tuple[str, ...] = ()  # names or prefix* patterns, namespaced ones
    data_dir: str = field(default_factory=lambda: str(join.default_data_dir()))
    # Pod volumes live under <root_dir or data_dir>/pods: Docker must see it as the agent does.
    root_dir: str | None = None
    # Secrets and memory emptyDirs on tmpfs: None = where the agent is root outside a container
    # (the command line's default). An agent built in a test process or a simulated node mounts
    # nothing: its mounts would outlive it under a root dir no one cleans.
    volume_tmpfs: bool | None = False
    # kube-proxy: program Services into this host's iptables (the command line turns it on; an
    # agent built in a test process leaves the host alone).
    service_proxy: bool = False
    pod_bridge: str = "docker0"  # the bridge of the engine's default network, where pods are
    dns: DnsConfig = field(default_factory=DnsConfig)
