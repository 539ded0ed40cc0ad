"""The node's netfilter and the kernel settings kube-proxy needs, through the ``iptables`` tools
and ``/proc``/``/sys``: is iptables usable, restore the cluster's chains, ensure or remove the
jumps into them, ``route_localnet`` (set, and put back as it was when the cluster goes), and
``hairpin_mode`` on the pods' bridge ports. Effectful shell; the text comes from ``rules``.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from agent.proxy import rules

log = logging.getLogger(__name__)

Runner = Callable[..., "subprocess.CompletedProcess[str]"]

ROUTE_LOCALNET = Path("/proc/sys/net/ipv4/conf/all/route_localnet")
CONNTRACK_LIBERAL = Path("/proc/sys/net/netfilter/nf_conntrack_tcp_be_liberal")
SYS_NET = Path("/sys/class/net")
# Where the agents of a host agree who programs it, and remember route_localnet's old value.
RUN_DIR = Path("/run/tinykube")
# Seconds one iptables call may wait for the xtables lock before it fails.
LOCK_WAIT = "5"


class NetfilterError(Exception):
    """An iptables tool failed; the message carries its stderr."""


def netns_id() -> str:
    """This process's network namespace (its inode): agents in one namespace share the rules."""
    try:
        return str(os.stat("/proc/self/ns/net").st_ino)
    except OSError:
        return "host"


class Netfilter:
    """The iptables tools, run with ``runner`` (``subprocess.run`` by default)."""

    def __init__(self, runner: Runner = subprocess.run) -> None:
        self.runner = runner

    def _run(self, args: Sequence[str], stdin: str | None = None) -> str:
        try:
            out = self.runner(list(args), input=stdin, capture_output=True, text=True, check=False)
        except OSError as e:  # the tool is not installed
            raise NetfilterError(f"{args[0]}: {e.strerror or e}") from e
        if out.returncode != 0:
            raise NetfilterError(f"{' '.join(args[:4])}: {out.stderr.strip() or out.returncode}")
        return str(out.stdout)

    def unusable(self) -> str | None:
        """Why this process may not change iptables (not root, no NET_ADMIN), or None."""
        try:
            self._run(["iptables", "-w", LOCK_WAIT, "-t", "nat", "-S", "POSTROUTING"])
            self._run(["iptables-save", "-t", "nat"])
        except NetfilterError as e:
            return str(e)
        return None

    def save(self) -> str:
        """``iptables-save`` of the filter and nat tables."""
        return self._run(["iptables-save", "-t", "filter"]) + self._run(
            ["iptables-save", "-t", "nat"]
        )

    def restore(self, text: str) -> None:
        """One ``iptables-restore --noflush``: the chains it declares are rewritten whole, in one
        commit per table; every other chain is left as it is."""
        self._run(["iptables-restore", "-w", LOCK_WAIT, "--noflush"], stdin=text)

    def ensure_jumps(self, jumps: Sequence[rules.Jump]) -> int:
        """Insert each jump at the top of its built-in chain unless it is there; how many were
        added."""
        added = 0
        for j in jumps:
            base = ["iptables", "-w", LOCK_WAIT, "-t", j.table]
            try:
                self._run([*base, "-C", j.chain, *j.args])
            except NetfilterError:
                self._run([*base, "-I", j.chain, *j.args])
                added += 1
        return added

    def remove(self, prefix: str | None) -> int:
        """Delete the jumps into the cluster's chains (every tinykube cluster's with None), then
        the chains; how many chains went."""
        saved = self.save()
        for table, words in rules.jump_lines(saved, prefix):
            self._run(["iptables", "-w", LOCK_WAIT, "-t", table, "-D", *words])
        chains = rules.parse_chains(saved)
        text = rules.removal(chains, prefix)
        if text:
            self.restore(text)
        return sum(1 for names in chains.values() for c in names if rules.owned(c, prefix))


def local_ipv4(runner: Runner = subprocess.run) -> frozenset[str]:
    """The IPv4 addresses of this network namespace's interfaces (none if ``ip`` fails)."""
    try:
        out = runner(["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True,
                     check=False)  # fmt: skip
    except OSError:
        return frozenset()
    return parse_addresses(str(out.stdout)) if out.returncode == 0 else frozenset()


def parse_addresses(text: str) -> frozenset[str]:
    """``ip -o -4 addr show`` lines: ``2: eth0    inet 10.0.0.5/24 brd ...``."""
    found = set()
    for line in text.splitlines():
        words = line.split()
        if "inet" in words and words.index("inet") + 1 < len(words):
            found.add(words[words.index("inet") + 1].split("/", 1)[0])
    return frozenset(found)


def conntrack_liberal() -> bool:
    try:
        return CONNTRACK_LIBERAL.read_text().strip() not in ("", "0")
    except OSError:
        return False


class RouteLocalnet:
    """``net.ipv4.conf.all.route_localnet``, which NodePorts on 127.0.0.1 need. Each cluster
    that turns it on records the value it found (``<prefix>.<netns>`` under ``run_dir``); the
    last cluster of a namespace to go puts that value back."""

    def __init__(self, prefix: str, run_dir: Path = RUN_DIR, path: Path = ROUTE_LOCALNET) -> None:
        self.prefix = prefix
        self.dir = run_dir / "route_localnet"
        self.path = path
        self.ns = netns_id()

    def _records(self) -> dict[str, str]:
        try:
            files = [p for p in self.dir.iterdir() if p.name.endswith(f".{self.ns}")]
        except OSError:
            return {}
        return {p.name: p.read_text().strip() for p in files}

    def enable(self) -> None:
        own = f"{self.prefix}.{self.ns}"
        records = self._records()
        if own not in records:
            original = next(iter(records.values()), None) or self.path.read_text().strip()
            self.dir.mkdir(parents=True, exist_ok=True)
            (self.dir / own).write_text(original + "\n")
        if self.path.read_text().strip() != "1":
            log.info(
                "kube-proxy: setting route_localnet=1 to allow node-ports on localhost "
                "(guarded against CVE-2020-8558)"
            )
            self.path.write_text("1\n")

    def restore(self) -> str | None:
        """Forget this cluster's record; the value written back if it was the last, else None."""
        own = f"{self.prefix}.{self.ns}"
        records = self._records()
        if own not in records:
            return None
        (self.dir / own).unlink(missing_ok=True)
        if len(records) > 1:
            return None
        self.path.write_text(records[own] + "\n")
        return records[own]


def set_hairpin(bridge: str, sys_net: Path = SYS_NET) -> int:
    """Turn ``hairpin_mode`` on for every port of the pods' bridge (as Docker does itself without
    its userland proxy), so a pod reaching itself through its Service gets the packet back on
    the port it left by; how many ports changed."""
    changed = 0
    try:
        ports = sorted((sys_net / bridge / "brif").iterdir())
    except OSError:
        return 0
    for port in ports:
        mode = port / "hairpin_mode"
        try:
            if mode.read_text().strip() != "1":
                mode.write_text("1\n")
                changed += 1
        except OSError as e:  # the port went with its container
            log.debug("hairpin %s: %s", port.name, e)
    return changed
