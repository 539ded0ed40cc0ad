"""The encryption configuration file a new cluster starts with: kube-apiserver's
``EncryptionConfiguration`` with one random 32-byte ``aescbc`` key for Secrets, then
``identity`` (values written before encryption was turned on stay readable). ``tinykube up``
makes it once in its data dir; ``control.encryption`` reads it. ``new_config`` is pure but for
the random key; ``ensure_config`` writes the file (mode 0600) when it is missing.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import yaml

from common.secretfile import write_private

API_VERSION = "apiserver.config.k8s.io/v1"
KIND = "EncryptionConfiguration"
FILE_NAME = "encryption-config.yaml"


def new_config(resources: tuple[str, ...] = ("secrets",), name: str = "key1") -> str:
    secret = base64.b64encode(os.urandom(32)).decode()
    doc = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "resources": [
            {
                "resources": list(resources),
                "providers": [
                    {"aescbc": {"keys": [{"name": name, "secret": secret}]}},
                    {"identity": {}},
                ],
            }
        ],
    }
    return yaml.safe_dump(doc, sort_keys=False)


def ensure_config(path: Path) -> Path:
    """``path``, made with a new key if it is missing; an existing file is kept as it is (its
    keys read what is stored)."""
    if not path.exists():
        write_private(path, new_config())
    return path
