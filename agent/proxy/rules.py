"""The node's Service rules as kube-proxy's iptables mode writes them: the whole ``*filter`` and
``*nat`` input of one ``iptables-restore --noflush``, every chain named with the cluster's own
prefix (``TK<tag>-SERVICES`` where kube-proxy has ``KUBE-SERVICES``), so Docker's chains and
another cluster's are never named, hence never touched. Also the jump rules from the built-in
chains and the text that removes a cluster's chains. Pure: text in, text out.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from agent.proxy.model import Categorized, Endpoint, ServicePort

# kube-proxy's default masquerade bit (--iptables-masquerade-bit 14, mark 0x4000).
MASQUERADE_BIT = 14
# "TK" and this many base32 characters of the cluster id's hash name a cluster's chains.
TAG_LENGTH = 6
# iptables chain names hold at most 28 characters: "TKxxxxxx-SVC-" leaves 15 for the hash.
CHAIN_HASH_LENGTH = 15
# Every chain name a tinykube cluster owns (what an uninstall without a cluster id removes).
ANY_CLUSTER_CHAIN = re.compile(rf"^TK[A-Z2-7]{{{TAG_LENGTH}}}-")
SERVICE_CHAIN_KINDS = ("SVC", "SVL", "EXT", "SEP")


def _b32(text: str) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()


def chain_prefix(cluster_id: str) -> str:
    """``TK`` + 6 characters of the cluster id's hash: one cluster's chains, on any node."""
    return "TK" + _b32(cluster_id)[:TAG_LENGTH]


@dataclass(frozen=True)
class Options:
    prefix: str
    cluster_id: str = ""
    local_nodes: frozenset[str] = frozenset()  # endpoints on these nodes are "local"
    pod_bridge: str = "docker0"  # traffic in from this bridge comes from a local pod
    localhost_nodeports: bool = True  # NodePorts on 127.0.0.1 (needs route_localnet)
    random_fully: bool = True
    conntrack_liberal: bool = False  # nf_conntrack_tcp_be_liberal set: no INVALID drop
    # Addresses of this host: a cluster IP held here (the node-local DNS server holds kube-dns's)
    # is answered by what listens on it when the Service has no endpoints, not refused.
    local_ips: frozenset[str] = frozenset()

    @property
    def mark(self) -> str:
        return f"{1 << MASQUERADE_BIT:#x}"

    def chain(self, name: str) -> str:
        return f"{self.prefix}-{name}"


@dataclass(frozen=True)
class Jump:
    """A rule in a built-in chain that sends traffic into one of the cluster's chains."""

    table: str
    chain: str
    args: tuple[str, ...]


def _hash(text: str) -> str:
    return _b32(text)[:CHAIN_HASH_LENGTH]


def service_chain(opts: Options, kind: str, sp: ServicePort) -> str:
    """``<prefix>-SVC-``/``SVL-``/``EXT-`` + hash of the port name and protocol (as kube-proxy's
    portProtoHash)."""
    return opts.chain(f"{kind}-{_hash(sp.key + sp.protocol.lower())}")


def endpoint_chain(opts: Options, sp: ServicePort, ep: Endpoint) -> str:
    return opts.chain(f"SEP-{_hash(sp.key + sp.protocol.lower() + ep.address)}")


def probability(n: int) -> str:
    """The match probability of the first of ``n`` remaining endpoints, kube-proxy's ``%0.10f``."""
    return f"{1.0 / n:.10f}"


def _comment(text: str) -> str:
    return f'-m comment --comment "{text}"'


class _Lines:
    def __init__(self) -> None:
        self.chains: list[str] = []
        self.rules: list[str] = []

    def chain(self, name: str) -> None:
        self.chains.append(f":{name} - [0:0]")

    def rule(self, line: str) -> None:
        self.rules.append(line)


