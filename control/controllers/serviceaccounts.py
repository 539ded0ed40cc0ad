"""Two controllers keyed by namespace, as kube-controller-manager's ``serviceaccount`` and
``root-ca-cert-publisher``: every active namespace has a ``default`` ServiceAccount (made again
when deleted) and a ``kube-root-ca.crt`` ConfigMap with the cluster's CA (written back when
edited or deleted). ``sync(namespace)`` reads the shared informers; plans are
``serviceaccounts_plan``'s; writes go through the registry. Shell.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

from common import errors
from common.controller import Controller
from common.informer import Handler
from common.resources import must
from control.controllers import serviceaccounts_plan as plan
from control.informers import SharedInformers
from control.registry.registry import Registry

log = logging.getLogger(__name__)

SERVICE_ACCOUNTS, CONFIG_MAPS = must("serviceaccounts"), must("configmaps")
Obj = dict[str, Any]


def _namespace_of(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or "")


class _PerNamespace:
    """A controller whose key is a namespace's name, queued by the namespace and by changes
    of the objects it keeps in it."""

    name = ""
    resource = ""
    kept_name = ""

    def __init__(self, registry: Registry, informers: SharedInformers) -> None:
        self.registry = registry
        self.namespaces = informers.informer("namespaces")
        self.objects = informers.informer(self.resource)
        self.controller = Controller(self.name, self.sync, initial=self._all)
        self.namespaces.add_handler(
            Handler(on_add=self._on_namespace, on_update=lambda _o, n: self._on_namespace(n))
        )
        self.objects.add_handler(
            Handler(on_update=lambda _o, n: self._on_object(n), on_delete=self._on_object)
        )

    def _all(self) -> list[str]:
        return [str(ns["metadata"]["name"]) for ns in self.namespaces.store.objects()]

    def _on_namespace(self, ns: Obj) -> None:
        self.controller.queue.add(str(ns["metadata"]["name"]))

    def _on_object(self, obj: Obj) -> None:
        if (obj.get("metadata") or {}).get("name") == self.kept_name:
            self.controller.queue.add(_namespace_of(obj))

    def run(self, stop: threading.Event) -> None:
        self.controller.run(stop)

    def sync(self, key: str) -> None:
        raise NotImplementedError

    def _kept(self, namespace: str) -> Obj | None:
        return self.objects.store.get(f"{namespace}/{self.kept_name}")

    def _create(self, namespace: str, obj: Obj) -> None:
        rt = SERVICE_ACCOUNTS if self.resource == "serviceaccounts" else CONFIG_MAPS
        try:
            self.registry.create(rt, namespace, obj)
        except errors.AlreadyExistsError:
            pass  # the informer has not seen it yet: its add queues nothing, nothing to do
        except (errors.NotFoundError, errors.ForbiddenError) as e:
            log.debug("%s %s: not created (%s)", rt.kind, namespace, e.reason)
        else:
            log.info("%s %s/%s: created", rt.kind, namespace, self.kept_name)


class ServiceAccountsController(_PerNamespace):
    name = "serviceaccount"
    resource = "serviceaccounts"
    kept_name = plan.DEFAULT_ACCOUNT

    def sync(self, key: str) -> None:
        wanted = plan.missing_account(self.namespaces.store.get(key), self._kept(key))
        if wanted is not None:
            self._create(key, wanted)


class RootCAPublisher(_PerNamespace):
    name = "root-ca-cert-publisher"
    resource = "configmaps"
    kept_name = plan.ROOT_CA_CONFIG_MAP

    def __init__(self, registry: Registry, informers: SharedInformers, ca_pem: str) -> None:
        super().__init__(registry, informers)
        self.ca_pem = ca_pem

    def sync(self, key: str) -> None:
        existing = self._kept(key)
        wanted = plan.root_ca(self.namespaces.store.get(key), existing, self.ca_pem)
        if wanted is None:
            return
        if existing is None:
            self._create(key, wanted)
            return
        try:
            self.registry.replace(CONFIG_MAPS, key, plan.ROOT_CA_CONFIG_MAP, wanted)
        except (errors.ConflictError, errors.NotFoundError) as e:
            log.debug("ConfigMap %s/%s: not written (%s)", key, plan.ROOT_CA_CONFIG_MAP, e.reason)


def ensure_default_accounts(registry: Registry) -> None:
    """The ``default`` account of every namespace there is, made at API server start: pods
    created before the controller process has run its first pass are not refused (the
    controller keeps them afterwards). Idempotent and safe to race."""
    for ns in registry.list(must("namespaces"), "")["items"]:
        name = str(ns["metadata"]["name"])
        wanted = plan.missing_account(ns, None)
        if wanted is None:
            continue
        refusals = (errors.AlreadyExistsError, errors.NotFoundError, errors.ForbiddenError)
        with contextlib.suppress(*refusals):
            registry.create(SERVICE_ACCOUNTS, name, wanted)
