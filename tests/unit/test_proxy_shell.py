"""kube-proxy's shell with its edges faked: route_localnet records, hairpin, the namespace lock,
a sync over the informer caches, and a node where iptables is not usable."""

from __future__ import annotations

import subprocess
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.node import build_node_status, host_facts
from agent.proxy import netfilter, proxier, rules
from agent.proxy.netfilter import Netfilter, RouteLocalnet
from agent.runtime import EngineInfo
from common import metrics
from common.client import ApiClient

SYNC_COUNT = "kubeproxy_sync_proxy_rules_duration_seconds_count"


def test_route_localnet_is_put_back_by_the_last_cluster_to_go(tmp_path: Path) -> None:
    sysctl = tmp_path / "sysctl"
    sysctl.write_text("0\n")
    a, b = RouteLocalnet("TKAAAAAA", tmp_path, sysctl), RouteLocalnet("TKBBBBBB", tmp_path, sysctl)
    a.enable()
    assert sysctl.read_text().strip() == "1"
    b.enable()  # finds 1, but remembers the value the first cluster found
    a.enable()  # a restart changes nothing
    assert a.restore() is None  # b still needs it
    assert sysctl.read_text().strip() == "1"
    assert b.restore() == "0"
    assert sysctl.read_text().strip() == "0"
    assert b.restore() is None  # nothing recorded any more: nothing written


def test_route_localnet_already_on_stays_on(tmp_path: Path) -> None:
    sysctl = tmp_path / "sysctl"
    sysctl.write_text("1\n")
    r = RouteLocalnet("TKAAAAAA", tmp_path, sysctl)
    r.enable()
    assert r.restore() == "1"
    assert sysctl.read_text().strip() == "1"


def test_hairpin_mode_on_every_port_of_the_bridge(tmp_path: Path) -> None:
    for port, mode in (("veth1", "0"), ("veth2", "1")):
        (tmp_path / "docker0" / "brif" / port).mkdir(parents=True)
        (tmp_path / "docker0" / "brif" / port / "hairpin_mode").write_text(mode + "\n")
    assert netfilter.set_hairpin("docker0", tmp_path) == 1
    assert (tmp_path / "docker0/brif/veth1/hairpin_mode").read_text().strip() == "1"
    assert netfilter.set_hairpin("docker0", tmp_path) == 0
    assert netfilter.set_hairpin("nosuchbridge", tmp_path) == 0


def test_one_holder_of_the_namespace_lock_until_it_lets_go(tmp_path: Path) -> None:
    path = proxier.lock_path(tmp_path, "TKAAAAAA")
    first, second = proxier.NamespaceLock(path), proxier.NamespaceLock(path)
    assert first.try_acquire()
    assert not second.try_acquire()
    other = proxier.NamespaceLock(proxier.lock_path(tmp_path, "TKBBBBBB"))
    assert other.try_acquire()  # another cluster's lock
    other.release()
    first.release()  # as when the holder dies: the kernel frees the lock
    assert second.try_acquire()
    second.release()


class FakeTools:
    """The iptables tools: a saved text, what was restored, a failure on demand."""

    def __init__(self, fail: str | None = None) -> None:
        self.fail = fail
        self.calls: list[list[str]] = []
        self.restored: list[str] = []

    def __call__(self, args: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
        self.calls.append(args)
        if self.fail is not None:
            return subprocess.CompletedProcess(args, 4, "", self.fail)
        if args[0] == "iptables-restore":
            self.restored.append(kw["input"])
        if args[0] == "iptables-save":
            return subprocess.CompletedProcess(args, 0, f"*{args[-1]}\nCOMMIT\n", "")
        rc = 1 if "-C" in args else 0  # no jump yet: each is inserted
        return subprocess.CompletedProcess(args, rc, "", "")


def make_proxy(tmp_path: Path, tools: FakeTools) -> proxier.ServiceProxy:
    client = ApiClient("http://127.0.0.1:1", "t")
    return proxier.ServiceProxy(client, "cluster-uid", "n1", netfilter=Netfilter(tools),
                                run_dir=tmp_path)  # fmt: skip


def test_a_sync_writes_the_caches_rules_and_the_jumps(tmp_path: Path) -> None:
    tools = FakeTools()
    proxy = make_proxy(tmp_path, tools)
    proxy.services.store.upsert({
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"clusterIP": "10.96.0.20", "ports": [{"port": 80, "protocol": "TCP"}]},
    })  # fmt: skip
    proxy.slices.store.upsert({
        "metadata": {"name": "web-abc", "namespace": "default",
                     "labels": {"kubernetes.io/service-name": "web"}},
        "endpoints": [{"addresses": ["172.17.0.5"], "conditions": {"ready": True}}],
        "ports": [{"port": 8080, "protocol": "TCP"}],
    })  # fmt: skip
    syncs = metrics.REGISTRY.get_sample_value(SYNC_COUNT) or 0.0
    assert proxy.sync_once()
    assert metrics.REGISTRY.get_sample_value(SYNC_COUNT) == syncs + 1
    [text] = tools.restored
    prefix = rules.chain_prefix("cluster-uid")
    assert f"-A {prefix}-SERVICES" in text and "--to-destination 172.17.0.5:8080" in text
    inserted = [c for c in tools.calls if "-I" in c]
    assert len(inserted) == len(rules.jumps(proxy.opts))
    assert all("--noflush" in c for c in tools.calls if c[0] == "iptables-restore")