class _Builder:
    def __init__(self, opts: Options) -> None:
        self.o = opts
        self.filter = _Lines()
        self.nat = _Lines()
        self.active: set[str] = set()
        self.masq = opts.chain("MARK-MASQ")

    def top_level(self) -> None:
        o, f, n = self.o, self.filter, self.nat
        for name in ("SERVICES", "EXTERNAL-SERVICES", "FORWARD"):
            f.chain(o.chain(name))
        for name in ("SERVICES", "NODEPORTS", "POSTROUTING", "MARK-MASQ"):
            n.chain(o.chain(name))
        post, mark = o.chain("POSTROUTING"), o.mark
        n.rule(f"-A {post} -m mark ! --mark {mark}/{mark} -j RETURN")
        n.rule(f"-A {post} -j MARK --xor-mark {mark}")
        snat = _comment("kubernetes service traffic requiring SNAT")
        n.rule(f"-A {post} {snat} -j MASQUERADE" + (" --random-fully" if o.random_fully else ""))
        n.rule(f"-A {self.masq} -j MARK --or-mark {mark}")
        if o.localhost_nodeports:
            # route_localnet opens 127.0.0.0/8 to the outside (CVE-2020-8558): kube-proxy's
            # (and the kubelet's) guard drops what reaches it from elsewhere.
            fw = o.chain("FIREWALL")
            f.chain(fw)
            f.rule(
                f"-A {fw} {_comment('block incoming localnet connections')} -d 127.0.0.0/8"
                " ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP"
            )

    def service(self, sp: ServicePort, cat: Categorized) -> None:
        """Every rule of one Service port, in kube-proxy's syncProxyRules order."""
        o = self.o
        proto = sp.protocol.lower()
        match = f"-m {proto} -p {proto}"
        svc, svl = service_chain(o, "SVC", sp), service_chain(o, "SVL", sp)
        internal_chain = svl if sp.internal_local else svc
        has_internal = cat.has_any and (not sp.internal_local or bool(cat.local))
        has_external = cat.has_any and (not sp.external_policy_local or bool(cat.local))
        # No endpoint at all: REJECT (refused at once); none for this policy here: DROP.
        what = "has no endpoints" if not cat.has_any else "has no local endpoints"
        refuse = f"{_comment(f'{sp.key} {what}')} {{}} -j " + (
            "REJECT" if not cat.has_any else "DROP"
        )
        cluster_ip = f"{_comment(f'{sp.key} cluster IP')} {match} -d {sp.cluster_ip}"
        cluster_ip += f" --dport {sp.port}"
        if has_internal:
            self.nat.rule(f"-A {o.chain('SERVICES')} {cluster_ip} -j {internal_chain}")
        elif sp.cluster_ip not in o.local_ips:
            refused = refuse.format(f"{match} -d {sp.cluster_ip} --dport {sp.port}")
            self.filter.rule(f"-A {o.chain('SERVICES')} {refused}")
        self._captures(sp, cat.has_any, has_external, refuse)
        if has_internal:
            self.nat.rule(f"-A {internal_chain} {cluster_ip} ! -i {o.pod_bridge} -j {self.masq}")
        if cat.has_any and sp.externally_accessible:
            self._external(sp, svc, svl, has_external)
        if cat.cluster and sp.uses_cluster_endpoints:
            self._balance(sp, svc, cat.cluster)
        if cat.local and sp.uses_local_endpoints:
            self._balance(sp, svl, cat.local)
        for ep in cat.reachable:
            self._endpoint(sp, ep, proto)

    def _captures(self, sp: ServicePort, has_any: bool, has_external: bool, refuse: str) -> None:
        """External IPs, load-balancer IPs and the NodePort: to the EXT chain, or refused."""
        o, proto = self.o, sp.protocol.lower()
        match = f"-m {proto} -p {proto}"
        ext = service_chain(o, "EXT", sp)
        kinds = (("external IP", sp.external_ips), ("loadbalancer IP", sp.load_balancer_ips))
        for what, ips in kinds:
            for ip in ips:
                dst = f"{match} -d {ip} --dport {sp.port}"
                if has_any:
                    comment = _comment(f"{sp.key} {what}")
                    self.nat.rule(f"-A {o.chain('SERVICES')} {comment} {dst} -j {ext}")
                if not has_external:
                    self.filter.rule(f"-A {o.chain('EXTERNAL-SERVICES')} {refuse.format(dst)}")
        if not sp.node_port:
            return
        if has_any:
            comment = _comment(sp.key)
            self.nat.rule(
                f"-A {o.chain('NODEPORTS')} {comment} {match} --dport {sp.node_port} -j {ext}"
            )
        if not has_external:
            dst = f"-m addrtype --dst-type LOCAL {match} --dport {sp.node_port}"
            self.filter.rule(f"-A {o.chain('EXTERNAL-SERVICES')} {refuse.format(dst)}")

    def _external(self, sp: ServicePort, cluster: str, local: str, has: bool) -> None:
        """The EXT chain: masquerade (Cluster policy) or short-circuit pods and the host to the
        cluster-wide endpoints (Local policy), then the policy's chain."""
        ext = service_chain(self.o, "EXT", sp)
        n = self.nat
        n.chain(ext)
        self.active.add(ext)
        dests = f"{sp.key} external destinations"
        if not sp.external_policy_local:
            n.rule(f"-A {ext} {_comment(f'masquerade traffic for {dests}')} -j {self.masq}")
        else:
            pods = _comment(f"pod traffic for {dests}")
            n.rule(f"-A {ext} {pods} -i {self.o.pod_bridge} -j {cluster}")
            local_src = "-m addrtype --src-type LOCAL"
            masq = _comment(f"masquerade LOCAL traffic for {dests}")
            n.rule(f"-A {ext} {masq} {local_src} -j {self.masq}")
            n.rule(
                f"-A {ext} {_comment(f'route LOCAL traffic for {dests}')} {local_src} -j {cluster}"
            )
        if has:
            n.rule(f"-A {ext} -j {local if sp.external_policy_local else cluster}")

    def _balance(self, sp: ServicePort, chain: str, endpoints: Sequence[Endpoint]) -> None:
        """Session affinity first, then endpoint i of n taken with probability 1/(n-i)."""
        n = self.nat
        n.chain(chain)
        self.active.add(chain)
        if sp.affinity_seconds:
            for ep in endpoints:
                sep = endpoint_chain(self.o, sp, ep)
                n.rule(
                    f"-A {chain} {_comment(f'{sp.key} -> {ep.address}')} -m recent --name {sep}"
                    f" --rcheck --seconds {sp.affinity_seconds} --reap -j {sep}"
                )
        count = len(endpoints)
        for i, ep in enumerate(endpoints):
            spread = ""
            if i < count - 1:
                spread = f" -m statistic --mode random --probability {probability(count - i)}"
            sep = endpoint_chain(self.o, sp, ep)
            n.rule(f"-A {chain} {_comment(f'{sp.key} -> {ep.address}')}{spread} -j {sep}")

    def _endpoint(self, sp: ServicePort, ep: Endpoint, proto: str) -> None:
        sep = endpoint_chain(self.o, sp, ep)
        self.nat.chain(sep)
        self.active.add(sep)
        head = f"-A {sep} {_comment(sp.key)}"
        # A pod reaching itself through its Service: masquerade, or the reply skips conntrack.
        self.nat.rule(f"{head} -s {ep.ip} -j {self.masq}")
        recent = f" -m recent --name {sep} --set" if sp.affinity_seconds else ""
        self.nat.rule(f"{head}{recent} -m {proto} -p {proto} -j DNAT --to-destination {ep.address}")

    def tail(self, existing_nat: Iterable[str]) -> None:
        o, f, n = self.o, self.filter, self.nat
        stale = [c for c in sorted(set(existing_nat) - self.active) if _is_service_chain(o, c)]
        for c in stale:  # a chain line flushes it, then it can go
            n.chain(c)
            n.rule(f"-X {c}")
        dest = "-m addrtype --dst-type LOCAL"
        if not o.localhost_nodeports:
            dest += " ! -d 127.0.0.0/8"
        last = _comment(
            "kubernetes service nodeports; NOTE: this must be the last rule in this chain"
        )
        n.rule(f"-A {o.chain('SERVICES')} {last} {dest} -j {o.chain('NODEPORTS')}")
        fwd, mark = o.chain("FORWARD"), o.mark
        if not o.conntrack_liberal:
            f.rule(f"-A {fwd} -m conntrack --ctstate INVALID -j DROP")
        rules = _comment("kubernetes forwarding rules")
        f.rule(f"-A {fwd} {rules} -m mark --mark {mark}/{mark} -j ACCEPT")
        ct = _comment("kubernetes forwarding conntrack rule")
        f.rule(f"-A {fwd} {ct} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")

    def text(self) -> str:
        out = ["*filter", *self.filter.chains, *self.filter.rules, "COMMIT"]
        out += ["*nat", *self.nat.chains, *self.nat.rules, "COMMIT"]
        return "\n".join(out) + "\n"


