"""Defaulting, the step between decoding and validation: fill the fields Kubernetes fills.

The defaults of pkg/apis/core/v1/defaults.go that change behaviour (restartPolicy, grace period,
dnsPolicy, schedulerName, imagePullPolicy by tag, port protocol, termination message, probe
timings, requests from limits, ...); a pod's priority is the Priority admission plugin's.
Functions change the dict in place and are idempotent. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

DEFAULT_GRACE_PERIOD_SECONDS = 30
DEFAULT_SCHEDULER = "default-scheduler"
DEFAULT_TERMINATION_MESSAGE_PATH = "/dev/termination-log"
SECRET_VOLUME_DEFAULT_MODE = 0o644  # 420, as Kubernetes writes it
PROBE_DEFAULTS = {
    "timeoutSeconds": 1,
    "periodSeconds": 10,
    "successThreshold": 1,
    "failureThreshold": 3,
}

# The image reference grammar of github.com/distribution/reference (what Kubernetes parses).
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32,}"
_REFERENCE = re.compile(rf"(?P<name>{_NAME})(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?")
_NAME_MAX = 255


def image_tag(image: str) -> str:
    """The tag Kubernetes reads from an image: ``latest`` when neither tag nor digest is given,
    ``""`` for a digest-only or unparseable reference."""
    match = _REFERENCE.fullmatch(image)
    if not match or len(match["name"]) > _NAME_MAX:
        return ""
    if match["tag"]:
        return match["tag"]
    return "" if match["digest"] else "latest"


def default_pull_policy(image: str) -> str:
    return "Always" if image_tag(image) == "latest" else "IfNotPresent"


def _setdefault(obj: dict[str, Any], key: str, value: Any) -> None:
    # Kubernetes defaults zero values too: "" or null become the default.
    if obj.get(key) in (None, ""):
        obj[key] = value


def _dicts(items: Any) -> list[dict[str, Any]]:
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def default_probe(probe: dict[str, Any]) -> None:
    for key, value in PROBE_DEFAULTS.items():
        if not probe.get(key):
            probe[key] = value
    http = probe.get("httpGet")
    if isinstance(http, dict):
        _setdefault(http, "path", "/")
        _setdefault(http, "scheme", "HTTP")


def default_container(container: dict[str, Any], host_network: bool = False) -> None:
    _setdefault(container, "imagePullPolicy", default_pull_policy(container.get("image") or ""))
    _setdefault(container, "terminationMessagePath", DEFAULT_TERMINATION_MESSAGE_PATH)
    _setdefault(container, "terminationMessagePolicy", "File")
    for port in _dicts(container.get("ports")):
        _setdefault(port, "protocol", "TCP")
        if host_network and not port.get("hostPort"):
            port["hostPort"] = port.get("containerPort")
    for name in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = container.get(name)
        if isinstance(probe, dict):
            default_probe(probe)
    for env in _dicts(container.get("env")):
        field_ref = (env.get("valueFrom") or {}).get("fieldRef")
        if isinstance(field_ref, dict):
            _setdefault(field_ref, "apiVersion", "v1")
    resources = container.get("resources")
    if not isinstance(resources, dict):
        resources = container["resources"] = {}
    limits = resources.get("limits")
    if isinstance(limits, dict) and limits:
        # Only limits given: the requests are the limits (SetDefaults_Pod).
        requests = resources.setdefault("requests", {})
        if isinstance(requests, dict):
            for key, value in limits.items():
                requests.setdefault(key, value)


def default_volume(volume: dict[str, Any]) -> None:
    sources = (
        "emptyDir",
        "hostPath",
        "configMap",
        "secret",
        "persistentVolumeClaim",
        "downwardAPI",
        "projected",
    )
    if not any(volume.get(s) is not None for s in sources):
        volume["emptyDir"] = {}
    for source in ("configMap", "secret"):
        spec = volume.get(source)
        if isinstance(spec, dict) and spec.get("defaultMode") is None:
            spec["defaultMode"] = SECRET_VOLUME_DEFAULT_MODE
    host_path = volume.get("hostPath")
    if isinstance(host_path, dict) and host_path.get("type") is None:
        host_path["type"] = ""


def default_pod_spec(spec: dict[str, Any]) -> None:
    _setdefault(spec, "restartPolicy", "Always")
    _setdefault(spec, "dnsPolicy", "ClusterFirst")
    _setdefault(spec, "schedulerName", DEFAULT_SCHEDULER)
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = DEFAULT_GRACE_PERIOD_SECONDS
    if spec.get("securityContext") is None:
        spec["securityContext"] = {}
    if spec.get("enableServiceLinks") is None:
        spec["enableServiceLinks"] = True
    host_network = bool(spec.get("hostNetwork"))
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in _dicts(spec.get(key)):
            default_container(container, host_network)
    for volume in _dicts(spec.get("volumes")):
        default_volume(volume)


def default_pod(pod: dict[str, Any]) -> None:
    """Apply Kubernetes' Pod defaults in place (safe to call again on a defaulted pod)."""
    spec = pod.get("spec")
    if isinstance(spec, dict):
        default_pod_spec(spec)


DEFAULTERS: dict[str, Callable[[dict[str, Any]], None]] = {"Pod": default_pod}


def default_object(kind: str, obj: dict[str, Any]) -> None:
    """Apply the defaults of ``kind`` in place; kinds without defaults are left as they are."""
    defaulter = DEFAULTERS.get(kind)
    if defaulter is not None:
        defaulter(obj)
