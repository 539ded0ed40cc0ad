"""Cluster DNS on a node, as NodeLocal DNSCache places it: the cluster DNS address (the kube-dns
Service's ClusterIP) held by a dummy interface on the host, so pods reach it through their
default route, and a server (``agent.dnsserver``) answering on it from the Service informers.
The agents of one cluster that share a host's network namespace agree through a lock file named
by the cluster: one serves, another takes over when it dies. Effectful shell (``ip``, sockets).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

from agent import resolvconf
from agent.config import DnsConfig
from agent.dnsanswer import Zone
from agent.dnsserver import Address, DnsServer, Resolver, parse_upstream
from agent.resolvconf import PodDns, ResolvConf
from agent.serviceview import ServiceInformers
from common.client import ApiClient

log = logging.getLogger(__name__)

# The dummy interface holding the address (NodeLocal DNSCache's is "nodelocaldns"); one per
# host, shared by the clusters on it, so it is left in place when an agent stops.
INTERFACE = "tinykube-dns"
LOCK_DIR = "/run/tinykube"
BIND_RETRY = 2.0  # the address is served by someone else (another cluster): try again this often


class HostResolvConf:
    """The host's resolv.conf (and systemd-resolved's), read again when the file changes."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._cache: dict[str, tuple[float, ResolvConf]] = {}

    def read(self, path: str | None = None) -> ResolvConf | None:
        path = path or self.path
        try:
            mtime = os.stat(path).st_mtime
            cached = self._cache.get(path)
            if cached is None or cached[0] != mtime:
                cached = (mtime, resolvconf.parse(Path(path).read_text()))
                self._cache[path] = cached
            return cached[1]
        except OSError:
            return None

    def host(self) -> ResolvConf:
        return self.read() or ResolvConf()

    def upstreams(self, exclude: set[str]) -> list[str]:
        systemd = self.read(resolvconf.SYSTEMD_RESOLV_CONF)
        return resolvconf.upstreams(self.host(), systemd, exclude)


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=False, timeout=10)


def address_present(address: str) -> bool:
    try:
        out = _ip("-o", "addr", "show", "to", address)
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0 and bool(out.stdout.strip())


def hold_address(address: str) -> str | None:
    """Put ``address`` on the dummy interface (on ``lo`` where the kernel has no dummy links);
    None when it is there, else why it cannot be."""
    if address_present(address):
        return None
    if os.geteuid() != 0:
        return "the agent is not root"
    device = INTERFACE if _dummy_link() else "lo"
    prefix = "128" if ":" in address else "32"
    step = ("addr", "add", f"{address}/{prefix}", "dev", device)
    try:
        out = _ip(*step)
    except (OSError, subprocess.SubprocessError) as e:
        return f"ip {' '.join(step)}: {e}"
    if out.returncode != 0 and "File exists" not in out.stderr:
        return f"ip {' '.join(step)}: {out.stderr.strip()}"
    return None


def _dummy_link() -> bool:
    for step in (("link", "add", INTERFACE, "type", "dummy"), ("link", "set", INTERFACE, "up")):
        try:
            out = _ip(*step)
        except (OSError, subprocess.SubprocessError):
            return False
        if out.returncode != 0 and "File exists" not in out.stderr:
            log.info("cluster DNS: ip %s: %s", " ".join(step), out.stderr.strip())
            return False
    return True


def lock_path(cluster: str) -> Path:
    base = (
        Path(LOCK_DIR) if os.access("/run", os.W_OK) else Path(tempfile.gettempdir()) / "tinykube"
    )
    return base / f"dns-{cluster}.lock"


def forget(cluster: str) -> None:
    """Remove the cluster's lock file (``tinykube down``, once its agents are gone)."""
    with contextlib.suppress(OSError):
        lock_path(cluster).unlink()


class ClusterDns:
    """The node's part of cluster DNS: pods' resolv.conf, and the server when this agent holds
    the host's lock. ``available`` is whether pods may be told to use the cluster address."""

    def __init__(self, client: ApiClient, config: DnsConfig, cluster: str) -> None:
        self.client = client
        self.config = config
        self.cluster = cluster
        self.hostconf = HostResolvConf(config.resolv_conf)
        self.available = bool(config.cluster_dns)
        self.informers: ServiceInformers | None = None
        self.server: DnsServer | None = None
        self.serving = threading.Event()  # this agent's server answers
        self._lock_file: IO[str] | None = None

    # -- pods ----------------------------------------------------------------------------------

    def pod_dns(self, pod: dict[str, Any]) -> PodDns:
        servers = self.config.cluster_dns if self.available else ()
        return resolvconf.pod_dns(pod, self.hostconf.host(), servers, self.config.cluster_domain)

    def upstreams(self) -> list[Address]:
        if self.config.upstreams:
            return [parse_upstream(u) for u in self.config.upstreams]
        return [parse_upstream(u) for u in self.hostconf.upstreams(set(self.config.cluster_dns))]

    # -- the server ----------------------------------------------------------------------------

    def start(self, stop: threading.Event) -> None:
        """Hold the address (or say why not and fall back), then serve when this agent wins."""
        if not self.config.cluster_dns or not self.config.serve:
            return
        address = self.config.cluster_dns[0]
        why = hold_address(address)
        if why is not None:
            self.available = False
            log.warning(
                "cluster DNS: cannot put %s on interface %s (%s): no cluster DNS on this node; "
                'pods with dnsPolicy ClusterFirst get the host\'s resolv.conf ("Default")',
                address,
                INTERFACE,
                why,
            )
            return
        self.informers = ServiceInformers(self.client)
        self.informers.start(stop)
        threading.Thread(
            target=self._serve, args=(address, stop), name="cluster-dns", daemon=True
        ).start()

    def _serve(self, address: str, stop: threading.Event) -> None:
        if not self._acquire(stop):
            return
        log.info("cluster DNS: this agent serves %s for cluster %s", address, self.cluster)
        assert self.informers is not None
        resolver = Resolver(
            self.informers.view,
            Zone(self.config.cluster_domain, serial=int(time.time())),
            self.upstreams,
            synced=self.informers.has_synced,
        )
        self.server = self._listen(resolver, address, stop)
        if self.server is not None:
            self.server.start()
            self.serving.set()
            log.info("cluster DNS: listening on %s:%d (UDP and TCP)", address, self.server.port)
            stop.wait()
            self.server.stop()
            self.serving.clear()
        self._release()

    def _listen(self, resolver: Resolver, address: str, stop: threading.Event) -> DnsServer | None:
        """Bind, retrying while the address is taken (say, by another cluster's agent)."""
        warned = False
        while not stop.is_set():
            try:
                return DnsServer(resolver, address, self.config.port)
            except OSError as e:
                if not warned:
                    why = os.strerror(e.errno) if e.errno else str(e)
                    if e.errno == errno.EADDRINUSE:
                        why += ": another cluster on this host may serve it"
                    log.warning("cluster DNS: cannot listen on %s:%d (%s); retrying",
                                address, self.config.port, why)  # fmt: skip
                    warned = True
                stop.wait(BIND_RETRY)
        return None

    def _acquire(self, stop: threading.Event) -> bool:
        """Block until this agent holds the cluster's lock on this host (or ``stop``)."""
        path = lock_path(self.cluster)
        path.parent.mkdir(parents=True, exist_ok=True)
        f = open(path, "a+")  # noqa: SIM115 - held open while this agent serves
        while not stop.is_set():
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                stop.wait(BIND_RETRY)
                continue
            self._lock_file = f
            return True
        f.close()
        return False

    def _release(self) -> None:
        if self._lock_file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None
