"""Manifests the walkthrough mistypes fail before anything is sent, with kubectl's wording and a
hint naming the typo: the seed notes' broken Deployment step by step, duplicate keys, tabs."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.manifest import ManifestError, read_manifests
from common.yamlcheck import syntax_hint, unknown_top_level

ROOT = Path(__file__).resolve().parents[2]
BROKEN = ROOT / "examples" / "broken" / "deployment.yaml"
FIXED = ROOT / "examples" / "deployment.yaml"


def problems(path: Path) -> list[ManifestError]:
    manifests, errs = read_manifests([str(path)], lambda: "")
    assert not manifests
    return errs


def test_the_notes_deployment_fails_on_the_list_item_typo_first() -> None:
    [err] = problems(BROKEN)
    assert err.message.startswith(f"error parsing {BROKEN}: error converting YAML to JSON: yaml: ")
    assert err.message.endswith(": mapping values are not allowed in this context")
    assert '"-name : web" is not a list item' in err.hint
    assert '(did you mean "- name: web"?)' in err.hint


def test_each_later_typo_of_the_notes_is_reported_in_turn(tmp_path: Path) -> None:
    text = BROKEN.read_text().replace("-name : web", "- name: web")
    step = tmp_path / "d.yaml"
    step.write_text(text)
    [err] = problems(step)
    # PyYAML would keep the second "spec" silently; go-yaml's strict decoder refuses it.
    spec_lines = [n for n, line in enumerate(text.splitlines(), 1) if line == "spec:"]
    assert err.message.endswith(
        f'yaml: unmarshal errors:\n  line {spec_lines[1]}: key "spec" already set in map'
    )
    step.write_text(text.replace("\nspec:\n  containers:", "\nspec2:\n  containers:"))
    [err] = problems(step)
    assert "error validating data: apiVersion not set" in err.message
    assert err.hint == 'unknown field "appVersion" (did you mean "apiVersion"?)'
    step.write_text(step.read_text().replace("appVersion", "apiVersion"))
    [err] = problems(step)
    assert err.message == (
        f'error validating "{step}": error validating data: [ValidationError(Deployment): '
        'unknown field "template" in io.k8s.api.apps.v1.Deployment, ValidationError(Deployment): '
        'unknown field "spec2" in io.k8s.api.apps.v1.Deployment]; if you choose to ignore these '
        "errors, turn validation off with --validate=false"
    )
    assert err.hint == '"template" belongs under "spec" (did you mean "spec.template"?)'


def test_the_corrected_deployment_reads_cleanly() -> None:
    manifests, errs = read_manifests([str(FIXED)], lambda: "")
    assert errs == []
    [m] = manifests
    assert (m.obj["apiVersion"], m.obj["kind"], m.name) == (
        "apps/v1",
        "Deployment",
        "hello-kiamol-4",
    )
    template = m.obj["spec"]["template"]
    assert template["metadata"]["labels"] == m.obj["spec"]["selector"]["matchLabels"]
    assert template["spec"]["containers"] == [{"name": "web", "image": "tinykube/web:1"}]


def test_validate_false_skips_the_top_level_check(tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\ncontainers: []\n")
    _, errs = read_manifests([str(f)], lambda: "", validate=True)
    assert (
        errs
        and errs[0].hint == '"containers" belongs under "spec" (did you mean "spec.containers"?)'
    )
    manifests, errs = read_manifests([str(f)], lambda: "", validate=False)
    assert errs == [] and manifests


@pytest.mark.parametrize(
    ("text", "line", "hint"),
    [
        ("a:\n  -name : x\n    b: c\n", 3, 'line 2: "-name : x" is not a list item'),
        ("a:\n\tb: c\n", 2, "line 2: YAML indentation must use spaces, not tabs"),
        ("---\na: b\n", 2, ""),
        ("a:\n  - name: x\n", 2, ""),
    ],
)
def test_syntax_hints(text: str, line: int, hint: str) -> None:
    got = syntax_hint(text, line)
    assert got.startswith(hint) and bool(got) == bool(hint)


def test_kinds_not_checked_pass_and_merge_keys_are_not_duplicates(tmp_path: Path) -> None:
    assert unknown_top_level({"kind": "Event", "reason": "x"}) == ("", [], "")
    f = tmp_path / "m.yaml"
    f.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: &m {name: p}\nspec:\n  containers: []\n"
        "status:\n  <<: {phase: Pending}\n  <<: {reason: x}\n"
    )
    manifests, errs = read_manifests([str(f)], lambda: "")
    assert errs == [] and manifests[0].obj["status"]["phase"] == "Pending"
