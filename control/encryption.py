"""Encryption at rest, as kube-apiserver's ``--encryption-provider-config``: an
``EncryptionConfiguration`` (apiserver.config.k8s.io/v1) names, per resource, providers whose keys
turn a stored value into ``k8s:enc:<provider>:v1:<key>:`` + ciphertext, with kube-apiserver's
formats (aescbc: a random 16-byte IV then AES-256-CBC with PKCS#7 padding; aesgcm: a random
12-byte nonce then AES-GCM sealed over the value's key). The first key writes, every key reads; a
value read with any other is stale and must be rewritten. Pure but for reading the file.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import yaml
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from common.encryptionconfig import API_VERSION, KIND, new_config

__all__ = ["new_config"]  # re-exported: the file a new cluster starts with

# What every encrypted value starts with; the identity provider refuses to read such a value.
ENCRYPTED = b"k8s:enc:"
BLOCK = 16  # AES block size, and the CBC IV
GCM_NONCE = 12
AES_CBC_KEY_SIZES = (32,)
AES_GCM_KEY_SIZES = (16, 24, 32)
PROVIDERS = ("aescbc", "aesgcm", "secretbox", "identity", "kms")


class TransformError(Exception):
    """A stored value that cannot be read with the configured keys (kube-apiserver's words)."""


class ConfigError(ValueError):
    """An encryption configuration file that cannot be used; the server does not start."""


class Cipherer(Protocol):
    def seal(self, plain: bytes, context: bytes) -> bytes: ...

    def open(self, data: bytes, context: bytes) -> bytes: ...


class AesCbc:
    """kube-apiserver's ``aescbc``: IV, then the PKCS#7-padded value in CBC mode."""

    def __init__(self, key: bytes) -> None:
        self.key = key

    def seal(self, plain: bytes, context: bytes, iv: bytes | None = None) -> bytes:
        iv = os.urandom(BLOCK) if iv is None else iv
        pad = BLOCK - len(plain) % BLOCK
        encryptor = Cipher(algorithms.AES(self.key), modes.CBC(iv)).encryptor()
        return iv + encryptor.update(plain + bytes([pad]) * pad) + encryptor.finalize()

    def open(self, data: bytes, context: bytes) -> bytes:
        if len(data) < BLOCK:
            raise TransformError("the stored data was shorter than the required size")
        iv, body = data[:BLOCK], data[BLOCK:]
        if len(body) % BLOCK:
            raise TransformError("the stored data is not a multiple of the block size")
        decryptor = Cipher(algorithms.AES(self.key), modes.CBC(iv)).decryptor()
        result = decryptor.update(body) + decryptor.finalize()
        pad = result[-1] if result else 0
        if pad == 0 or pad > len(result):
            raise TransformError("invalid PKCS7 data (empty or not padded)")
        if result[-pad:] != bytes([pad]) * pad:
            raise TransformError("invalid padding on input")
        return result[:-pad]


class AesGcm:
    """kube-apiserver's ``aesgcm``: a nonce, then the value sealed with the value's storage key
    as authenticated data (a ciphertext copied under another key does not open)."""

    def __init__(self, key: bytes) -> None:
        self.aead = AESGCM(key)

    def seal(self, plain: bytes, context: bytes, nonce: bytes | None = None) -> bytes:
        nonce = os.urandom(GCM_NONCE) if nonce is None else nonce
        return nonce + self.aead.encrypt(nonce, plain, context)

    def open(self, data: bytes, context: bytes) -> bytes:
        if len(data) < GCM_NONCE:
            raise TransformError("the stored data was shorter than the required size")
        try:
            return self.aead.decrypt(data[:GCM_NONCE], data[GCM_NONCE:], context)
        except InvalidTag:
            raise TransformError("cipher: message authentication failed") from None


@dataclass(frozen=True)
class Key:
    """One key of one provider: its prefix, and its cipher (None: identity)."""

    prefix: bytes
    cipher: Cipherer | None

    def read(self, data: bytes, context: bytes) -> bytes:
        if self.cipher is None:
            if data.startswith(ENCRYPTED):
                raise TransformError("identity transformer tried to read encrypted data")
            return data
        return self.cipher.open(data[len(self.prefix) :], context)


class Transformer:
    """The keys of one resource, in the file's order: the first writes, all read."""

    def __init__(self, keys: list[Key]) -> None:
        if not keys:
            raise ConfigError("a resource needs at least one provider")
        self.keys = keys

    @property
    def writer(self) -> Key:
        return self.keys[0]

    def to_storage(self, plain: bytes, context: bytes) -> bytes:
        w = self.writer
        return plain if w.cipher is None else w.prefix + w.cipher.seal(plain, context)

    def from_storage(self, data: bytes, context: bytes) -> tuple[bytes, bool]:
        """The value and whether it is stale (read with a key other than the first)."""
        problems: list[str] = []
        for i, key in enumerate(self.keys):
            if not data.startswith(key.prefix):
                continue
            try:
                return key.read(data, context), i != 0
            except TransformError as e:
                if key.prefix:
                    raise
                problems.append(str(e))  # identity: another key may have the prefix
        raise TransformError(problems[0] if problems else "no matching prefix found")

    def stale(self, data: bytes) -> bool:
        """Whether ``data`` was written with a key other than the first (no decryption)."""
        w = self.writer
        if w.cipher is None:
            return data.startswith(ENCRYPTED)
        return not data.startswith(w.prefix)


Transformers = Mapping[str, Transformer]


def load(path: Path) -> dict[str, Transformer]:
    """The transformers of an ``EncryptionConfiguration`` file, by resource (plural)."""
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"cannot read {path}: {e}") from None
    return parse(doc)


