"""tkctl's ConfigMap and Secret verbs against the real API server: the generators of kubectl
(literals, files, env files, TLS pairs, registry credentials), kubectl's columns, describe
never printing a secret's value, and key rotation by ``get -o json | replace -f -``."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from control import encryption
from control.cli.main import cli
from control.cli.session import Session
from control.redis_store import RedisStore
from tests.integration.conftest import ADMIN_TOKEN

KEY1 = base64.b64encode(bytes(range(32))).decode()
KEY2 = base64.b64encode(bytes(range(32, 64))).decode()


def _transformers(*names: str) -> dict[str, encryption.Transformer]:
    keys = {"key1": KEY1, "key2": KEY2}
    return encryption.parse({
        "apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
        "resources": [{"resources": ["secrets"], "providers": [
            {"aescbc": {"keys": [{"name": n, "secret": keys[n]} for n in names]}}]}],
    })  # fmt: skip


@pytest.fixture
def store(redis_url: str, key_prefix: str) -> Iterator[RedisStore]:
    """The API server of these tests writes with key2 and still reads key1."""
    s = RedisStore(redis_url, prefix=key_prefix, transformers=_transformers("key2", "key1"))
    yield s
    s.close()


@pytest.fixture
def tk(server: str, tmp_path: Path) -> Any:
    def run(*args: str, input: str | None = None) -> Result:
        session = Session(server=server, token=ADMIN_TOKEN, env={}, home=str(tmp_path))
        return CliRunner().invoke(cli, list(args), obj=session, input=input)

    return run


def b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def test_create_configmap_from_literals_files_and_env_files(tk: Any, tmp_path: Path) -> None:
    (tmp_path / "app.conf").write_text("port=80\n")
    (tmp_path / "blob.bin").write_bytes(b"\xff\x00")
    files = (f"--from-file={tmp_path / 'app.conf'}", f"--from-file=raw={tmp_path / 'blob.bin'}")
    r = tk("create", "configmap", "app", "--from-literal=mode=prod", "--from-literal=x=a=b", *files)
    assert (r.exit_code, r.stdout) == (0, "configmap/app created\n"), r.output
    cm = json.loads(tk("get", "cm", "app", "-o", "json").stdout)
    assert cm["data"] == {"mode": "prod", "x": "a=b", "app.conf": "port=80\n"}
    assert cm["binaryData"] == {"raw": b64(b"\xff\x00")}
    env = tmp_path / "app.env"
    env.write_text("\ufeff# settings\nA=1\n\n  B= two words\nC=\n")
    r = tk("create", "cm", "env", f"--from-env-file={env}")
    assert r.exit_code == 0, r.output
    assert json.loads(tk("get", "cm", "env", "-o", "json").stdout)["data"] == {
        "A": "1", "B": " two words", "C": ""}  # fmt: skip
    r = tk("get", "configmaps")
    header, *rows = r.stdout.splitlines()
    assert header.split() == ["NAME", "DATA", "AGE"]
    assert [row.split()[:2] for row in rows] == [["app", "4"], ["env", "3"]]
    r = tk("describe", "cm", "app")
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("Name:         app\nNamespace:    default\nLabels:       <none>\n")
    assert "\nData\n====\napp.conf:\n----\nport=80\n\n\nmode:\n----\nprod\n\n" in r.stdout
    assert "\nBinaryData\n====\nraw: 2 bytes\n" in r.stdout


def test_create_configmap_refusals_in_kubectl_words(tk: Any, tmp_path: Path) -> None:
    r = tk("create", "configmap", "c", "--from-literal=novalue")
    assert (r.exit_code, r.stderr) == (
        1,
        "error: invalid literal source novalue, expected key=value\n",
    )
    r = tk("create", "configmap", "c", "--from-literal=a=1", "--from-literal=a=2")
    assert r.stderr == (
        'error: cannot add key "a", another key by that name already exists in Data for '
        'ConfigMap "c"\n'
    )
    r = tk("create", "configmap", "c", "--from-literal=a/b=1")
    assert r.stderr.startswith('error: "a/b" is not a valid key name for a ConfigMap: ')
    r = tk("create", "configmap", "c", f"--from-file={tmp_path / 'missing'}")
    assert r.exit_code == 1 and "no such file or directory" in r.stderr
    assert "No resources found" in tk("get", "cm").stderr


def test_secrets_generic_and_docker_registry(tk: Any, tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("s3cret")
    r = tk("create", "secret", "generic", "db", "--from-literal=user=admin",
           f"--from-file=password={tmp_path / 'pw'}")  # fmt: skip
    assert (r.exit_code, r.stdout) == (0, "secret/db created\n"), r.output
    r = tk("create", "secret", "docker-registry", "reg", "--docker-server=registry.local:5000",
           "--docker-username=u", "--docker-password=p", "--docker-email=e@x")  # fmt: skip
    assert r.exit_code == 0, r.output
    reg = json.loads(tk("get", "secret", "reg", "-o", "json").stdout)
    assert reg["type"] == "kubernetes.io/dockerconfigjson"
    assert json.loads(base64.b64decode(reg["data"][".dockerconfigjson"])) == {
        "auths": {"registry.local:5000": {"username": "u", "password": "p", "email": "e@x",
                                          "auth": b64("u:p")}}}  # fmt: skip
    r = tk("create", "secret", "docker-registry", "bad", "--docker-username=u")
    assert r.stderr == (
        "error: either --from-file or the combination of --docker-username, --docker-password "
        "and --docker-server is required\n"
    )
    header, *rows = tk("get", "secrets").stdout.splitlines()
    assert header.split() == ["NAME", "TYPE", "DATA", "AGE"]
    assert [row.split()[:3] for row in rows] == [
        ["db", "Opaque", "2"], ["reg", "kubernetes.io/dockerconfigjson", "1"]]  # fmt: skip
    r = tk("describe", "secret", "db")
    assert r.exit_code == 0, r.output
    assert "\nType:  Opaque\n\nData\n====\npassword:  6 bytes\nuser:      5 bytes\n" in r.stdout
    assert "s3cret" not in r.stdout and "admin" not in r.stdout
    r = tk("create", "secret", "generic", "d", "--from-literal=k=v", "--type=example.com/x",
           "--dry-run=client", "-o", "yaml")  # fmt: skip
    assert yaml.safe_load(r.stdout) == {
        "apiVersion": "v1", "kind": "Secret", "type": "example.com/x",
        "metadata": {"name": "d", "namespace": "default"}, "data": {"k": b64("v")},
    }  # fmt: skip


def _key_pair(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "web")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))  # fmt: skip
    cert_path, key_path = tmp_path / "tls.crt", tmp_path / "tls.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    return cert_path, key_path


def test_create_secret_tls(tk: Any, tmp_path: Path) -> None:
    cert, key = _key_pair(tmp_path)
    r = tk("create", "secret", "tls", "web", f"--cert={cert}", f"--key={key}")
    assert (r.exit_code, r.stdout) == (0, "secret/web created\n"), r.output
    got = json.loads(tk("get", "secret", "web", "-o", "json").stdout)
    assert got["type"] == "kubernetes.io/tls"
    assert base64.b64decode(got["data"]["tls.crt"]) == cert.read_bytes()
    other = tmp_path / "other"
    other.mkdir()
    _, wrong_key = _key_pair(other)
    r = tk("create", "secret", "tls", "x", f"--cert={cert}", f"--key={wrong_key}")
    assert r.stderr == "error: failed to load key pair tls: private key does not match public key\n"
    r = tk("create", "secret", "tls", "x", f"--cert={cert}")
    assert r.stderr == "error: key and cert must be specified\n"


def test_rotation_rewrites_every_secret_with_get_and_replace(
    tk: Any, store: RedisStore, redis_url: str
) -> None:
    old = RedisStore(redis_url, prefix=store.prefix, transformers=_transformers("key1"))
    try:
        for name in ("a", "b"):
            old.create("secrets", {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                                   "metadata": {"name": name, "namespace": "default", "uid": name},
                                   "data": {"k": b64(name)}})  # fmt: skip
    finally:
        old.close()

    def prefixes() -> set[bytes]:
        keys: Any = store.r.keys(f"{store.prefix}o:secrets:*")
        return {bytes(store.r.hget(k, "o"))[:23] for k in keys}  # type: ignore[arg-type]

    assert prefixes() == {b"k8s:enc:aescbc:v1:key1:"}
    listing = tk("get", "secrets", "-A", "-o", "json").stdout
    r = tk("replace", "-f", "-", input=listing)
    assert (r.exit_code, r.stdout) == (0, "secret/a replaced\nsecret/b replaced\n"), r.output
    assert prefixes() == {b"k8s:enc:aescbc:v1:key2:"}
    # key1 may go now.
    current = RedisStore(redis_url, prefix=store.prefix, transformers=_transformers("key2"))
    try:
        assert current.unreadable("secrets") == (0, ())
    finally:
        current.close()
