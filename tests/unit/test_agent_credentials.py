"""The kubelet's credential keyring over a pod's imagePullSecrets: location keys, glob and
port and path matching, the most specific first, the Docker Hub fallback, dockercfg and
dockerconfigjson secrets; and what the Docker runtime's pull is given (tried in turn)."""

from __future__ import annotations

import base64
import json
from typing import Any

import docker
import pytest

from agent import credentials as cr
from agent import runtime as rt
from agent.docker_runtime import DockerRuntime


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def config_json(auths: dict[str, Any]) -> dict[str, Any]:
    return {"type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": b64(json.dumps({"auths": auths}))}}  # fmt: skip


@pytest.mark.parametrize(
    ("location", "key"),
    [
        ("https://index.docker.io/v1/", "index.docker.io"),
        ("registry.example.com:5000", "registry.example.com:5000"),
        ("http://registry.example.com/v2/team", "registry.example.com/team"),
        ("*.example.com/path", "*.example.com/path"),
    ],
)
def test_location_keys(location: str, key: str) -> None:
    assert cr.location_key(location) == key


@pytest.mark.parametrize(
    ("glob", "image", "matched"),
    [
        ("registry.example.com", "registry.example.com/app:1", True),
        ("*.example.com", "registry.example.com/app", True),
        ("*.example.com", "example.com/app", False),  # not the same number of host parts
        ("registry.example.com:5000", "registry.example.com/app", False),
        ("registry.example.com:5000", "registry.example.com:5000/app", True),
        ("registry.example.com/team", "registry.example.com/team/app", True),
        ("registry.example.com/team", "registry.example.com/other/app", False),
    ],
)
def test_urls_match_as_the_keyring(glob: str, image: str, matched: bool) -> None:
    assert cr.urls_match(glob, image) is matched


def test_lookup_orders_the_most_specific_first_and_decodes_auth() -> None:
    ring = cr.keyring([
        config_json({"registry.example.com": {"auth": b64("wide:pw1")},
                     "registry.example.com/team": {"username": "narrow", "password": "pw2"}}),
    ])  # fmt: skip
    found = cr.lookup_credentials(ring, "registry.example.com/team/app:1")
    assert [a["username"] for a in found] == ["narrow", "wide"]
    assert found[1] == {"serveraddress": "registry.example.com", "username": "wide",
                        "password": "pw1"}  # fmt: skip
    assert cr.lookup_credentials(ring, "other.example.com/app") == []


def test_docker_hub_images_use_the_index_entry_of_a_dockercfg_secret() -> None:
    dockercfg = {"type": "kubernetes.io/dockercfg",
                 "data": {".dockercfg": b64(json.dumps(
                     {"https://index.docker.io/v1/": {"auth": b64("hub:secret")}}))}}  # fmt: skip
    ring = cr.keyring([dockercfg, {"type": "Opaque", "data": {"x": b64("y")}}])
    for image in ("nginx", "library/nginx:1", "docker.io/library/nginx", "user/app"):
        assert [a["username"] for a in cr.lookup_credentials(ring, image)] == ["hub"], image
    assert cr.lookup_credentials(ring, "localhost:5000/app") == []


def test_pull_secrets_found_and_missing() -> None:
    secret = config_json({})
    pod = {"spec": {"imagePullSecrets": [{"name": "here"}, {"name": "gone"}, {}]}}
    found, missing = cr.pull_secrets(pod, lambda kind, name: secret if name == "here" else None)
    assert found == [secret] and missing == ["gone"]


class _Api:
    """The part of docker's APIClient a pull uses: records each pull's auth_config."""

    def __init__(self, refuse: set[str]) -> None:
        self.refuse = refuse
        self.pulls: list[dict[str, str] | None] = []

    def pull(self, repo: str, **kw: Any) -> list[dict[str, Any]]:
        auth = kw.get("auth_config")
        self.pulls.append(auth)
        if auth and auth.get("username") in self.refuse:
            raise docker.errors.APIError("pull access denied", explanation="unauthorized")
        return [{"status": "Downloaded"}]

    def inspect_image(self, image: str) -> dict[str, Any]:
        if not self.pulls:
            raise docker.errors.NotFound("no such image")
        return {"Id": "sha256:1", "Size": 1}


def _runtime(api: _Api) -> DockerRuntime:
    runtime = DockerRuntime.__new__(DockerRuntime)
    runtime.api = api  # type: ignore[assignment]
    runtime.offline_fallback = False
    return runtime


def test_the_docker_pull_is_given_each_credential_in_turn() -> None:
    api = _Api(refuse={"first"})
    auth = [{"username": "first", "password": "a"}, {"username": "second", "password": "b"}]
    got = _runtime(api).ensure_image("registry.example.com/app:1", "Always", auth)
    assert got.pulled
    assert api.pulls == auth
    api = _Api(refuse=set())
    _runtime(api).ensure_image("registry.example.com/app:1", "Always")
    assert api.pulls == [None]
    api = _Api(refuse={"first", "second"})
    with pytest.raises(rt.ImagePullError):
        _runtime(api).ensure_image("registry.example.com/app:1", "Always", auth)
    assert len(api.pulls) == 2
