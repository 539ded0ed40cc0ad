"""A node's cluster DNS part without Docker: one agent per cluster and host serves (a lock file),
the next takes over when it stops; without the address, pods fall back to the host's resolver
with the kubelet's event; upstreams come from the flag or the host's resolv.conf."""

from __future__ import annotations

import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from dnslib import RCODE, DNSRecord

from agent import clusterdns
from agent.clusterdns import ClusterDns, HostResolvConf
from agent.config import DnsConfig
from agent.resolvconf import ResolvConf
from agent.serviceview import ServiceInformers
from common.client import ApiClient

POD = {"metadata": {"name": "p", "namespace": "shop", "uid": "u"}, "spec": {}}


def node(tmp_path: Path, cluster: str, **config: object) -> ClusterDns:
    conf = tmp_path / "resolv.conf"
    if not conf.exists():
        conf.write_text("nameserver 192.0.2.53\nsearch corp.example\n")
    settings = DnsConfig(resolv_conf=str(conf), serve=True, **config)  # type: ignore[arg-type]
    return ClusterDns(ApiClient("http://127.0.0.1:1"), settings, cluster)


def test_one_agent_per_cluster_holds_the_lock_and_the_next_takes_over(tmp_path: Path) -> None:
    cluster = f"test-{uuid.uuid4().hex[:8]}"
    first, second = node(tmp_path, cluster), node(tmp_path, cluster)
    stop_first, stop_second = threading.Event(), threading.Event()
    assert first._acquire(stop_first)
    got = threading.Event()
    t = threading.Thread(target=lambda: second._acquire(stop_second) and got.set(), daemon=True)
    t.start()
    assert not got.wait(0.5)  # held by the first
    other = node(tmp_path, f"other-{cluster}")  # another cluster has its own lock
    assert other._acquire(threading.Event())
    first._release()  # the holder stops (or dies: the kernel drops its lock)
    assert got.wait(10)
    stop_second.set()
    second._release()
    other._release()
    clusterdns.forget(cluster)  # tinykube down
    clusterdns.forget(f"other-{cluster}")
    assert not clusterdns.lock_path(cluster).exists()
    clusterdns.forget(cluster)  # nothing left to remove: no error


def test_a_stopped_waiter_gives_up(tmp_path: Path) -> None:
    cluster = f"test-{uuid.uuid4().hex[:8]}"
    holder, waiter = node(tmp_path, cluster), node(tmp_path, cluster)
    assert holder._acquire(threading.Event())
    stop = threading.Event()
    stop.set()
    assert not waiter._acquire(stop)
    holder._release()
    clusterdns.lock_path(cluster).unlink()


def test_without_the_address_pods_get_the_host_resolver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(clusterdns, "hold_address", lambda address: "the agent is not root")
    dns = node(tmp_path, "c1")
    assert dns.pod_dns(POD).config is not None  # before start: assumed served
    dns.start(threading.Event())
    assert not dns.available
    assert "cannot put 10.96.0.10 on interface tinykube-dns (the agent is not root)" in caplog.text
    got = dns.pod_dns(POD)
    assert got.config is not None and got.config.nameservers == ("192.0.2.53",)  # the host's
    assert [reason for reason, _ in got.warnings] == ["MissingClusterDNS"]
    assert dns.informers is None  # nothing watched, nothing served


def test_no_cluster_dns_configured_serves_nothing(tmp_path: Path) -> None:
    dns = node(tmp_path, "c1", cluster_dns=())
    dns.start(threading.Event())
    assert dns.informers is None
    assert dns.pod_dns(POD).config == ResolvConf(("192.0.2.53",), ("corp.example",))


def test_upstreams_from_the_flag_or_the_hosts_file(tmp_path: Path) -> None:
    assert node(tmp_path, "c1").upstreams() == [("192.0.2.53", 53)]
    flagged = node(tmp_path, "c1", upstreams=("127.0.0.1:5353", "192.0.2.9"))
    assert flagged.upstreams() == [("127.0.0.1", 5353), ("192.0.2.9", 53)]


