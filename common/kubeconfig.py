"""kubeconfig files: finding, loading and merging them as kubectl does, resolving the context that
tkctl connects with, and writing one for a new cluster. File I/O only (no network).

Loading order: an explicit path (``--kubeconfig``), else ``$KUBECONFIG`` (a ``:``-separated list
whose files are merged, the first file to define a name or ``current-context`` winning), else
``~/.tinykube/kubeconfig.yaml``.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

DEFAULT_PATH = os.path.join("~", ".tinykube", "kubeconfig.yaml")
DEFAULT_NAMESPACE = "default"
_NAMED_LISTS = ("clusters", "users", "contexts")


class KubeconfigError(Exception):
    """The configuration is missing or unusable; the message reads like kubectl's."""


@dataclass(frozen=True)
class ClientConfig:
    """Everything needed to reach one API server, resolved from a kubeconfig and flags."""

    server: str
    token: str | None = None
    ca_file: str | None = None
    ca_data: bytes | None = None
    insecure: bool = False
    namespace: str = DEFAULT_NAMESPACE
    context: str = ""


def config_paths(
    explicit: str | None, env: Mapping[str, str], home: str | None = None
) -> tuple[list[str], bool]:
    """The files to load and whether they were named explicitly (a missing one is then an error)."""
    if explicit:
        return [os.path.expanduser(explicit)], True
    listed = env.get("KUBECONFIG", "")
    if listed:
        return [os.path.expanduser(p) for p in listed.split(os.pathsep) if p], False
    base = home if home is not None else os.path.expanduser("~")
    return [os.path.join(base, ".tinykube", "kubeconfig.yaml")], False


def load_file(path: str) -> dict[str, Any]:
    """One kubeconfig file, with relative file references made absolute (as kubectl does)."""
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f) or {}
    except yaml.YAMLError as e:
        raise KubeconfigError(f'error loading config file "{path}": {e}') from e
    except OSError as e:
        raise KubeconfigError(f"stat {path}: {e.strerror.lower() if e.strerror else e}") from e
    if not isinstance(data, dict):
        raise KubeconfigError(f'error loading config file "{path}": not a kubeconfig mapping')
    base = os.path.dirname(os.path.abspath(path))
    for entry in data.get("clusters") or []:
        cluster = entry.get("cluster") if isinstance(entry, dict) else None
        ca = cluster.get("certificate-authority") if isinstance(cluster, dict) else None
        if isinstance(cluster, dict) and isinstance(ca, str) and ca and not os.path.isabs(ca):
            cluster["certificate-authority"] = os.path.join(base, ca)
    for entry in data.get("users") or []:
        user = entry.get("user") if isinstance(entry, dict) else None
        token_file = user.get("tokenFile") if isinstance(user, dict) else None
        if isinstance(user, dict) and isinstance(token_file, str) and not os.path.isabs(token_file):
            user["tokenFile"] = os.path.join(base, token_file)
    return data


def merge(configs: list[dict[str, Any]]) -> dict[str, Any]:
    """kubectl's merge of a ``$KUBECONFIG`` list: for each name, and for ``current-context``, the
    first file that sets it wins."""
    merged: dict[str, Any] = {"clusters": [], "users": [], "contexts": [], "current-context": ""}
    seen: dict[str, set[str]] = {key: set() for key in _NAMED_LISTS}
    for config in configs:
        for key in _NAMED_LISTS:
            for entry in config.get(key) or []:
                name = entry.get("name") if isinstance(entry, dict) else None
                if isinstance(name, str) and name not in seen[key]:
                    seen[key].add(name)
                    merged[key].append(entry)
        if not merged["current-context"] and config.get("current-context"):
            merged["current-context"] = str(config["current-context"])
    return merged


def load(paths: list[str], explicit: bool = False) -> dict[str, Any] | None:
    """Load and merge ``paths``; ``None`` when none of them exists (and none was explicit)."""
    configs = []
    for path in paths:
        if not explicit and not os.path.exists(path):
            continue
        configs.append(load_file(path))
    return merge(configs) if configs else None


def _named(config: Mapping[str, Any], key: str, name: str) -> dict[str, Any] | None:
    for entry in config.get(key) or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            body = entry.get(key[:-1])
            return body if isinstance(body, dict) else {}
    return None


def resolve(config: Mapping[str, Any], context: str | None = None) -> ClientConfig:
    """The server, credentials and namespace of ``context`` (default: ``current-context``)."""
    name = context or str(config.get("current-context") or "")
    if not name:
        raise KubeconfigError("current-context is not set; pass --context or set one")
    ctx = _named(config, "contexts", name)
    if ctx is None:
        raise KubeconfigError(f"context was not found for specified context: {name}")
    cluster_name = str(ctx.get("cluster") or "")
    cluster = _named(config, "clusters", cluster_name)
    if cluster is None:
        raise KubeconfigError(f'cluster "{cluster_name}" not found for context "{name}"')
    server = str(cluster.get("server") or "")
    if not server:
        raise KubeconfigError(f'no server found for cluster "{cluster_name}"')
    user = _named(config, "users", str(ctx.get("user") or "")) or {}
    ca_data = None
    if cluster.get("certificate-authority-data"):
        ca_data = base64.b64decode(str(cluster["certificate-authority-data"]))
    return ClientConfig(
        server=server,
        token=_token(user),
        ca_file=str(cluster["certificate-authority"])
        if cluster.get("certificate-authority")
        else None,
        ca_data=ca_data,
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        namespace=str(ctx.get("namespace") or DEFAULT_NAMESPACE),
        context=name,
    )


def _token(user: Mapping[str, Any]) -> str | None:
    if user.get("token"):
        return str(user["token"])
    if user.get("tokenFile"):
        try:
            with open(str(user["tokenFile"]), encoding="utf-8") as f:
                return f.read().strip() or None
        except OSError as e:
            raise KubeconfigError(f"failed to read token file {user['tokenFile']}: {e}") from e
    return None


def kubeconfig_document(
    server: str, token: str, ca_file: str | None = None, cluster_name: str = "tinykube"
) -> dict[str, Any]:
    """A one-cluster kubeconfig (cluster, user ``<name>-admin``, context ``<name>``)."""
    cluster: dict[str, Any] = {"server": server}
    if ca_file:
        cluster["certificate-authority"] = os.path.abspath(ca_file)
    user = f"{cluster_name}-admin"
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": cluster}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [
            {
                "name": cluster_name,
                "context": {"cluster": cluster_name, "user": user, "namespace": DEFAULT_NAMESPACE},
            }
        ],
        "current-context": cluster_name,
        "preferences": {},
    }


def write_kubeconfig(
    path: str,
    server: str,
    token: str,
    ca_file: str | None = None,
    mode: int = 0o600,
    cluster_name: str = "tinykube",
) -> None:
    """Write a kubeconfig for ``server``; the file has ``mode`` from its creation (it holds a token)
    and replaces any previous file atomically."""
    path = os.path.expanduser(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, mode=0o700, exist_ok=True)
    text = yaml.safe_dump(
        kubeconfig_document(server, token, ca_file, cluster_name), sort_keys=False
    )
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), "w") as f:
            os.fchmod(f.fileno(), mode)  # the umask may have removed bits that were asked for
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
