"""Docker's JSON, read: ``docker inspect`` output as ``ContainerInfo``, timestamps, pull errors.

Kept apart from ``docker_runtime`` so it can be tested without an engine. Pure: no I/O and no
``docker`` import.
"""

from __future__ import annotations

import io
import tarfile
from datetime import UTC, datetime
from typing import Any

from agent import runtime as rt
from agent.runtime import ContainerInfo

# Words of a pull error that mean no registry answered at all (DNS, refused, timeout).
UNREACHABLE_HINTS = (
    "no such host",
    "connection refused",
    "i/o timeout",
    "network is unreachable",
    "tls handshake timeout",
    "dial tcp",
    "timeout exceeded",
    "temporary failure in name resolution",
    "no route to host",
)


def registry_unreachable(message: str) -> bool:
    """Whether a pull error says no registry answered (rather than "no such image")."""
    lowered = message.lower()
    return any(hint in lowered for hint in UNREACHABLE_HINTS)


def parse_time(value: str | None) -> datetime | None:
    """Docker's RFC3339 timestamps (nanoseconds) as aware datetimes; the zero time as None."""
    if not value or value.startswith("0001-01-01"):
        return None
    text = value.rstrip("Z")
    if "." in text:
        head, frac = text.split(".", 1)
        offset = ""
        for sign in ("+", "-"):
            if sign in frac:
                frac, rest = frac.split(sign, 1)
                offset = sign + rest
        text = f"{head}.{frac[:6]}{offset}"
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def container_state(status: str) -> rt.State:
    if status == "created":
        return "created"
    if status in ("running", "paused", "restarting"):
        return "running"
    return "exited"


def container_ip(attrs: dict[str, Any]) -> str | None:
    net = attrs.get("NetworkSettings") or {}
    if net.get("IPAddress"):
        return str(net["IPAddress"])
    for network in (net.get("Networks") or {}).values():
        if network and network.get("IPAddress"):
            return str(network["IPAddress"])
    return None


def container_info(attrs: dict[str, Any], repo_digest: str | None = None) -> ContainerInfo:
    """A ``ContainerInfo`` from ``docker inspect`` output."""
    config = attrs.get("Config") or {}
    state = attrs.get("State") or {}
    labels = {str(k): str(v) for k, v in (config.get("Labels") or {}).items()}
    role: rt.Role = "sandbox" if labels.get(rt.DOCKER_TYPE) == "podsandbox" else "app"
    status = container_state(str(state.get("Status") or "exited"))
    image_id = str(attrs.get("Image") or "")
    try:
        attempt = int(labels.get(rt.RESTART_COUNT, "0"))
    except ValueError:
        attempt = 0
    return ContainerInfo(
        id=str(attrs["Id"]),
        name=str(attrs.get("Name") or "").lstrip("/"),
        pod_uid=labels.get(rt.POD_UID, ""),
        pod_name=labels.get(rt.POD_NAME, ""),
        pod_namespace=labels.get(rt.POD_NAMESPACE, ""),
        container_name=labels.get(rt.CONTAINER_NAME, ""),
        attempt=attempt,
        role=role,
        state=status,
        exit_code=int(state["ExitCode"]) if status == "exited" else None,
        created_at=parse_time(attrs.get("Created")),
        started_at=parse_time(state.get("StartedAt")),
        finished_at=parse_time(state.get("FinishedAt")) if status == "exited" else None,
        image=str(config.get("Image") or ""),
        image_id=image_id,
        repo_digest=repo_digest,
        ip=container_ip(attrs) if role == "sandbox" else None,
        labels=labels,
        oom_killed=bool(state.get("OOMKilled")),
        error=str(state.get("Error") or ""),
    )


def tar_file(data: bytes, limit: int) -> bytes | None:
    """The first regular file of a (possibly cut short) tar archive, at most ``limit`` bytes:
    what ``GET /containers/ID/archive`` answers for one file."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r|") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                fileobj = tar.extractfile(member)
                return b"" if fileobj is None else fileobj.read(limit)
    except (tarfile.TarError, OSError, EOFError):
        return None
    return None