def _is_service_chain(opts: Options, chain: str) -> bool:
    return any(chain.startswith(opts.chain(kind) + "-") for kind in SERVICE_CHAIN_KINDS)


def build_ruleset(
    ports: Iterable[tuple[ServicePort, Categorized]],
    opts: Options,
    existing_nat: Iterable[str] = (),
) -> str:
    """The whole ``iptables-restore`` input for the cluster's chains: every top-level chain
    rewritten, a SVC/SVL/EXT/SEP chain per used port and endpoint, stale ones of this cluster
    (named in ``existing_nat``, the chains ``iptables-save -t nat`` shows) deleted."""
    b = _Builder(opts)
    b.top_level()
    for sp, cat in sorted(ports, key=lambda pc: (pc[0].key, pc[0].protocol)):
        b.service(sp, cat)
    b.tail(existing_nat)
    return b.text()


def jumps(opts: Options) -> list[Jump]:
    """The rules from the built-in chains into the cluster's (kube-proxy's iptablesJumpChains,
    the kubelet's firewall jump with the localhost NodePorts); each comment names the cluster."""
    who = f"tinykube {opts.cluster_id or opts.prefix}"
    new = ("-m", "conntrack", "--ctstate", "NEW")
    table = [
        ("filter", "INPUT", "EXTERNAL-SERVICES", new, "externally-visible service portals"),
        ("filter", "FORWARD", "EXTERNAL-SERVICES", new, "externally-visible service portals"),
        ("filter", "FORWARD", "SERVICES", new, "service portals"),
        ("filter", "OUTPUT", "SERVICES", new, "service portals"),
        ("filter", "FORWARD", "FORWARD", (), "forwarding rules"),
        ("nat", "OUTPUT", "SERVICES", (), "service portals"),
        ("nat", "PREROUTING", "SERVICES", (), "service portals"),
        ("nat", "POSTROUTING", "POSTROUTING", (), "postrouting rules"),
    ]
    if opts.localhost_nodeports:
        table += [
            ("filter", "INPUT", "FIREWALL", (), "block incoming localnet connections"),
            ("filter", "OUTPUT", "FIREWALL", (), "block incoming localnet connections"),
        ]
    return [
        Jump(t, src, (*extra, "-m", "comment", "--comment", f"{who} {what}", "-j", opts.chain(dst)))
        for t, src, dst, extra, what in table
    ]


