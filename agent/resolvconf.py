"""A pod's DNS settings as the kubelet forms them (pkg/kubelet/network/dns/dns.go): the
``dnsPolicy`` (ClusterFirst, ClusterFirstWithHostNet, Default, None) over the host's resolv.conf,
``dnsConfig`` appended, the resolver's limits applied; and the host's upstream resolvers for the
cluster DNS server. Pure: text and pod objects in, values out (the file is read by the caller).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

# The resolver's limits the kubelet keeps to (validation.MaxDNSNameservers, ExpandedDNSConfig).
MAX_NAMESERVERS = 3
MAX_SEARCHES = 32
MAX_SEARCH_CHARS = 2048
MAX_DOMAIN_CHARS = 253
DEFAULT_OPTIONS = ("ndots:5",)  # the kubelet's defaultDNSOptions for ClusterFirst
DEFAULT_CLUSTER_DOMAIN = "cluster.local"
DEFAULT_CLUSTER_DNS = "10.96.0.10"  # the kube-dns Service's ClusterIP
# Where systemd-resolved keeps the real upstreams when /etc/resolv.conf names its stub.
SYSTEMD_RESOLV_CONF = "/run/systemd/resolve/resolv.conf"
# The kubelet's event messages (dns.go).
MISSING_CLUSTER_DNS = (
    "kubelet does not have ClusterDNS IP configured and cannot create Pod using "
    '"ClusterFirst" policy. Falling back to "Default" policy.'
)
NAMESERVERS_OMITTED = (
    "Nameserver limits were exceeded, some nameservers have been omitted, "
    "the applied nameserver line is: "
)
SEARCHES_OMITTED = (
    "Search Line limits were exceeded, some search paths have been omitted, "
    "the applied search line is: "
)


@dataclass(frozen=True)
class ResolvConf:
    """The three things a resolv.conf says (the last ``search``/``options`` lines win)."""

    nameservers: tuple[str, ...] = ()
    searches: tuple[str, ...] = ()
    options: tuple[str, ...] = ()

    def render(self) -> str:
        lines = [f"nameserver {ns}" for ns in self.nameservers]
        if self.searches:
            lines.append("search " + " ".join(self.searches))
        if self.options:
            lines.append("options " + " ".join(self.options))
        return "".join(line + "\n" for line in lines)


@dataclass(frozen=True)
class PodDns:
    """What the pod's sandbox is created with, and a warning the kubelet would record."""

    config: ResolvConf | None  # None: the container engine's default (the host's file)
    warnings: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (reason, message)


def parse(text: str) -> ResolvConf:
    """The kubelet's parseResolvConf: every ``nameserver``; the last ``search`` line (``.`` and
    trailing dots dropped); ``options`` of every line, a later one replacing an earlier of the
    same name. Other lines (``domain``, ``sortlist``) are not carried into pods."""
    nameservers: list[str] = []
    searches: list[str] = []
    options: dict[str, str] = {}
    for raw in text.splitlines():
        words = raw.split("#", 1)[0].split(";", 1)[0].split()
        if not words:
            continue
        if words[0] == "nameserver" and len(words) > 1:
            nameservers.append(words[1])
        elif words[0] == "search":
            searches = [w.rstrip(".") for w in words[1:] if w != "."]
        elif words[0] == "options":
            options |= {w.split(":", 1)[0]: w for w in words[1:]}
    return ResolvConf(tuple(nameservers), tuple(searches), tuple(options.values()))


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def upstreams(host: ResolvConf, systemd: ResolvConf | None, exclude: set[str]) -> list[str]:
    """The resolvers the cluster DNS server forwards to: the host's, except itself; where the host
    names only a loopback stub (systemd-resolved's 127.0.0.53) and resolved's own file exists,
    that file's upstreams, as the kubelet is told to use them."""
    servers = [s for s in host.nameservers if s not in exclude]
    if servers and all(is_loopback(s) for s in servers) and systemd is not None:
        real = [s for s in systemd.nameservers if s not in exclude and not is_loopback(s)]
        servers = real or servers
    return servers


