"""Secrets encrypted at rest on a real Redis: ciphertext with kube-apiserver's prefix in the
object's hash and in its stream entries, plaintext through the API, key rotation by rewriting
every secret, and a wrong key refused rather than served or rewritten."""

from __future__ import annotations

import argparse
import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from control import encryption
from control.apiserver.app import ServerConfig, create_app
from control.apiserver.auth import TokenAuthenticator, User
from control.apiserver.nodetokens import NodeTokens
from control.redis_store import RedisStore
from control.redisauth import unreadable_values
from tests.integration.conftest import ADMIN_TOKEN, Api

SECRETS = "/api/v1/namespaces/default/secrets"
KEY1 = bytes(range(32))
KEY2 = bytes(range(32, 64))
PASSWORD = "hunter2-is-not-a-password"


Transformers = dict[str, encryption.Transformer]


def providers(*keys: tuple[str, bytes], identity: bool = False) -> Transformers:
    entries: list[dict[str, Any]] = [
        {"aescbc": {"keys": [{"name": n, "secret": base64.b64encode(k).decode()}]}} for n, k in keys
    ]
    if identity:
        entries.append({"identity": {}})
    return encryption.parse({
        "apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
        "resources": [{"resources": ["secrets"], "providers": entries}],
    })  # fmt: skip


class Cluster:
    """An API server (app) over the shared Redis with given encryption keys."""

    def __init__(self, redis_url: str, prefix: str) -> None:
        self.redis_url, self.prefix = redis_url, prefix
        self.stores: list[RedisStore] = []

    def api(self, transformers: Transformers | None) -> tuple[Api, RedisStore]:
        store = RedisStore(self.redis_url, prefix=self.prefix, transformers=transformers)
        self.stores.append(store)
        auth = TokenAuthenticator({ADMIN_TOKEN: User("admin", ("system:masters",))})
        app = create_app(store, auth, ServerConfig(watch_poll=0.2))
        app.extensions["tinykube"]["registry"].ensure_namespaces()
        return Api(app.test_client(), ADMIN_TOKEN), store


@pytest.fixture
def cluster(redis_url: str, key_prefix: str) -> Iterator[Cluster]:
    c = Cluster(redis_url, key_prefix)
    yield c
    for s in c.stores:
        s.close()


def raw(store: RedisStore, name: str) -> bytes:
    value: Any = store.r.hget(f"{store.prefix}o:secrets:default:{name}", "o")
    return bytes(value)


def stream(store: RedisStore) -> list[bytes]:
    entries: Any = store.r.xrange(f"{store.prefix}ev:secrets")
    return [fields[b"o"] for _, fields in entries]


def secret(name: str = "db") -> dict[str, Any]:
    return {"metadata": {"name": name}, "stringData": {"password": PASSWORD}}


def test_secrets_are_ciphertext_in_redis_and_plaintext_through_the_api(cluster: Cluster) -> None:
    api, store = cluster.api(providers(("key1", KEY1), identity=True))
    assert api.call("POST", SECRETS, secret())[0] == 201
    code, _ = api.call("PATCH", f"{SECRETS}/db", {"metadata": {"labels": {"a": "b"}}},
                          content_type="application/merge-patch+json")  # fmt: skip
    assert code == 200
    encoded = base64.b64encode(PASSWORD.encode())
    value = raw(store, "db")
    assert value.startswith(b"k8s:enc:aescbc:v1:key1:")
    # The object's JSON is nowhere in clear: its whole name field is looked for (two given
    # bytes such as "db" turn up by chance in some 300 random ones once in about 200 runs).
    assert encoded not in value and b'"name":"db"' not in value
    entries = stream(store)
    assert len(entries) == 2
    assert all(e.startswith(b"k8s:enc:aescbc:v1:key1:") and encoded not in e for e in entries)
    assert api.call("GET", f"{SECRETS}/db")[1]["data"]["password"] == encoded.decode()
    _, listed = api.call("GET", SECRETS)
    assert [s["metadata"]["labels"] for s in listed["items"]] == [{"a": "b"}]
    # A watch from the start reads the encrypted stream entries.
    _, events = api.call("GET", SECRETS, watch="1", resourceVersion="1", timeoutSeconds="1")
    got = [json.loads(line) for line in events.splitlines() if line]
    assert [e["type"] for e in got] == ["ADDED", "MODIFIED"]
    assert got[1]["object"]["data"]["password"] == encoded.decode()
    # ConfigMaps are not in the file: stored in the clear.
    api.call("POST", "/api/v1/namespaces/default/configmaps",
             {"metadata": {"name": "c"}, "data": {"k": "v"}})  # fmt: skip
    cm: Any = store.r.hget(f"{store.prefix}o:configmaps:default:c", "o")
    assert json.loads(cm)["data"] == {"k": "v"}
    assert api.call("DELETE", f"{SECRETS}/db")[0] == 200
    assert stream(store)[-1].startswith(b"k8s:enc:aescbc:v1:key1:")


