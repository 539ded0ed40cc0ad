"""The serviceaccount controller and the root CA publisher over the real registry and Redis, fed
by shared informers pumped by hand: every namespace gets a ``default`` ServiceAccount and the
``kube-root-ca.crt`` ConfigMap, both come back when deleted, an edited CA is written back, and
a terminating namespace gets neither."""

from __future__ import annotations

from typing import Any

import pytest

from common.resources import must
from control.controllers.serviceaccounts import (
    RootCAPublisher,
    ServiceAccountsController,
    ensure_default_accounts,
)
from control.informers import SharedInformers
from control.registry.registry import Registry
from tests.integration.informerpump import drain, pump

SA, CM, NS = must("serviceaccounts"), must("configmaps"), must("namespaces")
CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


@pytest.fixture
def world(app: Any) -> tuple[Registry, SharedInformers, ServiceAccountsController, RootCAPublisher]:
    reg: Registry = app.extensions["tinykube"]["registry"]
    informers = SharedInformers(reg)
    return (
        reg,
        informers,
        ServiceAccountsController(reg, informers),
        RootCAPublisher(reg, informers, CA),
    )


def settle(informers: SharedInformers, *controllers: Any) -> None:
    for _ in range(3):
        pump(informers)
        for c in controllers:
            drain(c.controller)


def accounts(reg: Registry, ns: str) -> list[str]:
    return [i["metadata"]["name"] for i in reg.list(SA, ns)["items"]]


def test_every_namespace_gets_a_default_account_made_again_when_deleted(world: Any) -> None:
    reg, informers, sa_ctl, _ = world
    reg.create(NS, "", {"metadata": {"name": "team"}})
    settle(informers, sa_ctl)
    for ns in ("default", "kube-system", "team"):
        assert accounts(reg, ns) == ["default"], ns
    reg.delete(SA, "team", "default", None)
    settle(informers, sa_ctl)
    assert accounts(reg, "team") == ["default"]


def test_every_namespace_gets_the_root_ca_written_back_when_edited(world: Any) -> None:
    reg, informers, _, ca_ctl = world
    settle(informers, ca_ctl)
    cm = reg.get(CM, "default", "kube-root-ca.crt")
    assert cm["data"] == {"ca.crt": CA}
    assert "kubernetes.io/description" in cm["metadata"]["annotations"]
    cm["data"] = {"ca.crt": "tampered"}
    reg.replace(CM, "default", "kube-root-ca.crt", cm)
    settle(informers, ca_ctl)
    assert reg.get(CM, "default", "kube-root-ca.crt")["data"] == {"ca.crt": CA}
    reg.delete(CM, "default", "kube-root-ca.crt", None)
    settle(informers, ca_ctl)
    assert reg.get(CM, "default", "kube-root-ca.crt")["data"] == {"ca.crt": CA}


def test_a_terminating_namespace_gets_nothing_new(world: Any) -> None:
    reg, informers, sa_ctl, ca_ctl = world
    reg.create(NS, "", {"metadata": {"name": "going"}})
    reg.delete(NS, "", "going", None)  # its finalizer keeps it Terminating
    settle(informers, sa_ctl, ca_ctl)
    assert accounts(reg, "going") == []
    assert reg.list(CM, "going")["items"] == []


def test_the_api_server_makes_the_default_accounts_at_start(app: Any) -> None:
    reg: Registry = app.extensions["tinykube"]["registry"]
    ensure_default_accounts(reg)
    ensure_default_accounts(reg)  # again: nothing more, no error
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
        assert accounts(reg, ns) == ["default"], ns
