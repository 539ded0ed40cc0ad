"""Command line of the agent: ``python -m agent --server URL --token-file F [--node-name N] ...``
(or the token in ``TK_TOKEN``).

``python -m agent cleanup --cluster-id ID`` removes a cluster's containers and its Service rules
(``tinykube down``); ``python -m agent proxy-cleanup --all`` every cluster's rules (uninstall).

Parses flags, configures logging, builds the API client and the Docker runtime, runs the
``Agent`` until SIGTERM/SIGINT (which leave containers running). Entry point; effectful.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import threading
from pathlib import Path
from types import FrameType

from agent import clusterdns, join, routes, seccomp, sysctls, tokenflags
from agent.config import DEFAULT_WORKERS, AgentConfig, DnsConfig
from agent.join import default_data_dir
from agent.loop import Agent
from agent.mountinfo import Mounter
from agent.node import STATUS_REPORT_SECONDS
from agent.nodeapi import DEFAULT_PORT
from agent.planner import BackoffPolicy
from agent.proxy import proxier
from agent.proxy.netfilter import NetfilterError
from agent.runtime import ContainerRuntimeError
from agent.volumes import VolumeManager
from common import errors
from common.client import ApiClient

log = logging.getLogger(__name__)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="tinykube agent", description="Run a tinykube node agent.")
    p.add_argument("--server", default=os.environ.get("TK_SERVER_URL"), help="API server URL")
    tokenflags.add_flags(p)
    p.add_argument("--node-name", default=os.environ.get("TK_NODE_NAME") or socket.gethostname())
    p.add_argument("--node-ip", help="InternalIP to report (default: the host's primary IP)")
    p.add_argument("--node-api-address", help="address of the node API (default: the node IP)")
    p.add_argument("--node-api-port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    p.add_argument("--lease-renew-interval", type=float, default=2.0, metavar="S",
                   help="until the API server hands out its own in the Lease")  # fmt: skip
    p.add_argument(
        "--node-status-interval",
        type=float,
        default=10.0,
        metavar="S",
        help="how often the node status is computed (posted only when it changed)",
    )
    p.add_argument("--node-status-report-interval", type=float, default=STATUS_REPORT_SECONDS,
                   metavar="S", help="an unchanged node status is posted this often "
                   "(the kubelet's nodeStatusReportFrequency; default %(default)gs)")  # fmt: skip
    p.add_argument("--resync-interval", type=float, default=60.0, metavar="S")
    p.add_argument("--resource-metrics-interval", type=float, default=10.0, metavar="S",
                   help="how often CPU and memory of the node and its containers are read, for "
                   "kubectl top (0: never)")  # fmt: skip
    p.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help="pods synced at once")
    p.add_argument("--backoff-base", type=float, default=10.0, metavar="S")
    p.add_argument("--backoff-cap", type=float, default=300.0, metavar="S")
    p.add_argument("--backoff-reset", type=float, default=600.0, metavar="S")
    p.add_argument(
        "--no-offline-fallback",
        action="store_true",
        help="never run a local image when policy Always cannot reach a registry",
    )
    p.add_argument("--docker-host", default=None, help="Docker engine URL (default: DOCKER_HOST)")
    p.add_argument("--insecure-skip-tls-verify", action="store_true")
    p.add_argument("--ca-file")
    p.add_argument("--data-dir", help="where a joined node keeps its credential (default: "
                   "/var/lib/tinykube/agent as root, else ~/.tinykube/agent)")  # fmt: skip
    p.add_argument("--root-dir", default=os.environ.get("TK_ROOT_DIR"),
                   help="where pods' volumes live, in pods/ (default: the data dir); the "
                   "Docker engine must see it at the same path")  # fmt: skip
    p.add_argument("--volume-tmpfs", choices=("auto", "on", "off"), default="auto",
                   help="secrets and memory emptyDirs on tmpfs (auto: when root, outside "
                   "a container)")  # fmt: skip
    p.add_argument("--seccomp-profile-root", default=seccomp.DEFAULT_ROOT, metavar="DIR",
                   help="where Localhost seccomp profiles are (default: %(default)s)")  # fmt: skip
    p.add_argument("--allowed-unsafe-sysctls", default="", metavar="LIST",
                   help="comma-separated sysctls or prefix* patterns pods may set beyond the "
                   "safe set (namespaced ones only)")  # fmt: skip
    p.add_argument("--no-service-proxy", action="store_true",
                   help="leave this host's iptables alone (no kube-proxy)")  # fmt: skip
    p.add_argument("--pod-bridge", default="docker0", metavar="IF",
                   help="the bridge the pods' network uses (default: %(default)s)")  # fmt: skip
    add_dns_flags(p)
    p.add_argument("-v", "--verbose", action="count", default=0)
    args = p.parse_args(argv)
    args.allowed_unsafe_sysctls = tuple(s for s in args.allowed_unsafe_sysctls.split(",") if s)
    try:
        sysctls.Allowlist.of(args.allowed_unsafe_sysctls)
    except ValueError as e:
        p.error(f"--allowed-unsafe-sysctls: {e}")
    args.token = tokenflags.require(p, args)
    return args


def add_dns_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cluster-dns", default=",".join(DnsConfig.cluster_dns), metavar="IPS",
                   help="comma-separated DNS server addresses pods are given; the first is "
                   "served on this host (default: %(default)s; empty: none)")  # fmt: skip
    p.add_argument("--cluster-domain", default=DnsConfig.cluster_domain, metavar="DOMAIN")
    p.add_argument("--resolv-conf", default=DnsConfig.resolv_conf, metavar="FILE",
                   help="the host resolver file: pods with dnsPolicy Default and the cluster "
                   "DNS server's upstreams (default: %(default)s)")  # fmt: skip
    p.add_argument("--dns-upstream", action="append", default=[], metavar="IP[:PORT]",
                   help="where cluster DNS forwards other names (repeatable; default: the "
                   "nameservers of --resolv-conf)")  # fmt: skip


def dns_config(args: argparse.Namespace) -> DnsConfig:
    return DnsConfig(
        cluster_dns=tuple(s.strip() for s in args.cluster_dns.split(",") if s.strip()),
        cluster_domain=args.cluster_domain.strip("."),
        resolv_conf=args.resolv_conf,
        upstreams=tuple(args.dns_upstream),
        serve=True,
    )


def config_from(args: argparse.Namespace) -> AgentConfig:
    return AgentConfig(
        server=args.server,
        token=args.token,
        node_name=args.node_name,
        node_ip=args.node_ip,
        node_api_address=args.node_api_address,
        node_api_port=args.node_api_port,
        lease_renew_interval=args.lease_renew_interval,
        node_status_interval=args.node_status_interval,
        node_status_report_interval=args.node_status_report_interval,
        resync_interval=args.resync_interval,
        resource_metrics_interval=args.resource_metrics_interval,
        workers=args.workers,
        backoff=BackoffPolicy(args.backoff_base, args.backoff_cap, args.backoff_reset),
        seccomp_profile_root=args.seccomp_profile_root,
        allowed_unsafe_sysctls=args.allowed_unsafe_sysctls,
        data_dir=str(Path(args.data_dir).expanduser() if args.data_dir else default_data_dir()),
        root_dir=args.root_dir,
        volume_tmpfs={"on": True, "off": False}.get(args.volume_tmpfs),
        service_proxy=not args.no_service_proxy,
        pod_bridge=args.pod_bridge,
        dns=dns_config(args),
    )


def cleanup(argv: list[str]) -> int:
    """``python -m agent cleanup --cluster-id ID``: remove every container of that cluster and
    its Service rules on this host."""
    p = argparse.ArgumentParser(prog="tinykube agent cleanup")
    p.add_argument("--cluster-id", required=True)
    p.add_argument("--node-name", help="only this node's containers and pod volumes")
    p.add_argument("--docker-host", default=None)
    p.add_argument("--root-dir", action="append", default=[],
                   help="also unmount and remove this cluster's pod volumes there, and "
                        "whatever else is mounted under it")  # fmt: skip
    args = p.parse_args(argv)
    from agent.docker_runtime import DockerRuntime

    if not args.node_name:
        remove_proxy_rules(args.cluster_id)

    try:
        runtime = DockerRuntime(args.docker_host)
        containers = runtime.list_containers(args.cluster_id, args.node_name)
        for c in sorted(containers, key=lambda c: c.role == "sandbox"):  # apps first
            runtime.remove(c.id)
    except ContainerRuntimeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for root in args.root_dir:
        manager = VolumeManager(Path(root), mounter=Mounter())  # whatever made the mounts
        for left in manager.reset(args.cluster_id, args.node_name):
            print(f"warning: {left}", file=sys.stderr)
    if not args.node_name:  # the cluster is going: its DNS lock file too
        clusterdns.forget(args.cluster_id)
    print(f"removed {len(containers)}")
    return 0


def remove_proxy_rules(cluster_id: str | None) -> None:
    """The cluster's kube-proxy chains and jumps go, route_localnet is put back; a host where
    iptables is not usable has none to remove."""
    try:
        removed = proxier.cleanup(cluster_id)
    except NetfilterError as e:
        log.info("kube-proxy rules: nothing removed: %s", e)
        return
    if removed:
        print(f"removed {removed} iptables chain(s)", file=sys.stderr)


def proxy_cleanup(argv: list[str]) -> int:
    """``python -m agent proxy-cleanup (--cluster-id ID | --all)``: remove kube-proxy rules."""
    p = argparse.ArgumentParser(prog="tinykube agent proxy-cleanup")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--cluster-id")
    which.add_argument("--all", action="store_true", help="every tinykube cluster's")
    args = p.parse_args(argv)
    try:
        removed = proxier.cleanup(None if args.all else args.cluster_id)
    except NetfilterError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"removed {removed} iptables chain(s)")
    return 0


def run_until_signal(agent: Agent, stop: threading.Event) -> None:
    """Start the agent and block until ``stop`` is set (by a signal handler)."""
    agent.start()
    while not stop.wait(1.0):
        pass
    agent.stop()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "cleanup":
        return cleanup(argv[1:])
    if argv and argv[0] == "join":
        return join.main(argv[1:])
    if argv and argv[0] == "routes":
        return routes.main(argv[1:])
    if argv and argv[0] == "proxy-cleanup":
        return proxy_cleanup(argv[1:])
    args = parse_args(argv)
    level = logging.DEBUG if args.verbose > 1 else logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from agent.docker_runtime import DockerRuntime  # only the real agent needs Docker

    try:
        join.resolve(args)  # a join token becomes this node's own credential
    except errors.ApiError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    try:
        runtime = DockerRuntime(args.docker_host, offline_fallback=not args.no_offline_fallback)
    except ContainerRuntimeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    client = ApiClient(
        args.server,
        args.token,
        ca_file=args.ca_file,
        insecure=args.insecure_skip_tls_verify,
        user_agent=f"tinykube-agent/{args.node_name}",
    )
    agent = Agent(config_from(args), client, runtime)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("agent: signal %d, stopping (containers keep running)", signum)
        stop.set()
        agent.stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        run_until_signal(agent, stop)
    except errors.ApiError as e:
        if stop.is_set():
            return 0
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0
