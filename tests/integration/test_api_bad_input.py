"""Bad input over HTTP: refused with a 4xx Status naming what is wrong, nothing stored: repeated
keys under each fieldValidation, undecodable bodies, alias bombs, bad query parameters, Event
names, over-limit bodies read before the 413."""

from __future__ import annotations

import io
import json
from typing import Any

from tests.integration.conftest import Api, pod_manifest

NS = "/api/v1/namespaces/default"
PODS = f"{NS}/pods"
DUP_POD = (
    b'{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "dupe", "name": "dup",'
    b' "labels": {"app": "x"}, "unknownMeta": 1}, "spec": {"containers": [{"name": "c",'
    b' "image": "i", "image": "j", "unknownNested": 1}], "unknownDupe": 1, "unknownDupe": 2}}'
)


DEEP_NODE = b'{"kind": "Node", "metadata": {"name": "n"}, "spec": {"configSource": %s}}' % (
    b'{"a": ' * 150 + b"1" + b"}" * 150
)


def post(api: Api, path: str, raw: bytes, ctype: str = "application/json", **query: str) -> Any:
    return api.client.open(path, method="POST", data=raw, query_string=query,
                           headers={**api.headers, "Content-Type": ctype})  # fmt: skip


def names(api: Api, path: str = PODS) -> list[str]:
    code, body = api.call("GET", path)
    assert code == 200
    return [o["metadata"]["name"] for o in body["items"]]


def test_repeated_keys_strict_warn_ignore(api: Api) -> None:
    resp = post(api, PODS, DUP_POD)
    assert resp.status_code == 400
    assert resp.get_json()["message"] == (
        'Pod in version "v1" cannot be handled as a Pod: strict decoding error: duplicate field '
        '"metadata.name", unknown field "metadata.unknownMeta", duplicate field '
        '"spec.containers[0].image", unknown field "spec.containers[0].unknownNested", '
        'unknown field "spec.unknownDupe"'
    )
    causes = resp.get_json()["details"]["causes"]
    assert causes[0] == {"reason": "FieldValueDuplicate", "field": "metadata.name",
                         "message": 'duplicate field "metadata.name"'}  # fmt: skip
    assert names(api) == []
    resp = post(api, PODS, DUP_POD, fieldValidation="Warn")
    assert resp.status_code == 201
    assert resp.get_json()["spec"]["containers"][0]["image"] == "j"
    warnings = [json.loads(h.removeprefix("299 - ")) for h in resp.headers.getlist("Warning")]
    assert warnings == [
        'duplicate field "metadata.name"', 'unknown field "metadata.unknownMeta"',
        'duplicate field "spec.containers[0].image"',
        'unknown field "spec.containers[0].unknownNested"', 'unknown field "spec.unknownDupe"',
    ]  # fmt: skip
    api.call("DELETE", f"{PODS}/dup", gracePeriodSeconds="0")
    resp = post(api, PODS, DUP_POD, fieldValidation="Ignore")
    assert (resp.status_code, resp.headers.getlist("Warning")) == (201, [])


def test_repeated_keys_of_a_yaml_body_and_of_a_patch(api: Api) -> None:
    text = b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: y\n  name: y\nspec:\n  containers:\n" + (
        b"  - {name: c, image: i}\n"
    )
    resp = post(api, PODS, text, "application/yaml")
    assert resp.status_code == 400
    assert resp.get_json()["message"].endswith(
        'strict decoding error: yaml: unmarshal errors:\n  line 5: key "name" already set in map'
    )
    assert api.call("POST", PODS, pod_manifest("p"))[0] == 201
    resp = api.client.patch(f"{PODS}/p", data=b'{"metadata": {"labels": {"a": "1", "a": "2"}}}',
                            headers={**api.headers,
                                     "Content-Type": "application/merge-patch+json"})  # fmt: skip
    assert resp.status_code == 400
    assert resp.get_json()["message"].endswith(
        'strict decoding error: duplicate field "metadata.labels.a"'
    )


def test_undecodable_bodies_are_400_and_store_nothing(api: Api) -> None:
    pod = json.dumps(pod_manifest("x")).encode()
    bodies = [
        b"\xef\xbb\xbf" + pod,
        pod + b" junk",
        pod.replace(b'"x"', b'"\\ud800"', 1),
        DEEP_NODE,
        b"[" * 100_000,
        pod.replace(b"}}", b', "activeDeadlineSeconds": NaN}}', 1),
    ]
    for raw in bodies:
        resp = post(api, PODS if b"Node" not in raw else "/api/v1/nodes", raw)
        assert resp.status_code == 400, raw[:80]
        assert resp.get_json()["kind"] == "Status"
    assert names(api) == [] and names(api, "/api/v1/nodes") == []


