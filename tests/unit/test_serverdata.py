"""The control plane's data dir and flags: HTTPS beyond loopback or with --tls, the join token
kept across restarts with mode 0600, the admin token file and kubeconfig it writes."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml

from common.jointoken import matches, parse_token
from control import flags, serverdata
from control.memory_store import MemoryStore


def args(tmp_path: Path, *extra: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--bind-address", default="127.0.0.1")
    p.add_argument("--port", type=int, default=6443)
    p.add_argument("--token-auth-file", type=Path)
    p.add_argument("--pod-network-address")
    serverdata.add_flags(p)
    return p.parse_args(["--data-dir", str(tmp_path / "server"), *extra])


def test_loopback_stays_plain_http_unless_tls_is_asked_for(tmp_path: Path) -> None:
    assert serverdata.setup(args(tmp_path), MemoryStore()).gunicorn == {}
    forced = serverdata.setup(args(tmp_path, "--tls"), MemoryStore())
    assert set(forced.gunicorn) == {"certfile", "keyfile"} and forced.scheme == "https"


def test_beyond_loopback_is_https(tmp_path: Path) -> None:
    s = serverdata.setup(args(tmp_path, "--bind-address", "0.0.0.0"), MemoryStore())
    assert Path(s.gunicorn["certfile"]).exists() and s.scheme == "https"


def test_join_token_is_kept_private_and_across_restarts(tmp_path: Path) -> None:
    first = serverdata.setup(args(tmp_path), MemoryStore())
    assert first.data is not None and first.data.new_token
    path = tmp_path / "server" / "node-token"
    assert path.stat().st_mode & 0o777 == 0o600
    token = parse_token(path.read_text())
    assert matches(token, first.data.ca_pem) and token.secret == first.data.join_secret
    again = serverdata.setup(args(tmp_path), MemoryStore())
    assert again.data is not None and not again.data.new_token
    assert again.data.join_token == first.data.join_token
    assert "join" in again.extra


def test_admin_token_file_and_kubeconfig(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "admin.yaml"
    s = serverdata.setup(
        args(tmp_path, "--tls", "--write-kubeconfig", str(kubeconfig),
             "--write-kubeconfig-mode", "0640"),
        MemoryStore(),
    )  # fmt: skip
    assert s.token_file.stat().st_mode & 0o777 == 0o600
    token = serverdata.admin_token(s.token_file)
    assert token
    assert kubeconfig.stat().st_mode & 0o777 == 0o640
    doc = yaml.safe_load(kubeconfig.read_text())
    cluster = doc["clusters"][0]["cluster"]
    assert cluster["server"] == "https://127.0.0.1:6443"
    assert cluster["certificate-authority-data"]
    assert doc["users"][0]["user"]["token"] == token


def test_is_loopback() -> None:
    assert serverdata.is_loopback("127.0.0.1") and serverdata.is_loopback("::1")
    assert serverdata.is_loopback("localhost") and serverdata.is_loopback("[::1]")
    assert not serverdata.is_loopback("0.0.0.0") and not serverdata.is_loopback("192.0.2.1")


def test_the_signing_key_is_made_once_in_the_data_dir(tmp_path: Path) -> None:
    first = serverdata.setup(args(tmp_path), MemoryStore())
    key = tmp_path / "server" / "tls" / "service.key"
    assert first.service_accounts is not None and key.stat().st_mode & 0o777 == 0o600
    again = serverdata.setup(args(tmp_path), MemoryStore())
    assert again.service_accounts is not None
    assert again.service_accounts.key.key_id == first.service_accounts.key.key_id
    assert serverdata.signs_tokens(args(tmp_path))
    given = tmp_path / "elsewhere.key"
    s = serverdata.setup(args(tmp_path, "--service-account-signing-key-file", str(given),
                              "--service-account-issuer", "https://issuer.example"),
                         MemoryStore())  # fmt: skip
    assert given.exists() and s.service_accounts is not None
    assert s.service_accounts.issuer == "https://issuer.example"
    assert s.service_accounts.audiences == ("https://issuer.example",)


def test_a_bad_signing_key_stops_the_server(tmp_path: Path) -> None:
    bad = tmp_path / "bad.key"
    bad.write_text("not a key")
    with pytest.raises(serverdata.SigningKeyError, match=r"^--service-account-signing-key-file: "):
        serverdata.setup(args(tmp_path, "--service-account-signing-key-file", str(bad)),
                         MemoryStore())  # fmt: skip


def test_the_pod_network_address_is_served_over_tls(tmp_path: Path) -> None:
    a = args(tmp_path, "--pod-network-address", "172.17.0.1")
    s = serverdata.setup(a, MemoryStore())
    assert s.scheme == "https"
    a.bind_address, a.port = "127.0.0.1", 6443
    assert flags.binds(a) == ["127.0.0.1:6443", "172.17.0.1:6443"]
