"""The command line of ``tinykube control``, shared by its processes: the gunicorn master and its
API workers read it once, the controller process reads the same flags again (it is started with
them). Parsing and the settings derived from the flags are pure but for the CPU count."""

from __future__ import annotations

import argparse
import ipaddress
import math
import os
from pathlib import Path
from typing import Any

from control import metricsserver, redisauth, serverdata
from control.apiserver.inflight import Limits
from control.controllers import endpointslice, nodelifecycle, podgc
from control.registry import allocation
from control.validation import podsecurity

# Seconds for a connection's TLS handshake and request head (kube-apiserver's ReadHeaderTimeout
# is 32 s; a silent socket is cheap in a greenlet, but it still holds a file).
DEFAULT_HEAD_TIMEOUT = 10.0


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="tinykube control", description=DESCRIPTION)
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    p.add_argument("--redis-prefix", default="tk:")
    redisauth.add_flags(p)
    p.add_argument(
        "--encryption-provider-config", type=Path, metavar="PATH",
        help="an EncryptionConfiguration (apiserver.config.k8s.io/v1) saying how resources "
        "(secrets) are encrypted at rest; without it they are stored in the clear",
    )  # fmt: skip
    p.add_argument("--bind-address", default="127.0.0.1")
    p.add_argument("--port", type=int, default=6443)
    p.add_argument("--advertise-address", metavar="IP", type=_ip,
                   help="the address the kubernetes Service's endpoints name (default: the bind "
                   "address; the host's own address when that is loopback or 0.0.0.0)")  # fmt: skip
    p.add_argument(
        "--pod-network-address", metavar="IP", type=_ip,
        help="also serve the API on this address of the host on the pods' network (the Docker "
        "bridge's gateway, e.g. 172.17.0.1), so pods reach it through the kubernetes Service; "
        "the default --advertise-address then (docs/serviceaccounts.md)",
    )  # fmt: skip
    p.add_argument("--token-auth-file", type=Path, help="default: DATA/tokens.csv (made once)")
    p.add_argument("--workers", type=_positive, metavar="N",
                   help="API server worker processes (default: one per CPU this process may "
                   f"use, here {default_workers()})")  # fmt: skip
    add_limit_flags(p)
    p.add_argument("--allow-privileged", action="store_true")
    p.add_argument(
        "--pod-security-defaults", type=_pod_security, default=podsecurity.DEFAULTS,
        metavar="MODE=LEVEL,...",
        help="Pod Security admission for namespaces without pod-security.kubernetes.io labels, "
        "with the keys of kube-apiserver's PodSecurityConfiguration defaults: enforce, "
        "enforce-version, audit, audit-version, warn, warn-version (default: %(default)s)",
    )  # fmt: skip
    p.add_argument("--no-controllers", action="store_true",
                   help="serve the API only (no controller process)")  # fmt: skip
    p.add_argument("--controller-metrics-address", default=metricsserver.DEFAULT_ADDRESS,
                   help="host:port of the controller process's /metrics, for the admins of the "
                        "token file; empty for none (default: %(default)s)")  # fmt: skip
    nodelifecycle.add_flags(p)
    podgc.add_flags(p)
    endpointslice.add_flags(p)
    for which in ("not-ready", "unreachable"):
        p.add_argument(
            f"--default-{which}-toleration-seconds", type=int, metavar="N",
            help=f"tolerationSeconds of the {which}:NoExecute toleration added to every pod "
            "without one (default: --pod-eviction-timeout, rounded up)",
        )  # fmt: skip
    add_service_flags(p)
    serverdata.add_flags(p)
    p.add_argument("-v", "--verbose", action="store_true")
    return p.parse_args(argv)


DESCRIPTION = """The control plane: the API server (gunicorn, one gevent worker per CPU) and the
controller manager in a process of its own (docs/serving.md)."""


