"""Registry credentials of a pod's image pulls, as the kubelet's credential keyring finds them
(pkg/credentialprovider): the pod's ``imagePullSecrets`` of type ``kubernetes.io/dockercfg`` or
``kubernetes.io/dockerconfigjson`` give entries keyed by registry location (scheme dropped, a
``/v1/`` or ``/v2/`` path dropped); an image matches a location whose host parts match as globs
(``*.example.com``), whose port is the same and whose path is a prefix of the image's; the most
specific first (the keys in reverse order), and the Docker Hub entry for images without a
registry host. Pure: the Secrets come through a lookup.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import urlsplit

from agent.configrefs import SECRET, Lookup, data_of
from common.wellknown import (
    DOCKER_CONFIG_JSON_KEY,
    DOCKERCFG_KEY,
    SECRET_DOCKER_CONFIG_JSON,
    SECRET_DOCKERCFG,
)

DEFAULT_REGISTRY_HOST = "index.docker.io"

AuthConfig = dict[str, str]  # what Docker's pull takes as X-Registry-Auth


@dataclass(frozen=True)
class Keyring:
    """Location → credentials, in the order the kubelet tries them."""

    index: tuple[str, ...]
    creds: Mapping[str, tuple[AuthConfig, ...]]


def location_key(location: str) -> str:
    """The keyring's key of a config location (``BasicDockerKeyring.Add``)."""
    value = location if location.startswith(("https://", "http://")) else "https://" + location
    parts = urlsplit(value)
    path = parts.path
    if path.startswith(("/v2/", "/v1/")):
        path = path[3:]
    return parts.netloc + path if path and path != "/" else parts.netloc


def _entry(raw: Mapping[str, Any], location: str) -> AuthConfig:
    """A DockerConfigEntry as an auth config: ``auth`` (base64 ``user:password``) wins."""
    auth: AuthConfig = {"serveraddress": location}
    username, password = str(raw.get("username") or ""), str(raw.get("password") or "")
    if raw.get("auth"):
        try:
            decoded = base64.b64decode(str(raw["auth"]), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        if ":" in decoded:
            username, password = decoded.split(":", 1)
    if username:
        auth["username"] = username
    if password:
        auth["password"] = password
    if raw.get("email"):
        auth["email"] = str(raw["email"])
    return auth


def _entries(secret: Mapping[str, Any]) -> dict[str, Any]:
    kind = secret.get("type")
    data = data_of(SECRET, secret)
    try:
        if kind == SECRET_DOCKER_CONFIG_JSON and DOCKER_CONFIG_JSON_KEY in data:
            auths = json.loads(data[DOCKER_CONFIG_JSON_KEY]).get("auths")
            return auths if isinstance(auths, dict) else {}
        if kind == SECRET_DOCKERCFG and DOCKERCFG_KEY in data:
            entries = json.loads(data[DOCKERCFG_KEY])
            return entries if isinstance(entries, dict) else {}
    except (ValueError, AttributeError):
        return {}
    return {}


def keyring(secrets: list[Mapping[str, Any]]) -> Keyring:
    """The keyring of the pull secrets found (``MakeDockerKeyring``)."""
    creds: dict[str, list[AuthConfig]] = {}
    for secret in secrets:
        for location, raw in _entries(secret).items():
            if isinstance(raw, dict):
                creds.setdefault(location_key(location), []).append(_entry(raw, location))
    index = tuple(sorted(creds, reverse=True))
    return Keyring(index, {k: tuple(v) for k, v in creds.items()})


def _split(url: str) -> tuple[list[str], str, str]:
    parts = urlsplit("https://" + url)
    return (parts.hostname or "").split("."), str(parts.port or ""), parts.path


def urls_match(glob: str, target: str) -> bool:
    """``URLsMatchStr``: host parts as globs, the same port, the glob's path a prefix."""
    glob_parts, glob_port, glob_path = _split(glob)
    target_parts, target_port, target_path = _split(target)
    if glob_port != target_port or len(glob_parts) != len(target_parts):
        return False
    if not target_path.startswith(glob_path):
        return False
    return all(fnmatchcase(t, g) for g, t in zip(glob_parts, target_parts, strict=True))


def is_default_registry(image: str) -> bool:
    """Whether the image lives on Docker Hub (no registry host: no ``.`` or ``:`` before ``/``)."""
    first, slash, _ = image.partition("/")
    if not first:
        return False
    if not slash or first == "docker.io":
        return True
    return not any(c in first for c in ".:")


def lookup_credentials(ring: Keyring, image: str) -> list[AuthConfig]:
    """``BasicDockerKeyring.Lookup``: the credentials to try for ``image``, in order."""
    found = [auth for key in ring.index if urls_match(key, image) for auth in ring.creds[key]]
    if found:
        return found
    if is_default_registry(image):
        return list(ring.creds.get(DEFAULT_REGISTRY_HOST, ()))
    return []


def pull_secrets(
    pod: Mapping[str, Any], lookup: Lookup
) -> tuple[list[Mapping[str, Any]], list[str]]:
    """The pod's ``imagePullSecrets`` found, and the names of those that are not."""
    found: list[Mapping[str, Any]] = []
    missing: list[str] = []
    for ref in (pod.get("spec") or {}).get("imagePullSecrets") or []:
        name = str((ref or {}).get("name") or "")
        if not name:
            continue
        secret = lookup(SECRET, name)
        if secret is None:
            missing.append(name)
        else:
            found.append(secret)
    return found, missing