def _omit_duplicates(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _policy(pod: dict[str, Any]) -> str:
    """ClusterFirst, Default or None after hostNetwork is considered (getPodDNSType)."""
    spec = pod.get("spec") or {}
    policy = str(spec.get("dnsPolicy") or "ClusterFirst")
    host_network = bool(spec.get("hostNetwork"))
    if policy == "ClusterFirstWithHostNet":
        return "ClusterFirst"
    if policy == "ClusterFirst":
        return "Default" if host_network else "ClusterFirst"
    return policy if policy in ("Default", "None") else "ClusterFirst"


def pod_dns(
    pod: dict[str, Any],
    host: ResolvConf,
    cluster_dns: tuple[str, ...],
    cluster_domain: str = DEFAULT_CLUSTER_DOMAIN,
) -> PodDns:
    """The kubelet's GetPodDNS: the pod's resolv.conf from its policy and ``dnsConfig``."""
    policy = _policy(pod)
    warnings: list[tuple[str, str]] = []
    spec = pod.get("spec") or {}
    dns_config = spec.get("dnsConfig")
    if policy == "ClusterFirst" and not cluster_dns:
        warnings.append(("MissingClusterDNS", f'pod: "{_pod_ref(pod)}". {MISSING_CLUSTER_DNS}'))
        policy = "Default"
    if policy == "ClusterFirst":
        ns = str((pod.get("metadata") or {}).get("namespace") or "default")
        domain = cluster_domain.strip(".")
        cluster_search = [f"{ns}.svc.{domain}", f"svc.{domain}", domain] if domain else []
        searches = _omit_duplicates([*cluster_search, *host.searches])
        base = ResolvConf(cluster_dns, tuple(searches), DEFAULT_OPTIONS)
    elif policy == "Default":  # the --resolv-conf file, less what a container cannot reach
        servers = tuple(s for s in host.nameservers if not is_loopback(s))
        if not servers and not dns_config:
            return PodDns(None, tuple(warnings))  # the engine's fallback, as Docker does
        base = ResolvConf(servers, host.searches, host.options)
    else:
        base = ResolvConf()
    if dns_config:
        base = append_dns_config(base, dns_config)
    limited, more = fit_limits(base)
    return PodDns(limited, tuple(warnings + more))


def _pod_ref(pod: dict[str, Any]) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('name')}_{meta.get('namespace')}({meta.get('uid')})"


def append_dns_config(base: ResolvConf, dns_config: dict[str, Any]) -> ResolvConf:
    """``spec.dnsConfig`` after the policy's settings: nameservers and searches de-duplicated,
    options merged by name with the pod's value winning (appendDNSConfig, mergeDNSOptions)."""
    servers = _omit_duplicates([*base.nameservers, *map(str, dns_config.get("nameservers") or [])])
    searches = _omit_duplicates([*base.searches, *map(str, dns_config.get("searches") or [])])
    merged: dict[str, str | None] = {}
    for option in base.options:
        name, sep, value = option.partition(":")
        merged[name] = value if sep else None
    for option in dns_config.get("options") or []:
        value = option.get("value")
        merged[str(option.get("name") or "")] = None if value is None else str(value)
    options = tuple(n if v is None or v == "" else f"{n}:{v}" for n, v in merged.items() if n)
    return ResolvConf(tuple(servers), tuple(searches), options)


def fit_limits(conf: ResolvConf) -> tuple[ResolvConf, list[tuple[str, str]]]:
    """At most three nameservers and 32 search paths of 2048 characters, paths longer than a
    domain name dropped (formDNSConfigFitsLimits), each cut named as a DNSConfigForming event."""
    warnings = []
    servers = conf.nameservers
    if len(servers) > MAX_NAMESERVERS:
        servers = servers[:MAX_NAMESERVERS]
        warnings.append(("DNSConfigForming", NAMESERVERS_OMITTED + " ".join(servers)))
    searches = list(conf.searches[:MAX_SEARCHES])  # first the count, then the long ones
    searches = [s for s in searches if len(s) <= MAX_DOMAIN_CHARS]
    while searches and len(" ".join(searches)) > MAX_SEARCH_CHARS:
        searches.pop()
    if len(searches) != len(conf.searches):
        warnings.append(("DNSConfigForming", SEARCHES_OMITTED + " ".join(searches)))
    return ResolvConf(servers, tuple(searches), conf.options), warnings