def add_limit_flags(p: argparse.ArgumentParser) -> None:
    d = Limits()
    flags = (
        ("--max-requests-inflight", d.readonly, "read-only requests served at once (0: no cap)"),
        ("--max-mutating-requests-inflight", d.mutating, "other requests served at once"),
        ("--max-long-running-requests", d.long_running,
         "watches, log streams and exec sessions of non-admin users open at once"),
        ("--max-long-running-requests-per-user", d.long_running_per_user,
         "watches, log streams and exec sessions one non-admin user may hold"),
    )  # fmt: skip
    for flag, default, text in flags:
        help_ = f"{text}, in each API worker; more get 429"
        p.add_argument(flag, type=int, default=default, metavar="N", help=help_)
    p.add_argument(
        "--priority-seats", type=int, default=d.seats, metavar="N",
        help="short requests each API worker runs at once, shared among the priority levels; "
        "the others wait their turn (0: no priority levels; default %(default)s)",
    )  # fmt: skip
    p.add_argument(
        "--read-header-timeout",
        type=float,
        default=DEFAULT_HEAD_TIMEOUT,
        metavar="SECONDS",
        help="time for a connection's TLS handshake and request head",
    )


def add_service_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--service-cluster-ip-range", type=_arg(allocation.parse_cluster_ip_range),
        default=allocation.DEFAULT_CLUSTER_IP_RANGE, metavar="CIDR",
        help="the addresses Services' ClusterIPs come from; the first is the kubernetes "
        "Service's, the tenth kube-dns's (default: %(default)s)",
    )  # fmt: skip
    p.add_argument(
        "--service-node-port-range", type=_arg(allocation.parse_node_port_range),
        default="{}-{}".format(*allocation.DEFAULT_NODE_PORT_RANGE), metavar="FIRST-LAST",
        help="the ports NodePort and LoadBalancer Services open on every node "
        "(default: %(default)s)",
    )  # fmt: skip


def service_ranges(args: argparse.Namespace) -> allocation.ServiceRanges:
    ips, ports = args.service_cluster_ip_range, args.service_node_port_range
    return allocation.ServiceRanges(
        allocation.parse_cluster_ip_range(ips) if isinstance(ips, str) else ips,
        allocation.parse_node_port_range(ports) if isinstance(ports, str) else ports,
    )


def _arg(parse: Any) -> Any:
    def checked(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    checked.__name__ = parse.__name__
    return checked


def binds(args: argparse.Namespace) -> list[str]:
    """The addresses the API server listens on: ``--bind-address``, and the pods' one."""
    out = [f"{args.bind_address}:{args.port}"]
    pods = getattr(args, "pod_network_address", None)
    if pods and pods != args.bind_address:
        out.append(f"[{pods}]:{args.port}" if ":" in pods else f"{pods}:{args.port}")
    return out


def limits_from(args: argparse.Namespace) -> Limits:
    return Limits(
        readonly=args.max_requests_inflight,
        mutating=args.max_mutating_requests_inflight,
        long_running=args.max_long_running_requests,
        long_running_per_user=args.max_long_running_requests_per_user,
        seats=args.priority_seats,
    )


def default_workers() -> int:
    """One API worker per CPU this process may run on: each is one core's worth of Python (the
    GIL), and the controller process, mostly idle, shares the cores with them."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def workers(args: argparse.Namespace) -> int:
    return int(args.workers) if args.workers else default_workers()


def default_tolerations(args: argparse.Namespace) -> tuple[int, int]:
    """The DefaultTolerationSeconds admission's seconds: the eviction timeout unless given, so
    that one flag says how long a pod stays on a lost node."""
    fallback = math.ceil(args.pod_eviction_timeout)
    not_ready = args.default_not_ready_toleration_seconds
    unreachable = args.default_unreachable_toleration_seconds
    return (
        fallback if not_ready is None else not_ready,
        fallback if unreachable is None else unreachable,
    )


def admission(args: argparse.Namespace) -> dict[str, Any]:
    """The Registry's admission settings, the same in the API workers and the controller
    process, so a controller's write is admitted as a client's would be."""
    return {
        "allow_privileged": args.allow_privileged,
        "pod_security": podsecurity.parse_defaults(args.pod_security_defaults),
        "default_tolerations": default_tolerations(args),
        "heartbeats": nodelifecycle.heartbeat_policy_from(args),
        "service_ranges": service_ranges(args),
        # TaintNodesByCondition, on by default in kube-apiserver; nothing turns it off.
        "taint_new_nodes": True,
    }


def _pod_security(text: str) -> str:
    try:
        podsecurity.parse_defaults(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def _ip(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an IP address: {text!r}") from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer: {text!r}")
    return value
