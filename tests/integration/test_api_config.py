"""ConfigMaps and Secrets over the real app and Redis: Kubernetes' validation and messages,
``stringData`` folded into ``data``, ``immutable``, the Secret types' required keys."""

from __future__ import annotations

import base64
from typing import Any

from tests.integration.conftest import Api

CM = "/api/v1/namespaces/default/configmaps"
SECRETS = "/api/v1/namespaces/default/secrets"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def cm(name: str = "c", **fields: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, **fields}


def secret(name: str = "s", **fields: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, **fields}


def test_config_map_round_trip_and_short_name_in_discovery(api: Api) -> None:
    code, body = api.call("POST", CM, cm(data={"a": "1"}, binaryData={"b": b64("xy")}))
    assert code == 201, body
    code, got = api.call("GET", f"{CM}/c")
    assert code == 200 and got["data"] == {"a": "1"} and got["binaryData"] == {"b": b64("xy")}
    assert "generation" not in got["metadata"]
    _, disc = api.call("GET", "/api/v1")
    kinds = {r["name"]: r for r in disc["resources"]}
    assert kinds["configmaps"]["shortNames"] == ["cm"] and kinds["secrets"]["namespaced"]


def test_config_map_key_names_and_duplicates_are_refused(api: Api) -> None:
    code, body = api.call("POST", CM, cm(data={"a/b": "1", "..x": "2", "k": "3"},
                                          binaryData={"k": b64("z")}))  # fmt: skip
    assert code == 422
    msg = body["message"]
    assert msg.startswith('ConfigMap "c" is invalid: [')
    assert (
        'data[a/b]: Invalid value: "a/b": a valid config key must consist of alphanumeric '
        "characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex "
        "used for validation is '[-._a-zA-Z0-9]+')" in msg
    )
    assert "data[..x]: Invalid value: \"..x\": must not start with '..'" in msg
    assert 'data[k]: Invalid value: "k": duplicate of key present in binaryData' in msg
    assert {c["field"] for c in body["details"]["causes"]} == {"data[a/b]", "data[..x]", "data[k]"}
    assert api.call("GET", f"{CM}/c")[0] == 404


def test_one_mebibyte_is_the_limit(api: Api) -> None:
    limit = 1024 * 1024
    assert api.call("POST", CM, cm("ok", data={"a": "x" * limit}))[0] == 201
    code, body = api.call("POST", CM, cm("big", data={"a": "x" * limit, "b": "y"}))
    assert code == 422
    assert body["message"] == (
        'ConfigMap "big" is invalid: []: Too long: must have at most 1048576 bytes'
    )
    data = base64.b64encode(b"\0" * (limit + 1)).decode()
    code, body = api.call("POST", SECRETS, secret("big", data={"a": data}))
    assert code == 422
    assert body["message"] == (
        'Secret "big" is invalid: data: Too long: must have at most 1048576 bytes'
    )


def test_immutable_config_map_refuses_changes(api: Api) -> None:
    api.call("POST", CM, cm(data={"a": "1"}, immutable=True))
    _, got = api.call("GET", f"{CM}/c")
    got["data"] = {"a": "2"}
    code, body = api.call("PUT", f"{CM}/c", got)
    assert code == 422
    assert body["message"] == (
        'ConfigMap "c" is invalid: data: Forbidden: field is immutable when `immutable` is set'
    )
    code, body = api.call("PATCH", f"{CM}/c", {"immutable": False},
                          content_type="application/merge-patch+json")  # fmt: skip
    assert code == 422 and "immutable: Forbidden: field is immutable when" in body["message"]
    # Metadata may still change, and the object may be deleted.
    code, _ = api.call("PATCH", f"{CM}/c", {"metadata": {"labels": {"x": "y"}}},
                       content_type="application/merge-patch+json")  # fmt: skip
    assert code == 200
    assert api.call("DELETE", f"{CM}/c")[0] == 200