def test_an_alias_bomb_is_refused(api: Api) -> None:
    lines = ["apiVersion: v1", "kind: Node", "metadata: {name: laughs}", "spec:",
             "  configSource:", "    x0: &a0 lol"]  # fmt: skip
    for i in range(1, 6):
        lines.append(f"    x{i}: &a{i} {{{', '.join(f'k{k}: *a{i - 1}' for k in range(10))}}}")
    resp = post(api, "/api/v1/nodes", "\n".join(lines).encode(), "application/yaml")
    assert resp.status_code == 400
    assert resp.get_json()["message"] == (
        "error converting YAML to JSON: yaml: document contains excessive aliasing"
    )
    assert names(api, "/api/v1/nodes") == []


def test_every_query_parameter_is_parsed(api: Api) -> None:
    assert api.call("POST", PODS, pod_manifest("q"))[0] == 201
    for method, path, query, name in [
        ("GET", PODS, {"limit": "abc"}, "limit"),
        ("GET", PODS, {"watch": "1", "timeoutSeconds": "abc"}, "timeoutSeconds"),
        ("GET", PODS, {"watch": "1", "timeoutSeconds": "-5"}, "timeoutSeconds"),
        ("GET", PODS, {"watch": "maybe"}, "watch"),
        ("DELETE", f"{PODS}/q", {"gracePeriodSeconds": "abc"}, "gracePeriodSeconds"),
        ("GET", f"{PODS}/q/log", {"tailLines": "-1"}, "tailLines"),
    ]:
        code, status = api.call(method, path, **query)
        assert (code, status["reason"]) == (400, "BadRequest"), (path, query)
        assert status["message"].startswith(f"{name}: Invalid value: ")
        assert status["details"]["causes"][0]["field"] == name
    assert names(api) == ["q"]


def test_event_names_are_path_segments_without_control_characters(api: Api) -> None:
    def event(name: str) -> dict[str, Any]:
        return {"metadata": {"name": name}, "involvedObject": {"namespace": "default"},
                "reason": "R", "message": "m"}  # fmt: skip

    for name in ("My_Pod", "*"):  # kube-apiserver takes them too
        assert api.call("POST", f"{NS}/events", event(name))[0] == 201
    for name, message in (("a\nb", "may not contain control characters"),
                          ("a\x00b", "may not contain control characters"),
                          ("..", "may not be '..'"), ("a/b", "may not contain '/'")):  # fmt: skip
        code, status = api.call("POST", f"{NS}/events", event(name))
        assert code == 422
        assert status["details"]["causes"][0]["message"].endswith(message)
    assert sorted(names(api, f"{NS}/events")) == ["*", "My_Pod"]


def call_wsgi(app: Any, body: bytes, headers: dict[str, str]) -> tuple[str, bytes, io.BytesIO]:
    stream = io.BytesIO(body)
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": PODS, "SERVER_NAME": "x",
               "SERVER_PORT": "80", "wsgi.url_scheme": "http", "wsgi.input": stream,
               "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": "application/json",
               "wsgi.errors": io.StringIO(), **headers}  # fmt: skip
    started: list[str] = []
    out = b"".join(app.wsgi_app(environ, lambda status, h, *_: started.append(status)))
    return started[0], out, stream


def test_over_limit_bodies_are_read_before_the_413(app: Any) -> None:
    body = b'{"a": "' + b"x" * (5 * 1024 * 1024) + b'"}'
    status, out, stream = call_wsgi(app, body, {"HTTP_AUTHORIZATION": "Bearer admin-token"})
    assert status.startswith("413")
    assert json.loads(out)["message"] == "Request entity too large: limit is 3145728"
    assert stream.tell() == len(body)  # the client could send it all, then read the answer


def test_a_body_left_unread_is_read_out_after_the_answer(app: Any) -> None:
    body = b'{"a": "' + b"x" * (1024 * 1024) + b'"}'
    status, _, stream = call_wsgi(app, body, {})
    assert status.startswith("401")
    assert stream.tell() == len(body)


def test_a_merge_patch_whose_metadata_is_not_an_object_is_refused_and_changes_nothing(
    api: Api,
) -> None:
    assert api.call("POST", PODS, pod_manifest("m"))[0] == 201
    before = api.call("GET", f"{PODS}/m")[1]
    for metadata in ([None], "x", 3):
        code, body = api.call("PATCH", f"{PODS}/m", {"metadata": metadata},
                              content_type="application/merge-patch+json")  # fmt: skip
        assert 400 <= code < 500, (metadata, code, body)
        assert body["kind"] == "Status" and "metadata" in body["message"], body
    assert api.call("GET", f"{PODS}/m")[1] == before
