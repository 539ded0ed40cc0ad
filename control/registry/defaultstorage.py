"""The StorageClass every cluster has, made at API server start as k3s ships it: ``local-path``,
rancher's local-path provisioner (a directory on the node the scheduler picks), the default
class, ``WaitForFirstConsumer``, reclaim ``Delete``. A class already there is kept as it is (an
administrator may have changed its default annotation). The manifest is pure;
``ensure_default_storage_class`` writes through the Registry.
"""

from __future__ import annotations

import logging
from typing import Any

from common import errors
from common.resources import must
from common.storage import DELETE, WAIT_FOR_FIRST_CONSUMER
from common.wellknown import DEFAULT_CLASS_ANNOTATION, LOCAL_PATH_CLASS, LOCAL_PATH_PROVISIONER
from control.registry.registry import Registry

log = logging.getLogger(__name__)

STORAGE_CLASSES = must("storageclasses")


def local_path_class() -> dict[str, Any]:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": LOCAL_PATH_CLASS,
            "annotations": {DEFAULT_CLASS_ANNOTATION: "true"},
        },
        "provisioner": LOCAL_PATH_PROVISIONER,
        "reclaimPolicy": DELETE,
        "volumeBindingMode": WAIT_FOR_FIRST_CONSUMER,
    }


def ensure_default_storage_class(registry: Registry) -> None:
    """Create ``local-path`` when missing."""
    try:
        registry.create(STORAGE_CLASSES, "", local_path_class())
        log.info("storage: made StorageClass %s", LOCAL_PATH_CLASS)
    except errors.AlreadyExistsError:
        pass
