"""A long list answered from the watch cache is written in pieces (``output.LIST_PIECE``
objects each, joined as they are written, with a pause between them for the worker's other
requests): the same JSON, with its Content-Length, as a list written whole, under every option
a list takes; Tables and YAML are written whole."""

from __future__ import annotations

import json
from typing import Any

import pytest

from common import fastjson
from control.apiserver import output
from tests.integration.conftest import Api

CMS = "/api/v1/namespaces/default/configmaps"
COUNT = 7


@pytest.fixture
def many(api: Api, monkeypatch: pytest.MonkeyPatch) -> Api:
    for i in range(COUNT):
        meta = {"name": f"cm-{i}", "labels": {"odd": str(i % 2)}}
        cm = {"metadata": meta, "data": {"k": "v" * i}}
        assert api.call("POST", CMS, cm)[0] == 201
    monkeypatch.setattr(output, "LIST_PIECE", 2)
    return api


def get(api: Api, path: str, accept: str = "application/json", **query: Any) -> Any:
    return api.client.get(path, headers={**api.headers, "Accept": accept}, query_string=query)


def chunks(resp: Any) -> list[bytes]:
    """The pieces the response was written in (the client's body is the same, whole)."""
    return [c for c in resp.response if c]


def test_a_long_list_is_written_in_pieces_as_the_same_json(many: Api) -> None:
    resp = get(many, CMS, resourceVersion="0")
    assert resp.status_code == 200
    written = chunks(resp)
    # head, the items two at a time (4 pieces), the end, a newline
    assert len(written) == 7 and written[-2:] == [b"]}", b"\n"]
    body = b"".join(written)
    assert int(resp.headers["Content-Length"]) == len(body)
    assert body.endswith(b"]}\n")
    listing = json.loads(body)
    assert listing["kind"] == "ConfigMapList" and listing["apiVersion"] == "v1"
    assert [o["metadata"]["name"] for o in listing["items"]] == [f"cm-{i}" for i in range(COUNT)]
    assert [o["data"]["k"] for o in listing["items"]] == ["v" * i for i in range(COUNT)]
    # Byte for byte what the list written whole is.
    whole = {**listing, "items": fastjson.Texts([fastjson.dumpb(o) for o in listing["items"]])}
    assert body == fastjson.dumps(whole).encode() + b"\n"


def test_a_consistent_list_a_selected_one_and_pages_are_pieces_too(many: Api) -> None:
    written = chunks(get(many, CMS))
    assert len(written) == 7 and len(json.loads(b"".join(written))["items"]) == COUNT
    odd = json.loads(b"".join(chunks(get(many, CMS, labelSelector="odd=1"))))
    assert [o["metadata"]["name"] for o in odd["items"]] == ["cm-1", "cm-3", "cm-5"]
    first = chunks(get(many, CMS, limit="5"))
    page = json.loads(b"".join(first))
    assert len(first) == 6
    assert len(page["items"]) == 5 and page["metadata"]["continue"]
    rest = json.loads(get(many, CMS, limit="5", **{"continue": page["metadata"]["continue"]})
                      .get_data())  # fmt: skip
    assert [o["metadata"]["name"] for o in rest["items"]] == ["cm-5", "cm-6"]
    assert "continue" not in rest["metadata"]


def test_short_lists_tables_and_yaml_are_written_whole(many: Api) -> None:
    short = chunks(get(many, CMS, limit="2"))
    assert len(short) == 1 and len(json.loads(short[0])["items"]) == 2
    table = chunks(get(many, CMS, accept="application/json;as=Table;v=v1;g=meta.k8s.io"))
    assert len(table) == 1 and len(json.loads(table[0])["rows"]) == COUNT
    yaml_list = chunks(get(many, CMS, accept="application/yaml"))
    assert len(yaml_list) == 1 and yaml_list[0].count(b"name: cm-") == COUNT
