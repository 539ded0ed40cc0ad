"""Continue tokens as kube-apiserver makes and checks them (storage.EncodeContinue and
DecodeContinue), and the choice of a page's items."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from common import errors
from common.selectors import parse_label_selector
from control.cache import pages
from control.cache.dispatch import Filter


def raw(body: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")


def test_a_token_is_kubernetes_base64url_json() -> None:
    token = pages.encode(42, "web\x00")
    assert "=" not in token
    padded = token + "=" * (-len(token) % 4)
    assert json.loads(base64.urlsafe_b64decode(padded)) == {
        "v": "meta.k8s.io/v1",
        "rv": 42,
        "start": "web\x00",
    }
    assert pages.decode(token) == pages.Continue(42, "web\x00")
    assert pages.decode(pages.encode(-1, "ns/web\x00")) == pages.Continue(-1, "ns/web\x00")


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("%%%", "invalid continue token: continue key is not valid: "),
        (pages.encode(1, "a") + "=", "invalid continue token: continue key is not valid: "),
        (raw({"v": "meta.k8s.io/v2", "rv": 1, "start": "a"}),
         "invalid continue token: continue key is not valid: server does not recognize this "
         "encoded version meta.k8s.io/v2"),
        (raw({"v": "meta.k8s.io/v1", "rv": 0, "start": "a"}),
         "invalid continue token: continue key is not valid: incorrect encoded start "
         "resourceVersion (version meta.k8s.io/v1)"),
        (raw({"v": "meta.k8s.io/v1", "rv": 3, "start": ""}),
         "invalid continue token: continue key is not valid: encoded start key empty "
         "(version meta.k8s.io/v1)"),
        (raw({"v": "meta.k8s.io/v1", "rv": 3, "start": "../other/x"}),
         "invalid continue token: continue key is not valid: ../other/x"),
        (raw({"v": "meta.k8s.io/v1", "rv": "3", "start": "a"}),
         "invalid continue token: continue key is not valid: "),
        (raw({"v": "meta.k8s.io/v1", "rv": True, "start": "a"}),
         "invalid continue token: continue key is not valid: "),
        (raw(["a"]), "invalid continue token: continue key is not valid: "),
    ],
)  # fmt: skip
def test_a_bad_token_is_400(token: str, message: str) -> None:
    with pytest.raises(errors.BadRequestError) as got:
        pages.decode(token)
    assert got.value.message.startswith(message)


def held(name: str, **labels: str) -> pages.Held:
    return {"metadata": {"name": name}}, labels, {}


def test_a_page_stops_at_its_limit_and_counts_the_rest_only_without_selectors() -> None:
    objs = {f"ns/{n}": held(n, app="web" if n in "ace" else "db") for n in "abcde"}
    keys = sorted(objs)
    page = pages.select(keys, objs.get, Filter(), limit=2)
    assert [o["metadata"]["name"] for o in page.items] == ["a", "b"]
    assert (page.last, page.remaining) == ("ns/b", 3)
    rest = pages.select(keys, objs.get, Filter(), start="ns/b\x00", limit=2)
    assert [o["metadata"]["name"] for o in rest.items] == ["c", "d"] and rest.remaining == 1
    web = Filter(labels=parse_label_selector("app=web"))
    first = pages.select(keys, objs.get, web, limit=2)
    assert [o["metadata"]["name"] for o in first.items] == ["a", "c"]
    assert (first.last, first.remaining) == ("ns/c", None)
    last = pages.select(keys, objs.get, web, start="ns/c\x00", limit=2)
    assert [o["metadata"]["name"] for o in last.items] == ["e"] and last.last is None
