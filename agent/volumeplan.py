"""What each pod volume must hold: the files of a ``configMap``, ``secret``, ``downwardAPI`` or
``projected`` volume (the kubelet's ``MakePayload`` and ``CollectData``, with their messages),
where its directory lives under the pod's (``volumes/kubernetes.io~<plugin>/<name>``), and
whether it sits on memory (secrets and projected volumes, ``emptyDir.medium: Memory``).
Pure: no I/O (ConfigMaps and Secrets come through a lookup function).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from agent import fieldpath
from agent.atomicwriter import FileProjection
from agent.configrefs import CONFIGMAP, SECRET, Lookup, MissingObjectError, data_of, fetch
from common.quantity import parse_bytes

# configMap, secret, downwardAPI and projected volumes: 0644 unless defaultMode says otherwise.
DEFAULT_MODE = 0o644
# The kubelet's plugin directory names.
PLUGINS = {
    "emptyDir": "kubernetes.io~empty-dir",
    "configMap": "kubernetes.io~configmap",
    "secret": "kubernetes.io~secret",
    "downwardAPI": "kubernetes.io~downward-api",
    "projected": "kubernetes.io~projected",
    "hostPath": "kubernetes.io~host-path",
}
# Volumes the agent fills from the API: read-only in every container, whatever the mount says.
API_DATA = ("configMap", "secret", "downwardAPI", "projected")


class VolumeError(Exception):
    """A volume that cannot be set up now (the FailedMount event's cause)."""


# The token of a projected ``serviceAccountToken`` source (its audience, expirationSeconds);
# raises ``TokenFetchError``.
TokenFetcher = Callable[[Mapping[str, Any]], bytes]


class TokenFetchError(Exception):
    """A service-account token the API server did not give."""


def _no_tokens(source: Mapping[str, Any]) -> bytes:
    raise TokenFetchError("service account tokens are not available on this node")


def token_payload(
    source: Mapping[str, Any], tokens: TokenFetcher, default_mode: int
) -> dict[str, FileProjection]:
    """The kubelet's ``serviceAccountToken`` projection: the token at ``path``."""
    try:
        token = tokens(source)
    except TokenFetchError as e:
        raise VolumeError(f"failed to fetch token: {e}") from e
    return {str(source.get("path") or "token"): FileProjection(token, default_mode)}


def kind_of(volume: Mapping[str, Any]) -> str | None:
    """The volume's source among those the agent provides, or None."""
    for kind in PLUGINS:
        if volume.get(kind) is not None:
            return kind
    return None


def in_memory(volume: Mapping[str, Any]) -> bool:
    kind = kind_of(volume)
    if kind in ("secret", "projected"):
        return True
    return kind == "emptyDir" and (volume["emptyDir"] or {}).get("medium") == "Memory"


def size_limit(volume: Mapping[str, Any]) -> int | None:
    """A Memory emptyDir's ``sizeLimit`` in bytes (the tmpfs's size), if any."""
    limit = (volume.get("emptyDir") or {}).get("sizeLimit")
    return parse_bytes(limit) if limit is not None else None


def failed_mount_message(volume: str, error: BaseException | str) -> str:
    return f'MountVolume.SetUp failed for volume "{volume}" : {error}'


def unmounted_message(volume: str, error: BaseException | str) -> str:
    """The kubelet's FailedMount message for a volume it could not even process (a claim that
    is missing, unbound or being deleted)."""
    return (f"Unable to attach or mount volumes: unmounted volumes=[{volume}], unattached "
            f"volumes=[{volume}], failed to process volumes=[{volume}]: {error}")  # fmt: skip


def _mode(value: Any, default: int) -> int:
    return int(value) if value is not None else default


def key_payload(
    kind: str, obj: Mapping[str, Any] | None, source: Mapping[str, Any], default_mode: int
) -> dict[str, FileProjection]:
    """``MakePayload`` of a ConfigMap or Secret: every key, or the ``items`` asked for."""
    data = data_of(kind, obj)
    items = source.get("items") or []
    if not items:
        return {key: FileProjection(value, default_mode) for key, value in data.items()}
    optional = bool(source.get("optional"))
    payload: dict[str, FileProjection] = {}
    for item in items:
        key = str(item.get("key") or "")
        if key not in data:
            if optional:
                continue
            what = "configmap references non-existent config key" if kind == CONFIGMAP else (
                "references non-existent secret key")  # fmt: skip
            raise VolumeError(f"{what}: {key}")
        payload[str(item.get("path") or key)] = FileProjection(
            data[key], _mode(item.get("mode"), default_mode)
        )
    return payload


def _object_payload(
    kind: str, name: str, source: Mapping[str, Any], lookup: Lookup, default_mode: int
) -> dict[str, FileProjection]:
    try:
        obj = fetch(lookup, kind, name, bool(source.get("optional")))
    except MissingObjectError as e:
        raise VolumeError(str(e)) from e
    return key_payload(kind, obj, source, default_mode)


def downward_payload(
    pod: Mapping[str, Any],
    items: list[Any],
    default_mode: int,
    allocatable: Mapping[str, Any],
) -> dict[str, FileProjection]:
    """``downwardapi.CollectData``: one file per item, a field or a resource of the pod."""
    payload: dict[str, FileProjection] = {}
    errors: list[str] = []
    for item in items:
        value = ""
        try:
            if item.get("fieldRef") is not None:
                value = fieldpath.object_field(pod, str(item["fieldRef"].get("fieldPath") or ""))
            elif item.get("resourceFieldRef") is not None:
                value = fieldpath.resource_value(pod, None, item["resourceFieldRef"], allocatable)
        except fieldpath.FieldPathError as e:
            errors.append(str(e))
        path = "/".join(p for p in str(item.get("path") or "").split("/") if p not in ("", "."))
        payload[path] = FileProjection(value.encode(), _mode(item.get("mode"), default_mode))
    if errors:
        raise VolumeError(aggregate(errors))
    return payload


def aggregate(errors: list[str]) -> str:
    """``utilerrors.NewAggregate``'s message: one error as is, several in brackets."""
    return errors[0] if len(errors) == 1 else f"[{', '.join(errors)}]"


def _projected(
    pod: Mapping[str, Any],
    source: Mapping[str, Any],
    lookup: Lookup,
    allocatable: Mapping[str, Any],
    tokens: TokenFetcher,
) -> dict[str, FileProjection]:
    default_mode = _mode(source.get("defaultMode"), DEFAULT_MODE)
    payload: dict[str, FileProjection] = {}
    errors: list[str] = []
    for part in source.get("sources") or []:
        try:
            if part.get("configMap") is not None:
                ref = part["configMap"]
                payload |= _object_payload(CONFIGMAP, str(ref.get("name") or ""), ref, lookup,
                                           default_mode)  # fmt: skip
            elif part.get("secret") is not None:
                ref = part["secret"]
                payload |= _object_payload(SECRET, str(ref.get("name") or ""), ref, lookup,
                                           default_mode)  # fmt: skip
            elif part.get("downwardAPI") is not None:
                items = part["downwardAPI"].get("items") or []
                payload |= downward_payload(pod, items, default_mode, allocatable)
            elif part.get("serviceAccountToken") is not None:
                payload |= token_payload(part["serviceAccountToken"], tokens, default_mode)
        except VolumeError as e:
            errors.append(str(e))
    if errors:
        raise VolumeError(aggregate(errors))
    return payload


def payload(
    pod: Mapping[str, Any],
    volume: Mapping[str, Any],
    lookup: Lookup,
    allocatable: Mapping[str, Any],
    tokens: TokenFetcher = _no_tokens,
) -> dict[str, FileProjection] | None:
    """The files an API-data volume must hold (None for other kinds); raises ``VolumeError``."""
    kind = kind_of(volume)
    source = volume.get(kind or "") or {}
    default_mode = _mode(source.get("defaultMode"), DEFAULT_MODE)
    if kind == "configMap":
        return _object_payload(CONFIGMAP, str(source.get("name") or ""), source, lookup,
                               default_mode)  # fmt: skip
    if kind == "secret":
        return _object_payload(SECRET, str(source.get("secretName") or ""), source, lookup,
                               default_mode)  # fmt: skip
    if kind == "downwardAPI":
        return downward_payload(pod, source.get("items") or [], default_mode, allocatable)
    if kind == "projected":
        return _projected(pod, source, lookup, allocatable, tokens)
    return None
