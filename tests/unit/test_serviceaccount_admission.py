"""The ServiceAccount admission plugin's plan: the token volume and its mounts, automount as the
pod or its account says, the account's pull secrets, and the lookups of a missing account."""

from __future__ import annotations

from typing import Any

import pytest

from common import errors
from control.registry import serviceaccounts as sa

MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"


def pod(**spec: Any) -> dict[str, Any]:
    containers = {"containers": [{"name": "c"}], "initContainers": [{"name": "i"}]}
    return {"metadata": {"name": "p"}, "spec": {**containers, **spec}}


def test_every_container_mounts_the_volume_unless_it_mounts_that_path_itself() -> None:
    p = pod()
    p["spec"]["initContainers"][0]["volumeMounts"] = [{"name": "own", "mountPath": MOUNT}]
    sa.plan_pod(p, {}, "kube-api-access-abcde")
    assert p["spec"]["volumes"] == [sa.token_volume("kube-api-access-abcde")]
    assert p["spec"]["containers"][0]["volumeMounts"] == [
        {"name": "kube-api-access-abcde", "readOnly": True, "mountPath": MOUNT}
    ]
    assert p["spec"]["initContainers"][0]["volumeMounts"] == [{"name": "own", "mountPath": MOUNT}]


@pytest.mark.parametrize(
    ("pod_says", "account_says", "mounted"),
    [(None, None, True), (None, False, False), (True, False, True), (False, True, False)],
)
def test_automount_the_pod_wins_over_its_account(
    pod_says: bool | None, account_says: bool | None, mounted: bool
) -> None:
    p = pod() if pod_says is None else pod(automountServiceAccountToken=pod_says)
    account = {} if account_says is None else {"automountServiceAccountToken": account_says}
    sa.plan_pod(p, account, "kube-api-access-abcde")
    assert ("volumes" in p["spec"]) is mounted


def test_pull_secrets_come_from_the_account_only_when_the_pod_names_none() -> None:
    account = {"imagePullSecrets": [{"name": "reg"}], "automountServiceAccountToken": False}
    p = pod()
    sa.plan_pod(p, account, "x")
    assert p["spec"]["imagePullSecrets"] == [{"name": "reg"}]
    p = pod(imagePullSecrets=[{"name": "mine"}])
    sa.plan_pod(p, account, "x")
    assert p["spec"]["imagePullSecrets"] == [{"name": "mine"}]


def test_the_default_account_is_looked_for_again_and_another_once() -> None:
    calls: list[str] = []
    sleeps: list[float] = []

    def lookup(name: str) -> dict[str, Any] | None:
        calls.append(name)
        return {} if len(calls) == 3 else None

    p = pod()
    sa.admit(p, "ns", lookup, sleeps.append)
    assert calls == ["default"] * 3 and len(sleeps) == 2
    assert all(0.1 <= s < 0.2 for s in sleeps)
    calls.clear()
    with pytest.raises(errors.ForbiddenError) as refused:
        sa.admit(pod(serviceAccountName="ghost"), "ns", lambda n: calls.append(n), sleeps.append)  # type: ignore[func-returns-value]
    assert calls == ["ghost"]
    assert str(refused.value).endswith('serviceaccount "ghost" not found')


def test_volume_names_use_go_s_generator_alphabet() -> None:
    name = sa.volume_name()
    assert name.startswith("kube-api-access-") and len(name) == 21
    assert set(name[-5:]) <= set(sa.NAME_ALPHABET)