def parse_chains(save_text: str) -> dict[str, list[str]]:
    """``{table: [chain, ...]}`` from ``iptables-save`` output."""
    out: dict[str, list[str]] = {}
    table = ""
    for line in save_text.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
            out.setdefault(table, [])
        elif line.startswith(":") and table:
            out[table].append(line[1:].split()[0])
    return out


def owned(chain: str, prefix: str | None) -> bool:
    """Whether ``chain`` belongs to the cluster of ``prefix`` (None: to any tinykube cluster)."""
    if prefix is None:
        return bool(ANY_CLUSTER_CHAIN.match(chain))
    return chain.startswith(prefix + "-")


def jump_lines(save_text: str, prefix: str | None) -> list[tuple[str, list[str]]]:
    """``(table, rule words after -A)`` of every rule in a chain not owned that jumps into an
    owned chain: the jumps to delete before the chains can go."""
    out = []
    table = ""
    for line in save_text.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
            continue
        words = line.split()
        if len(words) < 3 or words[0] != "-A" or owned(words[1], prefix):
            continue
        if "-j" in words and owned(words[words.index("-j") + 1], prefix):
            out.append((table, [words[1], *shlex.split(line.split(None, 2)[2])]))
    return out


def removal(chains: Mapping[str, Iterable[str]], prefix: str | None) -> str:
    """``iptables-restore --noflush`` input that flushes and deletes every owned chain."""
    out = []
    for table, names in chains.items():
        mine = sorted(c for c in names if owned(c, prefix))
        if mine:
            out += [f"*{table}", *(f":{c} - [0:0]" for c in mine), *(f"-X {c}" for c in mine)]
            out.append("COMMIT")
    return "\n".join(out) + ("\n" if out else "")