def test_key_rotation_rewrites_every_secret_with_the_new_key(cluster: Cluster) -> None:
    api, store = cluster.api(providers(("key1", KEY1)))
    for name in ("a", "b"):
        api.call("POST", SECRETS, secret(name))
    # Add key2 second: every API server can read what the first one writes with it.
    # Then make it first, and rewrite every secret (kubectl get -o json | kubectl replace -f -).
    api, store = cluster.api(providers(("key2", KEY2), ("key1", KEY1)))
    _, listed = api.call("GET", SECRETS)
    for item in listed["items"]:
        name = item["metadata"]["name"]
        assert raw(store, name).startswith(b"k8s:enc:aescbc:v1:key1:")
        code, replaced = api.call("PUT", f"{SECRETS}/{name}", item)
        assert code == 200  # the same data, yet written: it was read with another key
        assert replaced["metadata"]["resourceVersion"] != item["metadata"]["resourceVersion"]
        assert raw(store, name).startswith(b"k8s:enc:aescbc:v1:key2:")
        # Now current: the same write again is a no-op.
        again = api.call("PUT", f"{SECRETS}/{name}", replaced)[1]
        assert again["metadata"]["resourceVersion"] == replaced["metadata"]["resourceVersion"]
    # The old key can go.
    api, store = cluster.api(providers(("key2", KEY2)))
    assert unreadable_values(argparse.Namespace(), store) is None
    assert api.call("GET", f"{SECRETS}/a")[1]["data"]["password"]


def test_dropping_a_key_too_early_or_a_wrong_key_is_refused(cluster: Cluster) -> None:
    api, store = cluster.api(providers(("key1", KEY1)))
    api.call("POST", SECRETS, secret())
    before = raw(store, "db")
    api, store = cluster.api(providers(("key1", KEY2)))  # same name, another key
    args = argparse.Namespace(encryption_provider_config=Path("enc.yaml"))
    refusal = unreadable_values(args, store)
    assert refusal is not None
    assert refusal.startswith("1 stored secrets cannot be read with --encryption-provider-config ")
    assert 'unable to transform key "/registry/secrets/default/db"' in refusal
    code, body = api.call("GET", f"{SECRETS}/db")
    assert code == 500 and body["reason"] == "InternalError"
    assert body["message"].startswith(
        'Internal error occurred: unable to transform key "/registry/secrets/default/db": '
    )
    # Never rewritten: an update or a patch reads it first and fails.
    assert api.call("PUT", f"{SECRETS}/db", secret())[0] == 500
    patch = {"metadata": {"labels": {"x": "y"}}}
    assert api.call("PATCH", f"{SECRETS}/db", patch,
                    content_type="application/merge-patch+json")[0] == 500  # fmt: skip
    assert raw(store, "db") == before
    api, store = cluster.api(providers(("key2", KEY2)))  # the key is not listed at all
    code, body = api.call("GET", f"{SECRETS}/db")
    assert code == 500 and body["message"].endswith(": no matching prefix found")


def test_node_credentials_are_encrypted_and_still_authenticate(cluster: Cluster) -> None:
    _, store = cluster.api(providers(("key1", KEY1)))
    tokens = NodeTokens(store)
    cred = tokens.issue("n1", "a-node-password", lambda _: None)
    [key] = store.r.keys(f"{store.prefix}o:secrets:kube-system:*")
    value: Any = store.r.hget(key, "o")
    assert value.startswith(b"k8s:enc:aescbc:v1:key1:")
    assert cred.secret.encode() not in value
    user = tokens.user_of(cred.token)
    assert user is not None and user.name == "system:node:n1"


def test_the_api_server_refuses_to_start_with_a_bad_file_or_a_wrong_key(
    cluster: Cluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from control.main import main

    base = ["--redis-url", cluster.redis_url, "--redis-prefix", cluster.prefix,
            "--token-auth-file", str(tmp_path / "tokens.csv")]  # fmt: skip
    (tmp_path / "tokens.csv").write_text("t,admin,admin,system:masters\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n")
    assert main([*base, "--encryption-provider-config", str(bad)]) == 1
    assert "error: --encryption-provider-config: resources: at least one entry is required" in (
        capsys.readouterr().err
    )
    api, _ = cluster.api(providers(("key1", KEY1)))
    api.call("POST", SECRETS, secret())
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(encryption.new_config())  # a fresh random key1
    assert main([*base, "--encryption-provider-config", str(wrong)]) == 1
    err = capsys.readouterr().err
    assert f"error: 1 stored secrets cannot be read with --encryption-provider-config {wrong}" in (
        err
    )