def test_where_iptables_is_refused_the_node_says_so_and_nothing_is_written(
    tmp_path: Path,
) -> None:
    tools = FakeTools(fail="iptables v1.8.9 (nf_tables): Permission denied (you must be root)")
    proxy = make_proxy(tmp_path, tools)
    assert "Permission denied" in (proxy.check() or "")
    ctype, status, reason, message = proxy.condition()
    assert (ctype, status, reason) == ("ServiceProxyUnavailable", "True", "IptablesUnavailable")
    assert "Permission denied" in message
    calls = len(tools.calls)
    proxy.start(threading.Event())
    assert len(tools.calls) == calls and tools.restored == []


def test_a_missing_iptables_tool_is_unusable_not_a_crash(tmp_path: Path) -> None:
    def missing(args: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
        raise FileNotFoundError(2, "No such file or directory")

    assert "iptables" in (Netfilter(missing).unusable() or "")


def test_the_node_status_carries_the_proxy_condition() -> None:
    facts = host_facts(EngineInfo(2, 1 << 30, "27.5.1", "Debian", "6.1", "x86_64"), "10.0.0.1")
    extra = [("ServiceProxyUnavailable", "False", "IptablesAvailable", "ok")]
    status = build_node_status("n1", facts, 10250, {}, datetime.now(UTC), extra)
    found = {c["type"]: c for c in status["conditions"]}
    assert found["ServiceProxyUnavailable"]["status"] == "False"
    assert found["Ready"]["status"] == "True"


def test_cleanup_removes_the_chains_puts_route_localnet_back_and_drops_the_locks(
    tmp_path: Path,
) -> None:
    sysctl = tmp_path / "sysctl"
    sysctl.write_text("0\n")
    prefix = rules.chain_prefix("cluster-uid")
    RouteLocalnet(prefix, tmp_path, sysctl).enable()
    lock = proxier.lock_path(tmp_path, prefix)
    lock.write_text("123\n")
    other = proxier.lock_path(tmp_path, "TKBBBBBB")
    other.write_text("456\n")
    tools = FakeTools()
    proxier.cleanup("cluster-uid", netfilter=Netfilter(tools), run_dir=tmp_path, sysctl=sysctl)
    assert sysctl.read_text().strip() == "0"
    assert not lock.exists() and other.exists()
    assert any(c[0] == "iptables-save" for c in tools.calls)
    proxier.cleanup(None, netfilter=Netfilter(tools), run_dir=tmp_path, sysctl=sysctl)
    assert not other.exists()


def test_nodes_sharing_this_address_are_local_to_its_rules(tmp_path: Path) -> None:
    proxy = proxier.ServiceProxy(ApiClient("http://127.0.0.1:1", "t"), "c", "node-1",
                                 node_ip="127.0.0.1", netfilter=Netfilter(FakeTools()),
                                 run_dir=tmp_path)  # fmt: skip
    for name, ip in (("node-1", "127.0.0.1"), ("node-2", "127.0.0.1"), ("far", "10.0.0.7")):
        proxy.nodes.store.upsert({"metadata": {"name": name},
                                  "status": {"addresses": [{"type": "InternalIP",
                                                            "address": ip}]}})  # fmt: skip
    assert proxy.local_nodes() == frozenset({"node-1", "node-2"})


def test_a_refused_restore_is_counted_and_reported(tmp_path: Path) -> None:
    proxy = make_proxy(tmp_path, FakeTools(fail="iptables-restore: line 3 failed"))
    name = "kubeproxy_sync_proxy_rules_iptables_restore_failures_total"
    failures = metrics.REGISTRY.get_sample_value(name) or 0.0
    assert not proxy.sync_once()
    assert metrics.REGISTRY.get_sample_value(name) == failures + 1
    assert proxy.syncs == 0


def test_local_addresses_from_ip_addr() -> None:
    text = (
        "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever\n"
        "2: eth0    inet 10.0.0.5/24 brd 10.0.0.255 scope global eth0\n"
        "9: tinykube-dns    inet 10.96.0.10/32 scope global tinykube-dns\n"
    )
    assert netfilter.parse_addresses(text) == {"127.0.0.1", "10.0.0.5", "10.96.0.10"}
    assert "127.0.0.1" in netfilter.local_ipv4()  # this process's own namespace


def test_a_lock_that_cannot_be_taken_is_reported_not_ignored(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    proxy = proxier.ServiceProxy(ApiClient("http://127.0.0.1:1", "t"), "c", "n1",
                                 netfilter=Netfilter(FakeTools()),
                                 run_dir=tmp_path / "file")  # fmt: skip
    proxy.run(threading.Event())  # returns: a directory under a file cannot be made
    assert not proxy.holder
    assert proxy.condition()[1] == "True"
    assert "cannot take" in proxy.condition()[3]