def parse(doc: Any) -> dict[str, Transformer]:
    if not isinstance(doc, dict):
        raise ConfigError("the file must hold an EncryptionConfiguration object")
    if doc.get("kind") != KIND or doc.get("apiVersion") != API_VERSION:
        raise ConfigError(
            f'got apiVersion "{doc.get("apiVersion")}" kind "{doc.get("kind")}", '
            f"want {API_VERSION} {KIND}"
        )
    out: dict[str, Transformer] = {}
    for i, entry in enumerate(_list(doc.get("resources"), "resources")):
        path = f"resources[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{path}: must be an object")
        providers = _list(entry.get("providers"), f"{path}.providers")
        keys = [k for j, p in enumerate(providers) for k in _keys(p, f"{path}.providers[{j}]")]
        transformer = Transformer(keys)
        for resource in _list(entry.get("resources"), f"{path}.resources"):
            name = _resource(resource, f"{path}.resources")
            if name in out:
                raise ConfigError(f'{path}.resources: "{resource}" is already configured')
            out[name] = transformer
    return out


def _list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{path}: at least one entry is required")
    return value


def _resource(value: Any, path: str) -> str:
    text = str(value)
    if "*" in text:
        raise ConfigError(f'{path}: "{text}": wildcards are not supported; name each resource')
    plural, _, group = text.partition(".")
    if group:
        raise ConfigError(f'{path}: "{text}": only core resources (secrets, configmaps) are kept')
    return plural


def _keys(provider: Any, path: str) -> list[Key]:
    if not isinstance(provider, dict) or len(provider) != 1:
        raise ConfigError(f"{path}: exactly one provider type must be set ({', '.join(PROVIDERS)})")
    (kind, spec), = provider.items()  # fmt: skip
    if kind == "identity":
        return [Key(b"", None)]
    if kind == "secretbox":
        raise ConfigError(
            f"{path}: secretbox is not supported by tinykube (it needs XSalsa20-Poly1305, which "
            "the cryptography library does not provide); use aescbc or aesgcm"
        )
    if kind not in ("aescbc", "aesgcm"):
        raise ConfigError(f'{path}: unknown or unsupported provider "{kind}"')
    sizes = AES_CBC_KEY_SIZES if kind == "aescbc" else AES_GCM_KEY_SIZES
    keys = []
    for j, key in enumerate(_list((spec or {}).get("keys"), f"{path}.{kind}.keys")):
        where = f"{path}.{kind}.keys[{j}]"
        name, secret = _named_key(key, where, sizes)
        cipher: Cipherer = AesCbc(secret) if kind == "aescbc" else AesGcm(secret)
        keys.append(Key(f"k8s:enc:{kind}:v1:{name}:".encode(), cipher))
    return keys


def _named_key(key: Any, where: str, sizes: tuple[int, ...]) -> tuple[str, bytes]:
    if not isinstance(key, dict) or not key.get("name"):
        raise ConfigError(f"{where}.name: Required value: key name is required")
    name = str(key["name"])
    if ":" in name:
        raise ConfigError(f'{where}.name: Invalid value: "{name}": key name must not contain ":"')
    try:
        secret = base64.b64decode(str(key.get("secret") or ""), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{where}.secret: Invalid value: REDACTED: not base64") from None
    if len(secret) not in sizes:
        want = ", ".join(str(s) for s in sizes)
        raise ConfigError(
            f"{where}.secret: Invalid value: REDACTED: secret is not of the expected length, "
            f"got {len(secret)}, expected one of [{want}]"
        )
    return name, secret
