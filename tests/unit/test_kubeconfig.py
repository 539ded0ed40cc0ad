"""kubeconfig loading, merging, resolving and writing."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
import yaml

from common.kubeconfig import (
    ClientConfig,
    KubeconfigError,
    config_paths,
    load,
    resolve,
    write_kubeconfig,
)


def write(path: Path, doc: dict) -> str:
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def config(name: str, server: str, namespace: str | None = None, **user: str) -> dict:
    ctx: dict = {"cluster": name, "user": name}
    if namespace:
        ctx["namespace"] = namespace
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": server}}],
        "users": [{"name": name, "user": dict(user)}],
        "contexts": [{"name": name, "context": ctx}],
        "current-context": name,
    }


def test_paths_flag_then_env_then_home(tmp_path: Path) -> None:
    assert config_paths("/x/k.yaml", {"KUBECONFIG": "/a:/b"}, "/home") == (["/x/k.yaml"], True)
    assert config_paths(None, {"KUBECONFIG": "/a::/b"}, "/home") == (["/a", "/b"], False)
    assert config_paths(None, {}, "/home") == (["/home/.tinykube/kubeconfig.yaml"], False)


def test_resolve_current_context(tmp_path: Path) -> None:
    path = write(tmp_path / "k", config("c1", "https://1.2.3.4:6443", "dev", token="t1"))
    cfg = resolve(load([path]) or {})
    assert cfg == ClientConfig(server="https://1.2.3.4:6443", token="t1", namespace="dev",
                               context="c1")  # fmt: skip


def test_merge_first_file_wins(tmp_path: Path) -> None:
    a = config("shared", "http://a", token="ta")
    a["clusters"].append({"name": "only-a", "cluster": {"server": "http://only-a"}})
    b = config("shared", "http://b", token="tb")
    b["current-context"] = "other"
    b["contexts"].append({"name": "other", "context": {"cluster": "only-a", "user": "shared"}})
    paths = [write(tmp_path / "a", a), str(tmp_path / "missing"), write(tmp_path / "b", b)]
    merged = load(paths)
    assert merged is not None
    assert merged["current-context"] == "shared"
    assert resolve(merged).server == "http://a"
    other = resolve(merged, "other")  # a context only b defines, a cluster only a defines
    assert (other.server, other.token, other.namespace) == ("http://only-a", "ta", "default")


def test_missing_files(tmp_path: Path) -> None:
    assert load([str(tmp_path / "nope")]) is None
    with pytest.raises(KubeconfigError, match="no such file"):
        load([str(tmp_path / "nope")], explicit=True)


def test_resolve_errors(tmp_path: Path) -> None:
    doc = config("c1", "http://a")
    with pytest.raises(KubeconfigError, match="context was not found for specified context: x"):
        resolve(doc, "x")
    doc["current-context"] = ""
    with pytest.raises(KubeconfigError, match="current-context is not set"):
        resolve(doc)
    doc["clusters"][0]["cluster"] = {}
    with pytest.raises(KubeconfigError, match='no server found for cluster "c1"'):
        resolve(doc, "c1")


def test_ca_data_ca_path_insecure_and_token_file(tmp_path: Path) -> None:
    doc = config("c1", "https://h:6443")
    doc["clusters"][0]["cluster"].update(
        {"certificate-authority": "ca.crt", "insecure-skip-tls-verify": True,
         "certificate-authority-data": base64.b64encode(b"PEM").decode()}
    )  # fmt: skip
    (tmp_path / "tok").write_text("secret\n")
    doc["users"][0]["user"] = {"tokenFile": "tok"}
    cfg = resolve(load([write(tmp_path / "k", doc)]) or {})
    assert cfg.ca_file == str(tmp_path / "ca.crt")  # relative to the kubeconfig's directory
    assert cfg.ca_data == b"PEM"
    assert cfg.insecure is True
    assert cfg.token == "secret"


def test_write_kubeconfig_mode_and_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "dir" / "kubeconfig.yaml"
    old = os.umask(0o022)
    try:
        write_kubeconfig(str(path), "https://127.0.0.1:6443", "tok", ca_file="ca.pem", mode=0o640)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    cfg = resolve(load([str(path)]) or {})
    assert (cfg.server, cfg.token, cfg.namespace, cfg.context) == (
        "https://127.0.0.1:6443", "tok", "default", "tinykube",
    )  # fmt: skip
    assert cfg.ca_file == os.path.abspath("ca.pem")
    write_kubeconfig(str(path), "http://other", "t2")  # overwrite: default 0600
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert resolve(load([str(path)]) or {}).server == "http://other"
    assert os.listdir(path.parent) == ["kubeconfig.yaml"]