def test_string_data_is_folded_into_data(api: Api) -> None:
    body = secret(data={"a": b64("old"), "b": b64("keep")}, stringData={"a": "new", "c": "é"})
    code, created = api.call("POST", SECRETS, body)
    assert code == 201, created
    assert "stringData" not in created and created["type"] == "Opaque"
    assert created["data"] == {"a": b64("new"), "b": b64("keep"), "c": b64("é")}
    created["stringData"] = {"b": "changed"}
    code, updated = api.call("PUT", f"{SECRETS}/s", created)
    assert code == 200 and updated["data"]["b"] == b64("changed")
    assert "stringData" not in api.call("GET", f"{SECRETS}/s")[1]


def test_bad_base64_is_a_decoding_error(api: Api) -> None:
    code, body = api.call("POST", SECRETS, secret(data={"a": "no*t"}))
    assert code == 400
    assert body["message"] == (
        'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 2'
    )
    code, body = api.call("POST", CM, cm(data={"a": 1}))
    assert code == 400 and "cannot unmarshal number" in body["message"]


def test_secret_types_need_their_keys(api: Api) -> None:
    cases = {
        "kubernetes.io/tls": "[data[tls.crt]: Required value, data[tls.key]: Required value]",
        "kubernetes.io/dockerconfigjson": "data[.dockerconfigjson]: Required value",
        "kubernetes.io/dockercfg": "data[.dockercfg]: Required value",
        "kubernetes.io/basic-auth": (
            "[data[username]: Required value, data[password]: Required value]"
        ),
        "kubernetes.io/ssh-auth": "data[ssh-privatekey]: Required value",
        "kubernetes.io/service-account-token": (
            "metadata.annotations[kubernetes.io/service-account.name]: Required value"
        ),
    }
    for kind, wanted in cases.items():
        code, body = api.call("POST", SECRETS, secret(type=kind))
        assert code == 422, kind
        assert body["message"] == f'Secret "s" is invalid: {wanted}', kind
    bad = secret(type="kubernetes.io/dockerconfigjson", stringData={".dockerconfigjson": "{x"})
    code, body = api.call("POST", SECRETS, bad)
    assert code == 422
    redacted = 'data[.dockerconfigjson]: Invalid value: "<secret contents redacted>"'
    assert redacted in body["message"]
    good = {
        "kubernetes.io/tls": {"tls.crt": "c", "tls.key": "k"},
        "kubernetes.io/dockerconfigjson": {".dockerconfigjson": '{"auths": {}}'},
        "kubernetes.io/basic-auth": {"username": "u"},
        "bootstrap.kubernetes.io/token": {"token-id": "abcdef"},
        "example.com/custom": {},
    }
    for i, (kind, data) in enumerate(good.items()):
        code, body = api.call("POST", SECRETS, secret(f"s{i}", type=kind, stringData=data))
        assert code == 201, (kind, body)


def test_secret_type_and_immutable_data_cannot_change(api: Api) -> None:
    api.call("POST", SECRETS, secret(stringData={"a": "1"}, immutable=True))
    _, got = api.call("GET", f"{SECRETS}/s")
    got["type"] = "example.com/other"
    got["data"] = {"a": b64("2")}
    code, body = api.call("PUT", f"{SECRETS}/s", got)
    assert code == 422
    assert body["message"] == (
        'Secret "s" is invalid: [type: Invalid value: "example.com/other": field is immutable, '
        "data: Forbidden: field is immutable when `immutable` is set]"
    )


def test_tables_have_kubectl_columns(api: Api) -> None:
    api.call("POST", CM, cm(data={"a": "1"}, binaryData={"b": b64("x")}))
    api.call("POST", SECRETS, secret(stringData={"a": "1"}))
    table = "application/json;as=Table;v=v1;g=meta.k8s.io"
    resp = api.client.get(CM, headers={**api.headers, "Accept": table})
    body = resp.get_json()
    assert [c["name"] for c in body["columnDefinitions"]] == ["Name", "Data", "Age"]
    assert body["rows"][0]["cells"][:2] == ["c", 2]
    resp = api.client.get(SECRETS, headers={**api.headers, "Accept": table})
    body = resp.get_json()
    assert [c["name"] for c in body["columnDefinitions"]] == ["Name", "Type", "Data", "Age"]
    assert body["rows"][0]["cells"][:3] == ["s", "Opaque", 1]
