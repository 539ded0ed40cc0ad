"""Encryption at rest: kube-apiserver's value formats (fixed vectors made with the cryptography
library's own PKCS#7 padder and AES-GCM), key order, stale values, and the configuration file."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml

from control import encryption
from control.encryption import AesCbc, AesGcm, ConfigError, TransformError

KEY = bytes(range(32))
PLAIN = b'{"kind":"Secret"}'
CONTEXT = b"/registry/secrets/default/s"
# IV bytes(range(100, 116)), then AES-256-CBC(KEY) of PLAIN padded with PKCS#7.
CBC_VECTOR = bytes.fromhex(
    "6465666768696a6b6c6d6e6f7071727344283a8a80a45cba29966b60a5c5bdab4a4b98a357c1999c0391ccbc"
    "e1378672"
)
# Nonce bytes(range(12)), then AES-256-GCM(KEY) of PLAIN sealed over CONTEXT.
GCM_VECTOR = bytes.fromhex(
    "000102030405060708090a0b3c20bd72ab81e021af12f2e8c38c0c4ffe23c5b37757d3e4abcb34ad8eaa879943"
)


def config(*providers: dict[str, object], resources: tuple[str, ...] = ("secrets",)) -> dict:
    return {
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "EncryptionConfiguration",
        "resources": [{"resources": list(resources), "providers": list(providers)}],
    }


def aes(kind: str, *keys: tuple[str, bytes]) -> dict[str, object]:
    return {kind: {"keys": [{"name": n, "secret": base64.b64encode(k).decode()} for n, k in keys]}}


def test_aescbc_reads_and_writes_kube_apiservers_format() -> None:
    cbc = AesCbc(KEY)
    assert cbc.open(CBC_VECTOR, b"") == PLAIN
    assert cbc.seal(PLAIN, b"", iv=bytes(range(100, 116))) == CBC_VECTOR
    sealed = cbc.seal(PLAIN, b"")
    assert sealed != cbc.seal(PLAIN, b"")  # a random IV each time
    assert cbc.open(sealed, b"") == PLAIN


def test_aesgcm_reads_and_writes_kube_apiservers_format() -> None:
    gcm = AesGcm(KEY)
    assert gcm.open(GCM_VECTOR, CONTEXT) == PLAIN
    assert gcm.seal(PLAIN, CONTEXT, nonce=bytes(range(12))) == GCM_VECTOR
    with pytest.raises(TransformError, match="message authentication failed"):
        gcm.open(GCM_VECTOR, b"/registry/secrets/default/other")


def test_the_first_key_writes_every_key_reads_others_are_stale() -> None:
    t = encryption.parse(config(aes("aescbc", ("new", b"n" * 32), ("old", KEY)),
                                {"identity": {}}))["secrets"]  # fmt: skip
    stored = t.to_storage(PLAIN, CONTEXT)
    assert stored.startswith(b"k8s:enc:aescbc:v1:new:") and PLAIN not in stored
    assert t.from_storage(stored, CONTEXT) == (PLAIN, False)
    assert not t.stale(stored)
    old = b"k8s:enc:aescbc:v1:old:" + CBC_VECTOR
    assert t.from_storage(old, CONTEXT) == (PLAIN, True)
    assert t.stale(old)
    assert t.from_storage(PLAIN, CONTEXT) == (PLAIN, True)  # written before encryption
    assert t.stale(PLAIN)


def test_identity_first_writes_in_the_clear_and_rereads_encrypted_values_as_stale() -> None:
    t = encryption.parse(config({"identity": {}}, aes("aesgcm", ("k", KEY))))["secrets"]
    assert t.to_storage(PLAIN, CONTEXT) == PLAIN
    gcm = b"k8s:enc:aesgcm:v1:k:" + GCM_VECTOR
    assert t.from_storage(gcm, CONTEXT) == (PLAIN, True) and t.stale(gcm)
    assert not t.stale(PLAIN)


def test_a_wrong_or_missing_key_is_an_error_never_garbage() -> None:
    t = encryption.parse(config(aes("aescbc", ("key1", b"w" * 32))))["secrets"]
    with pytest.raises(TransformError):
        t.from_storage(b"k8s:enc:aescbc:v1:key1:" + CBC_VECTOR, CONTEXT)
    with pytest.raises(TransformError, match="no matching prefix found"):
        t.from_storage(b"k8s:enc:aescbc:v1:key2:" + CBC_VECTOR, CONTEXT)
    with pytest.raises(TransformError, match="no matching prefix found"):
        t.from_storage(PLAIN, CONTEXT)
    ident = encryption.parse(config({"identity": {}}))["secrets"]
    with pytest.raises(TransformError, match="identity transformer tried to read encrypted data"):
        ident.from_storage(b"k8s:enc:aescbc:v1:key1:" + CBC_VECTOR, CONTEXT)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"kind": "Nope"}, "want apiserver.config.k8s.io/v1 EncryptionConfiguration"),
        (config(aes("aescbc", ("k", b"x" * 16))), "got 16, expected one of [32]"),
        (config(aes("aesgcm", ("k", b"x" * 20))), "got 20, expected one of [16, 24, 32]"),
        (config({"secretbox": {"keys": []}}), "secretbox is not supported by tinykube"),
        (config({"kms": {}}), 'unsupported provider "kms"'),
        (config({"identity": {}, "aescbc": {}}), "exactly one provider type"),
        (config({"identity": {}}, resources=("*.*",)), "wildcards are not supported"),
        (config(aes("aescbc", ("", KEY))), "key name is required"),
    ],
)
def test_bad_configurations_are_refused(doc: dict, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        encryption.parse(doc)
    assert message in str(e.value)
    assert "eHh4" not in str(e.value)  # no key material in a message


def test_a_new_configuration_has_a_random_aescbc_key_then_identity(tmp_path: Path) -> None:
    text = encryption.new_config()
    assert text != encryption.new_config()
    doc = yaml.safe_load(text)
    providers = doc["resources"][0]["providers"]
    assert len(base64.b64decode(providers[0]["aescbc"]["keys"][0]["secret"])) == 32
    assert providers[1] == {"identity": {}}
    path = tmp_path / "enc.yaml"
    path.write_text(text)
    assert set(encryption.load(path)) == {"secrets"}
