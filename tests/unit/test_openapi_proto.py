"""The protobuf encoding of the Swagger document, read back field by field with gnostic's
OpenAPIv2.proto numbers."""

from __future__ import annotations

from typing import Any

from control.apiserver import openapiproto
from control.apiserver.openapi import swagger
from control.apiserver.protobody import fields


def _message(data: bytes) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = {}
    for number, _, value in fields(data):
        out.setdefault(number, []).append(value)
    return out


def _named(data: bytes) -> dict[str, bytes]:
    """A repeated Named* message (name = 1, value = 2) as a dict."""
    out = {}
    for entry in _message(data)[1]:
        m = _message(entry)
        out[m[1][0].decode()] = m[2][0]
    return out


def test_document_definitions_and_extensions() -> None:
    doc = _message(openapiproto.document(swagger()))
    assert doc[1] == [b"2.0"]
    definitions = _named(doc[9][0])
    pod = _message(definitions["io.k8s.api.core.v1.Pod"])
    assert _message(pod[22][0])[1] == [b"object"]  # type
    gvk = _message(pod[31][0])  # vendor_extension: NamedAny
    assert gvk[1] == [b"x-kubernetes-group-version-kind"]
    assert _message(gvk[2][0])[2] == [b'[{"group":"","kind":"Pod","version":"v1"}]']
    props = _named(pod[25][0])
    spec = _message(props["spec"])
    assert spec[1] == [b"#/definitions/io.k8s.api.core.v1.PodSpec"]
    container = _message(definitions["io.k8s.api.core.v1.Container"])
    assert container[19] == [b"name"]  # required
    ports = _message(_named(container[25][0])["ports"])
    items = _message(_message(ports[23][0])[1][0])
    assert items[1] == [b"#/definitions/io.k8s.api.core.v1.ContainerPort"]


def test_paths_carry_operations_and_their_parameters() -> None:
    doc = _message(openapiproto.document(swagger()))
    paths = {}
    for entry in _message(doc[8][0])[2]:
        m = _message(entry)
        paths[m[1][0].decode()] = _message(m[2][0])
    item = paths["/api/v1/namespaces/{namespace}/pods/{name}"]
    patch = _message(item[8][0])
    assert patch[5] == [b"patchCoreV1NamespacedPod"]
    names = []
    for p in patch[8]:
        parameter = _message(_message(p)[1][0])
        if 2 in parameter:  # a NonBodyParameter: the query one (3)
            query = _message(_message(parameter[2][0])[3][0])
            names.append(query[4][0].decode())
    assert "fieldValidation" in names and "dryRun" in names
