"""The agent's service-account tokens and Service variables: the TokenRequest it sends for a
pod, the refresh at 80 % of the lifetime (and a still-valid token kept when a refresh fails),
the projected file, and the kubelet's Service variables."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from agent import serviceenv, volumeplan
from agent.tokenrequests import Token, TokenManager, needs_refresh, token_request
from common import errors

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
POD = {"metadata": {"name": "web", "namespace": "team", "uid": "u1"},
       "spec": {"serviceAccountName": "robot"}}  # fmt: skip


def test_refresh_past_80_percent_of_the_lifetime() -> None:
    token = Token("t", T0, T0 + dt.timedelta(seconds=3600))
    assert not needs_refresh(token, T0 + dt.timedelta(seconds=2879))
    assert needs_refresh(token, T0 + dt.timedelta(seconds=2880))
    year = Token("t", T0, T0 + dt.timedelta(days=365))
    assert needs_refresh(year, T0 + dt.timedelta(hours=24, seconds=1))


def test_the_token_request_binds_the_pod() -> None:
    body = token_request(POD, {"path": "token", "expirationSeconds": 3607, "audience": "vault"})
    assert body["spec"] == {
        "expirationSeconds": 3607,
        "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": "web", "uid": "u1"},
        "audiences": ["vault"],
    }
    assert token_request(POD, {})["spec"]["expirationSeconds"] == 3600


class _Client:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail = False

    def request_json(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((path, body))
        if self.fail:
            raise errors.ForbiddenError("no")
        n = len(self.calls)
        expires = (T0 + dt.timedelta(seconds=3600)).isoformat().replace("+00:00", "Z")
        return {"status": {"token": f"token-{n}", "expirationTimestamp": expires}}


def test_tokens_are_cached_refreshed_and_kept_while_valid() -> None:
    client = _Client()
    now = [T0]
    manager = TokenManager(client, lambda: now[0])  # type: ignore[arg-type]
    fetch = manager.fetcher(POD)
    assert fetch({"path": "token"}) == b"token-1"
    assert client.calls[0][0] == "/api/v1/namespaces/team/serviceaccounts/robot/token"
    now[0] = T0 + dt.timedelta(seconds=2000)
    assert fetch({"path": "token"}) == b"token-1"
    now[0] = T0 + dt.timedelta(seconds=2900)
    client.fail = True
    assert fetch({"path": "token"}) == b"token-1"  # refresh failed; still valid
    client.fail = False
    assert fetch({"path": "token"}) == b"token-3"
    manager.forget("u1")
    client.fail = True
    with pytest.raises(volumeplan.TokenFetchError):
        fetch({"path": "token"})


def test_the_projected_volume_holds_the_token() -> None:
    volume = {"name": "kube-api-access-x", "projected": {"defaultMode": 0o644, "sources": [
        {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
        {"downwardAPI": {"items": [{"path": "namespace",
                                    "fieldRef": {"fieldPath": "metadata.namespace"}}]}},
    ]}}  # fmt: skip
    files = volumeplan.payload(POD, volume, lambda k, n: None, {}, lambda source: b"jwt")
    assert files is not None
    assert files["token"].data == b"jwt" and files["token"].mode == 0o644
    assert files["namespace"].data == b"team"

    def refused(source: Any) -> bytes:
        raise volumeplan.TokenFetchError("forbidden")

    with pytest.raises(volumeplan.VolumeError, match="failed to fetch token: forbidden"):
        volumeplan.payload(POD, volume, lambda k, n: None, {}, refused)


def _svc(ns: str, name: str, ip: str, *ports: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"namespace": ns, "name": name},
            "spec": {"clusterIP": ip, "ports": list(ports)}}  # fmt: skip


def test_service_variables_as_the_kubelet_writes_them() -> None:
    services = [
        _svc("default", "kubernetes", "10.43.0.1", {"name": "https", "port": 443}),
        _svc("team", "my-db", "10.43.0.20", {"port": 5432}, {"name": "m", "port": 9187,
                                                            "protocol": "UDP"}),
        _svc("team", "headless", "None", {"port": 80}),
        _svc("other", "web", "10.43.0.30", {"port": 80}),
    ]  # fmt: skip
    env = serviceenv.service_env(serviceenv.visible(services, "team", True))
    assert env["KUBERNETES_SERVICE_HOST"] == "10.43.0.1"
    assert env["KUBERNETES_SERVICE_PORT"] == "443"
    assert env["KUBERNETES_SERVICE_PORT_HTTPS"] == "443"
    assert env["KUBERNETES_PORT"] == "tcp://10.43.0.1:443"
    assert env["KUBERNETES_PORT_443_TCP_ADDR"] == "10.43.0.1"
    assert env["MY_DB_SERVICE_HOST"] == "10.43.0.20"
    assert env["MY_DB_PORT_9187_UDP_PROTO"] == "udp"
    assert not any(k.startswith(("HEADLESS", "WEB_")) for k in env)
    quiet = serviceenv.service_env(serviceenv.visible(services, "team", False))
    assert sorted({k.split("_")[0] for k in quiet}) == ["KUBERNETES"]
