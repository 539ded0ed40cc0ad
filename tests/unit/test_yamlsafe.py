"""Bounded YAML loading: go-yaml's alias rule, depth and node bounds, JSON-shaped values."""

from __future__ import annotations

import pytest
import yaml

from common import yamlsafe
from common.yamlsafe import EXCESSIVE_ALIASING, LimitError, load, load_documents


def laughs(levels: int, fanout: int = 10) -> str:
    lines = ["a0: &a0 lol"]
    for i in range(1, levels):
        refs = ", ".join(f"*a{i - 1}" for _ in range(fanout))
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_as_go_yaml_refuses_it() -> None:
    with pytest.raises(LimitError) as e:
        load(laughs(9))
    assert str(e.value) == EXCESSIVE_ALIASING


def test_moderate_aliasing_is_kept_and_shared() -> None:
    doc = load("base: &b {a: 1}\nx: *b\ny: *b\n").value
    assert doc == {"base": {"a": 1}, "x": {"a": 1}, "y": {"a": 1}}
    # 4 levels of 10: 1,239 decodes, 1,230 of them through aliases: 99.3% > 99%.
    with pytest.raises(LimitError):
        load(laughs(4))
    assert load(laughs(3)).value["a2"][0] == ["lol"] * 10


def test_allowed_alias_ratio_falls_from_99_to_10_percent() -> None:
    assert yamlsafe.allowed_alias_ratio(1000) == 0.99
    assert yamlsafe.allowed_alias_ratio(4_000_000) == 0.10
    assert 0.10 < yamlsafe.allowed_alias_ratio(2_000_000) < 0.99


def test_depth_is_bounded_also_through_aliases() -> None:
    deep = "a: " + "[" * 101 + "]" * 101
    with pytest.raises(LimitError, match="exceeded max depth of 100"):
        load(deep)
    assert load("a: " + "[" * 99 + "]" * 99).value is not None
    nested = "x: &x " + "[" * 60 + "]" * 60 + "\ny: " + "[" * 50 + "*x" + "]" * 50
    with pytest.raises(LimitError, match="depth"):
        load(nested)


def test_node_count_is_bounded() -> None:
    text = "".join(f"k{i}: v\n" for i in range(600))
    with pytest.raises(LimitError, match="more than 1000 nodes"):
        load(text, max_nodes=1000)
    assert len(load(text).value) == 600


def test_values_come_out_as_json_has_them() -> None:
    doc = load("d: 2020-01-01\n1: one\ntrue: yes\nnull: x\n1.5: f\nb: !!binary aGk=\nq: '1'\n")
    assert doc.value == {"d": "2020-01-01", "1": "one", "true": True, "null": "x", "1.5": "f",
                         "b": "hi", "q": "1"}  # fmt: skip
    for bad in ("a: .nan", "a: -.inf", "? [a]\n: 1", "a: !foo x", "s: !!set {a}"):
        with pytest.raises(yaml.YAMLError):
            load(bad)


def test_merge_keys_fill_in_what_the_mapping_does_not_set() -> None:
    doc = load("base: &b {a: 1, b: 2}\nm:\n  <<: *b\n  b: 3\n").value
    assert doc["m"] == {"a": 1, "b": 3}


def test_duplicate_keys_are_reported_with_their_lines() -> None:
    doc = load("a: 1\nm:\n  x: 1\n  x: 2\na: 3\n")
    assert doc.value == {"a": 3, "m": {"x": 2}}
    assert [str(d) for d in doc.duplicates] == [
        'line 4: key "x" already set in map',
        'line 5: key "a" already set in map',
    ]


def test_streams_and_parse_errors() -> None:
    docs = load_documents("a: 1\n---\n---\nb: 2\n")
    assert [d.value for d in docs] == [{"a": 1}, None, {"b": 2}]
    with pytest.raises(yaml.YAMLError, match="single document"):
        load("a: 1\n---\nb: 2\n")
    with pytest.raises(yaml.YAMLError, match="undefined alias"):
        load("a: *nope\n")
    with pytest.raises(yaml.YAMLError):
        load("a: [1, 2\n")
    assert load("").value is None


def test_tkctl_refuses_an_alias_bomb_as_kubectl_does() -> None:
    from common.manifest import parse_documents

    docs, err = parse_documents("apiVersion: v1\nkind: Pod\n---\n" + laughs(9), "bomb.yaml")
    assert docs == [{"apiVersion": "v1", "kind": "Pod"}]
    assert err is not None
    assert str(err) == (
        "error parsing bomb.yaml: error converting YAML to JSON: yaml: document contains "
        "excessive aliasing"
    )
