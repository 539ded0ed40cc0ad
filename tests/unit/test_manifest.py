"""Reading manifests the way kubectl does: multi-document YAML/JSON, directories, and kubectl's
client-side errors; the last-applied annotation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from common.manifest import (
    LAST_APPLIED,
    ManifestError,
    check_document,
    documents_to_manifests,
    expand_paths,
    last_applied,
    parse_documents,
    read_manifests,
    resource_type,
    with_last_applied,
)

POD = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: c\n    image: nginx\n"  # noqa: E501


def no_stdin() -> str:
    raise AssertionError("stdin was read")


def test_multi_document_yaml_skips_empty_documents() -> None:
    text = "---\n" + POD + "---\n---\n# only a comment\n---\n" + POD.replace("web", "db")
    docs, err = parse_documents(text, "f.yaml")
    assert err is None
    assert [d["metadata"]["name"] for d in docs] == ["web", "db"]


def test_json_stream_and_list_kind() -> None:
    one = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}}
    two = {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "b"}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns1"}},
    ]}  # fmt: skip
    docs, err = parse_documents(json.dumps(one, indent=2) + "\n" + json.dumps(two), "f.json")
    assert err is None
    manifests, errors = documents_to_manifests(docs, "f.json")
    assert errors == []
    assert [(m.obj["kind"], m.name) for m in manifests] == [
        ("Pod", "a"), ("Pod", "b"), ("Namespace", "ns1"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "want"),
    [
        # scanner errors: go-yaml's line is the problem line (1-based) ...
        ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: a: b\n",
         "yaml: line 4: mapping values are not allowed in this context"),
        ("apiVersion: v1\nkind:\tPod\nmetadata:\n\tname: x\n",
         "yaml: line 4: found character that cannot start any token"),
        # ... parser errors report the 0-based line of the enclosing mapping, as go-yaml does
        # (the mapping under metadata starts on line 4; compare mikefarah/yq#2199)
        ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n  labels:\n    a: b\n   c: d\n",
         "yaml: line 3: did not find expected key"),
        # and on the first line there is no line number at all
        ("a: b: c\n", "yaml: mapping values are not allowed in this context"),
    ],
)  # fmt: skip
def test_yaml_errors_have_go_yaml_wording_and_line(text: str, want: str) -> None:
    docs, err = parse_documents(text, "bad.yaml")
    assert docs == []
    assert err is not None
    assert str(err) == f"error parsing bad.yaml: error converting YAML to JSON: {want}"


def test_documents_before_a_syntax_error_are_kept() -> None:
    docs, err = parse_documents(POD + "---\nkind: [\n---\n" + POD, "f.yaml")
    assert [d["metadata"]["name"] for d in docs] == ["web"]
    assert err is not None and "line" in str(err)


def test_bad_json_reports_line_and_column() -> None:
    docs, err = parse_documents('{"apiVersion": "v1",\n  "kind": }', "f.json")
    assert docs == []
    assert str(err) == ("error parsing f.json: json: line 2 column 11: Expecting value")


def test_app_version_typo_is_apiversion_not_set_with_a_hint() -> None:
    doc = {"appVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}}
    with pytest.raises(ManifestError) as e:
        check_document(doc, "f.yaml")
    assert str(e.value) == (
        'error validating "f.yaml": error validating data: apiVersion not set; if you choose to '
        "ignore these errors, turn validation off with --validate=false"
    )
    assert e.value.hint == 'unknown field "appVersion" (did you mean "apiVersion"?)'


def test_both_missing_and_validate_false() -> None:
    with pytest.raises(ManifestError, match=r"data: \[apiVersion not set, kind not set\]; if"):
        check_document({"metadata": {}}, "f.yaml")
    with pytest.raises(ManifestError, match="Object 'Kind' is missing"):
        check_document({"apiVersion": "v1"}, "f.yaml", validate=False)
    with pytest.raises(ManifestError, match="cannot unmarshal string"):
        check_document("hello", "f.yaml")


def test_unknown_kind_is_a_resource_mapping_error() -> None:
    obj = {"apiVersion": "apps/v1", "kind": "Deploymnet", "metadata": {"name": "x"}}
    with pytest.raises(ManifestError) as e:
        resource_type(obj, "f.yaml")
    assert str(e.value) == (
        'resource mapping not found for name: "x" namespace: "" from "f.yaml": no matches for '
        'kind "Deploymnet" in version "apps/v1"\nensure CRDs are installed first'
    )
    assert resource_type({"apiVersion": "v1", "kind": "Pod"}, "f").plural == "pods"


def test_read_directory_sorted_and_errors_collected(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text(POD.replace("web", "b"))
    (tmp_path / "a.yml").write_text(POD.replace("web", "a") + "---\nkind: Pod\n")
    (tmp_path / "c.json").write_text(json.dumps({"apiVersion": "v1", "kind": "Pod",
                                                 "metadata": {"name": "c"}}))  # fmt: skip
    (tmp_path / "notes.txt").write_text("not a manifest: [")
    manifests, errors = read_manifests([str(tmp_path)], no_stdin)
    assert [m.name for m in manifests] == ["a", "b", "c"]
    assert manifests[0].source == str(tmp_path / "a.yml")
    assert len(errors) == 1 and "apiVersion not set" in str(errors[0])


def test_read_stdin_and_missing_path() -> None:
    manifests, errors = read_manifests(["-"], lambda: POD)
    assert errors == [] and manifests[0].source == "STDIN"
    with pytest.raises(ManifestError, match=r'the path "nope\.yaml" does not exist'):
        expand_paths(["nope.yaml"])


# -- client-side apply ---------------------------------------------------------------------------


def test_last_applied_is_compact_sorted_json_without_itself() -> None:
    obj = {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "web"}}
    assert last_applied(obj) == (
        '{"apiVersion":"v1","kind":"Pod","metadata":{"annotations":{},"name":"web"}}\n'
    )
    annotated = with_last_applied(obj)
    assert annotated["metadata"]["annotations"][LAST_APPLIED] == last_applied(obj)
    assert last_applied(annotated) == last_applied(obj)
    assert "annotations" not in obj["metadata"]  # the input is not modified
