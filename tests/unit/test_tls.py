"""The control plane's certificates: which names they cover, and when they are issued again."""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path

from cryptography import x509

from control import tls

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

FIB_TRIE = """Main:
  +-- 0.0.0.0/0 3 0 4
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
        |-- 127.255.255.255
           /32 link BROADCAST
     +-- 192.168.56.0/24 2 0 2
           |-- 192.168.56.10
              /32 host LOCAL
Local:
  +-- 0.0.0.0/0 3 0 4
           |-- 192.168.56.10
              /32 host LOCAL
"""
IF_INET6 = (
    "00000000000000000000000000000001 01 80 10 80       lo\n"
    "fe800000000000000000000000000001 02 40 20 80     eth0\n"
    "fd000000000000000000000000000002 02 40 00 80     eth0\n"
)


def test_interface_addresses_from_proc() -> None:
    assert tls.parse_fib_trie(FIB_TRIE) == ["127.0.0.1", "192.168.56.10"]
    assert tls.parse_if_inet6(IF_INET6) == ["::1", "fd00::2"]  # no link-local


def test_wanted_names_start_with_loopback_and_keep_order_without_repeats() -> None:
    sans = tls.wanted_sans(["Node1", "localhost"], ["192.168.56.10", "127.0.0.1"], ["api.example"])
    assert sans == ["127.0.0.1", "::1", "localhost", "node1", "192.168.56.10", "api.example"]


def test_missing_names_compare_addresses_by_value() -> None:
    have = {"127.0.0.1", "0:0:0:0:0:0:0:1", "node1"}
    assert tls.missing_sans(have, ["::1", "NODE1", "10.0.0.1"]) == ["10.0.0.1"]


def _files(tmp_path: Path, sans: list[str]) -> tls.TlsFiles:
    files = tls.TlsFiles.under(tmp_path)
    ca, ca_key = tls.make_ca(NOW)
    files.ca_cert.write_bytes(ca)
    files.ca_key.write_bytes(ca_key)
    cert, key = tls.make_serving(ca, ca_key, sans, NOW)
    files.cert.write_bytes(cert)
    files.key.write_bytes(key)
    return files


def test_serving_certificate_carries_the_names_and_chains_to_the_ca(tmp_path: Path) -> None:
    files = _files(tmp_path, ["127.0.0.1", "localhost", "control"])
    cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
    assert tls.sans_of(cert) == {"127.0.0.1", "localhost", "control"}
    ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    cert.verify_directly_issued_by(ca)
    ctx = ssl.create_default_context(cafile=str(files.ca_cert))  # the CA loads as a trust root
    ctx.load_cert_chain(str(files.cert), str(files.key))


def test_a_good_certificate_is_kept(tmp_path: Path) -> None:
    files = _files(tmp_path, ["127.0.0.1", "control"])
    assert tls.serving_sans(files, ["control"], NOW + dt.timedelta(days=30)) is None


def test_a_new_name_means_a_new_certificate_that_keeps_the_old_names(tmp_path: Path) -> None:
    files = _files(tmp_path, ["127.0.0.1", "control"])
    assert tls.serving_sans(files, ["127.0.0.1", "10.1.2.3"], NOW) == [
        "127.0.0.1",
        "10.1.2.3",
        "control",
    ]


def test_a_certificate_near_its_end_is_issued_again(tmp_path: Path) -> None:
    files = _files(tmp_path, ["control"])
    late = NOW + dt.timedelta(days=tls.SERVING_DAYS) - tls.RENEW_BEFORE + dt.timedelta(days=1)
    assert tls.serving_sans(files, ["control"], late) == ["control"]


def test_ensure_makes_the_ca_once(tmp_path: Path) -> None:
    first = tls.ensure(tmp_path / "tls", ["extra.example"])
    ca = first.ca_cert.read_bytes()
    serving = first.cert.read_bytes()
    assert oct(first.ca_key.stat().st_mode & 0o777) == "0o600"
    again = tls.ensure(tmp_path / "tls", ["extra.example"])
    assert again.ca_cert.read_bytes() == ca
    assert again.cert.read_bytes() == serving  # nothing new was wanted
    third = tls.ensure(tmp_path / "tls", ["other.example"])
    assert third.ca_cert.read_bytes() == ca  # same CA: join tokens stay valid
    names = tls.sans_of(x509.load_pem_x509_certificate(third.cert.read_bytes()))
    assert {"extra.example", "other.example", "127.0.0.1"} <= names


def test_the_serving_certificate_names_the_kubernetes_service() -> None:
    import argparse

    from control import serverdata
    from control.flags import parse_args

    args = parse_args([])
    assert serverdata._service_sans(args) == [
        "10.96.0.1",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
    ]
    other = parse_args(["--service-cluster-ip-range", "10.43.0.0/16"])
    assert serverdata._service_sans(other)[0] == "10.43.0.1"
    assert serverdata._service_sans(argparse.Namespace()) == []