def test_host_resolv_conf_is_read_again_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "resolv.conf"
    path.write_text("nameserver 192.0.2.1\n")
    host = HostResolvConf(str(path))
    assert host.host().nameservers == ("192.0.2.1",)
    path.write_text("nameserver 192.0.2.2\nnameserver 10.96.0.10\n")
    os.utime(path, (1, 1))  # a different mtime, whatever the clock's resolution
    assert host.upstreams({"10.96.0.10"}) == ["192.0.2.2"]
    assert HostResolvConf(str(tmp_path / "missing")).host().nameservers == ()


def test_the_holder_waits_for_a_taken_address_then_serves_and_lets_go(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Another cluster's server, as far as this agent knows: its UDP and TCP sockets.
    squatter, squatter_tcp = squat()
    port = squatter.getsockname()[1]
    cluster = f"test-{uuid.uuid4().hex[:8]}"
    dns = node(tmp_path, cluster, port=port)
    dns.informers = ServiceInformers(ApiClient("http://127.0.0.1:1"))  # never synced
    stop = threading.Event()
    t = threading.Thread(target=dns._serve, args=("127.0.0.1", stop), daemon=True)
    t.start()
    try:
        wait_until(lambda: "another cluster on this host may serve it" in caplog.text)
        assert not dns.serving.is_set()
        squatter.close()  # the other cluster goes down: this agent takes the address
        squatter_tcp.close()
        assert dns.serving.wait(10)
        raw = DNSRecord.question("web.default.svc.cluster.local").send("127.0.0.1", port,
                                                                      timeout=5)  # fmt: skip
        assert DNSRecord.parse(raw).header.rcode == RCODE.SERVFAIL  # ours, still syncing
    finally:
        stop.set()
        t.join(5)
        squatter.close()
        squatter_tcp.close()
    assert not dns.serving.is_set()
    after = node(tmp_path, cluster)
    assert after._acquire(threading.Event())  # the lock was let go
    after._release()
    clusterdns.lock_path(cluster).unlink()


def squat() -> tuple[socket.socket, socket.socket]:
    """A UDP and a TCP socket on one port below the kernel's ephemeral range: once they close,
    the port is free for the agent. An ephemeral port (bind to port 0) is not: while the suite
    runs, a client connection may take the TCP port of that number for longer than the test
    waits, and the agent's server binds both."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for port in random.sample(range(10000, low), 500):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            udp.bind(("127.0.0.1", port))
            tcp.bind(("127.0.0.1", port))
        except OSError:
            udp.close()
            tcp.close()
            continue
        return udp, tcp
    raise AssertionError("no free port below the ephemeral range")


def wait_until(check: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_kube_proxy_is_told_once_the_address_is_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kube-proxy leaves a cluster IP this host holds to its listener: it syncs again as soon as
    the address is on the host, and never when the address could not be put there."""
    told: list[str] = []
    settings = DnsConfig(resolv_conf=str(tmp_path / "none"), serve=True)
    monkeypatch.setattr(clusterdns, "hold_address", lambda address: "the agent is not root")
    refused = ClusterDns(ApiClient("http://127.0.0.1:1"), settings, "c1",
                         on_hold=lambda: told.append("refused"))  # fmt: skip
    refused.start(threading.Event())
    assert told == []
    monkeypatch.setattr(clusterdns, "hold_address", lambda address: None)
    stop = threading.Event()
    stop.set()  # held, then nothing served: only the signal matters here
    held = ClusterDns(ApiClient("http://127.0.0.1:1"), settings, "c2",
                      on_hold=lambda: told.append("held"))  # fmt: skip
    monkeypatch.setattr(held, "_serve", lambda address, stop: None)  # no lock, no server
    held.start(stop)
    assert told == ["held"]
