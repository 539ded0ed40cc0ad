"""Host routes between nodes, flannel's host-gw idea: on every node, a route to each other node's
pod CIDR (``spec.podCIDR``) via that node's InternalIP, so pods reach pods on other nodes by pod
IP. ``python -m agent routes`` keeps them in step with the Nodes using the credential a joined
node stored. ``desired_routes``/``parse_routes``/``plan`` are pure; ``sync``/``main`` run ``ip``.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from agent import join
from agent.apis import NODES
from common import errors
from common.client import ApiClient

log = logging.getLogger(__name__)

INTERVAL = 2.0


def _internal_ip(node: dict[str, Any]) -> str | None:
    for address in (node.get("status") or {}).get("addresses") or []:
        if address.get("type") == "InternalIP":
            return str(address.get("address"))
    return None


def desired_routes(nodes: list[dict[str, Any]], me: str) -> dict[str, str]:
    """``{pod CIDR: via}`` for every other node that has both a pod CIDR and an InternalIP."""
    out = {}
    for node in nodes:
        cidr = (node.get("spec") or {}).get("podCIDR")
        via = _internal_ip(node)
        if node["metadata"]["name"] != me and cidr and via:
            out[str(cidr)] = via
    return out


def parse_routes(text: str, cluster_cidr: str) -> dict[str, str]:
    """The gateway routes inside ``cluster_cidr`` in ``ip -4 route show`` output."""
    cluster = ipaddress.ip_network(cluster_cidr)
    out = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 3 and words[1] == "via":
            try:
                dest = ipaddress.ip_network(words[0])
            except ValueError:
                continue
            if dest.subnet_of(cluster) and dest != cluster:  # type: ignore[arg-type]
                out[str(dest)] = words[2]
    return out


def plan(current: dict[str, str], wanted: dict[str, str]) -> tuple[list[str], list[str]]:
    """``ip route`` commands: (replace ..., delete ...)."""
    replace = [f"{c} via {v}" for c, v in sorted(wanted.items()) if current.get(c) != v]
    delete = sorted(c for c in current if c not in wanted)
    return replace, delete


def _ip(*args: str) -> str:
    out = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise errors.InternalError(f"ip {' '.join(args)}: {out.stderr.strip()}")
    return out.stdout


def sync(client: ApiClient, me: str, cluster_cidr: str) -> None:
    nodes = client.list(NODES)["items"]
    current = parse_routes(_ip("-4", "route", "show"), cluster_cidr)
    replace, delete = plan(current, desired_routes(nodes, me))
    for route in replace:
        _ip("route", "replace", *route.split())
        log.info("routes: %s", route)
    for cidr in delete:
        _ip("route", "del", cidr)
        log.info("routes: removed %s", cidr)


def main(argv: list[str]) -> int:
    """``python -m agent routes --data-dir D --cluster-cidr C``: keep the routes until killed."""
    p = argparse.ArgumentParser(prog="tinykube agent routes")
    p.add_argument("--data-dir", type=Path, default=join.default_data_dir())
    p.add_argument("--cluster-cidr", default="10.244.0.0/16")
    p.add_argument("--interval", type=float, default=INTERVAL)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    creds = join.load(args.data_dir)
    if creds is None:
        print(f"error: no node credential in {args.data_dir} (join first)", file=sys.stderr)
        return 1
    client = ApiClient(
        creds.server, creds.token, ca_file=creds.ca_file, user_agent="tinykube-routes"
    )
    stop = threading.Event()
    while not stop.wait(args.interval):
        try:
            sync(client, creds.node_name, args.cluster_cidr)
        except errors.ApiError as e:
            log.warning("routes: %s", e)
    return 0
