"""The ServiceAccount admission plugin, as kube-apiserver's (plugin/pkg/admission/serviceaccount):
a new pod runs as ``spec.serviceAccountName`` (``default`` when unset), which must exist — the
``default`` account is looked for a few times, as its controller may not have made it yet in a
new namespace — and gets the account's ``imagePullSecrets`` when it names none, and, unless
``automountServiceAccountToken`` (the pod's, else the account's) is false, the projected
``kube-api-access-<random>`` volume (token, ``ca.crt``, namespace) mounted in every container at
``/var/run/secrets/kubernetes.io/serviceaccount``. ``plan_pod`` is pure; ``admit`` reads the store.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

from common import errors

Obj = dict[str, Any]

DEFAULT_ACCOUNT = "default"
MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
VOLUME_PREFIX = "kube-api-access-"
# The admission plugin asks for 3607 s, a mark the kubelet and kube-apiserver recognise.
TOKEN_EXPIRATION_SECONDS = 3607
ROOT_CA_CONFIG_MAP = "kube-root-ca.crt"
# Go's names.SimpleNameGenerator alphabet (no vowels, no confusable digits).
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
# The default account is looked up this many times, 100-200 ms apart (kube-apiserver: 10).
DEFAULT_ATTEMPTS = 10
CONTAINER_LISTS = ("initContainers", "containers")


def volume_name(choice: Callable[[str], str] = secrets.choice) -> str:
    return VOLUME_PREFIX + "".join(choice(NAME_ALPHABET) for _ in range(5))


def token_volume(name: str) -> Obj:
    """The projected volume kube-apiserver adds (as it writes it, defaults included)."""
    return {
        "name": name,
        "projected": {
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION_SECONDS,
                                         "path": "token"}},
                {"configMap": {"name": ROOT_CA_CONFIG_MAP,
                               "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
                    "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
            ],
            "defaultMode": 0o644,
        },
    }  # fmt: skip


def automount(pod: Mapping[str, Any], account: Mapping[str, Any]) -> bool:
    """The pod's ``automountServiceAccountToken`` wins over the account's; true when neither."""
    spec = pod.get("spec") or {}
    if spec.get("automountServiceAccountToken") is not None:
        return bool(spec["automountServiceAccountToken"])
    if account.get("automountServiceAccountToken") is not None:
        return bool(account["automountServiceAccountToken"])
    return True


def plan_pod(pod: Obj, account: Mapping[str, Any], name: str) -> None:
    """Change a new pod (defaulted ``serviceAccountName``, its ``account`` found) as the plugin
    does; ``name`` is the token volume's name when one is added."""
    spec = pod.setdefault("spec", {})
    pull = account.get("imagePullSecrets") or []
    if not spec.get("imagePullSecrets") and pull:
        spec["imagePullSecrets"] = [{"name": ref.get("name")} for ref in pull]
    if not automount(pod, account):
        return
    containers = [c for key in CONTAINER_LISTS for c in spec.get(key) or []]
    volumes = spec.get("volumes") or []
    if any(str(v.get("name", "")).startswith(VOLUME_PREFIX) for v in volumes):
        return  # already mounted (a pod written again)
    if not any(_needs_mount(c) for c in containers):
        return
    spec["volumes"] = [*volumes, token_volume(name)]
    for c in containers:
        if _needs_mount(c):
            mount = {"name": name, "readOnly": True, "mountPath": MOUNT_PATH}
            c["volumeMounts"] = [*(c.get("volumeMounts") or []), mount]


def _needs_mount(container: Mapping[str, Any]) -> bool:
    """A container that mounts nothing of its own at the token's path."""
    return not any(m.get("mountPath") == MOUNT_PATH for m in container.get("volumeMounts") or [])


def _forbidden(pod: Mapping[str, Any], namespace: str, account: str) -> errors.ForbiddenError:
    name = (pod.get("metadata") or {}).get("name") or ""
    return errors.ForbiddenError(
        f'pods "{name}" is forbidden: error looking up service account {namespace}/{account}: '
        f'serviceaccount "{account}" not found',
        details={"name": name, "kind": "pods"},
    )


def admit(
    pod: Obj,
    namespace: str,
    lookup: Callable[[str], Obj | None],
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Admit a pod create: default its account, find it (403 when missing) and plan the pod."""
    spec = pod.setdefault("spec", {})
    if not spec.get("serviceAccountName"):
        spec["serviceAccountName"] = DEFAULT_ACCOUNT
    name = str(spec["serviceAccountName"])
    attempts = DEFAULT_ATTEMPTS if name == DEFAULT_ACCOUNT else 1
    account = lookup(name)
    for _ in range(attempts - 1):
        if account is not None:
            break
        sleep(0.1 + secrets.randbelow(100) / 1000)
        account = lookup(name)
    if account is None:
        raise _forbidden(pod, namespace, name)
    plan_pod(pod, account, volume_name())
