"""The Services every cluster has, made at API server start as kube-apiserver's bootstrap
controller (``kubernetes`` in ``default``, the API on 443) and kubeadm (``kube-dns`` in
``kube-system``, the cluster DNS) make them: at the first and the tenth address of the Service
range. Idempotent and safe to race: a Service already there is kept (its port brought back to
the API's). The manifests are pure; ``ensure_default_services`` writes through the Registry.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from common import errors
from common.resources import must
from common.wellknown import (
    CLUSTER_SERVICE_LABEL,
    DNS_APP_LABEL,
    DNS_APP_VALUE,
    SERVICE_NAME_LABEL,
)
from control.registry.allocation import ServiceRanges
from control.registry.registry import Registry

log = logging.getLogger(__name__)

SERVICES = must("services")
DNS_METRICS_PORT = 9153  # CoreDNS's Prometheus port, named in kubeadm's Service

Obj = dict[str, Any]


def kubernetes_service(ranges: ServiceRanges, api_port: int) -> Obj:
    """The ``kubernetes`` Service: no selector (its endpoints are the API servers)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {"component": "apiserver", "provider": "kubernetes"},
        },
        "spec": {
            "type": "ClusterIP",
            "clusterIP": ranges.kubernetes_ip(),
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": api_port}],
            "sessionAffinity": "None",
        },
    }


def kube_dns_service(ranges: ServiceRanges) -> Obj:
    """The ``kube-dns`` Service as kubeadm writes it for CoreDNS."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "kube-dns",
            "namespace": "kube-system",
            "labels": {
                DNS_APP_LABEL: DNS_APP_VALUE,
                CLUSTER_SERVICE_LABEL: "true",
                SERVICE_NAME_LABEL: "CoreDNS",
            },
            "annotations": {
                "prometheus.io/port": str(DNS_METRICS_PORT),
                "prometheus.io/scrape": "true",
            },
        },
        "spec": {
            "type": "ClusterIP",
            "clusterIP": ranges.dns_ip(),
            "selector": {DNS_APP_LABEL: DNS_APP_VALUE},
            "ports": [
                {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                {
                    "name": "metrics",
                    "port": DNS_METRICS_PORT,
                    "protocol": "TCP",
                    "targetPort": DNS_METRICS_PORT,
                },
            ],
        },
    }


def ensure_default_services(registry: Registry, api_port: int) -> None:
    """Create ``kubernetes`` and ``kube-dns`` when missing; a ``kubernetes`` Service whose port
    no longer leads to this API server gets it back (the bootstrap controller's repair)."""
    ranges = registry.admission.service_ranges
    for body in (kubernetes_service(ranges, api_port), kube_dns_service(ranges)):
        meta = body["metadata"]
        try:
            registry.create(SERVICES, meta["namespace"], body)
            log.info("services: made %s/%s", meta["namespace"], meta["name"])
        except errors.AlreadyExistsError:
            continue
        except errors.InvalidError as e:  # its address is taken by a Service of the users
            log.warning("services: cannot make %s/%s: %s", meta["namespace"], meta["name"], e)
    with contextlib.suppress(errors.NotFoundError, errors.ConflictError, errors.InvalidError):
        current = registry.get(SERVICES, "default", "kubernetes")
        ports = kubernetes_service(ranges, api_port)["spec"]["ports"]
        if current["spec"].get("ports") != ports:
            current["spec"]["ports"] = ports
            registry.replace(SERVICES, "default", "kubernetes", current)
